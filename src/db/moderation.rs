//! Moderating public reports (issue 13 part 4): the dispatchers' queue, one report with its photos and
//! updates, the open sites near it, and the decisions (accept into the ledger as an observation, merge into a
//! named site, reject with a public reason), each one transaction under the report's row lock, decided once.
//! Also the retention purge of reporters' contact data. The public status is kept by migration 0018's
//! triggers; nothing here writes it.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::observations::{self, Outcome, RecordContext};
use super::photos::NewPhoto;
use crate::domain::auth::Actor;
use crate::domain::lifecycle::RecordKind;
use crate::domain::observation::{NamedSiteRefusal, NewObservation};
use crate::domain::photo_evidence::{FileExif, PhotoEvidence};
use crate::domain::public_report::{Channel, NEARBY_SITE_RADIUS_M, PublicStatus, ReportStatus};
use crate::domain::site::SiteStatus;

/// One report as staff read it. Contact data is as stored here; the handler masks it for those who may
/// not read it in full.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReportRow {
    pub id: i64,
    pub channel: Channel,
    pub category: String,
    pub description: String,
    /// WGS-84, when the report has a point.
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub accuracy_m: Option<f32>,
    pub source_crs: String,
    pub address_text: Option<String>,
    pub ticket_no: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The town the point lies in.
    pub town: Option<String>,
    pub open311_client: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub contact_purged_at: Option<DateTime<Utc>>,
    pub entered_by: Option<String>,
    pub status: ReportStatus,
    pub public_status: PublicStatus,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub public_reason: Option<String>,
    pub internal_note: Option<String>,
    pub hidden: bool,
    pub site_id: Option<Uuid>,
    pub site_code: Option<String>,
    pub observation_id: Option<Uuid>,
    pub photo_count: i64,
}

/// The columns of `ReportRow`, over `public_report r`.
const ROW_COLUMNS: &str = "r.id, r.channel, r.category, r.description, st_x(r.geom) as lon, st_y(r.geom) as lat,
    r.accuracy_m, r.source_crs, r.address_text, r.ticket_no, r.reported_at, r.received_at,
    (select t.name from town t where st_intersects(t.boundary, r.geom) order by t.id limit 1) as town,
    (select c.name from open311_client c where c.id = r.open311_client_id) as open311_client,
    r.contact_name, r.contact_phone, r.contact_email, r.contact_purged_at, r.entered_by, r.status,
    r.public_status, r.decided_at, r.decided_by, r.public_reason, r.internal_note, r.hidden, r.site_id,
    (select s.code from site s where s.id = r.site_id) as site_code, r.observation_id,
    (select count(*) from public_report_photo p where p.report_id = r.id) as photo_count";

/// Which reports the queue lists. `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<ReportStatus>,
    pub channel: Option<Channel>,
    pub category: Option<String>,
    pub limit: i64,
    /// Keyset paging: the (received_at, id) of the last report of the previous page.
    pub after: Option<(DateTime<Utc>, i64)>,
}

/// The queue: oldest received first (the one waiting longest is decided first), ties by id.
pub async fn list(pool: &PgPool, f: &QueueFilter) -> sqlx::Result<Vec<ReportRow>> {
    let sql = format!(
        "select {ROW_COLUMNS} from public_report r
         where ($1::text is null or r.status = $1) and ($2::text is null or r.channel = $2)
           and ($3::text is null or r.category = $3)
           and ($4::timestamptz is null or (r.received_at, r.id) > ($4, $5))
         order by r.received_at, r.id
         limit $6"
    );
    sqlx::query_as(&sql)
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.channel.map(|c| c.as_str()))
        .bind(f.category.as_deref())
        .bind(f.after.map(|a| a.0))
        .bind(f.after.map(|a| a.1).unwrap_or(0))
        .bind(f.limit)
        .fetch_all(pool)
        .await
}

/// One report.
pub async fn row(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<ReportRow>> {
    let sql = format!("select {ROW_COLUMNS} from public_report r where r.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(conn).await
}

/// A report's photo as staff read it (the files are behind the report's photo routes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportPhoto {
    pub position: i16,
    pub content_type: String,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
    /// The original's EXIF time and place (evidence, staff only).
    pub exif_taken_at: Option<NaiveDateTime>,
    pub exif_lon: Option<f64>,
    pub exif_lat: Option<f64>,
}

pub async fn photos(conn: &mut PgConnection, id: i64) -> sqlx::Result<Vec<ReportPhoto>> {
    sqlx::query_as!(
        ReportPhoto,
        "select position, content_type, bytes, width, height, thumbnail_width, thumbnail_height, exif_taken_at,
             st_x(exif_location) as exif_lon, st_y(exif_location) as exif_lat
         from public_report_photo where report_id = $1 order by position",
        id
    )
    .fetch_all(conn)
    .await
}

/// The files of one photo: (original key, content type, SHA-256; public copy key, its SHA-256; thumbnail key).
pub struct PhotoKeys {
    pub original_key: String,
    pub content_type: String,
    pub sha256: Vec<u8>,
    pub public_key: String,
    pub public_sha256: Vec<u8>,
    pub thumbnail_key: String,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
    /// What the phone read from the original before resizing it (migration 0020), if it sent anything.
    pub original: Option<PhotoEvidence>,
    /// The EXIF found in the stored original file.
    pub file: FileExif,
}

pub async fn photo_keys(conn: &mut PgConnection, id: i64) -> sqlx::Result<Vec<(i16, PhotoKeys)>> {
    let rows = sqlx::query!(
        r#"select position, original_key, content_type, sha256, public_key, public_sha256, thumbnail_key,
             thumbnail_width, thumbnail_height, exif_taken_at, st_x(exif_location) as exif_lon,
             st_y(exif_location) as exif_lat, original_taken_at, original_utc_offset_s,
             st_x(original_location) as original_lon, st_y(original_location) as original_lat,
             original_direction_deg, original_device, original_bytes, original_width, original_height
         from public_report_photo where report_id = $1 order by position"#,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.position,
                PhotoKeys {
                    original_key: r.original_key,
                    content_type: r.content_type,
                    sha256: r.sha256,
                    public_key: r.public_key,
                    public_sha256: r.public_sha256,
                    thumbnail_key: r.thumbnail_key,
                    thumbnail_width: r.thumbnail_width,
                    thumbnail_height: r.thumbnail_height,
                    original: {
                        let evidence = PhotoEvidence {
                            taken_local: r.original_taken_at,
                            utc_offset_s: r.original_utc_offset_s,
                            location: r.original_lon.zip(r.original_lat),
                            direction_deg: r.original_direction_deg.map(f64::from),
                            device: r.original_device,
                            original_bytes: r.original_bytes.and_then(|b| u64::try_from(b).ok()),
                            original_width: r.original_width.and_then(|w| u32::try_from(w).ok()),
                            original_height: r.original_height.and_then(|h| u32::try_from(h).ok()),
                        };
                        (evidence != PhotoEvidence::default()).then_some(evidence)
                    },
                    file: FileExif { taken_local: r.exif_taken_at, location: r.exif_lon.zip(r.exif_lat) },
                },
            )
        })
        .collect())
}

/// A report's public status changes, in order (what the tracking page and Open311 show).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Update {
    pub id: i64,
    pub public_status: PublicStatus,
    pub description: Option<String>,
    pub at: DateTime<Utc>,
}

pub async fn updates(conn: &mut PgConnection, id: i64) -> sqlx::Result<Vec<Update>> {
    sqlx::query_as!(
        Update,
        r#"select id, public_status as "public_status: PublicStatus", description, at
           from public_report_update where report_id = $1 order by id"#,
        id
    )
    .fetch_all(conn)
    .await
}

/// The open sites within `NEARBY_SITE_RADIUS_M` of a point, nearest first (at most 20): what an accept may
/// name instead of letting matching decide, and what a merge is usually into.
pub async fn nearby_sites(conn: &mut PgConnection, lon: f64, lat: f64) -> sqlx::Result<serde_json::Value> {
    sqlx::query_scalar!(
        r#"with g as (select st_setsrid(st_makepoint($1, $2), 4326)::geography as g)
         select coalesce(json_agg(n order by n.distance_m, n.code), '[]'::json)::jsonb as "sites!: serde_json::Value"
         from (
             select s.id, s.code, s.kind, s.status, s.source, t.name as town, s.route_code as road_code,
                 s.stake_text as stake, s.hazard_types,
                 round(st_distance(s.geom::geography, g.g)::numeric, 1)::float8 as distance_m
             from g, site s left join town t on t.id = s.town_id
             where s.status = any($3) and st_dwithin(s.geom::geography, g.g, $4)
             order by st_distance(s.geom::geography, g.g), s.code
             limit 20) n"#,
        lon,
        lat,
        &SiteStatus::open_codes() as &[&str],
        NEARBY_SITE_RADIUS_M
    )
    .fetch_one(conn)
    .await
}

/// A site's kind (an accept naming a site records an observation of the site's kind unless told otherwise).
pub async fn site_kind(pool: &PgPool, site_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("select kind from site where id = $1", site_id).fetch_optional(pool).await
}

/// The reports behind a site (accepted into it or merged into it), oldest first, at most 200.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SiteReport {
    pub id: i64,
    pub channel: Channel,
    pub category: String,
    pub ticket_no: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub status: ReportStatus,
    pub public_status: PublicStatus,
    pub decided_at: Option<DateTime<Utc>>,
    /// What the reporter said; left out (null) for those who do not read public reports.
    pub description: Option<String>,
}

pub async fn of_site(pool: &PgPool, site_id: Uuid) -> sqlx::Result<Vec<SiteReport>> {
    sqlx::query_as!(
        SiteReport,
        r#"select id, channel as "channel: Channel", category, ticket_no, reported_at, received_at,
             status as "status: ReportStatus", public_status as "public_status: PublicStatus", decided_at,
             description as "description?"
         from public_report where site_id = $1
         order by received_at, id limit 200"#,
        site_id
    )
    .fetch_all(pool)
    .await
}

/// Why a decision was refused; nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    NoSuchReport,
    /// Someone decided it already.
    AlreadyDecided {
        status: ReportStatus,
        decided_by: Option<String>,
    },
    NoSuchSite(Uuid),
    /// The site named may not be joined (accept: another kind, not open, farther than 50 m).
    SiteRefused(NamedSiteRefusal),
    /// A merge names a site that is not open.
    SiteNotOpen {
        status: String,
    },
}

/// What a decision writes on the report besides its status.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub public_reason: Option<String>,
    pub internal_note: Option<String>,
}

struct Locked {
    status: ReportStatus,
    decided_by: Option<String>,
}

/// The report's row, locked for the decision, if it is still waiting.
async fn lock(tx: &mut Transaction<'_, Postgres>, id: i64) -> sqlx::Result<Result<(), Refusal>> {
    let Some(r) = sqlx::query_as!(
        Locked,
        r#"select status as "status: ReportStatus", decided_by from public_report where id = $1 for update"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(Err(Refusal::NoSuchReport));
    };
    if r.status != ReportStatus::Received {
        return Ok(Err(Refusal::AlreadyDecided { status: r.status, decided_by: r.decided_by }));
    }
    Ok(Ok(()))
}

/// The observation an accepted report becomes, as `observations::record` takes it.
pub struct Observation<'a> {
    pub obs: &'a NewObservation,
    pub ctx: &'a RecordContext<'a>,
    pub content_sha256: &'a [u8; 32],
    pub photos: &'a [NewPhoto],
}

/// Accepts a report: `obs` (built from the report by the caller, with the report photos' public copies as
/// `photos`) is recorded by `observations::record_in` inside this transaction, after the report's row lock,
/// and the report then names its site and observation. Either all of it commits or none: a report is never
/// accepted without its observation, nor an observation stored for a report someone else decided meanwhile.
/// A retry after a failure finds the report still `received` and records afresh (the observation id is new
/// each attempt, and the rolled-back one left nothing). Returns the site's id.
pub async fn accept(
    pool: &PgPool,
    id: i64,
    observation: &Observation<'_>,
    actor: &Actor,
    notes: &Notes,
) -> sqlx::Result<Result<Uuid, Refusal>> {
    let Observation { obs, ctx, content_sha256, photos } = observation;
    let mut tx = pool.begin().await?;
    if let Err(refusal) = lock(&mut tx, id).await? {
        return Ok(Err(refusal));
    }
    match observations::record_in(&mut tx, obs, ctx, content_sha256, photos).await? {
        Outcome::Created => {}
        Outcome::NoSuchSite(site) => return Ok(Err(Refusal::NoSuchSite(site))),
        Outcome::SiteRefused(refusal) => return Ok(Err(Refusal::SiteRefused(refusal))),
        // The observation id is made afresh for each accept, so no earlier upload can hold it.
        Outcome::Replayed | Outcome::Conflict => {
            return Err(sqlx::Error::Protocol(format!("observation {} exists already", obs.id)));
        }
    }
    let site_id =
        sqlx::query_scalar!("select site_id from observation where id = $1", obs.id).fetch_one(&mut *tx).await?;
    decide(&mut tx, id, ReportStatus::Accepted, actor, notes, Some(site_id), Some(obs.id), false).await?;
    tx.commit().await?;
    Ok(Ok(site_id))
}

/// Merges a report into a named open site (any kind, any distance: a hotline ticket may have only an
/// address): no observation is recorded, since a report is not an inspection; the site gets a
/// `public_report_merged` event naming the report, so its history shows where the report went.
pub async fn merge(
    pool: &PgPool,
    id: i64,
    site_id: Uuid,
    actor: &Actor,
    notes: &Notes,
) -> sqlx::Result<Result<Uuid, Refusal>> {
    let mut tx = pool.begin().await?;
    if let Err(refusal) = lock(&mut tx, id).await? {
        return Ok(Err(refusal));
    }
    let Some(status) = sqlx::query_scalar!("select status from site where id = $1 for update", site_id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(Err(Refusal::NoSuchSite(site_id)));
    };
    if !status.parse::<SiteStatus>().is_ok_and(SiteStatus::is_open) {
        return Ok(Err(Refusal::SiteNotOpen { status }));
    }
    sqlx::query!(
        "insert into site_event (site_id, actor, actor_user_id, kind, data)
         select $1, $2, $3, $4, jsonb_build_object('public_report_id', r.id, 'channel', r.channel,
             'category', r.category, 'ticket_no', r.ticket_no)
         from public_report r where r.id = $5",
        site_id,
        actor.display_name,
        actor.user_id,
        RecordKind::PublicReportMerged.as_str(),
        id
    )
    .execute(&mut *tx)
    .await?;
    // A new event changes the site's detail, whose ETag is its version.
    sqlx::query!("update site set updated_at = now(), version = version + 1 where id = $1", site_id)
        .execute(&mut *tx)
        .await?;
    decide(&mut tx, id, ReportStatus::Merged, actor, notes, Some(site_id), None, false).await?;
    tx.commit().await?;
    Ok(Ok(site_id))
}

/// Rejects a report with its public reason (required by the schema for a rejection); `hidden` for spam.
pub async fn reject(
    pool: &PgPool,
    id: i64,
    actor: &Actor,
    notes: &Notes,
    hidden: bool,
) -> sqlx::Result<Result<(), Refusal>> {
    let mut tx = pool.begin().await?;
    if let Err(refusal) = lock(&mut tx, id).await? {
        return Ok(Err(refusal));
    }
    decide(&mut tx, id, ReportStatus::Rejected, actor, notes, None, None, hidden).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

#[allow(clippy::too_many_arguments)]
async fn decide(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    status: ReportStatus,
    actor: &Actor,
    notes: &Notes,
    site_id: Option<Uuid>,
    observation_id: Option<Uuid>,
    hidden: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update public_report set status = $2, decided_at = now(), decided_by = $3, public_reason = $4,
             internal_note = $5, site_id = $6, observation_id = $7, hidden = $8
         where id = $1",
        id,
        status.as_str(),
        actor.display_name,
        notes.public_reason,
        notes.internal_note,
        site_id,
        observation_id,
        hidden
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the reporters' contact data (name, phone, e-mail) and the abuse limits' hashes of every report
/// received more than `days` ago, marking it purged. Runs under a transaction-level advisory lock, so of
/// several servers one purges at a time (the others skip this round). Returns how many reports it purged,
/// or `None` when another server held the lock.
pub async fn purge_contacts(pool: &PgPool, days: u32) -> sqlx::Result<Option<u64>> {
    let mut tx = pool.begin().await?;
    let locked = sqlx::query_scalar!(
        r#"select pg_try_advisory_xact_lock(hashtextextended('public_report:purge_contacts', 0)) as "locked!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(None);
    }
    let done = sqlx::query!(
        "update public_report set contact_name = null, contact_phone = null, contact_email = null,
             sender_hash = null, device_hash = null, contact_purged_at = now()
         where contact_purged_at is null and received_at < now() - make_interval(days => $1)",
        i32::try_from(days).unwrap_or(i32::MAX)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(done.rows_affected()))
}
