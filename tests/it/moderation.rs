//! Moderating public reports (issue 13 part 4): the dispatchers' queue on a real database and photo store.
//! Reports are stored with `db::public_reports::insert`, the one insert every channel goes through; the
//! dispatcher accepts (an observation of a new or a named nearby site, with the photos' metadata-free copies),
//! merges or rejects, once; the report's public status then follows its site through the lifecycle API.

use crate::common;
use crate::tiles::{features, tile_of};

use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use chrono::Utc;
use common::{CountyOffice, ExifSpec, TestApp, app, county_office, jpeg, jpeg_with_exif, organisation, token_for};
use roadledger::db::public_reports::{NewPublicReport, NewReportPhoto, Stored, insert};
use roadledger::domain::coords::SourceCrs;
use roadledger::domain::public_report::{Channel, tracking_token};
use roadledger::photos::PhotoStore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Inside 杨舍镇 (`common::YANGSHE`).
const AT: [f64; 2] = [120.55, 31.87];
/// Another place in 杨舍镇, far from `AT`.
const FAR: [f64; 2] = [120.58, 31.85];

struct World {
    app: TestApp,
    office: CountyOffice,
    hotline: String,
    leader: String,
}

async fn world(pool: PgPool) -> World {
    let app = app(pool).await;
    let office = county_office(&app).await;
    let city = organisation(&app.pool, "city_office").await;
    let hotline = token_for(&app.pool, "hotline.1", "热线话务员", "hotline", city).await;
    let leader = token_for(&app.pool, "leader.1", "分管领导", "leader", city).await;
    World { app, office, hotline, leader }
}

/// The files of one report photo: the original with GPS EXIF (evidence), its public copy without any
/// metadata, and a thumbnail, put in the app's photo store as a channel would.
pub(crate) struct PhotoFiles {
    pub(crate) original: Vec<u8>,
    pub(crate) public: Vec<u8>,
    pub(crate) row: NewReportPhoto,
}

pub(crate) async fn photo_files(app: &TestApp, seed: u32) -> PhotoFiles {
    let spec =
        ExifSpec { lon: AT[0], lat: AT[1], direction_deg: 90.0, taken_at: "2026:12:01 09:30:00", orientation: 1 };
    let original = jpeg_with_exif(320 + seed, 240, &spec);
    let public = jpeg(320 + seed, 240);
    let thumbnail = jpeg(160, 120);
    let store = PhotoStore::local(app.photo_dir.path()).unwrap();
    let sha = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
    let (original_sha, public_sha) = (sha(&original), sha(&public));
    let original_key = PhotoStore::original_key(&hex::encode(original_sha), "jpg");
    let public_key = PhotoStore::original_key(&hex::encode(public_sha), "jpg");
    let thumbnail_key = PhotoStore::thumbnail_key(&hex::encode(sha(&thumbnail)));
    for (key, bytes) in [(&original_key, &original), (&public_key, &public), (&thumbnail_key, &thumbnail)] {
        store.put(key, Bytes::from(bytes.clone())).await.unwrap();
    }
    let row = NewReportPhoto {
        sha256: original_sha,
        content_type: "image/jpeg",
        bytes: original.len() as i32,
        width: 320 + seed as i32,
        height: 240,
        original_key,
        public_key,
        public_sha256: public_sha,
        thumbnail_key,
        thumbnail_width: 160,
        thumbnail_height: 120,
        exif_taken_at: chrono::NaiveDateTime::parse_from_str("2026-12-01 09:30:00", "%Y-%m-%d %H:%M:%S").ok(),
        exif_location: Some((AT[0], AT[1])),
        original: None,
    };
    PhotoFiles { original, public, row }
}

pub(crate) fn citizen(category: &'static str, at: Option<[f64; 2]>) -> NewPublicReport {
    NewPublicReport {
        channel: Channel::Citizen,
        submission_id: Some(uuid::Uuid::new_v4()),
        tracking_token: tracking_token(),
        category,
        description: "路口没有减速带，晚上很危险".into(),
        point: at.map(|[lon, lat]| (lon, lat)),
        source_crs: SourceCrs::Wgs84,
        accuracy_m: Some(12.0),
        address_text: None,
        ticket_no: None,
        reported_at: Utc::now() - chrono::Duration::hours(3),
        open311_client_id: None,
        contact_name: Some("王小明".into()),
        contact_phone: Some("13812345678".into()),
        contact_email: Some("wang@example.cn".into()),
        sender_hash: Some([7; 32]),
        device_hash: Some([9; 32]),
        entered_by: None,
        photos: Vec::new(),
    }
}

fn hotline_ticket(ticket_no: &str, address: &str) -> NewPublicReport {
    NewPublicReport {
        channel: Channel::Hotline,
        submission_id: None,
        ticket_no: Some(ticket_no.into()),
        address_text: Some(address.into()),
        point: None,
        entered_by: Some("热线话务员".into()),
        ..citizen("barrier", None)
    }
}

/// Stores a report; its id and tracking token.
pub(crate) async fn store(app: &TestApp, r: &NewPublicReport) -> (i64, String) {
    let mut tx = app.pool.begin().await.unwrap();
    let stored = insert(&mut tx, r).await.unwrap();
    tx.commit().await.unwrap();
    match stored {
        Stored::Created { id, tracking_token } => (id, tracking_token),
        other => panic!("not stored: {other:?}"),
    }
}

async fn get_as(app: &TestApp, token: &str, uri: &str) -> common::Answer {
    app.send(Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await
}

async fn post_as(app: &TestApp, token: &str, uri: &str, body: Value) -> common::Answer {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

async fn decide(w: &World, id: i64, action: &str, body: Value) -> common::Answer {
    post_as(&w.app, &w.office.dispatcher, &format!("/api/v1/public-reports/{id}/{action}"), body).await
}

/// What the citizen's tracking link reads.
async fn tracking(app: &TestApp, token: &str) -> String {
    let mut conn = app.pool.acquire().await.unwrap();
    let view = roadledger::db::public_reports::public_view(&mut conn, token).await.unwrap().unwrap();
    view.public_status.as_str().to_string()
}

fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)).is_ok()
}

#[sqlx::test(migrations = "./migrations")]
async fn dispatchers_decide_others_read_masked_or_not_at_all(pool: PgPool) {
    let w = world(pool).await;
    let (id, _) = store(&w.app, &citizen("intersection", Some(AT))).await;

    let full = get_as(&w.app, &w.office.dispatcher, "/api/v1/public-reports?status=received").await;
    assert_eq!(full.status, 200, "{}", String::from_utf8_lossy(&full.bytes));
    let r = &full.json()["reports"][0];
    assert_eq!(r["id"], id);
    assert_eq!(r["contact_phone"], "13812345678");
    assert_eq!(r["contact_email"], "wang@example.cn");
    assert_eq!(r["contact_name"], "王小明");
    assert_eq!(r["contact_masked"], false);
    assert_eq!(r["channel"], "citizen");
    assert_eq!(r["town"], "杨舍镇");

    for token in [&w.hotline, &w.leader, &w.office.reviewer] {
        let list = get_as(&w.app, token, "/api/v1/public-reports").await;
        assert_eq!(list.status, 200);
        let r = &list.json()["reports"][0];
        assert_eq!(r["contact_phone"], "138****5678");
        assert_eq!(r["contact_email"], "w***@example.cn");
        assert_eq!(r["contact_name"], "王**");
        assert_eq!(r["contact_masked"], true);
        let one = get_as(&w.app, token, &format!("/api/v1/public-reports/{id}")).await;
        assert_eq!(one.status, 200);
        assert!(
            !String::from_utf8_lossy(&one.bytes).contains("13812345678"),
            "the full phone leaks to a non-dispatcher"
        );
        let accept = post_as(&w.app, token, &format!("/api/v1/public-reports/{id}/accept"), json!({})).await;
        assert_eq!(accept.status, 403, "{}", String::from_utf8_lossy(&accept.bytes));
        let reject =
            post_as(&w.app, token, &format!("/api/v1/public-reports/{id}/reject"), json!({"public_reason": "x"})).await;
        assert_eq!(reject.status, 403);
    }
    // A hotline operator reads the queue but no site: the nearby sites are for those who see every site.
    let nearby = format!("/api/v1/public-reports/{id}/nearby-sites");
    assert_eq!(get_as(&w.app, &w.hotline, &nearby).await.status, 403);
    assert_eq!(get_as(&w.app, &w.leader, &nearby).await.status, 200);
    for token in [&w.office.town_officer, &w.office.unit_officer, &w.app.token] {
        assert_eq!(get_as(&w.app, token, "/api/v1/public-reports").await.status, 403);
        assert_eq!(get_as(&w.app, token, &format!("/api/v1/public-reports/{id}")).await.status, 403);
        assert_eq!(get_as(&w.app, token, &format!("/api/v1/public-reports/{id}/nearby-sites")).await.status, 403);
    }
    let status: String = sqlx::query_scalar("select status from public_report where id = $1")
        .bind(id)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(status, "received", "nobody but a dispatcher decided");

    // Limits and malformed input are 4xx naming the parameter.
    let big = get_as(&w.app, &w.office.dispatcher, "/api/v1/public-reports?limit=201").await;
    assert_eq!(big.status, 400);
    assert!(big.detail().contains("limit"));
    let bad = get_as(&w.app, &w.office.dispatcher, "/api/v1/public-reports?category=nonsense").await;
    assert_eq!(bad.status, 400);
    assert!(bad.detail().contains("category"));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_queue_pages_oldest_first_and_filters(pool: PgPool) {
    let w = world(pool).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store(&w.app, &citizen("pavement", Some(AT))).await.0);
    }
    let (ticket, _) = store(&w.app, &hotline_ticket("GD20261201001", "杨舍镇人民路与长安路口")).await;
    let mut seen = Vec::new();
    let mut uri = "/api/v1/public-reports?channel=citizen&limit=2".to_string();
    loop {
        let page = get_as(&w.app, &w.office.dispatcher, &uri).await.json();
        seen.extend(page["reports"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/public-reports?channel=citizen&limit=2&cursor={}", urlencode(c)),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every citizen report once, oldest first");
    let hotline = get_as(&w.app, &w.hotline, "/api/v1/public-reports?channel=hotline").await.json();
    assert_eq!(hotline["reports"].as_array().unwrap().len(), 1);
    assert_eq!(hotline["reports"][0]["id"], ticket);
    assert_eq!(hotline["reports"][0]["ticket_no"], "GD20261201001");
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[sqlx::test(migrations = "./migrations")]
async fn accepting_opens_a_citizen_site_whose_photos_carry_no_exif(pool: PgPool) {
    let w = world(pool).await;
    let files = photo_files(&w.app, 0).await;
    let mut r = citizen("intersection", Some(AT));
    r.photos = vec![files.row.clone()];
    let (id, token) = store(&w.app, &r).await;
    assert_eq!(tracking(&w.app, &token).await, "received");

    // Staff read the original with its EXIF (evidence) and a thumbnail.
    let original = get_as(&w.app, &w.leader, &format!("/api/v1/public-reports/{id}/photos/0/original")).await;
    assert_eq!(original.status, 200);
    assert_eq!(original.bytes, files.original);
    assert!(has_exif(&original.bytes), "the staff original keeps its EXIF");
    let thumb = get_as(&w.app, &w.leader, &format!("/api/v1/public-reports/{id}/photos/0/thumbnail")).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.headers["content-type"], "image/jpeg");
    let etag = thumb.headers["etag"].to_str().unwrap().to_string();
    let again = w
        .app
        .send(
            Request::get(format!("/api/v1/public-reports/{id}/photos/0/thumbnail"))
                .header("authorization", format!("Bearer {}", w.leader))
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, 304, "a photo never changes under its report");
    let town = get_as(&w.app, &w.office.town_officer, &format!("/api/v1/public-reports/{id}/photos/0/original")).await;
    assert_eq!(town.status, 403);
    assert_eq!(get_as(&w.app, &w.leader, &format!("/api/v1/public-reports/{id}/photos/1/original")).await.status, 404);
    assert_eq!(get_as(&w.app, &w.leader, &format!("/api/v1/public-reports/{id}/photos/9/original")).await.status, 400);

    let accepted = decide(&w, id, "accept", json!({"public_note": "已转交属地整改"})).await;
    assert_eq!(accepted.status, 200, "{}", String::from_utf8_lossy(&accepted.bytes));
    let body = accepted.json();
    assert_eq!(body["report"]["status"], "accepted");
    assert_eq!(body["report"]["public_status"], "in_progress");
    let site = body["report"]["site_id"].as_str().unwrap().to_string();
    assert!(body["report"]["observation_id"].is_string());
    assert_eq!(tracking(&w.app, &token).await, "in_progress");

    let detail = w.app.site_as(&w.office.dispatcher, &site).await.json();
    let p = &detail["properties"];
    assert_eq!(p["source"], "citizen_photo");
    assert_eq!(p["kind"], "intersection", "the category's kind");
    assert_eq!(p["town"], "杨舍镇");
    let hazards: Vec<&str> = p["hazard_types"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert_eq!(hazards, ["no_speed_control", "no_warning_posts"], "the category's hazard types");
    let obs = &p["observations"][0];
    assert!(obs["notes"].as_str().unwrap().contains("路口没有减速带"));
    assert_eq!(obs["inspector"], "赵调度", "recorded by the dispatcher who accepted it");
    // The ledger's photo is the public copy: the same bytes, and no EXIF at all.
    let url = obs["photos"][0]["url"].as_str().unwrap().to_string();
    let photo = get_as(&w.app, &w.office.dispatcher, &url).await;
    assert_eq!(photo.status, 200);
    assert_eq!(photo.bytes, files.public);
    assert!(!has_exif(&photo.bytes), "a ledger photo carries no citizen EXIF");
    assert!(obs["photos"][0]["exif_location"].is_null());
    let with_exif: i64 = sqlx::query_scalar(
        "select count(*) from photo where exif_location is not null or original_location is not null or sha256 = $1",
    )
    .bind(files.row.sha256.as_slice())
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert_eq!(with_exif, 0, "no photo row names the original or its EXIF");

    // Decided once: a second decision of any kind is a 409, and writes nothing.
    let observations = w.app.count("observation").await;
    for (action, body) in
        [("accept", json!({})), ("reject", json!({"public_reason": "重复"})), ("merge", json!({"site_id": site}))]
    {
        let again = decide(&w, id, action, body).await;
        assert_eq!(again.status, 409, "{action}: {}", String::from_utf8_lossy(&again.bytes));
        assert_eq!(again.json()["code"], "report_decided");
    }
    assert_eq!(w.app.count("observation").await, observations);

    // The site lists the report behind it; a town officer (who sees the site) without its description.
    let behind = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/sites/{site}/public-reports")).await.json();
    assert_eq!(behind["reports"][0]["id"], id);
    assert!(behind["reports"][0]["description"].is_string());
    let town = get_as(&w.app, &w.office.town_officer, &format!("/api/v1/sites/{site}/public-reports")).await.json();
    assert_eq!(town["reports"][0]["id"], id);
    assert!(town["reports"][0]["description"].is_null());
}

#[sqlx::test(migrations = "./migrations")]
async fn accepting_into_a_named_nearby_site_and_an_address_only_ticket(pool: PgPool) {
    let w = world(pool).await;
    // An inspector's open spot site at AT.
    let upload = w.app.upload(&common::observation("spot", json!(AT)), &[&jpeg(64, 48)]).await;
    assert_eq!(upload.status, 201);
    let open = upload.json()["site"]["id"].as_str().unwrap().to_string();
    // A report 40 m north: the site is offered; matching alone (30 m) would not join it.
    let near = common::north_of(AT, 40.0);
    let (id, _) = store(&w.app, &citizen("pavement", Some(near))).await;
    let nearby =
        get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/public-reports/{id}/nearby-sites")).await.json();
    assert_eq!(nearby["radius_m"], 50.0);
    assert_eq!(nearby["sites"][0]["id"], open.as_str());
    let d = nearby["sites"][0]["distance_m"].as_f64().unwrap();
    assert!((35.0..45.0).contains(&d), "{d}");

    let joined = decide(&w, id, "accept", json!({"site_id": open})).await;
    assert_eq!(joined.status, 200, "{}", String::from_utf8_lossy(&joined.bytes));
    assert_eq!(joined.json()["report"]["site_id"], open.as_str());
    let site = w.app.site_as(&w.office.dispatcher, &open).await.json();
    assert_eq!(site["properties"]["observation_count"], 2);
    assert_eq!(site["properties"]["source"], "patrol", "a joined site keeps its own source");

    // A site farther than 50 m may not be named: 422, nothing written.
    let (far, _) = store(&w.app, &citizen("pavement", Some(FAR))).await;
    let refused = decide(&w, far, "accept", json!({"site_id": open})).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["code"], "site_too_far");
    let status: String = sqlx::query_scalar("select status from public_report where id = $1")
        .bind(far)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(status, "received");

    // A hotline ticket with only an address needs a point.
    let (ticket, token) = store(&w.app, &hotline_ticket("GD20261201002", "杨舍镇沙洲湖桥西侧临河路段")).await;
    let pointless = decide(&w, ticket, "accept", json!({})).await;
    assert_eq!(pointless.status, 422);
    assert_eq!(pointless.json()["code"], "point_required");
    let section =
        decide(&w, ticket, "accept", json!({"point": {"lon": FAR[0], "lat": FAR[1]}, "kind": "section"})).await;
    assert_eq!(section.status, 422);
    let placed = decide(
        &w,
        ticket,
        "accept",
        json!({"point": {"lon": FAR[0], "lat": FAR[1]}, "hazard_types": ["guardrail_missing"]}),
    )
    .await;
    assert_eq!(placed.status, 200, "{}", String::from_utf8_lossy(&placed.bytes));
    let site_id = placed.json()["report"]["site_id"].as_str().unwrap().to_string();
    let site = w.app.site_as(&w.office.dispatcher, &site_id).await.json();
    assert_eq!(site["properties"]["source"], "hotline");
    assert_eq!(site["properties"]["hazard_types"], json!(["guardrail_missing"]));
    assert!(site["properties"]["observations"][0]["notes"].as_str().unwrap().contains("GD20261201002"));
    assert_eq!(tracking(&w.app, &token).await, "in_progress");
}

#[sqlx::test(migrations = "./migrations")]
async fn merging_and_rejecting(pool: PgPool) {
    let w = world(pool).await;
    let upload = w.app.upload(&common::observation("spot", json!(AT)), &[&jpeg(64, 48)]).await;
    let open = upload.json()["site"]["id"].as_str().unwrap().to_string();
    let (id, token) = store(&w.app, &hotline_ticket("GD20261201003", "杨舍镇某村口")).await;
    let observations = w.app.count("observation").await;

    let missing = decide(&w, id, "merge", json!({"site_id": uuid::Uuid::new_v4()})).await;
    assert_eq!(missing.status, 404);
    let merged = decide(&w, id, "merge", json!({"site_id": open, "internal_note": "同一处"})).await;
    assert_eq!(merged.status, 200, "{}", String::from_utf8_lossy(&merged.bytes));
    assert_eq!(merged.json()["report"]["status"], "merged");
    assert_eq!(w.app.count("observation").await, observations, "a merge records no observation");
    let kinds: Vec<String> =
        sqlx::query_scalar("select kind from site_event where site_id = $1::text::uuid order by id")
            .bind(&open)
            .fetch_all(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(kinds.last().map(String::as_str), Some("public_report_merged"));
    assert_eq!(tracking(&w.app, &token).await, "in_progress");

    // Rejection: a public reason is required; spam may be hidden.
    let (spam, spam_token) = store(&w.app, &citizen("other", Some(AT))).await;
    let reasonless = decide(&w, spam, "reject", json!({"public_reason": "  "})).await;
    assert_eq!(reasonless.status, 422);
    let long = decide(&w, spam, "reject", json!({"public_reason": "长".repeat(501)})).await;
    assert_eq!(long.status, 422);
    let unknown = decide(&w, spam, "reject", json!({"public_reason": "x", "why": 1})).await;
    assert_eq!(unknown.status, 400);
    let rejected = decide(
        &w,
        spam,
        "reject",
        json!({"public_reason": "内容与道路安全无关", "internal_note": "广告", "hidden": true}),
    )
    .await;
    assert_eq!(rejected.status, 200);
    let r = &rejected.json()["report"];
    assert_eq!((r["status"].as_str(), r["hidden"].as_bool()), (Some("rejected"), Some(true)));
    let mut conn = w.app.pool.acquire().await.unwrap();
    let view = roadledger::db::public_reports::public_view(&mut conn, &spam_token).await.unwrap().unwrap();
    assert_eq!(view.public_status.as_str(), "not_accepted");
    assert_eq!(view.public_reason.as_deref(), Some("内容与道路安全无关"));
    assert_eq!(view.updates.last().and_then(|u| u.description.as_deref()), Some("内容与道路安全无关"));
    assert_eq!(decide(&w, spam, "accept", json!({})).await.status, 409);
}

/// Evidence for every item of a spot's checklist, a close-out request and its approval.
async fn close(w: &World, site: &str) {
    let o = &w.office;
    let app = &w.app;
    assert_eq!(app.act(&o.dispatcher, site, &json!({"action": "verify"})).await.status, 200);
    let dispatched = app
        .act(
            &o.dispatcher,
            site,
            &json!({"action": "dispatch", "responsible_unit_id": o.unit_id, "hazard_level": "general"}),
        )
        .await;
    assert_eq!(dispatched.status, 200, "{}", String::from_utf8_lossy(&dispatched.bytes));
    assert_eq!(app.act(&o.unit_officer, site, &json!({"action": "accept"})).await.status, 200);
    let evidence = json!({"state": "installed", "quantity": 2, "installed_on": "2026-11-20", "installer": "张家港交通工程公司",
                          "measured": {"distance_m": 35}});
    for (item, night) in [("line", false), ("sign", false), ("lamp", true)] {
        let answer = app.evidence_as(&o.unit_officer, site, item, &evidence, night).await;
        assert_eq!(answer.status, 201, "{item}: {}", String::from_utf8_lossy(&answer.bytes));
    }
    assert_eq!(app.act(&o.unit_officer, site, &json!({"action": "request_close_out"})).await.status, 200);
    assert_eq!(app.act(&o.reviewer, site, &json!({"action": "approve"})).await.status, 200);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_public_status_follows_the_site_through_its_lifecycle(pool: PgPool) {
    let w = world(pool).await;
    // Accepted → the site is dispatched, worked and closed out → fixed.
    let (a, a_token) = store(&w.app, &citizen("pavement", Some(AT))).await;
    let site_a = decide(&w, a, "accept", json!({})).await.json()["report"]["site_id"].as_str().unwrap().to_string();
    assert_eq!(tracking(&w.app, &a_token).await, "in_progress");
    close(&w, &site_a).await;
    assert_eq!(tracking(&w.app, &a_token).await, "fixed");
    let statuses: Vec<String> =
        sqlx::query_scalar("select public_status from public_report_update where report_id = $1 order by id")
            .bind(a)
            .fetch_all(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["received", "in_progress", "fixed"], "each change once, in order");

    // A site merged as a duplicate: its report follows the surviving site, to not_accepted when that is
    // cancelled.
    let (b, b_token) = store(&w.app, &citizen("pavement", Some(FAR))).await;
    let site_b = decide(&w, b, "accept", json!({})).await.json()["report"]["site_id"].as_str().unwrap().to_string();
    let survivor = w.app.upload(&common::observation("spot", json!(common::north_of(FAR, 200.0))), &[]).await;
    let survivor = survivor.json()["site"]["id"].as_str().unwrap().to_string();
    let merged = w.app.act(&w.office.dispatcher, &site_b, &json!({"action": "merge", "into": survivor})).await;
    assert_eq!(merged.status, 200, "{}", String::from_utf8_lossy(&merged.bytes));
    assert_eq!(tracking(&w.app, &b_token).await, "in_progress", "a duplicate's report reads its survivor");
    let cancelled =
        w.app.act(&w.office.dispatcher, &survivor, &json!({"action": "cancel", "reason": "道路已改建"})).await;
    assert_eq!(cancelled.status, 200, "{}", String::from_utf8_lossy(&cancelled.bytes));
    assert_eq!(tracking(&w.app, &b_token).await, "not_accepted");

    // A site rejected by the dispatcher: not accepted.
    let (c, c_token) = store(&w.app, &citizen("pavement", Some(common::north_of(AT, 500.0)))).await;
    let site_c = decide(&w, c, "accept", json!({})).await.json()["report"]["site_id"].as_str().unwrap().to_string();
    let rejected = w.app.act(&w.office.dispatcher, &site_c, &json!({"action": "reject", "reason": "非道路隐患"})).await;
    assert_eq!(rejected.status, 200, "{}", String::from_utf8_lossy(&rejected.bytes));
    assert_eq!(tracking(&w.app, &c_token).await, "not_accepted");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_public_reports_tile_shows_waiting_reports_until_decided(pool: PgPool) {
    let w = world(pool).await;
    let (id, _) = store(&w.app, &citizen("lighting", Some(AT))).await;
    store(&w.app, &hotline_ticket("GD20261201004", "只有地址")).await;
    let (x, y) = tile_of(AT, 15);
    let uri = format!("/tiles/public_reports/15/{x}/{y}.mvt");
    let tile = get_as(&w.app, &w.leader, &uri).await;
    assert_eq!(tile.status, 200);
    let f = features(&tile.bytes, "public_reports");
    assert_eq!(f.len(), 1, "the waiting report with a point, not the address-only ticket");
    assert_eq!(f[0]["fid"], mvt_reader::feature::Value::UInt(id as u64));
    assert_eq!(f[0]["category"], mvt_reader::feature::Value::String("lighting".into()));
    assert!(!f[0].contains_key("contact_phone") && !f[0].contains_key("description"));
    assert_eq!(get_as(&w.app, &w.office.town_officer, &uri).await.status, 403);

    // Cached, then accepted: the next tile no longer shows it (map_change).
    assert_eq!(decide(&w, id, "accept", json!({})).await.status, 200);
    let after = get_as(&w.app, &w.leader, &uri).await;
    assert!(features(&after.bytes, "public_reports").is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn contact_data_is_purged_after_the_retention_period(pool: PgPool) {
    let w = world(pool).await;
    let (old, _) = store(&w.app, &citizen("pavement", Some(AT))).await;
    let (recent, _) = store(&w.app, &citizen("pavement", Some(AT))).await;
    sqlx::query("update public_report set received_at = now() - interval '181 days' where id = $1")
        .bind(old)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let purged = roadledger::db::moderation::purge_contacts(&w.app.pool, 180).await.unwrap();
    assert_eq!(purged, Some(1));
    type Contact = (Option<String>, Option<String>, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>, bool);
    let read = async |id: i64| -> Contact {
        sqlx::query_as(
            "select contact_name, contact_phone, contact_email, sender_hash, device_hash, contact_purged_at is not null
             from public_report where id = $1",
        )
        .bind(id)
        .fetch_one(&w.app.pool)
        .await
        .unwrap()
    };
    assert_eq!(read(old).await, (None, None, None, None, None, true));
    let kept = read(recent).await;
    assert_eq!(kept.1.as_deref(), Some("13812345678"));
    assert!(!kept.5);
    // Again: nothing more to purge; the report itself stays, its contact shown as purged.
    assert_eq!(roadledger::db::moderation::purge_contacts(&w.app.pool, 180).await.unwrap(), Some(0));
    let one = get_as(&w.app, &w.office.dispatcher, &format!("/api/v1/public-reports/{old}")).await.json();
    assert!(one["report"]["contact_phone"].is_null());
    assert!(one["report"]["contact_purged_at"].is_string());
}

#[sqlx::test(migrations = "./migrations")]
async fn racing_decisions_decide_once_and_leave_report_and_ledger_consistent(pool: PgPool) {
    let w = world(pool).await;
    for round in 0..4 {
        let at = common::north_of(FAR, 300.0 * f64::from(round));
        let (id, _) = store(&w.app, &citizen("pavement", Some(at))).await;
        let observations = w.app.count("observation").await;
        let (accept, reject) = tokio::join!(
            decide(&w, id, "accept", json!({})),
            decide(&w, id, "reject", json!({"public_reason": "重复上报"}))
        );
        let mut statuses = [accept.status.as_u16(), reject.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: exactly one decision wins");
        let (status, observation): (String, Option<uuid::Uuid>) =
            sqlx::query_as("select status, observation_id from public_report where id = $1")
                .bind(id)
                .fetch_one(&w.app.pool)
                .await
                .unwrap();
        let added = w.app.count("observation").await - observations;
        match status.as_str() {
            "accepted" => assert!(observation.is_some() && added == 1, "round {round}: {added} observations"),
            "rejected" => assert!(observation.is_none() && added == 0, "round {round}: {added} observations"),
            other => panic!("round {round}: {other}"),
        }
    }
}
