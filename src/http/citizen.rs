//! The public's side of issue 13 (随手拍), without an account: `POST /api/v1/public/reports` (a report with
//! 1–3 photos, from `web/report.html`), `GET /api/v1/public/reports/{token}` (what the tracking link shows),
//! `GET /api/v1/public/categories`, `GET /api/v1/public/challenge` (the proof of work) and
//! `GET /api/v1/public/photos/{id}/{position}` (a moderated report's metadata-free public copy).
//!
//! None of these handlers takes an `Actor`, so no session is read and no CSRF token is asked: the page is
//! used by people without accounts, and a cross-site form post can do nothing here that the public page
//! cannot. Staff routes are unchanged (`auth::authenticate` asks the CSRF token of every cookie request that
//! changes state). A report only ever becomes a `received` public report, which a dispatcher moderates: spam
//! never reaches the ledger. Every refusal (limits, honeypot, proof of work, bad input) happens before any
//! file is written or row inserted, except a photo the decoder refuses, which refuses the request before
//! its row (and takes back its files).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use serde_json::json;

use super::limits::UploadBody;
use super::{AppState, Error, Result, auth, uploads};
use crate::db;
use crate::db::citizen::Bucket;
use crate::db::public_reports::{NewPublicReport, NewReportPhoto, PublicView, Stored};
use crate::domain::citizen::{self, ReportInput};
use crate::domain::photo_evidence;
use crate::domain::public_report::{self, CATEGORIES, Channel};
use crate::photos::PhotoStore;
use crate::photos::public::{PublicPhoto, process_public};

/// The parts of a public report (documentation: `uploads::read` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReportForm {
    /// The report as JSON (one part).
    report: ReportInput,
    /// 1–3 photos, JPEG or PNG (the photo limits of GET /settings apply).
    #[schema(value_type = Vec<String>, format = Binary)]
    photo: Vec<Vec<u8>>,
}

/// What a stored report answers: its id and the tracking link to keep.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Submitted {
    pub id: i64,
    pub tracking_token: String,
    /// The tracking page of this report, on this server (`/track.html#<token>`).
    pub tracking_url: String,
}

/// Sends a report of a road hazard, with 1–3 photos. A retry with the same `submission_id` answers 200
/// with the stored report and stores nothing.
#[utoipa::path(
    post,
    path = "/public/reports",
    operation_id = "public_report_create",
    tag = "public",
    request_body(content = ReportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored, waiting for moderation: the tracking link", body = Submitted),
        (status = 200, description = "This submission was stored before (a retry): the same tracking link", body = Submitted),
        (status = 400, description = "The body is not multipart with a JSON part named `report`, or that part is not valid JSON of this shape"),
        (status = 413, description = "More than 3 photos, or a photo over the size limit"),
        (status = 415, description = "A photo is not JPEG or PNG"),
        (status = 422, description = "A field breaks a rule (`code`: `invalid_field` names it; `honeypot`; `proof_of_work`; `challenge_used`; `photos_missing`), or a photo has too many pixels"),
        (status = 429, description = "A limit is reached (`code`: `per_address`, `per_device`, `per_day`): nothing was stored; Retry-After says when to try again"),
        (status = 503, description = "The server's upload buffers are full (or the database is not answering): send it again after Retry-After"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    mut upload_body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let limits = state.settings.public_limits;
    let photo_limits = state.settings.photo_limits;
    let upload = uploads::read(
        multipart,
        &mut upload_body,
        "report",
        &["photo"],
        public_report::PHOTOS_MAX,
        photo_limits.bytes_max,
    )
    .await?;
    let input: ReportInput =
        serde_json::from_slice(&upload.json).map_err(|e| Error::BadRequest(format!("report is not valid: {e}")))?;
    // A robot fills in every field it finds; the page hides this one from people.
    if !input.website.is_empty() {
        return Err(Error::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "honeypot",
            "the report was refused: a field people never see was filled in",
        ));
    }
    let (challenge, nonce) = (input.challenge.clone(), input.nonce.clone());
    let evidence_input = input.photo_evidence.clone();
    let report = input.validate(&limits).map_err(|e| Error::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_field",
        message: e.to_string(),
        facts: json!({ "field": e.field }),
    })?;
    if upload.photos.is_empty() {
        return Err(Error::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "photos_missing",
            format!("send 1 to {} photos of the hazard as parts named \"photo\"", public_report::PHOTOS_MAX),
        ));
    }

    let evidence = match evidence_input {
        Some(entries) => {
            photo_evidence::validate(&entries, upload.photos.len(), Utc::now()).map_err(|e| Error::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_field",
                message: e.to_string(),
                facts: json!({ "field": e.field }),
            })?
        }
        None => Vec::new(),
    };

    // A retry is answered before any limit counts it or its challenge is spent again.
    if let Some((id, token)) = db::citizen::by_submission(&state.pool, report.submission_id).await? {
        return Ok(submitted(StatusCode::OK, id, token));
    }

    let secret = db::citizen::secret(&state.pool).await?;
    let now = Utc::now();
    let mut buckets = Vec::with_capacity(4);
    if limits.pow_bits > 0 {
        let expires = citizen::check_pow(&secret, &challenge, &nonce, now)
            .map_err(|e| Error::refused(StatusCode::UNPROCESSABLE_ENTITY, "proof_of_work", e.to_string()))?;
        let spent = hex::encode(&citizen::pow_hash(&challenge, "")[..16]);
        buckets.push((Limit::Challenge, Bucket { key: format!("pow:{spent}"), window_start: expires, limit: 1 }));
    }
    let address = citizen::address_key(&client_address(&state, &headers, &extensions));
    let sender_hash = citizen::salted_hash(&secret, "addr", &address);
    let device_hash = citizen::salted_hash(&secret, "device", &report.device_id);
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let day = crate::domain::report::china_midnight(crate::domain::lifecycle::china_date(now));
    buckets.push((
        Limit::Address,
        Bucket {
            key: format!("addr:{}", hex::encode(sender_hash)),
            window_start: hour,
            limit: limits.per_address_hour,
        },
    ));
    buckets.push((
        Limit::Device,
        Bucket { key: format!("device:{}", hex::encode(device_hash)), window_start: day, limit: limits.per_device_day },
    ));
    buckets.push((Limit::Day, Bucket { key: "day".into(), window_start: day, limit: limits.per_day }));
    let counters: Vec<Bucket> = buckets.iter().map(|(_, b)| b.clone()).collect();
    let mut tx = state.pool.begin().await?;
    if let Some(i) = db::citizen::hit(&mut tx, &counters).await? {
        tx.rollback().await?;
        return Ok(buckets[i].0.refusal(now, hour, day));
    }
    db::citizen::forget_old(&mut tx, now).await?;
    tx.commit().await?;

    // The photos: checked and re-encoded off the runtime, then the three files of each stored.
    let photos: Vec<Bytes> = upload.photos.into_iter().map(|(_, bytes)| bytes).collect();
    let processed = tokio::task::spawn_blocking(move || {
        photos
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| process_public(&bytes, photo_limits).map(|p| (p, bytes)).map_err(|e| (i, e)))
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|(i, e)| uploads::photo_error(i, e))?;
    let mut files = Vec::with_capacity(processed.len() * 3);
    let mut new_photos = Vec::with_capacity(processed.len());
    for (i, (photo, original)) in processed.into_iter().enumerate() {
        let (mut new, photo_files) = photo_files(photo, original);
        new.original = evidence.get(i).cloned();
        new_photos.push(new);
        files.extend(photo_files);
    }
    uploads::store_files(&state, &mut upload_body, files).await?;

    let new = NewPublicReport {
        channel: Channel::Citizen,
        submission_id: Some(report.submission_id),
        tracking_token: public_report::tracking_token(),
        category: report.category.code,
        description: report.description,
        point: Some(report.point),
        source_crs: report.crs,
        accuracy_m: report.accuracy_m,
        address_text: None,
        ticket_no: None,
        reported_at: now,
        open311_client_id: None,
        contact_name: None,
        contact_phone: report.phone,
        contact_email: None,
        sender_hash: Some(sender_hash),
        device_hash: Some(device_hash),
        entered_by: None,
        photos: new_photos,
    };
    let mut tx = state.pool.begin().await?;
    let stored = db::public_reports::insert(&mut tx, &new).await?;
    tx.commit().await?;
    Ok(match stored {
        Stored::Created { id, tracking_token } => {
            tracing::info!(report = id, category = new.category, "public report received");
            submitted(StatusCode::CREATED, id, tracking_token)
        }
        Stored::Known { id, tracking_token } => submitted(StatusCode::OK, id, tracking_token),
    })
}

/// The limit a bucket keeps, and how its refusal reads.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Challenge,
    Address,
    Device,
    Day,
}

impl Limit {
    fn refusal(self, now: DateTime<Utc>, hour: DateTime<Utc>, day: DateTime<Utc>) -> Response {
        let (code, message, until) = match self {
            Limit::Challenge => {
                return Error::refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "challenge_used",
                    "this challenge was used for another report; ask GET /api/v1/public/challenge for a new one",
                )
                .into_response();
            }
            Limit::Address => (
                "per_address",
                "too many reports from your network in this hour; nothing was stored, try again later",
                hour + Duration::hours(1),
            ),
            Limit::Device => (
                "per_device",
                "too many reports from this phone today; nothing was stored, try again tomorrow",
                day + Duration::days(1),
            ),
            Limit::Day => (
                "per_day",
                "the county has received as many reports as it can moderate today; nothing was stored, try again \
                 tomorrow or call the 12345 hotline",
                day + Duration::days(1),
            ),
        };
        let retry_after_s = (until - now).num_seconds().max(1);
        let mut response = Error::refused(StatusCode::TOO_MANY_REQUESTS, code, message).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        response
    }
}

/// The client's address for the per-address limit: the proxy's header when one is configured, else the TCP
/// peer.
fn client_address(state: &AppState, headers: &HeaderMap, extensions: &axum::http::Extensions) -> String {
    state
        .settings
        .public_address_header
        .as_ref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        // X-Forwarded-For lists the client first.
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| auth::client_addr(extensions))
}

/// A processed photo's row and its three files: the original (evidence, staff only), the public copy and
/// the thumbnail.
fn photo_files(photo: PublicPhoto, original: Bytes) -> (NewReportPhoto, [(String, Bytes); 3]) {
    let p = &photo.processed;
    let sha = p.sha256_hex();
    let original_key = PhotoStore::original_key(&sha, p.format.extension());
    let public_key = PhotoStore::public_key(&hex::encode(photo.sha256));
    let thumbnail_key = PhotoStore::thumbnail_key(&sha);
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let new = NewReportPhoto {
        sha256: p.sha256,
        content_type: p.format.content_type(),
        bytes: i32::try_from(p.bytes).unwrap_or(i32::MAX),
        width: int(p.width),
        height: int(p.height),
        original_key: original_key.clone(),
        public_key: public_key.clone(),
        public_sha256: photo.sha256,
        thumbnail_key: thumbnail_key.clone(),
        thumbnail_width: int(p.thumbnail_width),
        thumbnail_height: int(p.thumbnail_height),
        exif_taken_at: p.exif.taken_at,
        exif_location: p.exif.location,
        original: None,
    };
    let thumbnail = Bytes::from(p.thumbnail_jpeg.clone());
    (new, [(original_key, original), (public_key, Bytes::from(photo.jpeg)), (thumbnail_key, thumbnail)])
}

fn submitted(status: StatusCode, id: i64, tracking_token: String) -> Response {
    let location = format!("/api/v1/public/reports/{tracking_token}");
    let tracking_url = format!("/track.html#{tracking_token}");
    (status, [(header::LOCATION, location)], Json(Submitted { id, tracking_token, tracking_url })).into_response()
}

/// What the tracking link shows: the report's category, public status and its changes, the public reason
/// of a decision and the site's ledger code; never its description, place, photos or any person.
#[utoipa::path(
    get,
    path = "/public/reports/{token}",
    operation_id = "public_report_show",
    tag = "public",
    params(("token" = String, Path, description = "The tracking token (32 hexadecimal digits)")),
    responses(
        (status = 200, description = "The report as the public may read it", body = PublicView),
        (status = 404, description = "No report has this tracking token"),
    )
)]
pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let not_found = || Error::NotFound("no report has this tracking link; check that it was copied whole".into());
    if !public_report::is_tracking_token(&token) {
        return Err(not_found());
    }
    let mut conn = state.pool.acquire().await?;
    let view = db::public_reports::public_view(&mut conn, &token).await?.ok_or_else(not_found)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

/// One public category.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicCategory {
    pub code: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    pub description: &'static str,
}

/// The hazard categories the public chooses from, in the page's order.
#[utoipa::path(
    get,
    path = "/public/categories",
    operation_id = "public_categories",
    tag = "public",
    responses((status = 200, description = "The categories", body = Vec<PublicCategory>))
)]
pub async fn categories() -> Json<Vec<PublicCategory>> {
    Json(
        CATEGORIES
            .iter()
            .map(|c| PublicCategory { code: c.code, name: c.name, name_en: c.name_en, description: c.description })
            .collect(),
    )
}

/// A proof-of-work challenge for one report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    /// Send back as `challenge` with the report, with a `nonce`.
    pub challenge: String,
    /// Find a `nonce` (a string of at most 32 characters) such that SHA-256 of `<challenge>.<nonce>` (UTF-8)
    /// starts with this many zero bits. 0: no work is asked.
    pub difficulty_bits: u8,
    pub expires_at: DateTime<Utc>,
    /// The longest description accepted, characters.
    pub description_chars_max: usize,
}

/// A fresh challenge: stateless (signed by the server), good for one report until it expires.
#[utoipa::path(
    get,
    path = "/public/challenge",
    operation_id = "public_challenge",
    tag = "public",
    responses((status = 200, description = "A challenge to solve before sending a report", body = Challenge))
)]
pub async fn challenge(State(state): State<AppState>) -> Result<Response> {
    let limits = state.settings.public_limits;
    let secret = db::citizen::secret(&state.pool).await?;
    let (challenge, expires_at) = citizen::make_challenge(&secret, Utc::now(), &limits);
    let body = Challenge {
        challenge,
        difficulty_bits: limits.pow_bits.min(citizen::POW_BITS_MAX),
        expires_at,
        description_chars_max: limits.description_chars_max.min(public_report::DESCRIPTION_CHARS_MAX),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// A photo of a report as the public may see it: the re-encoded copy without any metadata, and only once a
/// dispatcher has accepted the report or merged it into a site (never while waiting, never when rejected).
#[utoipa::path(
    get,
    path = "/public/photos/{id}/{position}",
    operation_id = "public_photo",
    tag = "public",
    params(
        ("id" = i64, Path, description = "The report's id (Open311's service_request_id)"),
        ("position" = i16, Path, description = "The photo's position in the report, from 0"),
    ),
    responses(
        (status = 200, description = "The public copy (JPEG, no metadata, longest side at most 2048 px)", body = String, content_type = "image/jpeg"),
        (status = 404, description = "No such photo, or its report is not (or not yet) public"),
    )
)]
pub async fn photo(State(state): State<AppState>, Path((id, position)): Path<(String, String)>) -> Result<Response> {
    let not_found =
        || Error::NotFound("no such public photo (a report's photos are public once it is accepted)".into());
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let position: i16 = position.parse().ok().filter(|p| (0..3).contains(p)).ok_or_else(not_found)?;
    let key = db::citizen::public_photo_key(&state.pool, id, position).await?.ok_or_else(not_found)?;
    let (size, stream) = state.photos.get_stream(&key).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
        (header::CONTENT_LENGTH, HeaderValue::from(size)),
        // Short: a report accepted now may be rejected as a duplicate of nothing later, and shared caches
        // should not keep serving it for long.
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
    ];
    Ok((headers, axum::body::Body::from_stream(stream)).into_response())
}

/// What the public page's small map draws: the server's base maps (Tianditu with a key, the operator's XYZ
/// services) and where the county is. The staff's own vector tiles are not public; with no base map the page
/// offers the phone's location only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicMap {
    /// As `base_maps` of GET /settings.
    #[schema(value_type = Vec<Object>)]
    pub base_maps: Vec<super::settings::BaseMap>,
    /// `[longitude, latitude]` (WGS-84) of the county's towns' middle, if towns are loaded.
    pub centre: Option<[f64; 2]>,
}

/// The base maps and the county's centre, for placing a report by a tap on a map.
#[utoipa::path(
    get,
    path = "/public/map",
    operation_id = "public_map",
    tag = "public",
    responses((status = 200, description = "Base maps and the county's centre", body = PublicMap))
)]
pub async fn map(State(state): State<AppState>) -> Result<Json<PublicMap>> {
    let s = &state.settings;
    let centre = db::citizen::county_centre(&state.pool).await?.map(|(lon, lat)| [lon, lat]);
    Ok(Json(PublicMap { base_maps: super::settings::base_maps(s.tianditu_key.as_ref(), &s.base_maps), centre }))
}
