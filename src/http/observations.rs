//! `POST /api/v1/observations`: an inspector's visit, with photos, as `multipart/form-data`.
//!
//! Order of work, cheapest refusal first: read the parts within their limits; parse the JSON; verify
//! declared photo hashes (a cut-short upload stops here); answer a replay from the database; validate;
//! decode and thumbnail the photos off the async runtime; store the files (content-addressed, so a failure
//! after this leaves at most unreferenced files, never half a record); record everything in one transaction.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::limits::UploadBody;
use super::{ApiJson, AppState, Error, Result, uploads};
use crate::db;
use crate::db::observations::Outcome;
use crate::domain::auth::{Actor, Permission};
use crate::domain::lifecycle::{ActionKind, Move, Relapse, china_date, transition};
use crate::domain::neighbourhood;
use crate::domain::observation::{
    HAZARD_TYPES_MAX, LookBack, LookBackResult, NOTES_CHARS_MAX, NamedSiteRefusal, NewObservation, ObservationInput,
};
use crate::domain::photo_evidence;

/// The parts of an observation upload (documentation: `uploads::read` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ObservationForm {
    /// The observation as JSON (one part, first).
    observation: ObservationInput,
    /// The photos, JPEG or PNG, one part each (at most `photos_per_observation_max`, see GET /settings).
    #[schema(value_type = Vec<String>, format = Binary)]
    photo: Vec<Vec<u8>>,
}

/// Records what an inspector saw on site, with photos: joins an open site of the same kind within 30 m or
/// opens a new one; with `site_id`, joins that open site of the same kind (within the look-back radius,
/// see GET /settings). Retries with the same id and content answer 200 with the stored body.
#[utoipa::path(
    post,
    path = "/observations",
    operation_id = "record_observation",
    tag = "observations",
    request_body(content = ObservationForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Recorded: the observation and the site it joined or opened (Location names it)", body = Object),
        (status = 200, description = "The same observation was already recorded (a retry): the stored answer", body = Object),
        (status = 400, description = "The observation part is not valid JSON of this shape, or a photo hash does not match"),
        (status = 404, description = "`site_id` names no site in your scope"),
        (status = 409, description = "This id was recorded with different content"),
        (status = 413, description = "A photo or the upload is too large"),
        (status = 408, description = "The body arrived too slowly (see the upload settings): send it again"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "A field breaks a rule (the message names it); `site_too_far`, `site_other_kind`, `site_not_open`: the site named by `site_id` may not be joined"),
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
        (status = 507, description = "The photo store is full: nothing was recorded; send it again once the administrator has made room"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    mut upload_body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    if !actor.can(Permission::RecordObservation) {
        return Err(Error::Forbidden("recording observations needs the inspector role".into()));
    }
    let limits = state.settings.photo_limits;
    let upload = uploads::read(
        multipart,
        &mut upload_body,
        "observation",
        &["photo"],
        state.settings.photos_per_observation_max,
        limits.bytes_max,
    )
    .await?;
    crate::metrics::METRICS.upload_observation_bytes.observe(upload.bytes());
    let observation = upload.json;
    let photos: Vec<Bytes> = upload.photos.into_iter().map(|(_, bytes)| bytes).collect();
    let input: ObservationInput = serde_json::from_slice(&observation)
        .map_err(|e| Error::BadRequest(format!("observation is not valid: {e}")))?;

    let photo_hashes: Vec<[u8; 32]> = photos.iter().map(|p| Sha256::digest(p).into()).collect();
    uploads::verify_declared_hashes(input.photo_sha256.as_deref(), &photo_hashes)?;
    let content_sha256 = content_hash(&input, &photo_hashes, actor.user_id);

    if let Some(response) = replay(&state, &actor, input.id, &content_sha256).await? {
        return Ok(response);
    }

    let input_evidence = input.photo_evidence.clone();
    let item_codes = db::reference::template_item_codes(&state.pool, input.kind.template_code()).await?;
    let obs = NewObservation::validate(input, Utc::now(), &item_codes, &actor.display_name)
        .map_err(|e| Error::Unprocessable(e.to_string()))?;
    let unknown = db::reference::unknown_hazard_types(&state.pool, &obs.hazard_types).await?;
    if !unknown.is_empty() {
        return Err(Error::Unprocessable(format!(
            "hazard_types: unknown codes {}; see GET /api/v1/hazard-types",
            unknown.join(", ")
        )));
    }

    if obs.look_back.is_some() && photos.is_empty() {
        return Err(Error::Unprocessable(
            "photo: a look-back is evidence of what the site looks like now; attach at least one photo".into(),
        ));
    }

    let evidence = match input_evidence {
        Some(entries) => Some(
            photo_evidence::validate(&entries, photos.len(), Utc::now())
                .map_err(|e| Error::Unprocessable(e.to_string()))?,
        ),
        None => None,
    };

    let mut new_photos = uploads::process_and_store(&state, &mut upload_body, photos).await?;
    uploads::flag_photos(&state, &mut new_photos, evidence.as_deref(), &obs.geometry, obs.observed_at);

    let outcome = match obs.look_back {
        None => {
            let scope = actor.site_scope();
            let ctx = db::observations::RecordContext {
                user_id: actor.user_id,
                scope: &scope,
                county_admin_code: &state.settings.county_admin_code,
                named_site_radius_m: state.settings.look_back_radius_m,
            };
            db::observations::record(&state.pool, &obs, &ctx, &content_sha256, &new_photos).await?
        }
        Some(look_back) => record_look_back(&state, &actor, &obs, look_back, &content_sha256, &new_photos).await?,
    };
    match outcome {
        Outcome::Created => {
            tracing::info!(observation = %obs.id, kind = %obs.kind, photos = new_photos.len(), "observation recorded");
            let body = body(&state, &actor, obs.id).await?;
            let location = format!("/api/v1/observations/{}", obs.id);
            Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
        }
        // A concurrent retry won the race: answer as a replay.
        Outcome::Replayed => Ok((StatusCode::OK, Json(body(&state, &actor, obs.id).await?)).into_response()),
        Outcome::Conflict => Err(conflict(obs.id)),
        Outcome::NoSuchSite(site_id) => Err(Error::NotFound(format!("site_id: no site {site_id}"))),
        Outcome::SiteRefused(refusal) => Err(named_site_refused(&refusal)),
    }
}

/// A named site (`site_id`) the observation may not join, as a 422 with a stable code and its values.
pub(super) fn named_site_refused(refusal: &NamedSiteRefusal) -> Error {
    let facts = match refusal {
        NamedSiteRefusal::OtherKind { site_kind, kind } => json!({ "site_kind": site_kind, "kind": kind }),
        NamedSiteRefusal::NotOpen { status } => json!({ "status": status }),
        NamedSiteRefusal::TooFar { distance_m, radius_m } => {
            json!({ "distance_m": distance_m.round(), "radius_m": radius_m })
        }
    };
    Error::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: refusal.code(),
        message: refusal.to_string(),
        facts,
    }
}

/// `GET /api/v1/observations/{id}`: the same body the upload answered.
#[utoipa::path(
    get,
    path = "/observations/{id}",
    operation_id = "show_observation",
    tag = "observations",
    params(("id" = String, Path, description = "The observation id (a UUID)")),
    responses(
        (status = 200, description = "The observation as its upload answered", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such observation in your scope"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a UUID")))?;
    Ok(Json(body(&state, &actor, id).await?))
}

/// What an inspector may correct after recording: the notes and the hazard types. Place, time, checklist
/// and photos are evidence and stay as recorded.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationEdit {
    notes: Option<String>,
    hazard_types: Option<Vec<String>>,
}

/// `PATCH /api/v1/observations/{id}`: the author corrects notes or hazard types within the edit window; the
/// change is recorded as a site event with the values before and after.
#[utoipa::path(
    patch,
    path = "/observations/{id}",
    operation_id = "edit_observation",
    tag = "observations",
    params(("id" = String, Path, description = "The observation id (a UUID)")),
    request_body = ObservationEdit,
    responses(
        (status = 200, description = "The corrected observation", body = Object),
        (status = 400, description = "The id is not a UUID, or the body is malformed"),
        (status = 403, description = "Only the inspector who recorded it, within the edit window"),
        (status = 404, description = "No such observation in your scope"),
        (status = 422, description = "A field breaks a rule"),
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<ObservationEdit>,
) -> Result<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a UUID")))?;
    let scope = actor.site_scope();
    let (author, received_at) = db::observations::author(&state.pool, id, &scope)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no observation {id}")))?;
    actor
        .may_edit_observation(author, Utc::now() - received_at, state.settings.observation_edit_window)
        .map_err(|e| Error::Forbidden(e.to_string()))?;
    let notes = change.notes.map(|n| n.trim().to_string());
    if notes.as_ref().is_some_and(|n| n.chars().count() > NOTES_CHARS_MAX) {
        return Err(Error::Unprocessable(format!("notes: at most {NOTES_CHARS_MAX} characters")));
    }
    let hazard_types = match change.hazard_types {
        Some(mut codes) => {
            if codes.len() > HAZARD_TYPES_MAX {
                return Err(Error::Unprocessable(format!("hazard_types: at most {HAZARD_TYPES_MAX} codes")));
            }
            codes.sort();
            codes.dedup();
            let unknown = db::reference::unknown_hazard_types(&state.pool, &codes).await?;
            if !unknown.is_empty() {
                return Err(Error::Unprocessable(format!("hazard_types: unknown codes {}", unknown.join(", "))));
            }
            Some(codes)
        }
        None => None,
    };
    if notes.is_none() && hazard_types.is_none() {
        return Err(Error::BadRequest("send notes and/or hazard_types to change".into()));
    }
    db::observations::edit(&state.pool, id, &actor, notes.as_deref(), hazard_types.as_deref()).await?;
    Ok(Json(body(&state, &actor, id).await?))
}

/// A look-back (回头看): the inspector, standing at a closed site, passes it or finds it relapsed. The visit
/// and the lifecycle move are one transaction under the site's row lock: the transition function decides
/// (the site must be closed, the actor an inspector), the open look-back task is completed by this
/// observation, and a relapse reopens the site with the failed items.
async fn record_look_back(
    state: &AppState,
    actor: &Actor,
    obs: &NewObservation,
    look_back: LookBack,
    content_sha256: &[u8; 32],
    photos: &[db::photos::NewPhoto],
) -> Result<Outcome> {
    let mut tx = state.pool.begin().await?;
    // The id's lock, as every upload takes it, so the replay check below is exact even for a retry that names
    // another site (the site's row lock alone would not serialise those).
    db::observations::take_locks(&mut tx, &neighbourhood::upload_locks(obs.id, obs.kind, None)).await?;
    let site_id = look_back.site_id;
    let site = db::lifecycle::lock(&mut tx, site_id, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::Unprocessable(format!("look_back.site_id: no site {site_id}")))?;
    // A retry that raced this one has committed by the time the lock is ours.
    if let Some(stored) = db::observations::content_hash(&mut tx, obs.id).await? {
        return Ok(if stored == content_sha256 { Outcome::Replayed } else { Outcome::Conflict });
    }
    if site.kind != obs.kind.as_str() {
        return Err(Error::Unprocessable(format!(
            "kind: the site is a {}, and its look-back is recorded against that checklist",
            site.kind
        )));
    }
    let distance = db::observations::distance_to_site(&mut tx, site_id, &obs.geometry.to_geojson()).await?;
    let radius = state.settings.look_back_radius_m;
    if distance > radius {
        return Err(Error::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "look_back_too_far",
            message: format!(
                "geometry: the look-back was recorded {distance:.0} m from the site; it is done on site, within \
                 {radius:.0} m"
            ),
            facts: json!({ "distance_m": distance.round(), "radius_m": radius }),
        });
    }
    let facts = db::lifecycle::facts(&mut tx, &site).await?;
    let (action, reason) = match look_back.result {
        LookBackResult::Pass => (ActionKind::LookBackPass, None),
        LookBackResult::Relapse => (ActionKind::LookBackRelapse, Some(obs.notes.clone())),
    };
    let t = transition(site.status(), action, actor, &facts, reason.as_deref())?;
    db::observations::insert_look_back(&mut tx, site_id, obs, actor.user_id, content_sha256, photos).await?;
    // A relapse reopens the site with a new deadline: the old one has passed.
    let action = match look_back.result {
        LookBackResult::Pass => Move::LookBackPass { observation_id: obs.id },
        LookBackResult::Relapse => {
            let days = state.settings.deadlines.relapse_days(site.hazard_level, site.rectification_mode);
            Move::LookBackRelapse(Relapse {
                observation_id: obs.id,
                failed_items: obs.failed_items(),
                deadline: china_date(Utc::now()) + chrono::Days::new(days),
            })
        }
    };
    db::lifecycle::apply(&mut tx, &site, &t, actor, reason.as_deref(), &action).await?;
    tx.commit().await?;
    tracing::info!(site = %site_id, result = %look_back.result, by = %actor.name, "look-back recorded");
    Ok(Outcome::Created)
}

async fn replay(state: &AppState, actor: &Actor, id: Uuid, content_sha256: &[u8; 32]) -> Result<Option<Response>> {
    let mut conn = state.pool.acquire().await?;
    match db::observations::content_hash(&mut conn, id).await? {
        None => Ok(None),
        Some(stored) if stored == content_sha256 => {
            Ok(Some((StatusCode::OK, Json(body(state, actor, id).await?)).into_response()))
        }
        Some(_) => Err(conflict(id)),
    }
}

fn conflict(id: Uuid) -> Error {
    Error::Conflict(format!(
        "observation {id} was already recorded with different content; a new observation needs a new id"
    ))
}

/// The answer for a recorded observation: the observation, its site (summary feature) and its photos.
async fn body(state: &AppState, actor: &Actor, id: Uuid) -> Result<Value> {
    let scope = actor.site_scope();
    let observation = db::observations::get(&state.pool, id, &scope)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no observation {id}")))?;
    let site = db::sites::summary(&state.pool, observation.site_id, &scope)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("observation {id} has no site")))?;
    let photos = db::observations::photos(&state.pool, id).await?;
    let site: Value = serde_json::from_str(&site).map_err(|e| Error::Internal(e.into()))?;
    Ok(json!({ "observation": observation, "site": site, "photos": photos }))
}

/// What "the same content" means for a replay: the observation as parsed (so JSON whitespace and key order
/// do not matter), the photos' hashes in order, and who sent it (another account reusing an id is a conflict,
/// never a replay of someone else's record). The declared hashes are left out: they are transport.
fn content_hash(input: &ObservationInput, photo_hashes: &[[u8; 32]], user_id: Uuid) -> [u8; 32] {
    let mut canonical = input.clone();
    canonical.photo_sha256 = None;
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&canonical).unwrap_or_default());
    for h in photo_hashes {
        hasher.update(h);
    }
    hasher.update(user_id.as_bytes());
    hasher.finalize().into()
}
