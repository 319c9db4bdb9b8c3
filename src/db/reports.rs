//! The figures of reports and rankings (`domain::report`), counted by PostgreSQL from site events as of an
//! instant (`report_site_facts`, migration 0011), and the drafts and publications that store them.
//!
//! A report reads the facts twice (the period's figures, with its worst overdue sites, and the previous
//! period's), plus one pass over the status changes for its trend, in one read-only transaction: one snapshot
//! for every part, JIT off (it costs more than it saves on these one-off aggregates), sorts and hashes kept in
//! memory, no parallel workers, and custom plans (a generic plan cannot see how few rows a period selects). Measured in
//! docs/benchmarks.md (`cargo bench --bench reports`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::report::{
    Figures, OverdueSite, Period, Ranking, RankingBands, RankingWeights, Report, ReportKind, ReportScope, StatusCount,
    TREND_PERIODS, TownFigures, TownInput, TrendPoint, WORST_OVERDUE, rank, to_tenth_of_a_day,
};

/// Whose sites a report counts, as ids: `None` for the whole county.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub town_id: Option<i32>,
    pub unit_id: Option<i32>,
}

/// One group of the figures query: a town, the county total, or a status.
struct FigureRow {
    /// 0: a town's row (its id, or null for the sites in no town); 1: the total; 2: a status's count.
    grouping: i32,
    town_id: Option<i32>,
    status: Option<String>,
    sites: i64,
    found: i64,
    verified: i64,
    dispatched: i64,
    closed: i64,
    closed_on_time: i64,
    overdue: i64,
    open: i64,
    returned: i64,
    look_backs: i64,
    relapsed: i64,
    extensions_requested: i64,
    extensions_approved: i64,
    supervision_listed: i64,
    supervision_lifted: i64,
    supervision_open: i64,
    report_to_dispatch: Option<f64>,
    dispatch_to_accept: Option<f64>,
    dispatch_to_close: Option<f64>,
    /// The group's longest overdue sites, most days first (read for the total).
    worst: Vec<Uuid>,
}

impl FigureRow {
    fn figures(&self) -> Figures {
        // PostgreSQL's `percentile_cont` gives the median; reports print it to a tenth of a day.
        let median = |m: Option<f64>| m.map(to_tenth_of_a_day);
        Figures {
            found: self.found,
            verified: self.verified,
            dispatched: self.dispatched,
            closed: self.closed,
            closed_on_time: self.closed_on_time,
            overdue: self.overdue,
            open: self.open,
            returned: self.returned,
            look_backs: self.look_backs,
            relapsed: self.relapsed,
            extensions_requested: self.extensions_requested,
            extensions_approved: self.extensions_approved,
            supervision_listed: self.supervision_listed,
            supervision_lifted: self.supervision_lifted,
            supervision_open: self.supervision_open,
            median_days_report_to_dispatch: median(self.report_to_dispatch),
            median_days_dispatch_to_accept: median(self.dispatch_to_accept),
            median_days_dispatch_to_close: median(self.dispatch_to_close),
        }
    }
}

/// The figures of one period: per town, in total, and sites per status at its end.
#[derive(Debug, Clone, Default)]
pub struct PeriodFigures {
    pub total: Figures,
    /// Keyed by town id (`None`: in no town).
    pub towns: Vec<(Option<i32>, Figures)>,
    pub statuses: Vec<StatusCount>,
    /// The longest overdue sites at the instant, most days first (at most [`WORST_OVERDUE`]).
    pub worst_overdue: Vec<Uuid>,
}

impl PeriodFigures {
    pub fn town(&self, id: Option<i32>) -> Figures {
        self.towns.iter().find(|(t, _)| *t == id).map(|(_, f)| f.clone()).unwrap_or_default()
    }
}

/// Counts one period's figures as of `as_of` (one pass over the events before it).
pub async fn period_figures(
    conn: &mut PgConnection,
    start: DateTime<Utc>,
    as_of: DateTime<Utc>,
    counted: Counted,
) -> sqlx::Result<PeriodFigures> {
    let rows = sqlx::query_as!(
        FigureRow,
        r#"select grouping(f.town_id, f.status) as "grouping!", f.town_id, f.status,
               count(*) as "sites!",
               count(*) filter (where f.found) as "found!",
               coalesce(sum(f.verified), 0) as "verified!", coalesce(sum(f.dispatched), 0) as "dispatched!",
               coalesce(sum(f.closed), 0) as "closed!", coalesce(sum(f.closed_on_time), 0) as "closed_on_time!",
               count(*) filter (where f.overdue) as "overdue!", count(*) filter (where f.open) as "open!",
               coalesce(sum(f.returned), 0) as "returned!", coalesce(sum(f.look_backs), 0) as "look_backs!",
               coalesce(sum(f.relapsed), 0) as "relapsed!",
               coalesce(sum(f.extensions_requested), 0) as "extensions_requested!",
               coalesce(sum(f.extensions_approved), 0) as "extensions_approved!",
               coalesce(sum(f.supervision_listed), 0) as "supervision_listed!",
               coalesce(sum(f.supervision_lifted), 0) as "supervision_lifted!",
               count(*) filter (where f.supervision_open) as "supervision_open!",
               percentile_cont(0.5) within group (order by f.days_report_to_dispatch) as report_to_dispatch,
               percentile_cont(0.5) within group (order by f.days_dispatch_to_accept) as dispatch_to_accept,
               percentile_cont(0.5) within group (order by f.days_dispatch_to_close) as dispatch_to_close,
               coalesce((array_agg(f.site_id order by f.deadline, f.site_id) filter (where f.overdue))[1:$5],
                        '{}') as "worst!"
           from report_site_facts($1, $2) f
           where ($3::int is null or f.town_id = $3) and ($4::int is null or f.unit_id = $4)
           group by grouping sets ((f.town_id), (), (f.status))"#,
        start,
        as_of,
        counted.town_id,
        counted.unit_id,
        WORST_OVERDUE as i32
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = PeriodFigures::default();
    for row in rows {
        // grouping(town_id, status): bit 1 set when town_id is rolled up, bit 0 when status is.
        match row.grouping {
            1 => out.towns.push((row.town_id, row.figures())),
            3 => {
                out.total = row.figures();
                out.worst_overdue = row.worst;
            }
            _ => out.statuses.push(StatusCount { status: row.status.clone().unwrap_or_default(), sites: row.sites }),
        }
    }
    out.statuses.sort_by(|a, b| a.status.cmp(&b.status));
    Ok(out)
}

/// The towns of the county (or the one counted), with their codes and names, in code order.
pub async fn towns(conn: &mut PgConnection, only: Option<i32>) -> sqlx::Result<Vec<(i32, String, String)>> {
    let rows = sqlx::query!(
        "select id, admin_code, name from town where $1::int is null or id = $1 order by admin_code",
        only
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.admin_code, r.name)).collect())
}

/// The per-town table: every town of the county (a town with nothing to count shows zeros), and a row for
/// the sites in no town when there are any.
pub fn town_table(
    towns: &[(i32, String, String)],
    current: &PeriodFigures,
    previous: &PeriodFigures,
) -> Vec<TownFigures> {
    let mut rows: Vec<TownFigures> = towns
        .iter()
        .map(|(id, code, name)| TownFigures {
            town_id: Some(*id),
            code: Some(code.clone()),
            name: name.clone(),
            figures: current.town(Some(*id)),
            previous: previous.town(Some(*id)),
        })
        .collect();
    let outside = current.town(None);
    if outside != Figures::default() || previous.town(None) != Figures::default() {
        rows.push(TownFigures {
            town_id: None,
            code: None,
            name: "区镇外".into(),
            figures: outside,
            previous: previous.town(None),
        });
    }
    rows
}

/// The sites longest overdue at `as_of` (`ids`, as [`period_figures`] found them), most days first, with what
/// the list shows of them.
pub async fn worst_overdue(
    conn: &mut PgConnection,
    start: DateTime<Utc>,
    as_of: DateTime<Utc>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<OverdueSite>> {
    // The facts of these few sites only: their events through the site index.
    let rows = sqlx::query!(
        r#"select s.id, s.code, t.name as "town?", s.route_code, s.stake_text, s.kind, s.hazard_level,
               o.name as "unit?", f.status as "status!", f.deadline as "deadline!",
               (($2::timestamptz at time zone 'Asia/Shanghai')::date - f.deadline) as "days!"
           from report_site_facts($1, $2, $3) f
           join site s on s.id = f.site_id
           left join town t on t.id = f.town_id
           left join organisation o on o.id = f.unit_id
           where f.overdue
           order by f.deadline, s.id"#,
        start,
        as_of,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OverdueSite {
            id: r.id,
            code: r.code,
            town: r.town,
            road: r.route_code.map(|code| match r.stake_text {
                Some(stake) => format!("{code} {stake}"),
                None => code,
            }),
            kind: r.kind,
            hazard_level: r.hazard_level,
            responsible_unit: r.unit,
            status: r.status,
            deadline: r.deadline,
            days_overdue: i64::from(r.days),
        })
        .collect())
}

/// Found, closed and open at the end of the [`TREND_PERIODS`] periods ending with `period`, for the sites
/// counted (by their town and unit as of `as_of`).
pub async fn trend(
    conn: &mut PgConnection,
    period: Period,
    as_of: DateTime<Utc>,
    counted: Counted,
) -> sqlx::Result<Vec<TrendPoint>> {
    let periods = period.trailing(TREND_PERIODS);
    let starts: Vec<DateTime<Utc>> = periods.iter().map(|p| p.starts_at()).collect();
    let ends: Vec<DateTime<Utc>> = periods.iter().map(|p| p.as_of(as_of)).collect();
    let rows = sqlx::query!(
        r#"with b as (
               select * from unnest($1::timestamptz[], $2::timestamptz[]) with ordinality as b(start, stop, i)
           ),
           everyone as (select ($4::int is null and $5::int is null) as yes),
           -- The sites the scope counts, as of the report's instant (not read for the whole county).
           counted as (
               select f.site_id from report_site_facts($3, $3) f
               where ($4::int is null or f.town_id = $4) and ($5::int is null or f.unit_id = $5)
           ),
           moves as (
               select e.site_id, e.kind, e.at, e.to_status,
                   lead(e.at) over (partition by e.site_id order by e.id) as until
               from site_event e
               where e.to_status is not null and e.at < $3
                 and ((select yes from everyone) or e.site_id in (select site_id from counted))
           ),
           -- One pass: each move against the eight period ends. A status holds from its move until the next.
           per_period as (
               select b.i,
                   count(*) filter (where m.kind = 'opened' and m.at >= b.start) as found,
                   count(*) filter (where m.kind = 'approve' and m.at >= b.start) as closed,
                   count(*) filter (where (m.until is null or m.until >= b.stop) and site_status_open(m.to_status))
                       as open
               from moves m join b on m.at < b.stop
               group by b.i
           )
           select b.i as "i!", coalesce(p.found, 0) as "found!", coalesce(p.closed, 0) as "closed!",
               coalesce(p.open, 0) as "open!"
           from b left join per_period p on p.i = b.i
           order by b.i"#,
        &starts,
        &ends,
        as_of,
        counted.town_id,
        counted.unit_id
    )
    .fetch_all(conn)
    .await?;
    Ok(periods
        .iter()
        .zip(rows)
        .map(|(p, r)| TrendPoint { code: p.code(), found: r.found, closed: r.closed, open: r.open })
        .collect())
}

/// The fingerprint of the events counted as of `as_of` (`report_inputs_sha256`).
pub async fn inputs_sha256(conn: &mut PgConnection, as_of: DateTime<Utc>) -> sqlx::Result<String> {
    sqlx::query_scalar!(r#"select report_inputs_sha256($1) as "sha!""#, as_of).fetch_one(conn).await
}

/// What a scope is called in a report.
pub async fn scope_of(conn: &mut PgConnection, counted: Counted) -> sqlx::Result<ReportScope> {
    if let Some(id) = counted.town_id {
        let t = sqlx::query!("select admin_code, name from town where id = $1", id).fetch_one(&mut *conn).await?;
        return Ok(ReportScope::Town { id, code: t.admin_code, name: t.name });
    }
    if let Some(id) = counted.unit_id {
        let name = sqlx::query_scalar!("select name from organisation where id = $1", id).fetch_one(conn).await?;
        return Ok(ReportScope::Unit { id, name });
    }
    Ok(ReportScope::County)
}

/// A town by its admin code.
pub async fn town_by_code(pool: &PgPool, code: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!("select id from town where admin_code = $1", code).fetch_optional(pool).await
}

/// Whether an organisation exists.
pub async fn organisation_exists(pool: &PgPool, id: i32) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select exists (select 1 from organisation where id = $1) as "e!""#, id).fetch_one(pool).await
}

// ---- drafts and publications ----

/// A published report or board, without its body.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Publication {
    pub id: i64,
    /// `weekly`, `monthly` or `ranking`.
    pub kind: String,
    pub period: String,
    pub version: i32,
    /// The publication this one corrects.
    pub corrects: Option<i64>,
    pub note: Option<String>,
    pub published_at: DateTime<Utc>,
    /// The publisher's display name.
    pub published_by: String,
    pub inputs_sha256: String,
    pub body_sha256: String,
}

/// Why a publication was not written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "{kind} {period} is already published (version {version}, id {id}); a correction must name it: \"corrects\": {id}"
    )]
    AlreadyPublished { kind: String, period: String, version: i32, id: i64 },
    #[error("\"corrects\": {given} is not the latest publication of {kind} {period}{latest}")]
    WrongCorrection { kind: String, period: String, given: i64, latest: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What to publish.
pub struct NewPublication<'a> {
    pub kind: &'a str,
    pub period: &'a str,
    pub corrects: Option<i64>,
    pub note: Option<&'a str>,
    pub body: &'a Value,
    pub inputs_sha256: &'a str,
    pub body_sha256: &'a str,
    pub by: Uuid,
}

/// Publishes a new version: the first, or a correction naming the latest. One publisher at a time per
/// report (an advisory lock), so two cannot both become version 2.
pub async fn publish(pool: &PgPool, p: NewPublication<'_>) -> Result<Publication, PublishError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('report_publication:' || $1 || ':' || $2))", p.kind, p.period)
        .execute(&mut *tx)
        .await?;
    let latest = sqlx::query!(
        "select id, version from report_publication where kind = $1 and period = $2 order by version desc limit 1",
        p.kind,
        p.period
    )
    .fetch_optional(&mut *tx)
    .await?;
    let version = match (&latest, p.corrects) {
        (None, None) => 1,
        (Some(l), None) => {
            return Err(PublishError::AlreadyPublished {
                kind: p.kind.into(),
                period: p.period.into(),
                version: l.version,
                id: l.id,
            });
        }
        (Some(l), Some(c)) if l.id == c => l.version + 1,
        (latest, Some(given)) => {
            return Err(PublishError::WrongCorrection {
                kind: p.kind.into(),
                period: p.period.into(),
                given,
                latest: latest.as_ref().map_or(" (nothing is published yet)".into(), |l| format!(", {} is", l.id)),
            });
        }
    };
    let id = sqlx::query_scalar!(
        "insert into report_publication (kind, period, version, corrects, note, body, inputs_sha256, body_sha256,
             published_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        p.kind,
        p.period,
        version,
        p.corrects,
        p.note,
        p.body,
        p.inputs_sha256,
        p.body_sha256,
        p.by
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(publication(pool, id).await?.expect("just written"))
}

/// One publication's summary.
pub async fn publication(pool: &PgPool, id: i64) -> sqlx::Result<Option<Publication>> {
    Ok(publications(pool, None, None, Some(id)).await?.into_iter().next())
}

/// Publications, newest first: all, of one kind, or of one kind and period.
pub async fn publications(
    pool: &PgPool,
    kind: Option<&str>,
    period: Option<&str>,
    id: Option<i64>,
) -> sqlx::Result<Vec<Publication>> {
    sqlx::query_as!(
        Publication,
        r#"select p.id, p.kind, p.period, p.version, p.corrects, p.note, p.published_at,
               u.display_name as published_by, p.inputs_sha256, p.body_sha256
           from report_publication p join app_user u on u.id = p.published_by
           where ($1::text is null or p.kind = $1) and ($2::text is null or p.period = $2)
             and ($3::bigint is null or p.id = $3)
           order by p.published_at desc, p.id desc
           limit 500"#,
        kind,
        period,
        id
    )
    .fetch_all(pool)
    .await
}

/// A publication's stored body.
pub async fn publication_body(pool: &PgPool, id: i64) -> sqlx::Result<Option<(String, Value)>> {
    let row = sqlx::query!("select kind, body from report_publication where id = $1", id).fetch_optional(pool).await?;
    Ok(row.map(|r| (r.kind, r.body)))
}

/// A draft, as listed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Draft {
    pub kind: String,
    pub period: String,
    pub generated_at: DateTime<Utc>,
    /// Whether the period has been published since (the draft is then kept as it was).
    pub published: bool,
}

pub async fn drafts(pool: &PgPool) -> sqlx::Result<Vec<Draft>> {
    sqlx::query_as!(
        Draft,
        r#"select d.kind, d.period, d.generated_at,
               exists (select 1 from report_publication p where p.kind = d.kind and p.period = d.period) as "published!"
           from report_draft d order by d.generated_at desc limit 200"#
    )
    .fetch_all(pool)
    .await
}

/// Stores a draft (or replaces it), unless the period is published: `None` then.
pub async fn save_draft(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    period: &str,
    body: &Value,
    by: Option<Uuid>,
) -> sqlx::Result<Option<Draft>> {
    sqlx::query_as!(
        Draft,
        r#"insert into report_draft (kind, period, body, generated_by) select $1, $2, $3, $4
           where not exists (select 1 from report_publication p where p.kind = $1 and p.period = $2)
           on conflict (kind, period) do update set body = excluded.body, generated_at = now(),
               generated_by = excluded.generated_by
           returning kind, period, generated_at, false as "published!""#,
        kind,
        period,
        body,
        by
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Whether the period has a draft or a publication already (the schedule leaves it alone then).
pub async fn drafted_or_published(tx: &mut Transaction<'_, Postgres>, kind: &str, period: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from report_draft where kind = $1 and period = $2)
               or exists (select 1 from report_publication where kind = $1 and period = $2) as "e!""#,
        kind,
        period
    )
    .fetch_one(&mut **tx)
    .await
}

/// Takes the schedule's lock for this transaction, if no other server holds it.
pub async fn try_schedule_lock(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select pg_try_advisory_xact_lock(hashtext('report_schedule')) as "locked!""#)
        .fetch_one(&mut **tx)
        .await
}

/// A read-only transaction over one snapshot, set up for the reports' aggregates (see the module's doc).
pub async fn reading(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only").execute(&mut *tx).await?;
    sqlx::query!("set local jit = off").execute(&mut *tx).await?;
    sqlx::query!("set local work_mem = '256MB'").execute(&mut *tx).await?;
    sqlx::query!("set local plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
    // Parallel workers would each run the per-site aggregate again (it sits under a join): on a small server
    // that is the same work two or three times over.
    sqlx::query!("set local max_parallel_workers_per_gather = 0").execute(&mut *tx).await?;
    Ok(tx)
}

/// A weekly summary or monthly bulletin of `period` for the sites `counted`, as of the period's end (or `now`).
pub async fn report(pool: &PgPool, period: Period, counted: Counted, now: DateTime<Utc>) -> sqlx::Result<Report> {
    let as_of = period.as_of(now);
    let previous_period = period.previous();
    let mut tx = reading(pool).await?;
    let current = period_figures(&mut tx, period.starts_at(), as_of, counted).await?;
    let previous = period_figures(&mut tx, previous_period.starts_at(), previous_period.as_of(now), counted).await?;
    let towns = towns(&mut tx, counted.town_id).await?;
    let report = Report {
        period,
        previous_period,
        scope: scope_of(&mut tx, counted).await?,
        as_of,
        towns: town_table(&towns, &current, &previous),
        worst_overdue: worst_overdue(&mut tx, period.starts_at(), as_of, &current.worst_overdue).await?,
        totals: current.total,
        previous_totals: previous.total,
        trend: trend(&mut tx, period, as_of, counted).await?,
        statuses: current.statuses,
        inputs_sha256: inputs_sha256(&mut tx, as_of).await?,
    };
    tx.commit().await?;
    Ok(report)
}

/// The quarterly ranking of `period`'s towns, as of its end (or `now`).
pub async fn ranking(
    pool: &PgPool,
    period: Period,
    weights: &RankingWeights,
    bands: &RankingBands,
    now: DateTime<Utc>,
) -> sqlx::Result<Ranking> {
    let as_of = period.as_of(now);
    let mut tx = reading(pool).await?;
    let figures = period_figures(&mut tx, period.starts_at(), as_of, Counted::default()).await?;
    let towns = towns(&mut tx, None)
        .await?
        .into_iter()
        .map(|(id, code, name)| TownInput { town_id: id, code, name, figures: figures.town(Some(id)) })
        .collect();
    let ranking = Ranking {
        period,
        as_of,
        weights: *weights,
        bands: *bands,
        towns: rank(towns, weights, bands),
        inputs_sha256: inputs_sha256(&mut tx, as_of).await?,
    };
    tx.commit().await?;
    Ok(ranking)
}

/// The county's report or board of a period as a publication stores it: the body, and its inputs'
/// fingerprint.
pub async fn county_body(
    pool: &PgPool,
    kind: ReportKind,
    period: Period,
    weights: &RankingWeights,
    bands: &RankingBands,
    now: DateTime<Utc>,
) -> sqlx::Result<(Value, String)> {
    let (body, inputs) = match kind {
        ReportKind::Ranking => {
            let r = ranking(pool, period, weights, bands, now).await?;
            let inputs = r.inputs_sha256.clone();
            (serde_json::to_value(r), inputs)
        }
        ReportKind::Weekly | ReportKind::Monthly => {
            let r = report(pool, period, Counted::default(), now).await?;
            let inputs = r.inputs_sha256.clone();
            (serde_json::to_value(r), inputs)
        }
    };
    Ok((body.map_err(|e| sqlx::Error::Encode(e.into()))?, inputs))
}

/// Publishes the county's report or board of a period as it is now (see [`publish`]).
#[allow(clippy::too_many_arguments)]
pub async fn publish_county(
    pool: &PgPool,
    kind: ReportKind,
    period: Period,
    weights: &RankingWeights,
    bands: &RankingBands,
    corrects: Option<i64>,
    note: Option<&str>,
    by: Uuid,
) -> Result<Publication, PublishError> {
    let (body, inputs) = county_body(pool, kind, period, weights, bands, Utc::now()).await?;
    let body_sha256 = hex::encode(Sha256::digest(body.to_string().as_bytes()));
    publish(
        pool,
        NewPublication {
            kind: kind.as_str(),
            period: &period.code(),
            corrects,
            note,
            body: &body,
            inputs_sha256: &inputs,
            body_sha256: &body_sha256,
            by,
        },
    )
    .await
}
