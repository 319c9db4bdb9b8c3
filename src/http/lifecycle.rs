//! Moving a site through its lifecycle (`POST /api/v1/sites/{id}/actions`) and recording remediation
//! evidence for a checklist item (`POST /api/v1/sites/{id}/items/{code}/evidence`).
//!
//! Every state change needs `If-Match` with the site's ETag (from `GET /api/v1/sites/{id}`): a missing one
//! is 428, a stale one 412, so two officers working on one site never overwrite each other.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::limits::UploadBody;
use super::{ApiJson, AppState, Error, Result, uploads};
use crate::db;
use crate::db::photos::PhotoOwner;
use crate::domain::auth::Actor;
use crate::domain::lifecycle::{
    ActionKind, Dispatch, Move, Party, RECTIFIER, Supervision, china_date, is_rectifier, transition,
};
use crate::domain::photo_evidence::{self, PhotoEvidenceInput};
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteStatus, SupervisionLevel};
use crate::domain::site_detail::SiteDetail;

const REASON_CHARS_MAX: usize = 1000;
const SUPPORTING_UNITS_MAX: usize = 10;

/// The body of an action: one variant per action, with only its fields. Any other field is refused with a
/// 422 that names it, so a client never believes a field it sent was taken.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum ActionRequest {
    Verify {
        reason: Option<String>,
    },
    Reject {
        reason: Option<String>,
    },
    Merge {
        reason: Option<String>,
        into: Uuid,
    },
    Dispatch {
        reason: Option<String>,
        responsible_unit_id: i32,
        lead_unit_id: Option<i32>,
        #[serde(default)]
        supporting_unit_ids: Vec<i32>,
        hazard_level: Option<HazardLevel>,
        rectification_mode: Option<RectificationMode>,
        deadline: Option<NaiveDate>,
    },
    Accept {
        reason: Option<String>,
    },
    Start {
        reason: Option<String>,
    },
    RequestExtension {
        reason: Option<String>,
        deadline: NaiveDate,
    },
    DecideExtension {
        reason: Option<String>,
        approve: bool,
    },
    RequestCloseOut {
        reason: Option<String>,
    },
    Approve {
        reason: Option<String>,
    },
    Return {
        reason: Option<String>,
    },
    Cancel {
        reason: Option<String>,
    },
    Supervise {
        reason: Option<String>,
        supervision_level: SupervisionLevel,
        supervision_body: Option<String>,
        supervision_doc_no: Option<String>,
        supervision_due: Option<NaiveDate>,
    },
}

/// Every field some action takes: one of these sent with another action "does not apply" to it.
const ACTION_FIELDS: &[&str] = &[
    "reason",
    "into",
    "responsible_unit_id",
    "lead_unit_id",
    "supporting_unit_ids",
    "hazard_level",
    "rectification_mode",
    "deadline",
    "approve",
    "supervision_level",
    "supervision_body",
    "supervision_doc_no",
    "supervision_due",
];

/// What a required field of an action is, for the message when it is missing.
fn field_hint(field: &str) -> &'static str {
    match field {
        "responsible_unit_id" => "dispatch names the responsible unit (see GET /api/v1/organisations)",
        "into" => "the id of the surviving site",
        "deadline" => "the new deadline asked for",
        "approve" => "true or false",
        "supervision_level" => "none, town, county, prefecture or province",
        _ => "required",
    }
}

/// Reads an action's body: the action first (an unknown one lists those accepted; a look-back is refused, it
/// is done on site), then its fields, each error a 422 naming the field.
fn parse_action(id: Uuid, body: serde_json::Value) -> Result<ActionRequest> {
    let name = body
        .get("action")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Error::Unprocessable("action: which move to make, e.g. {\"action\": \"verify\"}".into()))?;
    let action: ActionKind = name.parse().map_err(|e| Error::Unprocessable(format!("action: {e}")))?;
    if action.party() == Party::Inspector {
        return Err(Error::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "look_back_on_site",
            format!(
                "action: {action} is recorded on site, as the inspector's look-back observation: POST \
                 /api/v1/observations with \"look_back\": {{\"site_id\": \"{id}\", \"result\": \"pass\" or \"relapse\"}}"
            ),
        ));
    }
    serde_json::from_value(body).map_err(|e| {
        let message = e.to_string();
        let quoted =
            |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
        if let Some(field) = quoted("unknown field `") {
            if ACTION_FIELDS.contains(&field.as_str()) {
                return Error::Unprocessable(format!("{field} does not apply to {action}"));
            }
            return Error::Unprocessable(format!("{message} (for {action})"));
        }
        if let Some(field) = quoted("missing field `") {
            return Error::Unprocessable(format!("{field}: {}", field_hint(&field)));
        }
        Error::Unprocessable(format!("{action}: {message}"))
    })
}

fn expected_version(headers: &HeaderMap) -> Result<i32> {
    let value = headers.get(header::IF_MATCH).ok_or_else(|| Error::PreconditionRequired(
        "send If-Match with the site's ETag from GET /api/v1/sites/{id}, so a change made meanwhile is not overwritten".into(),
    ))?;
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"').trim_start_matches('v'))
        .and_then(|v| v.parse::<i32>().ok())
        .ok_or_else(|| Error::BadRequest("If-Match must be the site's ETag, e.g. \"v3\"".into()))
}

/// Moves a site through its lifecycle: one action, with only its own fields.
#[utoipa::path(
    post,
    path = "/sites/{id}/actions",
    tag = "lifecycle",
    params(("id" = String, Path, description = "The site id (a UUID)"), ("If-Match" = String, Header, description = "The site's ETag from GET /sites/{id}, e.g. \"v3\"")),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "The site after the move, with its new ETag", body = SiteDetail, content_type = "application/geo+json", headers(("ETag" = String, description = "`\"v<version>\"`: send it back in If-Match to change the site"))),
        (status = 400, description = "The id is not a UUID, or If-Match is malformed"),
        (status = 404, description = "No such site in your scope"),
        (status = 409, description = "The move is not allowed from the site's status, or a rule refuses it (`code` says which)"),
        (status = 412, description = "If-Match names an older version: reload the site"),
        (status = 415, description = "The body is not JSON"),
        (status = 422, description = "An unknown action, a missing field, or a field that does not apply to the action (named)"),
        (status = 428, description = "If-Match is missing"),
    )
)]
pub async fn act(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a site id (a UUID)")))?;
    let req = parse_action(id, body)?;
    let expected = expected_version(&headers)?;
    let (reason, action) = validate(&state, req).await?;
    let scope = actor.site_scope();

    let mut tx = state.pool.begin().await?;
    let site =
        db::lifecycle::lock(&mut tx, id, &scope).await?.ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    check_version(site.version, expected)?;
    let facts = db::lifecycle::facts(&mut tx, &site).await?;
    let t = transition(site.status(), action.kind(), &actor, &facts, reason.as_deref())?;
    match &action {
        Move::Merge { into } => {
            db::lifecycle::merge_target_ok(&mut tx, &site, *into, &scope)
                .await?
                .map_err(|m| Error::Unprocessable(m.into()))?;
        }
        Move::RequestExtension { deadline: new } => {
            if let Some(old) = site.deadline
                && *new <= old
            {
                return Err(Error::Refused {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "deadline_not_later",
                    message: format!("deadline: the new deadline must be after the current one ({old})"),
                    facts: serde_json::json!({ "deadline": old }),
                });
            }
        }
        _ => {}
    }
    db::lifecycle::apply(&mut tx, &site, &t, &actor, reason.as_deref(), &action).await?;
    tx.commit().await?;
    tracing::info!(site = %id, action = %t.event, from = %t.from, to = %t.to, by = %actor.name, "site moved");
    super::site_view::detail_response(&state, &actor, id).await
}

/// A change of a site is made to the version its author saw, or not at all.
fn check_version(version: i32, expected: i32) -> Result<()> {
    if version == expected {
        return Ok(());
    }
    Err(Error::PreconditionFailed(format!(
        "the site changed since you loaded it (you had version {expected}, it is now {version}); reload and try again"
    )))
}

fn past_deadline(deadline: NaiveDate) -> Error {
    Error::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "deadline_past",
        message: format!("deadline: {deadline} is in the past"),
        facts: serde_json::json!({ "deadline": deadline }),
    }
}

/// Checks what an action carries against its limits and the database, filling defaults (a dispatch's level,
/// mode and deadline): the reason, trimmed, and the move.
async fn validate(state: &AppState, req: ActionRequest) -> Result<(Option<String>, Move)> {
    use ActionRequest as R;
    let today = china_date(Utc::now());
    let (reason, action) = match req {
        R::Verify { reason } => (reason, Move::Verify),
        R::Reject { reason } => (reason, Move::Reject),
        R::Accept { reason } => (reason, Move::Accept),
        R::Start { reason } => (reason, Move::Start),
        R::RequestCloseOut { reason } => (reason, Move::RequestCloseOut),
        R::Approve { reason } => (reason, Move::Approve),
        R::Return { reason } => (reason, Move::Return),
        R::Cancel { reason } => (reason, Move::Cancel),
        R::Merge { reason, into } => (reason, Move::Merge { into }),
        R::DecideExtension { reason, approve } => (reason, Move::DecideExtension { approve }),
        R::RequestExtension { reason, deadline } => {
            if deadline < today {
                return Err(past_deadline(deadline));
            }
            (reason, Move::RequestExtension { deadline })
        }
        R::Dispatch {
            reason,
            responsible_unit_id,
            lead_unit_id,
            supporting_unit_ids,
            hazard_level,
            rectification_mode,
            deadline,
        } => {
            let level = hazard_level.unwrap_or(HazardLevel::General);
            let mode = rectification_mode.unwrap_or(RectificationMode::Deadline);
            if supporting_unit_ids.len() > SUPPORTING_UNITS_MAX {
                return Err(Error::Unprocessable(format!("supporting_unit_ids: at most {SUPPORTING_UNITS_MAX}")));
            }
            let mut all: Vec<i32> = vec![responsible_unit_id];
            all.extend(lead_unit_id);
            all.extend(&supporting_unit_ids);
            let missing = db::lifecycle::missing_organisations(&state.pool, &all).await?;
            if !missing.is_empty() {
                return Err(Error::Unprocessable(format!("no organisation with id {missing:?}")));
            }
            let deadline = match deadline {
                Some(d) => d,
                None => {
                    let days = state.settings.deadlines.default_days(level, mode).ok_or_else(|| {
                        Error::refused(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "deadline_required",
                            "deadline: a major hazard's deadline follows its approved plan; give it",
                        )
                    })?;
                    today + chrono::Days::new(days)
                }
            };
            if deadline < today {
                return Err(past_deadline(deadline));
            }
            let dispatch = Dispatch {
                responsible_unit_id,
                lead_unit_id,
                supporting_unit_ids,
                hazard_level: level,
                rectification_mode: mode,
                deadline,
            };
            (reason, Move::Dispatch(dispatch))
        }
        R::Supervise { reason, supervision_level, supervision_body, supervision_doc_no, supervision_due } => {
            let level = supervision_level;
            let text = |v: Option<String>, field: &str| -> Result<Option<String>> {
                let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
                if v.as_ref().is_some_and(|s| s.chars().count() > 128) {
                    return Err(Error::Unprocessable(format!("{field}: at most 128 characters")));
                }
                Ok(v)
            };
            let body = text(supervision_body, "supervision_body")?;
            let doc_no = text(supervision_doc_no, "supervision_doc_no")?;
            if level != SupervisionLevel::None && (body.is_none() || doc_no.is_none()) {
                return Err(Error::Unprocessable(
                    "listed supervision names its issuing body (supervision_body) and document number (supervision_doc_no)"
                        .into(),
                ));
            }
            (reason, Move::Supervise(Supervision { level, body, doc_no, due: supervision_due }))
        }
    };
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > REASON_CHARS_MAX) {
        return Err(Error::Unprocessable(format!("reason: at most {REASON_CHARS_MAX} characters")));
    }
    Ok((reason, action))
}

/// `GET /api/v1/look-backs`: open look-back tasks the user may see, soonest due first.
#[utoipa::path(
    get,
    path = "/look-backs",
    tag = "lifecycle",
    responses(
        (status = 200, description = "The open look-back (回头看) tasks in your scope", body = Object),
    )
)]
pub async fn look_backs(State(state): State<AppState>, actor: Actor) -> Result<axum::Json<serde_json::Value>> {
    let tasks = db::lookback::open_tasks(&state.pool, &actor.site_scope()).await?;
    Ok(axum::Json(serde_json::json!(tasks)))
}

/// The period of a look-back summary; both ends are county dates and inclusive.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// The first day, `YYYY-MM-DD` (default: 1 January of this year).
    from: Option<NaiveDate>,
    /// The last day (default: today).
    to: Option<NaiveDate>,
}

/// The longest period one summary covers.
const PERIOD_DAYS_MAX: i64 = 3 * 366;

/// `GET /api/v1/look-backs/towns?from=&to=`: per town, the look-backs done in the period (default: this year
/// so far), passes and relapses, and the tasks open now. Relapses count against the town.
#[utoipa::path(
    get,
    path = "/look-backs/towns",
    tag = "lifecycle",
    params(Period),
    responses(
        (status = 200, description = "`from`, `to`, `towns` and `total`: per town, look-backs done, passes, relapses, tasks open", body = Object),
        (status = 400, description = "A date is malformed, the period is reversed or too long"),
    )
)]
pub async fn look_backs_by_town(
    State(state): State<AppState>,
    actor: Actor,
    query: std::result::Result<Query<Period>, QueryRejection>,
) -> Result<axum::Json<serde_json::Value>> {
    let Query(period) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let today = china_date(Utc::now());
    let to = period.to.unwrap_or(today);
    let from = period.from.unwrap_or_else(|| today.with_ordinal(1).expect("day 1 exists"));
    if from > to {
        return Err(Error::Unprocessable(format!("from ({from}) is after to ({to})")));
    }
    if (to - from).num_days() > PERIOD_DAYS_MAX {
        return Err(Error::Unprocessable(format!("a period covers at most {PERIOD_DAYS_MAX} days")));
    }
    let towns = db::lookback::by_town(&state.pool, &actor.site_scope(), from, to, today).await?;
    let sum = |f: fn(&db::lookback::TownLookBacks) -> i64| towns.iter().map(f).sum::<i64>();
    let total = serde_json::json!({
        "done": sum(|t| t.done), "passed": sum(|t| t.passed), "relapsed": sum(|t| t.relapsed),
        "open": sum(|t| t.open), "overdue": sum(|t| t.overdue),
    });
    Ok(axum::Json(serde_json::json!({ "from": from, "to": to, "towns": towns, "total": total })))
}

/// `POST /api/v1/look-backs/plan`: the dispatcher applies the look-back policy (run it monthly; running it
/// again picks nobody twice).
#[utoipa::path(
    post,
    path = "/look-backs/plan",
    tag = "lifecycle",
    responses(
        (status = 200, description = "The tasks planned now, by the look-back policy", body = Object),
    )
)]
pub async fn plan_look_backs(State(state): State<AppState>, actor: Actor) -> Result<axum::Json<serde_json::Value>> {
    if !actor.has(crate::domain::auth::Role::Dispatcher) {
        return Err(Error::Forbidden("planning look-backs needs the dispatcher role".into()));
    }
    let planned = db::lookback::plan(&state.pool, &state.settings.look_back, &actor, china_date(Utc::now())).await?;
    tracing::info!(by = %actor.name, ?planned, "look-backs planned");
    Ok(axum::Json(serde_json::json!(planned)))
}

/// The `evidence` part of an evidence upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    state: ItemState,
    quantity: Option<i32>,
    /// Measurements by the template's field codes, e.g. `{"distance_m": 150}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    measured: serde_json::Map<String, serde_json::Value>,
    installed_on: Option<NaiveDate>,
    installer: Option<String>,
    reason: Option<String>,
    /// What each photo's original said (its EXIF: time, place, direction, camera, size), read by the client
    /// before resizing: one entry per photo, in the order of the photo parts (after-photos and night photos as
    /// sent). Checked against the site's place and the time of this upload; a photo far away or days off is
    /// flagged, never refused.
    #[serde(default)]
    photo_evidence: Option<Vec<PhotoEvidenceInput>>,
}

/// The parts of an evidence upload (documentation: `uploads::read` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EvidenceForm {
    /// The evidence as JSON (one part, first).
    evidence: EvidenceInput,
    /// After-photos, JPEG or PNG, one part each.
    #[schema(value_type = Vec<String>, format = Binary)]
    photo: Vec<Vec<u8>>,
    /// Night photos, where the item asks for them.
    #[schema(value_type = Vec<String>, format = Binary)]
    night_photo: Vec<Vec<u8>>,
}

/// Remediation evidence for one item: its state, quantities, measured values, who installed it and when,
/// and after-photos (`photo` parts) and night photos (`night_photo` parts). Taken from whoever rectifies the
/// site while it is in progress.
#[utoipa::path(
    post,
    path = "/sites/{id}/items/{code}/evidence",
    tag = "lifecycle",
    params(("id" = String, Path, description = "The site id (a UUID)"), ("code" = String, Path, description = "The checklist item code, e.g. `line`"), ("If-Match" = String, Header, description = "The site's ETag")),
    request_body(content = EvidenceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The site with the evidence recorded, and its new ETag", body = SiteDetail, content_type = "application/geo+json", headers(("ETag" = String, description = "`\"v<version>\"`: send it back in If-Match to change the site"))),
        (status = 400, description = "The id or a part is malformed"),
        (status = 404, description = "No such site in your scope, or no such item on its checklist"),
        (status = 409, description = "The site is not in progress"),
        (status = 412, description = "If-Match names an older version: reload the site"),
        (status = 413, description = "A photo or the whole upload is too large"),
        (status = 408, description = "The body arrived too slowly (see the upload settings): send it again"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "The evidence is not valid (the message names the field)"),
        (status = 428, description = "If-Match is missing"),
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
        (status = 507, description = "The photo store is full: nothing was recorded"),
    )
)]
pub async fn evidence(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, code)): Path<(String, String)>,
    headers: HeaderMap,
    mut body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a site id (a UUID)")))?;
    let expected = expected_version(&headers)?;
    let limits = state.settings.photo_limits;
    let upload = uploads::read(
        multipart,
        &mut body,
        "evidence",
        &["photo", "night_photo"],
        state.settings.photos_per_observation_max,
        limits.bytes_max,
    )
    .await?;
    crate::metrics::METRICS.upload_evidence_bytes.observe(upload.bytes());
    let input: EvidenceInput =
        serde_json::from_slice(&upload.json).map_err(|e| Error::BadRequest(format!("evidence is not valid: {e}")))?;
    let input = check_evidence(input)?;

    // Refuse before storing files: the site must be visible, in progress, and the actor one of its rectifiers.
    let scope = actor.site_scope();
    {
        let mut conn = state.pool.acquire().await?;
        let site = db::lifecycle::lock(&mut conn, id, &scope)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
        check_version(site.version, expected)?;
        check_rectifier(&actor, &mut conn, &site).await?;
    }
    let nights: Vec<bool> = upload.photos.iter().map(|(name, _)| name == "night_photo").collect();
    let files: Vec<Bytes> = upload.photos.into_iter().map(|(_, bytes)| bytes).collect();
    let submitted_at = Utc::now();
    let originals = match &input.photo_evidence {
        Some(entries) => Some(
            photo_evidence::validate(entries, files.len(), submitted_at)
                .map_err(|e| Error::Unprocessable(e.to_string()))?,
        ),
        None => None,
    };
    let mut photos = uploads::process_and_store(&state, &mut body, files).await?;

    let mut tx = state.pool.begin().await?;
    let site =
        db::lifecycle::lock(&mut tx, id, &scope).await?.ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    check_version(site.version, expected)?;
    check_rectifier(&actor, &mut tx, &site).await?;
    if !db::lifecycle::has_item(&mut tx, id, &code).await? {
        return Err(Error::NotFound(format!("this site's checklist has no item {code:?}")));
    }
    if !photos.is_empty() {
        // The photos document the work at the site, now: checked against its place (read under the lock) and
        // this upload's time.
        let place = db::lifecycle::site_place(&mut tx, id).await?;
        uploads::flag_photos(&state, &mut photos, originals.as_deref(), &place, submitted_at);
    }
    let record = db::lifecycle::EvidenceRecord {
        state: input.state,
        quantity: input.quantity,
        measured: input.measured,
        installed_on: input.installed_on,
        installer: input.installer,
        reason: input.reason,
    };
    let evidence_id = db::lifecycle::record_evidence(&mut tx, id, &code, &record, &actor).await?;
    for (position, (photo, night)) in photos.iter().zip(&nights).enumerate() {
        let owner =
            if *night { PhotoOwner::EvidenceNight(evidence_id) } else { PhotoOwner::EvidenceAfter(evidence_id) };
        db::photos::insert(&mut tx, owner, position as i16, photo).await?;
    }
    let status = site.status();
    let data = serde_json::json!({
        "item": code, "state": record.state, "evidence_id": evidence_id,
        "photos": photos.iter().zip(&nights).map(|(p, night)| serde_json::json!({
            "sha256": hex::encode(p.sha256), "role": if *night { "night" } else { "after" },
        })).collect::<Vec<_>>(),
    });
    let event =
        db::lifecycle::NewEvent { from: Some(status), data, ..db::lifecycle::NewEvent::new("evidence_submitted") };
    db::lifecycle::insert_event(&mut tx, id, &actor, event).await?;
    tx.commit().await?;
    let mut response = super::site_view::detail_response(&state, &actor, id).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

fn check_evidence(mut input: EvidenceInput) -> Result<EvidenceInput> {
    if input.state == ItemState::Verified {
        return Err(Error::Unprocessable("state: \"verified\" is set by the reviewer's acceptance".into()));
    }
    if input.state == ItemState::NotApplicable && input.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::Unprocessable("reason: not_applicable needs a reason".into()));
    }
    if input.quantity.is_some_and(|q| !(0..=10_000).contains(&q)) {
        return Err(Error::Unprocessable("quantity: a whole number from 0 to 10000".into()));
    }
    if input.measured.len() > 32 || serde_json::to_string(&input.measured).map_or(0, |s| s.len()) > 8192 {
        return Err(Error::Unprocessable("measured: at most 32 values and 8 KB".into()));
    }
    input.installer = input.installer.map(|i| i.trim().to_string()).filter(|i| !i.is_empty());
    if input.installer.as_ref().is_some_and(|i| i.chars().count() > 128) {
        return Err(Error::Unprocessable("installer: at most 128 characters".into()));
    }
    if input.reason.as_ref().is_some_and(|r| r.chars().count() > REASON_CHARS_MAX) {
        return Err(Error::Unprocessable(format!("reason: at most {REASON_CHARS_MAX} characters")));
    }
    Ok(input)
}

/// Evidence comes from the site's rectifiers while the work is in progress.
async fn check_rectifier(actor: &Actor, conn: &mut sqlx::PgConnection, site: &db::lifecycle::LockedSite) -> Result<()> {
    if site.status() != SiteStatus::InProgress {
        return Err(Error::Refused {
            status: StatusCode::CONFLICT,
            code: "evidence_status",
            message: format!("evidence is recorded while a site is in_progress; this one is {}", site.status),
            facts: serde_json::json!({ "site_status": site.status }),
        });
    }
    let facts = db::lifecycle::facts(conn, site).await?;
    if is_rectifier(actor, &facts) {
        Ok(())
    } else {
        Err(Error::refused(StatusCode::FORBIDDEN, "not_rectifier", format!("evidence comes from {RECTIFIER}")))
    }
}
