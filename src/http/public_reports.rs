//! The dispatchers' queue of public reports (公众上报, issue 13 part 4): citizens' photo reports, 12345
//! hotline tickets and Open311 requests wait here. Dispatchers, hotline operators, reviewers, leaders and admins
//! read it; only dispatchers read a reporter's contact data in full (everyone else sees it masked) and only
//! dispatchers decide: accept (an observation of a new or nearby open site, `source` citizen_photo or hotline),
//! merge into a named open site, or reject with a reason the public reads.

use std::collections::BTreeMap;
use std::io::Cursor;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ApiJson, AppState, Error, Result};
use crate::db;
use crate::db::moderation::{Notes, QueueFilter, Refusal, ReportRow};
use crate::db::observations::RecordContext;
use crate::db::photos::NewPhoto;
use crate::domain::auth::{Actor, Permission};
use crate::domain::coords::in_china;
use crate::domain::observation::{HAZARD_TYPES_MAX, NewObservation, SiteGeometry, Wgs84Point};
use crate::domain::photo_evidence::{self, FileExif};
use crate::domain::public_report::{
    self as pr, Channel, INTERNAL_NOTE_CHARS_MAX, NEARBY_SITE_RADIUS_M, PUBLIC_REASON_CHARS_MAX, ReportStatus,
};
use crate::domain::site::SiteKind;

pub const PAGE_SIZE_DEFAULT: i64 = 50;
pub const PAGE_SIZE_MAX: i64 = 200;

fn require(actor: &Actor, permission: Permission) -> Result<()> {
    if actor.can(permission) {
        return Ok(());
    }
    Err(Error::Forbidden(match permission {
        Permission::ModeratePublicReports => {
            "accepting, merging and rejecting public reports is the dispatchers' (市交安办) work".into()
        }
        _ => "public reports are read by dispatchers, hotline operators, reviewers, leaders and admins".into(),
    }))
}

/// A name as everyone but a dispatcher sees it: its first character.
fn mask_name(name: &str) -> String {
    let first: String = name.chars().take(1).collect();
    format!("{first}**")
}

/// A report as this actor may read it: contact data in full for `SeeReporterContact`, masked otherwise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffReport {
    #[serde(flatten)]
    row: ReportRow,
    /// Whether the contact fields are masked (`138****5678`) for this reader.
    contact_masked: bool,
    category_name: Option<&'static str>,
    channel_label: &'static str,
    category_name_en: Option<&'static str>,
}

fn for_reader(actor: &Actor, mut row: ReportRow) -> StaffReport {
    let full = actor.can(Permission::SeeReporterContact);
    if !full {
        row.contact_name = row.contact_name.as_deref().map(mask_name);
        row.contact_phone = row.contact_phone.as_deref().map(pr::mask_phone);
        row.contact_email = row.contact_email.as_deref().map(pr::mask_email);
    }
    StaffReport {
        category_name: pr::category(&row.category).map(|c| c.name),
        category_name_en: pr::category(&row.category).map(|c| c.name_en),
        channel_label: row.channel.label(),
        row,
        contact_masked: !full,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `received` (the queue), `accepted`, `merged` or `rejected`; absent: all.
    status: Option<String>,
    /// `citizen`, `hotline` or `open311`.
    channel: Option<String>,
    /// A public category code (`sign_marking`, `intersection`, …).
    category: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The queue: reports oldest received first (the one waiting longest on top), with their place, category,
/// channel, photo count and contact (masked unless you are a dispatcher).
#[utoipa::path(
    get,
    path = "/public-reports",
    operation_id = "list_public_reports",
    tag = "public-reports",
    params(ListParams),
    responses(
        (status = 200, description = "`reports` (oldest first), `next_cursor` when there is another page, and the public `categories`", body = Object),
        (status = 400, description = "A parameter is malformed (the message names it)"),
        (status = 403, description = "Not a role that reads public reports"),
    )
)]
pub async fn list(State(state): State<AppState>, actor: Actor, Query(p): Query<ListParams>) -> Result<Json<Value>> {
    require(&actor, Permission::ReadPublicReports)?;
    let limit = p.limit.unwrap_or(PAGE_SIZE_DEFAULT);
    if !(1..=PAGE_SIZE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit: a whole number from 1 to {PAGE_SIZE_MAX}")));
    }
    let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let status = nonempty(p.status)
        .map(|s| s.parse::<ReportStatus>().map_err(|e| Error::BadRequest(format!("status: {e}"))))
        .transpose()?;
    let channel = nonempty(p.channel)
        .map(|s| s.parse::<Channel>().map_err(|e| Error::BadRequest(format!("channel: {e}"))))
        .transpose()?;
    let category = nonempty(p.category);
    if let Some(c) = &category
        && pr::category(c).is_none()
    {
        let known: Vec<&str> = pr::CATEGORIES.iter().map(|c| c.code).collect();
        return Err(Error::BadRequest(format!(
            "category: {:?} is not a public category; known: {}",
            c.chars().take(40).collect::<String>(),
            known.join(", ")
        )));
    }
    let after = nonempty(p.cursor).as_deref().map(parse_cursor).transpose()?;
    let filter = QueueFilter { status, channel, category, limit, after };
    let rows = db::moderation::list(&state.pool, &filter).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| {
            rows.last().map(|r| format!("{}~{}", r.received_at.to_rfc3339_opts(SecondsFormat::Micros, true), r.id))
        })
        .flatten();
    let reports: Vec<StaffReport> = rows.into_iter().map(|r| for_reader(&actor, r)).collect();
    // The page's filter lists the categories from here rather than keeping a copy.
    let categories: Vec<Value> =
        pr::CATEGORIES.iter().map(|c| json!({ "code": c.code, "name": c.name, "name_en": c.name_en })).collect();
    Ok(Json(json!({ "reports": reports, "next_cursor": next, "categories": categories })))
}

/// A cursor is the last report's `received_at~id`, as `list` wrote it.
fn parse_cursor(cursor: &str) -> Result<(DateTime<Utc>, i64)> {
    cursor
        .split_once('~')
        .and_then(|(at, id)| {
            Some((DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), id.parse::<i64>().ok()?))
        })
        .ok_or_else(|| Error::BadRequest("cursor: pass the next_cursor of the previous page".into()))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::BadRequest(format!("{:?} is not a public report id", id.chars().take(40).collect::<String>()))
    })
}

async fn row(state: &AppState, id: i64) -> Result<ReportRow> {
    let mut conn = state.pool.acquire().await?;
    db::moderation::row(&mut conn, id).await?.ok_or_else(|| Error::NotFound(format!("no public report {id}")))
}

async fn detail(state: &AppState, actor: &Actor, id: i64) -> Result<Value> {
    let report = row(state, id).await?;
    let mut conn = state.pool.acquire().await?;
    let photos = db::moderation::photos(&mut conn, id).await?;
    let updates = db::moderation::updates(&mut conn, id).await?;
    let photos: Vec<Value> = photos
        .into_iter()
        .map(|p| {
            let base = format!("/api/v1/public-reports/{id}/photos/{}", p.position);
            let mut v = json!(p);
            v["original_url"] = json!(format!("{base}/original"));
            v["thumbnail_url"] = json!(format!("{base}/thumbnail"));
            v
        })
        .collect();
    Ok(json!({ "report": for_reader(actor, report), "photos": photos, "updates": updates }))
}

/// One report with its photos (the originals, EXIF and all, are evidence: staff only) and every change of
/// its public status.
#[utoipa::path(
    get,
    path = "/public-reports/{id}",
    operation_id = "show_public_report",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id")),
    responses(
        (status = 200, description = "`report`, `photos` (with `original_url`, `thumbnail_url`) and `updates`", body = Object),
        (status = 400, description = "The id is not a report id"),
        (status = 403, description = "Not a role that reads public reports"),
        (status = 404, description = "No such report"),
    )
)]
pub async fn show(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    require(&actor, Permission::ReadPublicReports)?;
    Ok(Json(detail(&state, &actor, parse_id(&id)?).await?))
}

/// A report photo's original as the reporter sent it, EXIF included (evidence; never served publicly).
#[utoipa::path(
    get,
    path = "/public-reports/{id}/photos/{position}/original",
    operation_id = "public_report_photo_original",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id"), ("position" = i16, Path, description = "0, 1 or 2")),
    responses(
        (status = 200, description = "The file as sent (JPEG or PNG)", body = String, content_type = "image/jpeg"),
        (status = 400, description = "The id or position is malformed"),
        (status = 403, description = "Not a role that reads public reports"),
        (status = 404, description = "No such report or photo"),
    )
)]
pub async fn photo_original(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, position)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    serve_photo(&state, &actor, &id, &position, &headers, false).await
}

/// A report photo's thumbnail (JPEG, no metadata).
#[utoipa::path(
    get,
    path = "/public-reports/{id}/photos/{position}/thumbnail",
    operation_id = "public_report_photo_thumbnail",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id"), ("position" = i16, Path, description = "0, 1 or 2")),
    responses(
        (status = 200, description = "The thumbnail (JPEG)", body = String, content_type = "image/jpeg"),
        (status = 400, description = "The id or position is malformed"),
        (status = 403, description = "Not a role that reads public reports"),
        (status = 404, description = "No such report or photo"),
    )
)]
pub async fn photo_thumbnail(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, position)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    serve_photo(&state, &actor, &id, &position, &headers, true).await
}

async fn serve_photo(
    state: &AppState,
    actor: &Actor,
    id: &str,
    position: &str,
    headers: &HeaderMap,
    thumbnail: bool,
) -> Result<Response> {
    require(actor, Permission::ReadPublicReports)?;
    let id = parse_id(id)?;
    let position = position
        .parse::<i16>()
        .ok()
        .filter(|p| (0..pr::PHOTOS_MAX as i16).contains(p))
        .ok_or_else(|| Error::BadRequest(format!("position: 0 to {}", pr::PHOTOS_MAX - 1)))?;
    let mut conn = state.pool.acquire().await?;
    let keys = db::moderation::photo_keys(&mut conn, id).await?;
    drop(conn);
    let (_, k) = keys
        .into_iter()
        .find(|(p, _)| *p == position)
        .ok_or_else(|| Error::NotFound(format!("public report {id} has no photo {position}")))?;
    // A photo never changes under its report: its hash is its ETag.
    let etag = format!("\"{}{}\"", hex::encode(&k.sha256), if thumbnail { "-t" } else { "" });
    let (key, content_type) = if thumbnail {
        (k.thumbnail_key, "image/jpeg")
    } else {
        (k.original_key, if k.content_type == "image/png" { "image/png" } else { "image/jpeg" })
    };
    super::photos::serve_immutable(state, etag, &key, content_type, headers).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// For a report without a point (a hotline ticket's address): the WGS-84 longitude to search around.
    lon: Option<f64>,
    /// …and latitude.
    lat: Option<f64>,
}

/// The open sites within 50 m of the report's point (or of `lon`/`lat` for a report with only an address),
/// nearest first: what an accept may name (`site_id`), or a merge go into.
#[utoipa::path(
    get,
    path = "/public-reports/{id}/nearby-sites",
    operation_id = "public_report_nearby_sites",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id"), NearbyParams),
    responses(
        (status = 200, description = "`radius_m` and `sites` (id, code, kind, status, source, town, road, stake, hazard types, distance_m)", body = Object),
        (status = 400, description = "The id, lon or lat is malformed"),
        (status = 403, description = "Not a role that reads public reports, or one that sees no site (hotline)"),
        (status = 404, description = "No such report"),
    )
)]
pub async fn nearby_sites(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Query(p): Query<NearbyParams>,
) -> Result<Json<Value>> {
    require(&actor, Permission::ReadPublicReports)?;
    // Sites are for those who see every site: a hotline operator reads the queue but no site.
    if !actor.site_scope().all {
        return Err(Error::Forbidden(
            "nearby sites are read by those who see every site (市交安办, leaders, …)".into(),
        ));
    }
    let report = row(&state, parse_id(&id)?).await?;
    let point = match (p.lon, p.lat) {
        (Some(lon), Some(lat)) => Some(checked_point(lon, lat, "lon")?),
        (None, None) => report.lon.zip(report.lat),
        _ => return Err(Error::BadRequest("lon, lat: send both or neither".into())),
    };
    let sites = match point {
        Some((lon, lat)) => {
            let mut conn = state.pool.acquire().await?;
            db::moderation::nearby_sites(&mut conn, lon, lat).await?
        }
        None => json!([]),
    };
    Ok(Json(json!({ "radius_m": NEARBY_SITE_RADIUS_M, "point": point.map(|(lon, lat)| [lon, lat]), "sites": sites })))
}

fn checked_point(lon: f64, lat: f64, field: &str) -> Result<(f64, f64)> {
    if !lon.is_finite() || !lat.is_finite() || !in_china(lon, lat) {
        return Err(Error::Unprocessable(format!("{field}: a WGS-84 longitude and latitude inside China")));
    }
    Ok((lon, lat))
}

/// A point in WGS-84 degrees.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    lon: f64,
    lat: f64,
}

/// How a dispatcher accepts a report into the ledger.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// An open site within 50 m (from nearby-sites) the observation joins; absent: matching joins an open
    /// site of its kind within 30 m or opens a new one.
    #[serde(default)]
    site_id: Option<Uuid>,
    /// Where the hazard is (WGS-84), when the report has no point (a hotline ticket's address) or the
    /// dispatcher places it better. Absent: the report's point.
    #[serde(default)]
    point: Option<Point>,
    /// The site kind, `spot` or `intersection` (a point cannot open a section). Absent: the category's, or
    /// the named site's.
    #[serde(default)]
    kind: Option<String>,
    /// Hazard type codes. Absent: the category's.
    #[serde(default)]
    hazard_types: Option<Vec<String>>,
    /// A note the public reads on the tracking page (at most 500 characters).
    #[serde(default)]
    public_note: Option<String>,
    /// Staff's own note (at most 2000 characters).
    #[serde(default)]
    internal_note: Option<String>,
}

fn notes(public: Option<String>, internal: Option<String>) -> Result<Notes> {
    let clean = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (public_reason, internal_note) = (clean(public), clean(internal));
    if public_reason.as_ref().is_some_and(|r| r.chars().count() > PUBLIC_REASON_CHARS_MAX) {
        return Err(Error::Unprocessable(format!(
            "the public reason or note has at most {PUBLIC_REASON_CHARS_MAX} characters"
        )));
    }
    if internal_note.as_ref().is_some_and(|r| r.chars().count() > INTERNAL_NOTE_CHARS_MAX) {
        return Err(Error::Unprocessable(format!("internal_note: at most {INTERNAL_NOTE_CHARS_MAX} characters")));
    }
    Ok(Notes { public_reason, internal_note })
}

fn already_decided(id: i64, status: ReportStatus, decided_by: Option<String>) -> Error {
    Error::Refused {
        status: StatusCode::CONFLICT,
        code: "report_decided",
        message: format!(
            "public report {id} is {status} already{}; reload the queue",
            decided_by.as_deref().map(|b| format!(" (by {b})")).unwrap_or_default()
        ),
        facts: json!({ "status": status, "decided_by": decided_by }),
    }
}

/// Accepts a report: it becomes an observation (by the dispatcher, at the report's time and place, with its
/// description as notes and its photos' metadata-free public copies) of the open site named by `site_id`, or
/// of an open site of its kind within 30 m, or of a new site whose `source` is `citizen_photo` (citizen and
/// Open311) or `hotline`. The report then names its site and observation. One transaction under the report's
/// row lock; a report decided already is a 409.
#[utoipa::path(
    post,
    path = "/public-reports/{id}/accept",
    operation_id = "accept_public_report",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id")),
    request_body = Accept,
    responses(
        (status = 200, description = "Accepted: the report, naming its site", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 403, description = "Dispatchers only"),
        (status = 404, description = "No such report, or no such site"),
        (status = 409, description = "`report_decided`: someone accepted, merged or rejected it already"),
        (status = 422, description = "`point_required` (a report with only an address needs a point), a bad kind or hazard type, or `site_too_far`, `site_other_kind`, `site_not_open`"),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Accept>,
) -> Result<Json<Value>> {
    require(&actor, Permission::ModeratePublicReports)?;
    let id = parse_id(&id)?;
    let notes = notes(body.public_note, body.internal_note)?;
    let report = row(&state, id).await?;
    if report.status != ReportStatus::Received {
        return Err(already_decided(id, report.status, report.decided_by));
    }
    let (lon, lat) = match (body.point, report.lon.zip(report.lat)) {
        (Some(p), _) => checked_point(p.lon, p.lat, "point")?,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(Error::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "point_required",
                message: "point: this report has only an address; place it on the map (point: {lon, lat})".into(),
                facts: json!({ "address_text": report.address_text }),
            });
        }
    };
    let category = pr::category(&report.category);
    let kind = match (&body.kind, body.site_id) {
        (Some(k), _) => k.parse::<SiteKind>().map_err(|e| Error::Unprocessable(format!("kind: {e}")))?,
        (None, Some(site)) => {
            let site_kind = db::moderation::site_kind(&state.pool, site)
                .await?
                .ok_or_else(|| Error::NotFound(format!("site_id: no site {site}")))?;
            site_kind.parse::<SiteKind>().map_err(|e| Error::Internal(e.into()))?
        }
        (None, None) => category.map_or(SiteKind::Spot, |c| c.kind),
    };
    if kind.is_line() && body.site_id.is_none() {
        return Err(Error::Unprocessable(
            "kind: a report is a point and cannot open a section; name an open section site (site_id) or choose \
             spot or intersection"
                .into(),
        ));
    }
    let hazard_types = match body.hazard_types {
        Some(h) => {
            if h.len() > HAZARD_TYPES_MAX {
                return Err(Error::Unprocessable(format!("hazard_types: at most {HAZARD_TYPES_MAX}")));
            }
            let unknown = db::reference::unknown_hazard_types(&state.pool, &h).await?;
            if !unknown.is_empty() {
                return Err(Error::Unprocessable(format!("hazard_types: unknown {}", unknown.join(", "))));
            }
            let mut h = h;
            h.sort();
            h.dedup();
            h
        }
        None => category.map(|c| c.hazard_types.iter().map(|h| h.to_string()).collect()).unwrap_or_default(),
    };
    let mut photos = public_copies(&state, id).await?;
    let label = report.ticket_no.as_deref().map_or_else(|| format!("#{id}"), |t| format!("#{id} 工单号 {t}"));
    let notes_text = format!("{}{label}：{}", report.channel.label(), report.description);
    let obs = NewObservation {
        id: Uuid::new_v4(),
        kind,
        geometry: SiteGeometry::Point(Wgs84Point { lon, lat }),
        accuracy_m: if body.point.is_some() { None } else { report.accuracy_m.map(f64::from) },
        observed_at: report.reported_at,
        hazard_types,
        checklist: BTreeMap::new(),
        notes: notes_text.chars().take(crate::domain::observation::NOTES_CHARS_MAX).collect(),
        road_code: None,
        stake: None,
        source_crs: report.source_crs.parse().unwrap_or(crate::domain::coords::SourceCrs::Wgs84),
        inspector: actor.display_name.chars().take(crate::domain::observation::INSPECTOR_CHARS_MAX).collect(),
        look_back: None,
        site_id: body.site_id,
        location_source: body.point.map(|_| crate::domain::observation::LocationSource::Map),
        location_confirmed: false,
        source: report.channel.site_source(),
    };
    // What each original said about itself, checked against the report as an inspector's photos are (taken
    // 5 km away, 3 days earlier): flags for a reviewer on the site page, never a refusal.
    for (photo, file) in photos.iter_mut() {
        photo.evidence_flags = photo_evidence::check(photo.original.as_ref(), *file, &obs.geometry, obs.observed_at);
    }
    let photos: Vec<NewPhoto> = photos.into_iter().map(|(photo, _)| photo).collect();
    // The observation's content hash names the report it came from: no upload from a phone can share it.
    let content_sha256: [u8; 32] = Sha256::digest(format!("public_report:{id}:{}", obs.id)).into();
    let scope = actor.site_scope();
    let ctx = RecordContext {
        user_id: actor.user_id,
        scope: &scope,
        county_admin_code: &state.settings.county_admin_code,
        named_site_radius_m: NEARBY_SITE_RADIUS_M,
    };
    let observation =
        db::moderation::Observation { obs: &obs, ctx: &ctx, content_sha256: &content_sha256, photos: &photos };
    match db::moderation::accept(&state.pool, id, &observation, &actor, &notes).await? {
        Ok(site) => tracing::info!(report = id, site = %site, by = %actor.name, "public report accepted"),
        Err(refusal) => return Err(refused(id, refusal)),
    }
    Ok(Json(detail(&state, &actor, id).await?))
}

/// The observation's photo rows: each report photo's public copy (re-encoded, no metadata), never the
/// original. Its size and pixels are read from the stored file, which is what the row describes; what the
/// original said about itself (the fields the phone sent, migration 0020) is kept as evidence. With each, the
/// EXIF found in the original file, which the flags are checked against.
async fn public_copies(state: &AppState, id: i64) -> Result<Vec<(NewPhoto, FileExif)>> {
    let mut conn = state.pool.acquire().await?;
    let keys = db::moderation::photo_keys(&mut conn, id).await?;
    drop(conn);
    let mut photos = Vec::with_capacity(keys.len());
    for (_, k) in keys {
        let bytes = state.photos.get(&k.public_key).await?;
        let format = crate::photos::process::sniff(&bytes)
            .map_err(|e| Error::Internal(anyhow::anyhow!("public copy {}: {e}", k.public_key)))?;
        let (width, height) = image::ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .map_err(|e| Error::Internal(e.into()))?
            .into_dimensions()
            .map_err(|e| Error::Internal(e.into()))?;
        let sha256: [u8; 32] = k
            .public_sha256
            .as_slice()
            .try_into()
            .map_err(|_| Error::Internal(anyhow::anyhow!("public_sha256 length")))?;
        let file = k.file;
        photos.push((
            NewPhoto {
                sha256,
                content_type: format.content_type(),
                bytes: i32::try_from(bytes.len()).unwrap_or(i32::MAX),
                width: width as i32,
                height: height as i32,
                exif_taken_at: None,
                exif_location: None,
                exif_direction_deg: None,
                exif_orientation: None,
                original_key: k.public_key,
                thumbnail_key: k.thumbnail_key,
                thumbnail_width: k.thumbnail_width,
                thumbnail_height: k.thumbnail_height,
                original: k.original,
                evidence_flags: Vec::new(),
            },
            file,
        ));
    }
    Ok(photos)
}

fn refused(id: i64, refusal: Refusal) -> Error {
    match refusal {
        Refusal::NoSuchReport => Error::NotFound(format!("no public report {id}")),
        Refusal::NoSuchSite(site) => Error::NotFound(format!("site_id: no site {site}")),
        Refusal::AlreadyDecided { status, decided_by } => already_decided(id, status, decided_by),
        Refusal::SiteRefused(refusal) => super::observations::named_site_refused(&refusal),
        Refusal::SiteNotOpen { status } => Error::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "site_not_open",
            message: format!("site_id: the site is {status}, not open; merge into an open site or accept as new"),
            facts: json!({ "status": status }),
        },
    }
}

/// How a dispatcher merges a report into a site.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The open site the report is about (any kind, any distance).
    site_id: Uuid,
    /// A note the public reads (at most 500 characters).
    #[serde(default)]
    public_note: Option<String>,
    /// Staff's own note (at most 2000 characters).
    #[serde(default)]
    internal_note: Option<String>,
}

/// Merges a report into a named open site: the report follows that site from now on. No observation is
/// recorded (a report is not an inspection); the site gets a `public_report_merged` event naming the report.
#[utoipa::path(
    post,
    path = "/public-reports/{id}/merge",
    operation_id = "merge_public_report",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id")),
    request_body = Merge,
    responses(
        (status = 200, description = "Merged: the report, naming its site", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 403, description = "Dispatchers only"),
        (status = 404, description = "No such report, or no such site"),
        (status = 409, description = "`report_decided`: someone decided it already"),
        (status = 422, description = "`site_not_open`, or a note too long"),
    )
)]
pub async fn merge(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> Result<Json<Value>> {
    require(&actor, Permission::ModeratePublicReports)?;
    let id = parse_id(&id)?;
    let notes = notes(body.public_note, body.internal_note)?;
    match db::moderation::merge(&state.pool, id, body.site_id, &actor, &notes).await? {
        Ok(site) => tracing::info!(report = id, site = %site, by = %actor.name, "public report merged"),
        Err(refusal) => return Err(refused(id, refusal)),
    }
    Ok(Json(detail(&state, &actor, id).await?))
}

/// How a dispatcher rejects a report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// Why, in words the reporter reads on the tracking page (1 to 500 characters).
    public_reason: String,
    /// Staff's own note (at most 2000 characters).
    #[serde(default)]
    internal_note: Option<String>,
    /// Spam or abuse: never listed publicly (the tracking link still says "not accepted").
    #[serde(default)]
    hidden: bool,
}

/// Rejects a report with a public reason; it never reaches the ledger.
#[utoipa::path(
    post,
    path = "/public-reports/{id}/reject",
    operation_id = "reject_public_report",
    tag = "public-reports",
    params(("id" = i64, Path, description = "The report id")),
    request_body = Reject,
    responses(
        (status = 200, description = "Rejected: the report with its reason", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 403, description = "Dispatchers only"),
        (status = 404, description = "No such report"),
        (status = 409, description = "`report_decided`: someone decided it already"),
        (status = 422, description = "The public reason is missing or too long, or the note too long"),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reject>,
) -> Result<Json<Value>> {
    require(&actor, Permission::ModeratePublicReports)?;
    let id = parse_id(&id)?;
    let notes = notes(Some(body.public_reason), body.internal_note)?;
    if notes.public_reason.is_none() {
        return Err(Error::Unprocessable(format!(
            "public_reason: say why, in words the reporter reads, 1 to {PUBLIC_REASON_CHARS_MAX} characters"
        )));
    }
    if let Err(refusal) = db::moderation::reject(&state.pool, id, &actor, &notes, body.hidden).await? {
        return Err(refused(id, refusal));
    }
    tracing::info!(report = id, hidden = body.hidden, by = %actor.name, "public report rejected");
    Ok(Json(detail(&state, &actor, id).await?))
}

/// The public reports behind a site (accepted or merged into it), oldest first: channel, category, hotline
/// ticket number, public status. Their descriptions only for those who read public reports.
#[utoipa::path(
    get,
    path = "/sites/{id}/public-reports",
    operation_id = "site_public_reports",
    tag = "public-reports",
    params(("id" = String, Path, description = "The site id (a UUID)")),
    responses(
        (status = 200, description = "`reports` (at most 200)", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such site in your scope"),
    )
)]
pub async fn site_reports(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::BadRequest(format!("{id:?} is not a site id (a UUID)")))?;
    db::sites::summary(&state.pool, id, &actor.site_scope())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no site {id}")))?;
    let mut reports = db::moderation::of_site(&state.pool, id).await?;
    let readers = actor.can(Permission::ReadPublicReports);
    if !readers {
        for r in &mut reports {
            r.description = None;
        }
    }
    Ok(Json(json!({ "reports": reports, "readable": readers })))
}

/// How often the retention purge runs.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Every few minutes, deletes the contact data of reports older than `--public-contact-retention-days`
/// (`db::moderation::purge_contacts`, under an advisory lock so one server purges at a time).
pub fn spawn_purge(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match db::moderation::purge_contacts(&state.pool, state.settings.public_contact_retention_days).await {
                Ok(Some(n)) if n > 0 => tracing::info!(reports = n, "public reports' contact data purged"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "purging public reports' contact data failed; it tries again later")
                }
            }
        }
    });
}
