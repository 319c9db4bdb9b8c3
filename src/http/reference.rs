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

pub async fn towns(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([GEOJSON], reference::towns_geojson(&state.pool).await?))
}

pub async fn roads(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([GEOJSON], reference::roads_geojson(&state.pool).await?))
}

pub async fn hazard_types(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([JSON], reference::hazard_types_json(&state.pool).await?))
}

pub async fn templates(State(state): State<AppState>, _actor: Actor) -> Result<impl IntoResponse> {
    Ok(([JSON], reference::templates_json(&state.pool).await?))
}
