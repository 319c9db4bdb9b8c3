//! Hardening found in review (issue 14, part 7), each finding held by a test: sessions that slide with use,
//! the security headers, API tokens that expire, the indexes of a million sites, a site's newest events, an
//! unknown stored status, and paths no file can have (two phones at one spot: `upload_locks.rs`).

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{DEFAULT_PASSWORD, TestApp, app, app_with, observation};
use roadledger::http::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const JUNCTION: [f64; 2] = [120.552_31, 31.871_17];

async fn sign_in(app: &TestApp) -> String {
    let answer = app
        .send_as_is(
            Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(Body::from(json!({ "name": "zhangwei", "password": DEFAULT_PASSWORD }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn get_with_cookie(app: &TestApp, uri: &str, cookie: &str) -> common::Answer {
    app.send_as_is(Request::get(uri).header("cookie", cookie).body(Body::empty()).unwrap()).await
}

/// Moves the stored session's clock back: as if sign-in and the last request were `idle` earlier.
async fn idle_for(app: &TestApp, idle: &str) {
    sqlx::query(
        "update user_session set created_at = created_at - $1::interval, last_seen_at = last_seen_at - $1::interval,
             expires_at = expires_at - $1::interval",
    )
    .bind(idle)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// `Max-Age` of the answer's session cookie, if it set one.
fn cookie_max_age(answer: &common::Answer, cookie: &str) -> Option<i64> {
    let set_cookie = answer.headers.get("set-cookie")?.to_str().unwrap();
    assert!(set_cookie.starts_with(&format!("{cookie};")), "the same session is renewed: {set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    set_cookie.split("; ").find_map(|p| p.strip_prefix("Max-Age=")).map(|v| v.parse().unwrap())
}

#[sqlx::test(migrations = "./migrations")]
async fn a_session_lasts_12_idle_hours_renewed_by_use_and_7_days_at_most(pool: PgPool) {
    let app = app(pool).await;
    let cookie = sign_in(&app).await;

    // Used again after 11 idle hours (an hour before it would end): still valid, and the cookie and the
    // server's expiry both run 12 hours from now.
    idle_for(&app, "11 hours").await;
    let used = get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await;
    assert_eq!(used.status, 200);
    let max_age = cookie_max_age(&used, &cookie).expect("a renewed cookie");
    assert!((43_190..=43_200).contains(&max_age), "Max-Age={max_age}");
    let left_s: f64 = sqlx::query_scalar("select extract(epoch from expires_at - now())::float8 from user_session")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!((43_190.0..=43_200.0).contains(&left_s), "the server's expiry slid too: {left_s} s left");

    // Cheap: the next requests within minutes write nothing and set no cookie.
    let again = get_with_cookie(&app, "/api/v1/session", &cookie).await;
    assert_eq!(again.status, 200);
    assert!(again.headers.get("set-cookie").is_none(), "renewed at most once per interval");

    // Pages renew too (the page gate reads the session).
    idle_for(&app, "6 hours").await;
    let page = get_with_cookie(&app, "/", &cookie).await;
    assert_eq!(page.status, 200);
    assert!(cookie_max_age(&page, &cookie).is_some_and(|s| s > 43_000), "a page renews the cookie");

    // 13 idle hours: ended.
    idle_for(&app, "13 hours").await;
    let ended = get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await;
    assert_eq!(ended.status, 401);
    assert!(ended.detail().contains("session has ended"));

    // 7 days after sign-in the session ends however active it was: used a minute ago (nothing to renew) or
    // ten minutes ago (the renewal itself must not revive it), with an expiry still ahead.
    for last_seen in ["1 minute", "10 minutes"] {
        let cookie = sign_in(&app).await;
        sqlx::query(
            "update user_session set created_at = now() - interval '7 days 1 minute',
                 last_seen_at = now() - $1::interval, expires_at = now() + interval '11 hours'",
        )
        .bind(last_seen)
        .execute(&app.pool)
        .await
        .unwrap();
        let week_old = get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await;
        assert_eq!(week_old.status, 401, "last seen {last_seen} ago");
        assert!(week_old.headers.get("set-cookie").is_none());
        sqlx::query("delete from user_session").execute(&app.pool).await.unwrap();
    }
    // A renewal close to the 7 days gives the cookie only what is left of them.
    let cookie = sign_in(&app).await;
    sqlx::query(
        "update user_session set created_at = now() - interval '7 days' + interval '1 hour',
             last_seen_at = now() - interval '10 minutes'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let last_hour = get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await;
    assert_eq!(last_hour.status, 200);
    let max_age = cookie_max_age(&last_hour, &cookie).unwrap();
    assert!((3_590..=3_600).contains(&max_age), "capped at the 7 days: Max-Age={max_age}");
}

#[sqlx::test(migrations = "./migrations")]
async fn signing_out_is_not_undone_by_the_renewal(pool: PgPool) {
    let app = app(pool).await;
    let cookie = sign_in(&app).await;
    idle_for(&app, "1 hour").await;
    let csrf: String = sqlx::query_scalar("select csrf_token from user_session").fetch_one(&app.pool).await.unwrap();
    let out = app
        .send_as_is(
            Request::delete("/api/v1/session")
                .header("cookie", &cookie)
                .header("x-csrf-token", csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, 204);
    let set_cookies: Vec<&str> = out.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(set_cookies.len(), 1, "{set_cookies:?}");
    assert!(set_cookies[0].contains("Max-Age=0"), "{set_cookies:?}");
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_and_api_answers_carry_the_security_headers(pool: PgPool) {
    let settings = Settings {
        base_maps: vec![
            roadledger::http::settings::parse_base_map("高德=https://webrd0{1-2}.is.autonavi.com/a?x={x}&y={y}&z={z}")
                .unwrap(),
        ],
        ..Settings::default()
    };
    let app = app_with(pool, settings).await;
    let cookie = sign_in(&app).await;
    let answers = [
        ("GET /api/v1/settings", app.get("/api/v1/settings").await),
        ("GET /api/v1/no-such-route", app.get("/api/v1/no-such-route").await),
        ("GET / signed in", get_with_cookie(&app, "/", &cookie).await),
        ("GET / anonymous", app.send_as_is(Request::get("/").body(Body::empty()).unwrap()).await),
        ("GET /login.html", app.send_as_is(Request::get("/login.html").body(Body::empty()).unwrap()).await),
        ("GET /missing.html", get_with_cookie(&app, "/missing.html", &cookie).await),
    ];
    for (what, answer) in &answers {
        let header = |name: &str| answer.headers.get(name).map(|v| v.to_str().unwrap().to_string());
        let csp = header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "worker-src 'self' blob:",
            "img-src 'self' blob: data: https://webrd01.is.autonavi.com https://webrd02.is.autonavi.com",
            "connect-src 'self' https://webrd01.is.autonavi.com https://webrd02.is.autonavi.com",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{what}: {directive:?} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{what}: {csp}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        assert_eq!(header("referrer-policy").as_deref(), Some("strict-origin-when-cross-origin"), "{what}");
    }
    // No page keeps an inline script the policy would refuse.
    for entry in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).unwrap();
            for tag in html.split("<script").skip(1) {
                let open = tag.split('>').next().unwrap();
                assert!(open.contains("src="), "{}: an inline <script> is refused by the CSP", path.display());
            }
            assert!(!html.contains(" onclick=") && !html.contains(" onload="), "{}: inline handler", path.display());
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_api_token_with_an_expiry_stops_working_after_it(pool: PgPool) {
    let app = app(pool).await;
    let create = |body: Value| {
        Request::post("/api/v1/tokens").header("content-type", "application/json").body(Body::from(body.to_string()))
    };
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let made = app.send(create(json!({ "name": "临时脚本", "expires_at": in_an_hour })).unwrap()).await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.bytes));
    let made = made.json();
    let token = made["token"].as_str().unwrap().to_string();
    let expires_at = made["expires_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let asked = in_an_hour.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!((expires_at - asked).num_milliseconds().abs() < 1, "stored as asked (to the microsecond)");

    let with_token = |token: &str| {
        Request::get("/api/v1/sites/counts").header("authorization", format!("Bearer {token}")).body(Body::empty())
    };
    assert_eq!(app.send_as_is(with_token(&token).unwrap()).await.status, 200, "works until it expires");

    // The list shows when each token ends (null: when revoked).
    let listed = app.get("/api/v1/tokens").await.json();
    let by_name = |name: &str| listed.as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone();
    assert_eq!(by_name("临时脚本")["expires_at"], made["expires_at"]);
    assert_eq!(by_name("test")["expires_at"], Value::Null);

    // An hour later (the stored times moved back): refused like a revoked token.
    sqlx::query(
        "update api_token set created_at = created_at - interval '61 minutes',
             expires_at = expires_at - interval '61 minutes' where name = '临时脚本'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let expired = app.send_as_is(with_token(&token).unwrap()).await;
    assert_eq!(expired.status, 401);
    assert!(expired.detail().contains("expired"), "{}", expired.detail());
    assert_eq!(app.get("/api/v1/sites/counts").await.status, 200, "the token without an expiry goes on");

    // An expiry in the past, or not a time, is refused.
    let past = app.send(create(json!({ "name": "x", "expires_at": "2020-01-01T00:00:00Z" })).unwrap()).await;
    assert_eq!(past.status, 422);
    assert!(past.detail().contains("expires_at"), "{}", past.detail());
    let junk = app.send(create(json!({ "name": "x", "expires_at": "tomorrow" })).unwrap()).await;
    assert_eq!(junk.status, 400);
}

/// The plan PostgreSQL makes for `sql` when it may not scan whole tables (the test tables are tiny, so
/// without this it would scan them whatever indexes exist).
async fn plan(pool: &PgPool, sql: &str) -> String {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local enable_seqscan = off").execute(&mut *tx).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(&format!("explain {sql}")).fetch_all(&mut *tx).await.unwrap();
    rows.join("\n")
}

#[sqlx::test(migrations = "./migrations")]
async fn the_scale_indexes_serve_their_queries(pool: PgPool) {
    let scope = roadledger::db::sites::scope_condition(1);
    let unit_scope = format!(
        "select s.id from site s where {}",
        scope.replace("$1::bool", "false").replace("$2::int", "null::int").replace("$3::int", "7")
    );
    let cases = [
        (unit_scope.as_str(), &["site_lead_unit_idx", "site_supporting_units_gin", "site_responsible_unit_idx"][..]),
        (
            "select 1 from site_event e where e.observation_id = '00000000-0000-0000-0000-000000000001' and e.kind = 'opened'",
            &["site_event_observation_idx"],
        ),
        ("select id from site where duplicate_of = '00000000-0000-0000-0000-000000000001'", &["site_duplicate_of_idx"]),
        (
            "select id from look_back_task t where t.done_at is null order by t.due_on limit 2000",
            &["look_back_task_open_due_idx"],
        ),
        (
            "select id from road where st_dwithin(road.geom::geography, st_setsrid(st_point(120.5, 31.8), 4326)::geography, 30)",
            &["road_geog_gix"],
        ),
    ];
    for (sql, indexes) in cases {
        let plan = plan(&pool, sql).await;
        for index in indexes {
            assert!(plan.contains(index), "{sql}\nshould use {index}:\n{plan}");
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_sites_detail_shows_its_newest_500_events(pool: PgPool) {
    let app = app(pool).await;
    let opened = app.upload(&observation("intersection", json!(JUNCTION)), &[]).await.json();
    let site: Uuid = opened["site"]["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "insert into site_event (site_id, actor, kind, data)
         select $1, '测试', 'observed', jsonb_build_object('n', n) from generate_series(1, 510) n",
    )
    .bind(site)
    .execute(&app.pool)
    .await
    .unwrap();

    let detail = app.get(&format!("/api/v1/sites/{site}")).await;
    assert_eq!(detail.status, 200);
    let events = detail.json()["properties"]["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 500);
    // 511 events (opened, then 510): the newest 500 are n = 11 … 510, listed oldest first.
    let ns: Vec<i64> = events.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, (11..=510).collect::<Vec<_>>());
    let newest: i64 = sqlx::query_scalar("select max(id) from site_event where site_id = $1")
        .bind(site)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events.last().unwrap()["id"].as_i64(), Some(newest));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_unknown_stored_status_is_an_error_not_reported(pool: PgPool) {
    let app = app(pool).await;
    let opened = app.upload(&observation("intersection", json!(JUNCTION)), &[]).await.json();
    let site: Uuid = opened["site"]["id"].as_str().unwrap().parse().unwrap();
    // Only a schema out of step with the code could hold one: drop the rule and the map's triggers to write it.
    for sql in ["alter table site drop constraint site_status_known", "alter table site disable trigger user"] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    sqlx::query("update site set status = 'archived' where id = $1").bind(site).execute(&app.pool).await.unwrap();
    let detail = app.get(&format!("/api/v1/sites/{site}")).await;
    assert_eq!(detail.status, 500, "{}", String::from_utf8_lossy(&detail.bytes));
    assert_eq!(detail.json()["detail"], "internal error", "no internals leak");
    assert!(!String::from_utf8_lossy(&detail.bytes).contains("reported"));
}

#[sqlx::test(migrations = "./migrations")]
async fn dispatch_refuses_a_field_it_does_not_use_and_changes_nothing(pool: PgPool) {
    let app = app(pool).await;
    let office = common::county_office(&app).await;
    let opened = app.upload(&observation("intersection", json!(JUNCTION)), &[]).await.json();
    let site = opened["site"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.act(&office.dispatcher, &site, &json!({"action": "verify"})).await.status, 200);
    let before = app.site_as(&office.dispatcher, &site).await.headers["etag"].clone();
    for (field, value) in [("approve", json!(true)), ("supervision_level", json!("county")), ("colour", json!("red"))] {
        let mut body = json!({"action": "dispatch", "responsible_unit_id": office.unit_id});
        body[field] = value;
        let refused = app.act(&office.dispatcher, &site, &body).await;
        assert_eq!(refused.status, 422, "{field}");
        assert!(refused.detail().contains(field), "{field}: {}", refused.detail());
        assert_eq!(app.site_as(&office.dispatcher, &site).await.headers["etag"], before, "{field}: nothing changed");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_path_no_file_can_have_is_a_4xx_not_a_500(pool: PgPool) {
    let app = app(pool).await;
    let long = "a".repeat(1000);
    for path in [
        format!("/{long}"),
        format!("/{long}.html"),
        format!("/vendor/maplibre-gl/{long}"),
        format!("/api/v1/sites/{long}"),
        format!("/app.css/{long}"),
    ] {
        let answer = app.get(&path).await;
        assert_eq!(answer.status, 404, "GET {}…: {}", &path[..24], String::from_utf8_lossy(&answer.bytes));
        assert!(answer.detail().contains("longer than 255 bytes"), "{}", answer.detail());
    }
    // A name of 255 bytes may exist: it is looked up, and missing, like any other.
    let longest = app.get(&format!("/{}", "a".repeat(255))).await;
    assert_eq!(longest.status, 404);
    // Many short segments that add up to more than a path may be: 414.
    let deep = app.get(&"/a".repeat(1100)).await;
    assert_eq!(deep.status, 414);
    assert!(deep.detail().contains("at most 2048"), "{}", deep.detail());
}
