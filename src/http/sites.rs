//! `GET /api/v1/sites` (GeoJSON FeatureCollection, filtered, paged), `GET /api/v1/sites/{id}` (one Feature
//! with checklist, observations, photos, events) and `GET /api/v1/sites/counts` (per status, for legends).
//! The site filter ([`FilterParams`], `domain::site_filter`) is read here for every endpoint that takes it:
//! the list, the counts, the exports (`site_exports`) and the site tiles (`tiles`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

use super::{AppState, Error, Result};
use crate::db::reference;
use crate::db::sites::{self, SiteFilter};
use crate::domain::auth::Actor;
use crate::domain::site::{SiteKind, is_site_code};
use crate::domain::site_detail::SiteDetail;
use crate::domain::site_filter::{MapFilter, Others};

pub const PAGE_SIZE_DEFAULT: i64 = 1000;
pub const PAGE_SIZE_MAX: i64 = 5000;
/// About 100 km × 100 km at this latitude: a county and its neighbours, never the whole country.
pub const BBOX_AREA_DEG2_MAX: f64 = 1.0;

/// The sites list's parameters as the OGC API and the ledger hand them over ([`parse_filter`]); the list
/// itself documents [`PageParams`] and [`FilterParams`] and reads them with [`site_filter`].
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees, at most 1 square degree.
    pub bbox: Option<String>,
    /// Statuses, comma-separated, e.g. `reported,verified`.
    pub status: Option<String>,
    /// `intersection`, `section` or `spot`, comma-separated.
    pub kind: Option<String>,
    /// Town admin codes or names, comma-separated.
    pub town: Option<String>,
    /// The sites one figure of a report counts, e.g. `month:2026-11:overdue`.
    pub figure: Option<String>,
    /// Page size, 1 to 5000 (default 1000).
    pub limit: Option<String>,
    /// The previous page's `next_after`.
    pub after: Option<String>,
}

/// The site filter (`domain::site_filter`), the same on the list, the counts, the exports and the tiles.
/// Lists are comma-separated and match any of their values; an empty value is no filter.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by `MapFilter::parse` from the query's pairs; this type documents them.
pub struct FilterParams {
    /// Town admin codes or names, at most 50, each at most 64 characters.
    town: Option<String>,
    /// Statuses, e.g. `reported,verified`.
    status: Option<String>,
    /// Site kinds: `intersection`, `section`, `spot`.
    kind: Option<String>,
    /// Hazard type codes (`GET /api/v1/hazard-types`): a site matches if it has any of them.
    hazard_type: Option<String>,
    /// Hazard levels: `general`, `significant`, `major`.
    level: Option<String>,
    /// `true`: open sites past their deadline (county date); `false`: the others.
    overdue: Option<bool>,
    /// `true`: sites listed for supervision (挂牌督办); `false`: the others.
    supervised: Option<bool>,
    /// `true`: sites that relapsed at least once; `false`: the others.
    relapsed: Option<bool>,
    /// First observed on or after this county date (Asia/Shanghai), `YYYY-MM-DD`.
    from: Option<String>,
    /// First observed on or before this county date (Asia/Shanghai), `YYYY-MM-DD`; not before `from`.
    to: Option<String>,
    /// Site sources, e.g. `patrol,hotline`.
    source: Option<String>,
    /// The sites one figure of a report counts, `<week|month|quarter>:<period>:<figure>`, e.g.
    /// `month:2026-11:overdue` (a report's click-through; figures as in `GET /api/v1/reports/monthly`).
    figure: Option<String>,
}

/// The list's own parameters: where and which page.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read from the query's pairs; this type documents them.
pub struct PageParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees, at most 1 square degree.
    bbox: Option<String>,
    /// Page size, 1 to 5000 (default 1000).
    limit: Option<String>,
    /// The previous page's `next_after`.
    after: Option<String>,
}

/// A query string as its decoded pairs, in order; a malformed one is a 400.
pub type QueryPairs = std::result::Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Reads the site filter of a request: the [`FilterParams`] and the endpoint's own parameters `others`
/// (handed back), every other parameter refused with the list of accepted ones. Hazard type codes are
/// checked against the `hazard_type` table, and unknown ones named.
pub async fn site_filter<'a>(
    state: &AppState,
    pairs: &'a QueryPairs,
    others: &[&'static str],
) -> Result<(MapFilter, Others<'a>)> {
    let pairs = match pairs {
        Ok(Query(pairs)) => pairs.as_slice(),
        Err(e) => return Err(Error::BadRequest(e.body_text())),
    };
    let (filter, rest) = MapFilter::parse(pairs, others).map_err(|e| Error::BadRequest(e.to_string()))?;
    if !filter.hazard_types.is_empty() {
        let unknown = reference::unknown_hazard_types(&state.pool, &filter.hazard_types).await?;
        if !unknown.is_empty() {
            return Err(Error::BadRequest(format!(
                "hazard_type: unknown codes {}; GET /api/v1/hazard-types lists them",
                unknown.join(", ")
            )));
        }
    }
    Ok((filter, rest))
}

pub const NEARBY_RADIUS_DEFAULT_M: f64 = 50.0;
pub const NEARBY_RADIUS_MAX_M: f64 = 200.0;
pub const NEARBY_LIMIT_DEFAULT: i64 = 10;
pub const NEARBY_LIMIT_MAX: i64 = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// WGS-84 longitude (required).
    lon: Option<f64>,
    /// WGS-84 latitude (required).
    lat: Option<f64>,
    /// `intersection`, `section` or `spot` (default: every kind).
    kind: Option<String>,
    /// 1 to 200 m (default 50).
    radius_m: Option<f64>,
    /// 1 to 20 sites (default 10).
    limit: Option<i64>,
}

/// `GET /api/v1/sites/nearby?lon=&lat=[&kind=][&radius_m=][&limit=]`: the open sites near where an inspector
/// stands, nearest first, with their distance: what a repeat visit may name as its `site_id`.
#[utoipa::path(
    get,
    path = "/sites/nearby",
    operation_id = "nearby_sites",
    tag = "sites",
    params(NearbyParams),
    responses(
        (status = 200, description = "`{radius_m, sites}`: open sites in your scope within the radius, nearest first; each with id, code, kind, status, road_code, stake, town, last_observed_at, observation_count, hazard_types, distance_m and its GeoJSON geometry", body = Object),
        (status = 400, description = "A parameter is missing, malformed or out of range (the message says which)"),
    )
)]
pub async fn nearby(
    State(state): State<AppState>,
    actor: Actor,
    params: std::result::Result<Query<NearbyParams>, QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let (Some(lon), Some(lat)) = (p.lon, p.lat) else {
        return Err(Error::BadRequest("give lon and lat (WGS-84 degrees), e.g. ?lon=120.55&lat=31.87".into()));
    };
    if !lon.is_finite() || !lat.is_finite() || !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::BadRequest("lon must be -180 to 180 and lat -90 to 90 (WGS-84 degrees)".into()));
    }
    let kind = match p.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => Some(k.parse::<SiteKind>().map_err(|e| Error::BadRequest(format!("kind: {e}")))?),
        None => None,
    };
    let radius_m = p.radius_m.unwrap_or(NEARBY_RADIUS_DEFAULT_M);
    if !(1.0..=NEARBY_RADIUS_MAX_M).contains(&radius_m) {
        return Err(Error::BadRequest(format!("radius_m must be 1 to {NEARBY_RADIUS_MAX_M}")));
    }
    let limit = p.limit.unwrap_or(NEARBY_LIMIT_DEFAULT);
    if !(1..=NEARBY_LIMIT_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit must be 1 to {NEARBY_LIMIT_MAX}")));
    }
    let query = sites::NearbyQuery { lon, lat, kind: kind.map(SiteKind::as_str), radius_m, limit };
    let list = sites::nearby(&state.pool, &query, &actor.site_scope()).await?;
    let body = format!("{{\"radius_m\":{},\"sites\":{list}}}", json!(radius_m));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Sites as a GeoJSON FeatureCollection, filtered and paged in id order.
#[utoipa::path(
    get,
    path = "/sites",
    operation_id = "list_sites",
    tag = "sites",
    params(PageParams, FilterParams),
    responses(
        (status = 200, description = "One page of sites as a GeoJSON FeatureCollection (the list properties of each site), with `limit` and `next_after` (the `after` of the next page, or null)", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is malformed, out of range or unknown (the message says which)"),
    )
)]
pub async fn list(State(state): State<AppState>, actor: Actor, params: QueryPairs) -> Result<impl IntoResponse> {
    let (criteria, others) = site_filter(&state, &params, &["bbox", "limit", "after"]).await?;
    let mut filter = page(criteria, others.get("bbox"), others.get("limit"), others.get("after"))?;
    filter.scope = actor.site_scope();
    let (features, next) = state.read(|reads| sites::list(reads, &filter)).await?;
    // Assembled as text: the features are already JSON from PostgreSQL.
    let mut body = String::with_capacity(features.iter().map(String::len).sum::<usize>() + 128);
    body.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    body.push_str(&features.join(","));
    body.push_str("],\"limit\":");
    body.push_str(&filter.limit.to_string());
    body.push_str(",\"next_after\":");
    body.push_str(&next.map_or("null".to_string(), |id| format!("\"{id}\"")));
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}

/// The list's filter as the OGC API and the ledger give it (status, kind and town through the one parser).
pub fn parse_filter(p: ListParams) -> Result<SiteFilter> {
    let pairs: Vec<(String, String)> = [("status", p.status), ("kind", p.kind), ("town", p.town), ("figure", p.figure)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name.to_string(), v)))
        .collect();
    let (criteria, _) = MapFilter::parse(&pairs, &[]).map_err(|e| Error::BadRequest(e.to_string()))?;
    page(criteria, p.bbox.as_deref(), p.limit.as_deref(), p.after.as_deref())
}

/// The list's bbox (at most [`BBOX_AREA_DEG2_MAX`]), page size and cursor around `criteria`.
fn page(criteria: MapFilter, bbox: Option<&str>, limit: Option<&str>, after: Option<&str>) -> Result<SiteFilter> {
    let bbox = bbox.filter(|b| !b.is_empty()).map(|b| parse_bbox(b, Some(BBOX_AREA_DEG2_MAX))).transpose()?;
    let limit = match limit {
        None | Some("") => PAGE_SIZE_DEFAULT,
        Some(l) => l.parse::<i64>().ok().filter(|l| (1..=PAGE_SIZE_MAX).contains(l)).ok_or_else(|| {
            Error::BadRequest(format!("limit: {l:?} is not a whole number from 1 to {PAGE_SIZE_MAX}"))
        })?,
    };
    let after = match after {
        None | Some("") => None,
        Some(a) => Some(Uuid::parse_str(a).map_err(|_| {
            Error::BadRequest("after: not a site id; pass the next_after value of the previous page".into())
        })?),
    };
    Ok(SiteFilter { bbox, criteria, after, limit, scope: Default::default() })
}

/// A bbox in WGS-84 degrees, at most `area_max` square degrees when given (the OGC API pages instead).
pub fn parse_bbox(text: &str, area_max: Option<f64>) -> Result<[f64; 4]> {
    let usage = "bbox is minlon,minlat,maxlon,maxlat in WGS-84 degrees";
    let numbers: Vec<f64> = text
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::BadRequest(format!("{usage}; {text:?} has something that is not a number")))?;
    let [minx, miny, maxx, maxy]: [f64; 4] =
        numbers.try_into().map_err(|_| Error::BadRequest(format!("{usage}; four numbers are needed")))?;
    let in_range = [minx, maxx].iter().all(|x| x.is_finite() && (-180.0..=180.0).contains(x))
        && [miny, maxy].iter().all(|y| y.is_finite() && (-90.0..=90.0).contains(y));
    if !in_range {
        return Err(Error::BadRequest(format!("{usage}; longitudes within -180..180, latitudes within -90..90")));
    }
    if minx >= maxx || miny >= maxy {
        return Err(Error::BadRequest(format!("{usage}; the minimum must be smaller than the maximum")));
    }
    let area = (maxx - minx) * (maxy - miny);
    if let Some(max) = area_max.filter(|max| area > *max) {
        return Err(Error::BadRequest(format!(
            "bbox covers {area:.3} square degrees; the limit is {max} (zoom in, or page through the list \
             without a bbox)"
        )));
    }
    Ok([minx, miny, maxx, maxy])
}

/// One site with its checklist items and evidence, latest observations with photos, and events.
#[utoipa::path(
    get,
    path = "/sites/{id}",
    operation_id = "show_site",
    tag = "sites",
    params(("id" = String, Path, description = "The site id (a UUID) or its code (`YH-000123`, as map tiles name sites)")),
    responses(
        (status = 200, description = "The site; its ETag is the version that changes must send in If-Match", body = SiteDetail, content_type = "application/geo+json", headers(("ETag" = String, description = "`\"v<version>\"`: send it back in If-Match to change the site"))),
        (status = 400, description = "The id is neither a UUID nor a site code"),
        (status = 404, description = "No such site in your scope"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Response> {
    let id = match Uuid::parse_str(&id) {
        Ok(id) => id,
        Err(_) if is_site_code(&id) => {
            // The code is unique; a site outside the caller's scope is a 404 below, as by its UUID.
            sites::id_of_code(&state.pool, &id).await?.ok_or_else(|| Error::NotFound(format!("no site {id}")))?
        }
        Err(_) => {
            let shown: String = id.chars().take(64).collect();
            return Err(Error::BadRequest(format!(
                "{shown:?} is neither a site id (a UUID) nor a site code (YH-000123)"
            )));
        }
    };
    super::site_view::detail_response(&state, &actor, id).await
}

/// The number of sites per status and overdue, for the legend, over the filtered sites in your scope.
#[utoipa::path(
    get,
    path = "/sites/counts",
    operation_id = "count_sites",
    tag = "sites",
    params(FilterParams),
    responses(
        (status = 200, description = "`total`, `by_status` (status → count) and `overdue` over the filtered sites in your scope (no bbox: the whole jurisdiction), and `filter`, the filter as one canonical query string (sorted, deduplicated values)", body = Object),
        (status = 400, description = "A parameter is malformed, out of range or unknown (the message says which)"),
    )
)]
pub async fn counts(State(state): State<AppState>, actor: Actor, params: QueryPairs) -> Result<Json<Value>> {
    let (criteria, _) = site_filter(&state, &params, &[]).await?;
    let filter = SiteFilter { criteria, scope: actor.site_scope(), ..Default::default() };
    let counts = state.read(|reads| sites::counts_by_status(reads, &filter)).await?;
    let total: i64 = counts.iter().map(|(_, n, _)| n).sum();
    let overdue: i64 = counts.iter().map(|(_, _, o)| o).sum();
    let by_status: serde_json::Map<String, Value> =
        counts.into_iter().map(|(status, n, _)| (status, Value::from(n))).collect();
    Ok(Json(json!({
        "total": total, "by_status": by_status, "overdue": overdue, "filter": filter.criteria.to_query()
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_rules() {
        assert_eq!(
            parse_bbox("120.3,31.75,120.8,32.05", Some(BBOX_AREA_DEG2_MAX)).unwrap(),
            [120.3, 31.75, 120.8, 32.05]
        );
        for bad in ["1,2,3", "a,b,c,d", "120.8,31.75,120.3,32.05", "100,20,120,40", "200,0,201,1", "NaN,0,1,1"] {
            assert!(parse_bbox(bad, Some(BBOX_AREA_DEG2_MAX)).is_err(), "{bad}");
        }
    }
}
