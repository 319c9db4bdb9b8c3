//! Benchmark: the cost of accounts. One Argon2id password hash (and verification) at the OWASP parameters,
//! and one authenticated request (API token, then session cookie) against the same request's unauthenticated
//! floor in the same run (`GET /healthz`, which also asks the database one question).
//!
//! Run: `DATABASE_URL=… cargo bench --bench auth` on a scratch database (see docs/benchmarks.md).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use roadledger::domain::auth::Role;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use roadledger::secrets;
use tower::ServiceExt;

const RUNS: usize = 25;

#[tokio::main]
async fn main() {
    println!("{:<52} {:>10} {:>10}", "what", "median ms", "min ms");
    let hashes = measure_sync(|| {
        secrets::hash_password("correct horse battery staple").unwrap();
    });
    report("Argon2id hash (19 MiB, t=2, p=1)", &hashes);
    let stored = secrets::hash_password("correct horse battery staple").unwrap();
    let verifies = measure_sync(|| assert!(secrets::verify_password("correct horse battery staple", &stored)));
    report("Argon2id verify", &verifies);

    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("(set DATABASE_URL to a scratch database to time authenticated requests)");
        return;
    };
    let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = AppState {
        pool: pool.clone(),
        replica: None,
        photos: PhotoStore::local(dir.path()).unwrap(),
        settings: Arc::new(Settings::default()),
    };
    let app = router(state);
    let token = common::bench_token(&pool, Role::Dispatcher).await;

    let send = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
        }
    };
    let floor = measure(|| send(Request::get("/healthz").body(Body::empty()).unwrap())).await;
    report("baseline: GET /healthz (no authentication)", &floor);
    let with_token = measure(|| {
        send(
            Request::get("/api/v1/sites/counts")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
    })
    .await;
    report("GET /api/v1/sites/counts with an API token", &with_token);

    // A session cookie, obtained by signing in once (that sign-in pays one Argon2id verification).
    let name = "bench-dispatcher";
    let hash = secrets::hash_password("bench password 2026").unwrap();
    roadledger::db::accounts::set_password(&pool, user_id(&pool, name).await, &hash).await.unwrap();
    let login = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"name":"{name}","password":"bench password 2026"}}"#)))
        .unwrap();
    let start = Instant::now();
    let response = app.clone().oneshot(login).await.unwrap();
    let login_ms = start.elapsed().as_secs_f64() * 1e3;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    println!("{:<52} {:>10.1}", "POST /api/v1/session (sign-in, once)", login_ms);
    let with_cookie = measure(|| {
        send(Request::get("/api/v1/sites/counts").header("cookie", cookie.as_str()).body(Body::empty()).unwrap())
    })
    .await;
    report("GET /api/v1/sites/counts with a session cookie", &with_cookie);
}

async fn user_id(pool: &sqlx::PgPool, name: &str) -> uuid::Uuid {
    roadledger::db::accounts::user_by_name(pool, name).await.unwrap().unwrap().id
}

fn measure_sync(mut f: impl FnMut()) -> Vec<Duration> {
    f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

async fn measure<F, Fut>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    times
}

fn report(what: &str, times: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{what:<52} {:>10.2} {:>10.2}", ms(times[times.len() / 2]), ms(times[0]));
}
