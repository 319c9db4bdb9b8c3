//! MapLibre for the pages, under `/vendor/` (issue 9, item 4: long caching for vendor files).
//!
//! MapLibre is 1.1 MB of main module and 0.5 MB of worker (before compression), and changes only when
//! `web/package.json` moves it to another version. So it is served twice:
//!
//! - **`/vendor/maplibre-gl@<version>/…`**, the version read from `web/node_modules/maplibre-gl/package.json`
//!   when the router is built: `Cache-Control: public, max-age=31536000, immutable`. A new version is a new
//!   path, so a browser never needs to ask again. `GET /api/v1/settings` gives this prefix as
//!   `vendor.maplibre` (null when MapLibre is not installed).
//! - **`/vendor/maplibre-gl/…`**, unversioned, as before, with `Cache-Control: no-cache` (a browser revalidates,
//!   and gets a 304 from `Last-Modified`). Pages import MapLibre statically from here
//!   (`import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs'`), so that a page need not know the
//!   version.
//!
//! The unversioned `maplibre-gl.mjs` is not the 1.1 MB file but a two-line module that re-exports the
//! versioned one (`export * from '/vendor/maplibre-gl@<version>/maplibre-gl.mjs'`), with an `ETag`, so a
//! page's revalidation is a 304 of no body. MapLibre finds its worker next to its own module
//! (`new URL('./maplibre-gl-worker.mjs', import.meta.url)`), which is then the versioned path too: both heavy
//! files are fetched once per version and per browser, while no page names a version. The CSS and the other
//! files stay plain no-cache under the unversioned path (pages may link the versioned CSS instead).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;

/// The versioned paths of the vendor files, as `GET /api/v1/settings` gives them to the pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorPaths {
    /// `/vendor/maplibre-gl@<version>`, or `None` when MapLibre is not installed (or its version is odd).
    pub maplibre: Option<String>,
}

/// What a versioned file may be cached for: a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The unversioned path: revalidate every time (a 304 when nothing changed).
const REVALIDATE: &str = "no-cache";
/// Longest version string accepted from MapLibre's package.json.
const VERSION_CHARS_MAX: usize = 64;

/// The `version` of an npm package's package.json, if it is a plain version (digits, letters, `.`, `-`, `+`),
/// safe in a URL path.
pub fn package_version(package_json: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let version = value.get("version")?.as_str()?;
    let plain = !version.is_empty()
        && version.len() <= VERSION_CHARS_MAX
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
    plain.then(|| version.to_owned())
}

/// The `/vendor/` routes for MapLibre installed under `web_dir/node_modules/maplibre-gl`, and their paths.
pub fn routes(web_dir: &Path) -> (Router<AppState>, VendorPaths) {
    let package = web_dir.join("node_modules/maplibre-gl");
    let dist = package.join("dist");
    let revalidate = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    let unversioned = ServeDir::new(&dist);
    let Some(version) = package_version(&package.join("package.json")) else {
        if package.exists() {
            tracing::warn!(package = %package.display(), "no usable version in MapLibre's package.json: \
                           it is served without a versioned path");
        }
        let router = Router::new().nest_service("/vendor/maplibre-gl", unversioned).layer(revalidate);
        return (router, VendorPaths::default());
    };
    let prefix = format!("/vendor/maplibre-gl@{version}");
    let shim = Arc::new(Shim {
        body: format!(
            "// MapLibre GL JS {version}: the module itself is served, cached for good, under {prefix}/.\n\
             export * from '{prefix}/maplibre-gl.mjs';\n"
        ),
        etag: HeaderValue::from_str(&format!("\"maplibre-gl@{version}\"")).expect("a plain version"),
    });
    // Only answers that are the file get a year: a 404 must not be kept.
    let immutable = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, |response: &Response| {
        response.status().is_success().then(|| HeaderValue::from_static(IMMUTABLE))
    });
    let router = Router::new()
        .route(
            "/vendor/maplibre-gl/maplibre-gl.mjs",
            get(move |headers: HeaderMap| async move { shim.answer(&headers) }),
        )
        .nest_service("/vendor/maplibre-gl", unversioned)
        .layer(revalidate)
        .merge(Router::new().nest_service(&prefix, ServeDir::new(&dist)).layer(immutable));
    (router, VendorPaths { maplibre: Some(prefix) })
}

/// The unversioned `maplibre-gl.mjs`: a module that re-exports the versioned one.
struct Shim {
    body: String,
    etag: HeaderValue,
}

impl Shim {
    fn answer(&self, headers: &HeaderMap) -> Response {
        let matches = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim() == "*" || tag.trim().trim_start_matches("W/") == self.etag);
        let common = [(header::ETAG, self.etag.clone())];
        if matches {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        (
            common,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))],
            self.body.clone(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_versions_are_taken_from_package_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.json");
        let cases = [
            (r#"{"name": "maplibre-gl", "version": "6.17.0"}"#, Some("6.17.0")),
            (r#"{"version": "5.0.0-pre.1+build.7"}"#, Some("5.0.0-pre.1+build.7")),
            (r#"{"version": "../../etc"}"#, None),
            (r#"{"version": "1.0/evil"}"#, None),
            (r#"{"version": ""}"#, None),
            (r#"{"version": 6}"#, None),
            (r#"{"name": "x"}"#, None),
            ("not json", None),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).unwrap();
            assert_eq!(package_version(&path).as_deref(), want, "{text}");
        }
        assert_eq!(package_version(&dir.path().join("missing.json")), None);
    }
}
