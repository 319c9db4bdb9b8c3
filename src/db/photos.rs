//! Photo rows: before-photos of observations, after- and night-photos of checklist evidence. The files
//! themselves live in the photo store under content-addressed keys.

use chrono::NaiveDateTime;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::auth::SiteScope;
use crate::domain::photo_evidence::{EvidenceFlag, PhotoEvidence};

/// A photo that passed every check, ready to be recorded (its files are already stored).
#[derive(Debug, Clone)]
pub struct NewPhoto {
    pub sha256: [u8; 32],
    pub content_type: &'static str,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub exif_taken_at: Option<NaiveDateTime>,
    pub exif_location: Option<(f64, f64)>,
    pub exif_direction_deg: Option<f32>,
    pub exif_orientation: Option<i16>,
    pub original_key: String,
    pub thumbnail_key: String,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
    /// What the phone read from the original before resizing it (observation photos).
    pub original: Option<PhotoEvidence>,
    /// Where the photo does not fit its observation (`domain::photo_evidence::check`).
    pub evidence_flags: Vec<EvidenceFlag>,
}

/// What a photo belongs to, and so its role.
#[derive(Debug, Clone, Copy)]
pub enum PhotoOwner {
    /// A before-photo, taken at an inspection.
    Observation(Uuid),
    /// An after-photo of remediation evidence.
    EvidenceAfter(Uuid),
    /// A night photo of remediation evidence (lamps and beacons must work at night).
    EvidenceNight(Uuid),
}

pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    owner: PhotoOwner,
    position: i16,
    p: &NewPhoto,
) -> sqlx::Result<()> {
    let (observation_id, evidence_id, role) = match owner {
        PhotoOwner::Observation(id) => (Some(id), None, "before"),
        PhotoOwner::EvidenceAfter(id) => (None, Some(id), "after"),
        PhotoOwner::EvidenceNight(id) => (None, Some(id), "night"),
    };
    let o = p.original.as_ref();
    sqlx::query!(
        "insert into photo (observation_id, evidence_id, role, position, sha256, content_type, bytes, width, height,
             exif_taken_at, exif_location, exif_direction_deg, exif_orientation, original_key, thumbnail_key,
             thumbnail_width, thumbnail_height, original_taken_at, original_utc_offset_s, original_location,
             original_direction_deg, original_device, original_bytes, original_width, original_height,
             evidence_flags)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
             case when $11::float8 is null then null else st_setsrid(st_makepoint($11, $12), 4326) end,
             $13, $14, $15, $16, $17, $18, $19, $20,
             case when $21::float8 is null then null else st_setsrid(st_makepoint($21, $22), 4326) end,
             $23, $24, $25, $26, $27, $28)",
        observation_id,
        evidence_id,
        role,
        position,
        p.sha256.as_slice(),
        p.content_type,
        p.bytes,
        p.width,
        p.height,
        p.exif_taken_at,
        p.exif_location.map(|l| l.0),
        p.exif_location.map(|l| l.1),
        p.exif_direction_deg,
        p.exif_orientation,
        p.original_key,
        p.thumbnail_key,
        p.thumbnail_width,
        p.thumbnail_height,
        o.and_then(|o| o.taken_local),
        o.and_then(|o| o.utc_offset_s),
        o.and_then(|o| o.location).map(|l| l.0),
        o.and_then(|o| o.location).map(|l| l.1),
        o.and_then(|o| o.direction_deg).map(|d| d as f32),
        o.and_then(|o| o.device.as_deref()),
        o.and_then(|o| o.original_bytes).map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        o.and_then(|o| o.original_width).map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
        o.and_then(|o| o.original_height).map(|h| i32::try_from(h).unwrap_or(i32::MAX)),
        sqlx::types::Json(&p.evidence_flags) as _
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A photo by content hash, if one of the sites the user may see has it (through an observation or through
/// evidence): (original key, thumbnail key, content type).
pub async fn keys(pool: &PgPool, sha256: &[u8], scope: &SiteScope) -> sqlx::Result<Option<(String, String, String)>> {
    let sql = format!(
        "select p.original_key, p.thumbnail_key, p.content_type
         from photo p
         left join observation o on o.id = p.observation_id
         left join item_evidence e on e.id = p.evidence_id
         join site s on s.id = coalesce(o.site_id, e.site_id)
         where p.sha256 = $1 and {}
         limit 1",
        super::sites::scope_condition(2)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(sha256), scope).fetch_optional(pool).await
}
