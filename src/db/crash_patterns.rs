//! The reads behind the crash time patterns (`domain::crash_patterns`): crashes grouped by county day, hour
//! and light for a filter or a candidate's or a site's crashes, the holiday calendar of a window (and an
//! admin's replacement of a year), and what a candidate's sheet prints.

use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::crash::{CandidateSource, CandidateStatus, CrashType, Light, ScreeningMethod, Severity};
use crate::domain::crash_patterns::{CalendarDay, CalendarKind, Tallies, Tally, Window};

/// Which crashes a pattern counts: the county's (optionally one town's, severity's, type's or vehicle's),
/// narrowed to one candidate's crashes or to the crashes of a site's confirmed candidates.
#[derive(Debug, Clone, Default)]
pub struct CrashFilter {
    pub town_id: Option<i32>,
    pub severity: Option<Severity>,
    pub crash_type: Option<CrashType>,
    pub vehicle: Option<crate::domain::crash::VehicleType>,
    pub candidate_id: Option<i64>,
    pub site_id: Option<Uuid>,
}

/// The crashes of the window (county dates, both included) that pass the filter, counted per county day and
/// per county hour and light, in one pass (`grouping sets`): at most 3 653 + 24 × 5 rows.
pub async fn tallies(pool: &PgPool, window: Window, filter: &CrashFilter) -> sqlx::Result<Tallies> {
    let rows = sqlx::query!(
        r#"
        select grouping(local.day) = 1 as "by_hour!",
               local.day, local.hour, c.light as "light: Light",
               count(*) as "crashes!",
               sum(c.deaths)::int8 as "deaths!",
               sum(c.serious_injuries + c.slight_injuries)::int8 as "injuries!",
               count(*) filter (where c.deaths > 0) as "fatal!"
        from crash c
        -- date_part, not extract: extract computes in numeric since PostgreSQL 14, a third of this query's time.
        cross join lateral (select (c.occurred_at at time zone 'Asia/Shanghai')::date as day,
                                   date_part('hour', c.occurred_at at time zone 'Asia/Shanghai')::int4 as hour) local
        -- The window's days in county time: from its first midnight to the midnight after its last day.
        where c.occurred_at >= $1::date::timestamp at time zone 'Asia/Shanghai'
          and c.occurred_at < ($2::date + 1)::timestamp at time zone 'Asia/Shanghai'
          and ($3::int4 is null or c.town_id = $3)
          and ($4::text is null or c.severity = $4)
          and ($5::text is null or c.crash_type = $5)
          and ($6::text is null or $6 = any (c.vehicle_types))
          and ($7::int8 is null or exists (
                select from candidate_crash cc where cc.crash_id = c.id and cc.candidate_id = $7))
          and ($8::uuid is null or exists (
                select from candidate_crash cc join candidate k on k.id = cc.candidate_id
                where cc.crash_id = c.id and k.site_id = $8 and k.status = 'confirmed'))
        group by grouping sets ((local.day), (local.hour, c.light))
        "#,
        window.from,
        window.to,
        filter.town_id,
        filter.severity.map(|s| s.as_str()),
        filter.crash_type.map(|t| t.as_str()),
        filter.vehicle.map(|v| v.as_str()),
        filter.candidate_id,
        filter.site_id,
    )
    .fetch_all(pool)
    .await?;
    let mut tallies = Tallies::default();
    for r in rows {
        let tally = Tally { crashes: r.crashes, deaths: r.deaths, injuries: r.injuries, fatal: r.fatal };
        match (r.by_hour, r.day, r.hour) {
            (true, _, Some(hour)) => tallies.hours.push((hour.clamp(0, 23) as u32, r.light, tally)),
            (false, Some(day), _) => tallies.days.push((day, tally)),
            _ => {}
        }
    }
    Ok(tallies)
}

/// The calendar's listed days in a window.
pub async fn calendar(pool: &PgPool, from: NaiveDate, to: NaiveDate) -> sqlx::Result<Vec<CalendarDay>> {
    sqlx::query_as!(
        CalendarDay,
        r#"select day, kind as "kind: CalendarKind", name from calendar_day where day between $1 and $2 order by day"#,
        from,
        to
    )
    .fetch_all(pool)
    .await
}

/// Replaces a year of the calendar with `days` (checked by `domain::crash_patterns::check_calendar_year`),
/// in one transaction.
pub async fn replace_calendar_year(pool: &PgPool, year: i32, days: &[CalendarDay]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from calendar_day where day between make_date($1, 1, 1) and make_date($1, 12, 31)", year)
        .execute(&mut *tx)
        .await?;
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.day).collect();
    let kinds: Vec<String> = days.iter().map(|d| d.kind.as_str().to_string()).collect();
    let names: Vec<String> = days.iter().map(|d| d.name.trim().to_string()).collect();
    sqlx::query!(
        "insert into calendar_day (day, kind, name) select * from unnest($1::date[], $2::text[], $3::text[])",
        &dates,
        &kinds,
        &names
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// What a candidate's pattern and sheet need to know of it.
#[derive(Debug, Clone)]
pub struct CandidateFacts {
    pub id: i64,
    pub source: CandidateSource,
    pub kind: String,
    pub status: CandidateStatus,
    pub town_id: Option<i32>,
    pub town: Option<String>,
    pub route_code: Option<String>,
    pub road_name: Option<String>,
    pub stake_m: Option<f64>,
    pub end_stake_m: Option<f64>,
    /// A point on the candidate (its point, or the middle of its stretch), WGS-84.
    pub lon: f64,
    pub lat: f64,
    pub score: f64,
    pub rank: Option<i32>,
    pub crash_count: i32,
    pub deaths: i32,
    pub injuries: i32,
    pub screening_run_id: Option<i64>,
    pub method: Option<ScreeningMethod>,
    pub parameters: Option<Value>,
    /// The run's window, `[start, end)` as the run stores it.
    pub window_start: Option<NaiveDate>,
    pub window_end: Option<NaiveDate>,
    /// How many candidates the run produced (the rank is "of" this).
    pub run_candidates: Option<i32>,
    pub site_id: Option<Uuid>,
    pub site_code: Option<String>,
}

pub async fn candidate(pool: &PgPool, id: i64) -> sqlx::Result<Option<CandidateFacts>> {
    sqlx::query_as!(
        CandidateFacts,
        r#"
        select k.id, k.source as "source: CandidateSource", k.kind, k.status as "status: CandidateStatus",
               k.town_id, t.name as "town?", k.route_code, r.name as "road_name?", k.stake_m, k.end_stake_m,
               st_x(p.point) as "lon!", st_y(p.point) as "lat!",
               k.score, k.rank, k.crash_count, k.deaths, k.injuries, k.screening_run_id,
               s.method as "method?: ScreeningMethod", s.parameters as "parameters?",
               s.window_start as "window_start?", s.window_end as "window_end?", s.candidates as "run_candidates?",
               k.site_id, site.code as "site_code?"
        from candidate k
        cross join lateral (select case when geometrytype(k.geom) = 'LINESTRING'
                                        then st_lineinterpolatepoint(k.geom, 0.5)
                                        else st_pointonsurface(k.geom) end as point) p
        left join town t on t.id = k.town_id
        left join road r on r.id = k.road_id
        left join screening_run s on s.id = k.screening_run_id
        left join site on site.id = k.site_id
        where k.id = $1
        "#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// One of a candidate's crashes as its sheet lists it.
#[derive(Debug, Clone)]
pub struct CrashLine {
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub severity: Severity,
    pub deaths: i16,
    pub serious_injuries: i16,
    pub slight_injuries: i16,
    pub crash_type: Option<CrashType>,
    pub vehicle_types: Vec<String>,
    pub weather: Option<crate::domain::crash::Weather>,
    pub light: Option<Light>,
    pub stake_text: Option<String>,
    pub record_no: Option<String>,
}

/// Most crashes a candidate's sheet lists (a black spot has a handful; a run's huge cluster is cut with a
/// note).
pub const SHEET_CRASHES_MAX: i64 = 500;

/// A candidate's crashes, oldest first, at most [`SHEET_CRASHES_MAX`].
pub async fn candidate_crashes(pool: &PgPool, candidate_id: i64) -> sqlx::Result<Vec<CrashLine>> {
    sqlx::query_as!(
        CrashLine,
        r#"
        select c.occurred_at, c.severity as "severity!: Severity", c.deaths, c.serious_injuries, c.slight_injuries,
               c.crash_type as "crash_type: CrashType", c.vehicle_types,
               c.weather as "weather: crate::domain::crash::Weather", c.light as "light: Light", c.stake_text,
               c.record_no
        from candidate_crash cc join crash c on c.id = cc.crash_id
        where cc.candidate_id = $1
        order by c.occurred_at, c.id
        limit $2
        "#,
        candidate_id,
        SHEET_CRASHES_MAX
    )
    .fetch_all(pool)
    .await
}

/// The window of a site's confirmed candidates' runs: the earliest start and the latest end.
pub async fn site_window(pool: &PgPool, site_id: Uuid) -> sqlx::Result<Option<(NaiveDate, NaiveDate)>> {
    let row = sqlx::query!(
        r#"select min(s.window_start) as start, max(s.window_end) as "end"
           from candidate k join screening_run s on s.id = k.screening_run_id
           where k.site_id = $1 and k.status = 'confirmed'"#,
        site_id
    )
    .fetch_one(pool)
    .await?;
    Ok(row.start.zip(row.end))
}

/// A site's town, when the site exists.
pub async fn site_town(pool: &PgPool, site_id: Uuid) -> sqlx::Result<Option<Option<i32>>> {
    sqlx::query_scalar!("select town_id from site where id = $1", site_id).fetch_optional(pool).await
}
