//! Crash records for dispatchers: `POST /crash-imports` takes a police export (CSV, XLSX, GeoJSON) with its
//! options and answers the import's report (a dry run writes nothing); `GET /crash-imports` lists recent
//! imports; `GET /crashes` reads crashes as GeoJSON (filtered, paged) and `GET /crashes/{id}` one of them.
//! Dispatchers and admins import; dispatchers, reviewers, leaders and admins read every crash, town officers
//! their own town's.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::limits::UploadBody;
use super::sites::{BBOX_AREA_DEG2_MAX, parse_bbox};
use super::uploads::{dry_run, file_and_options};
use super::{AppState, Error, Result};
use crate::db::crashes::{self as db, CrashFilter};
use crate::domain::auth::{Actor, Permission, Role};
use crate::domain::crash::{CrashType, Severity};
use crate::import::crashes::{self as crashes, CrashImportError, CrashImportOptions, CrashLimits};

const FILE_NAME_CHARS_MAX: usize = 128;
pub const CRASHES_PAGE_DEFAULT: i64 = 500;
pub const CRASHES_PAGE_MAX: i64 = 2000;
const IMPORTS_LISTED: i64 = 50;

fn may_import(actor: &Actor) -> Result<()> {
    if actor.can(Permission::ImportCrashes) {
        Ok(())
    } else {
        Err(Error::Forbidden("importing crash records needs the dispatcher or admin role".into()))
    }
}

/// `None`: every crash; `Some(town)`: a town officer's town only (0 when their organisation has none, so
/// nothing); a role that reads no crashes is refused.
fn crash_scope(actor: &Actor) -> Result<Option<i32>> {
    if actor.can(Permission::ReadCrashes) {
        Ok(None)
    } else if actor.has(Role::TownOfficer) {
        Ok(Some(actor.town_id.unwrap_or(0)))
    } else {
        Err(Error::Forbidden(
            "crash records are read by dispatchers, reviewers, leaders, admins and town officers".into(),
        ))
    }
}

/// The parts of a crash file upload (documentation: `create` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CrashImportForm {
    /// The file: CSV (UTF-8 or GBK), XLSX or GeoJSON.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// JSON: field → column header, e.g. `{"time": "案发时间"}`.
    mapping: Option<String>,
    /// `wgs84` (default), `gcj02` or `bd09`.
    crs: Option<String>,
    /// A CSV's encoding: `gbk`, `gb18030`, `utf-8` (default: UTF-8 if valid, else GB18030).
    encoding: Option<String>,
    /// The workbook's sheet (default: the first).
    sheet: Option<String>,
    /// `true`: report what would be imported, store nothing.
    dry_run: Option<bool>,
}

/// `POST /api/v1/crash-imports`: multipart with a `file` part and optional `mapping`, `crs`, `encoding`,
/// `sheet` and `dry_run` parts. 201 with the report when imported, 200 for a dry run; rows refused are in the
/// report, not errors.
#[utoipa::path(
    post,
    path = "/crash-imports",
    operation_id = "import_crashes",
    tag = "crashes",
    request_body(content = CrashImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "A dry run: the report of what would be imported", body = Object),
        (status = 201, description = "Imported: the report (counts, dropped columns, refused rows)", body = Object),
        (status = 400, description = "A part is malformed or missing"),
        (status = 403, description = "Not a dispatcher or admin"),
        (status = 413, description = "The file is larger than the limit"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "The file or options cannot be used (no time column, a mapping to personal data, too many rows …)"),
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    mut upload_body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    may_import(&actor)?;
    let usage = "send multipart/form-data with a part \"file\" (with its file name) and optionally \"mapping\" \
                 (JSON), \"crs\", \"encoding\", \"sheet\", \"dry_run\"";
    let multipart = multipart.map_err(|e| Error::BadRequest(format!("{}; {usage}", e.body_text())))?;
    let limits = CrashLimits { bytes_max: state.settings.crash_import_bytes_max, ..CrashLimits::default() };
    let bytes_max = usize::try_from(limits.bytes_max).unwrap_or(usize::MAX);
    let options_parts = ["mapping", "crs", "encoding", "sheet", "dry_run"];
    let ((file_name, bytes), texts) =
        file_and_options(multipart, &mut upload_body, bytes_max, FILE_NAME_CHARS_MAX, &options_parts, usage).await?;
    let mut options = CrashImportOptions::new(file_name, actor.display_name.clone());
    options.limits = limits;
    options.county = Some(state.settings.county_admin_code.clone());
    options.dry_run = dry_run(texts.get("dry_run").map(String::as_str))?;
    let text = |k: &str| texts.get(k).map(String::as_str);
    options.parse_text(text("crs"), text("encoding"), text("sheet"), text("mapping")).map_err(import_error)?;
    let report = crashes::import(&state.pool, bytes, &options).await.map_err(import_error)?;
    let status = if report.dry_run { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(report)))
}

pub(super) fn import_error(e: CrashImportError) -> Error {
    match e {
        CrashImportError::TooLarge(message) => Error::PayloadTooLarge(message),
        CrashImportError::Refused { code, message } => Error::refused(StatusCode::UNPROCESSABLE_ENTITY, code, message),
        CrashImportError::Database(e) => e.into(),
        CrashImportError::Internal(e) => Error::Internal(e),
    }
}

/// `GET /api/v1/crash-imports`: the newest 50 imports with their counts and dropped columns.
#[utoipa::path(
    get,
    path = "/crash-imports",
    operation_id = "crash_imports",
    tag = "crashes",
    responses(
        (status = 200, description = "The newest 50 crash imports, newest first", body = Object),
        (status = 403, description = "Not a dispatcher, reviewer, leader or admin"),
    )
)]
pub async fn imports(State(state): State<AppState>, actor: Actor) -> Result<impl IntoResponse> {
    if !actor.can(Permission::ReadCrashes) {
        return Err(Error::Forbidden(
            "the crash imports are read by dispatchers, reviewers, leaders and admins".into(),
        ));
    }
    let body = db::imports_json(&state.pool, IMPORTS_LISTED).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CrashParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees, at most 1 square degree.
    bbox: Option<String>,
    /// First day, county time (`2025-01-01`).
    from: Option<String>,
    /// Last day, county time, included.
    to: Option<String>,
    /// `fatal`, `injury` or `property_damage_only`.
    severity: Option<String>,
    /// A crash type code, e.g. `rear_end`.
    crash_type: Option<String>,
    /// A town id.
    town: Option<String>,
    /// Page size, 1 to 2000 (default 500).
    limit: Option<String>,
    /// The previous page's `next_before`.
    before: Option<String>,
}

fn parse_date(name: &str, text: Option<&str>) -> Result<Option<NaiveDate>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| Error::BadRequest(format!("{name} is a date like 2025-03-04"))),
    }
}

/// `GET /api/v1/crashes`: crashes as a GeoJSON FeatureCollection, newest first, with `next_before` and a
/// `next` link when there is another page.
#[utoipa::path(
    get,
    path = "/crashes",
    operation_id = "list_crashes",
    tag = "crashes",
    params(CrashParams),
    responses(
        (status = 200, description = "A page of crashes (properties: time in county time, severity, counts, type, vehicles, weather, light, surface, road + stake, town)", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is malformed, or the bbox is too large"),
        (status = 403, description = "A role that reads no crashes"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    OriginalUri(uri): OriginalUri,
    params: std::result::Result<Query<CrashParams>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let scope_town_id = crash_scope(&actor)?;
    let Query(params) = params.map_err(|e| Error::BadRequest(e.body_text()))?;
    let bbox = params
        .bbox
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(|b| parse_bbox(b, Some(BBOX_AREA_DEG2_MAX)))
        .transpose()?;
    let severity = match params.severity.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<Severity>().map_err(|e| Error::BadRequest(e.to_string()))?.as_str().to_owned()),
    };
    let crash_type = match params.crash_type.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<CrashType>().map_err(|e| Error::BadRequest(e.to_string()))?.as_str().to_owned()),
    };
    let town_id = match params.town.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => Some(t.parse::<i32>().map_err(|_| Error::BadRequest("town is a town id".into()))?),
    };
    let limit = match params.limit.as_deref().filter(|s| !s.is_empty()) {
        None => CRASHES_PAGE_DEFAULT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=CRASHES_PAGE_MAX).contains(l))
            .ok_or_else(|| Error::BadRequest(format!("limit is 1 to {CRASHES_PAGE_MAX}")))?,
    };
    let before = match params.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(b) => Some(
            parse_cursor(b)
                .ok_or_else(|| Error::BadRequest("before: pass the next_before value of the previous page".into()))?,
        ),
    };
    let filter = CrashFilter {
        bbox,
        from: parse_date("from", params.from.as_deref())?,
        to: parse_date("to", params.to.as_deref())?,
        severity,
        crash_type,
        town_id,
        scope_town_id,
        before,
        id: None,
    };
    let mut rows = db::crashes_page(&state.pool, &filter, limit).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|last| format!("{},{}", last.occurred_at.to_rfc3339(), last.id))
    } else {
        None
    };
    let mut body = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row.feature);
    }
    body.push_str("],\"limit\":");
    body.push_str(&limit.to_string());
    let next_link = next.as_ref().map(|cursor| {
        let kept: Vec<&str> =
            uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty() && !p.starts_with("before=")).collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!("{}?{query}before={}", uri.path(), percent_encode(cursor))
    });
    body.push_str(",\"next_before\":");
    body.push_str(&json!(next).to_string());
    body.push_str(",\"next\":");
    body.push_str(&json!(next_link).to_string());
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}

/// `TIME,ID` as `next_before` writes it.
fn parse_cursor(text: &str) -> Option<(DateTime<Utc>, i64)> {
    let (time, id) = text.rsplit_once(',')?;
    Some((DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc), id.parse().ok()?))
}

/// A cursor in a query string: RFC 3339 times carry `+` and `:`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `GET /api/v1/crashes/{id}`: one crash as a GeoJSON Feature.
#[utoipa::path(
    get,
    path = "/crashes/{id}",
    operation_id = "show_crash",
    tag = "crashes",
    params(("id" = i64, Path, description = "The crash id")),
    responses(
        (status = 200, description = "The crash as a GeoJSON Feature", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "The id is not a number"),
        (status = 403, description = "A role that reads no crashes"),
        (status = 404, description = "No such crash (or not in a town officer's town)"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<impl IntoResponse> {
    let scope_town_id = crash_scope(&actor)?;
    let id: i64 = id.parse().map_err(|_| Error::BadRequest("a crash id is a number".into()))?;
    let feature = db::crash_feature(&state.pool, id, scope_town_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no crash {id}")))?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_the_query_string() {
        let at = DateTime::parse_from_rfc3339("2025-03-04T10:20:00+00:00").unwrap().with_timezone(&Utc);
        let cursor = format!("{},{}", at.to_rfc3339(), 42);
        assert_eq!(parse_cursor(&cursor), Some((at, 42)));
        assert_eq!(percent_encode("2025-03-04T10:20:00+00:00,42"), "2025-03-04T10%3A20%3A00%2B00%3A00%2C42");
        assert_eq!(parse_cursor("yesterday,1"), None);
    }
}
