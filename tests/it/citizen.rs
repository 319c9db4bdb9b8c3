//! The public report page's API (issue 13, 随手拍), without an account: a report with real camera photos
//! (EXIF with GPS), its retry, the tracking view, the metadata-free public copies, and the abuse limits,
//! each refusal checked to store nothing (no row, no file).

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Answer, ExifSpec, TestApp, app_with, jpeg, jpeg_with_exif, observation};
use roadledger::domain::citizen::{PublicLimits, leading_zero_bits, pow_hash, solve};
use roadledger::http::Settings;
use roadledger::photos::PhotoStore;
use roadledger::photos::public::has_metadata;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const AT: [f64; 2] = [120.5512, 31.8720];

pub(crate) fn settings(limits: PublicLimits) -> Settings {
    Settings { public_limits: limits, public_address_header: Some("x-real-ip".parse().unwrap()), ..Settings::default() }
}

/// No proof of work (its own test asks for it), generous counters.
pub(crate) fn easy() -> PublicLimits {
    PublicLimits { pow_bits: 0, per_address_hour: 100, per_device_day: 100, per_day: 1000, ..PublicLimits::default() }
}

pub(crate) fn report(description: &str) -> Value {
    json!({
        "submission_id": Uuid::new_v4(), "category": "barrier", "description": description, "point": AT,
        "crs": "wgs84", "accuracy_m": 12.0, "phone": "138-1234-5678", "device_id": "phone-0123456789",
    })
}

pub(crate) fn camera(seed: u32) -> Vec<u8> {
    let spec = ExifSpec {
        lon: AT[0],
        lat: AT[1],
        direction_deg: 90.0 + f64::from(seed),
        taken_at: "2026:12:06 09:30:00",
        orientation: 6,
    };
    jpeg_with_exif(1200, 900, &spec)
}

fn multipart(report: &[u8], photos: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "----citizen-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\n").into_bytes();
    body.extend_from_slice(report);
    body.extend_from_slice(b"\r\n");
    for (i, photo) in photos.iter().enumerate() {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{i}.jpg\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(photo);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends a report from `address`, with no account and no cookie.
pub(crate) async fn submit(app: &TestApp, report: &Value, photos: &[&[u8]], address: &str) -> Answer {
    let (content_type, body) = multipart(report.to_string().as_bytes(), photos);
    let request = Request::post("/api/v1/public/reports")
        .header("content-type", content_type)
        .header("x-real-ip", address)
        .body(Body::from(body))
        .unwrap();
    app.send_as_is(request).await
}

pub(crate) async fn public_get(app: &TestApp, uri: &str) -> Answer {
    app.send_as_is(Request::get(uri).body(Body::empty()).unwrap()).await
}

/// What a refusal must leave: the rows and the files as they were.
async fn nothing_stored(app: &TestApp, reports: i64, files: usize) {
    assert_eq!(app.count("public_report").await, reports, "no report row");
    let orphans: i64 = sqlx::query_scalar(
        "select count(*) from public_report_photo p where not exists (select from public_report r where r.id = p.report_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(app.stored_files().len(), files, "no file in the photo store");
}

fn code(answer: &Answer) -> String {
    answer.json()["code"].as_str().unwrap_or_default().to_string()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_report_with_camera_photos_is_received_once_and_its_public_copies_carry_no_exif(pool: PgPool) {
    let app = app_with(pool, settings(easy())).await;
    let (one, two) = (camera(1), camera(2));
    let body = report("村口护栏被撞断，晚上看不见");
    let first = submit(&app, &body, &[&one, &two], "203.0.113.7").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first.bytes));
    let stored = first.json();
    let token = stored["tracking_token"].as_str().unwrap().to_string();
    assert_eq!(stored["tracking_url"], format!("/track.html#{token}"));

    // The retry (a lost answer, sent again by the page) stores nothing and answers the same link.
    let files = app.stored_files().len();
    let again = submit(&app, &body, &[&one, &two], "203.0.113.7").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), stored);
    assert_eq!(app.count("public_report").await, 1);
    assert_eq!(app.count("public_report_photo").await, 2);
    assert_eq!(app.stored_files().len(), files);

    // Stored as received, waiting for a dispatcher, with the contact and the salted hashes kept for staff.
    type Row = (String, String, String, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>, f64, f64);
    let row: Row = sqlx::query_as(
        "select channel, status, description, contact_phone, sender_hash, device_hash, st_x(geom), st_y(geom)
         from public_report",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((row.0.as_str(), row.1.as_str()), ("citizen", "received"));
    assert_eq!(row.2, "村口护栏被撞断，晚上看不见");
    assert_eq!(row.3.as_deref(), Some("13812345678"));
    assert_eq!(row.4.as_ref().map(Vec::len), Some(32));
    assert!(!String::from_utf8_lossy(row.4.as_ref().unwrap()).contains("203.0.113.7"));
    assert_eq!(row.5.as_ref().map(Vec::len), Some(32));
    assert!((row.6 - AT[0]).abs() < 1e-9 && (row.7 - AT[1]).abs() < 1e-9);
    assert_eq!(app.count("site").await, 0, "nothing reaches the ledger before moderation");

    // The original is kept byte for byte with its EXIF (evidence for staff); the public copy has none.
    let store = PhotoStore::local(app.photo_dir.path()).unwrap();
    let photos: Vec<(String, String, i32, i32)> =
        sqlx::query_as("select original_key, public_key, width, height from public_report_photo order by position")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(photos.len(), 2);
    for ((original_key, public_key, width, height), sent) in photos.iter().zip([&one, &two]) {
        let original = store.get(original_key).await.unwrap();
        assert_eq!(&original[..], &sent[..]);
        assert!(has_metadata(&original));
        assert!(roadledger::photos::process::read_exif(&original).location.is_some());
        let public = store.get(public_key).await.unwrap();
        assert!(!has_metadata(&public), "{public_key} carries metadata");
        assert!(exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&public[..])).is_err());
        assert!(!public.windows(4).any(|w| w == b"Exif"));
        // Orientation 6 applied: the 1200 × 900 original stands upright.
        let decoded = image::load_from_memory(&public).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (900, 1200));
        assert_eq!((*width, *height), (1200, 900));
    }

    // Not public while waiting for moderation.
    let id = stored["id"].as_i64().unwrap();
    assert_eq!(public_get(&app, &format!("/api/v1/public/photos/{id}/0")).await.status, StatusCode::NOT_FOUND);

    // Accepted into a site (as a dispatcher's decision leaves it): the public copy is served, nothing else.
    assert_eq!(app.upload(&observation("spot", json!(AT)), &[&jpeg(64, 48)]).await.status, StatusCode::CREATED);
    sqlx::query(
        "update public_report set status = 'accepted', decided_at = now(), decided_by = '调度员',
             site_id = (select id from site), public_reason = '已转交乡镇处理'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let served = public_get(&app, &format!("/api/v1/public/photos/{id}/1")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers["content-type"], "image/jpeg");
    assert_eq!(served.bytes, store.get(&photos[1].1).await.unwrap().to_vec());
    assert!(!has_metadata(&served.bytes));
    for missing in [
        format!("/api/v1/public/photos/{id}/2"),
        format!("/api/v1/public/photos/{id}/x"),
        "/api/v1/public/photos/99/0".into(),
    ] {
        assert_eq!(public_get(&app, &missing).await.status, StatusCode::NOT_FOUND, "{missing}");
    }

    // The tracking view: exactly the public fields, the timeline, the site's code; no text, phone or name.
    let view = public_get(&app, &format!("/api/v1/public/reports/{token}")).await;
    assert_eq!(view.status, StatusCode::OK);
    let v = view.json();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "category",
            "channel",
            "id",
            "public_reason",
            "public_status",
            "received_at",
            "site_code",
            "updated_at",
            "updates"
        ]
    );
    assert_eq!(v["public_status"], "in_progress");
    assert_eq!(v["public_reason"], "已转交乡镇处理");
    assert!(v["site_code"].as_str().is_some_and(|c| !c.is_empty()));
    let timeline: Vec<&str> =
        v["updates"].as_array().unwrap().iter().map(|u| u["public_status"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["received", "in_progress"]);
    let text = String::from_utf8_lossy(&view.bytes);
    for secret in ["护栏被撞断", "13812345678", "张伟", "调度员", "203.0.113", "phone", "hash", "point", "geom"]
    {
        assert!(!text.contains(secret), "the tracking view shows {secret:?}: {text}");
    }
    assert_eq!(
        public_get(&app, "/api/v1/public/reports/0123456789abcdef0123456789abcdef").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(public_get(&app, "/api/v1/public/reports/nonsense").await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_limits_answer_429_with_retry_after_and_store_nothing(pool: PgPool) {
    let limits = PublicLimits { per_address_hour: 2, per_device_day: 3, per_day: 4, ..easy() };
    let app = app_with(pool, settings(limits)).await;
    let photo = camera(1);
    let with_device = |device: &str| {
        let mut r = report("路口没有减速带");
        r["device_id"] = json!(device);
        r
    };
    for _ in 0..2 {
        assert_eq!(
            submit(&app, &with_device("device-aaaaaaaa"), &[&photo], "198.51.100.1").await.status,
            StatusCode::CREATED
        );
    }
    let files = app.stored_files().len();
    let refused = |answer: &Answer, expected: &str| {
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", String::from_utf8_lossy(&answer.bytes));
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert_eq!(code(answer), expected);
        let retry: i64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=24 * 3600).contains(&retry), "{retry}");
        assert!(!answer.json()["detail"].as_str().unwrap().is_empty());
    };
    // The third from the same address within the hour (a new photo: nothing of it may be left behind).
    let other_photo = camera(9);
    refused(&submit(&app, &with_device("device-bbbbbbbb"), &[&other_photo], "198.51.100.1").await, "per_address");
    nothing_stored(&app, 2, files).await;
    // An IPv6 subscriber is one /64, whatever address in it.
    assert_eq!(
        submit(&app, &with_device("device-cccccccc"), &[&photo], "2001:db8:5:6::1").await.status,
        StatusCode::CREATED
    );
    let files = app.stored_files().len();
    // The first device has sent 2 of its 3; a third from elsewhere passes, the fourth is refused.
    assert_eq!(
        submit(&app, &with_device("device-aaaaaaaa"), &[&photo], "198.51.100.2").await.status,
        StatusCode::CREATED
    );
    let files_after = app.stored_files().len();
    assert_eq!(files_after, files, "the same photo's files are shared");
    // The county's cap (4 a day) is reached: anyone anywhere is refused now.
    refused(&submit(&app, &with_device("device-dddddddd"), &[&other_photo], "2001:db8:5:7::9").await, "per_day");
    nothing_stored(&app, 4, files_after).await;
    // Counters are stored only as salted hashes.
    let buckets: Vec<String> =
        sqlx::query_scalar("select bucket from public_rate_hit").fetch_all(&app.pool).await.unwrap();
    assert!(buckets.iter().all(|b| !b.contains("198.51") && !b.contains("device-")), "{buckets:?}");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_device_limit_and_a_retry_after_a_limit(pool: PgPool) {
    let app = app_with(pool, settings(PublicLimits { per_device_day: 1, ..easy() })).await;
    let photo = camera(3);
    let first = report("急弯没有标志");
    assert_eq!(submit(&app, &first, &[&photo], "192.0.2.1").await.status, StatusCode::CREATED);
    let refused = submit(&app, &report("另一处"), &[&photo], "192.0.2.2").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&refused), "per_device");
    // A retry of what was stored is still answered: the limits count new reports only.
    assert_eq!(submit(&app, &first, &[&photo], "192.0.2.1").await.status, StatusCode::OK);
    assert_eq!(app.count("public_report").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_honeypot_and_the_proof_of_work_refuse_robots(pool: PgPool) {
    let app = app_with(pool, settings(PublicLimits { pow_bits: 10, ..easy() })).await;
    let photo = camera(4);
    let challenge = public_get(&app, "/api/v1/public/challenge").await;
    assert_eq!(challenge.status, StatusCode::OK);
    let c = challenge.json();
    assert_eq!(c["difficulty_bits"], 10);
    let text = c["challenge"].as_str().unwrap().to_string();
    let nonce = solve(&text, 10);

    let mut robot = report("cheap watches");
    robot["website"] = json!("http://spam.example");
    robot["challenge"] = json!(text);
    robot["nonce"] = json!(nonce);
    let answer = submit(&app, &robot, &[&photo], "192.0.2.9").await;
    assert_eq!((answer.status, code(&answer).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "honeypot"));

    let mut unsolved = report("路灯不亮");
    unsolved["challenge"] = json!(text);
    let wrong = (0u64..).map(|n| n.to_string()).find(|n| leading_zero_bits(&pow_hash(&text, n)) < 10).unwrap();
    unsolved["nonce"] = json!(wrong);
    let answer = submit(&app, &unsolved, &[&photo], "192.0.2.9").await;
    assert_eq!((answer.status, code(&answer).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "proof_of_work"));
    let answer = submit(&app, &report("没有挑战"), &[&photo], "192.0.2.9").await;
    assert_eq!((answer.status, code(&answer).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "proof_of_work"));
    let mut forged = report("伪造");
    forged["challenge"] = json!(text.replacen(".10.", ".0.", 1));
    forged["nonce"] = json!("0");
    let answer = submit(&app, &forged, &[&photo], "192.0.2.9").await;
    assert_eq!((answer.status, code(&answer).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "proof_of_work"));
    nothing_stored(&app, 0, 0).await;

    let mut solved = report("路灯不亮");
    solved["challenge"] = json!(text);
    solved["nonce"] = json!(nonce);
    assert_eq!(submit(&app, &solved, &[&photo], "192.0.2.9").await.status, StatusCode::CREATED);
    // A challenge is good for one report.
    let files = app.stored_files().len();
    let mut reused = report("再来一条");
    reused["challenge"] = json!(text);
    reused["nonce"] = json!(nonce);
    let answer = submit(&app, &reused, &[&camera(5)], "192.0.2.9").await;
    assert_eq!((answer.status, code(&answer).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "challenge_used"));
    nothing_stored(&app, 1, files).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_input_is_a_clear_4xx_and_stores_nothing(pool: PgPool) {
    let limits = PublicLimits { description_chars_max: 20, ..easy() };
    let app = app_with(pool, settings(limits)).await;
    let photo = camera(6);
    let with = |field: &str, value: Value| {
        let mut r = report("标志被树挡住");
        r[field] = value;
        r
    };
    let cases: Vec<(Value, Vec<&[u8]>, StatusCode, &str)> = vec![
        (with("category", json!("potholes")), vec![&photo], StatusCode::UNPROCESSABLE_ENTITY, "category"),
        (with("point", json!([2.35, 48.85])), vec![&photo], StatusCode::UNPROCESSABLE_ENTITY, "point"),
        (with("description", json!("很".repeat(21))), vec![&photo], StatusCode::UNPROCESSABLE_ENTITY, "description"),
        (with("phone", json!("call me maybe")), vec![&photo], StatusCode::UNPROCESSABLE_ENTITY, "phone"),
        (with("crs", json!("epsg:3857")), vec![&photo], StatusCode::BAD_REQUEST, "epsg:3857"),
        (with("surprise", json!(1)), vec![&photo], StatusCode::BAD_REQUEST, "surprise"),
        (report("没有照片"), vec![], StatusCode::UNPROCESSABLE_ENTITY, "photo"),
        (report("四张照片"), vec![&photo, &photo, &photo, &photo], StatusCode::PAYLOAD_TOO_LARGE, "at most 3"),
        (report("不是照片"), vec![b"%PDF-1.7 not a photo"], StatusCode::UNSUPPORTED_MEDIA_TYPE, "not an image"),
    ];
    for (body, photos, status, says) in cases {
        let answer = submit(&app, &body, &photos, "192.0.2.77").await;
        assert_eq!(answer.status, status, "{body}: {}", String::from_utf8_lossy(&answer.bytes));
        let detail = answer.detail();
        assert!(detail.contains(says), "{says}: {detail}");
    }
    nothing_stored(&app, 0, 0).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn categories_and_challenges_need_no_account(pool: PgPool) {
    let app = app_with(pool, settings(PublicLimits::default())).await;
    let categories = public_get(&app, "/api/v1/public/categories").await;
    assert_eq!(categories.status, StatusCode::OK);
    let list = categories.json();
    let codes: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), roadledger::domain::public_report::CATEGORIES.len());
    assert_eq!(codes[0], "sign_marking");
    assert!(list[0]["name"].as_str().unwrap().contains("标志"));
    let challenge = public_get(&app, "/api/v1/public/challenge").await.json();
    assert_eq!(challenge["difficulty_bits"], 16);
    assert_eq!(challenge["description_chars_max"], 500);
    // The report page and the tracking page are public pages.
    for page in ["/report.html", "/track.html"] {
        assert_eq!(public_get(&app, page).await.status, StatusCode::OK, "{page}");
    }
}

/// Twenty submissions at once from one address with room for five: exactly five are stored, each counter's
/// row lock making the others wait and see the count they left.
#[sqlx::test(migrations = "./migrations")]
async fn concurrent_submissions_never_pass_a_limit_together(pool: PgPool) {
    let app = std::sync::Arc::new(app_with(pool, settings(PublicLimits { per_address_hour: 5, ..easy() })).await);
    let photo = std::sync::Arc::new(camera(7));
    let sends = (0..20).map(|i| {
        let (app, photo) = (app.clone(), photo.clone());
        tokio::spawn(async move {
            let mut body = report("同时提交");
            body["device_id"] = json!(format!("device-{i:08}"));
            submit(&app, &body, &[&photo], "198.51.100.50").await.status
        })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((created, limited), (5, 15), "{statuses:?}");
    assert_eq!(app.count("public_report").await, 5);
    let hits: i32 = sqlx::query_scalar("select hits from public_rate_hit where bucket like 'addr:%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hits, 5);
}

/// The public POST needs no session and no CSRF token, and a staff member's session cookie riding along
/// changes nothing: the report is anonymous, and staff routes still refuse a cookie without the CSRF token.
#[sqlx::test(migrations = "./migrations")]
async fn a_session_cookie_neither_helps_nor_hinders_and_staff_routes_keep_their_csrf_check(pool: PgPool) {
    let app = app_with(pool, settings(easy())).await;
    let login = app
        .send_as_is(
            Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(Body::from(json!({"name": "zhangwei", "password": common::DEFAULT_PASSWORD}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let cookie = login.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();

    let (content_type, body) = multipart(report("有账号的人也能报").to_string().as_bytes(), &[&camera(8)]);
    let sent = app
        .send_as_is(
            Request::post("/api/v1/public/reports")
                .header("content-type", content_type)
                .header("cookie", &cookie)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&sent.bytes));
    let entered_by: Option<String> =
        sqlx::query_scalar("select entered_by from public_report").fetch_one(&app.pool).await.unwrap();
    assert_eq!(entered_by, None, "a citizen report names nobody");

    let staff = app
        .send_as_is(
            Request::post("/api/v1/tokens")
                .header("content-type", "application/json")
                .header("cookie", &cookie)
                .body(Body::from(json!({"name": "csrf"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(staff.status, StatusCode::FORBIDDEN);
    assert!(staff.detail().contains("x-csrf-token"), "{}", staff.detail());
}
