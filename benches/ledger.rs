//! Benchmark: the ledger exports over 100 000 sites, through the real router with a city-wide API token,
//! against a baseline in the same run: the same SQL fetched and decoded by `db::ledger::export`, rows
//! discarded (what any export must pay before writing a byte). Reports time, time to the first body byte,
//! size and the growth of the process's peak RSS (VmHWM, reset before each measurement).
//!
//! Run: `DATABASE_URL=… cargo bench --bench ledger` on a scratch database. When it has fewer than 100 000
//! sites, synthetic ones are inserted first (one town, checklist items, lifecycle events per status).

mod common;

use common::{peak_rss_mib, reset_peak_rss};

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use roadledger::db::ledger::{self, LEDGER_ROWS_MAX};
use roadledger::db::sites::SiteFilter;
use roadledger::domain::auth::{Role, SiteScope};
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use tower::ServiceExt;

const SITES: i64 = 100_000;
const RUNS: usize = 5;

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("set DATABASE_URL (a scratch database) to run this benchmark");
        return;
    };
    let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    seed(&pool).await;
    seed_tickets(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let photos = PhotoStore::local(dir.path()).unwrap();
    let app = router(AppState { pool: pool.clone(), replica: None, photos, settings: Arc::new(Settings::default()) });
    let token = common::bench_token(&pool, Role::Leader).await;
    let (sites, events, items): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from site), (select count(*) from site_event), (select count(*) from site_checklist_item)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!("{sites} sites, {items} checklist items, {events} events; {RUNS} runs each after one warm-up");
    println!(
        "{:<46} {:>10} {:>10} {:>12} {:>10} {:>14}",
        "what", "median ms", "min ms", "1st byte ms", "MiB", "peak RSS +MiB"
    );

    let base = reset_peak_rss();
    let (times, firsts, bytes) = time(|| async {
        let everything =
            SiteFilter { scope: SiteScope { all: true, town_id: None, unit_id: None }, ..Default::default() };
        let start = Instant::now();
        let mut export = ledger::export(&pool, &everything, LEDGER_ROWS_MAX).await.unwrap();
        let mut first = None;
        let mut rows = 0;
        while let Some(row) = export.rows.recv().await {
            std::hint::black_box(row.unwrap());
            first.get_or_insert_with(|| start.elapsed());
            rows += 1;
        }
        assert_eq!(rows, export.row_count);
        (first.unwrap_or_default(), 0)
    })
    .await;
    report("baseline: db::ledger::export, rows discarded", &times, &firsts, bytes, peak_rss_mib() - base);

    for (what, uri) in [
        ("GET /api/v1/ledger.csv (streamed)", "/api/v1/ledger.csv"),
        ("GET /api/v1/ledger.xlsx (constant memory)", "/api/v1/ledger.xlsx"),
    ] {
        let base = reset_peak_rss();
        let (times, firsts, bytes) = time(|| async {
            let start = Instant::now();
            let request =
                Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let mut body = response.into_body();
            let mut first = None;
            let mut bytes = 0;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    first.get_or_insert_with(|| start.elapsed());
                    bytes += data.len();
                }
            }
            (first.unwrap_or_default(), bytes)
        })
        .await;
        report(what, &times, &firsts, bytes, peak_rss_mib() - base);
    }
    // The 热线工单号 column (issue 13): every site's accepted ticket numbers, read per site (a lateral over
    // `public_report`'s site index, as the checklist and events are read) and grouped once and hash-joined (as
    // `db::ledger` reads them), against the same sites read without them.
    for (what, sql) in [
        ("baseline: every site's code, no ticket column", "select sum(length(s.code))::int8 from site s"),
        ("热线工单号 read per site (lateral)", TICKETS_PER_SITE),
        ("热线工单号 grouped and joined (db::ledger)", TICKETS_GROUPED),
    ] {
        let (times, _, _) = time(|| async {
            // As the export runs it (`db::ledger::export` turns the JIT off).
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("set local jit = off").execute(&mut *tx).await.unwrap();
            let n: Option<i64> = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
            std::hint::black_box(n);
            (Duration::ZERO, 0)
        })
        .await;
        report(what, &times, &[Duration::ZERO], 0, 0.0);
    }
    println!("process peak RSS after all runs: {:.1} MiB", peak_rss_mib());
}

/// Every site's ticket numbers read per site, summed.
const TICKETS_PER_SITE: &str = "
    select sum(length(s.code) + coalesce(length(hr.ticket_nos), 0))::int8
    from site s
    cross join lateral (
        select string_agg(r.ticket_no, '、' order by r.ticket_no) as ticket_nos
        from public_report r
        where r.site_id = s.id and r.ticket_no is not null) hr";

/// Every site's ticket numbers as `db::ledger` reads them (its `TICKET_NOS`), summed.
const TICKETS_GROUPED: &str = "
    select sum(length(s.code) + coalesce(length(hr.ticket_nos), 0))::int8
    from site s
    left join (
        select r.site_id, string_agg(r.ticket_no, '、' order by r.ticket_no) as ticket_nos
        from public_report r
        where r.site_id is not null and r.ticket_no is not null
        group by r.site_id) hr on hr.site_id = s.id";

/// One accepted 12345 ticket for each site whose source is the hotline (a quarter of them), when there are
/// none yet: what the ledger's 热线工单号 column reads.
async fn seed_tickets(pool: &sqlx::PgPool) {
    let have: i64 = sqlx::query_scalar("select count(*) from public_report where ticket_no like 'BENCH-%'")
        .fetch_one(pool)
        .await
        .unwrap();
    if have > 0 {
        return;
    }
    let start = Instant::now();
    let n = sqlx::query(
        "insert into public_report (channel, tracking_token, category, description, geom, ticket_no, reported_at,
             status, decided_at, decided_by, site_id, entered_by)
         select 'hotline', md5(s.id::text), 'other', '基准测试工单',
             case when s.kind = 'section' then st_startpoint(s.geom) else s.geom end,
             'BENCH-' || s.code, now() - interval '20 days', 'accepted', now() - interval '19 days', '基准测试',
             s.id, '基准测试'
         from site s where s.source = 'hotline'",
    )
    .execute(pool)
    .await
    .unwrap()
    .rows_affected();
    sqlx::query("analyze public_report").execute(pool).await.unwrap();
    println!("seeded {n} accepted hotline tickets in {:.1} s", start.elapsed().as_secs_f64());
}

/// Inserts `SITES` synthetic sites when the database has fewer: one town covering them all, a responsible
/// unit, every status but `duplicate`, each kind, checklist items in every state, and the lifecycle events
/// each status implies.
async fn seed(pool: &sqlx::PgPool) {
    let have: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(pool).await.unwrap();
    if have >= SITES {
        return;
    }
    let start = Instant::now();
    let mut tx = pool.begin().await.unwrap();
    let statements = [
        "insert into town (admin_code, name, boundary)
         values ('320582199', '基准镇', st_multi(st_makeenvelope(120.2, 31.6, 121.0, 32.2, 4326)))
         on conflict do nothing",
        "insert into organisation (name, kind) values ('基准养护中心', 'responsible_unit') on conflict do nothing",
        "insert into site (kind, geom, town_id, route_code, stake_m, stake_text, end_stake_m, end_stake_text, status,
             template_code, hazard_types, hazard_level, source, responsible_unit_id, deadline, supervision_level,
             supervision_body, supervision_doc_no, first_observed_at, last_observed_at, observation_count,
             return_count)
         select k.kind,
             case when k.kind = 'section' then st_makeline(st_point(p.x, p.y, 4326), st_point(p.x + 0.0008, p.y, 4326))
                  else st_point(p.x, p.y, 4326) end,
             (select id from town where admin_code = '320582199'),
             'X' || (100 + i % 900), (i % 40000)::float8, 'K' || (i % 40000) / 1000 || '+' || lpad(((i % 40000) % 1000)::text, 3, '0'),
             case when k.kind = 'section' then (i % 40000 + 600)::float8 end,
             case when k.kind = 'section' then 'K' || (i % 40000 + 600) / 1000 || '+' || lpad(((i % 40000 + 600) % 1000)::text, 3, '0') end,
             st.status,
             case when k.kind = 'intersection' then 'five_must_haves' else 'three_ones' end,
             case i % 3 when 0 then array['missing_warning_sign', 'no_speed_control']
                 when 1 then array['sharp_curve', 'steep_grade'] else array['pavement_defect', 'ponding'] end,
             case when st.dispatched then (array['general', 'significant', 'major'])[i % 3 + 1] end,
             (array['patrol', 'citizen_photo', 'hotline', 'drone'])[i % 4 + 1],
             case when st.dispatched then (select id from organisation where name = '基准养护中心') end,
             case when st.dispatched then current_date + (i % 60 - 20) end,
             case when i % 50 = 0 then 'county' else 'none' end,
             case when i % 50 = 0 then '张家港市安委办' end,
             case when i % 50 = 0 then '张安委〔2026〕' || i || '号' end,
             now() - interval '90 days', now() - interval '10 days', 1, i % 7 / 6
         from generate_series(1, 100000) i
         cross join lateral (select 120.3 + (i % 600) * 0.001 as x, 31.7 + (i / 600) * 0.002 as y) p
         cross join lateral (select (array['intersection', 'section', 'spot'])[i % 3 + 1] as kind) k
         cross join lateral (
             select s as status, s not in ('reported', 'verified', 'rejected', 'cancelled') as dispatched
             from (select (array['reported', 'verified', 'assigned', 'in_progress', 'pending_review', 'closed',
                                 'closed', 'rejected', 'cancelled', 'reopened'])[i % 10 + 1] as s) x) st",
        "insert into site_checklist_item (site_id, template_code, item_code, state)
         select s.id, ti.template_code, ti.code,
             (array['missing', 'damaged', 'installed', 'verified'])[abs(hashtext(s.code || ti.code)) % 4 + 1]
         from site s join checklist_template_item ti on ti.template_code = s.template_code
         where s.town_id = (select id from town where admin_code = '320582199')",
        "insert into site_event (site_id, actor, kind, at)
         select s.id, '基准测试', e.kind, s.first_observed_at + e.n * interval '3 days'
         from site s
         cross join lateral unnest(case s.status
             when 'reported' then array['opened']
             when 'verified' then array['opened', 'verify']
             when 'rejected' then array['opened', 'reject']
             when 'cancelled' then array['opened', 'cancel']
             when 'assigned' then array['opened', 'verify', 'dispatch']
             when 'in_progress' then array['opened', 'verify', 'dispatch', 'accept', 'evidence_submitted']
             when 'pending_review' then array['opened', 'verify', 'dispatch', 'accept', 'evidence_submitted',
                 'evidence_submitted', 'request_close_out']
             when 'closed' then array['opened', 'observed', 'verify', 'dispatch', 'accept', 'evidence_submitted',
                 'evidence_submitted', 'evidence_submitted', 'request_close_out', 'approve']
             else array['opened', 'verify', 'dispatch', 'accept', 'request_close_out', 'approve',
                 'look_back_relapse'] end) with ordinality e(kind, n)
         where s.town_id = (select id from town where admin_code = '320582199')",
    ];
    for sql in statements {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("analyze").execute(pool).await.unwrap();
    println!("seeded {SITES} sites in {:.1} s", start.elapsed().as_secs_f64());
}

/// Runs `f` once to warm the caches, then `RUNS` times: sorted times, sorted first-byte times, bytes.
async fn time<F, Fut>(mut f: F) -> (Vec<Duration>, Vec<Duration>, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (Duration, usize)>,
{
    let (_, mut bytes) = f().await;
    let mut times = Vec::with_capacity(RUNS);
    let mut firsts = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let (first, b) = f().await;
        times.push(start.elapsed());
        firsts.push(first);
        bytes = b;
    }
    times.sort();
    firsts.sort();
    (times, firsts, bytes)
}

fn report(what: &str, times: &[Duration], firsts: &[Duration], bytes: usize, rss_mib: f64) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<46} {:>10.0} {:>10.0} {:>12.0} {:>10.1} {:>14.1}",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(firsts[firsts.len() / 2]),
        bytes as f64 / (1024.0 * 1024.0),
        rss_mib
    );
}
