//! Benchmark: the crash time patterns (issue 12) over 100 000 crashes in ten years, the longest window the API
//! accepts. Times `GET /api/v1/crash-patterns` for the whole county over the ten years (the query, the
//! periods' exposure over 3 652 days, the four charts as SVG and the JSON) and with a vehicle filter, and its
//! two halves on their own (`db::crash_patterns::tallies`, `domain::crash_patterns::patterns`), against the bare
//! SQL floor in the same run: one `count(*)` of the window's crashes.
//!
//! Run: `DATABASE_URL=… cargo bench --bench crash_patterns` (a server; the bench works in a database of its
//! own, `crash_patterns_bench`, created and migrated). When that holds fewer than 100 000 crashes it generates
//! them deterministically in SQL (`generate_series`, `hashint8extended`): times spread over 2016-12-07 …
//! 2026-12-06 county time, casualties, crash types, vehicle types and light drawn from the hashes.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::NaiveDate;
use roadledger::db::crash_patterns::{CrashFilter, tallies};
use roadledger::domain::auth::Role;
use roadledger::domain::crash_patterns::{Calendar, PeriodRules, Window, patterns};
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};
use tower::ServiceExt;

const CRASHES: i64 = 100_000;
const RUNS: usize = 7;
const DATABASE: &str = "crash_patterns_bench";

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("set DATABASE_URL to a PostgreSQL server (the bench makes its own database there)");
        return;
    };
    let server: PgConnectOptions = url.parse().expect("DATABASE_URL");
    let mut conn = sqlx::PgConnection::connect_with(&server).await.expect("the PostgreSQL server");
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(DATABASE)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if !exists {
        sqlx::query(&format!("create database {DATABASE}")).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let pool = roadledger::db::connect(server.database(DATABASE)).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    seed(&pool).await;

    let from = NaiveDate::from_ymd_opt(2016, 12, 7).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let window = Window::new(from, to).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = router(AppState {
        pool: pool.clone(),
        replica: None,
        photos: PhotoStore::local(dir.path()).unwrap(),
        settings: Arc::new(Settings::default()),
    });
    let token = common::bench_token(&pool, Role::Dispatcher).await;
    println!("{CRASHES} crashes, window {from} … {to} ({} days), {RUNS} runs each (the first counted)", window.days);
    println!("{:<66} {:>10} {:>10}", "what", "median ms", "max ms");

    measure("baseline: count(*) of the window's crashes", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from crash where occurred_at >= $1::date::timestamp at time zone 'Asia/Shanghai'
               and occurred_at < ($2::date + 1)::timestamp at time zone 'Asia/Shanghai'",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, CRASHES);
    })
    .await;
    let grouped = measure("db::crash_patterns::tallies (per county day; per hour and light)", || async {
        tallies(&pool, window, &CrashFilter::default()).await.unwrap()
    })
    .await;
    let calendar = Calendar::new(roadledger::db::crash_patterns::calendar(&pool, from, to).await.unwrap());
    let rules = PeriodRules::default();
    let rows = grouped.days.len() + grouped.hours.len();
    measure(&format!("domain::crash_patterns::patterns ({rows} rows)"), || async {
        let p = patterns(&grouped, window, &calendar, &rules);
        assert_eq!(p.totals.crashes, CRASHES);
    })
    .await;
    for (what, query) in [
        ("GET /api/v1/crash-patterns, county, ten years", "from=2016-12-07&to=2026-12-06"),
        ("GET /api/v1/crash-patterns, ten years, vehicle=e_bike", "from=2016-12-07&to=2026-12-06&vehicle=e_bike"),
    ] {
        measure(what, || async {
            let request = Request::get(format!("/api/v1/crash-patterns?{query}"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().len()
        })
        .await;
    }
}

/// 100 000 crashes over ten years, the same ones on every run.
async fn seed(pool: &PgPool) {
    let have: i64 = sqlx::query_scalar("select count(*) from crash").fetch_one(pool).await.unwrap();
    if have >= CRASHES {
        return;
    }
    let started = Instant::now();
    sqlx::query("truncate crash cascade").execute(pool).await.unwrap();
    sqlx::query(
        "insert into crash (source_key, occurred_at, geom, located_by, deaths, serious_injuries, slight_injuries,
                            crash_type, vehicle_types, weather, light)
         select 'no:B' || i,
                timestamptz '2016-12-07 00:00+08' + (abs(hashint8extended(i, 1)) % (3652 * 86400)) * interval '1 second',
                st_setsrid(st_makepoint(120.4 + (abs(hashint8extended(i, 2)) % 3000) / 10000.0,
                                        31.8 + (abs(hashint8extended(i, 3)) % 2000) / 10000.0), 4326),
                'coordinates',
                (abs(hashint8extended(i, 4)) % 20 = 0)::int,
                (abs(hashint8extended(i, 5)) % 5 = 0)::int,
                (abs(hashint8extended(i, 6)) % 3)::int,
                (array['rear_end', 'angle', 'head_on', 'sideswipe', 'single_vehicle', 'pedestrian', 'non_motor',
                       'other'])[1 + abs(hashint8extended(i, 7)) % 8],
                array[(array['e_bike', 'car', 'truck', 'tricycle', 'farm_vehicle', 'minivan'])
                      [1 + abs(hashint8extended(i, 8)) % 6]],
                'clear',
                (array['daylight', 'dawn_dusk', 'dark_lit', 'dark_unlit', null])[1 + abs(hashint8extended(i, 9)) % 5]
         from generate_series(1, $1) as i",
    )
    .bind(CRASHES)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze crash").execute(pool).await.unwrap();
    println!("generated {CRASHES} crashes in {:.1} s", started.elapsed().as_secs_f64());
}

/// Runs `f` [`RUNS`] times and prints the median and max; returns the last result.
async fn measure<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = Some(f().await);
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{what:<66} {:>10.1} {:>10.1}", ms(times[RUNS / 2]), ms(times[RUNS - 1]));
    last.expect("at least one run")
}
