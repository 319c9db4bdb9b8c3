//! What every request goes through first, and `/metrics`:
//!
//! - [`observe`] gives each request its id (the client's `X-Request-Id` when it is sane, else a new one),
//!   answers it in `X-Request-Id`, and counts the request by route template, method and status class, with
//!   its latency (`crate::metrics`). The request's tracing span carries the id (see `request_span`), so every
//!   log line of the request, the error type's included, names it.
//! - [`router`] serves `GET /metrics` in the Prometheus text format. It is a router of its own, served only
//!   on `--metrics-listen`, never with the application: the figures say how busy the service is and which
//!   routes fail, which is for the operator and not for the internet.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;

use crate::metrics::{self, METRICS, ROUTE_FALLBACK, Snapshot};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest request id taken from a client.
pub const REQUEST_ID_BYTES_MAX: usize = 64;

/// A request's id, in the request's extensions for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// A client's request id is kept when it is 1–64 characters of `[A-Za-z0-9._-]`: safe in a log line and a
/// header, and short enough to keep (a proxy's UUID or trace id fits). Anything else is replaced.
fn sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= REQUEST_ID_BYTES_MAX
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The route template the router matched (`/api/v1/sites/{id}`), never the path itself, so the label set
/// is bounded by the router. Requests no route matched (pages, files, unknown paths) share one label.
fn route_label(route: Option<&MatchedPath>) -> &str {
    match route {
        // A nested router's fallback matches as a catch-all with axum's private parameter name.
        Some(path) if !path.as_str().contains("__private__") => path.as_str(),
        _ => ROUTE_FALLBACK,
    }
}

/// The outermost layer of the application (see `http::router`): the request id and the request metrics.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = METRICS.in_flight.track();
    let id = match request.headers().get(&X_REQUEST_ID) {
        Some(given) if sane_request_id(given) => given.clone(),
        _ => {
            let new = uuid::Uuid::new_v4().simple().to_string();
            HeaderValue::from_str(&new).expect("hex digits are a header value")
        }
    };
    // Replaced in the request too, so the trace span (and any handler) sees the id that is answered.
    request.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    // `MatchedPath` is shared text (an `Arc<str>`): kept without copying it.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();

    let mut response = next.run(request).await;

    metrics::record_request(route_label(route.as_ref()), &method, response.status().as_u16(), started.elapsed());
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// The tracing span of a request (`TraceLayer::make_span_with`): its id, method, route template and path.
/// Every event logged while the request is answered is inside it, so a log line names its request.
///
/// The span is at level ERROR so that it is enabled whenever any event is: a span filtered out (an
/// `info` span under `RUST_LOG=warn`) would leave the warnings and errors without their request id.
pub fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    let route = route_label(request.extensions().get::<MatchedPath>());
    tracing::error_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
        path = %request.uri().path(),
    )
}

/// `GET /metrics` over the pool it reports on; nothing else is routed.
pub fn router(pool: PgPool) -> Router {
    Router::new().route("/metrics", get(exposition)).with_state(pool)
}

async fn exposition(State(pool): State<PgPool>) -> Response {
    let snapshot = Snapshot {
        pool_size: pool.size(),
        pool_idle: pool.num_idle(),
        pool_max: pool.options().get_max_connections(),
        queues: [
            (METRICS.pdf_render.name, super::closeout::renders_in_use(), super::closeout::RENDERS_CONCURRENT_MAX),
            (METRICS.ledger_export.name, super::ledger::exports_in_use(), super::ledger::EXPORTS_CONCURRENT_MAX),
            (
                METRICS.site_export.name,
                super::site_exports::exports_in_use(),
                super::site_exports::EXPORTS_CONCURRENT_MAX,
            ),
        ],
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        metrics::render(&snapshot),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_kept_only_when_short_and_plain() {
        let sane = |s: &str| sane_request_id(&HeaderValue::from_str(s).unwrap());
        assert!(sane("abc-DEF_123.4"));
        assert!(sane(&"a".repeat(64)));
        assert!(!sane(&"a".repeat(65)));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("a/b"));
        assert!(!sane("id\"; drop"));
    }
}
