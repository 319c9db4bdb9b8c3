//! Detections and the candidates queue (issue 12 parts 4 and 5): detections arrive by a detection system's
//! token and become candidates, never sites; a dispatcher confirms one into the ledger (a new site, or an
//! open site within 50 m linked) or dismisses it with a reason, once. Screening candidates are written here
//! with SQL, as a screening run writes them.

use crate::common;
use crate::tiles::{features, tile_of};

use axum::body::Body;
use axum::http::Request;
use common::{CountyOffice, TestApp, app, county_office, jpeg, north_of, observation, organisation, token_for};
use mvt_reader::feature::Value as Mvt;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Inside 杨舍镇 (`common::YANGSHE`).
const AT: [f64; 2] = [120.55, 31.87];

struct World {
    app: TestApp,
    office: CountyOffice,
    /// The API token of a drone system's account (role `detector`).
    drone: String,
}

async fn world(pool: PgPool) -> World {
    let app = app(pool).await;
    let office = county_office(&app).await;
    let city = organisation(&app.pool, "city_office").await;
    let drone = token_for(&app.pool, "drone.1", "无人机巡检系统", "detector", city).await;
    World { app, office, drone }
}

fn detection(at: [f64; 2], confidence: f64) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "platform": "drone",
        "detected_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
        "lon": at[0],
        "lat": at[1],
        "label": "faded_marking",
        "hazard_type": "worn_markings",
        "confidence": confidence,
    })
}

fn detection_form(json: &[u8], image: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "detection-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"detection\"\r\n\r\n").into_bytes();
    body.extend_from_slice(json);
    body.extend_from_slice(b"\r\n");
    if let Some(image) = image {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.jpg\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(image);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_raw(app: &TestApp, token: &str, json: &[u8], image: Option<&[u8]>) -> common::Answer {
    let (content_type, body) = detection_form(json, image);
    let request = Request::post("/api/v1/detections")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

async fn send(app: &TestApp, token: &str, d: &Value, image: Option<&[u8]>) -> common::Answer {
    send_raw(app, token, d.to_string().as_bytes(), image).await
}

async fn get_as(app: &TestApp, token: &str, uri: &str) -> common::Answer {
    app.send(Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await
}

async fn post_as(app: &TestApp, token: &str, uri: &str, body: &Value) -> common::Answer {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

/// A drone detection's candidate id, sent as the drone system.
async fn detected(w: &World, at: [f64; 2], confidence: f64) -> i64 {
    let answer = send(&w.app, &w.drone, &detection(at, confidence), None).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()["candidate"]["id"].as_i64().unwrap()
}

/// A black spot as a screening run writes it: the run, three crashes at `at` (one fatal) and the candidate
/// (an intersection, town derived) with the crashes behind it. Answers the candidate's id.
async fn black_spot(app: &TestApp, at: [f64; 2], crash_times: &[&str]) -> i64 {
    let run: i64 = sqlx::query_scalar(
        "insert into screening_run (method, parameters, window_start, window_end, run_by, crashes_read,
             inputs_sha256, candidates, elapsed_ms)
         values ('junction', '{\"radius_m\": 50}', '2023-01-01', '2026-12-01', 'test', 3, sha256('x'), 1, 5)
         returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let candidate: i64 = sqlx::query_scalar(
        "insert into candidate (source, screening_run_id, kind, geom, town_id, score, rank, crash_count, deaths,
             injuries, dominant_crash_type, dominant_time_band)
         select 'crash_analysis', $1, 'intersection', st_setsrid(st_makepoint($2, $3), 4326),
             (select id from town where st_intersects(boundary, st_setsrid(st_makepoint($2, $3), 4326))),
             $4, 1, $4, 1, 2, 'angle', 'evening_peak'
         returning id",
    )
    .bind(run)
    .bind(at[0])
    .bind(at[1])
    .bind(crash_times.len() as i32)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for (i, time) in crash_times.iter().enumerate() {
        let deaths = i16::from(i == 0);
        sqlx::query(
            "with c as (
                 insert into crash (source_key, occurred_at, geom, located_by, deaths, slight_injuries, crash_type)
                 values ($1, $2::timestamptz, st_setsrid(st_makepoint($3, $4), 4326), 'coordinates', $5, 1, 'angle')
                 returning id)
             insert into candidate_crash (candidate_id, crash_id) select $6, id from c",
        )
        .bind(format!("no:T{candidate}-{i}"))
        .bind(time)
        .bind(at[0])
        .bind(at[1])
        .bind(deaths)
        .bind(candidate)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    candidate
}

fn ids(collection: &Value) -> Vec<i64> {
    collection["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_detection_sent_by_token_is_stored_once_with_its_candidate(pool: PgPool) {
    let w = world(pool).await;
    let image = jpeg(640, 480);
    let d = detection(AT, 0.87);

    let first = send(&w.app, &w.drone, &d, Some(&image)).await;
    assert_eq!(first.status, 201, "{}", String::from_utf8_lossy(&first.bytes));
    let body = first.json();
    assert_eq!(first.headers["location"], format!("/api/v1/detections/{}", d["id"].as_str().unwrap()));
    assert_eq!(body["platform"], "drone");
    assert_eq!(body["label"], "faded_marking");
    assert_eq!(body["sent_by"], "无人机巡检系统");
    assert_eq!((body["image_width"].as_i64(), body["image_height"].as_i64()), (Some(640), Some(480)));
    assert_eq!(body["candidate"]["status"], "open");

    // A retry of the same detection answers the stored record and stores nothing more.
    let again = send(&w.app, &w.drone, &d, Some(&image)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), body);
    // The same id with other content is a conflict.
    let mut other = d.clone();
    other["confidence"] = json!(0.5);
    let conflict = send(&w.app, &w.drone, &other, Some(&image)).await;
    assert_eq!(conflict.status, 409, "{}", String::from_utf8_lossy(&conflict.bytes));
    assert_eq!((w.app.count("detection").await, w.app.count("candidate").await), (1, 1));
    assert_eq!(w.app.count("site").await, 0, "a detection never enters the ledger by itself");

    // Its candidate: source = the platform, a spot, score = confidence, town derived; the image behind it.
    let id = body["candidate"]["id"].as_i64().unwrap();
    let candidate = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates/{id}")).await;
    assert_eq!(candidate.status, 200);
    let p = &candidate.json()["properties"];
    assert_eq!(
        (p["source"].as_str(), p["kind"].as_str(), p["town"].as_str()),
        (Some("drone"), Some("spot"), Some("杨舍镇"))
    );
    assert!((p["score"].as_f64().unwrap() - 0.87).abs() < 1e-6, "{p}");
    assert_eq!(p["crashes"], json!([]));
    let image_url = p["detection"]["image_url"].as_str().unwrap();
    let original = get_as(&w.app, &w.office.dispatcher, image_url).await;
    assert_eq!(original.status, 200);
    assert_eq!(original.bytes, image, "the image byte for byte");
    let thumbnail = get_as(&w.app, &w.office.reviewer, p["detection"]["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!((thumbnail.status.as_u16(), thumbnail.headers["content-type"].to_str().unwrap()), (200, "image/jpeg"));
    assert!(image::load_from_memory(&thumbnail.bytes).unwrap().width() <= 320);
    // The image is read by the queue's readers only.
    assert_eq!(w.app.get(image_url).await.status, 403, "an inspector does not read the queue");
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_detections_are_refused_clearly_and_store_nothing(pool: PgPool) {
    let w = world(pool).await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut d = detection(AT, 0.9);
        change(&mut d);
        d
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(&|d| d["confidence"] = json!(1.5)), 422, "confidence"),
        (with(&|d| d["detected_at"] = json!("2099-01-01T00:00:00Z")), 422, "detected_at"),
        (with(&|d| d["detected_at"] = json!("2020-01-01T00:00:00Z")), 422, "detected_at"),
        (with(&|d| d["lon"] = json!(2.35)), 422, "not in China"),
        (with(&|d| d["hazard_type"] = json!("no_such_type")), 422, "hazard_type"),
        (with(&|d| d["label"] = json!("x".repeat(65))), 422, "label"),
        (with(&|d| d["platform"] = json!("satellite")), 400, "satellite"),
        (with(&|d| d["extra"] = json!(1)), 400, "extra"),
    ];
    for (d, status, says) in cases {
        let answer = send(&w.app, &w.drone, &d, None).await;
        assert_eq!(answer.status, status, "{d}: {}", String::from_utf8_lossy(&answer.bytes));
        assert!(answer.detail().contains(says), "{d}: {}", answer.detail());
    }
    let not_an_image = send(&w.app, &w.drone, &detection(AT, 0.9), Some(b"GIF89a not really")).await;
    assert_eq!(not_an_image.status, 415);
    let not_json = send_raw(&w.app, &w.drone, b"{", None).await;
    assert_eq!(not_json.status, 400);
    // Only a detection system sends: a person's token is refused whatever the role.
    for token in [&w.app.token, &w.office.dispatcher] {
        let answer = send(&w.app, token, &detection(AT, 0.9), None).await;
        assert_eq!(answer.status, 403, "{}", String::from_utf8_lossy(&answer.bytes));
    }
    assert_eq!((w.app.count("detection").await, w.app.count("candidate").await), (0, 0));
    assert!(w.app.stored_files().is_empty(), "no image kept for a refused detection");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_detector_account_sends_detections_and_nothing_else(pool: PgPool) {
    let w = world(pool).await;
    for uri in ["/api/v1/sites", "/api/v1/candidates", "/api/v1/settings", "/api/v1/tokens", "/", "/candidates.html"] {
        let answer = get_as(&w.app, &w.drone, uri).await;
        assert_eq!(answer.status, 403, "{uri}: {}", String::from_utf8_lossy(&answer.bytes));
    }
    // It cannot sign in with a password either: it has no pages to use.
    let login = w
        .app
        .send_as_is(
            Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(Body::from(json!({ "name": "drone.1", "password": common::DEFAULT_PASSWORD }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(login.status, 403);
    assert_eq!(w.app.count("user_session").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn low_confidence_detections_are_kept_but_hidden_by_default(pool: PgPool) {
    let w = world(pool).await;
    let sure = detected(&w, AT, 0.9).await;
    let unsure = detected(&w, north_of(AT, 200.0), 0.3).await;
    let spot = black_spot(&w.app, north_of(AT, 400.0), &["2025-03-01T18:00:00+08:00"]).await;

    let queue = get_as(&w.app, &w.office.dispatcher, "/api/v1/candidates?status=open").await;
    assert_eq!(queue.status, 200);
    assert_eq!(queue.headers["content-type"], "application/geo+json");
    // Best score first: the black spot scores its crash count (1), the sure detection 0.9.
    assert_eq!(ids(&queue.json()), [spot, sure]);
    let all = get_as(&w.app, &w.office.dispatcher, "/api/v1/candidates?status=open&min_score=0").await;
    assert_eq!(ids(&all.json()), [spot, sure, unsure]);
    let drones = get_as(&w.app, &w.office.dispatcher, "/api/v1/candidates?source=drone&min_score=0").await;
    assert_eq!(ids(&drones.json()), [sure, unsure]);
    // Paging: one at a time, the cursor carries on where the page ended.
    let first = get_as(&w.app, &w.office.dispatcher, "/api/v1/candidates?min_score=0&limit=2").await.json();
    assert_eq!(ids(&first), [spot, sure]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates?min_score=0&limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second.json()), [unsure]);
    assert_eq!(second.json()["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=501", "source=satellite", "kind=road", "cursor=x", "bbox=1,2,3", "town=12"] {
        let answer = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn confirming_a_black_spot_opens_a_site_with_its_source_kind_town_and_event(pool: PgPool) {
    let w = world(pool).await;
    let id = black_spot(&w.app, AT, &["2025-03-01T18:00:00+08:00", "2025-06-01T18:30:00+08:00"]).await;
    let detail = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates/{id}")).await.json();
    let crashes = detail["properties"]["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 2);
    assert_eq!(crashes[0]["severity"], "injury", "newest first");
    assert_eq!(crashes[1]["severity"], "fatal");
    assert_eq!(crashes[1]["time_band"], "evening_peak");

    let uri = format!("/api/v1/candidates/{id}/confirm");
    assert_eq!(post_as(&w.app, &w.office.reviewer, &uri, &json!({ "new_site": true })).await.status, 403);
    assert_eq!(post_as(&w.app, &w.office.dispatcher, &uri, &json!({})).await.status, 400);
    let confirmed = post_as(&w.app, &w.office.dispatcher, &uri, &json!({ "new_site": true })).await;
    assert_eq!(confirmed.status, 200, "{}", String::from_utf8_lossy(&confirmed.bytes));
    let p = confirmed.json()["properties"].clone();
    assert_eq!((p["status"].as_str(), p["decided_by"].as_str()), (Some("confirmed"), Some("赵调度")));
    let site_id = p["site_id"].as_str().unwrap();

    let site = w.app.site_as(&w.office.dispatcher, site_id).await.json();
    let s = &site["properties"];
    assert_eq!(
        (s["source"].as_str(), s["kind"].as_str(), s["status"].as_str(), s["town"].as_str()),
        (Some("crash_analysis"), Some("intersection"), Some("reported"), Some("杨舍镇")),
        "{s}"
    );
    assert_eq!(site["geometry"]["coordinates"], json!(AT));
    let events = s["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "opened");
    assert_eq!(events[0]["data"]["candidate_id"], id);
    assert_eq!(events[0]["actor"], "赵调度");

    // Decided once: a second decision either way is refused and changes nothing.
    let again = post_as(&w.app, &w.office.dispatcher, &uri, &json!({ "new_site": true })).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["code"], "candidate_decided");
    let dismiss =
        post_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates/{id}/dismiss"), &json!({ "reason": "x" }))
            .await;
    assert_eq!(dismiss.status, 409);
    assert_eq!(w.app.count("site").await, 1);
    let open = get_as(&w.app, &w.office.dispatcher, "/api/v1/candidates?status=open").await.json();
    assert!(ids(&open).is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn confirming_links_an_open_site_of_its_kind_within_50_m_only(pool: PgPool) {
    let w = world(pool).await;
    let observed = w.app.upload(&observation("spot", json!(AT)), &[]).await;
    assert_eq!(observed.status, 201);
    let spot_site = observed.json()["site"]["id"].as_str().unwrap().to_string();
    let junction = w.app.upload(&observation("intersection", json!(north_of(AT, 10.0))), &[]).await;
    let junction_site = junction.json()["site"]["id"].as_str().unwrap().to_string();

    let near = detected(&w, north_of(AT, 30.0), 0.9).await;
    let far = detected(&w, north_of(AT, 80.0), 0.9).await;

    let nearby = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates/{near}/nearby-sites")).await.json();
    assert_eq!(nearby["radius_m"], 50.0);
    let offered: Vec<&str> = nearby["sites"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(offered, [spot_site.as_str()], "open sites of its kind within 50 m only");

    let (app, dispatcher) = (&w.app, &w.office.dispatcher);
    let link = |candidate: i64, site: &str| {
        let uri = format!("/api/v1/candidates/{candidate}/confirm");
        let body = json!({ "site_id": site });
        async move { post_as(app, dispatcher, &uri, &body).await }
    };
    let too_far = link(far, &spot_site).await;
    assert_eq!((too_far.status.as_u16(), too_far.json()["code"].as_str()), (422, Some("site_too_far")));
    let other_kind = link(near, &junction_site).await;
    assert_eq!((other_kind.status.as_u16(), other_kind.json()["code"].as_str()), (422, Some("site_other_kind")));
    let no_site = link(near, &Uuid::new_v4().to_string()).await;
    assert_eq!(no_site.status, 404);

    let linked = link(near, &spot_site).await;
    assert_eq!(linked.status, 200, "{}", String::from_utf8_lossy(&linked.bytes));
    assert_eq!(linked.json()["properties"]["site_id"], spot_site.as_str());
    assert_eq!(w.app.count("site").await, 2, "linking opens nothing");
    let site = w.app.site_as(&w.office.dispatcher, &spot_site).await.json();
    let events = site["properties"]["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!((last["kind"].as_str(), &last["data"]["candidate_id"]), (Some("candidate_linked"), &json!(near)));
    assert!(site["properties"]["hazard_types"].as_array().unwrap().contains(&json!("worn_markings")));
    // The far one is still open, untouched by the refusal.
    let far_now = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/candidates/{far}")).await.json();
    assert_eq!(far_now["properties"]["status"], "open");
}

#[sqlx::test(migrations = "./migrations")]
async fn dismissing_needs_a_reason_and_each_role_sees_what_it_may(pool: PgPool) {
    let w = world(pool).await;
    let here = detected(&w, AT, 0.9).await;
    // A candidate outside 杨舍镇: the town office does not see it.
    let elsewhere = detected(&w, [120.80, 31.95], 0.9).await;

    let uri = format!("/api/v1/candidates/{here}/dismiss");
    for reason in ["", "   ", &"长".repeat(1001)] {
        let answer = post_as(&w.app, &w.office.dispatcher, &uri, &json!({ "reason": reason })).await;
        assert_eq!(answer.status, 422, "{reason:?}");
    }
    assert_eq!(post_as(&w.app, &w.office.dispatcher, &uri, &json!({})).await.status, 400);
    assert_eq!(post_as(&w.app, &w.office.town_officer, &uri, &json!({ "reason": "x" })).await.status, 403);

    let town = get_as(&w.app, &w.office.town_officer, "/api/v1/candidates").await;
    assert_eq!(ids(&town.json()), [here]);
    let outside = get_as(&w.app, &w.office.town_officer, &format!("/api/v1/candidates/{elsewhere}")).await;
    assert_eq!(outside.status, 404);
    for token in [&w.office.reviewer, &w.office.dispatcher] {
        assert_eq!(get_as(&w.app, token, "/api/v1/candidates").await.json()["features"].as_array().unwrap().len(), 2);
    }
    for token in [&w.app.token, &w.office.unit_officer] {
        assert_eq!(get_as(&w.app, token, "/api/v1/candidates").await.status, 403);
    }

    let dismissed = post_as(&w.app, &w.office.dispatcher, &uri, &json!({ "reason": " 标线已于上月重划 " })).await;
    assert_eq!(dismissed.status, 200);
    let p = &dismissed.json()["properties"];
    assert_eq!((p["status"].as_str(), p["reason"].as_str()), (Some("dismissed"), Some("标线已于上月重划")));
    assert_eq!(p["site_id"], Value::Null);
    assert_eq!(w.app.count("site").await, 0);
    let again = post_as(&w.app, &w.office.dispatcher, &uri, &json!({ "reason": "again" })).await;
    assert_eq!(again.status, 409);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_candidates_tile_shows_an_open_candidate_until_it_is_decided(pool: PgPool) {
    let w = world(pool).await;
    let sure = detected(&w, AT, 0.9).await;
    let _unsure = detected(&w, north_of(AT, 20.0), 0.2).await;
    let (x, y) = tile_of(AT, 15);
    let path = format!("/tiles/candidates/15/{x}/{y}.mvt");

    let before = get_as(&w.app, &w.office.dispatcher, &path).await;
    assert_eq!(before.status, 200);
    let shown = features(&before.bytes, "candidates");
    assert_eq!(shown.len(), 1, "the low-confidence detection is left out");
    assert_eq!(shown[0]["fid"], Mvt::UInt(sure as u64));
    assert_eq!(shown[0]["source"], Mvt::String("drone".into()));
    assert_eq!(shown[0]["kind"], Mvt::String("spot".into()));
    assert_eq!(get_as(&w.app, &w.app.token, &path).await.status, 403, "inspectors do not read candidates");
    assert_eq!(get_as(&w.app, &w.office.town_officer, &path).await.status, 200);

    let confirmed = post_as(
        &w.app,
        &w.office.dispatcher,
        &format!("/api/v1/candidates/{sure}/confirm"),
        &json!({ "new_site": true }),
    )
    .await;
    assert_eq!(confirmed.status, 200);
    // The same server's cache: the confirmation's change is seen at the next request.
    let after = get_as(&w.app, &w.office.dispatcher, &path).await;
    assert!(features(&after.bytes, "candidates").is_empty(), "a decided candidate leaves the map");
    let sites = get_as(&w.app, &w.office.dispatcher, &format!("/tiles/sites/15/{x}/{y}.mvt")).await;
    assert!(!sites.bytes.is_empty(), "its site is on the sites layer now");
}

/// Adds a crash at `at` (one injured) at a time.
async fn crash_at(app: &TestApp, key: &str, at: [f64; 2], time: &str) {
    sqlx::query(
        "insert into crash (source_key, occurred_at, geom, located_by, slight_injuries, crash_type)
         values ($1, $2::timestamptz, st_setsrid(st_makepoint($3, $4), 4326), 'coordinates', 1, 'rear_end')",
    )
    .bind(format!("no:{key}"))
    .bind(time)
    .bind(at[0])
    .bind(at[1])
    .execute(&app.pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn a_confirmed_black_spots_site_shows_its_crashes_and_before_after_counts_once_closed(pool: PgPool) {
    let w = world(pool).await;
    let id = black_spot(&w.app, AT, &["2025-03-01T18:00:00+08:00", "2025-06-01T08:30:00+08:00"]).await;
    let confirmed = post_as(
        &w.app,
        &w.office.dispatcher,
        &format!("/api/v1/candidates/{id}/confirm"),
        &json!({ "new_site": true }),
    )
    .await;
    let site: Uuid = confirmed.json()["properties"]["site_id"].as_str().unwrap().parse().unwrap();
    let uri = format!("/api/v1/sites/{site}/crashes");

    let open = get_as(&w.app, &w.office.reviewer, &uri).await;
    assert_eq!(open.status, 200);
    let body = open.json();
    let crashes = body["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 2);
    assert_eq!(crashes[0]["time_band"], "morning_peak", "newest first");
    assert_eq!(crashes[1]["severity"], "fatal");
    assert_eq!(body["before_after"], Value::Null, "no comparison before the site is closed");

    // The treatment's history as its events tell it: dispatched 100 days before it closed, closed 30 days ago.
    let now = chrono::Utc::now();
    let dispatched = now - chrono::Duration::days(130);
    let closed = now - chrono::Duration::days(30);
    sqlx::query(
        "insert into site_event (site_id, actor, kind, at, from_status, to_status)
         values ($1, 'test', 'dispatch', $2, 'verified', 'assigned'), ($1, 'test', 'approve', $3, 'pending_review', 'closed')",
    )
    .bind(site)
    .bind(dispatched)
    .bind(closed)
    .execute(&w.app.pool)
    .await
    .unwrap();
    sqlx::query("update site set status = 'closed' where id = $1").bind(site).execute(&w.app.pool).await.unwrap();
    let day = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339();
    // Before: 30 days before the dispatch: two inside (one 40 m away), one too early, one 80 m away.
    crash_at(&w.app, "b1", AT, &day(dispatched - chrono::Duration::days(5))).await;
    crash_at(&w.app, "b2", north_of(AT, 40.0), &day(dispatched - chrono::Duration::days(29))).await;
    crash_at(&w.app, "b3", AT, &day(dispatched - chrono::Duration::days(31))).await;
    crash_at(&w.app, "b4", north_of(AT, 80.0), &day(dispatched - chrono::Duration::days(3))).await;
    // During the works: in neither period. After: one.
    crash_at(&w.app, "w1", AT, &day(dispatched + chrono::Duration::days(10))).await;
    crash_at(&w.app, "a1", AT, &day(closed + chrono::Duration::days(2))).await;

    let after = get_as(&w.app, &w.office.dispatcher, &uri).await.json();
    let ba = &after["before_after"];
    assert_eq!(ba["days"], 30, "{ba}");
    assert_eq!(ba["radius_m"], 50.0);
    assert_eq!((ba["before"]["crashes"].as_i64(), ba["before"]["injuries"].as_i64()), (Some(2), Some(2)), "{ba}");
    assert_eq!(ba["after"]["crashes"], 1, "{ba}");
    assert_eq!(after["crashes"].as_array().unwrap().len(), 2, "the history is the candidates' crashes");

    // Outside the scope there is no site.
    let unit = get_as(&w.app, &w.office.unit_officer, &uri).await;
    assert_eq!(unit.status, 404);
}

fn detection_file(features: &[Value]) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

fn detection_feature(at: [f64; 2], confidence: f64) -> Value {
    let mut properties = detection(at, confidence);
    properties.as_object_mut().unwrap().remove("lon");
    properties.as_object_mut().unwrap().remove("lat");
    json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": at }, "properties": properties })
}

#[sqlx::test(migrations = "./migrations")]
async fn a_file_of_detections_is_imported_all_or_nothing_and_once(pool: PgPool) {
    let w = world(pool).await;
    let file = detection_file(&[detection_feature(AT, 0.9), detection_feature(north_of(AT, 300.0), 0.7)]);

    let mut bad = file.clone();
    bad["features"][1]["properties"]["confidence"] = json!(7);
    let refused = post_as(&w.app, &w.office.dispatcher, "/api/v1/detection-imports", &bad).await;
    assert_eq!(refused.status, 422);
    let body = refused.json();
    assert_eq!(body["code"], "detection_import_problems");
    assert_eq!(body["problems"][0]["feature"], 1);
    assert!(body["problems"][0]["problem"].as_str().unwrap().contains("confidence"), "{body}");
    assert_eq!(w.app.count("detection").await, 0, "nothing stored from a refused file");

    let first = post_as(&w.app, &w.office.dispatcher, "/api/v1/detection-imports", &file).await;
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.bytes));
    assert_eq!(first.json(), json!({ "features": 2, "imported": 2, "known": 0, "conflicts": 0 }));
    let again = post_as(&w.app, &w.office.dispatcher, "/api/v1/detection-imports", &file).await;
    assert_eq!(again.json(), json!({ "features": 2, "imported": 0, "known": 2, "conflicts": 0 }));
    assert_eq!((w.app.count("detection").await, w.app.count("candidate").await), (2, 2));
    let sent_by: Vec<String> =
        sqlx::query_scalar("select sent_by from detection").fetch_all(&w.app.pool).await.unwrap();
    assert_eq!(sent_by, ["赵调度", "赵调度"]);

    // The same id with other content refuses the whole file; a reviewer may not import.
    let mut changed = file.clone();
    changed["features"][0]["properties"]["label"] = json!("pothole");
    changed["features"].as_array_mut().unwrap().push(detection_feature(north_of(AT, 600.0), 0.8));
    let conflict = post_as(&w.app, &w.office.dispatcher, "/api/v1/detection-imports", &changed).await;
    assert_eq!(conflict.status, 422);
    assert_eq!(conflict.json()["problems"][0]["feature"], 0);
    assert_eq!(w.app.count("detection").await, 2);
    assert_eq!(post_as(&w.app, &w.office.reviewer, "/api/v1/detection-imports", &file).await.status, 403);
    assert_eq!(post_as(&w.app, &w.drone, "/api/v1/detection-imports", &file).await.status, 403);
}
