//! `POST /api/v1/detections`: a smart-patrol vehicle or a drone reports what it found, as
//! `multipart/form-data` with one `detection` part (JSON) and at most one `image`. The detection is stored
//! with its **candidate**, never as a site: a dispatcher decides (`http::candidates`). Idempotent by the
//! sender's id like observations: the same id and content answers 200 with the stored record, other content
//! 409. Only an account with the `detector` role sends (its API token; the account cannot sign in).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::auth::DetectionSender;
use super::limits::UploadBody;
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
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
        (status = 507, description = "The photo store is full: nothing was recorded; send it again once the administrator has made room"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    DetectionSender(actor): DetectionSender,
    mut upload_body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    if !actor.can(Permission::SendDetections) {
        return Err(Error::Forbidden("detections are sent by a detection system's account (role detector)".into()));
    }
    let limits = state.settings.photo_limits;
    let upload = uploads::read(multipart, &mut upload_body, "detection", &["image"], 1, limits.bytes_max).await?;
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
            let photo = uploads::process_and_store(&state, &mut upload_body, vec![bytes]).await?.remove(0);
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
    let (key, content_type) = if thumbnail {
        (thumbnail_key, "image/jpeg")
    } else {
        let content_type = if key.ends_with(".png") { "image/png" } else { "image/jpeg" };
        (key, content_type)
    };
    super::photos::serve_immutable(state, etag, &key, content_type, headers).await
}

/// A file of detections a patrol or drone system exported: a GeoJSON FeatureCollection of points, each with
/// the fields of a detection (`POST /api/v1/detections`) as its properties, without images.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionFile {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    kind: String,
    features: Vec<DetectionFeature>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct DetectionFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: String,
    geometry: PointGeometry,
    properties: DetectionProperties,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct PointGeometry {
    /// `Point`.
    #[serde(rename = "type")]
    kind: String,
    /// Longitude and latitude in `crs`.
    coordinates: [f64; 2],
}

/// A detection's fields but its place, which is the feature's geometry.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionProperties {
    id: Uuid,
    platform: crate::domain::crash::DetectionPlatform,
    detected_at: chrono::DateTime<Utc>,
    #[serde(default)]
    crs: crate::domain::coords::SourceCrs,
    label: String,
    #[serde(default)]
    hazard_type: Option<String>,
    confidence: f64,
}

/// Most detections one file holds (the body is at most 2 MB in any case).
pub const IMPORT_FEATURES_MAX: usize = 5000;
/// Problems listed in a refusal; the rest are counted.
const IMPORT_PROBLEMS_SHOWN: usize = 100;

/// Imports a file of detections (GeoJSON, no images): all or nothing. Every feature is checked first, as the
/// API checks one detection, and against what is stored (an id stored with other content is a problem); any
/// problem refuses the file with the list. Otherwise each new detection is stored with its candidate and
/// those already stored are counted as known, so importing the same file again imports nothing.
#[utoipa::path(
    post,
    path = "/detection-imports",
    operation_id = "import_detections",
    tag = "candidates",
    request_body = DetectionFile,
    responses(
        (status = 200, description = "`features`, `imported` (new detections, each with its candidate), `known` (already stored) and `conflicts` (stored meanwhile by another request with other content)", body = Object),
        (status = 400, description = "The body is not a FeatureCollection of this shape"),
        (status = 403, description = "Dispatchers and admins import detections"),
        (status = 413, description = "More than 5000 features"),
        (status = 422, description = "`detection_import_problems`: `problems` lists each feature refused and why; nothing was stored"),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    actor: Actor,
    super::ApiJson(file): super::ApiJson<DetectionFile>,
) -> Result<Json<Value>> {
    if !actor.can(Permission::ImportDetections) {
        return Err(Error::Forbidden("dispatchers and admins import detection files".into()));
    }
    if file.kind != "FeatureCollection" {
        return Err(Error::BadRequest("type: a GeoJSON FeatureCollection".into()));
    }
    if file.features.len() > IMPORT_FEATURES_MAX {
        return Err(Error::PayloadTooLarge(format!(
            "{} features; a file holds at most {IMPORT_FEATURES_MAX}, split it",
            file.features.len()
        )));
    }
    let now = Utc::now();
    let mut problems: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(file.features.len());
    for (i, f) in file.features.into_iter().enumerate() {
        let id = f.properties.id;
        let problem = |text: String| serde_json::json!({ "feature": i, "id": id, "problem": text });
        if f.kind != "Feature" || f.geometry.kind != "Point" {
            problems.push(problem("a Feature with a Point geometry".into()));
            continue;
        }
        if !seen.insert(f.properties.id) {
            problems.push(problem("this id is in the file twice".into()));
            continue;
        }
        let p = f.properties;
        let input = DetectionInput {
            id: p.id,
            platform: p.platform,
            detected_at: p.detected_at,
            lon: f.geometry.coordinates[0],
            lat: f.geometry.coordinates[1],
            crs: p.crs,
            label: p.label,
            hazard_type: p.hazard_type,
            confidence: p.confidence,
        };
        let content_sha256 = content_hash(&input, None, actor.user_id);
        match NewDetection::validate(input, now) {
            Ok(d) => checked.push((i, d, content_sha256)),
            Err(e) => problems.push(problem(e.to_string())),
        }
    }
    let codes: Vec<String> = checked.iter().filter_map(|(_, d, _)| d.hazard_type.clone()).collect();
    let unknown = db::reference::unknown_hazard_types(&state.pool, &codes).await?;
    let mut new = Vec::new();
    let mut known = 0usize;
    for (i, d, content_sha256) in checked {
        if let Some(code) = d.hazard_type.as_ref().filter(|c| unknown.contains(c)) {
            problems.push(serde_json::json!({ "feature": i, "id": d.id, "problem": format!("hazard_type: unknown code {code:?}") }));
            continue;
        }
        match db::candidates::detection_content_hash(&state.pool, d.id).await? {
            None => new.push((d, content_sha256)),
            Some(stored) if stored == content_sha256 => known += 1,
            Some(_) => problems.push(serde_json::json!({
                "feature": i, "id": d.id, "problem": "this id was recorded with different content; a new detection needs a new id",
            })),
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p["feature"].as_u64());
        let count = problems.len();
        problems.truncate(IMPORT_PROBLEMS_SHOWN);
        return Err(Error::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "detection_import_problems",
            message: format!("{count} features cannot be imported; nothing was stored (see problems)"),
            facts: serde_json::json!({ "problems": problems, "problem_count": count }),
        });
    }
    let (mut imported, mut conflicts) = (0usize, 0usize);
    for (d, content_sha256) in &new {
        let outcome = db::candidates::record_detection(
            &state.pool,
            d,
            &actor.display_name,
            None,
            content_sha256,
            &state.settings.county_admin_code,
        )
        .await?;
        // Between the check above and now, another request may have stored the same id: the same content
        // (a retry of this file) is known, other content a conflict, reported and left as stored.
        match outcome {
            Recorded::Created => imported += 1,
            Recorded::Replayed => known += 1,
            Recorded::Conflict => conflicts += 1,
        }
    }
    tracing::info!(imported, known, conflicts, by = %actor.name, "detections imported");
    Ok(Json(serde_json::json!({
        "features": imported + known + conflicts, "imported": imported, "known": known, "conflicts": conflicts,
    })))
}
