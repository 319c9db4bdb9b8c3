//! OGC API – Features, Part 1 Core with GeoJSON, under `/ogc`: the sites (as the caller's scope allows), the
//! towns and the roads, for GIS clients (QGIS, GDAL's `OAPIF:` driver, ArcGIS). They authenticate with an API
//! token in the `Authorization: Bearer` header, like any API client.
//!
//! Items come in id order with a `next` link that continues after the page's last id (keyset paging, so a
//! client reading a million sites never pays for an offset), `numberMatched` and `numberReturned`. Site
//! features are exactly those of `GET /api/v1/sites`; `status`, `kind` and `town` filter them as there.
//!
//! Sites also take:
//! - `datetime` (Part 1): an instant or an interval `start/end` (`..` or nothing for an open end) on the
//!   sites' temporal property, `first_observed_at` (when the site was first observed). A plain date is that
//!   whole day in China Standard Time, as the ledger's dates are. The collection's `extent.temporal` is the
//!   first and last `first_observed_at` the caller may see. Towns and roads have no time: `datetime` is a 400.
//! - `filter` in CQL2 text (Part 3, `filter-lang=cql2-text`, the default; `cql-text`, the draft's name that
//!   GDAL 3.6 sends, is read as the same), over the queryables published at
//!   `/ogc/collections/sites/queryables` (`domain::ogc::SITE_QUERYABLES`). `domain::cql2` reads and type-checks
//!   it, `db::ogc` binds every literal. `S_INTERSECTS(geometry, BBOX(…)|POINT(…)|LINESTRING(…)|POLYGON(…))`
//!   takes CRS84 coordinates, and `filter-crs` may only be CRS84.
//!
//! `GET /ogc/api` is the OpenAPI 3.0 definition of all this (the landing page's `service-desc`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::sites::parse_bbox;
use super::{AppState, Error, Result};
use crate::db::ogc::{self, Place, SiteQuery};
use crate::db::sites;
use crate::domain::auth::Actor;
use crate::domain::cql2::{self, Comparison, Expr, Operand, Type};
use crate::domain::labels;
use crate::domain::ogc::{SITE_QUERYABLES, parse_datetime, site_queryable_types};
use crate::domain::site::{HazardLevel, SiteKind, SiteStatus, SupervisionLevel};

pub const LIMIT_DEFAULT: i64 = 1000;
pub const LIMIT_MAX: i64 = 10_000;

/// The conformance classes, each implemented and tested (tests/it/ogc.rs).
const CONFORMANCE: [&str; 10] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
];

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const OPENAPI_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";
const QUERYABLES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

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
            link(format!("{base}/api"), "service-desc", OPENAPI_TYPE, "the OpenAPI 3.0 definition of this API"),
        ]
    }))
}

pub async fn conformance(_actor: Actor) -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

async fn collection_json(state: &AppState, actor: &Actor, base: &str, id: &str) -> Result<Value> {
    let (_, title, description) = COLLECTIONS.iter().find(|(c, ..)| *c == id).ok_or_else(|| no_collection(id))?;
    let mut links = vec![
        link(format!("{base}/collections/{id}"), "self", "application/json", title),
        link(format!("{base}/collections/{id}/items"), "items", "application/geo+json", "the features"),
    ];
    let mut extent = serde_json::Map::new();
    let reads = state.reader().await?;
    if let Some(bbox) = ogc::extent(&reads).await? {
        extent.insert("spatial".into(), json!({"bbox": [bbox], "crs": CRS84}));
    }
    if id == "sites" {
        // The sites' time is first_observed_at; null ends when the caller can see no site.
        let span = ogc::temporal_extent(&reads, &actor.site_scope()).await?;
        let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let interval = span.map_or(json!([null, null]), |(first, last)| json!([at(first), at(last)]));
        extent.insert(
            "temporal".into(),
            json!({"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}),
        );
        let queryables = format!("{base}/collections/{id}/queryables");
        links.push(link(queryables.clone(), QUERYABLES_REL, "application/schema+json", "the queryables of filter"));
        // GDAL 3.6 looks for the draft's rel.
        links.push(link(queryables, "queryables", "application/schema+json", "the queryables of filter"));
    }
    let description = if id == "sites" {
        format!("{description}. Temporal property (datetime): first_observed_at, when the site was first observed")
    } else {
        description.to_string()
    };
    let mut collection = json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": links,
    });
    if !extent.is_empty() {
        collection["extent"] = Value::Object(extent);
    }
    Ok(collection)
}

fn no_collection(id: &str) -> Error {
    Error::NotFound(format!("no collection {id:?}; the collections are sites, towns and roads"))
}

pub async fn collections(State(state): State<AppState>, actor: Actor, headers: HeaderMap) -> Result<Json<Value>> {
    let base = base(&headers);
    let mut list = Vec::new();
    for (id, ..) in COLLECTIONS {
        list.push(collection_json(&state, &actor, &base, id).await?);
    }
    Ok(Json(json!({
        "links": [link(format!("{base}/collections"), "self", "application/json", "the collections")],
        "collections": list,
    })))
}

pub async fn collection(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(collection_json(&state, &actor, &base(&headers), &id).await?))
}

/// The queryables of a collection (Part 3): a JSON Schema of the properties a `filter` may name.
pub async fn queryables(_actor: Actor, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    match id.as_str() {
        "sites" => {}
        "towns" | "roads" => {
            return Err(Error::NotFound(format!("{id} have no queryables: filter applies to sites only")));
        }
        other => return Err(no_collection(other)),
    }
    let mut properties = serde_json::Map::new();
    for (name, ty, description) in SITE_QUERYABLES {
        let mut schema = match ty {
            Type::Text => json!({"type": "string"}),
            Type::Number => json!({"type": "integer"}),
            Type::Boolean => json!({"type": "boolean"}),
            Type::Date => json!({"type": "string", "format": "date"}),
            Type::Timestamp => json!({"type": "string", "format": "date-time", "x-ogc-role": "primary-instant"}),
            Type::Geometry => json!({"format": "geometry-any", "x-ogc-role": "primary-geometry"}),
        };
        schema["title"] = json!(name);
        schema["description"] = json!(description);
        if let Some(values) = codes(name) {
            schema["enum"] = json!(values);
        }
        properties.insert((*name).to_string(), schema);
    }
    let body = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{}/collections/sites/queryables", base(&headers)),
        "type": "object",
        "title": "隐患点段 Hazard sites",
        "description": "The properties a CQL2 filter on sites may name, with their types",
        "properties": properties,
        "additionalProperties": false,
    });
    Ok(([(header::CONTENT_TYPE, schema_media_type(&headers))], body.to_string()).into_response())
}

/// `application/schema+json` (Part 3), unless the client accepts only plain JSON: GDAL 3.6 asks for
/// `application/geo+json, application/json` and refuses any other answer.
fn schema_media_type(headers: &HeaderMap) -> &'static str {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return "application/schema+json";
    };
    let types: Vec<String> =
        accept.split(',').map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).collect();
    let takes = |t: &str| types.iter().any(|x| x == t);
    if !takes("application/schema+json") && !takes("*/*") && !takes("application/*") && takes("application/json") {
        "application/json"
    } else {
        "application/schema+json"
    }
}

/// The codes a text queryable takes, when they are a fixed list.
fn codes(queryable: &str) -> Option<Vec<&'static str>> {
    Some(match queryable {
        "status" => SiteStatus::ALL.iter().map(|s| s.as_str()).collect(),
        "kind" => SiteKind::ALL.iter().map(|s| s.as_str()).collect(),
        "hazard_level" => HazardLevel::ALL.iter().map(|s| s.as_str()).collect(),
        "supervision_level" => SupervisionLevel::ALL.iter().map(|s| s.as_str()).collect(),
        "source" => labels::SOURCES.iter().map(|(code, _)| *code).collect(),
        _ => return None,
    })
}

/// The query of `…/items`: the standard's `bbox`, `limit` and `datetime`, Part 3's `filter`, `filter-lang`
/// and `filter-crs`, our cursor `after`, and for sites the filters of `GET /api/v1/sites`. `f` is accepted for
/// clients that send it (GeoJSON is the only format).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsParams {
    bbox: Option<String>,
    limit: Option<String>,
    datetime: Option<String>,
    filter: Option<String>,
    #[serde(rename = "filter-lang")]
    filter_lang: Option<String>,
    #[serde(rename = "filter-crs")]
    filter_crs: Option<String>,
    after: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    town: Option<String>,
    f: Option<String>,
}

const PARAMETERS: &str =
    "parameters are bbox, limit, after, and for sites datetime, filter, filter-lang, filter-crs, status, kind, town";

/// The site filters of `GET /api/v1/sites` (`status` a comma-separated list, `kind`, `town` by name or admin
/// code), checked as there, as CQL2 conditions.
fn site_parameters(p: &ItemsParams) -> Result<Vec<Expr>> {
    let text = |s: &str| Operand::Value(cql2::Value::Text(s.to_string()));
    let mut conditions = Vec::new();
    if let Some(list) = p.status.as_deref().filter(|s| !s.is_empty()) {
        let values = list
            .split(',')
            .map(|s| s.trim().parse::<SiteStatus>().map(|s| cql2::Value::Text(s.as_str().to_string())))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::BadRequest(format!("status: {e}")))?;
        conditions.push(Expr::In { property: "status", values, negated: false });
    }
    if let Some(kind) = p.kind.as_deref().filter(|k| !k.is_empty()) {
        let kind = kind.parse::<SiteKind>().map_err(|e| Error::BadRequest(format!("kind: {e}")))?;
        conditions.push(Expr::Compare(Operand::Property("kind"), Comparison::Eq, text(kind.as_str())));
    }
    if let Some(town) = p.town.as_deref().filter(|t| !t.is_empty()) {
        if town.chars().count() > 64 || town.contains('\0') {
            return Err(Error::BadRequest("town: at most 64 characters (an admin code or a town name)".into()));
        }
        conditions.push(Expr::Or(
            Box::new(Expr::Compare(Operand::Property("town_code"), Comparison::Eq, text(town))),
            Box::new(Expr::Compare(Operand::Property("town"), Comparison::Eq, text(town))),
        ));
    }
    Ok(conditions)
}

/// `filter`, `filter-lang` and `filter-crs` (Part 3): a CQL2 text filter over the sites' queryables.
fn parse_filter(p: &ItemsParams) -> Result<Option<Expr>> {
    if let Some(lang) = p.filter_lang.as_deref().filter(|l| !matches!(*l, "cql2-text" | "cql-text")) {
        return Err(Error::BadRequest(format!("filter-lang={lang}: the only filter language is cql2-text")));
    }
    if let Some(crs) = p.filter_crs.as_deref().filter(|c| *c != CRS84) {
        return Err(Error::BadRequest(format!("filter-crs={crs}: the only filter CRS is {CRS84}")));
    }
    let Some(text) = p.filter.as_deref() else { return Ok(None) };
    cql2::parse(text, &site_queryable_types()).map(Some).map_err(|e| Error::BadRequest(format!("filter: {e}")))
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
    let Query(p) = params.map_err(|e| Error::BadRequest(format!("{}; {PARAMETERS}", e.body_text())))?;
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
            let datetime = p.datetime.as_deref().map(parse_datetime).transpose().map_err(Error::BadRequest)?;
            let mut filters = site_parameters(&p)?;
            filters.extend(parse_filter(&p)?);
            let query = SiteQuery { scope: actor.site_scope(), bbox, datetime, filters, after, limit };
            // The count and the page from one pool, so they agree as far as the database does.
            let reads = state.reader().await?;
            let matched = ogc::count_sites(&reads, &query).await?;
            let (features, next) = ogc::sites(&reads, &query).await?;
            (features, matched, next.map(|id| id.to_string()))
        }
        "towns" | "roads" => {
            if p.status.is_some() || p.kind.is_some() || p.town.is_some() {
                return Err(Error::BadRequest(format!("status, kind and town filter sites only, not {id}")));
            }
            if p.datetime.is_some() {
                return Err(Error::BadRequest(format!("datetime: {id} have no time; datetime applies to sites only")));
            }
            if p.filter.is_some() || p.filter_lang.is_some() || p.filter_crs.is_some() {
                return Err(Error::BadRequest(format!(
                    "filter: {id} have no queryables; filter applies to sites only"
                )));
            }
            let place = if id == "towns" { Place::Towns } else { Place::Roads };
            let after = match p.after.as_deref() {
                None => 0,
                Some(a) => a.parse::<i64>().map_err(|_| Error::BadRequest(format!("after={a}: an id is needed")))?,
            };
            let reads = state.reader().await?;
            let matched = ogc::count_places(&reads, place, bbox).await?;
            let page = ogc::places(&reads, place, bbox, after, limit).await?;
            (page.features, matched, page.next_after.map(|id| id.to_string()))
        }
        other => return Err(no_collection(other)),
    };

    // The query as given, for the self and next links.
    let mut query: Vec<(String, String)> = Vec::new();
    for (key, value) in [
        ("bbox", &p.bbox),
        ("datetime", &p.datetime),
        ("filter", &p.filter),
        ("filter-lang", &p.filter_lang),
        ("filter-crs", &p.filter_crs),
        ("status", &p.status),
        ("kind", &p.kind),
        ("town", &p.town),
    ] {
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
            let scope = actor.site_scope();
            state.read(|reads| sites::summary(reads, site, &scope)).await?
        }
        "towns" | "roads" => {
            let place = if id == "towns" { Place::Towns } else { Place::Roads };
            let n = feature.parse::<i64>().map_err(|_| not_found())?;
            state.read(|reads| ogc::place(reads, place, n)).await?
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

/// The OpenAPI 3.0 definition of `/ogc` (Part 1, conformance class "OpenAPI 3.0"), written out by hand: the
/// `/api/v1` document is OpenAPI 3.1 from utoipa, and GIS clients read 3.0 here. Paths are relative to the
/// server URL, `…/ogc`. GDAL reads the items' parameters from it: a `filter-lang` enum with `cql-text` is
/// how GDAL 3.6 knows it may send `-where` clauses as filters.
pub async fn api(_actor: Actor, headers: HeaderMap) -> Response {
    let doc = openapi(&base(&headers));
    ([(header::CONTENT_TYPE, OPENAPI_TYPE)], doc.to_string()).into_response()
}

fn openapi(base: &str) -> Value {
    let problem = json!({"description": "The request cannot be answered: the detail says why",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let answers = |description: &str, media: &str| {
        json!({
            "200": {"description": description, "content": {media: {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "404": {"$ref": "#/components/responses/NotFound"},
        })
    };
    let get = |id: &str, summary: &str, parameters: Value, description: &str, media: &str| {
        json!({"get": {"operationId": id, "summary": summary, "tags": ["OGC API – Features"],
            "parameters": parameters, "responses": answers(description, media)}})
    };
    let param = |name: &str| json!({"$ref": format!("#/components/parameters/{name}")});
    let query = |name: &str, description: &str, schema: Value| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema,
            "style": "form", "explode": false})
    };
    let codes = |q: &str| codes(q).unwrap_or_default();
    let queryables: Vec<&str> = SITE_QUERYABLES.iter().map(|q| q.0).collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "RoadLedger OGC API – Features",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Road hazard sites, towns and roads (OGC API – Features Part 1 Core and GeoJSON, Part 3 \
                filtering with CQL2 text on sites). Authenticate with an API token: `Authorization: Bearer …`.",
        },
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "tags": [{"name": "OGC API – Features"}],
        "paths": {
            "/": get("landing", "The landing page", json!([]), "Links to the API, conformance and collections",
                "application/json"),
            "/api": get("api", "This OpenAPI 3.0 definition", json!([]), "The definition", OPENAPI_TYPE),
            "/conformance": get("conformance", "The conformance classes implemented", json!([]),
                "The classes' URIs", "application/json"),
            "/collections": get("collections", "The collections: sites, towns, roads", json!([]),
                "The collections with their extents and links", "application/json"),
            "/collections/{collectionId}": get("collection", "One collection", json!([param("collectionId")]),
                "The collection", "application/json"),
            "/collections/{collectionId}/items": get("items", "A page of features, in id order", json!([
                param("collectionId"), param("bbox"), param("limit"), param("datetime"), param("after"),
                param("filter"), param("filter-lang"), param("filter-crs"),
                param("status"), param("kind"), param("town"), param("f"),
            ]), "A GeoJSON FeatureCollection with numberMatched, numberReturned and a next link when more remain",
                "application/geo+json"),
            "/collections/{collectionId}/items/{featureId}": get("item", "One feature",
                json!([param("collectionId"), param("featureId")]), "A GeoJSON Feature", "application/geo+json"),
            "/collections/{collectionId}/queryables": get("queryables",
                "The properties a filter may name (sites only)", json!([param("collectionId")]),
                "A JSON Schema of the queryables", "application/schema+json"),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "An API token (POST /api/v1/tokens or `roadledger token create`)"}},
            "schemas": {"Problem": {"type": "object", "description": "RFC 9457 problem details",
                "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"}}}},
            "responses": {
                "BadRequest": problem.clone(),
                "Unauthorized": problem.clone(),
                "NotFound": problem,
            },
            "parameters": {
                "collectionId": {"name": "collectionId", "in": "path", "required": true,
                    "description": "The collection", "schema": {"type": "string", "enum": ["sites", "towns", "roads"]}},
                "featureId": {"name": "featureId", "in": "path", "required": true,
                    "description": "A site's id (UUID) or a town's or road's id (integer)", "schema": {"type": "string"}},
                "bbox": query("bbox", "minlon,minlat,maxlon,maxlat in WGS-84 degrees (CRS84)",
                    json!({"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}})),
                "limit": query("limit", &format!("Features per page, from 1; more than {LIMIT_MAX} are sent as {LIMIT_MAX}"),
                    json!({"type": "integer", "minimum": 1, "default": LIMIT_DEFAULT})),
                "datetime": query("datetime", "Sites only: an instant or an interval start/end (.. or nothing for an \
                    open end) on first_observed_at, in RFC 3339 date-times with an offset or dates (a date is its \
                    whole day in China Standard Time). Towns and roads have no time.", json!({"type": "string"})),
                "after": query("after", "The id to continue after (the next link carries it)", json!({"type": "string"})),
                "filter": query("filter", &format!("Sites only: a CQL2 text filter (comparisons, AND, OR, NOT, IN, LIKE, \
                    BETWEEN, IS NULL, DATE(…), TIMESTAMP(…), S_INTERSECTS(geometry, BBOX(…)|POINT(…)|LINESTRING(…)|\
                    POLYGON(…))) over the queryables: {}", queryables.join(", ")),
                    json!({"type": "string", "maxLength": cql2::TEXT_BYTES_MAX})),
                "filter-lang": query("filter-lang", "cql2-text (cql-text, the draft's name, is read as the same)",
                    json!({"type": "string", "enum": ["cql2-text", "cql-text"], "default": "cql2-text"})),
                "filter-crs": query("filter-crs", "The CRS of coordinates in the filter: CRS84 only",
                    json!({"type": "string", "enum": [CRS84], "default": CRS84})),
                "status": query("status", "Sites only: statuses, comma-separated",
                    json!({"type": "array", "items": {"type": "string", "enum": codes("status")}})),
                "kind": query("kind", "Sites only: the kind", json!({"type": "string", "enum": codes("kind")})),
                "town": query("town", "Sites only: a town's admin code or name", json!({"type": "string", "maxLength": 64})),
                "f": query("f", "The format: GeoJSON only", json!({"type": "string", "enum": ["json", "geojson"]})),
            },
        },
    })
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    crate::domain::site_filter::percent_encode(value, b"")
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
