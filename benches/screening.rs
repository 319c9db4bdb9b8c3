//! Benchmark: issue 12's screening figures. Time and peak memory of one screening run of each method (sliding
//! window, junction, DBSCAN) over 100 000 crashes on a county-sized road network, against the bare SQL of the
//! method's core in the same run:
//! - windows: placing every crash on its nearest road within 30 m and reading its measure there (the
//!   `st_dwithin` + `st_interpolatepoint` the run does before sliding the windows);
//! - junctions: the road crossings (`st_intersection` of road pairs) and the crashes within 50 m of one;
//! - DBSCAN: `st_clusterdbscan` alone on the crashes in the metric zone.
//!
//! Prints, per part, the median and max of [`RUNS`] runs and the peak RSS growth of this process (VmHWM, reset
//! before each part) and of the PostgreSQL backend that ran it (its VmHWM, reset the same way; the pool has
//! one connection so the backend is known).
//!
//! Run: `cargo bench --bench screening`. It uses `DATABASE_URL` when set, else starts the private cluster under
//! `target/bench-db`. It works in a database of its own, `screening_bench` (created, migrated). When that holds
//! fewer than 100 000 crashes it generates them deterministically in SQL (`hashint8extended`, no random
//! state): a county of 40 km × 40 km near 120.5° E 31.9° N crossed by 20 east–west and 20 north–south roads
//! (1 600 km, 400 crossings); 80 % of the crashes along the roads (within 5 m), 15 % within 40 m of 300 of the
//! crossings, 5 % anywhere; three years of times, one in 40 fatal, one in three with injuries.

mod common;

use common::{peak_rss_mib, reset_peak_rss};

use std::future::Future;
use std::time::{Duration, Instant};

use roadledger::db::screening::{self, RunRequest};
use roadledger::domain::crash::ScreeningMethod;
use roadledger::domain::screening::{DataWindow, ScreeningDefaults};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

const CRASHES: i64 = 100_000;
const RUNS: usize = 3;
const DATABASE: &str = "screening_bench";

#[tokio::main]
async fn main() {
    let (server, cluster) = common::bench_server(DATABASE).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone().database(DATABASE))
        .await
        .expect("the bench database");
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    let have: i64 = sqlx::query_scalar("select count(*) from crash").fetch_one(&pool).await.unwrap();
    if have < CRASHES {
        let started = Instant::now();
        generate(&pool).await;
        println!("generated {CRASHES} crashes on 40 roads in {:.1} s", started.elapsed().as_secs_f64());
    }
    // Earlier runs of this benchmark are cleared so each run supersedes nothing and writes the same rows.
    sqlx::query("delete from candidate_crash").execute(&pool).await.unwrap();
    sqlx::query("delete from candidate").execute(&pool).await.unwrap();
    sqlx::query("delete from screening_run").execute(&pool).await.unwrap();
    sqlx::query("vacuum analyze").execute(&pool).await.unwrap();
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()").fetch_one(&pool).await.unwrap();

    let window = DataWindow::new(
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
        chrono::NaiveDate::from_ymd_opt(2027, 1, 1),
        chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        3,
    )
    .unwrap();
    let defaults = ScreeningDefaults::default();
    println!("{CRASHES} crashes, {RUNS} runs each (median / max; peak RSS growth of this process / of the backend)");
    for method in ScreeningMethod::ALL {
        let request = RunRequest { parameters: defaults.of(*method), window, run_by: "bench" };
        let id = measure(&format!("{method}: the run, stored"), backend, || async {
            screening::run(&pool, &request).await.expect("the run")
        })
        .await;
        let found: i32 = sqlx::query_scalar("select candidates from screening_run where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        println!("    {found} candidates");
        let bare = match method {
            ScreeningMethod::SlidingWindow => BARE_WINDOWS,
            ScreeningMethod::Junction => BARE_JUNCTIONS,
            ScreeningMethod::Dbscan => BARE_DBSCAN,
        };
        let n: i64 = measure(&format!("{method}: bare SQL of its core"), backend, || async {
            sqlx::query_scalar(bare).fetch_one(&pool).await.expect("the bare SQL")
        })
        .await;
        println!("    {n} rows");
    }
    pool.close().await;
    drop(cluster);
}

/// Each crash on its nearest road within 30 m, and its measure there.
const BARE_WINDOWS: &str = "
    select count(m) from (
        select st_interpolatepoint(st_geometryn(r.geom_m, 1), c.geom) as m
        from crash c
        cross join lateral (
            select r.geom_m from road r where st_dwithin(r.geom::geography, c.geom::geography, 30)
            order by r.geom::geography <-> c.geom::geography limit 1) r) x";

/// The crossings of road pairs and the crashes within 50 m of one (a box of 0.001° around each crossing, which
/// holds its 50 m circle at this latitude, finds the candidates through the crashes' index).
const BARE_JUNCTIONS: &str = "
    with nodes as (
        select (st_dump(st_intersection(a.geom, b.geom))).geom as g
        from road a join road b on a.id < b.id and st_intersects(a.geom, b.geom))
    select count(distinct c.id) from nodes n
    join crash c on c.geom && st_expand(n.g, 0.001) and st_dwithin(n.g::geography, c.geom::geography, 50)";

/// DBSCAN alone, ε 100 m and 3 points, in the zone of the county (CGCS2000 / 3° zone 40, EPSG:4548).
const BARE_DBSCAN: &str = "
    select count(distinct cid) from (
        select st_clusterdbscan(st_transform(geom, 4548), eps => 100, minpoints => 3) over () as cid from crash) x";

async fn generate(pool: &PgPool) {
    sqlx::query("delete from crash").execute(pool).await.unwrap();
    sqlx::query("delete from road").execute(pool).await.unwrap();
    // 20 east–west roads (X001–X020) every 2 km of latitude and 20 north–south (Y001–Y020) every 2 km of
    // longitude, each 40 km long, gently bent so crossings are not on a lattice of round numbers.
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom)
         select 'X' || lpad(n::text, 3, '0'), '320582', '东西' || n,
                st_setsrid(st_multi(st_makeline(array[
                    st_makepoint(120.30, 31.72 + n * 0.018),
                    st_makepoint(120.51, 31.72 + n * 0.018 + 0.003 * sin(n)),
                    st_makepoint(120.72, 31.72 + n * 0.018)])), 4326)
         from generate_series(1, 20) n
         union all
         select 'Y' || lpad(n::text, 3, '0'), '320582', '南北' || n,
                st_setsrid(st_multi(st_makeline(array[
                    st_makepoint(120.30 + n * 0.0205, 31.72),
                    st_makepoint(120.30 + n * 0.0205 + 0.003 * cos(n), 31.91),
                    st_makepoint(120.30 + n * 0.0205, 32.10)])), 4326)
         from generate_series(1, 20) n",
    )
    .execute(pool)
    .await
    .unwrap();
    // h(i, k): a deterministic number in [0, 1) per crash and purpose.
    sqlx::query(
        "create or replace function pg_temp.h(i bigint, k bigint) returns float8 language sql immutable as
         $$ select ((hashint8extended(i, k) & 2147483647)::float8 / 2147483648.0) $$",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "with roads as (select array_agg(id order by id) as ids from road),
         hot as (
             select array_agg(g order by st_x(g), st_y(g)) as pts from (
                 select (st_dump(st_intersection(a.geom, b.geom))).geom as g
                 from road a join road b on a.id < b.id and st_intersects(a.geom, b.geom)) x),
         placed as (
             select i,
                    case when pg_temp.h(i, 1) < 0.80 then
                             st_project(st_lineinterpolatepoint(
                                 st_geometryn((select geom from road where id = roads.ids[1 + (pg_temp.h(i, 2) * 40)::int % 40]), 1),
                                 pg_temp.h(i, 3))::geography, 5 * pg_temp.h(i, 4), 2 * pi() * pg_temp.h(i, 5))::geometry
                         when pg_temp.h(i, 1) < 0.95 then
                             st_project(hot.pts[1 + (pg_temp.h(i, 2) * 300)::int % 300]::geography,
                                        40 * pg_temp.h(i, 4), 2 * pi() * pg_temp.h(i, 5))::geometry
                         else st_setsrid(st_makepoint(120.30 + 0.42 * pg_temp.h(i, 2), 31.72 + 0.38 * pg_temp.h(i, 3)), 4326)
                    end as geom
             from generate_series(1, $1::bigint) i, roads, hot)
         insert into crash (source_key, occurred_at, geom, located_by, deaths, slight_injuries, crash_type)
         select 'no:BENCH' || i, timestamptz '2024-01-01 00:00+08' + (pg_temp.h(i, 6) * 1095 * 86400) * interval '1 second',
                st_setsrid(geom, 4326), 'coordinates',
                (pg_temp.h(i, 7) < 0.025)::int, (pg_temp.h(i, 8) < 0.33)::int,
                (array['rear_end', 'angle', 'head_on', 'sideswipe', 'single_vehicle', 'pedestrian', 'non_motor', 'other'])
                    [1 + (pg_temp.h(i, 9) * 8)::int % 8]
         from placed",
    )
    .bind(CRASHES)
    .execute(pool)
    .await
    .unwrap();
}

/// A PostgreSQL backend's memory: reset its peak (as for this process) and read it, MiB.
fn backend_reset(pid: i32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn backend_peak_mib(pid: i32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Runs `f` `RUNS` times; prints the median and max time and the growth of the peak RSS of this process and
/// of the backend; returns the last run's result.
async fn measure<T, F, Fut>(what: &str, backend: i32, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let base = reset_peak_rss();
    backend_reset(backend);
    let backend_base = backend_peak_mib(backend);
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = Some(f().await);
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what:<44} median {:>8.0} ms  max {:>8.0} ms  peak RSS +{:.1} MiB / backend +{:.1} MiB",
        ms(times[RUNS / 2]),
        ms(*times.last().unwrap()),
        peak_rss_mib() - base,
        backend_peak_mib(backend) - backend_base,
    );
    last.unwrap()
}
