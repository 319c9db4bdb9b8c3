//! The API describes itself: an OpenAPI 3.1 document of `/api/v1`, served at `GET /api/v1/openapi.json` and
//! read by `web/api.html`.
//!
//! The document is not written by hand. Each handler carries `#[utoipa::path]` next to its code, request
//! types derive `ToSchema`/`IntoParams`, and the router is built from those handlers (`utoipa_axum`'s
//! `OpenApiRouter` in [`super::api`]), so a route and its description are added in one place and the router
//! cannot have a route the document lacks. What every operation shares is added here, by rule
//! ([`Conventions`]): who may call it (Bearer token, or the session cookie plus the CSRF header for a change)
//! and the problem+json body of every error.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{Modify, ToSchema};

use super::auth::{CSRF_HEADER, SESSION_COOKIE};

/// The parts of the document that no handler owns.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "RoadLedger API",
        description = "Rural road hazard survey and close-out (农村公路隐患排查与销号). Sites are GeoJSON \
                       Features; errors are RFC 9457 problem+json. Sign in with a Bearer API token (POST \
                       /api/v1/tokens, or `roadledger token create`), or with the session cookie of POST \
                       /api/v1/session, which must send the session's CSRF token in X-CSRF-Token on every \
                       change.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/api/v1", description = "this server")),
    components(schemas(Problem)),
    tags(
        (name = "sites", description = "Sites (隐患点) on the map and one at a time"),
        (name = "observations", description = "What inspectors record on site, with photos"),
        (name = "lifecycle", description = "Moving a site to its close-out (建账销号), evidence, look-backs (回头看)"),
        (name = "ledger", description = "The ledger (台账) and close-out sheets (销号单) as files"),
        (name = "photos", description = "Photos by their SHA-256"),
        (name = "reference", description = "Towns, roads, hazard types, checklists, settings"),
        (name = "places", description = "A county's towns and roads: import, list, locate stakes"),
        (name = "reports", description = "Weekly summaries (周总结), monthly bulletins (月通报), the quarterly town ranking (晴雨榜) and their publications"),
        (name = "crash_patterns", description = "When crashes happen (事故时段规律), a candidate's sheet, the holiday calendar"),
        (name = "screening", description = "Black-spot screening runs (事故多发点段筛查) and their candidates"),
        (name = "crashes", description = "Crash records (事故数据) from the police crash database's exports: import and read"),
        (name = "public-reports", description = "The public's reports (随手拍, 12345 tickets, Open311) in the dispatchers' moderation queue"),
        (name = "hotline", description = "12345 hotline tickets (热线工单): entered on the form or imported from the platform's export, into the public reports' queue"),
        (name = "accounts", description = "Signing in, API tokens, accounts"),
        (name = "public", description = "The public's reports (随手拍), without an account: submit, track, categories"),
        (name = "open311", description = "Open311 client systems' keys (the GeoReport v2 API itself is under /open311/v2/)"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// An error as every `/api/v1` route answers it (RFC 9457 `application/problem+json`). A refusal by a named
/// rule adds `code` and, as further members, the values the rule names (e.g. `unmet_items`), so clients can
/// say it in their own words.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase, e.g. `Conflict`.
    pub title: String,
    pub status: u16,
    /// What was wrong and how to fix it, in English.
    pub detail: String,
    /// For a refusal by a named rule: the rule, stably (e.g. `wrong_status`, `unmet_items`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The values the refusal names, by name, as members of their own (so not in the schema: which members
    /// depends on `code`; the README lists them).
    #[serde(flatten)]
    #[schema(ignore)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

/// Operations anyone may call, without credentials (by operation id).
const PUBLIC_OPERATIONS: &[&str] = &[
    "login",
    "openapi_json",
    "public_report_create",
    "public_report_show",
    "public_categories",
    "public_challenge",
    "public_photo",
    "public_map",
];
/// Operations about the browser session itself: a Bearer token gets 401 (`accounts::current`).
const SESSION_OPERATIONS: &[&str] = &["current"];

/// What every operation shares, applied by rule (to the finished document) so no handler can forget it.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: POST /api/v1/tokens, or `roadledger token create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie that POST /api/v1/session sets (HttpOnly)",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's csrf_token (from POST or GET /api/v1/session): every change made with the session \
                 cookie sends it",
            ))),
        );
        debug_assert_eq!(CSRF_HEADER, "x-csrf-token");

        for item in doc.paths.paths.values_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    apply(method, operation);
                }
            }
        }
    }
}

/// Security and the shared error answers of one operation; every error answer gets the problem+json body.
fn apply(method: HttpMethod, operation: &mut Operation) {
    if let Some(summary) = operation.summary.take() {
        operation.summary = Some(summary_text(&summary));
    }
    let public = operation.operation_id.as_deref().is_some_and(|id| PUBLIC_OPERATIONS.contains(&id));
    let changes = !matches!(method, HttpMethod::Get);
    if public {
        // An empty requirement: no credentials needed.
        operation.security = Some(vec![SecurityRequirement::default()]);
    } else {
        let session = if changes {
            SecurityRequirement::new("session", Vec::<String>::new()).add("csrf", Vec::<String>::new())
        } else {
            SecurityRequirement::new("session", Vec::<String>::new())
        };
        let session_only = operation.operation_id.as_deref().is_some_and(|id| SESSION_OPERATIONS.contains(&id));
        operation.security = Some(if session_only {
            vec![session]
        } else {
            vec![SecurityRequirement::new("bearer", Vec::<String>::new()), session]
        });
        add_response(operation, "401", "No credentials, or they are no longer valid (revoked, ended, disabled)");
        if changes {
            add_response(operation, "403", "Not allowed for your roles, or a session request without X-CSRF-Token");
        } else {
            add_response(operation, "403", "Not allowed for your roles");
        }
    }
    add_response(operation, "503", "The database is not answering (Retry-After: 5)");
    add_response(operation, "500", "Something failed on the server; it is logged, never shown");

    for (status, response) in operation.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let RefOr::T(response) = response
            && is_error
            && response.content.is_empty()
        {
            response.content.insert(
                "application/problem+json".into(),
                RefOr::T(ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build()),
            );
        }
    }
}

/// A handler's first doc paragraph as a summary: on one line, without the `` `GET /api/v1/…`: `` the
/// handlers' docs start with for readers of the code (the document says the method and path already).
fn summary_text(doc: &str) -> String {
    let text = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = match text.strip_prefix('`').and_then(|rest| rest.split_once("`: ")) {
        Some((_, rest)) => rest.to_string(),
        None => text,
    };
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn add_response(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
}

/// The document, built once from the router's handlers.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        // Body limits do not change the document; the router's own are set from the settings.
        let (_, mut doc) = super::api(super::BodyLimits::default()).split_for_parts();
        // After the routes: the router adds their paths to `ApiDoc`'s, and the conventions apply to all.
        Conventions.modify(&mut doc);
        doc
    })
}

/// This document, as JSON (OpenAPI 3.1). Public: integrators read it before they have an account.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of /api/v1", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_json().expect("the document serialises"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            // The document changes with a deploy only.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_drop_the_method_and_path_the_document_states() {
        assert_eq!(
            summary_text("`POST /api/v1/session`: checks the password, starts a\nfresh session."),
            "Checks the password, starts a fresh session."
        );
        assert_eq!(summary_text("The towns."), "The towns.");
        assert_eq!(summary_text("`code` is kept"), "`code` is kept");
    }
}
