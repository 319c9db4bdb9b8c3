//! Reference data for the pages: towns and roads (the default map background), hazard types and checklist
//! templates.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{AppState, Result};
use crate::db::reference;
use crate::domain::auth::Actor;

const GEOJSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/geo+json");
const JSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/json");

/// The county's towns with their boundaries.
#[utoipa::path(
    get,
    path = "/towns",
    operation_id = "towns",
    tag = "reference",
    responses(
        (status = 200, description = "The towns as a GeoJSON FeatureCollection", body = Object, content_type = "application/geo+json"),
    )
)]
pub async fn towns(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([GEOJSON], reference::towns_geojson(&state.pool).await?))
}

/// The county's roads, for the map.
#[utoipa::path(
    get,
    path = "/roads",
    operation_id = "roads",
    tag = "reference",
    responses(
        (status = 200, description = "The roads as a GeoJSON FeatureCollection", body = Object, content_type = "application/geo+json"),
    )
)]
pub async fn roads(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([GEOJSON], reference::roads_geojson(&state.pool).await?))
}

/// The hazard types an observation may name.
#[utoipa::path(
    get,
    path = "/hazard-types",
    tag = "reference",
    responses(
        (status = 200, description = "Hazard types: code, group, name, name_en", body = Object),
    )
)]
pub async fn hazard_types(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([JSON], reference::hazard_types_json(&state.pool).await?))
}

/// The checklist templates and their items.
#[utoipa::path(
    get,
    path = "/checklist-templates",
    tag = "reference",
    responses(
        (status = 200, description = "Checklist templates with their items", body = Object),
    )
)]
pub async fn templates(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([JSON], reference::templates_json(&state.pool).await?))
}
