//! One site as every handler answers it: the Feature with its checklist, observations and events, and its
//! version as the ETag. The read (`sites::show`) and every change (`lifecycle`) answer with it, so both depend
//! on this module and neither on the other.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::{AppState, Error, Result};
use crate::db::sites;
use crate::domain::auth::Actor;

/// The ETag of a site version.
pub fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"v{version}\"")).expect("digits make a valid header")
}

/// One site as a Feature, with its version as the ETag that state changes must send back in `If-Match`.
pub async fn detail_response(state: &AppState, actor: &Actor, id: Uuid) -> Result<Response> {
    let (feature, version) = sites::detail(&state.pool, id, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json")),
        (header::ETAG, etag(version)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    // Serialised from the type, not passed through as PostgreSQL wrote it: the same JSON (a test holds the
    // two equal), and the one shape the OpenAPI document describes.
    let body = serde_json::to_string(&feature).map_err(|e| Error::Internal(e.into()))?;
    Ok((headers, body).into_response())
}
