//! Public reports (migration 0018): the one insert every channel goes through (the public page, the hotline
//! form and its CSV import, Open311), and the reads they share. Moderation, the hotline's import and Open311
//! have their own modules; the public status is kept by the database's triggers, never written here.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::coords::SourceCrs;
use crate::domain::photo_evidence::PhotoEvidence;
use crate::domain::public_report::{Channel, PublicStatus};

/// A report ready to store: validated by its channel, its photos' files already in the photo store.
#[derive(Debug, Clone)]
pub struct NewPublicReport {
    pub channel: Channel,
    pub submission_id: Option<Uuid>,
    pub tracking_token: String,
    pub category: &'static str,
    pub description: String,
    /// WGS-84 longitude and latitude (converted from `source_crs` by the channel).
    pub point: Option<(f64, f64)>,
    pub source_crs: SourceCrs,
    pub accuracy_m: Option<f64>,
    pub address_text: Option<String>,
    pub ticket_no: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub open311_client_id: Option<i32>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub sender_hash: Option<[u8; 32]>,
    pub device_hash: Option<[u8; 32]>,
    pub entered_by: Option<String>,
    pub photos: Vec<NewReportPhoto>,
}

/// One photo of a citizen report: the original (evidence, staff only), its metadata-free public copy and its
/// thumbnail, all stored before the report's transaction.
#[derive(Debug, Clone)]
pub struct NewReportPhoto {
    pub sha256: [u8; 32],
    pub content_type: &'static str,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub original_key: String,
    pub public_key: String,
    pub public_sha256: [u8; 32],
    pub thumbnail_key: String,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
    pub exif_taken_at: Option<NaiveDateTime>,
    pub exif_location: Option<(f64, f64)>,
    /// What the phone read from the original before resizing it (migration 0020).
    pub original: Option<PhotoEvidence>,
}

/// What storing a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Stored now, with its id and tracking token.
    Created { id: i64, tracking_token: String },
    /// A report with this `submission_id` (or this hotline `ticket_no`) was stored before: nothing written;
    /// its id and token.
    Known { id: i64, tracking_token: String },
}

/// Stores one report and its photos in the caller's transaction. A repeated `submission_id` or `ticket_no`
/// writes nothing and answers the stored report, so a retried submission or a re-imported ticket is never
/// stored twice (the unique indexes decide, under concurrent inserts too).
pub async fn insert(tx: &mut Transaction<'_, Postgres>, r: &NewPublicReport) -> sqlx::Result<Stored> {
    if let Some(known) = known(tx, r.submission_id, r.ticket_no.as_deref()).await? {
        return Ok(known);
    }
    let (lon, lat) = r.point.unzip();
    let inserted = sqlx::query!(
        r#"insert into public_report (channel, submission_id, tracking_token, category, description, geom,
               source_crs, accuracy_m, address_text, ticket_no, reported_at, open311_client_id, contact_name,
               contact_phone, contact_email, sender_hash, device_hash, entered_by)
           values ($1, $2, $3, $4, $5,
               case when $6::float8 is null then null else st_setsrid(st_makepoint($6, $7), 4326) end,
               $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           on conflict do nothing
           returning id"#,
        r.channel.as_str(),
        r.submission_id,
        r.tracking_token,
        r.category,
        r.description,
        lon,
        lat,
        r.source_crs.as_str(),
        r.accuracy_m.map(|a| a as f32),
        r.address_text,
        r.ticket_no,
        r.reported_at,
        r.open311_client_id,
        r.contact_name,
        r.contact_phone,
        r.contact_email,
        r.sender_hash.as_ref().map(|h| h.as_slice()),
        r.device_hash.as_ref().map(|h| h.as_slice()),
        r.entered_by
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        // Another transaction stored the same submission or ticket between the check and the insert.
        return Ok(known(tx, r.submission_id, r.ticket_no.as_deref())
            .await?
            .unwrap_or(Stored::Known { id: 0, tracking_token: String::new() }));
    };
    for (position, p) in r.photos.iter().enumerate() {
        let (plon, plat) = p.exif_location.unzip();
        let o = p.original.as_ref();
        let (olon, olat) = o.and_then(|o| o.location).unzip();
        sqlx::query!(
            "insert into public_report_photo (report_id, position, sha256, content_type, bytes, width, height,
                 original_key, public_key, public_sha256, thumbnail_key, thumbnail_width, thumbnail_height,
                 exif_taken_at, exif_location, original_taken_at, original_utc_offset_s, original_location,
                 original_direction_deg, original_device, original_bytes, original_width, original_height)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 case when $15::float8 is null then null else st_setsrid(st_makepoint($15, $16), 4326) end,
                 $17, $18,
                 case when $19::float8 is null then null else st_setsrid(st_makepoint($19, $20), 4326) end,
                 $21, $22, $23, $24, $25)",
            row.id,
            position as i16,
            p.sha256.as_slice(),
            p.content_type,
            p.bytes,
            p.width,
            p.height,
            p.original_key,
            p.public_key,
            p.public_sha256.as_slice(),
            p.thumbnail_key,
            p.thumbnail_width,
            p.thumbnail_height,
            p.exif_taken_at,
            plon,
            plat,
            o.and_then(|o| o.taken_local),
            o.and_then(|o| o.utc_offset_s),
            olon,
            olat,
            o.and_then(|o| o.direction_deg).map(|d| d as f32),
            o.and_then(|o| o.device.as_deref()),
            o.and_then(|o| o.original_bytes).map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            o.and_then(|o| o.original_width).map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
            o.and_then(|o| o.original_height).map(|h| i32::try_from(h).unwrap_or(i32::MAX))
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(Stored::Created { id: row.id, tracking_token: r.tracking_token.clone() })
}

async fn known(
    conn: &mut PgConnection,
    submission: Option<Uuid>,
    ticket_no: Option<&str>,
) -> sqlx::Result<Option<Stored>> {
    if submission.is_none() && ticket_no.is_none() {
        return Ok(None);
    }
    let row = sqlx::query!(
        "select id, tracking_token from public_report
         where submission_id = $1 or ticket_no = $2
         order by id limit 1",
        submission,
        ticket_no
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Stored::Known { id: r.id, tracking_token: r.tracking_token }))
}

/// What the public may read of a report: its category, when it came, its public status with each change
/// (the public part of a rejection's reason included), and the site's ledger code once it has one. No
/// description, place, photo or person: the tracking link is shared in chat apps.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PublicView {
    pub id: i64,
    pub category: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub public_status: PublicStatus,
    pub updated_at: DateTime<Utc>,
    /// The public reason of a rejection, or a note on accepting.
    pub public_reason: Option<String>,
    pub site_code: Option<String>,
    pub updates: Vec<PublicUpdate>,
}

/// One change of a report's public status.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PublicUpdate {
    pub id: i64,
    pub public_status: PublicStatus,
    pub description: Option<String>,
    pub at: DateTime<Utc>,
}

/// A report by its tracking token, as the public reads it.
pub async fn public_view(conn: &mut PgConnection, token: &str) -> sqlx::Result<Option<PublicView>> {
    let Some(r) = sqlx::query!(
        r#"select r.id, r.category, r.channel as "channel: Channel", r.received_at,
               r.public_status as "public_status: PublicStatus", r.updated_at, r.public_reason, s.code as "site_code?"
           from public_report r left join site s on s.id = r.site_id
           where r.tracking_token = $1"#,
        token
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let updates = sqlx::query_as!(
        PublicUpdate,
        r#"select id, public_status as "public_status: PublicStatus", description, at
           from public_report_update where report_id = $1 order by id"#,
        r.id
    )
    .fetch_all(conn)
    .await?;
    Ok(Some(PublicView {
        id: r.id,
        category: r.category,
        channel: r.channel,
        received_at: r.received_at,
        public_status: r.public_status,
        updated_at: r.updated_at,
        public_reason: r.public_reason,
        site_code: r.site_code,
        updates,
    }))
}
