//! Black-spot screening runs (事故多发点段筛查, issue 12): `POST /api/v1/screenings` runs one method over a data
//! window and answers the stored run with its ranked candidates; `GET /api/v1/screenings` lists recent runs,
//! `GET /api/v1/screenings/{id}` reads one. Dispatchers and administrators run screenings; reviewers and
//! leaders read them too.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Error, Result};
use crate::db;
use crate::db::screening::{RunError, RunRequest};
use crate::domain::auth::{Actor, Role};
use crate::domain::crash::ScreeningMethod;
use crate::domain::lifecycle::china_date;
use crate::domain::screening::DataWindow;

/// Most runs one page of `GET /api/v1/screenings` lists.
pub const PAGE_SIZE_MAX: i64 = 100;
/// The list pages no deeper than this.
const OFFSET_MAX: i64 = 100_000;

/// What a screening run is asked: the method, the parameters that differ from the county's defaults
/// (`GET /api/v1/settings` lists them under `screening`) and the data window (default: the last three years
/// up to today, exclusive).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningBody {
    /// `sliding_window`, `junction` or `dbscan`.
    pub method: String,
    /// Parameters of the method, e.g. `{"window_m": 500, "step_m": 100, "min_crashes": 3}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub window: WindowBody,
}

/// The crashes read: `occurred_at` in `[start, end)`, county dates.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

/// Runs may be started by the city office's dispatchers and by administrators.
fn may_run(actor: &Actor) -> Result<()> {
    if actor.has(Role::Dispatcher) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(Error::Forbidden("running a screening needs the dispatcher or admin role".into()))
    }
}

/// Runs are read by the roles who decide on candidates or oversee them.
fn may_read(actor: &Actor) -> Result<()> {
    if [Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin].iter().any(|r| actor.has(*r)) {
        Ok(())
    } else {
        Err(Error::Forbidden("screening runs are read by dispatchers, reviewers, leaders and administrators".into()))
    }
}

/// Runs a screening and stores it with its candidates (status open), in one transaction. The same method,
/// parameters and crashes always give the same candidates; open candidates of earlier runs of the method
/// that share a crash with the new ones are marked superseded.
#[utoipa::path(
    post,
    path = "/screenings",
    tag = "screening",
    request_body = ScreeningBody,
    responses(
        (status = 201, description = "The stored run and its candidates, by rank", body = Object),
        (status = 400, description = "Malformed body, unknown method or parameter, a parameter out of its range"),
        (status = 403, description = "Needs the dispatcher or admin role"),
        (status = 422, description = "Too many crashes in the window, too many candidates, or too slow"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    body: std::result::Result<Json<ScreeningBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>)> {
    may_run(&actor)?;
    let Json(body) = body.map_err(|e| Error::BadRequest(e.body_text()))?;
    let method: ScreeningMethod = body.method.parse().map_err(|e| Error::BadRequest(format!("method: {e}")))?;
    let defaults = &state.settings.screening;
    let parameters = defaults.of(method).apply(&body.parameters).map_err(|e| Error::BadRequest(e.to_string()))?;
    let window = DataWindow::new(body.window.start, body.window.end, china_date(Utc::now()), defaults.data_years)
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let request = RunRequest { parameters, window, run_by: &actor.name };
    let id = db::screening::run(&state.pool, &request).await.map_err(|e| match e {
        RunError::Database(e) if is_timeout(&e) => Error::Unprocessable(format!(
            "the run was stopped after {}: narrow the data window or raise the thresholds",
            db::screening::STATEMENT_TIMEOUT
        )),
        RunError::Database(e) => e.into(),
        other => Error::Unprocessable(other.to_string()),
    })?;
    tracing::info!(run = id, method = method.as_str(), by = %actor.name, "screening run stored");
    let run = db::screening::show(&state.pool, id).await?.ok_or_else(|| Error::NotFound("no such run".into()))?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// PostgreSQL's `query_canceled`: the run's statement timeout.
fn is_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "57014")
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Runs per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Runs to skip, newest first (default 0).
    offset: Option<i64>,
}

/// Recent screening runs, newest first, with how many there are.
#[utoipa::path(
    get,
    path = "/screenings",
    tag = "screening",
    params(ListParams),
    responses(
        (status = 200, description = "`{total, runs}`: a page of runs, newest first", body = Object),
        (status = 400, description = "limit or offset out of range"),
        (status = 403, description = "Needs the dispatcher, reviewer, leader or admin role"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    q: std::result::Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>> {
    may_read(&actor)?;
    let Query(p) = q.map_err(|e| Error::BadRequest(format!("{}; the parameters are limit, offset", e.body_text())))?;
    let limit = p.limit.unwrap_or(20);
    if !(1..=PAGE_SIZE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit = {limit} is outside 1–{PAGE_SIZE_MAX}")));
    }
    let offset = p.offset.unwrap_or(0);
    if !(0..=OFFSET_MAX).contains(&offset) {
        return Err(Error::BadRequest(format!("offset = {offset} is outside 0–{OFFSET_MAX}")));
    }
    Ok(Json(db::screening::list(&state.pool, limit, offset).await?))
}

/// One run: its method, parameters, window, fingerprint of the crashes read, and its candidates by rank, each
/// with its crashes, score, dominant crash type and time band, town, road and stakes, and geometry.
#[utoipa::path(
    get,
    path = "/screenings/{id}",
    tag = "screening",
    params(("id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "`{run, candidates}`", body = Object),
        (status = 403, description = "Needs the dispatcher, reviewer, leader or admin role"),
        (status = 404, description = "No such run"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    may_read(&actor)?;
    let id: i64 = id.parse().map_err(|_| Error::NotFound(format!("no screening run {id:?}")))?;
    let run = db::screening::show(&state.pool, id).await?;
    run.map(Json).ok_or_else(|| Error::NotFound(format!("no screening run {id}")))
}
