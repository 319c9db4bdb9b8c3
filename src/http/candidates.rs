//! The candidates queue (候选点段, issue 12 part 5): black spots from screening runs and patrol or drone
//! detections wait here for a person. Nothing found by data enters the ledger without one: a dispatcher
//! confirms a candidate (a new site opens, or an open site of its kind within 50 m is linked) or dismisses it
//! with a reason. Dispatchers, reviewers, leaders and admins read every candidate, a town office its town's.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiJson, AppState, Error, Result};
use crate::db;
use crate::db::candidates::{CandidateFilter, Decision, Refusal};
use crate::domain::auth::{Actor, Permission};
use crate::domain::crash::{CONFIRM_LINK_RADIUS_M, CandidateSource, CandidateStatus};
use crate::domain::site::SiteKind;

pub const PAGE_SIZE_DEFAULT: i64 = 100;
pub const PAGE_SIZE_MAX: i64 = 500;
/// The queue's bbox is a county's, not a province's.
const BBOX_AREA_DEG2_MAX: f64 = 4.0;
/// A dismissal's reason, as the `candidate_reason_length` constraint says.
pub const REASON_CHARS_MAX: usize = 1000;

fn require(actor: &Actor, permission: Permission) -> Result<()> {
    if actor.can(permission) {
        return Ok(());
    }
    Err(Error::Forbidden(match permission {
        Permission::DecideCandidates => {
            "confirming and dismissing candidates is the dispatchers' (市交安办) work".into()
        }
        _ => "the candidates queue is read by dispatchers, reviewers, leaders, admins and town offices".into(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `open` (the queue), `confirmed` or `dismissed`; absent: all.
    status: Option<String>,
    /// `crash_analysis`, `smart_patrol` or `drone`.
    source: Option<String>,
    /// `intersection`, `section` or `spot`.
    kind: Option<String>,
    /// A town's admin code (9 digits).
    town: Option<String>,
    /// minlon,minlat,maxlon,maxlat in WGS-84 degrees (at most 4 square degrees).
    bbox: Option<String>,
    /// Leave out candidates scoring below this. Absent: detections below the server's
    /// `detection_min_confidence` (GET /settings) are left out; `0` shows them.
    min_score: Option<f64>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse_code<T: std::str::FromStr<Err = crate::domain::site::UnknownCode>>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<String>> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(|_| Some(v.to_string())).map_err(|e| Error::BadRequest(format!("{name}: {e}"))),
    }
}

/// Open candidates (or others by `status`) from every source as a GeoJSON FeatureCollection, best score
/// first: place, source, kind, score, rank, crash counts, town and road.
#[utoipa::path(
    get,
    path = "/candidates",
    operation_id = "list_candidates",
    tag = "candidates",
    params(ListParams),
    responses(
        (status = 200, description = "A FeatureCollection; `next_cursor` names the next page when there is one", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is malformed (the message names it)"),
        (status = 403, description = "Not a role that reads candidates"),
    )
)]
pub async fn list(State(state): State<AppState>, actor: Actor, Query(p): Query<ListParams>) -> Result<Response> {
    require(&actor, Permission::ReadCandidates)?;
    let limit = p.limit.unwrap_or(PAGE_SIZE_DEFAULT);
    if !(1..=PAGE_SIZE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit: a whole number from 1 to {PAGE_SIZE_MAX}")));
    }
    if p.min_score.is_some_and(|m| !m.is_finite()) {
        return Err(Error::BadRequest("min_score: a number".into()));
    }
    let town = p.town.filter(|t| !t.is_empty());
    if town.as_ref().is_some_and(|t| t.len() != 9 || !t.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Error::BadRequest("town: a town's admin code, 9 digits".into()));
    }
    let filter = CandidateFilter {
        status: parse_code::<CandidateStatus>("status", p.status.as_deref())?,
        source: parse_code::<CandidateSource>("source", p.source.as_deref())?,
        kind: parse_code::<SiteKind>("kind", p.kind.as_deref())?,
        town_code: town,
        bbox: p
            .bbox
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| super::sites::parse_bbox(b, Some(BBOX_AREA_DEG2_MAX)))
            .transpose()?,
        min_score: p.min_score,
        detection_min_confidence: state.settings.detection_min_confidence,
        town_scope: actor.candidate_town(),
        limit,
        after: p.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_cursor).transpose()?,
    };
    let (body, next) = db::candidates::list(&state.pool, &filter).await?;
    let mut body: Value = serde_json::from_str(&body).map_err(|e| Error::Internal(e.into()))?;
    body["next_cursor"] = json!(next.map(|(score, id)| format!("{score}~{id}")));
    body["min_score"] = json!(p.min_score.unwrap_or(state.settings.detection_min_confidence));
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"))], Json(body)).into_response())
}

/// A cursor is the last feature's `score~id`, as `list` wrote it.
fn parse_cursor(cursor: &str) -> Result<(f64, i64)> {
    cursor
        .split_once('~')
        .and_then(|(score, id)| Some((score.parse::<f64>().ok().filter(|s| s.is_finite())?, id.parse::<i64>().ok()?)))
        .ok_or_else(|| Error::BadRequest("cursor: pass the next_cursor of the previous page".into()))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::BadRequest(format!("{:?} is not a candidate id", id.chars().take(40).collect::<String>()))
    })
}

async fn detail(state: &AppState, actor: &Actor, id: i64) -> Result<Value> {
    db::candidates::detail(&state.pool, id, actor.candidate_town())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no candidate {id}")))
}

/// One candidate with what stands behind it: its crashes (time, severity, type, casualties; newest first, at
/// most 500) or its detection with the image's links; a decided one names its site or its reason.
#[utoipa::path(
    get,
    path = "/candidates/{id}",
    operation_id = "show_candidate",
    tag = "candidates",
    params(("id" = i64, Path, description = "The candidate id")),
    responses(
        (status = 200, description = "The candidate as a GeoJSON Feature", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "The id is not a candidate id"),
        (status = 403, description = "Not a role that reads candidates"),
        (status = 404, description = "No such candidate (in your town)"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Response> {
    require(&actor, Permission::ReadCandidates)?;
    let body = detail(&state, &actor, parse_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"))], Json(body)).into_response())
}

/// The open sites of the candidate's kind within 50 m, nearest first: a confirmation may link one of them
/// (`site_id`) instead of opening a new site.
#[utoipa::path(
    get,
    path = "/candidates/{id}/nearby-sites",
    operation_id = "candidate_nearby_sites",
    tag = "candidates",
    params(("id" = i64, Path, description = "The candidate id")),
    responses(
        (status = 200, description = "The open sites near it (id, code, kind, status, source, town, road, stake, distance_m)", body = Object),
        (status = 400, description = "The id is not a candidate id"),
        (status = 403, description = "Not a role that reads candidates"),
        (status = 404, description = "No such candidate (in your town)"),
    )
)]
pub async fn nearby_sites(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    require(&actor, Permission::ReadCandidates)?;
    let id = parse_id(&id)?;
    detail(&state, &actor, id).await?;
    let mut conn = state.pool.acquire().await?;
    let sites = db::candidates::nearby_sites(&mut conn, id).await?;
    Ok(Json(json!({ "radius_m": CONFIRM_LINK_RADIUS_M, "sites": sites })))
}

/// How a dispatcher confirms: link an open site (`site_id`, from nearby-sites) or open a new one
/// (`new_site: true`). Exactly one of the two.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    #[serde(default)]
    site_id: Option<Uuid>,
    #[serde(default)]
    new_site: bool,
}

/// Confirms a candidate into the ledger: a new site (status `reported`, source = the candidate's, its place,
/// town, road and stake; an `opened` event naming the candidate) or the open site named by `site_id` (same
/// kind, within 50 m; a `candidate_linked` event). One transaction; a candidate decided already is a 409.
#[utoipa::path(
    post,
    path = "/candidates/{id}/confirm",
    operation_id = "confirm_candidate",
    tag = "candidates",
    params(("id" = i64, Path, description = "The candidate id")),
    request_body = Confirm,
    responses(
        (status = 200, description = "Confirmed: the candidate, naming its site", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "The body is malformed, or names neither or both of site_id and new_site"),
        (status = 403, description = "Dispatchers only"),
        (status = 404, description = "No such candidate, or no such site"),
        (status = 409, description = "`candidate_decided`: someone confirmed or dismissed it already"),
        (status = 422, description = "`site_too_far`, `site_other_kind`, `site_not_open`: the site may not be linked"),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<Response> {
    require(&actor, Permission::DecideCandidates)?;
    let id = parse_id(&id)?;
    let decision = match (body.site_id, body.new_site) {
        (Some(site), false) => Decision::LinkSite(site),
        (None, true) => Decision::OpenSite,
        _ => {
            return Err(Error::BadRequest(
                "send either site_id (an open site near it, see nearby-sites) or new_site: true".into(),
            ));
        }
    };
    decide(&state, &actor, id, decision).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dismiss {
    /// Why it is not a hazard to act on: 1 to 1000 characters.
    reason: String,
}

/// Dismisses a candidate with a reason; it stays in the record, never in the ledger.
#[utoipa::path(
    post,
    path = "/candidates/{id}/dismiss",
    operation_id = "dismiss_candidate",
    tag = "candidates",
    params(("id" = i64, Path, description = "The candidate id")),
    request_body = Dismiss,
    responses(
        (status = 200, description = "Dismissed: the candidate with its reason", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "The body is malformed"),
        (status = 403, description = "Dispatchers only"),
        (status = 404, description = "No such candidate"),
        (status = 409, description = "`candidate_decided`: someone confirmed or dismissed it already"),
        (status = 422, description = "The reason is missing or longer than 1000 characters"),
    )
)]
pub async fn dismiss(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Dismiss>,
) -> Result<Response> {
    require(&actor, Permission::DecideCandidates)?;
    let id = parse_id(&id)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_CHARS_MAX {
        return Err(Error::Unprocessable(format!(
            "reason: say why it is not a hazard to act on, 1 to {REASON_CHARS_MAX} characters"
        )));
    }
    decide(&state, &actor, id, Decision::Dismiss(reason.to_string())).await
}

async fn decide(state: &AppState, actor: &Actor, id: i64, decision: Decision) -> Result<Response> {
    match db::candidates::decide(&state.pool, id, &decision, actor, actor.candidate_town()).await? {
        Ok(site) => {
            tracing::info!(candidate = id, site = ?site, by = %actor.name, "candidate decided");
        }
        Err(Refusal::NoSuchCandidate) => return Err(Error::NotFound(format!("no candidate {id}"))),
        Err(Refusal::NoSuchSite(site)) => return Err(Error::NotFound(format!("site_id: no site {site}"))),
        Err(Refusal::AlreadyDecided { status, decided_by }) => {
            return Err(Error::Refused {
                status: StatusCode::CONFLICT,
                code: "candidate_decided",
                message: format!(
                    "candidate {id} is {status} already{}; reload the queue",
                    decided_by.as_deref().map(|b| format!(" (by {b})")).unwrap_or_default()
                ),
                facts: json!({ "status": status, "decided_by": decided_by }),
            });
        }
        Err(Refusal::SiteNotLinkable { reason, distance_m }) => {
            let message = match reason {
                "site_other_kind" => "site_id: the site is of another kind than the candidate".to_string(),
                "site_not_open" => "site_id: the site is not open; open a new site instead".to_string(),
                _ => format!(
                    "site_id: the site is {distance_m:.0} m from the candidate; a linked site is within \
                     {CONFIRM_LINK_RADIUS_M:.0} m"
                ),
            };
            return Err(Error::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: reason,
                message,
                facts: json!({ "distance_m": distance_m.round(), "radius_m": CONFIRM_LINK_RADIUS_M }),
            });
        }
    }
    let body = detail(state, actor, id).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"))], Json(body)).into_response())
}

/// A site's crash history and, once closed, its crashes before and after the treatment (did it work?). Kept
/// apart from the site's detail: crashes are imported without the site changing, so they are not part of the
/// site's version (its ETag).
#[utoipa::path(
    get,
    path = "/sites/{id}/crashes",
    operation_id = "site_crashes",
    tag = "candidates",
    params(("id" = String, Path, description = "The site id (a UUID)")),
    responses(
        (status = 200, description = "`crashes`: those behind the candidates confirmed into it, newest first (at most 500); `before_after`: null until the site is closed, then the crashes within 50 m in equal periods before the first dispatch and after the last close (as many days as have passed since the close, at most 3 years)", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such site in your scope"),
    )
)]
pub async fn site_crashes(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a site id (a UUID)")))?;
    db::sites::summary(&state.pool, id, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    Ok(Json(db::candidates::site_crashes(&state.pool, id).await?))
}
