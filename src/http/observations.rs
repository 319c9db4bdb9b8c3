//! `POST /api/v1/observations`: an inspector's visit, with photos, as `multipart/form-data`.
//!
//! Order of work, cheapest refusal first: read the parts within their limits; parse the JSON; verify
//! declared photo hashes (a cut-short upload stops here); answer a replay from the database; validate;
//! decode and thumbnail the photos off the async runtime; store the files (content-addressed, so a failure
//! after this leaves at most unreferenced files, never half a record); record everything in one transaction.

use axum::Json;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ApiJson, AppState, Error, Result};
use crate::db;
use crate::db::observations::{NewPhoto, Outcome};
use crate::domain::auth::{Actor, Permission};
use crate::domain::observation::{HAZARD_TYPES_MAX, NOTES_CHARS_MAX, NewObservation, ObservationInput};
use crate::photos::PhotoStore;
use crate::photos::process::{self, PhotoError, ProcessedPhoto};

/// The JSON part is small; anything bigger is a mistake.
const OBSERVATION_JSON_BYTES_MAX: usize = 256 * 1024;

pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    if !actor.can(Permission::RecordObservation) {
        return Err(Error::Forbidden("recording observations needs the inspector role".into()));
    }
    let mut multipart = multipart.map_err(|e| {
        Error::BadRequest(format!(
            "{}; send multipart/form-data with a part named \"observation\" (JSON) and parts named \"photo\"",
            e.body_text()
        ))
    })?;
    let limits = state.settings.photo_limits;
    let mut observation: Option<Bytes> = None;
    let mut photos: Vec<Bytes> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("observation") if observation.is_none() => {
                observation = Some(read_part(field, OBSERVATION_JSON_BYTES_MAX, "the observation part").await?);
            }
            Some("observation") => {
                return Err(Error::BadRequest("send exactly one part named \"observation\"".into()));
            }
            Some("photo") => {
                if photos.len() == state.settings.photos_per_observation_max {
                    return Err(Error::PayloadTooLarge(format!(
                        "at most {} photos per observation",
                        state.settings.photos_per_observation_max
                    )));
                }
                let what = format!("photo {}", photos.len() + 1);
                photos.push(read_part(field, limits.bytes_max, &what).await?);
            }
            other => {
                return Err(Error::BadRequest(format!(
                    "unexpected part {:?}; send one part named \"observation\" and zero or more named \"photo\"",
                    other.unwrap_or("").chars().take(64).collect::<String>()
                )));
            }
        }
    }
    let observation =
        observation.ok_or_else(|| Error::BadRequest("the part named \"observation\" (JSON) is missing".into()))?;
    let input: ObservationInput = serde_json::from_slice(&observation)
        .map_err(|e| Error::BadRequest(format!("observation is not valid: {e}")))?;

    let photo_hashes: Vec<[u8; 32]> = photos.iter().map(|p| Sha256::digest(p).into()).collect();
    verify_declared_hashes(input.photo_sha256.as_deref(), &photo_hashes)?;
    let content_sha256 = content_hash(&input, &photo_hashes, actor.user_id);

    if let Some(response) = replay(&state, &actor, input.id, &content_sha256).await? {
        return Ok(response);
    }

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

    let processed = tokio::task::spawn_blocking(move || {
        photos
            .iter()
            .enumerate()
            .map(|(i, bytes)| process::process(bytes, limits).map(|p| (p, bytes.clone())).map_err(|e| (i, e)))
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|(i, e)| photo_error(i, e))?;

    let mut new_photos = Vec::with_capacity(processed.len());
    for (photo, original) in processed {
        new_photos.push(store_photo(&state.photos, &photo, original).await?);
    }

    let outcome = db::observations::record(
        &state.pool,
        &obs,
        actor.user_id,
        &content_sha256,
        &new_photos,
        &state.settings.county_admin_code,
    )
    .await?;
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
    }
}

/// `GET /api/v1/observations/{id}`: the same body the upload answered.
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a UUID")))?;
    Ok(Json(body(&state, &actor, id).await?))
}

/// What an inspector may correct after recording: the notes and the hazard types. Place, time, checklist
/// and photos are evidence and stay as recorded.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationEdit {
    notes: Option<String>,
    hazard_types: Option<Vec<String>>,
}

/// `PATCH /api/v1/observations/{id}`: the author corrects notes or hazard types within the edit window; the
/// change is recorded as a site event with the values before and after.
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

/// Reads one part, refusing it as soon as it passes its limit (the rest is never buffered).
async fn read_part(mut field: Field<'_>, bytes_max: usize, what: &str) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > bytes_max {
            return Err(Error::PayloadTooLarge(format!("{what} is larger than the limit of {bytes_max} bytes")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(format!("the request is too large: {}", e.body_text()))
    } else {
        Error::BadRequest(format!("the multipart body cannot be read: {}", e.body_text()))
    }
}

/// A phone that declares its photos' SHA-256 gets a guarantee: a photo cut short in transit is refused
/// (and can be sent again) instead of being stored as a grey-bottomed picture.
fn verify_declared_hashes(declared: Option<&[String]>, actual: &[[u8; 32]]) -> Result<()> {
    let Some(declared) = declared else {
        return Ok(());
    };
    if declared.len() != actual.len() {
        return Err(Error::BadRequest(format!(
            "photo_sha256 lists {} hashes but {} photo parts arrived; the upload was probably cut short, send it again",
            declared.len(),
            actual.len()
        )));
    }
    for (i, (declared, actual)) in declared.iter().zip(actual).enumerate() {
        let actual = hex::encode(actual);
        if !declared.eq_ignore_ascii_case(&actual) {
            return Err(Error::BadRequest(format!(
                "photo {}: its SHA-256 is {actual} but photo_sha256[{i}] declares {:?}; the photo was damaged or \
                 cut short in transit, send it again",
                i + 1,
                declared.chars().take(80).collect::<String>()
            )));
        }
    }
    Ok(())
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

fn photo_error(index: usize, e: PhotoError) -> Error {
    let message = format!("photo {}: {e}", index + 1);
    match e {
        PhotoError::UnsupportedFormat { .. } => Error::UnsupportedMediaType(message),
        PhotoError::TooLarge { .. } => Error::PayloadTooLarge(message),
        PhotoError::TooManyPixels { .. } | PhotoError::Corrupt(_) => Error::Unprocessable(message),
        PhotoError::Truncated => Error::BadRequest(message),
    }
}

async fn store_photo(store: &PhotoStore, p: &ProcessedPhoto, original: Bytes) -> Result<NewPhoto> {
    let sha = p.sha256_hex();
    let original_key = PhotoStore::original_key(&sha, p.format.extension());
    let thumbnail_key = PhotoStore::thumbnail_key(&sha);
    store.put(&original_key, original).await?;
    store.put(&thumbnail_key, Bytes::from(p.thumbnail_jpeg.clone())).await?;
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    Ok(NewPhoto {
        sha256: p.sha256,
        content_type: p.format.content_type(),
        bytes: i32::try_from(p.bytes).unwrap_or(i32::MAX),
        width: int(p.width),
        height: int(p.height),
        exif_taken_at: p.exif.taken_at,
        exif_location: p.exif.location,
        exif_direction_deg: p.exif.direction_deg.map(|d| d as f32),
        exif_orientation: p.exif.orientation.map(|o| o as i16),
        original_key,
        thumbnail_key,
        thumbnail_width: int(p.thumbnail_width),
        thumbnail_height: int(p.thumbnail_height),
    })
}
