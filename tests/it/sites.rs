//! Reading sites (bbox, filters, paging, detail), health, and the rules the database itself enforces.

use crate::common;

use common::{app, jpeg, observation};
use serde_json::{Value, json};
use sqlx::PgPool;

fn ids(collection: &Value) -> Vec<String> {
    let mut ids: Vec<String> = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Four sites: three intersections spread over the county and one section.
async fn seed(app: &common::TestApp) -> Vec<Value> {
    let mut answers = Vec::new();
    for (kind, coords) in [
        ("intersection", json!([120.40, 31.80])),
        ("intersection", json!([120.55, 31.87])),
        ("intersection", json!([120.75, 32.00])),
        ("section", json!([[120.551, 31.871], [120.556, 31.873]])),
    ] {
        let answer = app.upload(&observation(kind, coords), &[]).await;
        assert_eq!(answer.status, 201);
        answers.push(answer.json());
    }
    answers
}

#[sqlx::test(migrations = "./migrations")]
async fn the_bbox_selects_the_sites_inside_it(pool: PgPool) {
    let app = app(pool).await;
    let seeded = seed(&app).await;
    let code = |i: usize| seeded[i]["site"]["properties"]["code"].as_str().unwrap().to_string();

    let centre = app.get("/api/v1/sites?bbox=120.5,31.85,120.6,31.9").await;
    let all = app.get("/api/v1/sites?bbox=120.3,31.75,120.8,32.05").await;

    assert_eq!(centre.status, 200);
    assert_eq!(centre.headers["content-type"], "application/geo+json");
    let centre = centre.json();
    assert_eq!(centre["type"], "FeatureCollection");
    assert_eq!(ids(&centre), vec![code(1), code(3)]);
    assert_eq!(ids(&all.json()).len(), 4);
    let section = centre["features"].as_array().unwrap().iter().find(|f| f["properties"]["kind"] == "section").unwrap();
    assert_eq!(section["geometry"]["type"], "LineString");
    let props = &centre["features"][0]["properties"];
    for key in ["id", "kind", "status", "town", "road_code", "stake", "hazard_types", "checklist", "last_observed_at"] {
        assert!(props.get(key).is_some(), "missing property {key}: {props}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn filters_and_paging(pool: PgPool) {
    let app = app(pool).await;
    let seeded = seed(&app).await;
    sqlx::query("update site set status = 'closed' where id = $1::text::uuid")
        .bind(seeded[0]["site"]["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();

    let closed = app.get("/api/v1/sites?status=closed").await.json();
    let open_or_review = app.get("/api/v1/sites?status=reported,pending_review").await.json();
    let sections = app.get("/api/v1/sites?kind=section").await.json();

    assert_eq!(ids(&closed), vec![seeded[0]["site"]["properties"]["code"].as_str().unwrap()]);
    assert_eq!(ids(&open_or_review).len(), 3);
    assert_eq!(ids(&sections).len(), 1);

    // Two pages of two, then nothing left.
    let page1 = app.get("/api/v1/sites?limit=2").await.json();
    let after = page1["next_after"].as_str().unwrap().to_string();
    let page2 = app.get(&format!("/api/v1/sites?limit=2&after={after}")).await.json();
    assert_eq!(page2["next_after"], Value::Null);
    let mut all = ids(&page1);
    all.extend(ids(&page2));
    all.sort();
    assert_eq!(all.len(), 4);
    all.dedup();
    assert_eq!(all.len(), 4);
}

#[sqlx::test(migrations = "./migrations")]
async fn list_parameters_have_limits_and_clear_errors(pool: PgPool) {
    let app = app(pool).await;
    let cases = [
        ("/api/v1/sites?bbox=100,20,120,40", "the limit is 1"),
        ("/api/v1/sites?bbox=120.8,31.75,120.3,32.05", "minimum must be smaller"),
        ("/api/v1/sites?bbox=1,2,3", "four numbers"),
        ("/api/v1/sites?bbox=a,b,c,d", "not a number"),
        ("/api/v1/sites?limit=5001", "from 1 to 5000"),
        ("/api/v1/sites?limit=0", "from 1 to 5000"),
        ("/api/v1/sites?status=done", "unknown SiteStatus \"done\""),
        ("/api/v1/sites?kind=road", "accepted values: intersection, section, spot"),
        ("/api/v1/sites?after=yesterday", "next_after"),
        ("/api/v1/sites?colour=red", "unknown field `colour`"),
        ("/api/v1/sites/not-a-uuid", "neither a site id (a UUID) nor a site code"),
        ("/api/v1/photos/abc", "64 hexadecimal digits"),
    ];
    for (uri, fragment) in cases {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, 400, "{uri}");
        assert!(answer.detail().contains(fragment), "{uri}: {}", answer.detail());
    }
    let missing = app.get("/api/v1/sites/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(missing.status, 404);
    let no_photo = app.get(&format!("/api/v1/photos/{}", "ab".repeat(32))).await;
    assert_eq!(no_photo.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_site_in_detail_has_its_checklist_observations_photos_and_events(pool: PgPool) {
    let app = app(pool).await;
    let photo = jpeg(400, 300);
    let mut obs = observation("intersection", json!([120.55, 31.87]));
    obs["checklist"] = json!({"signal_light": "not_applicable", "speed_bump": "installed"});
    let created = app.upload(&obs, &[&photo]).await.json();
    let id = created["site"]["id"].as_str().unwrap();

    let detail = app.get(&format!("/api/v1/sites/{id}")).await;

    assert_eq!(detail.status, 200);
    let detail = detail.json();
    let props = &detail["properties"];
    assert_eq!(props["template"], "five_must_haves");
    assert_eq!(props["checklist"], "2/5");
    let items = props["checklist_items"].as_array().unwrap();
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["warning_sign", "road_marking", "speed_bump", "warning_post", "signal_light"]);
    assert_eq!(items[0]["name"], "警告标志");
    assert_eq!(items[2]["state"], "installed");
    assert_eq!(items[4]["state"], "not_applicable");
    assert!(items[4]["reason"].as_str().is_some());
    let observation = &props["observations"][0];
    assert_eq!(observation["id"], obs["id"]);
    assert_eq!(observation["inspector"], "张伟");
    let photo_url = observation["photos"][0]["url"].as_str().unwrap();
    assert_eq!(app.get(photo_url).await.bytes, photo);
    assert_eq!(props["events"][0]["kind"], "opened");
    assert_eq!(props["events"][0]["actor"], "张伟");

    // Map tiles name a site by its code: the same site answers by it.
    let code = props["code"].as_str().unwrap();
    let by_code = app.get(&format!("/api/v1/sites/{code}")).await;
    assert_eq!(by_code.status, 200);
    assert_eq!(by_code.json(), detail);
    assert_eq!(app.get("/api/v1/sites/YH-999999").await.status, 404);
    let junk = app.get("/api/v1/sites/YH-12").await;
    assert_eq!(junk.status, 400);
    assert!(junk.detail().contains("site code"), "{}", junk.detail());

    let counts = app.get("/api/v1/sites/counts").await.json();
    assert_eq!(counts, json!({"total": 1, "by_status": {"reported": 1}}));
}

#[sqlx::test(migrations = "./migrations")]
async fn site_events_are_append_only_in_the_database_itself(pool: PgPool) {
    let app = app(pool).await;
    app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await;

    let update = sqlx::query("update site_event set actor = 'someone else'").execute(&app.pool).await;
    let delete = sqlx::query("delete from site_event").execute(&app.pool).await;
    let truncate = sqlx::query("truncate site_event cascade").execute(&app.pool).await;

    for (what, result) in [("update", update), ("delete", delete), ("truncate", truncate)] {
        let err = result.expect_err(what).to_string();
        assert!(err.contains("site_event is append-only"), "{what}: {err}");
    }
    let actor: String = sqlx::query_scalar("select actor from site_event").fetch_one(&app.pool).await.unwrap();
    assert_eq!(actor, "张伟");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_schema_refuses_what_the_domain_forbids(pool: PgPool) {
    let app = app(pool).await;
    app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await;
    let attempts = [
        ("update site set status = 'done'", "site_status_known"),
        (
            "update site set geom = st_setsrid(st_makeline(st_makepoint(120, 31), st_makepoint(121, 31)), 4326)",
            "site_geom_matches_kind",
        ),
        ("update site set status = 'duplicate'", "site_duplicate_has_target"),
        (
            "update site_checklist_item set state = 'not_applicable', reason = null",
            "site_checklist_item_not_applicable_has_reason",
        ),
        ("update site set route_code = 'K12'", "site_route_code_format"),
    ];
    for (sql, constraint) in attempts {
        let err = sqlx::query(sql).execute(&app.pool).await.expect_err(sql);
        let db_err = err.as_database_error().expect(sql);
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}: {db_err}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn health_is_200_when_the_database_answers_and_503_when_it_does_not(pool: PgPool) {
    let app = app(pool.clone()).await;
    let healthy = app.get("/healthz").await;
    assert_eq!(healthy.status, 200);
    assert_eq!(healthy.json()["database"], "ok");

    pool.close().await;
    let unhealthy = app.get("/healthz").await;
    let list = app.get("/api/v1/sites").await;

    assert_eq!(unhealthy.status, 503);
    assert_eq!(list.status, 503);
    assert_eq!(list.headers["retry-after"], "5");
    assert!(list.detail().contains("database is not answering"));
}

#[sqlx::test(migrations = "./migrations")]
async fn reference_data_for_the_pages(pool: PgPool) {
    let app = app(pool).await;
    let templates = app.get("/api/v1/checklist-templates").await.json();
    let hazard_types = app.get("/api/v1/hazard-types").await.json();

    let five = templates.as_array().unwrap().iter().find(|t| t["code"] == "five_must_haves").unwrap();
    assert_eq!(five["name"], "五必上");
    assert_eq!(five["items"].as_array().unwrap().len(), 5);
    let three = templates.as_array().unwrap().iter().find(|t| t["code"] == "three_ones").unwrap();
    let three_codes: Vec<&str> =
        three["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(three_codes, ["line", "sign", "lamp"]);
    assert!(hazard_types.as_array().unwrap().iter().any(|h| h["code"] == "crop_drying" && h["name"] == "晒粮占道"));
    assert_eq!(app.get("/api/v1/towns").await.json()["features"], json!([]));
    assert_eq!(app.get("/api/v1/nothing-here").await.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn responses_are_compressed_as_the_client_accepts(pool: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    use std::io::Read;
    let app = app(pool).await;
    seed(&app).await;
    let get = |path: &str, encoding: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        app.send(request.body(Body::empty()).unwrap())
    };

    let plain = get("/api/v1/sites", None).await;
    assert_eq!(plain.status, 200);
    assert!(plain.headers.get("content-encoding").is_none());
    let zipped = get("/api/v1/sites", Some("gzip")).await;
    assert_eq!(zipped.headers["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.bytes[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.bytes);
    assert!(zipped.bytes.len() < plain.bytes.len());

    // Pages and MapLibre too, with brotli when the browser prefers it.
    let script = get("/vendor/maplibre-gl/maplibre-gl.css", Some("br, gzip")).await;
    assert_eq!(script.status, 200);
    assert_eq!(script.headers["content-encoding"], "br");
    let page = get("/", Some("gzip")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-encoding"], "gzip");
    // Photos are JPEGs already: sent as they are.
    let photo = jpeg(64, 48);
    let answer = app.upload(&observation("spot", json!([120.61, 31.9])), &[&photo]).await;
    assert_eq!(answer.status, 201);
    let sha = common::sha256_hex(&photo);
    let stored = get(&format!("/api/v1/photos/{sha}"), Some("gzip")).await;
    assert_eq!(stored.status, 200);
    assert!(stored.headers.get("content-encoding").is_none());
}
