//! The public's hazards from end to end (issue 13), each step through its real route: a citizen's photo report
//! and an Open311 client's request wait in the dispatchers' queue; one is accepted into a new site, the other
//! merged into it; the Open311 answer then links the citizen's photo through the public photo route, which
//! serves the copy without metadata, while the ledger's photo keeps what the original said as evidence; and
//! when the site moves, the citizen's tracking view and Open311 (the
//! request and mySociety's updates) follow it.

use crate::common;
use crate::{citizen, open311};

use axum::body::Body;
use axum::http::Request;
use common::{app_with, county_office};
use roadledger::photos::public::has_metadata;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn as_dispatcher(
    app: &common::TestApp,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> common::Answer {
    let request = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

fn ids(queue: &Value) -> Vec<i64> {
    queue["reports"].as_array().expect("a list of reports").iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_citizen_report_and_an_open311_request_become_one_site_and_follow_it(pool: PgPool) {
    let app = app_with(pool, citizen::settings(citizen::easy())).await;
    let office = county_office(&app).await;

    // A citizen reports with a photo, no account. The page resized it, so what the original's EXIF said travels
    // as fields: taken about 6 km east, five days before the report.
    let mut report = citizen::report("路口护栏被撞坏了");
    report["photo_evidence"] = json!([{
        "taken_at": "2026-12-01T08:15:00", "lon": 120.615, "lat": 31.872, "direction_deg": 80.0,
        "device": "HUAWEI P60", "original_bytes": 4_200_000, "original_width": 4000, "original_height": 3000,
    }]);
    let mut wrong = report.clone();
    wrong["photo_evidence"] = json!([{}, {}]);
    let refused = citizen::submit(&app, &wrong, &[&citizen::camera(1)], "203.0.113.9").await;
    assert_eq!(refused.status, 422, "{}", String::from_utf8_lossy(&refused.bytes));
    assert!(String::from_utf8_lossy(&refused.bytes).contains("photo_evidence"));
    assert_eq!(app.count("public_report").await, 0, "a refused report stores nothing");
    let sent = citizen::submit(&app, &report, &[&citizen::camera(1)], "203.0.113.9").await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.bytes));
    let citizen_id = sent.json()["id"].as_i64().unwrap();
    let token = sent.json()["tracking_token"].as_str().unwrap().to_string();
    let photo = format!("/api/v1/public/photos/{citizen_id}/0");
    assert_eq!(citizen::public_get(&app, &photo).await.status, 404, "no public photo before moderation");

    // A city platform posts over Open311.
    let admin = open311::admin(&app).await;
    let (_, key) = open311::issue_key(&app, &admin, "城市服务平台").await;
    let posted = open311::post(&app, "json", &open311::good_form(&key)).await;
    assert_eq!(posted.status, 201, "{}", String::from_utf8_lossy(&posted.bytes));
    let open311_id: i64 = posted.json()[0]["service_request_id"].as_str().unwrap().parse().unwrap();

    // Both wait in the dispatchers' queue.
    let queue = as_dispatcher(&app, &office.dispatcher, "GET", "/api/v1/public-reports?status=received", None).await;
    assert_eq!(queue.status, 200, "{}", String::from_utf8_lossy(&queue.bytes));
    let waiting = ids(&queue.json());
    assert!(waiting.contains(&citizen_id) && waiting.contains(&open311_id), "{waiting:?}");

    // The citizen's report is accepted into a new site; the Open311 request is merged into it.
    let accept = format!("/api/v1/public-reports/{citizen_id}/accept");
    let accepted = as_dispatcher(&app, &office.dispatcher, "POST", &accept, Some(json!({}))).await;
    assert_eq!(accepted.status, 200, "{}", String::from_utf8_lossy(&accepted.bytes));
    let site = accepted.json()["report"]["site_id"].as_str().unwrap().to_string();
    // The ledger's photo is the public copy, with the original's evidence and the flags it raises.
    let (device, lon, flags): (Option<String>, Option<f64>, Value) = sqlx::query_as(
        "select p.original_device, st_x(p.original_location), p.evidence_flags
         from photo p join public_report r on r.observation_id = p.observation_id where r.id = $1",
    )
    .bind(citizen_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((device.as_deref(), lon), (Some("HUAWEI P60"), Some(120.615)));
    let codes: Vec<&str> = flags.as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"far_from_record") && codes.contains(&"before_record"), "{flags}");
    let merge = format!("/api/v1/public-reports/{open311_id}/merge");
    let merged = as_dispatcher(&app, &office.dispatcher, "POST", &merge, Some(json!({"site_id": site}))).await;
    assert_eq!(merged.status, 200, "{}", String::from_utf8_lossy(&merged.bytes));
    let queue = as_dispatcher(&app, &office.dispatcher, "GET", "/api/v1/public-reports?status=received", None).await;
    assert!(ids(&queue.json()).is_empty(), "the queue is empty once both are decided");

    // Open311 links the citizen's photo through the public photo route, which serves the copy without EXIF.
    let request = open311::get(&app, &format!("/open311/v2/requests/{citizen_id}.json")).await;
    let request = &request.json()[0];
    assert_eq!(request["status"], "open");
    assert_eq!(request["description"], "路口护栏被撞坏了", "moderated text is public");
    let media = request["media_url"].as_str().unwrap();
    assert_eq!(media, format!("http://roadledger.example.cn{photo}"));
    let served = citizen::public_get(&app, &photo).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "image/jpeg");
    assert!(!has_metadata(&served.bytes), "the public copy carries no metadata");
    let merged_request = open311::get(&app, &format!("/open311/v2/requests/{open311_id}.json")).await;
    assert_eq!(merged_request.json()[0]["status"], "open");
    open311::assert_no_personal_data(&merged_request);

    // The site is cancelled: both close, the citizen's tracking view says so, and the updates are listed.
    let cancelled = app.act(&office.dispatcher, &site, &json!({"action": "cancel", "reason": "道路已改建"})).await;
    assert_eq!(cancelled.status, 200, "{}", String::from_utf8_lossy(&cancelled.bytes));
    let tracked = citizen::public_get(&app, &format!("/api/v1/public/reports/{token}")).await;
    assert_eq!(tracked.json()["public_status"], "not_accepted");
    for id in [citizen_id, open311_id] {
        let answer = open311::get(&app, &format!("/open311/v2/requests/{id}.json")).await;
        assert_eq!(answer.json()[0]["status"], "closed", "request {id}");
    }
    let updates = open311::get(&app, "/open311/v2/servicerequestupdates.json").await.json();
    let of = |id: i64| -> Vec<String> {
        updates
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["service_request_id"] == json!(id.to_string()))
            .map(|u| u["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(of(citizen_id), ["open", "open", "closed"]);
    assert_eq!(of(open311_id), ["open", "open", "closed"]);
}
