//! Open311 GeoReport v2 under `/open311/v2/` (issue 13), with mySociety's `servicerequestupdates`: civic
//! platforms and apps list the public categories as services, post requests with a key an admin issued, and
//! follow them. Every resource answers in JSON (`.json`) and XML (`.xml`) from one description of its
//! fields (`Value`), so the two formats cannot drift apart; errors are the spec's `[{code, description}]`
//! and `<errors>`, never problem+json.
//!
//! A posted request becomes a public report (channel `open311`) through the same insert as the public page
//! and the hotline, and waits for a dispatcher like them. What GETs show is decided in `db::open311`:
//! no contact data, no staff, no hidden reports, and the description, address and photo only after a
//! dispatcher has accepted the report.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::json;

use super::{AppState, Error, Result};
use crate::db::open311::{self as db, KeyCheck, RequestFilter, RequestRow, UpdateRow};
use crate::db::public_reports::{self, NewPublicReport, Stored};
use crate::domain::coords::{SourceCrs, in_china};
use crate::domain::public_report::{
    ADDRESS_CHARS_MAX, CATEGORIES, CONTACT_EMAIL_CHARS_MAX, CONTACT_NAME_CHARS_MAX, Category, Channel,
    DESCRIPTION_CHARS_MAX, PublicStatus, category, normalise_phone, tracking_token,
};

/// The routes, outside `/api/v1` (Open311 clients know these paths, and no account is involved).
pub fn routes() -> Router<AppState> {
    Router::new().route("/open311/v2/{*path}", get(read)).route("/open311/v2/{*path}", post(create))
}

/// The spec's specification URL, named in the discovery document.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When this service's description (endpoints, services) last changed: the discovery's `changeset`.
const CHANGESET: &str = "2026-12-07T00:00:00Z";
/// Every category is one service group.
const SERVICE_GROUP: &str = "道路交通安全隐患";
/// What a client tells the person who posted.
const SERVICE_NOTICE: &str =
    "已受理，交安办核实后处理 / Received: the road-safety office checks every report before it is acted on";
/// Largest form body a POST may send (the fields' own limits add up to well under this).
const FORM_BYTES_MAX: usize = 64 * 1024;
/// Most `service_request_id`s one GET may name.
const IDS_MAX: usize = 100;
/// A GET's window when it names one end or neither: this many days (the spec's suggestion) from or to the
/// date named, or up to now.
const DEFAULT_WINDOW_DAYS: i64 = 90;
/// The limits of what a client sends and we do not keep (`device_id`, `account_id`, `media_url`).
const CLIENT_ID_CHARS_MAX: usize = 64;
const MEDIA_URL_CHARS_MAX: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `requests.json` → ("requests", Json).
fn split_format(file: &str) -> Option<(&str, Format)> {
    match file.rsplit_once('.') {
        Some((name, "json")) => Some((name, Format::Json)),
        Some((name, "xml")) => Some((name, Format::Xml)),
        _ => None,
    }
}

/// A resource without a known format: a 404, answered in JSON.
fn unknown_format(file: &str) -> Response {
    error(Format::Json, Error::NotFound(format!("no such resource {file:?}: Open311 resources end in .json or .xml")))
}

// ------------------------------------------------------------------------------------------------------------
// One description of a document, written as JSON or XML.

/// A field's value. `List` names the XML element of each item; in JSON it is an array.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    List(&'static str, Vec<Value>),
    Record(Vec<(&'static str, Value)>),
}

impl Value {
    fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    fn opt(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::Text)
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Value::Text(s) => json!(s),
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::List(_, items) => serde_json::Value::Array(items.iter().map(Value::json).collect()),
            Value::Record(fields) => {
                serde_json::Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.json())).collect())
            }
        }
    }

    fn xml(&self, name: &str, out: &mut String) {
        let inner = match self {
            Value::Null => {
                out.push_str(&format!("<{name}/>"));
                return;
            }
            Value::Text(s) => crate::xml::escape(s),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::List(item, items) => {
                let mut s = String::new();
                for v in items {
                    v.xml(item, &mut s);
                }
                s
            }
            Value::Record(fields) => {
                let mut s = String::new();
                for (k, v) in fields {
                    v.xml(k, &mut s);
                }
                s
            }
        };
        out.push_str(&format!("<{name}>{inner}</{name}>"));
    }
}

/// A whole answer: its XML root element and its body (in JSON the body alone, as the spec's examples).
struct Document {
    root: &'static str,
    body: Value,
}

impl Document {
    fn render(&self, format: Format, status: StatusCode) -> Response {
        match format {
            Format::Json => {
                let body = serde_json::to_vec(&self.body.json()).expect("JSON values serialise");
                (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
            }
            Format::Xml => {
                let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                self.body.xml(self.root, &mut body);
                (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
            }
        }
    }
}

/// An error in the spec's shape: `[{"code": 400, "description": "…"}]`, `<errors><error>…`.
fn error(format: Format, e: Error) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = ?e, "Open311 request failed");
    }
    let doc = Document {
        root: "errors",
        body: Value::List(
            "error",
            vec![Value::Record(vec![
                ("code", Value::Int(i64::from(status.as_u16()))),
                ("description", Value::text(e.to_string())),
            ])],
        ),
    };
    let mut response = doc.render(format, status);
    let retry = match &e {
        Error::TooManyRequests { retry_after_s, .. } | Error::Busy { retry_after_s, .. } => Some(*retry_after_s),
        Error::Unavailable => Some(5),
        _ => None,
    };
    if let Some(s) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    response
}

fn answer(format: Format, result: Result<Document>, status: StatusCode) -> Response {
    match result {
        Ok(doc) => doc.render(format, status),
        Err(e) => error(format, e),
    }
}

fn datetime(at: DateTime<Utc>) -> Value {
    Value::Text(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// This server's address as the client reached it, for absolute URLs (the discovery's endpoint, photos):
/// the `Host` header when it is a plain host name or address, `https` when cookies are marked secure.
fn base_url(headers: &HeaderMap, secure: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", if secure { "https" } else { "http" })
}

// ------------------------------------------------------------------------------------------------------------
// Query and form parameters.

/// The parameters of a query string or form body, each name once.
#[derive(Debug)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(text: &str, allowed: &[&str]) -> Result<Params> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text)
            .map_err(|e| Error::BadRequest(format!("the parameters are not URL-encoded: {e}")))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if name.starts_with("attribute[") {
                return Err(Error::BadRequest(format!(
                    "{name}: these services have no attributes (metadata is false); leave it out"
                )));
            }
            if !allowed.contains(&name.as_str()) {
                return Err(Error::BadRequest(format!(
                    "unknown parameter {name:?}; this resource takes: {}",
                    allowed.join(", ")
                )));
            }
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::BadRequest(format!("{name} is sent twice; send it once")));
            }
        }
        Ok(Params(pairs))
    }

    /// A parameter's value, trimmed; an empty value counts as absent.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    fn text(&self, name: &str, chars_max: usize) -> Result<Option<String>> {
        match self.get(name) {
            Some(v) if v.chars().count() > chars_max => {
                Err(Error::BadRequest(format!("{name}: at most {chars_max} characters")))
            }
            v => Ok(v.map(str::to_string)),
        }
    }

    fn date(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        self.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v).map(|d| d.with_timezone(&Utc)).map_err(|_| {
                    Error::BadRequest(format!(
                        "{name}: a date and time with its offset (ISO 8601 / RFC 3339), e.g. 2026-12-01T00:00:00+08:00"
                    ))
                })
            })
            .transpose()
    }
}

/// A `jurisdiction_id`, when sent, must be this server's (`--open311-jurisdiction`).
fn check_jurisdiction(params: &Params, state: &AppState) -> Result<()> {
    match params.get("jurisdiction_id") {
        Some(j) if j != state.settings.open311_jurisdiction => Err(Error::BadRequest(format!(
            "jurisdiction_id: this server serves jurisdiction {:?} only",
            state.settings.open311_jurisdiction
        ))),
        _ => Ok(()),
    }
}

/// The window of `start_date` and `end_date`: both as sent; one of them and 90 days from or to it; neither,
/// the last 90 days.
fn window(params: &Params) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let days = chrono::Duration::days(DEFAULT_WINDOW_DAYS);
    let (start, end) = match (params.date("start_date")?, params.date("end_date")?) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + days),
        (None, Some(e)) => (e - days, e),
        (None, None) => (Utc::now() - days, Utc::now()),
    };
    if start > end {
        return Err(Error::BadRequest("start_date is after end_date".into()));
    }
    Ok((start, end))
}

fn known_category(code: &str) -> Result<&'static Category> {
    category(code).ok_or_else(|| {
        Error::BadRequest(format!("service_code: there is no service {code:?}; services.json lists them"))
    })
}

// ------------------------------------------------------------------------------------------------------------
// GET /open311/v2/{discovery,services,requests,servicerequestupdates}.{json,xml} and
// GET /open311/v2/{services,requests,tokens}/{key}.{json,xml}

async fn read(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (collection, file) = match path.split_once('/') {
        Some((collection, file)) => (Some(collection), file),
        None => (None, path.as_str()),
    };
    let Some((name, format)) = split_format(file) else {
        return unknown_format(&path);
    };
    let query = query.unwrap_or_default();
    let result = match (collection, name) {
        (None, "discovery") => {
            Params::parse(&query, &[]).map(|_| discovery(&base_url(&headers, state.settings.cookie_secure)))
        }
        (None, "services") => Params::parse(&query, &["jurisdiction_id"])
            .and_then(|p| check_jurisdiction(&p, &state))
            .map(|()| services()),
        (None, "requests") => requests(&state, &query, &headers).await,
        (None, "servicerequestupdates") => updates(&state, &query).await,
        (Some("services"), code) => service_definition(&state, code, &query),
        (Some("requests"), id) => one_request(&state, id, &query, &headers).await,
        (Some("tokens"), token) => self::token(&state, token, &query).await,
        _ => Err(Error::NotFound(format!(
            "no such resource {path:?}: discovery, services, requests and servicerequestupdates, services/{{code}}, \
             requests/{{id}} and tokens/{{token}}, each .json or .xml"
        ))),
    };
    answer(format, result, StatusCode::OK)
}

fn discovery(base: &str) -> Document {
    Document {
        root: "discovery",
        body: Value::Record(vec![
            ("changeset", Value::text(CHANGESET)),
            (
                "contact",
                Value::text("县交通安全工作办公室 / the county road-safety office (ask its RoadLedger administrator)"),
            ),
            (
                "key_service",
                Value::text("API 密钥由管理员在管理页签发 / keys are issued by the administrator on the admin page"),
            ),
            (
                "endpoints",
                Value::List(
                    "endpoint",
                    vec![Value::Record(vec![
                        ("specification", Value::text(SPECIFICATION)),
                        ("url", Value::text(format!("{base}/open311/v2"))),
                        ("changeset", Value::text(CHANGESET)),
                        ("type", Value::text("production")),
                        (
                            "formats",
                            Value::List("format", vec![Value::text("text/xml"), Value::text("application/json")]),
                        ),
                    ])],
                ),
            ),
        ]),
    }
}

fn services() -> Document {
    let list = CATEGORIES
        .iter()
        .map(|c| {
            Value::Record(vec![
                ("service_code", Value::text(c.code)),
                ("service_name", Value::text(c.name)),
                ("description", Value::text(c.description)),
                ("metadata", Value::Bool(false)),
                ("type", Value::text("realtime")),
                ("keywords", Value::text(c.keywords)),
                ("group", Value::text(SERVICE_GROUP)),
            ])
        })
        .collect();
    Document { root: "services", body: Value::List("service", list) }
}

/// A service's definition. No service has attributes (every `metadata` is false), so the definition names
/// its code and an empty attribute list.
fn service_definition(state: &AppState, code: &str, query: &str) -> Result<Document> {
    check_jurisdiction(&Params::parse(query, &["jurisdiction_id"])?, state)?;
    let c = category(code).ok_or_else(|| Error::NotFound(format!("there is no service {code:?}")))?;
    Ok(Document {
        root: "service_definition",
        body: Value::Record(vec![
            ("service_code", Value::text(c.code)),
            ("attributes", Value::List("attribute", Vec::new())),
        ]),
    })
}

const REQUESTS_PARAMS: &[&str] =
    &["jurisdiction_id", "api_key", "service_request_id", "service_code", "start_date", "end_date", "status"];

async fn requests(state: &AppState, query: &str, headers: &HeaderMap) -> Result<Document> {
    let params = Params::parse(query, REQUESTS_PARAMS)?;
    check_jurisdiction(&params, state)?;
    let mut filter = RequestFilter::default();
    if let Some(ids) = params.get("service_request_id") {
        let ids: Vec<i64> = ids
            .split(',')
            .map(|id| {
                id.trim().parse::<i64>().map_err(|_| {
                    Error::BadRequest(format!("service_request_id: {id:?} is not a request id (a whole number)"))
                })
            })
            .collect::<Result<_>>()?;
        if ids.len() > IDS_MAX {
            return Err(Error::BadRequest(format!("service_request_id: at most {IDS_MAX} ids at once")));
        }
        filter.ids = Some(ids);
    } else {
        if let Some(code) = params.get("service_code") {
            filter.category = Some(known_category(code)?.code.to_string());
        }
        let (start, end) = window(&params)?;
        filter.start = Some(start);
        filter.end = Some(end);
        if let Some(status) = params.get("status") {
            let mut wanted = Vec::new();
            for s in status.split(',').map(str::trim) {
                let statuses: &[PublicStatus] = match s {
                    "open" => &[PublicStatus::Received, PublicStatus::InProgress],
                    "closed" => &[PublicStatus::Fixed, PublicStatus::NotAccepted],
                    _ => return Err(Error::BadRequest(format!("status: open or closed (or both), not {s:?}"))),
                };
                wanted.extend(statuses.iter().map(|p| p.as_str().to_string()));
            }
            filter.public_statuses = Some(wanted);
        }
    }
    let rows = db::requests(&state.pool, &filter).await?;
    Ok(request_list(&rows, &base_url(headers, state.settings.cookie_secure)))
}

fn request_list(rows: &[RequestRow], base: &str) -> Document {
    Document {
        root: "service_requests",
        body: Value::List("request", rows.iter().map(|r| request_record(r, base)).collect()),
    }
}

/// One request with the spec's fields, every one present (null or an empty element when we have nothing to
/// say): no agency or expected time is published, and addresses are words, never ids or postcodes.
fn request_record(r: &RequestRow, base: &str) -> Value {
    let service_name = category(&r.category).map(|c| c.name).unwrap_or_default();
    Value::Record(vec![
        ("service_request_id", Value::text(r.id.to_string())),
        ("status", Value::text(r.public_status.open311())),
        ("status_notes", Value::opt(r.public_reason.clone())),
        ("service_name", Value::text(service_name)),
        ("service_code", Value::text(r.category.clone())),
        ("description", Value::opt(r.description.clone())),
        ("agency_responsible", Value::Null),
        ("service_notice", Value::Null),
        ("requested_datetime", datetime(r.requested_at)),
        ("updated_datetime", datetime(r.updated_at)),
        ("expected_datetime", Value::Null),
        ("address", Value::opt(r.address.clone())),
        ("address_id", Value::Null),
        ("zipcode", Value::Null),
        ("lat", r.lat.map_or(Value::Null, Value::Float)),
        ("long", r.lon.map_or(Value::Null, Value::Float)),
        ("media_url", Value::opt(r.photo_position.map(|p| public_photo_url(base, r.id, p)))),
    ])
}

/// The public, metadata-free copy of a report's photo (`GET /api/v1/public/photos/{id}/{position}`).
fn public_photo_url(base: &str, report: i64, position: i16) -> String {
    format!("{base}/api/v1/public/photos/{report}/{position}")
}

/// One request, as a list of one (the spec's shape).
async fn one_request(state: &AppState, id: &str, query: &str, headers: &HeaderMap) -> Result<Document> {
    let params = Params::parse(query, &["jurisdiction_id", "api_key"])?;
    check_jurisdiction(&params, state)?;
    let not_found = || Error::NotFound(format!("there is no request {id:?}"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let filter = RequestFilter { ids: Some(vec![id]), ..Default::default() };
    let rows = db::requests(&state.pool, &filter).await?;
    if rows.is_empty() {
        return Err(not_found());
    }
    Ok(request_list(&rows, &base_url(headers, state.settings.cookie_secure)))
}

/// `<service_requests><request>…</request></service_requests>` with one request of these fields.
fn one_request_answer(fields: Vec<(&'static str, Value)>) -> Document {
    Document { root: "service_requests", body: Value::List("request", vec![Value::Record(fields)]) }
}

/// The request a token (a report's tracking token) names.
async fn token(state: &AppState, token: &str, query: &str) -> Result<Document> {
    check_jurisdiction(&Params::parse(query, &["jurisdiction_id", "api_key"])?, state)?;
    let not_found = || Error::NotFound("there is no request with this token".into());
    if !crate::domain::public_report::is_tracking_token(token) {
        return Err(not_found());
    }
    let id = db::request_of_token(&state.pool, token).await?.ok_or_else(not_found)?;
    Ok(one_request_answer(vec![("service_request_id", Value::text(id.to_string())), ("token", Value::text(token))]))
}

/// mySociety's `servicerequestupdates`: every public status change within `start_date`..`end_date`
/// (default: the last 90 days), oldest first.
async fn updates(state: &AppState, query: &str) -> Result<Document> {
    let params = Params::parse(query, &["jurisdiction_id", "api_key", "start_date", "end_date"])?;
    check_jurisdiction(&params, state)?;
    let (start, end) = window(&params)?;
    let rows = db::updates(&state.pool, start, end).await?;
    Ok(Document {
        root: "service_request_updates",
        body: Value::List("request_update", rows.iter().map(update_record).collect()),
    })
}

fn update_record(u: &UpdateRow) -> Value {
    Value::Record(vec![
        ("update_id", Value::text(u.id.to_string())),
        ("service_request_id", Value::text(u.report_id.to_string())),
        ("status", Value::text(u.public_status.open311())),
        ("updated_datetime", datetime(u.at)),
        // The public reason of a rejection, else the status in words.
        ("description", Value::text(u.description.clone().unwrap_or_else(|| u.public_status.label().to_string()))),
        ("media_url", Value::Null),
    ])
}

// ------------------------------------------------------------------------------------------------------------
// POST /open311/v2/requests.{json,xml}

const POST_PARAMS: &[&str] = &[
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "first_name",
    "last_name",
    "email",
    "phone",
    "media_url",
    "device_id",
    "account_id",
];

async fn create(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let Some((name, format)) = split_format(&file) else {
        return unknown_format(&file);
    };
    if name != "requests" {
        return error(format, Error::NotFound(format!("{file:?} takes no POST; requests.{{json,xml}} does")));
    }
    answer(format, post_request(&state, &headers, body).await, StatusCode::CREATED)
}

async fn post_request(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Document> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return Err(Error::BadRequest(
            "send the request as a form: Content-Type: application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = axum::body::to_bytes(body, FORM_BYTES_MAX)
        .await
        .map_err(|_| Error::PayloadTooLarge(format!("a request's form is at most {FORM_BYTES_MAX} bytes")))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::BadRequest("the form is not UTF-8".into()))?;
    let params = Params::parse(text, POST_PARAMS)?;

    let key = params.get("api_key").ok_or_else(|| {
        Error::BadRequest("api_key is missing: the administrator issues one per client system".into())
    })?;
    let client = match db::check_key(&state.pool, key).await? {
        KeyCheck::Live(id) => id,
        KeyCheck::Revoked => {
            return Err(Error::Forbidden("this api_key was revoked; ask the administrator for a new one".into()));
        }
        KeyCheck::Unknown => return Err(Error::Forbidden("api_key is not a valid key".into())),
    };
    // Counted before anything else is checked, so a client sending junk is limited too.
    let now = Utc::now();
    let hour = now.with_nanosecond(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_minute(0)).unwrap_or(now);
    let hits = db::rate_hit(&state.pool, &format!("open311:{client}"), hour).await?;
    let limit = state.settings.open311_posts_per_hour;
    if i64::from(hits) > i64::from(limit) {
        let retry_after_s = (hour + chrono::Duration::hours(1) - now).num_seconds().max(1) as u64;
        return Err(Error::TooManyRequests {
            message: format!("this key may post {limit} requests an hour; try again in {retry_after_s} s"),
            retry_after_s,
        });
    }
    check_jurisdiction(&params, state)?;
    let report = new_report(&params, client)?;
    let account_id = params.text("account_id", CLIENT_ID_CHARS_MAX)?;

    let mut tx = state.pool.begin().await?;
    let id = match public_reports::insert(&mut tx, &report).await? {
        Stored::Created { id, .. } | Stored::Known { id, .. } => id,
    };
    tx.commit().await?;
    tracing::info!(client, request = id, "Open311 request received");
    Ok(one_request_answer(vec![
        ("service_request_id", Value::text(id.to_string())),
        ("service_notice", Value::text(SERVICE_NOTICE)),
        ("account_id", Value::opt(account_id)),
    ]))
}

/// The posted fields as a report, each checked against its limit. `media_url` is checked and not kept: the
/// server never fetches a remote file, and a link we cannot vouch for is not shown to anyone.
fn new_report(params: &Params, client: i32) -> Result<NewPublicReport> {
    let code = params.get("service_code").ok_or_else(|| Error::BadRequest("service_code is missing".into()))?;
    let category = known_category(code)?;
    if params.get("address_id").is_some() {
        return Err(Error::BadRequest(
            "address_id: this server has no address ids; send lat and long, or address_string".into(),
        ));
    }
    let point = match (params.get("lat"), params.get("long")) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            let number = |name: &str, v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| Error::BadRequest(format!("{name}: a number of degrees (WGS-84), not {v:?}")))
            };
            let (lat, lon) = (number("lat", lat)?, number("long", lon)?);
            if !in_china(lon, lat) {
                return Err(Error::BadRequest(format!(
                    "lat {lat}, long {lon} is not in China: send WGS-84 degrees, latitude in lat and longitude in long"
                )));
            }
            Some((lon, lat))
        }
        _ => return Err(Error::BadRequest("send both lat and long, or neither".into())),
    };
    let address_text = params.text("address_string", ADDRESS_CHARS_MAX)?;
    if point.is_none() && address_text.is_none() {
        return Err(Error::BadRequest("where: send lat and long, or address_string".into()));
    }
    let description = params.text("description", DESCRIPTION_CHARS_MAX)?.unwrap_or_default();
    let first = params.text("first_name", CONTACT_NAME_CHARS_MAX)?;
    let last = params.text("last_name", CONTACT_NAME_CHARS_MAX)?;
    let contact_name = match (first, last) {
        (None, None) => None,
        (f, l) => Some([f, l].into_iter().flatten().collect::<Vec<_>>().join(" ")),
    };
    if contact_name.as_ref().is_some_and(|n| n.chars().count() > CONTACT_NAME_CHARS_MAX) {
        return Err(Error::BadRequest(format!(
            "first_name and last_name: at most {CONTACT_NAME_CHARS_MAX} characters together"
        )));
    }
    let contact_email = params.text("email", CONTACT_EMAIL_CHARS_MAX)?;
    if let Some(email) = &contact_email
        && (email.chars().count() < 3 || !email.contains('@') || email.chars().any(char::is_whitespace))
    {
        return Err(Error::BadRequest(format!("email: {email:?} is not an e-mail address")));
    }
    let contact_phone =
        params.get("phone").map(normalise_phone).transpose().map_err(|e| Error::BadRequest(format!("phone: {e}")))?;
    params.text("media_url", MEDIA_URL_CHARS_MAX)?;
    params.text("device_id", CLIENT_ID_CHARS_MAX)?;
    Ok(NewPublicReport {
        channel: Channel::Open311,
        submission_id: None,
        tracking_token: tracking_token(),
        category: category.code,
        description,
        point,
        source_crs: SourceCrs::Wgs84,
        accuracy_m: None,
        address_text,
        ticket_no: None,
        reported_at: Utc::now(),
        open311_client_id: Some(client),
        contact_name,
        contact_phone,
        contact_email,
        sender_hash: None,
        device_hash: None,
        entered_by: None,
        photos: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_description_makes_both_formats() {
        let doc = Document {
            root: "service_requests",
            body: Value::List(
                "request",
                vec![Value::Record(vec![
                    ("service_request_id", Value::text("7")),
                    ("description", Value::text("a < b & c")),
                    ("lat", Value::Float(31.5)),
                    ("media_url", Value::Null),
                ])],
            ),
        };
        assert_eq!(
            doc.body.json(),
            json!([{"service_request_id": "7", "description": "a < b & c", "lat": 31.5, "media_url": null}])
        );
        let mut xml = String::new();
        doc.body.xml(doc.root, &mut xml);
        assert_eq!(
            xml,
            "<service_requests><request><service_request_id>7</service_request_id>\
             <description>a &lt; b &amp; c</description><lat>31.5</lat><media_url/></request></service_requests>"
        );
    }

    #[test]
    fn parameters_are_known_and_sent_once() {
        let p = Params::parse("service_code=pavement&lat=31.5&description=", POST_PARAMS).unwrap();
        assert_eq!(p.get("service_code"), Some("pavement"));
        assert_eq!(p.get("description"), None);
        assert!(Params::parse("lat=1&lat=2", POST_PARAMS).unwrap_err().to_string().contains("twice"));
        assert!(Params::parse("colour=red", POST_PARAMS).unwrap_err().to_string().contains("\"colour\""));
        assert!(Params::parse("attribute%5Bx%5D=1", POST_PARAMS).unwrap_err().to_string().contains("attributes"));
    }

    #[test]
    fn the_host_header_makes_the_base_url_only_when_it_is_a_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.cn:8080"));
        assert_eq!(base_url(&headers, true), "https://example.cn:8080");
        headers.insert(header::HOST, HeaderValue::from_static("evil.cn/<script>"));
        assert_eq!(base_url(&headers, false), "http://localhost");
    }
}
