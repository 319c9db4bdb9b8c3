//! `POST /api/v1/detections`: a smart-patrol vehicle or a drone reports what it found, as
//! `multipart/form-data` with one `detection` part (JSON) and at most one `image`. The detection is stored
//! with its **candidate**, never as a site: a dispatcher decides (`http::candidates`). Idempotent by the
//! sender's id like observations: the same id and content answers 200 with the stored record, other content
//! 409. Only an account with the `detector` role sends (its API token; the account cannot sign in).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::auth::DetectionSender;
use super::{AppState, Error, Result, uploads};
use crate::db;
use crate::db::candidates::{DetectionImage, Recorded};
use crate::domain::auth::{Actor, Permission};
use crate::domain::detection::{DetectionInput, NewDetection};

/// The parts of a detection (documentation: `uploads::read` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DetectionForm {
    /// The detection as JSON (one part).
    detection: DetectionInput,
    /// The detector's image, JPEG or PNG (optional, at most one; the photo limits of GET /settings apply).
    #[schema(value_type = Option<String>, format = Binary)]
    image: Option<Vec<u8>>,
}

/// Records a detection and its candidate for the dispatchers' queue. Retries with the same id and content
/// answer 200 with the stored record.
#[utoipa::path(
    post,
    path = "/detections",
    operation_id = "record_detection",
    tag = "candidates",
    request_body(content = DetectionForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Recorded with its candidate (Location names the detection)", body = Object),
        (status = 200, description = "The same detection was already recorded (a retry): the stored record", body = Object),
        (status = 400, description = "The detection part is not valid JSON of this shape"),
        (status = 403, description = "Only a detection system's account (role `detector`) sends detections"),
        (status = 409, description = "This id was recorded with different content"),
        (status = 413, description = "The image is too large"),
        (status = 415, description = "The body is not multipart/form-data, or the image is not JPEG or PNG"),
        (status = 422, description = "A field breaks a rule (the message names it), or the image has too many pixels"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    DetectionSender(actor): DetectionSender,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    if !actor.can(Permission::SendDetections) {
        return Err(Error::Forbidden("detections are sent by a detection system's account (role detector)".into()));
    }
    let limits = state.settings.photo_limits;
    let upload = uploads::read(multipart, "detection", &["image"], 1, limits.bytes_max).await?;
    let input: DetectionInput =
        serde_json::from_slice(&upload.json).map_err(|e| Error::BadRequest(format!("detection is not valid: {e}")))?;
    let image = upload.photos.into_iter().next().map(|(_, bytes)| bytes);
    let image_sha256: Option<[u8; 32]> = image.as_ref().map(|b| Sha256::digest(b).into());
    let content_sha256 = content_hash(&input, image_sha256.as_ref(), actor.user_id);

    // A replay is answered before anything is checked again or stored.
    if let Some(stored) = db::candidates::detection_content_hash(&state.pool, input.id).await? {
        return replay_or_conflict(&state, input.id, &stored, &content_sha256).await;
    }
    let detection = NewDetection::validate(input, Utc::now()).map_err(|e| Error::Unprocessable(e.to_string()))?;
    if let Some(code) = &detection.hazard_type {
        let unknown = db::reference::unknown_hazard_types(&state.pool, std::slice::from_ref(code)).await?;
        if !unknown.is_empty() {
            return Err(Error::Unprocessable(format!(
                "hazard_type: unknown code {code:?}; see GET /api/v1/hazard-types, or send only the label"
            )));
        }
    }
    let stored_image = match image {
        Some(bytes) => {
            let photo = uploads::process_and_store(&state, vec![bytes]).await?.remove(0);
            Some(DetectionImage {
                sha256: photo.sha256,
                key: photo.original_key,
                thumbnail_key: photo.thumbnail_key,
                width: photo.width,
                height: photo.height,
            })
        }
        None => None,
    };
    let outcome = db::candidates::record_detection(
        &state.pool,
        &detection,
        &actor.display_name,
        stored_image.as_ref(),
        &content_sha256,
        &state.settings.county_admin_code,
    )
    .await?;
    match outcome {
        Recorded::Created => {
            tracing::info!(detection = %detection.id, platform = %detection.platform, by = %actor.name, "detection recorded");
            let body = body(&state, detection.id).await?;
            let location = format!("/api/v1/detections/{}", detection.id);
            Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
        }
        Recorded::Replayed => Ok((StatusCode::OK, Json(body(&state, detection.id).await?)).into_response()),
        Recorded::Conflict => Err(conflict(detection.id)),
    }
}

async fn replay_or_conflict(state: &AppState, id: Uuid, stored: &[u8], content_sha256: &[u8; 32]) -> Result<Response> {
    if stored == content_sha256 {
        Ok((StatusCode::OK, Json(body(state, id).await?)).into_response())
    } else {
        Err(conflict(id))
    }
}

fn conflict(id: Uuid) -> Error {
    Error::Conflict(format!(
        "detection {id} was already recorded with different content; a new detection needs a new id"
    ))
}

async fn body(state: &AppState, id: Uuid) -> Result<Value> {
    db::candidates::detection(&state.pool, id).await?.ok_or_else(|| Error::NotFound(format!("no detection {id}")))
}

/// The detection as parsed (whitespace and key order do not matter), its image's hash, and who sent it.
fn content_hash(input: &DetectionInput, image_sha256: Option<&[u8; 32]>, user_id: Uuid) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(input).unwrap_or_default());
    hasher.update(image_sha256.map_or(&[0u8; 32][..], |h| &h[..]));
    hasher.update(user_id.as_bytes());
    hasher.finalize().into()
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        Error::BadRequest(format!("{:?} is not a detection id (a UUID)", id.chars().take(40).collect::<String>()))
    })
}

/// Reading detections is reading the queue: the dispatchers and those who read candidates.
fn require_reader(actor: &Actor) -> Result<()> {
    if actor.can(Permission::ReadCandidates) {
        Ok(())
    } else {
        Err(Error::Forbidden("detections are read by dispatchers, reviewers, leaders, admins and town offices".into()))
    }
}

/// One detection with its candidate and image links.
#[utoipa::path(
    get,
    path = "/detections/{id}",
    operation_id = "show_detection",
    tag = "candidates",
    params(("id" = String, Path, description = "The detection id (a UUID)")),
    responses(
        (status = 200, description = "The detection as its upload answered", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 403, description = "Not a role that reads candidates"),
        (status = 404, description = "No such detection"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    require_reader(&actor)?;
    Ok(Json(body(&state, parse_id(&id)?).await?))
}

/// A detection's image, byte for byte.
#[utoipa::path(
    get,
    path = "/detections/{id}/image",
    operation_id = "detection_image",
    tag = "candidates",
    params(("id" = String, Path, description = "The detection id (a UUID)")),
    responses(
        (status = 200, description = "The image (JPEG or PNG); cacheable for a year", body = String, content_type = "image/*"),
        (status = 400, description = "The id is not a UUID"),
        (status = 403, description = "Not a role that reads candidates"),
        (status = 404, description = "No such detection, or it came without an image"),
    )
)]
pub async fn image(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    serve_image(&state, &actor, &id, &headers, false).await
}

/// A detection's thumbnail (JPEG, longest side 320 px).
#[utoipa::path(
    get,
    path = "/detections/{id}/thumbnail",
    operation_id = "detection_thumbnail",
    tag = "candidates",
    params(("id" = String, Path, description = "The detection id (a UUID)")),
    responses(
        (status = 200, description = "The thumbnail (JPEG)", body = String, content_type = "image/jpeg"),
        (status = 400, description = "The id is not a UUID"),
        (status = 403, description = "Not a role that reads candidates"),
        (status = 404, description = "No such detection, or it came without an image"),
    )
)]
pub async fn thumbnail(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    serve_image(&state, &actor, &id, &headers, true).await
}

async fn serve_image(
    state: &AppState,
    actor: &Actor,
    id: &str,
    headers: &HeaderMap,
    thumbnail: bool,
) -> Result<Response> {
    require_reader(actor)?;
    let id = parse_id(id)?;
    let (key, thumbnail_key, sha) = db::candidates::image_keys(&state.pool, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no image of detection {id}")))?;
    // The image never changes under its detection: its hash is its ETag.
    let etag = format!("\"{}{}\"", hex::encode(sha), if thumbnail { "-t" } else { "" });
    let cache = [
        (header::ETAG, HeaderValue::from_str(&etag).map_err(|e| Error::Internal(e.into()))?),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable")),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let (key, content_type) = if thumbnail {
        (thumbnail_key, "image/jpeg")
    } else {
        let content_type = if key.ends_with(".png") { "image/png" } else { "image/jpeg" };
        (key, content_type)
    };
    let bytes = state.photos.get(&key).await?;
    Ok((cache, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], bytes).into_response())
}
