//! Authentication at the edge: the `Actor` extractor (API token or session cookie, with the CSRF check for
//! cookie requests that change state), the page gate, and cookie helpers.
//!
//! Rules: no credentials → 401; credentials but a state-changing cookie request without the session's CSRF
//! token → 403. Pages (HTML) redirect to the sign-in page instead of answering 401.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, Error, Result};
use crate::db;
use crate::domain::auth::{Actor, Permission};
use crate::secrets;

pub const SESSION_COOKIE: &str = "rl_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Longest credential we look at; real ones are 64–67 characters.
const CREDENTIAL_CHARS_MAX: usize = 128;

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    /// Any signed-in person. A detection system's account (`Actor::is_detector_only`) is refused here, so
    /// every handler that takes an `Actor` is closed to it without saying so; the detection routes take a
    /// `DetectionSender` instead.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor> {
        let actor = any_account(parts, state).await?;
        if actor.is_detector_only() {
            return Err(detector_refused());
        }
        if actor.is_hotline_only() {
            // Nested routers see their own part of the path; the whole one is what the list names.
            let path = parts.extensions.get::<OriginalUri>().map_or(parts.uri.path(), |u| u.0.path());
            if !hotline_may_reach(path) {
                return Err(hotline_refused());
            }
        }
        Ok(actor)
    }
}

/// Whether a request carries any credentials at all (an `Authorization` header or the session cookie). A
/// request without any may still read what is public (`tiles::Viewer`); one with credentials is checked, so a
/// wrong token is a 401 rather than a quiet downgrade to the public's view.
pub fn sends_credentials(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|v| {
            v.split(';').any(|c| c.trim().split_once('=').is_some_and(|(name, _)| name.trim() == SESSION_COOKIE))
        })
}

/// The account of a request to the detection routes: a detection system (or a person, whom the handler
/// then asks for the permission it needs).
pub struct DetectionSender(pub Actor);

impl FromRequestParts<AppState> for DetectionSender {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<DetectionSender> {
        any_account(parts, state).await.map(DetectionSender)
    }
}

async fn any_account(parts: &mut Parts, state: &AppState) -> Result<Actor> {
    if let Some(actor) = parts.extensions.get::<Actor>() {
        return Ok(actor.clone());
    }
    let actor = authenticate(parts, state).await?;
    parts.extensions.insert(actor.clone());
    Ok(actor)
}

/// What a hotline operator's account (`Actor::is_hotline_only`) reaches: entering and importing tickets, the
/// public reports' queue (and its map layer), its own session, password and tokens, and what the form's
/// small map reads (the settings, the towns' and roads' tiles: the county's reference data, not its sites). Everything else, every site above all, is refused, so a route added later is closed to
/// it until it is named here.
pub const HOTLINE_PATHS: &[&str] = &[
    "/api/v1/hotline-tickets",
    "/api/v1/hotline-imports",
    "/api/v1/public-reports",
    "/api/v1/session",
    "/api/v1/tokens",
    "/api/v1/settings",
    "/tiles/public_reports/",
    "/tiles/towns/",
    "/tiles/roads/",
];

/// Whether `path` is one of `HOTLINE_PATHS` or below one (`/api/v1/public-reports/7`), and not merely
/// sharing its first letters (`/api/v1/hotline-ticketsX`).
pub fn hotline_may_reach(path: &str) -> bool {
    HOTLINE_PATHS
        .iter()
        .any(|p| path.strip_prefix(p).is_some_and(|rest| p.ends_with('/') || rest.is_empty() || rest.starts_with('/')))
}

fn hotline_refused() -> Error {
    Error::Forbidden(
        "this is a 12345 hotline operator's account: it enters and imports hotline tickets and reads the public \
         reports' queue; it sees no site"
            .into(),
    )
}

/// Pages a hotline operator's account opens (the public reports' queue reads what it may: no nearby site);
/// every other page sends it to the hotline page.
const HOTLINE_PAGES: &[&str] = &["/hotline.html", "/public-reports.html", "/account.html"];

fn detector_refused() -> Error {
    Error::Forbidden(
        "this is a detection system's account: its token sends detections (POST /api/v1/detections) and does \
         nothing else"
            .into(),
    )
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Actor> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= CREDENTIAL_CHARS_MAX)
            .ok_or_else(|| Error::Unauthorized("send the API token as: Authorization: Bearer <token>".into()))?;
        return db::accounts::token_actor(&state.pool, &secrets::sha256(token)).await?.ok_or_else(|| {
            Error::Unauthorized(
                "the API token is not valid: it was revoked, it has expired, or its account is disabled".into(),
            )
        });
    }
    let db::accounts::LiveSession { actor, csrf_token, .. } =
        live_session(&parts.headers, &parts.extensions, state).await?;
    // A cookie rides along with any request the browser makes, including ones another site triggers; only
    // our own pages know the session's CSRF token (OWASP synchroniser token pattern).
    if !parts.method.is_safe() {
        let sent = parts.headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
        if !secrets::constant_time_eq(sent, csrf_token.as_bytes()) {
            return Err(Error::Forbidden(format!(
                "missing or wrong {CSRF_HEADER} header: state-changing requests made with the session cookie must \
                 send the csrf_token from GET /api/v1/session (reload the page)"
            )));
        }
    }
    Ok(actor)
}

/// The browser session the request's cookie names, if live. When this request slid the session's expiry,
/// the renewed cookie is left for `renew_session_cookie` to send: the cookie's `Max-Age` follows the
/// server's idle expiry, so an active user stays signed in (README: 12 idle hours, 7 days at most).
pub(super) async fn live_session(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    state: &AppState,
) -> Result<db::accounts::LiveSession> {
    let token = session_cookie(headers).ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
    let session = db::accounts::session_actor(&state.pool, &secrets::sha256(&token), state.settings.session_idle)
        .await?
        .ok_or_else(|| Error::Unauthorized("your session has ended; sign in again".into()))?;
    if let (Some(until), Some(CookieRenewal(slot))) = (session.renewed_until, extensions.get::<CookieRenewal>()) {
        let max_age_s = (until - chrono::Utc::now()).num_seconds().max(0);
        *slot.lock().expect("the renewal slot is never poisoned") =
            Some(session_cookie_header(&token, max_age_s, state.settings.cookie_secure));
    }
    Ok(session)
}

/// Where `live_session` leaves a renewed session cookie for the response (extractors cannot set headers).
#[derive(Clone, Default)]
struct CookieRenewal(std::sync::Arc<std::sync::Mutex<Option<HeaderValue>>>);

/// Middleware over every route: sends the renewed session cookie a request earned, unless the handler set
/// the session cookie itself (sign-in, sign-out have the last word).
pub async fn renew_session_cookie(mut request: Request, next: Next) -> Response {
    let renewal = CookieRenewal::default();
    request.extensions_mut().insert(renewal.clone());
    let mut response = next.run(request).await;
    let renewed = renewal.0.lock().expect("the renewal slot is never poisoned").take();
    if let Some(cookie) = renewed {
        let prefix = format!("{SESSION_COOKIE}=");
        let handler_set_it =
            response.headers().get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(prefix.as_bytes()));
        if !handler_set_it {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The session token from the `Cookie` header, if present and sane.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= CREDENTIAL_CHARS_MAX && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `Set-Cookie` for a new session: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site
/// POSTs), Secure when served over TLS.
pub fn session_cookie_header(token: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .expect("a hex token makes a valid header")
}

pub fn clear_cookie_header(secure: bool) -> HeaderValue {
    session_cookie_header("", 0, secure)
}

/// The client's address for sign-in throttling: the TCP peer (a reverse proxy in front should be given its
/// own throttling; `X-Forwarded-For` is not trusted because any client can send it).
pub fn client_addr(parts_extensions: &axum::http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |ConnectInfo(addr)| addr.ip().to_string())
}

/// Pages that anyone may load; every other `.html` page (and `/`) needs a session. The API reference is
/// public like the document it reads (`GET /api/v1/openapi.json`): integrators read it before they have an
/// account.
/// The public report page and its tracking page are for people without accounts (issue 13).
const PUBLIC_PAGES: &[&str] = &["/login.html", "/404.html", "/api.html", "/report.html", "/track.html"];
/// Pages only for account managers.
const ADMIN_PAGES: &[&str] = &["/admin.html"];

/// Sends visitors without a session to the sign-in page, remembering where they were going.
pub async fn gate_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // The file server decodes `%2E` and skips `//` and `/./`; the gate must judge the path it will serve,
    // so only canonical paths get past (none of our files needs anything else).
    if !is_canonical(path) {
        return Error::NotFound("no such page".into()).into_response();
    }
    let is_page = path == "/" || path.ends_with('/') || path.ends_with(".html");
    if !is_page || PUBLIC_PAGES.contains(&path) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match authenticate(&parts, &state).await {
        Ok(actor) if actor.is_detector_only() => detector_refused().into_response(),
        Ok(actor) if actor.is_hotline_only() && !HOTLINE_PAGES.contains(&parts.uri.path()) => {
            Redirect::to("/hotline.html").into_response()
        }
        Ok(actor) if ADMIN_PAGES.contains(&parts.uri.path()) && !actor.can(Permission::ManageUsers) => {
            Redirect::to("/").into_response()
        }
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(Error::Unavailable) => Error::Unavailable.into_response(),
        Err(_) => {
            let wanted = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!("/login.html?next={}", percent_encode(wanted))).into_response()
        }
    }
}

fn is_canonical(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains('%')
        && !path.contains("//")
        && !path.contains('\\')
        && !path.split('/').any(|segment| segment == "." || segment == "..")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others_and_junk_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; rl_session=abc123; lang=zh"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("rl_session=abc;drop table"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("rl_session=a'b"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn only_canonical_paths_reach_the_page_gate() {
        for ok in ["/", "/index.html", "/vendor/maplibre-gl/maplibre-gl.mjs"] {
            assert!(is_canonical(ok), "{ok}");
        }
        for bad in ["/index%2Ehtml", "//admin.html", "/./admin.html", "/a/../admin.html", "/%61dmin.html", "/x\\y"] {
            assert!(!is_canonical(bad), "{bad}");
        }
    }

    #[test]
    fn a_hotline_account_reaches_its_paths_and_below_them_only() {
        for ok in ["/api/v1/hotline-tickets", "/api/v1/public-reports/7/photos/0", "/api/v1/session/password"] {
            assert!(hotline_may_reach(ok), "{ok}");
        }
        assert!(hotline_may_reach("/tiles/public_reports/14/1/2.mvt"));
        for bad in ["/api/v1/sites", "/api/v1/hotline-ticketsx", "/api/v1/ledger.csv", "/tiles/sites/1/2/3.mvt"] {
            assert!(!hotline_may_reach(bad), "{bad}");
        }
    }

    #[test]
    fn next_is_encoded() {
        assert_eq!(percent_encode("/inspect.html?x=1&y=二"), "/inspect.html%3Fx%3D1%26y%3D%E4%BA%8C");
    }

    #[test]
    fn the_cookie_is_httponly_and_samesite() {
        let v = session_cookie_header("ab", 60, true);
        assert_eq!(v.to_str().unwrap(), "rl_session=ab; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
    }
}
