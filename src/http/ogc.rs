//! OGC API – Features, Part 1 Core with GeoJSON, under `/ogc`: the sites (as the caller's scope allows), the
//! towns and the roads, for GIS clients (QGIS, GDAL's `OAPIF:` driver, ArcGIS). They authenticate with an API
//! token in the `Authorization: Bearer` header, like any API client.
//!
//! Items come in id order with a `next` link that continues after the page's last id (keyset paging, so a
//! client reading a million sites never pays for an offset), `numberMatched` and `numberReturned`. Site
//! features are exactly those of `GET /api/v1/sites`; `status`, `kind` and `town` filter them as there.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::sites::{ListParams, parse_bbox};
use super::{AppState, Error, Result};
use crate::db::ogc::{self, Place};
use crate::db::sites;
use crate::domain::auth::Actor;

pub const LIMIT_DEFAULT: i64 = 1000;
pub const LIMIT_MAX: i64 = 10_000;

const CONFORMANCE: [&str; 2] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];

/// The collections: id, title, description.
const COLLECTIONS: [(&str, &str, &str); 3] = [
    ("sites", "隐患点段 Hazard sites", "Road hazard sites with their close-out status (the ledger's rows)"),
    ("towns", "区镇 Towns", "Town boundaries of the county"),
    ("roads", "道路 Roads", "The county's roads with their route codes"),
];

/// The address clients reached us by, for absolute links: `X-Forwarded-Proto` and `Host`.
fn base(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}/ogc", if https { "https" } else { "http" })
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

pub async fn landing(_actor: Actor, headers: HeaderMap) -> Json<Value> {
    let base = base(&headers);
    Json(json!({
        "title": "RoadLedger 道路隐患台账",
        "description": "Rural road hazard sites, towns and roads as OGC API – Features",
        "links": [
            link(base.clone(), "self", "application/json", "this document"),
            link(format!("{base}/conformance"), "conformance", "application/json", "conformance classes"),
            link(format!("{base}/collections"), "data", "application/json", "the collections"),
        ]
    }))
}

pub async fn conformance(_actor: Actor) -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

async fn collection_json(state: &AppState, base: &str, id: &str) -> Result<Value> {
    let (_, title, description) = COLLECTIONS.iter().find(|(c, ..)| *c == id).ok_or_else(|| no_collection(id))?;
    let extent = ogc::extent(&state.pool).await?;
    let mut collection = json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            link(format!("{base}/collections/{id}"), "self", "application/json", title),
            link(format!("{base}/collections/{id}/items"), "items", "application/geo+json", "the features"),
        ]
    });
    if let Some(bbox) = extent {
        collection["extent"] =
            json!({"spatial": {"bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}});
    }
    Ok(collection)
}

fn no_collection(id: &str) -> Error {
    Error::NotFound(format!("no collection {id:?}; the collections are sites, towns and roads"))
}

pub async fn collections(State(state): State<AppState>, _actor: Actor, headers: HeaderMap) -> Result<Json<Value>> {
    let base = base(&headers);
    let mut list = Vec::new();
    for (id, ..) in COLLECTIONS {
        list.push(collection_json(&state, &base, id).await?);
    }
    Ok(Json(json!({
        "links": [link(format!("{base}/collections"), "self", "application/json", "the collections")],
        "collections": list,
    })))
}

pub async fn collection(
    State(state): State<AppState>,
    _actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(collection_json(&state, &base(&headers), &id).await?))
}

/// The query of `…/items`: the standard's `bbox` and `limit`, our cursor `after`, and for sites the filters of
/// `GET /api/v1/sites`. `f` is accepted for clients that send it (GeoJSON is the only format).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsParams {
    bbox: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    town: Option<String>,
    f: Option<String>,
}

fn parse_limit(limit: Option<&str>) -> Result<i64> {
    match limit {
        None | Some("") => Ok(LIMIT_DEFAULT),
        // The standard lets a server cap the limit rather than refuse a larger one.
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(LIMIT_MAX)),
            _ => Err(Error::BadRequest(format!("limit must be a whole number from 1 (at most {LIMIT_MAX} are sent)"))),
        },
    }
}

pub async fn items(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: std::result::Result<Query<ItemsParams>, QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| {
        Error::BadRequest(format!(
            "{}; parameters are bbox, limit, after, and for sites status, kind, town",
            e.body_text()
        ))
    })?;
    if let Some(f) = p.f.as_deref().filter(|f| !matches!(*f, "json" | "geojson")) {
        return Err(Error::BadRequest(format!("f={f}: the only format is GeoJSON (f=json)")));
    }
    let limit = parse_limit(p.limit.as_deref())?;
    // Any size: paging bounds the work.
    let bbox = p.bbox.as_deref().map(|b| parse_bbox(b, None)).transpose()?;
    let base = base(&headers);
    let (features, matched, next_after) = match id.as_str() {
        "sites" => {
            let after = p
                .after
                .as_deref()
                .map(|a| {
                    Uuid::parse_str(a).map_err(|_| Error::BadRequest(format!("after={a}: a site id (UUID) is needed")))
                })
                .transpose()?;
            // The site filters and their checks are those of GET /api/v1/sites; the bbox and limit are ours.
            let mut filter = super::sites::parse_filter(ListParams {
                bbox: None,
                status: p.status.clone(),
                kind: p.kind.clone(),
                town: p.town.clone(),
                limit: None,
                after: None,
            })?;
            filter.bbox = bbox;
            filter.after = after;
            filter.limit = limit;
            filter.scope = actor.site_scope();
            let matched = ogc::count_sites(&state.pool, &filter).await?;
            let (features, next) = sites::list(&state.pool, &filter).await?;
            (features, matched, next.map(|id| id.to_string()))
        }
        "towns" | "roads" => {
            if p.status.is_some() || p.kind.is_some() || p.town.is_some() {
                return Err(Error::BadRequest(format!("status, kind and town filter sites only, not {id}")));
            }
            let place = if id == "towns" { Place::Towns } else { Place::Roads };
            let after = match p.after.as_deref() {
                None => 0,
                Some(a) => a.parse::<i64>().map_err(|_| Error::BadRequest(format!("after={a}: an id is needed")))?,
            };
            let matched = ogc::count_places(&state.pool, place, bbox).await?;
            let page = ogc::places(&state.pool, place, bbox, after, limit).await?;
            (page.features, matched, page.next_after.map(|id| id.to_string()))
        }
        other => return Err(no_collection(other)),
    };

    // The query as given, for the self and next links.
    let mut query: Vec<(String, String)> = Vec::new();
    for (key, value) in [("bbox", &p.bbox), ("status", &p.status), ("kind", &p.kind), ("town", &p.town)] {
        if let Some(value) = value {
            query.push((key.to_string(), value.clone()));
        }
    }
    query.push(("limit".into(), limit.to_string()));
    let href = |after: Option<&str>| {
        let mut q = query.clone();
        if let Some(after) = after {
            q.push(("after".into(), after.to_string()));
        }
        let encoded: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("{base}/collections/{id}/items?{}", encoded.join("&"))
    };
    let mut links = vec![link(href(p.after.as_deref()), "self", "application/geo+json", "this page")];
    if let Some(next) = &next_after {
        links.push(link(href(Some(next)), "next", "application/geo+json", "the next page"));
    }
    let returned = features.len();
    // The features are JSON from PostgreSQL already: assembled as text.
    let head = json!({
        "type": "FeatureCollection",
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "numberMatched": matched,
        "numberReturned": returned,
        "links": links,
    })
    .to_string();
    let mut body = String::with_capacity(features.iter().map(String::len).sum::<usize>() + head.len() + 32);
    body.push_str(&head[..head.len() - 1]);
    body.push_str(",\"features\":[");
    body.push_str(&features.join(","));
    body.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body).into_response())
}

pub async fn item(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path((id, feature)): Path<(String, String)>,
) -> Result<Response> {
    let not_found = || Error::NotFound(format!("no feature {feature:?} in {id}"));
    let text = match id.as_str() {
        "sites" => {
            let site = Uuid::parse_str(&feature).map_err(|_| not_found())?;
            sites::summary(&state.pool, site, &actor.site_scope()).await?
        }
        "towns" | "roads" => {
            let place = if id == "towns" { Place::Towns } else { Place::Roads };
            let n = feature.parse::<i64>().map_err(|_| not_found())?;
            ogc::place(&state.pool, place, n).await?
        }
        other => return Err(no_collection(other)),
    }
    .ok_or_else(not_found)?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| Error::Internal(e.into()))?;
    let base = base(&headers);
    value["links"] = json!([
        link(format!("{base}/collections/{id}/items/{feature}"), "self", "application/geo+json", "this feature"),
        link(format!("{base}/collections/{id}"), "collection", "application/json", "the collection"),
    ]);
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], value.to_string()).into_response())
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("120.3,31.7"), "120.3%2C31.7");
        assert_eq!(encode("杨舍镇"), "%E6%9D%A8%E8%88%8D%E9%95%87");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn limits_are_capped_and_bad_ones_refused() {
        assert_eq!(parse_limit(None).unwrap(), LIMIT_DEFAULT);
        assert_eq!(parse_limit(Some("20")).unwrap(), 20);
        assert_eq!(parse_limit(Some("1000000")).unwrap(), LIMIT_MAX);
        assert!(parse_limit(Some("0")).is_err());
        assert!(parse_limit(Some("ten")).is_err());
        assert!(parse_bbox("100,20,121,32", None).is_ok(), "any size");
        assert!(parse_bbox("121,31,120,32", None).is_err());
        assert!(parse_bbox("120,31,121", None).is_err());
        assert!(parse_bbox("120,31,121,95", None).is_err());
    }
}
