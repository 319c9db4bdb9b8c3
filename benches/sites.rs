//! Benchmark: the map's query, `GET /api/v1/sites` for the whole demo area (2 460 sites), against two
//! baselines in the same run: the raw SQL floor (ids and geometry only) and the same SQL the API runs, over
//! one pool connection.
//!
//! Run: `DATABASE_URL=… cargo bench --bench sites` on a scratch database: the demo dataset is loaded into
//! it when it has no sites (see docs/benchmarks.md).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use tower::ServiceExt;

const RUNS: usize = 15;
const BBOX: &str = "120.3,31.75,120.8,32.05";

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("set DATABASE_URL (a scratch database) to run this benchmark");
        return;
    };
    let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let photos = PhotoStore::local(dir.path()).unwrap();
    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();
    let app = router(AppState { pool: pool.clone(), replica: None, photos, settings: Arc::new(Settings::default()) });
    let token = common::bench_token(&pool, roadledger::domain::auth::Role::Leader).await;
    let sites: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(&pool).await.unwrap();
    println!("{sites} sites; {RUNS} runs each");
    println!("{:<52} {:>10} {:>10} {:>10}", "what", "median ms", "min ms", "KiB");

    let (times, bytes) = time(|| async {
        let uri = format!("/api/v1/sites?bbox={BBOX}&limit=5000");
        let request = Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap().to_bytes().len()
    })
    .await;
    report("GET /api/v1/sites (whole area, full properties)", times, bytes);

    let (times, bytes) = time(|| async {
        let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
            "select id, st_asgeojson(geom, 6) from site
             where geom && st_makeenvelope(120.3, 31.75, 120.8, 32.05, 4326) order by id limit 5001",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows.iter().map(|r| r.1.len() + 40).sum()
    })
    .await;
    report("baseline: raw SQL, id + geometry only", times, bytes);

    let (times, bytes) = time(|| async {
        let filter = roadledger::db::sites::SiteFilter {
            bbox: Some([120.3, 31.75, 120.8, 32.05]),
            limit: 5000,
            scope: roadledger::domain::auth::SiteScope { all: true, town_id: None, unit_id: None },
            ..Default::default()
        };
        let (features, _) = roadledger::db::sites::list(&pool, &filter).await.unwrap();
        features.iter().map(String::len).sum()
    })
    .await;
    report("db::sites::list alone (the API's SQL)", times, bytes);
}

/// Runs `f` once to warm the caches, then `RUNS` times; the sorted times and the bytes `f` reported.
async fn time<F, Fut>(mut f: F) -> (Vec<Duration>, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut bytes = f().await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        bytes = f().await;
        times.push(start.elapsed());
    }
    times.sort();
    (times, bytes)
}

fn report(what: &str, times: Vec<Duration>, bytes: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{what:<52} {:>10.1} {:>10.1} {:>10}", ms(times[times.len() / 2]), ms(times[0]), bytes / 1024);
}
