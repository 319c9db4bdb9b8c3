//! Photos at stable, content-addressed URLs: `/api/v1/photos/{sha256}` (the original, byte for byte) and
//! `/api/v1/photos/{sha256}/thumbnail` (JPEG, longest side 320 px). The bytes behind a URL never change,
//! so the signed-in browser may cache them for a year.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, Error, Result};
use crate::db;
use crate::domain::auth::Actor;

/// A photo as it was uploaded.
#[utoipa::path(
    get,
    path = "/photos/{sha256}",
    operation_id = "photo",
    tag = "photos",
    params(("sha256" = String, Path, description = "The photo's SHA-256, 64 hexadecimal digits"), ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy you have")),
    responses(
        (status = 200, description = "The photo byte for byte (JPEG or PNG); cacheable for a year", body = String, content_type = "image/*"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Not a SHA-256"),
        (status = 404, description = "No such photo in your scope"),
    )
)]
pub async fn original(
    State(state): State<AppState>,
    actor: Actor,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    serve(&state, &actor, &sha, &headers, false).await
}

/// A photo's thumbnail.
#[utoipa::path(
    get,
    path = "/photos/{sha256}/thumbnail",
    operation_id = "photo_thumbnail",
    tag = "photos",
    params(("sha256" = String, Path, description = "The photo's SHA-256, 64 hexadecimal digits"), ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy you have")),
    responses(
        (status = 200, description = "The thumbnail (JPEG, longest side 320 px)", body = String, content_type = "image/jpeg"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Not a SHA-256"),
        (status = 404, description = "No such photo in your scope"),
    )
)]
pub async fn thumbnail(
    State(state): State<AppState>,
    actor: Actor,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    serve(&state, &actor, &sha, &headers, true).await
}

async fn serve(state: &AppState, actor: &Actor, sha: &str, headers: &HeaderMap, thumbnail: bool) -> Result<Response> {
    let sha = sha.to_ascii_lowercase();
    let digest = hex::decode(&sha)
        .ok()
        .filter(|d| d.len() == 32)
        .ok_or_else(|| Error::BadRequest("a photo is addressed by its SHA-256: 64 hexadecimal digits".into()))?;
    let (original_key, thumbnail_key, content_type) = db::photos::keys(&state.pool, &digest, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no photo {sha}")))?;
    let etag = format!("\"{sha}{}\"", if thumbnail { "-t" } else { "" });
    let cache = [
        (header::ETAG, HeaderValue::from_str(&etag).map_err(|e| Error::Internal(e.into()))?),
        // Private: photos are evidence behind a sign-in; shared caches must not keep them.
        (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable")),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let (key, content_type) =
        if thumbnail { (thumbnail_key, "image/jpeg".to_string()) } else { (original_key, content_type) };
    // Streamed from the store as it arrives (an original may be 15 MiB, and on S3 it comes over the network),
    // with its length said up front so a browser can show progress.
    let (size, stream) = state.photos.get_stream(&key).await?;
    let content_type = HeaderValue::from_str(&content_type).map_err(|e| Error::Internal(e.into()))?;
    let length = [(header::CONTENT_TYPE, content_type), (header::CONTENT_LENGTH, HeaderValue::from(size))];
    Ok((cache, length, Body::from_stream(stream)).into_response())
}

/// An image whose bytes never change under its URL (a detection's image, a public report's photo): answered
/// from `key` in the photo store with `etag`, cached privately for a year, or `304` when the client has it.
pub(super) async fn serve_immutable(
    state: &AppState,
    etag: String,
    key: &str,
    content_type: &'static str,
    headers: &HeaderMap,
) -> Result<Response> {
    let cache = [
        (header::ETAG, HeaderValue::from_str(&etag).map_err(|e| Error::Internal(e.into()))?),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable")),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let bytes = state.photos.get(key).await?;
    Ok((cache, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], bytes).into_response())
}
