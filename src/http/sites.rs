//! `GET /api/v1/sites` (GeoJSON FeatureCollection, filtered, paged), `GET /api/v1/sites/{id}` (one Feature
//! with checklist, observations, photos, events) and `GET /api/v1/sites/counts` (per status, for legends).

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
use crate::db::sites::{self, SiteFilter};
use crate::domain::auth::Actor;
use crate::domain::site::{SiteKind, SiteStatus, is_site_code};
use crate::domain::site_detail::SiteDetail;

pub const PAGE_SIZE_DEFAULT: i64 = 1000;
pub const PAGE_SIZE_MAX: i64 = 5000;
/// About 100 km × 100 km at this latitude: a county and its neighbours, never the whole country.
pub const BBOX_AREA_DEG2_MAX: f64 = 1.0;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees, at most 1 square degree.
    pub bbox: Option<String>,
    /// Statuses, comma-separated, e.g. `reported,verified`.
    pub status: Option<String>,
    /// `intersection`, `section` or `spot`.
    pub kind: Option<String>,
    /// A town's admin code or name.
    pub town: Option<String>,
    /// Page size, 1 to 5000 (default 1000).
    pub limit: Option<String>,
    /// The previous page's `next_after`.
    pub after: Option<String>,
}

/// Sites as a GeoJSON FeatureCollection, filtered and paged in id order.
#[utoipa::path(
    get,
    path = "/sites",
    operation_id = "list_sites",
    tag = "sites",
    params(ListParams),
    responses(
        (status = 200, description = "One page of sites as a GeoJSON FeatureCollection (the list properties of each site), with `limit` and `next_after` (the `after` of the next page, or null)", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is malformed or out of range (the message says which)"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    params: std::result::Result<Query<ListParams>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(params) = params.map_err(|e| {
        Error::BadRequest(format!("{}; parameters are bbox, status, kind, town, limit, after", e.body_text()))
    })?;
    let mut filter = parse_filter(params)?;
    filter.scope = actor.site_scope();
    let (features, next) = sites::list(&state.pool, &filter).await?;
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

pub fn parse_filter(p: ListParams) -> Result<SiteFilter> {
    let bbox = p.bbox.as_deref().map(|b| parse_bbox(b, Some(BBOX_AREA_DEG2_MAX))).transpose()?;
    let statuses = match p.status.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse::<SiteStatus>().map(|s| s.as_str().to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::BadRequest(format!("status: {e}")))?,
    };
    let kind = match p.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(k.parse::<SiteKind>().map_err(|e| Error::BadRequest(format!("kind: {e}")))?.as_str().into()),
    };
    let town = p.town.filter(|t| !t.is_empty());
    if town.as_ref().is_some_and(|t| t.chars().count() > 64) {
        return Err(Error::BadRequest("town: at most 64 characters (an admin code or a town name)".into()));
    }
    let limit = match p.limit.as_deref() {
        None | Some("") => PAGE_SIZE_DEFAULT,
        Some(l) => l.parse::<i64>().ok().filter(|l| (1..=PAGE_SIZE_MAX).contains(l)).ok_or_else(|| {
            Error::BadRequest(format!("limit: {l:?} is not a whole number from 1 to {PAGE_SIZE_MAX}"))
        })?,
    };
    let after = match p.after.as_deref() {
        None | Some("") => None,
        Some(a) => Some(Uuid::parse_str(a).map_err(|_| {
            Error::BadRequest("after: not a site id; pass the next_after value of the previous page".into())
        })?),
    };
    Ok(SiteFilter { bbox, statuses, kind, town, after, limit, scope: Default::default() })
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

/// The number of sites per status, for legends.
#[utoipa::path(
    get,
    path = "/sites/counts",
    operation_id = "count_sites",
    tag = "sites",
    responses(
        (status = 200, description = "`total` and `by_status` (status → count) over the sites in your scope", body = Object),
    )
)]
pub async fn counts(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>> {
    let counts = sites::counts_by_status(&state.pool, &actor.site_scope()).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by_status: serde_json::Map<String, Value> =
        counts.into_iter().map(|(status, n)| (status, Value::from(n))).collect();
    Ok(Json(json!({ "total": total, "by_status": by_status })))
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
