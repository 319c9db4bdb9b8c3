//! Sign-in and sessions as an attacker would probe them: session fixation, CSRF, token revocation,
//! throttling (surviving a restart), disabled accounts, account enumeration, sign-out.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{DEFAULT_PASSWORD, TestApp, app, create_token, create_user, observation, organisation};
use serde_json::{Value, json};
use sqlx::PgPool;

async fn login(app: &TestApp, name: &str, password: &str, cookie: Option<&str>) -> common::Answer {
    let mut request = Request::post("/api/v1/session").header("content-type", "application/json");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    app.send_as_is(request.body(Body::from(json!({"name": name, "password": password}).to_string())).unwrap()).await
}

/// The `rl_session=…` pair from a sign-in answer.
fn session_cookie(answer: &common::Answer) -> String {
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    set_cookie.split(';').next().unwrap().to_string()
}

async fn get_with_cookie(app: &TestApp, uri: &str, cookie: &str) -> common::Answer {
    app.send_as_is(Request::get(uri).header("cookie", cookie).body(Body::empty()).unwrap()).await
}

async fn leader(app: &TestApp) -> uuid::Uuid {
    let office = organisation(&app.pool, "city_office").await;
    create_user(&app.pool, "wang.qiang", "王强", &["leader"], office, DEFAULT_PASSWORD).await
}

#[sqlx::test(migrations = "./migrations")]
async fn signing_in_gives_a_new_session_and_ends_any_session_presented_before(pool: PgPool) {
    let app = app(pool).await;
    leader(&app).await;
    // An attacker plants a session id of their own (their own valid session) in the victim's browser.
    let attacker = session_cookie(&login(&app, "zhangwei", DEFAULT_PASSWORD, None).await);

    let victim = login(&app, "wang.qiang", DEFAULT_PASSWORD, Some(&attacker)).await;

    assert_eq!(victim.status, 200);
    let victim_cookie = session_cookie(&victim);
    assert_ne!(victim_cookie, attacker, "the session id must change at sign-in");
    assert_eq!(get_with_cookie(&app, "/api/v1/session", &attacker).await.status, 401);
    let me = get_with_cookie(&app, "/api/v1/session", &victim_cookie).await.json();
    assert_eq!(me["user"]["name"], "wang.qiang");
    assert_eq!(me["csrf_token"], victim.json()["csrf_token"]);
    // Only a hash of the session token is stored.
    let stored: i64 = sqlx::query_scalar("select count(*) from user_session where token_sha256 = $1")
        .bind(victim_cookie.trim_start_matches("rl_session=").as_bytes())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn state_changing_cookie_requests_need_the_csrf_token(pool: PgPool) {
    let app = app(pool).await;
    let signed_in = login(&app, "zhangwei", DEFAULT_PASSWORD, None).await;
    let cookie = session_cookie(&signed_in);
    let csrf = signed_in.json()["csrf_token"].as_str().unwrap().to_string();
    let create = |csrf: Option<&str>| {
        let mut r =
            Request::post("/api/v1/tokens").header("cookie", &cookie).header("content-type", "application/json");
        if let Some(csrf) = csrf {
            r = r.header("x-csrf-token", csrf);
        }
        r.body(Body::from(r#"{"name":"phone"}"#)).unwrap()
    };

    let forged = app.send_as_is(create(None)).await;
    let wrong = app.send_as_is(create(Some("0".repeat(64).as_str()))).await;
    let genuine = app.send_as_is(create(Some(&csrf))).await;
    // Reading needs no token.
    let read = get_with_cookie(&app, "/api/v1/tokens", &cookie).await;

    assert_eq!(forged.status, 403);
    assert!(
        forged.detail().contains("X-CSRF-Token") || forged.detail().contains("x-csrf-token"),
        "{}",
        forged.detail()
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(genuine.status, 201);
    assert_eq!(read.status, 200);
    let mut names: Vec<Value> = read.json().as_array().unwrap().iter().map(|t| t["name"].clone()).collect();
    names.sort_by_key(|n| n.to_string());
    // The account's existing "test" token and the one genuine request's "phone": the forged ones made nothing.
    assert_eq!(names, [json!("phone"), json!("test")]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_revoked_token_stops_working_at_once_and_last_use_is_recorded(pool: PgPool) {
    let app = app(pool).await;
    let bearer = |token: &str| {
        Request::get("/api/v1/sites/counts")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let created = app
        .send(
            Request::post("/api/v1/tokens")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"name":"张伟的手机"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(created.status, 201);
    let created = created.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("rl_"));

    assert_eq!(app.send_as_is(bearer(&token)).await.status, 200);
    let listed = app.get("/api/v1/tokens").await.json();
    let entry = listed.as_array().unwrap().iter().find(|t| t["id"] == created["id"]).unwrap();
    assert!(entry["last_used_at"].is_string(), "{entry}");
    assert!(entry.get("token").is_none(), "a token is shown only once");

    let revoked = app
        .send(
            Request::delete(format!("/api/v1/tokens/{}", created["id"].as_str().unwrap())).body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(revoked.status, 204);
    let refused = app.send_as_is(bearer(&token)).await;
    assert_eq!(refused.status, 401);
    assert!(refused.detail().contains("revoked"), "{}", refused.detail());
    // Someone else's token cannot be revoked (nor seen): 404.
    let other = create_user(
        &app.pool,
        "li.na",
        "李娜",
        &["inspector"],
        organisation(&app.pool, "city_office").await,
        DEFAULT_PASSWORD,
    )
    .await;
    let other_token = create_token(&app.pool, other).await;
    let other_id: uuid::Uuid = sqlx::query_scalar("select id from api_token where user_id = $1")
        .bind(other)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let attempt = app.send(Request::delete(format!("/api/v1/tokens/{other_id}")).body(Body::empty()).unwrap()).await;
    assert_eq!(attempt.status, 404);
    assert_eq!(app.send_as_is(bearer(&other_token)).await.status, 200);
}

#[sqlx::test(migrations = "./migrations")]
async fn repeated_failures_are_throttled_and_the_throttle_survives_a_restart(pool: PgPool) {
    let app = app(pool.clone()).await;
    for _ in 0..5 {
        assert_eq!(login(&app, "zhangwei", "wrong password!", None).await.status, 401);
    }

    let throttled = login(&app, "zhangwei", DEFAULT_PASSWORD, None).await;

    assert_eq!(throttled.status, 429, "even the right password waits");
    let retry_after: u64 = throttled.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert!(throttled.detail().contains("too many failed sign-ins"));

    // A restart: a new server (new router, new pool) over the same database.
    let restarted = common::TestApp {
        router: roadledger::http::router(roadledger::http::AppState {
            pool: pool.clone(),
            replica: None,
            photos: roadledger::photos::PhotoStore::local(app.photo_dir.path()).unwrap(),
            settings: std::sync::Arc::new(roadledger::http::Settings::default()),
        }),
        pool: pool.clone(),
        photo_dir: tempfile::tempdir().unwrap(),
        token: app.token.clone(),
    };
    assert_eq!(login(&restarted, "zhangwei", DEFAULT_PASSWORD, None).await.status, 429);

    // Other accounts are not locked out by one account's failures…
    leader(&app).await;
    assert_eq!(login(&restarted, "wang.qiang", DEFAULT_PASSWORD, None).await.status, 200);
    // …and when the window has passed, the account signs in again.
    sqlx::query("update login_failure set at = at - interval '16 minutes'").execute(&pool).await.unwrap();
    assert_eq!(login(&restarted, "zhangwei", DEFAULT_PASSWORD, None).await.status, 200);
}

#[sqlx::test(migrations = "./migrations")]
async fn one_client_address_spraying_many_accounts_is_throttled(pool: PgPool) {
    let app = app(pool).await;
    for i in 0..20 {
        assert_eq!(login(&app, &format!("guess{i}"), "password guess", None).await.status, 401);
    }
    // All requests here come from the same (unknown) address.
    assert_eq!(login(&app, "zhangwei", DEFAULT_PASSWORD, None).await.status, 429);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_disabled_account_cannot_sign_in_and_loses_its_sessions_and_tokens(pool: PgPool) {
    let app = app(pool).await;
    let office = organisation(&app.pool, "city_office").await;
    let admin = create_user(&app.pool, "admin", "管理员", &["admin"], office, DEFAULT_PASSWORD).await;
    let admin_token = create_token(&app.pool, admin).await;
    let victim = create_user(&app.pool, "zhao.lei", "赵磊", &["dispatcher"], office, DEFAULT_PASSWORD).await;
    let victim_token = create_token(&app.pool, victim).await;
    let cookie = session_cookie(&login(&app, "zhao.lei", DEFAULT_PASSWORD, None).await);

    let disabled = app
        .send(
            Request::post(format!("/api/v1/users/{victim}/disable"))
                .header("authorization", format!("Bearer {admin_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;

    assert_eq!(disabled.status, 200);
    assert_eq!(disabled.json()["disabled"], true);
    assert_eq!(get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await.status, 401);
    let with_token = app
        .send_as_is(
            Request::get("/api/v1/sites")
                .header("authorization", format!("Bearer {victim_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(with_token.status, 401);
    let again = login(&app, "zhao.lei", DEFAULT_PASSWORD, None).await;
    assert_eq!(again.status, 401);
    assert_eq!(again.detail(), "name or password is wrong");
}

#[sqlx::test(migrations = "./migrations")]
async fn sign_in_does_not_reveal_which_accounts_exist(pool: PgPool) {
    let app = app(pool).await;
    let office = organisation(&app.pool, "city_office").await;
    let disabled = create_user(&app.pool, "gone", "离职人员", &["inspector"], office, DEFAULT_PASSWORD).await;
    roadledger::db::accounts::set_disabled(&app.pool, disabled, true).await.unwrap();

    let unknown = login(&app, "nobody", DEFAULT_PASSWORD, None).await;
    let wrong_password = login(&app, "zhangwei", "not the password", None).await;
    let disabled = login(&app, "gone", DEFAULT_PASSWORD, None).await;

    for answer in [&unknown, &wrong_password, &disabled] {
        assert_eq!(answer.status, 401);
        assert_eq!(answer.json(), unknown.json(), "every refusal has the same body");
        assert!(answer.headers.get("set-cookie").is_none());
    }
    assert_eq!(unknown.detail(), "name or password is wrong");
}

#[sqlx::test(migrations = "./migrations")]
async fn signing_out_ends_the_session_on_the_server(pool: PgPool) {
    let app = app(pool).await;
    let signed_in = login(&app, "zhangwei", DEFAULT_PASSWORD, None).await;
    let cookie = session_cookie(&signed_in);
    let csrf = signed_in.json()["csrf_token"].as_str().unwrap().to_string();

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
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    // The old cookie, replayed, is worthless.
    assert_eq!(get_with_cookie(&app, "/api/v1/session", &cookie).await.status, 401);
    assert_eq!(app.count("user_session").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_session_expires_on_the_server(pool: PgPool) {
    let app = app(pool).await;
    let cookie = session_cookie(&login(&app, "zhangwei", DEFAULT_PASSWORD, None).await);
    assert_eq!(get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await.status, 200);

    sqlx::query("update user_session set expires_at = now() - interval '1 second'").execute(&app.pool).await.unwrap();

    let expired = get_with_cookie(&app, "/api/v1/sites/counts", &cookie).await;
    assert_eq!(expired.status, 401);
    assert!(expired.detail().contains("session has ended"));
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_send_visitors_without_a_session_to_sign_in(pool: PgPool) {
    let app = app(pool).await;
    let page = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();

    let map = app.send_as_is(page("/")).await;
    let inspect = app.send_as_is(page("/inspect.html?draft=1")).await;
    let login_page = app.send_as_is(page("/login.html")).await;
    let script = app.send_as_is(page("/common.js")).await;

    assert_eq!(map.status, 303);
    assert_eq!(map.headers["location"], "/login.html?next=/");
    assert_eq!(inspect.headers["location"], "/login.html?next=/inspect.html%3Fdraft%3D1");
    assert_eq!(login_page.status, 200);
    assert_eq!(script.status, 200);

    let cookie = session_cookie(&login(&app, "zhangwei", DEFAULT_PASSWORD, None).await);
    assert_eq!(get_with_cookie(&app, "/", &cookie).await.status, 200);
    // Not an admin: the admin page sends them back to the map.
    let admin_page = get_with_cookie(&app, "/admin.html", &cookie).await;
    assert_eq!(admin_page.status, 303);
    assert_eq!(admin_page.headers["location"], "/");
}

#[sqlx::test(migrations = "./migrations")]
async fn observations_are_attributed_to_the_signed_in_account(pool: PgPool) {
    let app = app(pool).await;
    let mut with_name = observation("spot", json!([120.55, 31.87]));
    with_name["inspector"] = json!("冒名顶替");
    let refused = app.upload(&with_name, &[]).await;
    let recorded = app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await;

    assert_eq!(refused.status, 400);
    assert!(refused.detail().contains("unknown field `inspector`"), "{}", refused.detail());
    assert_eq!(recorded.status, 201);
    let (inspector, user_name, event_user): (String, String, Option<uuid::Uuid>) = sqlx::query_as(
        "select o.inspector, u.name, e.actor_user_id from observation o join app_user u on u.id = o.user_id
         join site_event e on e.observation_id = o.id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((inspector.as_str(), user_name.as_str()), ("张伟", "zhangwei"));
    let user_id: uuid::Uuid =
        sqlx::query_scalar("select id from app_user where name = 'zhangwei'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(event_user, Some(user_id));
}

#[sqlx::test(migrations = "./migrations")]
async fn users_change_their_own_password_and_their_other_sessions_end(pool: PgPool) {
    let app = app(pool).await;
    leader(&app).await;
    let here = login(&app, "wang.qiang", DEFAULT_PASSWORD, None).await;
    let here_cookie = session_cookie(&here);
    let csrf = here.json()["csrf_token"].as_str().unwrap().to_string();
    let elsewhere = session_cookie(&login(&app, "wang.qiang", DEFAULT_PASSWORD, None).await);
    let change = |current: &str, new: &str| {
        Request::post("/api/v1/session/password")
            .header("cookie", &here_cookie)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(Body::from(json!({"current_password": current, "new_password": new}).to_string()))
            .unwrap()
    };
    let new_password = "路口警示桩 grows back 2027";

    let wrong = app.send_as_is(change("not my password", new_password)).await;
    let weak = app.send_as_is(change(DEFAULT_PASSWORD, "short")).await;
    let changed = app.send_as_is(change(DEFAULT_PASSWORD, new_password)).await;

    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.json()["code"], "wrong_password");
    assert_eq!(weak.status, 422);
    assert_eq!(changed.status, 204, "{}", changed.detail());
    // This session goes on; the one on the other device has ended.
    assert_eq!(get_with_cookie(&app, "/api/v1/session", &here_cookie).await.status, 200);
    assert_eq!(get_with_cookie(&app, "/api/v1/session", &elsewhere).await.status, 401);
    assert_eq!(login(&app, "wang.qiang", DEFAULT_PASSWORD, None).await.status, 401);
    assert_eq!(login(&app, "wang.qiang", new_password, None).await.status, 200);
    // Guessing the current password through this route is throttled like sign-in.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.send_as_is(change("guess", "another long passphrase 1")).await.status.as_u16());
    }
    assert_eq!(statuses.first(), Some(&403));
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}
