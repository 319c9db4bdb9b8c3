//! 12345 hotline tickets (热线工单): `POST /hotline-tickets` takes one ticket from the operators' form (JSON)
//! and `POST /hotline-imports` the platform's CSV export (multipart, a dry run first). Both store public
//! reports of the hotline channel through `db::hotline::store`, waiting for a dispatcher's moderation; the
//! ticket number (工单号) is the key, so the same ticket sent again answers the stored one (200) and a
//! different ticket under a known number is refused (409 on the form, a refused row in an import).
//! Hotline operators and dispatchers (`EnterHotlineTickets`).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::crashes::import_error;
use super::limits::UploadBody;
use super::uploads::{dry_run, file_and_options};
use super::{ApiJson, AppState, Error, Result};
use crate::db::hotline::{self as db, Outcome, TicketView};
use crate::domain::auth::{Actor, Permission};
use crate::domain::coords::SourceCrs;
use crate::domain::hotline::{FieldError, TicketInput, check};
use crate::domain::public_report::mask_phone;
use crate::import::hotline::{self as hotline_import, HotlineImportOptions};

const FILE_NAME_CHARS_MAX: usize = 128;

fn may_enter(actor: &Actor) -> Result<()> {
    if actor.can(Permission::EnterHotlineTickets) {
        Ok(())
    } else {
        Err(Error::Forbidden("entering hotline tickets needs the hotline or dispatcher role".into()))
    }
}

/// A place picked on the map: longitude and latitude in `crs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickedPoint {
    pub lon: f64,
    pub lat: f64,
    /// `wgs84` (default), `gcj02` or `bd09`: the system of the map the point was picked on.
    #[serde(default)]
    pub crs: SourceCrs,
}

/// A hotline ticket as the operator enters it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketForm {
    /// The hotline's ticket number (工单号): letters, digits, `-` and `_`, at most 40. The key: the same
    /// number again is the same ticket.
    pub ticket_no: Option<String>,
    /// When the caller rang (RFC 3339, or county time such as `2026-12-07 09:30`); default now.
    pub called_at: Option<String>,
    /// What the caller reported (诉求内容), at most 2000 characters.
    pub description: Option<String>,
    /// The address in words (事发地址), at most 200 characters: required unless `location` is given.
    pub address: Option<String>,
    pub location: Option<PickedPoint>,
    /// A public category's code (default `other`).
    pub category: Option<String>,
    /// The caller's phone number (5–20 digits; spaces and hyphens dropped).
    pub caller_phone: Option<String>,
    /// The caller's name, at most 64 characters.
    pub caller_name: Option<String>,
}

fn invalid(FieldError { field, message }: FieldError) -> Error {
    Error::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_field",
        message: format!("{field}: {message}"),
        facts: json!({ "field": field }),
    }
}

/// The stored ticket as the actor may read it: the caller's phone in full for dispatchers only.
async fn answer(state: &AppState, actor: &Actor, id: i64, status: StatusCode) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let mut view: TicketView =
        db::view(&mut conn, id).await?.ok_or_else(|| Error::NotFound("no such ticket".into()))?;
    if !actor.can(Permission::SeeReporterContact) {
        view.caller_phone = view.caller_phone.as_deref().map(mask_phone);
    }
    let mut response = (status, Json(view)).into_response();
    if status == StatusCode::CREATED {
        response.headers_mut().insert(header::LOCATION, HeaderValue::from(id));
    }
    Ok(response)
}

/// Enters one hotline ticket into the public reports' queue.
#[utoipa::path(
    post,
    path = "/hotline-tickets",
    operation_id = "enter_hotline_ticket",
    tag = "hotline",
    request_body = TicketForm,
    responses(
        (status = 201, description = "Stored, waiting for a dispatcher: the ticket (with its tracking token)", body = TicketView),
        (status = 200, description = "This ticket was stored before, with the same content: the stored ticket", body = TicketView),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 403, description = "Not a hotline operator or dispatcher"),
        (status = 409, description = "Another ticket is stored under this number (the message names the number and the fields that differ)"),
        (status = 422, description = "A field breaks a rule (`facts.field` names it)"),
    )
)]
pub async fn enter(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(form): ApiJson<TicketForm>,
) -> Result<Response> {
    may_enter(&actor)?;
    let now = Utc::now();
    let called_at = match form.called_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(parse_called_at(text, now)?),
    };
    let input = TicketInput {
        ticket_no: form.ticket_no.as_deref(),
        called_at,
        description: form.description.as_deref(),
        address: form.address.as_deref(),
        point: form.location.as_ref().map(|p| (p.lon, p.lat)),
        crs: form.location.as_ref().map_or(SourceCrs::Wgs84, |p| p.crs),
        category: form.category.as_deref(),
        caller_phone: form.caller_phone.as_deref(),
        caller_name: form.caller_name.as_deref(),
    };
    let ticket = check(&input, now).map_err(invalid)?;
    let mut tx = state.pool.begin().await?;
    let mut outcome = db::store(&mut tx, &ticket, &actor.display_name).await?;
    tx.commit().await?;
    // A form sent without a time took now's: a retry of it (a lost answer) is still the same ticket.
    if let (None, Outcome::Conflict { id, fields }) = (called_at, &mut outcome) {
        fields.retain(|f| *f != "called_at");
        if fields.is_empty() {
            outcome = Outcome::Known(*id);
        }
    }
    match outcome {
        Outcome::Created(id) => {
            tracing::info!(id, ticket_no = %ticket.ticket_no, "hotline ticket entered");
            answer(&state, &actor, id, StatusCode::CREATED).await
        }
        Outcome::Known(id) => answer(&state, &actor, id, StatusCode::OK).await,
        Outcome::Conflict { id, fields } => Err(Error::Refused {
            status: StatusCode::CONFLICT,
            code: "ticket_conflict",
            message: format!(
                "ticket {} is stored already with a different {}; a ticket number names one ticket (check the \
                 number, or ask a dispatcher to correct the stored ticket)",
                ticket.ticket_no,
                fields.join(", ")
            ),
            facts: json!({ "ticket_no": ticket.ticket_no, "id": id, "fields": fields }),
        }),
    }
}

fn parse_called_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    crate::import::crashes::row::parse_time(text, false, now)
        .map_err(|message| invalid(FieldError { field: "called_at", message }))
}

/// The parts of a hotline export upload (documentation: `import` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HotlineImportForm {
    /// The 12345 platform's export: CSV, UTF-8 (with or without a BOM) or GBK/GB18030.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The coordinates' system: `wgs84` (default), `gcj02` or `bd09`.
    crs: Option<String>,
    /// The CSV's encoding: `gbk`, `gb18030`, `utf-8` (default: UTF-8 if valid, else GB18030).
    encoding: Option<String>,
    /// `true`: report what would be stored, store nothing.
    dry_run: Option<bool>,
}

/// Imports a 12345 platform export of tickets. Rows that cannot be read are refused with their row numbers
/// and reasons, the rest stored; tickets stored before are counted, not stored again.
#[utoipa::path(
    post,
    path = "/hotline-imports",
    operation_id = "import_hotline_tickets",
    tag = "hotline",
    request_body(content = HotlineImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "A dry run: the report of what would be stored", body = Object),
        (status = 201, description = "Imported: the report (rows read, stored, already known, refused with reasons)", body = Object),
        (status = 400, description = "A part is malformed or missing"),
        (status = 403, description = "Not a hotline operator or dispatcher"),
        (status = 413, description = "The file is larger than the limit"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "The file cannot be used (encoding, no ticket number column, too many rows …)"),
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    actor: Actor,
    mut upload_body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    may_enter(&actor)?;
    let usage = "send multipart/form-data with a part \"file\" (with its file name) and optionally \"crs\", \
                 \"encoding\", \"dry_run\"";
    let multipart = multipart.map_err(|e| Error::BadRequest(format!("{}; {usage}", e.body_text())))?;
    let limits = crate::import::crashes::CrashLimits {
        bytes_max: state.settings.hotline_import_bytes_max,
        ..hotline_import::default_limits()
    };
    let bytes_max = usize::try_from(limits.bytes_max).unwrap_or(usize::MAX);
    let ((file_name, bytes), texts) = file_and_options(
        multipart,
        &mut upload_body,
        bytes_max,
        FILE_NAME_CHARS_MAX,
        &["crs", "encoding", "dry_run"],
        usage,
    )
    .await?;
    let mut options = HotlineImportOptions::new(file_name, actor.display_name.clone());
    options.limits = limits;
    options.dry_run = dry_run(texts.get("dry_run").map(String::as_str))?;
    let text = |k: &str| texts.get(k).map(String::as_str);
    options.parse_text(text("crs"), text("encoding")).map_err(import_error)?;
    let report = hotline_import::import(&state.pool, bytes, &options).await.map_err(import_error)?;
    let status = if report.dry_run { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(report)))
}
