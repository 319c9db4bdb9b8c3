//! What every answer and every request path share for safety: the security headers (Content-Security-Policy,
//! `X-Content-Type-Options`, `Referrer-Policy`) and the limit on a path's length, checked before any route.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Error, Settings};

/// Longest path segment: a file name on Linux (`NAME_MAX`). Longer ones name no file of ours, and the static
/// file service would answer them 500 ("File name too long", ENAMETOOLONG) rather than 404.
pub const PATH_SEGMENT_BYTES_MAX: usize = 255;
/// Longest path: well under `PATH_MAX` (4096) with the web directory in front; our longest real path (a
/// versioned MapLibre file, a tile, an OGC item) is under 200 bytes.
pub const PATH_BYTES_MAX: usize = 2048;

/// Refuses, before any route sees it, a path no file or route can have: a segment longer than a file name
/// (404, as any other missing file) or a path longer than `PATH_BYTES_MAX` (414). Bad input gets a 4xx,
/// never the file service's 500.
pub async fn limit_path(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.len() > PATH_BYTES_MAX {
        return Error::refused(
            StatusCode::URI_TOO_LONG,
            "path_too_long",
            format!("the path is {} bytes; at most {PATH_BYTES_MAX}", path.len()),
        )
        .into_response();
    }
    if path.split('/').any(|segment| segment.len() > PATH_SEGMENT_BYTES_MAX) {
        return Error::NotFound(format!(
            "no such page or route: a path segment is longer than {PATH_SEGMENT_BYTES_MAX} bytes"
        ))
        .into_response();
    }
    next.run(request).await
}

/// `Referrer-Policy`: the pages' addresses carry site ids and filters, which other hosts need not see; the
/// origin alone still goes along, as Tianditu's browser keys are checked against the referring domain
/// (`no-referrer` would make its tiles refuse).
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// The Content-Security-Policy of every answer (one policy: a JSON answer opened as a page gets it too).
///
/// What the pages load (web/*.js, web/*.html): ES modules from this origin only (`/vendor/` for MapLibre,
/// no inline script, no `eval`); styles from app.css and MapLibre's CSS, plus the `style` attributes MapLibre
/// and the pages write (`'unsafe-inline'` for styles only); images from this origin, photos previewed from
/// `blob:` and MapLibre's `data:`/`blob:` images; MapLibre's workers (`worker-src 'self' blob:`) and the
/// inspection page's service worker; API calls and vector tiles from this origin.
///
/// Base-map tiles: MapLibre fetches raster tiles (`connect-src`) and may draw them as images (`img-src`).
/// The hosts of the server's base maps (Tianditu, `--base-map`) are listed by name. The map page also lets
/// a user add their own XYZ service (web/basemaps.js, kept in their browser), which can be any host the
/// server never hears of, so `http:`/`https:` are allowed for these two fetch kinds as well: the protection
/// that matters here — no script but ours, no framing (`frame-ancestors 'none'`, against clickjacking), no
/// plugins, no `<base>` or form posts elsewhere — does not depend on them.
pub fn content_security_policy(settings: &Settings) -> HeaderValue {
    let mut hosts: Vec<String> = base_map_origins(settings);
    hosts.sort();
    hosts.dedup();
    let tiles = hosts.join(" ");
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data: {tiles} http: https:; connect-src 'self' {tiles} http: https:; \
         worker-src 'self' blob:; child-src 'self' blob:; font-src 'self'; manifest-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    // Origins are checked URL hosts (settings::parse_base_map, Tianditu's fixed host), so the value is a
    // valid header; should one not be, the policy without them is still sent.
    HeaderValue::from_str(&policy.replace("  ", " ")).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' blob: data: http: https:; connect-src 'self' http: https:; worker-src 'self' blob:; \
             child-src 'self' blob:; font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; \
             form-action 'self'; frame-ancestors 'none'",
        )
    })
}

/// `scheme://host[:port]` of every tile URL of the server's base maps.
fn base_map_origins(settings: &Settings) -> Vec<String> {
    super::settings::base_maps(settings.tianditu_key.as_ref(), &settings.base_maps)
        .iter()
        .flat_map(|map| map.tiles.iter().chain(&map.overlay_tiles))
        .chain(settings.base_map_url.iter())
        .filter_map(|url| origin(url))
        .collect()
}

/// The origin of an http(s) URL, lowercased; `None` for anything else or a host with unexpected characters
/// (a CSP source list is space-separated: a stray character must not add a source).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let plain = !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_taken_from_tile_urls_and_junk_is_dropped() {
        assert_eq!(
            origin("https://T0.tianditu.gov.cn/vec_w/wmts?x={x}").as_deref(),
            Some("https://t0.tianditu.gov.cn")
        );
        assert_eq!(
            origin("http://tiles.example.org:8080/{z}/{x}/{y}.png").as_deref(),
            Some("http://tiles.example.org:8080")
        );
        assert_eq!(origin("ftp://example.org/a"), None);
        assert_eq!(origin("https://evil.org;script-src/{z}"), None);
        assert_eq!(origin("https://a b/{z}"), None);
    }

    #[test]
    fn the_policy_lists_the_servers_base_map_hosts_and_forbids_framing() {
        let settings = Settings {
            base_maps: vec![
                super::super::settings::parse_base_map("A=https://t{1-2}.example.org/{z}/{x}/{y}").unwrap(),
            ],
            ..Settings::default()
        };
        let csp = content_security_policy(&settings);
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("connect-src 'self' https://t1.example.org https://t2.example.org http: https:"), "{csp}");
        assert!(csp.contains("script-src 'self';") && csp.ends_with("frame-ancestors 'none'"), "{csp}");
    }
}
