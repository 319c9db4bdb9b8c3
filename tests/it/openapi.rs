//! The API's own description (`GET /api/v1/openapi.json`): a valid OpenAPI 3.1 document, with every route of
//! the router and only those, each with its answers, parameters and who may call it.

use crate::common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request};
use common::app;
use serde_json::Value;
use sqlx::PgPool;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The served document, fetched without credentials (it is public).
async fn served(app: &common::TestApp) -> Value {
    let answer = app.send_as_is(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    answer.json()
}

/// Every (method, path) of the document, e.g. `("GET", "/sites/{id}")`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/schemas/Name`) as a JSON pointer.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_document_is_valid_openapi_3_1(pool: PgPool) {
    let app = app(pool).await;
    let doc = served(&app).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "RoadLedger API");
    assert!(doc["info"]["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    // It reads back as an OpenAPI document (utoipa's model of the specification).
    let model: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).expect("an OpenAPI document");
    assert!(!model.paths.paths.is_empty());

    let mut ids = BTreeSet::new();
    let schemes: BTreeSet<&str> =
        doc["components"]["securitySchemes"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(schemes, BTreeSet::from(["bearer", "csrf", "session"]));
    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        assert!(path.starts_with('/'), "{name}");
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "{name}: operationId repeated");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
        // Every operation says what it answers, with a description each; errors carry the problem body.
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{name}: no responses"));
        assert!(responses.keys().any(|s| s.starts_with('2')), "{name}: no success answer");
        for (status, response) in responses {
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} {status}");
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{name} {status}"
                );
            }
        }
        // Every `{name}` in the path is a required path parameter, and no path parameter is left over.
        let in_path: BTreeSet<&str> = path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .inspect(|p| assert_eq!(p["required"], true, "{name}: {p}"))
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(in_path, declared, "{name}: path parameters");
        // Who may call it: named schemes only; an empty requirement means public.
        for requirement in op["security"].as_array().unwrap_or_else(|| panic!("{name}: no security")) {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains(scheme.as_str()), "{name}: unknown scheme {scheme}");
            }
        }
    }

    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 40, "{} references", all.len());
    for reference in all {
        assert!(resolve(&doc, &reference).is_some(), "{reference} does not resolve");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_document_says_who_may_call_and_what_the_site_is(pool: PgPool) {
    let app = app(pool).await;
    let doc = served(&app).await;
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();

    // Public: signing in and this document. Reads take a token or the session; changes with the session need
    // the CSRF header too.
    assert_eq!(op("post", "/session")["security"], serde_json::json!([{}]));
    assert_eq!(op("get", "/openapi.json")["security"], serde_json::json!([{}]));
    assert_eq!(op("get", "/sites")["security"], serde_json::json!([{"bearer": []}, {"session": []}]));
    // Who is signed in: the browser session only.
    assert_eq!(op("get", "/session")["security"], serde_json::json!([{"session": []}]));
    assert_eq!(
        op("post", "/sites/{id}/actions")["security"],
        serde_json::json!([{"bearer": []}, {"csrf": [], "session": []}])
    );

    // The site is the typed SiteDetail; the action body is the tagged enum, one variant per action.
    let show = op("get", "/sites/{id}");
    assert!(show["responses"]["200"]["headers"]["ETag"]["description"].as_str().unwrap().contains("If-Match"));
    assert_eq!(
        show["responses"]["200"]["content"]["application/geo+json"]["schema"]["$ref"],
        "#/components/schemas/SiteDetail"
    );
    let properties = &doc["components"]["schemas"]["SiteProperties"]["properties"];
    for field in ["checklist_items", "observations", "events", "pending_extension", "version"] {
        assert!(properties.get(field).is_some(), "SiteProperties.{field}");
    }
    let body = &op("post", "/sites/{id}/actions")["requestBody"]["content"]["application/json"]["schema"];
    let action = resolve(&doc, body["$ref"].as_str().unwrap()).unwrap();
    let variants = action["oneOf"].as_array().unwrap();
    let names: BTreeSet<&str> =
        variants.iter().map(|v| v["properties"]["action"]["enum"][0].as_str().unwrap()).collect();
    assert!(names.contains("dispatch") && names.contains("request_extension"), "{names:?}");
    assert_eq!(names.len(), 13);
    let dispatch = variants.iter().find(|v| v["properties"]["action"]["enum"][0] == "dispatch").unwrap();
    let required: BTreeSet<&str> =
        dispatch["required"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(required.contains("responsible_unit_id"), "{required:?}");
    // Coded enums are described by their codes, as the JSON carries them.
    assert_eq!(
        doc["components"]["schemas"]["SiteKind"]["enum"],
        serde_json::json!(["intersection", "section", "spot"])
    );
    assert!(doc["components"]["schemas"]["SiteStatus"]["enum"].as_array().unwrap().contains(&"in_progress".into()));
    // The error body.
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(problem.get(field).is_some(), "Problem.{field}");
    }
}

/// Every documented operation is a route: the router answers it with something other than its fallback
/// ("no such API route") or 405. Requests go without credentials, so most answer 401.
#[sqlx::test(migrations = "./migrations")]
async fn every_documented_operation_is_routed(pool: PgPool) {
    let app = app(pool).await;
    let doc = served(&app).await;
    let fallback = app.send_as_is(Request::get("/api/v1/no-such-route").body(Body::empty()).unwrap()).await;
    assert_eq!(fallback.status, 404);
    let fallback_detail = fallback.detail();

    let ops = operations(&doc);
    assert!(ops.len() >= 40, "{} operations", ops.len());
    for (method, path, _) in ops {
        let uri = format!("/api/v1{}", path.replace(['{', '}'], ""));
        let request = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(&uri);
        let answer = app.send_as_is(request.body(Body::empty()).unwrap()).await;
        assert_ne!(answer.status, 405, "{method} {path}");
        let is_fallback = answer.status == 404
            && answer.headers.get("content-type").is_some_and(|c| c == "application/problem+json")
            && answer.detail() == fallback_detail;
        assert!(!is_fallback, "{method} {path} is documented but not routed");
    }
}

/// Every route of the router is documented. The API router is built from the handlers' descriptions
/// (`routes!` in `src/http/mod.rs`), so the way to add an undocumented route is a plain `.route(…)`,
/// `.nest(…)` or `.merge(…)`, or an `/api/…` path on the outer router: this reads `src/http/mod.rs` and
/// refuses each of them, and checks that the handlers it lists are as many as the document's operations.
#[sqlx::test(migrations = "./migrations")]
async fn every_route_in_the_router_is_documented(pool: PgPool) {
    let app = app(pool).await;
    let doc = served(&app).await;
    let source = include_str!("../../src/http/mod.rs");
    let api_start = source.find("fn api(").expect("src/http/mod.rs builds the API in fn api");
    let api_end = api_start + source[api_start..].find("\n}\n").unwrap();
    let api = &source[api_start..api_end];

    for call in [".route(", ".route_service(", ".nest(", ".nest_service(", ".merge("] {
        assert!(!api.contains(call), "fn api adds a route with {call}…): use .routes(routes!(handler)) instead");
    }
    // Outside fn api, only the nest of the API itself reaches under /api.
    let outside = source[..api_start].to_string() + &source[api_end..];
    let api_paths: Vec<&str> =
        outside.match_indices("(\"/api").map(|(i, _)| outside[i + 2..].split('"').next().unwrap()).collect();
    assert_eq!(api_paths, ["/api/v1"], "routes under /api outside fn api");

    // Each handler in `routes!` is one operation of the document (its path and method come from there).
    let mut handlers = 0;
    for (i, _) in api.match_indices("routes!(") {
        let list = api[i + "routes!(".len()..].split(')').next().unwrap();
        handlers += list.split(',').map(str::trim).filter(|h| !h.is_empty()).count();
    }
    assert_eq!(handlers, operations(&doc).len(), "one operation per routed handler");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_reference_page_is_public_and_reads_the_document(pool: PgPool) {
    let app = app(pool).await;

    let page = app.send_as_is(Request::get("/api.html").body(Body::empty()).unwrap()).await;
    let script = app.send_as_is(Request::get("/api.js").body(Body::empty()).unwrap()).await;

    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.bytes).unwrap();
    assert!(html.contains("接口文档") && html.contains("/api.js"), "{html}");
    assert_eq!(script.status, 200);
    assert!(String::from_utf8(script.bytes).unwrap().contains("/api/v1/openapi.json"));
}
