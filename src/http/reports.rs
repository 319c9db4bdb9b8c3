//! Weekly summaries, monthly bulletins and the quarterly town ranking (issue 11): computed on request from
//! the site events as of the period's end (`db::reports`), published as immutable snapshots, and prepared
//! as drafts on a schedule.
//!
//! - `GET /api/v1/reports/weekly?period=2026-W48`, `…/monthly?period=2026-11`: the live figures, for the
//!   county, a town (`town=<admin code>`) or a unit (`unit=<organisation id>`). A town officer always gets
//!   their town, a unit officer their unit.
//! - `GET /api/v1/rankings/2026Q4`: the live board, for those who see the whole county.
//! - `POST …/publish`: a dispatcher, leader or admin publishes the county's report or board as it is now. A
//!   second publication of a period is a correction and must name the latest version (`corrects`).
//! - `GET /api/v1/publications[/{id}]`: what was published, for every signed-in user; the stored body is
//!   what is shown, whatever the events say today.
//! - Drafts: [`spawn_schedule`] prepares each period's draft once, at 08:00 county time on the day after it
//!   ends, under a database lock so that several servers make one; `POST …/draft` regenerates it until the
//!   period is published.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Error, Result};
use crate::db;
use crate::db::reports::{Counted, Draft, Publication, PublishError};
use crate::domain::auth::{Actor, Permission};
use crate::domain::lifecycle::china_date;
use crate::domain::report::{Period, Ranking, Report, ReportKind};

/// Longest note on a publication (characters), as the database's check.
pub const NOTE_CHARS_MAX: usize = 1000;

/// The period and scope of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `2026-W48` for a week, `2026-11` for a month; by default the last one ended.
    period: Option<String>,
    /// A town's admin code: that town's figures (a town officer's own town in any case).
    town: Option<String>,
    /// An organisation id: the sites dispatched to that responsible unit.
    unit: Option<i32>,
}

/// The period of a report to publish or regenerate.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParam {
    /// `2026-W48` for a week, `2026-11` for a month; by default the last one ended.
    period: Option<String>,
}

/// A publication's request body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The latest publication of the period, when this one corrects it.
    corrects: Option<i64>,
    /// What the publication says or corrects, at most 1 000 characters.
    note: Option<String>,
}

/// Which publications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PublicationParams {
    /// `weekly`, `monthly` or `ranking`.
    kind: Option<String>,
    /// A period code, e.g. `2026-11`.
    period: Option<String>,
}

/// A report as the API answers it: the figures, its charts, and the publications of its period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    #[serde(flatten)]
    pub report: Report,
    pub charts: Charts,
    /// The publications of this period, newest first.
    pub published: Vec<Publication>,
}

/// A report's three charts as standalone SVG documents, drawn by the server (`reports::chart`) from the
/// same shapes as the PDF's, every text escaped.
#[derive(Debug, Serialize, ToSchema)]
pub struct Charts {
    /// Found and closed per period, and the sites open at each period's end, over the last eight.
    pub trend: String,
    /// Per town: open (overdue and within the deadline) and closed.
    pub towns: String,
    /// Sites per status at the period's end (a donut).
    pub statuses: String,
}

impl Charts {
    pub fn of(report: &Report) -> Charts {
        use crate::reports::chart;
        Charts {
            trend: chart::trend(&report.trend).to_svg(),
            towns: chart::towns(&report.towns).to_svg(),
            statuses: chart::statuses(&report.statuses).to_svg(),
        }
    }
}

/// A ranking as the API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingView {
    #[serde(flatten)]
    pub ranking: Ranking,
    pub published: Vec<Publication>,
}

/// A publication with the body it stores.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationView {
    #[serde(flatten)]
    pub publication: Publication,
    /// The `Report` or `Ranking` as published.
    #[schema(value_type = Object)]
    pub body: Value,
    /// A report's charts, drawn from the stored body (none for a ranking).
    pub charts: Option<Charts>,
}

fn query<T>(q: std::result::Result<Query<T>, QueryRejection>, accepted: &str) -> Result<T> {
    q.map(|Query(p)| p).map_err(|e| Error::BadRequest(format!("{}; the parameters are {accepted}", e.body_text())))
}

fn period_of(kind: ReportKind, code: Option<&str>) -> Result<Period> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Period::parse(kind.period_kind(), code).map_err(|e| Error::BadRequest(format!("period: {e}"))),
        None => Ok(Period::last_complete(kind.period_kind(), china_date(Utc::now()))),
    }
}

/// The town a `town=` parameter names by its admin code (blank: none); a code no town has is a 404.
pub(super) async fn town_named(state: &AppState, code: Option<&str>) -> Result<Option<i32>> {
    match code.map(str::trim).filter(|t| !t.is_empty()) {
        Some(code) if code.chars().count() > 64 => {
            Err(Error::BadRequest("town: an admin code is at most 64 characters".into()))
        }
        Some(code) => Ok(Some(
            db::reports::town_by_code(&state.pool, code)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no town with admin code {code:?}")))?,
        )),
        None => Ok(None),
    }
}

/// Whose sites a report counts: what was asked, within what the user may see.
async fn counted_for(state: &AppState, actor: &Actor, town: Option<&str>, unit: Option<i32>) -> Result<Counted> {
    let scope = actor.site_scope();
    let town_id = town_named(state, town).await?;
    if scope.all {
        if let Some(unit) = unit
            && !db::reports::organisation_exists(&state.pool, unit).await?
        {
            return Err(Error::NotFound(format!("no organisation {unit}")));
        }
        return Ok(Counted { town_id, unit_id: if town_id.is_some() { None } else { unit } });
    }
    if let Some(own) = scope.town_id {
        if town_id.is_some_and(|t| t != own) || unit.is_some() {
            return Err(Error::NotFound("a town officer's reports are of their own town".into()));
        }
        return Ok(Counted { town_id: Some(own), unit_id: None });
    }
    if let Some(own) = scope.unit_id {
        if town_id.is_some() || unit.is_some_and(|u| u != own) {
            return Err(Error::NotFound("a unit officer's reports are of their own unit".into()));
        }
        return Ok(Counted { town_id: None, unit_id: Some(own) });
    }
    Err(Error::Forbidden("your account sees no sites, so it has no report".into()))
}

async fn live_report(
    state: &AppState,
    actor: &Actor,
    kind: ReportKind,
    p: ReportParams,
) -> Result<(Report, Vec<Publication>)> {
    let period = period_of(kind, p.period.as_deref())?;
    let counted = counted_for(state, actor, p.town.as_deref(), p.unit).await?;
    let report = db::reports::report(&state.pool, period, counted, Utc::now()).await?;
    let published = db::reports::publications(&state.pool, Some(kind.as_str()), Some(&period.code()), None).await?;
    Ok((report, published))
}

const REPORT_PARAMS: &str = "period, town, unit";

/// The weekly summary (周总结): this week's figures against last week's, per town, with the worst overdue
/// sites, the trend of the last eight weeks and the sites per status.
#[utoipa::path(
    get,
    path = "/reports/weekly",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The week's figures, counted from site events as of its end", body = ReportView),
        (status = 400, description = "A parameter is malformed (the message says which)"),
        (status = 404, description = "No such town or unit, or one outside your scope"),
    )
)]
pub async fn weekly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<ReportView>> {
    let (report, published) = live_report(&state, &actor, ReportKind::Weekly, query(q, REPORT_PARAMS)?).await?;
    Ok(Json(ReportView { charts: Charts::of(&report), report, published }))
}

/// The monthly bulletin (月通报): as the weekly summary, for a calendar month.
#[utoipa::path(
    get,
    path = "/reports/monthly",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The month's figures, counted from site events as of its end", body = ReportView),
        (status = 400, description = "A parameter is malformed (the message says which)"),
        (status = 404, description = "No such town or unit, or one outside your scope"),
    )
)]
pub async fn monthly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<ReportView>> {
    let (report, published) = live_report(&state, &actor, ReportKind::Monthly, query(q, REPORT_PARAMS)?).await?;
    Ok(Json(ReportView { charts: Charts::of(&report), report, published }))
}

fn can_publish(actor: &Actor) -> Result<()> {
    if actor.can(Permission::PublishReports) {
        Ok(())
    } else {
        Err(Error::Forbidden("publishing and preparing reports needs the dispatcher, leader or admin role".into()))
    }
}

/// The county's report or board of a period, as stored: the body, its inputs' fingerprint.
async fn county_body(state: &AppState, kind: ReportKind, period: Period) -> Result<(Value, String)> {
    let s = &state.settings;
    Ok(db::reports::county_body(&state.pool, kind, period, &s.ranking_weights, &s.ranking_bands, Utc::now()).await?)
}

async fn publish(
    state: &AppState,
    actor: &Actor,
    kind: ReportKind,
    period: Period,
    body: std::result::Result<Json<PublishBody>, JsonRejection>,
) -> Result<Response> {
    can_publish(actor)?;
    // An empty body is a first publication with no note.
    let PublishBody { corrects, note } = match body {
        Ok(Json(b)) => b,
        Err(JsonRejection::MissingJsonContentType(_)) => PublishBody::default(),
        Err(e) => {
            return Err(Error::BadRequest(format!("{}; the body is {{\"corrects\"?, \"note\"?}}", e.body_text())));
        }
    };
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_CHARS_MAX) {
        return Err(Error::Unprocessable(format!("note: at most {NOTE_CHARS_MAX} characters")));
    }
    if period.start > china_date(Utc::now()) {
        return Err(Error::Unprocessable(format!("{} has not started yet; nothing to publish", period.code())));
    }
    let s = &state.settings;
    let published = db::reports::publish_county(
        &state.pool,
        kind,
        period,
        &s.ranking_weights,
        &s.ranking_bands,
        corrects,
        note.as_deref(),
        actor.user_id,
    )
    .await
    .map_err(|e| match e {
        e @ PublishError::AlreadyPublished { .. } => Error::Conflict(e.to_string()),
        e @ PublishError::WrongCorrection { .. } => Error::Conflict(e.to_string()),
        PublishError::Db(e) => e.into(),
    })?;
    tracing::info!(kind = kind.as_str(), period = %period.code(), version = published.version, "report published");
    Ok((StatusCode::CREATED, Json(published)).into_response())
}

/// Publishes the county's weekly summary of a period as it is now: an immutable snapshot.
#[utoipa::path(
    post,
    path = "/reports/weekly/publish",
    tag = "reports",
    params(PeriodParam),
    request_body(content = PublishBody, description = "Optional: `corrects` (the latest version's id, for a correction) and a `note`"),
    responses(
        (status = 201, description = "Published", body = Publication),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
        (status = 409, description = "Already published, and `corrects` does not name the latest version"),
    )
)]
pub async fn publish_weekly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<PeriodParam>, QueryRejection>,
    body: std::result::Result<Json<PublishBody>, JsonRejection>,
) -> Result<Response> {
    let period = period_of(ReportKind::Weekly, query(q, "period")?.period.as_deref())?;
    publish(&state, &actor, ReportKind::Weekly, period, body).await
}

/// Publishes the county's monthly bulletin of a period as it is now: an immutable snapshot.
#[utoipa::path(
    post,
    path = "/reports/monthly/publish",
    tag = "reports",
    params(PeriodParam),
    request_body(content = PublishBody, description = "Optional: `corrects` (the latest version's id, for a correction) and a `note`"),
    responses(
        (status = 201, description = "Published", body = Publication),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
        (status = 409, description = "Already published, and `corrects` does not name the latest version"),
    )
)]
pub async fn publish_monthly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<PeriodParam>, QueryRejection>,
    body: std::result::Result<Json<PublishBody>, JsonRejection>,
) -> Result<Response> {
    let period = period_of(ReportKind::Monthly, query(q, "period")?.period.as_deref())?;
    publish(&state, &actor, ReportKind::Monthly, period, body).await
}

/// The quarter of a ranking path segment (`2026Q4`).
fn quarter(code: &str) -> Result<Period> {
    period_of(ReportKind::Ranking, Some(code))
}

/// The quarterly ranking of the towns (晴雨榜), live: for those who see the whole county (published boards
/// are for everyone, under `/publications`). `2026Q4.pdf` and `2026Q4.xlsx` are the board as documents.
#[utoipa::path(
    get,
    path = "/rankings/{period}",
    tag = "reports",
    params(("period" = String, Path, description = "The quarter, e.g. `2026Q4`; `2026Q4.pdf` or `2026Q4.xlsx` for the documents")),
    responses(
        (status = 200, description = "The towns ranked on the quarter's figures, with their bands (JSON, or the PDF or XLSX asked for)", body = RankingView),
        (status = 400, description = "Not a quarter"),
        (status = 403, description = "Your account sees one town or unit; the published boards are at /api/v1/publications"),
        (status = 404, description = "A suffix other than .pdf or .xlsx"),
    )
)]
pub async fn ranking(State(state): State<AppState>, actor: Actor, Path(code): Path<String>) -> Result<Response> {
    let (code, document) = match code.rsplit_once('.') {
        Some((code, "pdf")) => (code, Some(Document::Pdf)),
        Some((code, "xlsx")) => (code, Some(Document::Xlsx)),
        Some((_, other)) => {
            let other: String = other.chars().take(16).collect();
            return Err(Error::NotFound(format!("no .{other} of a ranking: .pdf, .xlsx or none (JSON)")));
        }
        None => (code.as_str(), None),
    };
    let period = quarter(code)?;
    if !actor.site_scope().all {
        return Err(Error::Forbidden(
            "the live board compares every town, for those who see the whole county; the published boards are at \
             /api/v1/publications?kind=ranking"
                .into(),
        ));
    }
    let s = &state.settings;
    let ranking = db::reports::ranking(&state.pool, period, &s.ranking_weights, &s.ranking_bands, Utc::now()).await?;
    if let Some(document) = document {
        return send(&state, Stored::Ranking(Box::new(ranking)), document).await;
    }
    let published = db::reports::publications(&state.pool, Some("ranking"), Some(&period.code()), None).await?;
    Ok(Json(RankingView { ranking, published }).into_response())
}

/// Publishes the quarter's board as it is now: an immutable snapshot.
#[utoipa::path(
    post,
    path = "/rankings/{period}/publish",
    tag = "reports",
    params(("period" = String, Path, description = "The quarter, e.g. `2026Q4`")),
    request_body(content = PublishBody, description = "Optional: `corrects` (the latest version's id, for a correction) and a `note`"),
    responses(
        (status = 201, description = "Published", body = Publication),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
        (status = 409, description = "Already published, and `corrects` does not name the latest version"),
    )
)]
pub async fn publish_ranking(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    body: std::result::Result<Json<PublishBody>, JsonRejection>,
) -> Result<Response> {
    let period = quarter(&code)?;
    publish(&state, &actor, ReportKind::Ranking, period, body).await
}

/// What has been published, newest first (at most 500): every signed-in user reads the county's reports.
#[utoipa::path(
    get,
    path = "/publications",
    tag = "reports",
    params(PublicationParams),
    responses(
        (status = 200, description = "The publications, newest first", body = [Publication]),
        (status = 400, description = "Unknown kind or a malformed period"),
    )
)]
pub async fn publications(
    State(state): State<AppState>,
    _actor: Actor,
    q: std::result::Result<Query<PublicationParams>, QueryRejection>,
) -> Result<Json<Vec<Publication>>> {
    let p = query(q, "kind, period")?;
    let kind = p.kind.as_deref().filter(|k| !k.is_empty()).map(str::parse::<ReportKind>).transpose();
    let kind = kind.map_err(|e| Error::BadRequest(format!("kind: {e}")))?;
    let period = p.period.filter(|p| !p.is_empty());
    if let Some(period) = &period {
        let parsed = ReportKind::ALL.iter().any(|k| Period::parse(k.period_kind(), period).is_ok());
        if !parsed {
            return Err(Error::BadRequest(format!("period: {period:?} is not 2026-W48, 2026-11 or 2026Q4")));
        }
    }
    Ok(Json(db::reports::publications(&state.pool, kind.map(ReportKind::as_str), period.as_deref(), None).await?))
}

/// One publication, with the body it stores.
#[utoipa::path(
    get,
    path = "/publications/{id}",
    tag = "reports",
    params(("id" = i64, Path, description = "The publication's id")),
    responses(
        (status = 200, description = "The publication and its stored report or board", body = PublicationView),
        (status = 404, description = "No such publication"),
    )
)]
pub async fn publication(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<PublicationView>> {
    let (publication, body) = stored(&state, &id).await?;
    let charts = match Stored::read(&publication, &body)? {
        Stored::Report(r) => Some(Charts::of(&r)),
        Stored::Ranking(_) => None,
    };
    Ok(Json(PublicationView { publication, body, charts }))
}

/// A publication and its body, by the id in a path.
pub(crate) async fn stored(state: &AppState, id: &str) -> Result<(Publication, Value)> {
    let id: i64 = id.parse().map_err(|_| Error::BadRequest(format!("{id:?} is not a publication id")))?;
    let not_found = || Error::NotFound(format!("no publication {id}"));
    let publication = db::reports::publication(&state.pool, id).await?.ok_or_else(not_found)?;
    let (_, body) = db::reports::publication_body(&state.pool, id).await?.ok_or_else(not_found)?;
    Ok((publication, body))
}

/// The drafts the schedule (or a person) prepared, newest first.
#[utoipa::path(
    get,
    path = "/reports/drafts",
    tag = "reports",
    responses(
        (status = 200, description = "The drafts, newest first, each saying whether its period is published since", body = [Draft]),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
    )
)]
pub async fn drafts(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<Draft>>> {
    can_publish(&actor)?;
    Ok(Json(db::reports::drafts(&state.pool).await?))
}

async fn regenerate(state: &AppState, actor: &Actor, kind: ReportKind, period: Period) -> Result<Json<Draft>> {
    can_publish(actor)?;
    let (body, _) = county_body(state, kind, period).await?;
    let mut tx = state.pool.begin().await?;
    let draft = db::reports::save_draft(&mut tx, kind.as_str(), &period.code(), &body, Some(actor.user_id)).await?;
    tx.commit().await?;
    draft.map(Json).ok_or_else(|| {
        Error::Conflict(format!(
            "{} {} is published: its draft is kept as it was; publish a correction instead",
            kind.as_str(),
            period.code()
        ))
    })
}

/// Prepares (or prepares again) the weekly summary's draft of a period, until it is published.
#[utoipa::path(
    post,
    path = "/reports/weekly/draft",
    tag = "reports",
    params(PeriodParam),
    responses(
        (status = 200, description = "The draft, prepared now", body = Draft),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
        (status = 409, description = "The period is published"),
    )
)]
pub async fn draft_weekly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<PeriodParam>, QueryRejection>,
) -> Result<Json<Draft>> {
    let period = period_of(ReportKind::Weekly, query(q, "period")?.period.as_deref())?;
    regenerate(&state, &actor, ReportKind::Weekly, period).await
}

/// Prepares (or prepares again) the monthly bulletin's draft of a period, until it is published.
#[utoipa::path(
    post,
    path = "/reports/monthly/draft",
    tag = "reports",
    params(PeriodParam),
    responses(
        (status = 200, description = "The draft, prepared now", body = Draft),
        (status = 403, description = "Needs the dispatcher, leader or admin role"),
        (status = 409, description = "The period is published"),
    )
)]
pub async fn draft_monthly(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<PeriodParam>, QueryRejection>,
) -> Result<Json<Draft>> {
    let period = period_of(ReportKind::Monthly, query(q, "period")?.period.as_deref())?;
    regenerate(&state, &actor, ReportKind::Monthly, period).await
}

/// How often the schedule looks for a draft to prepare.
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Prepares the drafts due by `now` that no server has prepared yet: the last week's from Monday 08:00, the
/// last month's and quarter's from 08:00 on the 1st (county time). One server at a time (a transaction-level
/// advisory lock; the others skip this round), and a draft is made once: a period with a draft or a
/// publication is left alone. Returns what this call prepared.
pub async fn prepare_due_drafts(state: &AppState, now: DateTime<Utc>) -> Result<Vec<(ReportKind, String)>> {
    let mut tx = state.pool.begin().await?;
    if !db::reports::try_schedule_lock(&mut tx).await? {
        return Ok(Vec::new());
    }
    let mut prepared = Vec::new();
    for kind in ReportKind::ALL {
        let period = kind.due_period(now);
        let code = period.code();
        if db::reports::drafted_or_published(&mut tx, kind.as_str(), &code).await? {
            continue;
        }
        let (body, _) = county_body(state, kind, period).await?;
        if db::reports::save_draft(&mut tx, kind.as_str(), &code, &body, None).await?.is_some() {
            prepared.push((kind, code));
        }
    }
    tx.commit().await?;
    for (kind, code) in &prepared {
        tracing::info!(kind = kind.as_str(), period = %code, "report draft prepared on schedule");
    }
    Ok(prepared)
}

/// Runs [`prepare_due_drafts`] now and every minute, for as long as the server runs.
pub fn spawn_schedule(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SCHEDULE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let run = prepare_due_drafts(&state, Utc::now()).await;
            crate::metrics::METRICS.report_schedule.record(&run);
            if let Err(e) = run {
                tracing::warn!(error = %e, "the report schedule could not prepare its drafts; it tries again in a minute");
            }
        }
    });
}

/// A report or a board, as computed or as stored.
pub(crate) enum Stored {
    Report(Box<Report>),
    Ranking(Box<Ranking>),
}

impl Stored {
    /// A publication's body, by its kind.
    fn read(publication: &Publication, body: &Value) -> Result<Stored> {
        let unreadable = |e: serde_json::Error| {
            Error::Internal(anyhow::anyhow!("publication {} no longer reads as its kind: {e}", publication.id))
        };
        Ok(if publication.kind == ReportKind::Ranking.as_str() {
            Stored::Ranking(Box::new(serde_json::from_value(body.clone()).map_err(unreadable)?))
        } else {
            Stored::Report(Box::new(serde_json::from_value(body.clone()).map_err(unreadable)?))
        })
    }

    /// The file name, in Chinese and in ASCII: `月通报-2026-11`, `monthly-2026-11`.
    fn names(&self) -> (String, String) {
        let (kind, period) = match self {
            Stored::Report(r) if r.period.kind == crate::domain::report::PeriodKind::Week => {
                (ReportKind::Weekly, r.period)
            }
            Stored::Report(r) => (ReportKind::Monthly, r.period),
            Stored::Ranking(r) => (ReportKind::Ranking, r.period),
        };
        let scope = match self {
            Stored::Report(r) => match &r.scope {
                crate::domain::report::ReportScope::County => String::new(),
                crate::domain::report::ReportScope::Town { code, .. } => format!("-{code}"),
                crate::domain::report::ReportScope::Unit { id, .. } => format!("-unit{id}"),
            },
            Stored::Ranking(_) => String::new(),
        };
        (format!("{}-{}{scope}", kind.title_zh(), period.code()), format!("{}-{}{scope}", kind.as_str(), period.code()))
    }
}

/// A document of a report or board.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Document {
    Pdf,
    Xlsx,
}

/// Writes a report or board as a document and answers with it, as an attachment with a Chinese file name.
async fn send(state: &AppState, stored: Stored, document: Document) -> Result<Response> {
    use axum::http::{HeaderValue, header};
    let (name, ascii) = stored.names();
    let (bytes, content_type, extension) = match document {
        Document::Pdf => {
            let rendered = super::closeout::render_pdf(state.settings.cjk_font.clone(), move |font| match &stored {
                Stored::Report(r) => crate::reports::pdf::report_pdf(r, font),
                Stored::Ranking(r) => crate::reports::pdf::ranking_pdf(r, font),
            })
            .await?;
            match rendered {
                Ok(bytes) => (bytes, "application/pdf", "pdf"),
                Err(font_missing) => return Ok(font_missing),
            }
        }
        Document::Xlsx => {
            let bytes = tokio::task::spawn_blocking(move || match &stored {
                Stored::Report(r) => crate::reports::xlsx::report_xlsx(r),
                Stored::Ranking(r) => crate::reports::xlsx::ranking_xlsx(r),
            })
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .map_err(Error::Internal)?;
            (bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
        }
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_DISPOSITION,
            super::closeout::file_disposition(
                "attachment",
                &format!("{ascii}.{extension}"),
                &format!("{name}.{extension}"),
            ),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
    ];
    Ok((headers, bytes).into_response())
}

async fn live_document(
    state: &AppState,
    actor: &Actor,
    kind: ReportKind,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
    document: Document,
) -> Result<Response> {
    let (report, _) = live_report(state, actor, kind, query(q, REPORT_PARAMS)?).await?;
    send(state, Stored::Report(Box::new(report)), document).await
}

/// The weekly summary as a PDF: totals, the per-town table, the worst overdue sites and the charts.
#[utoipa::path(
    get,
    path = "/reports/weekly.pdf",
    operation_id = "weekly_pdf",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The weekly summary (周总结) as an A4 PDF", body = String, content_type = "application/pdf"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
        (status = 503, description = "The server has no Chinese font (the message names the package to install)"),
    )
)]
pub async fn weekly_pdf(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response> {
    live_document(&state, &actor, ReportKind::Weekly, q, Document::Pdf).await
}

/// The weekly summary's tables as a workbook (the annex).
#[utoipa::path(
    get,
    path = "/reports/weekly.xlsx",
    operation_id = "weekly_xlsx",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The weekly summary's tables: totals, towns, overdue sites, trend", body = String, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
    )
)]
pub async fn weekly_xlsx(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response> {
    live_document(&state, &actor, ReportKind::Weekly, q, Document::Xlsx).await
}

/// The monthly bulletin as a PDF: totals, the per-town table, the worst overdue sites and the charts.
#[utoipa::path(
    get,
    path = "/reports/monthly.pdf",
    operation_id = "monthly_pdf",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The monthly bulletin (月通报) as an A4 PDF", body = String, content_type = "application/pdf"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
        (status = 503, description = "The server has no Chinese font (the message names the package to install)"),
    )
)]
pub async fn monthly_pdf(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response> {
    live_document(&state, &actor, ReportKind::Monthly, q, Document::Pdf).await
}

/// The monthly bulletin's tables as a workbook (the annex).
#[utoipa::path(
    get,
    path = "/reports/monthly.xlsx",
    operation_id = "monthly_xlsx",
    tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The monthly bulletin's tables: totals, towns, overdue sites, trend", body = String, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
    )
)]
pub async fn monthly_xlsx(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response> {
    live_document(&state, &actor, ReportKind::Monthly, q, Document::Xlsx).await
}

async fn stored_document(state: &AppState, id: &str, document: Document) -> Result<Response> {
    let (publication, body) = stored(state, id).await?;
    send(state, Stored::read(&publication, &body)?, document).await
}

/// A publication as the PDF it was published as (drawn again from the stored body).
#[utoipa::path(
    get,
    path = "/publications/{id}/report.pdf",
    operation_id = "publication_pdf",
    tag = "reports",
    params(("id" = i64, Path, description = "The publication's id")),
    responses(
        (status = 200, description = "The published report or board as an A4 PDF", body = String, content_type = "application/pdf"),
        (status = 404, description = "No such publication"),
    )
)]
pub async fn publication_pdf(State(state): State<AppState>, _actor: Actor, Path(id): Path<String>) -> Result<Response> {
    stored_document(&state, &id, Document::Pdf).await
}

/// A publication's tables as a workbook.
#[utoipa::path(
    get,
    path = "/publications/{id}/report.xlsx",
    operation_id = "publication_xlsx",
    tag = "reports",
    params(("id" = i64, Path, description = "The publication's id")),
    responses(
        (status = 200, description = "The published report's or board's tables", body = String, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, description = "No such publication"),
    )
)]
pub async fn publication_xlsx(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response> {
    stored_document(&state, &id, Document::Xlsx).await
}
