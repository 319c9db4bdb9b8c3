//! Crash time patterns (事故时段规律, issue 12): when crashes happen, county-wide or for one screening
//! candidate or site, and the candidate's sheet as a PDF; and the holiday calendar the patterns read.
//!
//! - `GET /api/v1/crash-patterns?from=&to=&town=&severity=&crash_type=&vehicle=` (or `candidate=ID`,
//!   `site=UUID`): every count, each period's exposure and ratio, and the charts as SVG.
//! - `GET /api/v1/candidates/{id}/sheet.pdf`: the candidate's sheet (where, from which run, its crashes, the
//!   patterns), through the render queue. (`/candidates/{id}.pdf` cannot be routed: the router's parameters
//!   take whole path segments.)
//! - `GET|PUT /api/v1/calendar/{year}`: a year's public holidays and make-up working days; an admin replaces
//!   a year when the State Council publishes it.
//!
//! Readers: the county office (dispatcher, reviewer, leader, admin) reads everything; a town officer reads
//! their own town's crashes and candidates (others answer 404); other roles get 403.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, AppState, Error, Result};
use crate::db;
use crate::db::crash_patterns::{CandidateFacts, CrashFilter, CrashLine};
use crate::domain::auth::{Actor, Role};
use crate::domain::crash::{CandidateSource, CandidateStatus, CrashType, ScreeningMethod, Severity, VehicleType};
use crate::domain::crash_patterns::{Calendar, CalendarDay, Patterns, Window, check_calendar_year, patterns};
use crate::domain::lifecycle::china_date;
use crate::domain::stake::Stake;
use crate::reports::crash_patterns::{CandidateSheet, CrashRow, candidate_pdf, charts};

/// Whose crashes an actor may read: the whole county, or one town.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readable {
    County,
    Town(i32),
}

fn readable(actor: &Actor) -> Result<Readable> {
    if [Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin].iter().any(|r| actor.has(*r)) {
        return Ok(Readable::County);
    }
    match (actor.has(Role::TownOfficer), actor.town_id) {
        (true, Some(town)) => Ok(Readable::Town(town)),
        _ => Err(Error::Forbidden(
            "crash patterns are read by the county office (dispatcher, reviewer, leader, admin) and by town \
             officers for their own town"
                .into(),
        )),
    }
}

/// What to count.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PatternParams {
    /// First county day counted (`2025-01-01`); by default three years before `to`, or the candidate's run
    /// window.
    from: Option<String>,
    /// Last county day counted, included; by default today, or the last day of the candidate's run window.
    /// At most ten years after `from`.
    to: Option<String>,
    /// A town's admin code (a town officer's own town in any case).
    town: Option<String>,
    /// `fatal`, `injury` or `property_damage_only`.
    severity: Option<String>,
    /// A crash type code (`rear_end`, `head_on`, …).
    crash_type: Option<String>,
    /// A vehicle type code: crashes involving one (`e_bike`, `farm_vehicle`, …).
    vehicle: Option<String>,
    /// A candidate's id: only its crashes.
    candidate: Option<String>,
    /// A site's id: only the crashes of the candidates confirmed into it.
    site: Option<String>,
}

const PATTERN_PARAMS: &str = "from, to, town, severity, crash_type, vehicle, candidate, site";

/// The charts of a pattern as standalone SVG documents (`reports::chart`), the same shapes the PDF draws.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatternCharts {
    pub hours: String,
    pub weekdays: String,
    pub months: String,
    /// Each period's share of the crashes against its share of the time.
    pub periods: String,
}

/// What was counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatternScope {
    /// `county`, `candidate` or `site`.
    pub kind: &'static str,
    pub candidate: Option<i64>,
    pub site: Option<Uuid>,
    /// The town's admin code, when one town's crashes were counted.
    pub town: Option<String>,
    pub severity: Option<Severity>,
    pub crash_type: Option<CrashType>,
    pub vehicle: Option<VehicleType>,
}

/// The patterns as the API answers them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatternsView {
    pub scope: PatternScope,
    #[serde(flatten)]
    pub patterns: Patterns,
    /// The over-represented periods in words (Chinese), as the PDF prints them.
    pub over_represented: Vec<String>,
    pub charts: PatternCharts,
}

fn code<T: std::str::FromStr<Err = crate::domain::site::UnknownCode>>(
    name: &str,
    text: Option<&str>,
) -> Result<Option<T>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|e| Error::BadRequest(format!("{name}: {e}"))),
    }
}

fn date(name: &str, text: Option<&str>) -> Result<Option<NaiveDate>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| Error::BadRequest(format!("{name}: {:?} is not a date like 2025-01-31", truncate(t)))),
    }
}

fn truncate(t: &str) -> String {
    t.chars().take(32).collect()
}

/// The window asked, else `default`; for the county, the three years up to today.
fn window_of(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    default: Option<(NaiveDate, NaiveDate)>,
) -> Result<Window> {
    let today = china_date(Utc::now());
    let (default_from, default_to) = default.unwrap_or_else(|| {
        let to = to.unwrap_or(today);
        (to.checked_sub_months(Months::new(36)).map_or(to, |d| d.succ_opt().unwrap_or(d)), to)
    });
    Window::new(from.unwrap_or(default_from), to.unwrap_or(default_to))
        .map_err(|e| Error::BadRequest(format!("from/to: {e}")))
}

/// A run's window `[start, end)` as the days it covers.
fn run_window(facts: &CandidateFacts) -> Option<(NaiveDate, NaiveDate)> {
    let (start, end) = facts.window_start.zip(facts.window_end)?;
    Some((start, end.pred_opt().unwrap_or(end)))
}

async fn candidate_in_reach(state: &AppState, readable: Readable, text: &str) -> Result<CandidateFacts> {
    let id: i64 = text
        .trim()
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::BadRequest(format!("candidate: {:?} is not a candidate id", truncate(text))))?;
    let facts = db::crash_patterns::candidate(&state.pool, id).await?;
    match facts {
        Some(f) if readable == Readable::County || Readable::Town(f.town_id.unwrap_or(-1)) == readable => Ok(f),
        _ => Err(Error::NotFound(format!("no candidate {id}"))),
    }
}

/// Reads the parameters, checks them against what the actor may read, and counts.
async fn compute(state: &AppState, actor: &Actor, p: PatternParams) -> Result<PatternsView> {
    let readable = readable(actor)?;
    let severity = code::<Severity>("severity", p.severity.as_deref())?;
    let crash_type = code::<CrashType>("crash_type", p.crash_type.as_deref())?;
    let vehicle = code::<VehicleType>("vehicle", p.vehicle.as_deref())?;
    let (from, to) = (date("from", p.from.as_deref())?, date("to", p.to.as_deref())?);
    let town_code = p.town.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let town_id = super::reports::town_named(state, town_code).await?;
    let town_id = match (readable, town_id) {
        (Readable::Town(own), Some(t)) if t != own => {
            return Err(Error::NotFound("a town officer's crash patterns are of their own town".into()));
        }
        (Readable::Town(own), _) => Some(own),
        (Readable::County, t) => t,
    };
    let mut filter = CrashFilter { town_id, severity, crash_type, vehicle, ..CrashFilter::default() };
    let mut scope = PatternScope {
        kind: "county",
        candidate: None,
        site: None,
        town: town_code.map(str::to_string),
        severity,
        crash_type,
        vehicle,
    };
    let default_window = match (p.candidate.as_deref(), p.site.as_deref()) {
        (Some(_), Some(_)) => return Err(Error::BadRequest("give candidate or site, not both".into())),
        (Some(candidate), None) => {
            let facts = candidate_in_reach(state, readable, candidate).await?;
            filter.candidate_id = Some(facts.id);
            scope.kind = "candidate";
            scope.candidate = Some(facts.id);
            run_window(&facts)
        }
        (None, Some(site)) => {
            let id = Uuid::parse_str(site.trim())
                .map_err(|_| Error::BadRequest(format!("site: {:?} is not a site id (a UUID)", truncate(site))))?;
            let town = db::crash_patterns::site_town(&state.pool, id).await?;
            match (town, readable) {
                (Some(_), Readable::County) => {}
                (Some(Some(t)), Readable::Town(own)) if t == own => {}
                _ => return Err(Error::NotFound(format!("no site {id}"))),
            }
            filter.site_id = Some(id);
            scope.kind = "site";
            scope.site = Some(id);
            db::crash_patterns::site_window(&state.pool, id).await?.map(|(s, e)| (s, e.pred_opt().unwrap_or(e)))
        }
        (None, None) => None,
    };
    // A town officer's candidate or site is theirs (checked above): all its crashes count, even one placed
    // just over the town's boundary.
    if scope.kind != "county" && matches!(readable, Readable::Town(_)) {
        filter.town_id = None;
    }
    let window = window_of(from, to, default_window)?;
    let patterns = count(state, window, &filter).await?;
    let over_represented =
        patterns.periods.iter().filter_map(crate::domain::crash_patterns::over_represented_zh).collect();
    let [hours, weekdays, months, periods] = charts(&patterns).map(|c| c.to_svg());
    Ok(PatternsView { scope, patterns, over_represented, charts: PatternCharts { hours, weekdays, months, periods } })
}

async fn count(state: &AppState, window: Window, filter: &CrashFilter) -> Result<Patterns> {
    let tallies = db::crash_patterns::tallies(&state.pool, window, filter).await?;
    let calendar = Calendar::new(db::crash_patterns::calendar(&state.pool, window.from, window.to).await?);
    Ok(patterns(&tallies, window, &calendar, &state.settings.period_rules))
}

/// When crashes happen: by hour of day, weekday and month, by time band, and by the periods rural campaigns
/// plan around (三夏, 三秋, the Spring Festival, school days and holidays, rest and working days, night and
/// dawn/dusk), each period with its share of the window's time and the ratio of its crash share to it.
#[utoipa::path(
    get,
    path = "/crash-patterns",
    operation_id = "crash_patterns",
    tag = "crash_patterns",
    params(PatternParams),
    responses(
        (status = 200, description = "The counts, the periods with their exposure and ratio, and the charts as SVG", body = PatternsView),
        (status = 400, description = "A parameter is malformed, or the window is longer than ten years (the message says which)"),
        (status = 403, description = "The account's roles do not read crash patterns"),
        (status = 404, description = "No such town, candidate or site within your reach"),
    )
)]
pub async fn crash_patterns(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<PatternParams>, QueryRejection>,
) -> Result<Json<PatternsView>> {
    let p = q
        .map(|Query(p)| p)
        .map_err(|e| Error::BadRequest(format!("{}; the parameters are {PATTERN_PARAMS}", e.body_text())))?;
    Ok(Json(compute(&state, &actor, p).await?))
}

fn source_zh(source: CandidateSource) -> &'static str {
    match source {
        CandidateSource::CrashAnalysis => "事故数据分析",
        CandidateSource::SmartPatrol => "智能巡查",
        CandidateSource::Drone => "无人机巡查",
    }
}

fn method_zh(method: ScreeningMethod) -> &'static str {
    match method {
        ScreeningMethod::SlidingWindow => "滑动窗口（沿路线）",
        ScreeningMethod::Junction => "交叉口半径",
        ScreeningMethod::Dbscan => "密度聚类（DBSCAN）",
    }
}

fn kind_zh(kind: &str) -> &str {
    match kind {
        "intersection" => "交叉口",
        "section" => "路段",
        "spot" => "点位",
        other => other,
    }
}

fn stake(m: Option<f64>) -> Option<String> {
    m.and_then(Stake::derived).map(|s| s.to_string())
}

/// The sheet's rows in words.
fn sheet(facts: &CandidateFacts, crashes: &[CrashLine], patterns: Patterns) -> CandidateSheet {
    let dash = || "—".to_string();
    let road = match (&facts.route_code, &facts.road_name) {
        (Some(code), Some(name)) => format!("{code} {name}"),
        (Some(code), None) => code.clone(),
        _ => dash(),
    };
    let stakes = match (stake(facts.stake_m), stake(facts.end_stake_m)) {
        (Some(a), Some(b)) => format!("{a} 至 {b}"),
        (Some(a), None) => a,
        _ => dash(),
    };
    let location = vec![
        ("道路".to_string(), road),
        ("桩号".to_string(), stakes),
        ("区镇".to_string(), facts.town.clone().unwrap_or_else(dash)),
        ("类型".to_string(), kind_zh(&facts.kind).to_string()),
        ("位置".to_string(), format!("东经 {:.6}°，北纬 {:.6}°（WGS-84）", facts.lon, facts.lat)),
    ];
    let mut source = vec![("来源".to_string(), source_zh(facts.source).to_string())];
    if let Some(run) = facts.screening_run_id {
        source.push(("筛查批次".to_string(), format!("#{run}")));
    }
    if let Some(method) = facts.method {
        source.push(("筛查方法".to_string(), method_zh(method).to_string()));
    }
    if let Some((start, last)) = run_window(facts) {
        source.push(("数据时段".to_string(), format!("{start} 至 {last}")));
    }
    source.push(("得分".to_string(), format!("{:.2}", facts.score)));
    let rank = match (facts.rank, facts.run_candidates) {
        (Some(r), Some(n)) => format!("第 {r} 名（共 {n} 个候选）"),
        (Some(r), None) => format!("第 {r} 名"),
        _ => dash(),
    };
    source.push(("本批排名".to_string(), rank));
    source.push((
        "事故".to_string(),
        format!("{} 起，死亡 {} 人，受伤 {} 人", facts.crash_count, facts.deaths, facts.injuries),
    ));
    if let Some(parameters) = &facts.parameters {
        source.push(("参数".to_string(), parameters.to_string()));
    }
    let status = match facts.status {
        CandidateStatus::Open => "待确认".to_string(),
        CandidateStatus::Confirmed => format!("已确认（{}）", facts.site_code.clone().unwrap_or_else(dash)),
        CandidateStatus::Dismissed => "已排除".to_string(),
        CandidateStatus::Superseded => "已由新的筛查批次取代".to_string(),
    };
    let china = crate::closeout::china_time();
    let rows = crashes
        .iter()
        .map(|c| CrashRow {
            time: c.occurred_at.with_timezone(&china).format("%Y-%m-%d %H:%M").to_string(),
            severity: c.severity.label().to_string(),
            casualties: format!("{}/{}/{}", c.deaths, c.serious_injuries, c.slight_injuries),
            crash_type: c.crash_type.map_or_else(dash, |t| t.label().to_string()),
            vehicles: c
                .vehicle_types
                .iter()
                .map(|v| v.parse::<VehicleType>().map_or(v.as_str(), |v| v.label()))
                .collect::<Vec<_>>()
                .join("、"),
            conditions: format!("{} / {}", c.weather.map_or("—", |w| w.label()), c.light.map_or("—", |l| l.label())),
        })
        .collect();
    CandidateSheet {
        id: facts.id,
        title: if facts.source == CandidateSource::CrashAnalysis { "事故多发点段候选" } else { "隐患候选" }.into(),
        status,
        location,
        source,
        crashes: rows,
        crashes_total: i64::from(facts.crash_count).max(crashes.len() as i64),
        patterns,
        generated_at: Utc::now().with_timezone(&china),
    }
}

/// A candidate's sheet (事故多发点段候选核查表) for the person who checks it on site: where it is, the run that
/// found it (method, parameters, window, score and rank), its crashes one by one, and their time patterns
/// with the charts.
#[utoipa::path(
    get,
    path = "/candidates/{id}/sheet.pdf",
    operation_id = "candidate_sheet_pdf",
    tag = "crash_patterns",
    params(("id" = i64, Path, description = "The candidate's id")),
    responses(
        (status = 200, description = "The candidate's sheet as an A4 PDF", body = String, content_type = "application/pdf"),
        (status = 400, description = "The id is not a number"),
        (status = 403, description = "The account's roles do not read candidates"),
        (status = 404, description = "No such candidate within your reach"),
        (status = 429, description = "PDFs are being printed for others; Retry-After says when to try again"),
        (status = 503, description = "The server has no Chinese font (the message names the package to install)"),
    )
)]
pub async fn candidate_sheet_pdf(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response> {
    let readable = readable(&actor)?;
    let facts = candidate_in_reach(&state, readable, &id).await?;
    let crashes = db::crash_patterns::candidate_crashes(&state.pool, facts.id).await?;
    let window = window_of(None, None, run_window(&facts))?;
    let filter = CrashFilter { candidate_id: Some(facts.id), ..CrashFilter::default() };
    let patterns = count(&state, window, &filter).await?;
    let sheet = sheet(&facts, &crashes, patterns);
    let id = facts.id;
    let bytes =
        match super::closeout::render_pdf(state.settings.cjk_font.clone(), move |font| candidate_pdf(&sheet, font))
            .await?
        {
            Ok(bytes) => bytes,
            Err(font_missing) => return Ok(font_missing),
        };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
        (
            header::CONTENT_DISPOSITION,
            super::closeout::file_disposition(
                "inline",
                &format!("candidate-{id}.pdf"),
                &format!("候选核查表-{id}.pdf"),
            ),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
    ];
    Ok((headers, bytes).into_response())
}

fn year_of(text: &str) -> Result<i32> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| Error::BadRequest(format!("{:?} is not a year from 2000 to 2100", truncate(text))))
}

/// A year of the holiday calendar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    /// Public holidays (`holiday`, days off) and make-up working days (`workday`, a Saturday or Sunday
    /// worked), each with the holiday's name; at most 80.
    pub days: Vec<CalendarDay>,
}

/// A year's public holidays and make-up working days (调休), as the time patterns read them.
#[utoipa::path(
    get,
    path = "/calendar/{year}",
    operation_id = "calendar_year",
    tag = "crash_patterns",
    params(("year" = i32, Path, description = "The year, 2000–2100")),
    responses(
        (status = 200, description = "The year's listed days, in date order (none: not entered yet)", body = CalendarYear),
        (status = 400, description = "Not a year"),
    )
)]
pub async fn calendar_year(
    State(state): State<AppState>,
    _actor: Actor,
    Path(year): Path<String>,
) -> Result<Json<CalendarYear>> {
    let year = year_of(&year)?;
    let (first, last) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31));
    let (Some(first), Some(last)) = (first, last) else {
        return Err(Error::BadRequest(format!("{year} is not a year")));
    };
    Ok(Json(CalendarYear { days: db::crash_patterns::calendar(&state.pool, first, last).await? }))
}

/// Replaces a year of the calendar (admins), as the State Council's notice for it lists the days: every
/// holiday day off, and every make-up working day. Checked whole before anything is written: each day in
/// the year and listed once, a working day on a Saturday or Sunday, a name of 1–32 characters.
#[utoipa::path(
    put,
    path = "/calendar/{year}",
    operation_id = "replace_calendar_year",
    tag = "crash_patterns",
    params(("year" = i32, Path, description = "The year, 2000–2100")),
    request_body = CalendarYear,
    responses(
        (status = 200, description = "The year as stored now", body = CalendarYear),
        (status = 400, description = "The list is malformed or breaks a rule (the message says which day)"),
        (status = 403, description = "Only admins change the calendar"),
    )
)]
pub async fn replace_calendar_year(
    State(state): State<AppState>,
    actor: Actor,
    Path(year): Path<String>,
    ApiJson(body): ApiJson<CalendarYear>,
) -> Result<(StatusCode, Json<CalendarYear>)> {
    if !actor.has(Role::Admin) {
        return Err(Error::Forbidden("only an admin changes the holiday calendar".into()));
    }
    let year = year_of(&year)?;
    check_calendar_year(year, &body.days).map_err(Error::BadRequest)?;
    db::crash_patterns::replace_calendar_year(&state.pool, year, &body.days).await?;
    tracing::info!(year, days = body.days.len(), by = %actor.name, "holiday calendar replaced");
    let Json(stored) = calendar_year(State(state), actor, Path(year.to_string())).await?;
    Ok((StatusCode::OK, Json(stored)))
}
