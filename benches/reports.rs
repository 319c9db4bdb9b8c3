//! Benchmark: issue 11's figures. Time and peak memory to compute a monthly bulletin (2026-11) and a quarter's
//! ranking (2026Q4) over 100 000 sites with about 1 000 000 site events, against the bare SQL aggregate in the
//! same run: one `count(*) … group by kind` over the month's events and one count of sites per town and
//! status, the least any report must do. Also the bulletin's PDF and XLSX, and each query of the bulletin on
//! its own, so a slow figure shows where it comes from.
//!
//! Prints, per part, the median and max of [`RUNS`] runs (the first run is included, so the max is a cold
//! run) and the growth of this process's peak RSS (VmHWM, reset before each part; the bulletin is measured
//! first, so its figure is also the fresh process's). PostgreSQL's side: `EXPLAIN (ANALYZE, BUFFERS, FORMAT
//! JSON)` of `period_figures`' SQL with literal instants, its sorts and hashes with their memory, what spilled
//! to temporary files, and the plan nodes that took the most time themselves.
//!
//! Run: `cargo bench --bench reports`. It uses `DATABASE_URL` when set, else starts the private cluster under
//! `target/bench-db` (as `roadledger db start --data-dir target/bench-db` does, and stops it at the end if it
//! started it). Either way it works in a database of its own, `reports_bench` (created, migrated). When that
//! holds fewer than 100 000 sites it generates the data, deterministically, in SQL (`generate_series` and
//! `hashint8extended`, no random state): 10 towns (rectangles near 120.5°E 31.85°N), 20 responsible units, and
//! 100 000 spots whose lifecycles start over 2026-01-01 … 2026-12-06 (opened → verify → dispatch with a unit
//! and deadline → accept → 1–6 evidence records → request_close_out → sometimes return and again → approve;
//! some extensions asked and decided, some county supervision, look-back passes and relapses with a restart),
//! each site stopping at a random stage or at 2026-12-06's end, times increasing per site; each site's status
//! is its last event's: 100 000 sites and 1 026 226 events. Generating them took 52 s on the 2-core machine
//! with other builds running (load about 6), then 2 s for `analyze` (the migrations before it are not counted).

mod common;

use common::{peak_rss_mib, reset_peak_rss};

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use roadledger::closeout::CjkFont;
use roadledger::db::reports::{self, Counted};
use roadledger::domain::report::{Period, PeriodKind};
use serde_json::Value;
use sqlx::PgPool;

const SITES: i64 = 100_000;
const RUNS: usize = 5;
/// Runs of each of the bulletin's queries on its own.
const PART_RUNS: usize = 3;
const DATABASE: &str = "reports_bench";

#[tokio::main]
async fn main() {
    let (server, cluster) = common::bench_server(DATABASE).await;
    let pool = roadledger::db::connect(server.clone().database(DATABASE)).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    seed(&pool).await;

    // 08:00 county time on 2026-12-07: November is over, the quarter is not (counted as of now).
    let now: DateTime<Utc> = "2026-12-07T00:00:00Z".parse().unwrap();
    let month = Period::parse(PeriodKind::Month, "2026-11").unwrap();
    let quarter = Period::parse(PeriodKind::Quarter, "2026Q4").unwrap();
    let (sites, events, in_month): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from site), (select count(*) from site_event),
             (select count(*) from site_event where at >= $1 and at < $2)",
    )
    .bind(month.starts_at())
    .bind(month.ends_at())
    .fetch_one(&pool)
    .await
    .unwrap();
    let settings: Vec<(String, String)> = sqlx::query_as(
        "select name, current_setting(name) from pg_settings
         where name in ('work_mem', 'shared_buffers', 'jit', 'max_parallel_workers_per_gather') order by name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    println!("{sites} sites, {events} events ({in_month} in 2026-11); now = {now}; {RUNS} runs each");
    println!("PostgreSQL: {}", settings.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    println!("{:<58} {:>10} {:>10} {:>14}", "part", "median ms", "max ms", "peak RSS +MiB");

    // The bulletin first, in a fresh process.
    let pool = &pool;
    let fresh = peak_rss_mib();
    let bulletin = measure("monthly bulletin 2026-11: db::reports::report", RUNS, move || async move {
        reports::report(pool, month, Counted::default(), now).await.unwrap()
    })
    .await;
    println!("  (process peak RSS before the bulletin {fresh:.1} MiB, after {:.1} MiB)", peak_rss_mib());
    measure("quarterly ranking 2026Q4: db::reports::ranking", RUNS, move || async move {
        reports::ranking(pool, quarter, &Default::default(), &Default::default(), now).await.unwrap()
    })
    .await;
    let (from, until) = (month.starts_at(), month.ends_at());
    measure("baseline: month's events by kind (one group by)", RUNS, move || async move {
        sqlx::query_as::<_, (String, i64)>(
            "select kind, count(*) from site_event where at >= $1 and at < $2 group by kind",
        )
        .bind(from)
        .bind(until)
        .fetch_all(pool)
        .await
        .unwrap()
    })
    .await;
    measure("baseline: sites by town and status (one group by)", RUNS, move || async move {
        sqlx::query_as::<_, (Option<i32>, String, i64)>("select town_id, status, count(*) from site group by 1, 2")
            .fetch_all(pool)
            .await
            .unwrap()
    })
    .await;

    let font = CjkFont::shared(None).expect("a Chinese font: install the Debian package fonts-noto-cjk");
    let b = &bulletin;
    let pdf = measure("bulletin PDF: reports::pdf::report_pdf (font loaded)", RUNS, move || async move {
        roadledger::reports::pdf::report_pdf(b, font).unwrap()
    })
    .await;
    let xlsx = measure("bulletin XLSX: reports::xlsx::report_xlsx", RUNS, move || async move {
        roadledger::reports::xlsx::report_xlsx(b).unwrap()
    })
    .await;
    println!("  (PDF {} bytes, XLSX {} bytes)", pdf.len(), xlsx.len());

    // The bulletin's queries one by one (what `report` runs, in its order).
    let as_of = month.as_of(now);
    let previous = month.previous();
    let county = Counted::default();
    // Each in the read-only transaction `report` runs them in (JIT off, sorts in memory, custom plans).
    measure("  its period_figures (2026-11)", PART_RUNS, move || async move {
        let mut tx = reports::reading(pool).await.unwrap();
        reports::period_figures(&mut tx, month.starts_at(), as_of, county).await.unwrap()
    })
    .await;
    measure("  its period_figures (2026-10, the previous)", PART_RUNS, move || async move {
        let mut tx = reports::reading(pool).await.unwrap();
        reports::period_figures(&mut tx, previous.starts_at(), previous.as_of(now), county).await.unwrap()
    })
    .await;
    let worst = bulletin.worst_overdue.iter().map(|w| w.id).collect::<Vec<_>>();
    let worst = &worst;
    measure("  its worst_overdue (the ten sites' facts)", PART_RUNS, move || async move {
        let mut tx = reports::reading(pool).await.unwrap();
        reports::worst_overdue(&mut tx, month.starts_at(), as_of, worst).await.unwrap()
    })
    .await;
    measure("  its trend (8 months)", PART_RUNS, move || async move {
        let mut tx = reports::reading(pool).await.unwrap();
        reports::trend(&mut tx, month, as_of, county).await.unwrap()
    })
    .await;
    measure("  its inputs_sha256", PART_RUNS, move || async move {
        let mut tx = reports::reading(pool).await.unwrap();
        reports::inputs_sha256(&mut tx, as_of).await.unwrap()
    })
    .await;
    println!("process peak RSS after all parts: {:.1} MiB", peak_rss_mib());

    explain_figures(pool, month.starts_at(), as_of).await;

    pool.close().await;
    if let Some(pg) = cluster.filter(|pg| pg.started_here) {
        pg.stop().unwrap();
    }
}

/// Creates [`DATABASE`] on the server unless it exists.
/// Runs `f` `runs` times; prints the median and max time and the growth of the peak RSS over all runs;
/// returns the last run's result (each result is dropped before the next run starts).
async fn measure<T, F, Fut>(what: &str, runs: usize, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let base = reset_peak_rss();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let start = Instant::now();
        let out = std::hint::black_box(f().await);
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<58} {:>10.1} {:>10.1} {:>14.1}",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        peak_rss_mib() - base
    );
    last.expect("at least one run")
}

/// `db::reports::period_figures`' statement, with the county's scope and the instants written in.
const FIGURES_SQL: &str = "select grouping(f.town_id, f.status), f.town_id, f.status, count(*),
        count(*) filter (where f.found), coalesce(sum(f.verified), 0), coalesce(sum(f.dispatched), 0),
        coalesce(sum(f.closed), 0), coalesce(sum(f.closed_on_time), 0),
        count(*) filter (where f.overdue), count(*) filter (where f.open),
        coalesce(sum(f.returned), 0), coalesce(sum(f.look_backs), 0), coalesce(sum(f.relapsed), 0),
        coalesce(sum(f.extensions_requested), 0), coalesce(sum(f.extensions_approved), 0),
        coalesce(sum(f.supervision_listed), 0), coalesce(sum(f.supervision_lifted), 0),
        count(*) filter (where f.supervision_open),
        percentile_cont(0.5) within group (order by f.days_report_to_dispatch),
        percentile_cont(0.5) within group (order by f.days_dispatch_to_accept),
        percentile_cont(0.5) within group (order by f.days_dispatch_to_close)
    from report_site_facts('START', 'AS_OF') f
    where (null::int is null or f.town_id = null::int) and (null::int is null or f.unit_id = null::int)
    group by grouping sets ((f.town_id), (), (f.status))";

/// One node of a JSON plan, with what it says about memory and time.
struct Node {
    label: String,
    /// Inclusive time over all loops, ms.
    total_ms: f64,
    /// Its own time: inclusive minus its children's, ms.
    self_ms: f64,
    memory: Option<String>,
}

fn walk(plan: &Value, out: &mut Vec<Node>) -> f64 {
    let num = |k: &str| plan.get(k).and_then(Value::as_f64);
    let text = |k: &str| plan.get(k).and_then(Value::as_str).unwrap_or("");
    let total_ms = num("Actual Total Time").unwrap_or(0.0) * num("Actual Loops").unwrap_or(1.0);
    let children: f64 =
        plan.get("Plans").and_then(Value::as_array).map_or(0.0, |ps| ps.iter().map(|p| walk(p, out)).sum());
    let mut memory = Vec::new();
    if let Some(kb) = num("Sort Space Used") {
        memory.push(format!("sort {} {kb} kB ({})", text("Sort Space Type"), text("Sort Method")));
    }
    if let Some(kb) = num("Peak Memory Usage").filter(|_| text("Node Type") == "Hash") {
        memory.push(format!("hash peak {kb} kB, batches {}", num("Hash Batches").unwrap_or(1.0)));
    }
    if let Some(b) = num("HashAgg Batches") {
        memory.push(format!(
            "hashagg batches {b}, peak {} kB, disk {} kB",
            num("Peak Memory Usage").unwrap_or(0.0),
            num("Disk Usage").unwrap_or(0.0)
        ));
    }
    let mut label = text("Node Type").to_string();
    if let Some(strategy) = plan.get("Strategy").and_then(Value::as_str) {
        label.push_str(&format!(" ({strategy})"));
    }
    for key in ["Relation Name", "Index Name", "CTE Name", "Subplan Name"] {
        if let Some(name) = plan.get(key).and_then(Value::as_str) {
            label.push_str(&format!(" {name}"));
        }
    }
    if let Some(loops) = num("Actual Loops").filter(|&l| l > 1.0) {
        label.push_str(&format!(" ×{loops}"));
    }
    out.push(Node {
        label,
        total_ms,
        self_ms: (total_ms - children).max(0.0),
        memory: Some(memory.join("; ")).filter(|m| !m.is_empty()),
    });
    total_ms
}

/// EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the figures statement for the month: its memory and time.
async fn explain_figures(pool: &PgPool, start: DateTime<Utc>, as_of: DateTime<Utc>) {
    let sql = FIGURES_SQL.replace("START", &start.to_rfc3339()).replace("AS_OF", &as_of.to_rfc3339());
    let explained: Value =
        sqlx::query_scalar(&format!("explain (analyze, buffers, format json) {sql}")).fetch_one(pool).await.unwrap();
    let top = &explained[0];
    let plan = &top["Plan"];
    let mut nodes = Vec::new();
    walk(plan, &mut nodes);
    let blocks = |k: &str| plan.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    println!(
        "\nEXPLAIN ANALYZE of period_figures (2026-11, county): planning {:.1} ms, execution {:.1} ms, JIT {:.1} ms",
        top["Planning Time"].as_f64().unwrap_or(0.0),
        top["Execution Time"].as_f64().unwrap_or(0.0),
        top["JIT"]["Timing"]["Total"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  buffers: shared hit {} read {}; temp read {} written {} blocks ({:.1} MiB written to temporary files){}",
        blocks("Shared Hit Blocks"),
        blocks("Shared Read Blocks"),
        blocks("Temp Read Blocks"),
        blocks("Temp Written Blocks"),
        blocks("Temp Written Blocks") * 8.0 / 1024.0,
        if blocks("Temp Written Blocks") > 0.0 { ": it spilled to disk" } else { ": nothing spilled" }
    );
    println!("  memory of each sort and hash:");
    for node in nodes.iter().filter(|n| n.memory.is_some()) {
        println!("    {:<48} {}", node.label, node.memory.as_deref().unwrap_or(""));
    }
    nodes.sort_by(|a, b| b.self_ms.total_cmp(&a.self_ms));
    println!("  the nodes that took the most time themselves (ms, own / with children):");
    for node in nodes.iter().take(6) {
        println!("    {:<48} {:>9.1} {:>9.1}", node.label, node.self_ms, node.total_ms);
    }
}

/// Generates the towns, units, sites and events when the database has fewer than [`SITES`] sites: see the
/// module's comment. One transaction; the plan and steps are temporary tables dropped at commit.
async fn seed(pool: &PgPool) {
    let have: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(pool).await.unwrap();
    if have >= SITES {
        return;
    }
    let start = Instant::now();
    let mut tx = pool.begin().await.unwrap();
    for sql in SEED {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let generated = start.elapsed();
    sqlx::query("analyze").execute(pool).await.unwrap();
    println!(
        "generated {SITES} sites and their events in {:.1} s, analyze {:.1} s",
        generated.as_secs_f64(),
        (start.elapsed() - generated).as_secs_f64()
    );
}

const SEED: &[&str] = &[
    // A uniform number in [0, 1) from a site's number and a salt: the same on every run and server.
    "create function pg_temp.r(i bigint, salt bigint) returns double precision language sql immutable
         as $$ select (hashint8extended(i, salt) & 2147483647)::float8 / 2147483648 $$",
    "insert into town (admin_code, name, boundary)
     select '3205829' || lpad(t::text, 2, '0'), '基准镇' || t,
         st_multi(st_makeenvelope(120.40 + (t % 5) * 0.04, 31.80 + (t / 5) * 0.05,
                                  120.44 + (t % 5) * 0.04, 31.85 + (t / 5) * 0.05, 4326))
     from generate_series(0, 9) t",
    "insert into organisation (name, kind)
     select '基准养护单位' || lpad(u::text, 2, '0'), 'responsible_unit' from generate_series(1, 20) u",
    // What each site will go through: its town, unit, place, when it is opened, its options, where it stops.
    "create temp table bench_plan on commit drop as
     select i, md5('reports-bench-site-' || i)::uuid as id,
         (select id from town where admin_code = '3205829' || lpad((i % 10)::text, 2, '0')) as town_id,
         (select id from organisation where name = '基准养护单位' || lpad((1 + i % 20)::text, 2, '0')) as unit_id,
         120.40 + (i % 10 % 5) * 0.04 + 0.0005 + pg_temp.r(i, 1) * 0.039 as x,
         31.80 + (i % 10 / 5) * 0.05 + 0.0005 + pg_temp.r(i, 2) * 0.049 as y,
         timestamptz '2026-01-01 00:00+08' + pg_temp.r(i, 3) * interval '340 days' as t0,
         1 + floor(pg_temp.r(i, 4) * 6)::int as evidence,
         pg_temp.r(i, 5) < 0.06 as supervised,
         pg_temp.r(i, 6) < 0.2 as extension,
         pg_temp.r(i, 7) < 0.7 as extension_approved,
         pg_temp.r(i, 8) < 0.35 as returned,
         case when pg_temp.r(i, 9) < 0.6 then 'pass' when pg_temp.r(i, 9) < 0.75 then 'relapse' end as look_back,
         case when pg_temp.r(i, 10) < 0.75 then 99 else 1 + floor(pg_temp.r(i, 11) * 12)::int end as stop
     from generate_series(1, 100000) i",
    // Its moves in order, each some hours after the one before; cut at its stop and at 2026-12-06's end.
    "create temp table bench_steps on commit drop as
     select i, n, kind, to_status, at,
         case kind
             when 'dispatch' then jsonb_build_object('responsible_unit_id', unit_id,
                 'deadline', (at at time zone 'Asia/Shanghai')::date + 7 + floor(pg_temp.r(i, 20) * 53)::int)
             when 'decide_extension' then jsonb_build_object('approved', extension_approved,
                 'new_deadline', (at at time zone 'Asia/Shanghai')::date + 20 + floor(pg_temp.r(i, 21) * 20)::int)
             when 'look_back_relapse' then jsonb_build_object('deadline',
                 (at at time zone 'Asia/Shanghai')::date + 15 + floor(pg_temp.r(i, 22) * 30)::int)
             when 'supervise' then '{\"level\": \"county\"}'::jsonb
             else '{}'::jsonb end as data
     from (
         select p.i, p.unit_id, p.extension_approved, p.stop, s.n, s.kind, s.to_status,
             p.t0 + sum(s.hours) over (partition by p.i order by s.n) * interval '1 hour' as at,
             row_number() over (partition by p.i order by s.n) as k
         from bench_plan p
         cross join lateral (values
             (1, 'opened', 'reported', 0.0, true),
             (2, 'verify', 'verified', 1 + 70 * pg_temp.r(p.i, 102), true),
             (3, 'dispatch', 'assigned', 2 + 100 * pg_temp.r(p.i, 103), true),
             (4, 'accept', 'in_progress', 1 + 70 * pg_temp.r(p.i, 104), true),
             (5, 'supervise', 'in_progress', 24 + 200 * pg_temp.r(p.i, 105), p.supervised),
             (6, 'evidence_submitted', null, 24 + 300 * pg_temp.r(p.i, 106), true),
             (7, 'evidence_submitted', null, 1 + 48 * pg_temp.r(p.i, 107), p.evidence >= 2),
             (8, 'request_extension', 'in_progress', 24 + 150 * pg_temp.r(p.i, 108), p.extension),
             (9, 'decide_extension', 'in_progress', 2 + 48 * pg_temp.r(p.i, 109), p.extension),
             (10, 'evidence_submitted', null, 24 + 300 * pg_temp.r(p.i, 110), p.evidence >= 3),
             (11, 'evidence_submitted', null, 1 + 48 * pg_temp.r(p.i, 111), p.evidence >= 4),
             (12, 'evidence_submitted', null, 1 + 24 * pg_temp.r(p.i, 112), p.evidence >= 5),
             (13, 'evidence_submitted', null, 1 + 24 * pg_temp.r(p.i, 123), p.evidence >= 6),
             (14, 'request_close_out', 'pending_review', 1 + 48 * pg_temp.r(p.i, 113), true),
             (15, 'return', 'in_progress', 4 + 96 * pg_temp.r(p.i, 114), p.returned),
             (16, 'evidence_submitted', null, 24 + 150 * pg_temp.r(p.i, 115), p.returned),
             (17, 'request_close_out', 'pending_review', 1 + 24 * pg_temp.r(p.i, 116), p.returned),
             (18, 'approve', 'closed', 4 + 96 * pg_temp.r(p.i, 117), true),
             (19, 'look_back_pass', 'closed', 500 + 1000 * pg_temp.r(p.i, 118), p.look_back = 'pass'),
             (20, 'look_back_relapse', 'reopened', 500 + 1000 * pg_temp.r(p.i, 119), p.look_back = 'relapse'),
             (21, 'start', 'in_progress', 2 + 70 * pg_temp.r(p.i, 120), p.look_back = 'relapse'),
             (22, 'evidence_submitted', null, 24 + 300 * pg_temp.r(p.i, 121), p.look_back = 'relapse'),
             (23, 'request_close_out', 'pending_review', 1 + 48 * pg_temp.r(p.i, 122), p.look_back = 'relapse'),
             (24, 'approve', 'closed', 4 + 96 * pg_temp.r(p.i, 124), p.look_back = 'relapse')
         ) s(n, kind, to_status, hours, included)
         where s.included
     ) x
     where k <= stop and at < timestamptz '2026-12-07 00:00+08'",
    // Each site with its last event's status; a dispatched one with its unit.
    "insert into site (id, kind, geom, status, template_code, town_id, responsible_unit_id, first_observed_at,
                       last_observed_at, observation_count)
     select p.id, 'spot', st_point(p.x, p.y, 4326), last.to_status, 'three_ones', p.town_id,
         case when last.to_status not in ('reported', 'verified') then p.unit_id end, p.t0, p.t0, 1
     from bench_plan p
     join (select distinct on (i) i, to_status from bench_steps where to_status is not null order by i, n desc) last
         using (i)
     order by p.i",
    // The events in time order, as they would have been written.
    "insert into site_event (site_id, actor, kind, to_status, data, at)
     select p.id, '基准测试', s.kind, s.to_status, s.data, s.at
     from bench_steps s join bench_plan p using (i)
     order by s.at, s.i, s.n",
];
