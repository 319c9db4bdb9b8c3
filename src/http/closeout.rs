//! `GET /api/v1/sites/{id}/closeout.pdf`: the close-out sheet (销号单) of a closed site as a PDF, for printing
//! and filing (DOMAIN.md §8). Built from the same detail as `GET /api/v1/sites/{id}`, so it shows what the
//! site page shows, in the same scope: a site the user cannot see is a 404.
//!
//! - Only a closed site has a sheet: any other status is a 409 that says which status the site is in.
//! - The sheet needs a Chinese font on the server; without one the answer is a 503 that names the Debian
//!   package to install (`fonts-noto-cjk`), since no retry will help until someone installs it.
//! - Rendering (font loading the first time, layout, font subsetting) runs in `spawn_blocking`, at most
//!   [`RENDERS_CONCURRENT_MAX`] at once, so a burst of downloads cannot take every core from the API.

use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::openapi::Problem;
use super::{AppState, Error, Result};
use crate::closeout::{self, CjkFont, FontError, Names, Sheet};
use crate::db;
use crate::domain::auth::Actor;
use crate::domain::labels;
use crate::domain::site::SiteStatus;
use crate::photos::PhotoStore;

/// Sheets rendered at once, server-wide: one per core of a small county server.
pub const RENDERS_CONCURRENT_MAX: usize = 2;
static RENDERS: Semaphore = Semaphore::const_new(RENDERS_CONCURRENT_MAX);

/// Render slots taken now (for `/metrics`).
pub(super) fn renders_in_use() -> usize {
    RENDERS_CONCURRENT_MAX.saturating_sub(RENDERS.available_permits())
}
/// How long a request waits for a render slot before it is turned away with 429.
const RENDER_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Photos on one sheet at most (a before-photo, and an after- and a night-photo per item): a bound on the
/// memory one sheet takes, far above what the built-in checklists need (11).
pub const SHEET_PHOTOS_MAX: usize = 64;

const FONT_MISSING: &str = "the close-out sheet needs a Chinese font and the server has none: install the Debian \
                            package fonts-noto-cjk (apt-get install fonts-noto-cjk), or start the server with \
                            --cjk-font (ROADLEDGER_CJK_FONT) naming an OpenType font with Chinese glyphs";

/// The close-out sheet (销号单) of a closed site, for printing and filing.
#[utoipa::path(
    get,
    path = "/sites/{id}/closeout.pdf",
    operation_id = "closeout_pdf",
    tag = "ledger",
    params(("id" = String, Path, description = "The site id (a UUID)")),
    responses(
        (status = 200, description = "The close-out sheet (销号单) as an A4 PDF", body = String, content_type = "application/pdf"),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such site in your scope"),
        (status = 409, description = "The site is not closed"),
        (status = 429, description = "Sheets are being printed for others; Retry-After says when to try again"),
        (status = 503, description = "The server has no Chinese font (the message names the package to install)"),
    )
)]
pub async fn pdf(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Response> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a site id (a UUID)")))?;
    let (feature, _version) = db::sites::detail(&state.pool, id, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    let site = &feature.properties;
    if site.status != SiteStatus::Closed {
        return Err(Error::Conflict(format!(
            "site {code} is {status} ({label}); a close-out sheet exists only for a closed site (已销号), once a \
             reviewer has approved its close-out",
            code = site.code,
            status = site.status,
            label = labels::site_status(site.status),
        )));
    }

    let names = Names::from_reference_json(
        &db::reference::hazard_types_json(&state.pool).await?,
        &db::reference::templates_json(&state.pool).await?,
    )
    .map_err(|e| Error::Internal(e.into()))?;
    let now = chrono::Utc::now().with_timezone(&closeout::china_time());
    let mut sheet = Sheet::from_detail(&feature, &names, now);
    if sheet.photos.len() > SHEET_PHOTOS_MAX {
        return Err(Error::Internal(anyhow::anyhow!("site {id} has {} photos on its sheet", sheet.photos.len())));
    }
    fetch_thumbnails(&state.photos, &mut sheet).await?;

    let code = sheet.code.clone();
    let started = Instant::now();
    let bytes = match render_pdf(state.settings.cjk_font.clone(), move |font| closeout::render(&sheet, font)).await? {
        Ok(bytes) => bytes,
        Err(font_missing) => return Ok(font_missing),
    };
    tracing::info!(site = %code, bytes = bytes.len(), ms = started.elapsed().as_millis() as u64, "close-out sheet");

    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
        (header::CONTENT_DISPOSITION, content_disposition(&code)),
        // Evidence behind a sign-in: no shared caches. The sheet carries its generation time, so a new
        // request makes a new sheet.
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
    ];
    Ok((headers, bytes).into_response())
}

/// Renders a PDF with the server's Chinese font, off the async threads and at most
/// [`RENDERS_CONCURRENT_MAX`] at once server-wide (close-out sheets, reports and boards share the slots).
/// A queue longer than [`RENDER_QUEUE_WAIT`] is a 429; no font is `Err` with the 503 that names the package.
pub(super) async fn render_pdf(
    configured_font: Option<std::path::PathBuf>,
    render: impl FnOnce(&CjkFont) -> anyhow::Result<Vec<u8>> + Send + 'static,
) -> Result<std::result::Result<Vec<u8>, Response>> {
    let queue = &crate::metrics::METRICS.pdf_render;
    let waiting = queue.waiting.track();
    let permit = tokio::time::timeout(RENDER_QUEUE_WAIT, RENDERS.acquire()).await;
    drop(waiting);
    let permit = match permit {
        Ok(permit) => permit.map_err(|e| Error::Internal(e.into()))?,
        Err(_) => {
            queue.refused.inc();
            return Err(Error::TooManyRequests {
                message: "PDFs are being printed for others; try again in a few seconds".into(),
                retry_after_s: 5,
            });
        }
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let font = CjkFont::shared(configured_font.as_deref())?;
        Ok::<_, RenderError>(render(font)?)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    drop(permit);
    match rendered {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(RenderError::Font(e)) => Ok(Err(font_missing(&e))),
        Err(RenderError::Pdf(e)) => Err(Error::Internal(e)),
    }
}

/// `Content-Disposition` for a file with a Chinese name: RFC 6266 with the UTF-8 name in `filename*`
/// (RFC 5987/8187), and `ascii` as the `filename` of clients that do not read `filename*`.
pub(super) fn file_disposition(disposition: &str, ascii: &str, name: &str) -> HeaderValue {
    let value = format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{}", rfc5987(name));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error(transparent)]
    Pdf(#[from] anyhow::Error),
}

/// Reads the thumbnails the sheet shows. A thumbnail missing from the store leaves its slot saying so (the
/// sheet is still worth having); any other storage error fails the request.
async fn fetch_thumbnails(store: &PhotoStore, sheet: &mut Sheet) -> Result<()> {
    let reads = sheet.photos.iter().map(|photo| async move {
        let sha = &photo.sha256;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        match store.get(&PhotoStore::thumbnail_key(sha)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(object_store::Error::NotFound { .. }) => {
                tracing::warn!(sha256 = %sha, "a close-out photo's thumbnail is missing from the photo store");
                Ok(None)
            }
            Err(e) => Err(Error::from(e)),
        }
    });
    let thumbnails = futures::future::try_join_all(reads).await?;
    for (photo, jpeg) in sheet.photos.iter_mut().zip(thumbnails) {
        photo.jpeg = jpeg;
    }
    Ok(())
}

/// The 503 for a server without a Chinese font: what to install, in the problem+json shape of `Error`.
/// No `Retry-After`: nothing changes until an administrator installs the font.
fn font_missing(e: &FontError) -> Response {
    tracing::error!(error = %e, "cannot render a close-out sheet");
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Service Unavailable").to_string(),
        status: status.as_u16(),
        detail: FONT_MISSING.to_string(),
        code: None,
        facts: Default::default(),
    };
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"))], axum::Json(body))
        .into_response()
}

/// `inline` with the file name 销号单-<code>.pdf: RFC 6266 with the UTF-8 name in `filename*` (RFC 5987/8187),
/// and an ASCII `filename` for clients that do not read `filename*`.
fn content_disposition(code: &str) -> HeaderValue {
    let ascii: String =
        code.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    file_disposition("inline", &format!("closeout-{ascii}.pdf"), &format!("销号单-{code}.pdf"))
}

/// Percent-encodes everything but RFC 5987 `attr-char`.
fn rfc5987(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_file_name_is_encoded_for_every_client() {
        assert_eq!(
            content_disposition("YH-000123").to_str().unwrap(),
            "inline; filename=\"closeout-YH-000123.pdf\"; \
             filename*=UTF-8''%E9%94%80%E5%8F%B7%E5%8D%95-YH-000123.pdf"
        );
        assert_eq!(rfc5987("a b\"/"), "a%20b%22%2F");
    }

    #[tokio::test]
    async fn without_a_font_the_answer_is_a_503_that_names_the_package() {
        let response = font_missing(&FontError::NotFound { searched: vec!["/nonexistent.ttc".into()] });

        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], 503);
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("fonts-noto-cjk") && detail.contains("ROADLEDGER_CJK_FONT"), "{detail}");
        // The server's paths stay in the log.
        assert!(!detail.contains("/nonexistent.ttc"), "{detail}");
    }
}
