//! A county's places as the pages use them: towns and roads with their counts of sites (the admin page), and
//! stakes both ways (`X202 K12+300` ↔ a point), so the phone can show where the inspector stands.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{AppState, Error, Result};
use crate::db::places as db;
use crate::domain::auth::{Actor, Permission};
use crate::domain::places::{self as rules, StakeOffRoad, measure_on_road, stake_at};
use crate::domain::stake::{Carriageway, Stake};

const JSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/json");
/// Default and largest distance from a road at which a point is still located on it (metres).
const LOCATE_RADIUS_DEFAULT_M: f64 = 100.0;
const LOCATE_RADIUS_MAX_M: f64 = 2_000.0;
const ROADS_PAGE_MAX: i64 = 500;

/// `GET /api/v1/places/towns`: every town with its sites and open sites (admins).
#[utoipa::path(
    get,
    path = "/places/towns",
    operation_id = "place_towns",
    tag = "places",
    responses(
        (status = 200, description = "Towns with their sites and open sites", body = Object),
    )
)]
pub async fn towns(State(state): State<AppState>, actor: Actor) -> Result<impl IntoResponse> {
    require_admin(&actor)?;
    Ok(([JSON], db::towns_json(&state.pool).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoadsQuery {
    /// Part of a route code or a name.
    q: Option<String>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/places/roads?q=&limit=&offset=`: roads with length, stake range and sites, a page at a time.
#[utoipa::path(
    get,
    path = "/places/roads",
    operation_id = "place_roads",
    tag = "places",
    params(RoadsQuery),
    responses(
        (status = 200, description = "Roads with length, stake range and sites", body = Object),
        (status = 400, description = "A parameter is out of range"),
    )
)]
pub async fn roads(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<RoadsQuery>,
) -> Result<impl IntoResponse> {
    require_admin(&actor)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=ROADS_PAGE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit must be 1 to {ROADS_PAGE_MAX}")));
    }
    let offset = query.offset.unwrap_or(0);
    if !(0..=10_000_000).contains(&offset) {
        return Err(Error::BadRequest("offset must be 0 to 10 000 000".into()));
    }
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 64) {
        return Err(Error::BadRequest("q is at most 64 characters".into()));
    }
    Ok(([JSON], db::roads_json(&state.pool, q, limit, offset).await?))
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.can(Permission::ImportPlaces) { Ok(()) } else { Err(Error::Forbidden("this needs the admin role".into())) }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointQuery {
    /// WGS-84 longitude (required).
    lon: Option<f64>,
    /// WGS-84 latitude (required).
    lat: Option<f64>,
    /// Up to 2000 m (default 100).
    radius_m: Option<f64>,
}

/// `GET /api/v1/roads/locate?lon=&lat=[&radius_m=]`: the nearest road within the radius, the stake there,
/// how far off the road and on which side. 404 when no road is that close.
#[utoipa::path(
    get,
    path = "/roads/locate",
    tag = "places",
    params(PointQuery),
    responses(
        (status = 200, description = "The road, the stake, the distance and side", body = Object),
        (status = 400, description = "A parameter is missing or out of range"),
        (status = 404, description = "No road within the radius"),
    )
)]
pub async fn locate_point(
    State(state): State<AppState>,
    _actor: Actor,
    Query(query): Query<PointQuery>,
) -> Result<Json<Value>> {
    let (Some(lon), Some(lat)) = (query.lon, query.lat) else {
        return Err(Error::BadRequest("give lon and lat (WGS-84 degrees), e.g. ?lon=120.55&lat=31.87".into()));
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::BadRequest("lon must be -180 to 180 and lat -90 to 90 (WGS-84 degrees)".into()));
    }
    let radius_m = query.radius_m.unwrap_or(LOCATE_RADIUS_DEFAULT_M);
    if !(1.0..=LOCATE_RADIUS_MAX_M).contains(&radius_m) {
        return Err(Error::BadRequest(format!("radius_m must be 1 to {LOCATE_RADIUS_MAX_M}")));
    }
    let located = db::locate_point(&state.pool, lon, lat, radius_m)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no road within {radius_m} m of ({lon}, {lat})")))?;
    Ok(Json(json!({
        "road_id": located.road_id,
        "route_code": located.route_code,
        "name": located.name,
        "admin_code": located.admin_code,
        "stake": located.stake_m.and_then(Stake::derived).map(|s| s.to_string()),
        "stake_m": located.stake_m.map(|m| (m.max(0.0) * 100.0).round() / 100.0),
        "offset_m": (located.offset_m * 10.0).round() / 10.0,
        "side": located.side,
    })))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StakeQuery {
    /// e.g. `K12+300` (required).
    stake: Option<String>,
    /// County admin code (default: the server's).
    county: Option<String>,
}

/// `GET /api/v1/roads/{route}/locate?stake=K12+300[&county=]`: the point of a route at a stake, as a GeoJSON
/// Feature. The county defaults to the server's (`--county-admin-code`).
#[utoipa::path(
    get,
    path = "/roads/{route}/locate",
    tag = "places",
    params(("route" = String, Path, description = "Route code, e.g. `X202`"), StakeQuery),
    responses(
        (status = 200, description = "The point at the stake as a GeoJSON Feature", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "The stake or county is malformed"),
        (status = 404, description = "No such road in the county, or it has no stakes"),
        (status = 422, description = "`stake_off_road`: the stake is past the road's ends or inside a chainage break"),
    )
)]
pub async fn locate_stake(
    State(state): State<AppState>,
    _actor: Actor,
    Path(route): Path<String>,
    Query(query): Query<StakeQuery>,
) -> Result<impl IntoResponse> {
    let (route_code, county_in_code) = rules::route_code(&route)
        .map_err(Error::BadRequest)?
        .ok_or_else(|| Error::BadRequest("give a route code, e.g. /api/v1/roads/X202/locate?stake=K12%2B300".into()))?;
    let county = match query.county.as_deref().or(county_in_code.as_deref()) {
        Some(c) => rules::county_admin_code(c).map_err(Error::BadRequest)?,
        None => state.settings.county_admin_code.clone(),
    };
    let text = query.stake.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
        Error::BadRequest("give the stake, e.g. ?stake=K12%2B300 (a + in a query string must be sent as %2B)".into())
    })?;
    // A literal + in a query string arrives as a space: K12 300 is K12+300.
    let text = text.replacen(' ', "+", 1);
    let stake = match text.parse::<f64>() {
        Ok(metres) => Stake::new(Carriageway::Single, metres).map_err(|e| Error::BadRequest(e.to_string()))?,
        Err(_) => Stake::parse(&text).map_err(|e| Error::BadRequest(e.to_string()))?,
    };
    let (road_id, name, first_m, last_m) = db::road_by_route(&state.pool, &route_code, &county)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no road {route_code} in county {county}")))?;
    let (Some(first_m), Some(last_m)) = (first_m, last_m) else {
        return Err(Error::NotFound(format!("road {route_code} has no stakes")));
    };
    let mut conn = state.pool.acquire().await?;
    let breaks = db::chainage_breaks(&mut conn, road_id).await?;
    drop(conn);
    let (low, high) = (first_m.min(last_m), first_m.max(last_m));
    let text = |m: f64| Stake::derived(stake_at(m, &breaks)).map(|s| s.to_string()).unwrap_or_default();
    let (first, last) = (text(low), text(high));
    let beyond = |why: &str| Error::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "stake_off_road",
        message: format!("{route_code} has no {stake}: {why}"),
        facts: json!({ "route_code": route_code, "stake": stake.to_string(), "first_stake": first, "last_stake": last }),
    };
    let measure = measure_on_road(stake.metres, &breaks, low, high).map_err(|e| match e {
        StakeOffRoad::SkippedByBreak => beyond("a chainage break skips it"),
        StakeOffRoad::BeyondEnds => beyond(&format!("its stakes run from {first} to {last}")),
    })?;
    let (lon, lat) = db::point_at_measure(&state.pool, road_id, measure)
        .await?
        .ok_or_else(|| beyond(&format!("its stakes run from {first} to {last}")))?;
    let body = json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [(lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7] },
        "properties": { "road_id": road_id, "route_code": route_code, "admin_code": county, "name": name,
                        "stake": stake.to_string(), "stake_m": stake.metres },
    });
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body.to_string()))
}
