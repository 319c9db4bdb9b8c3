//! One site as `GET /api/v1/sites/{id}` answers it: a GeoJSON Feature whose properties carry the site's
//! facts, its checklist items with their evidence, its latest observations with their photos, and its events.
//!
//! PostgreSQL builds the JSON (`db::sites::detail`); these types read it, and the API, the close-out sheet and
//! the tests all use them. The types are lossless on purpose: serialising a `SiteDetail` gives back the JSON
//! PostgreSQL wrote (a test holds them to that), so every field the query builds has a field here. Where
//! PostgreSQL's text matters (timestamps keep its fractional digits, `real` numbers stay integers when they
//! are whole) the field keeps the text or the JSON number rather than re-formatting it.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::observation::{LocationSource, LookBackResult};
use crate::domain::photo_evidence::EvidenceFlag;
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus, SupervisionLevel};

/// A site as a GeoJSON Feature (RFC 7946 §3.2) with its detail in `properties`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteDetail {
    /// Always `Feature`.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// The site id, as in `properties.id`.
    pub id: Uuid,
    /// A Point for a spot or an intersection, a LineString for a section; WGS-84, 7 decimals.
    #[schema(value_type = Object)]
    pub geometry: geojson::Geometry,
    pub properties: SiteProperties,
}

/// The GeoJSON type of a Feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum FeatureType {
    Feature,
}

/// A site's facts, in the order the query writes them: first those every site feature carries (the map's
/// list shape), then the detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteProperties {
    pub id: Uuid,
    /// Ledger number, e.g. `YH-000123`.
    pub code: String,
    pub kind: SiteKind,
    pub status: SiteStatus,
    /// The town's name (derived from the town boundaries), if the site lies in one.
    pub town: Option<String>,
    pub town_code: Option<String>,
    /// Route code, e.g. `X202`; `null` on a road without one.
    pub road_code: Option<String>,
    pub road_name: Option<String>,
    /// e.g. `K12+300`.
    pub stake: Option<String>,
    /// A section's end stake.
    pub end_stake: Option<String>,
    /// Hazard type codes (see `GET /api/v1/hazard-types`).
    pub hazard_types: Vec<String>,
    pub hazard_level: Option<HazardLevel>,
    /// Items in place over items, e.g. `2/3`.
    pub checklist: String,
    pub deadline: Option<NaiveDate>,
    /// The deadline (China time) has passed and the site is still open.
    pub overdue: bool,
    pub town_id: Option<i32>,
    pub responsible_unit_id: Option<i32>,
    pub first_observed_at: Timestamp,
    /// Times a reviewer returned the close-out for more work.
    pub return_count: i32,
    /// The extension request waiting for a decision, if any.
    pub pending_extension: Option<PendingExtension>,
    pub supervision_level: SupervisionLevel,
    pub observation_count: i32,
    pub last_observed_at: Timestamp,
    /// How the site came to the ledger, e.g. `patrol`.
    pub source: String,
    pub rectification_mode: Option<RectificationMode>,
    /// Checklist template code (see `GET /api/v1/checklist-templates`).
    pub template: String,
    /// For a `duplicate`: the site it was merged into.
    pub duplicate_of: Option<Uuid>,
    /// The version `If-Match` must name (the ETag is `"v<version>"`).
    pub version: i32,
    /// The responsible unit's name.
    pub responsible_unit: Option<String>,
    pub lead_unit_id: Option<i32>,
    pub supporting_unit_ids: Vec<i32>,
    /// Times a look-back found the hazard back (反弹).
    pub relapse_count: i32,
    pub supervision_body: Option<String>,
    pub supervision_doc_no: Option<String>,
    pub supervision_due: Option<NaiveDate>,
    /// The account that asked for the close-out under review.
    pub close_out_requested_by: Option<Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The template's items in template order.
    pub checklist_items: Vec<ChecklistItem>,
    /// The latest observations (at most `db::sites::DETAIL_OBSERVATIONS_MAX`), newest first.
    pub observations: Vec<Observation>,
    /// The site's history (at most `db::sites::DETAIL_EVENTS_MAX`), oldest first.
    pub events: Vec<Event>,
}

/// An extension of the deadline that waits for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PendingExtension {
    pub new_deadline: NaiveDate,
    pub reason: String,
    pub requested_at: Timestamp,
}

/// One checklist item of the site, with its latest evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItem {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// A close-out needs every required item installed, with an after-photo.
    pub required: bool,
    pub state: ItemState,
    pub quantity: Option<i32>,
    pub quantity_min: Option<i32>,
    /// Measurements by field code, e.g. `{"distance_m": 150}`.
    #[schema(value_type = Object)]
    pub measured: Value,
    pub installed_on: Option<NaiveDate>,
    /// Who installed it (施工单位).
    pub installer: Option<String>,
    /// Why the item does not apply, for `not_applicable`.
    pub reason: Option<String>,
    /// The template asks for a night photo too.
    pub night_evidence: bool,
    /// The latest ten submissions, newest first.
    pub evidence: Vec<Evidence>,
}

/// Remediation evidence submitted for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    pub id: Uuid,
    pub state: ItemState,
    pub quantity: Option<i32>,
    #[schema(value_type = Object)]
    pub measured: Value,
    pub installed_on: Option<NaiveDate>,
    pub installer: Option<String>,
    pub reason: Option<String>,
    /// The submitter's display name.
    pub submitted_by: String,
    pub submitted_at: Timestamp,
    pub photos: Vec<EvidencePhoto>,
}

/// Which photo of the work evidence is: after the work, or the same at night.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoRole {
    Before,
    After,
    Night,
}

/// A photo of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidencePhoto {
    pub role: PhotoRole,
    /// Lowercase hex SHA-256 of the file: its address.
    pub sha256: String,
    pub width: i32,
    pub height: i32,
    /// The original's EXIF as the client read it before resizing (`photo_evidence`): the camera's local
    /// time…
    #[serde(default)]
    pub original_taken_at: Option<String>,
    /// …its GPS position…
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub original_location: Option<geojson::Geometry>,
    /// …and its make and model.
    #[serde(default)]
    pub original_device: Option<String>,
    /// Where the photo does not fit the site and the upload's time: taken far away, days before or after, or
    /// its file's own EXIF disagreeing (`domain::photo_evidence::EvidenceFlag`). Flagged, never refused.
    /// (Absent in a detail written before evidence photos carried evidence: none.)
    #[serde(default)]
    pub evidence_flags: Vec<EvidenceFlag>,
    pub url: String,
    pub thumbnail_url: String,
}

/// One observation of the site, as the inspector's phone recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Observation {
    pub id: Uuid,
    pub inspector: String,
    pub observed_at: Timestamp,
    pub received_at: Timestamp,
    /// Where the inspector stood, in WGS-84.
    #[schema(value_type = Object)]
    pub geometry: geojson::Geometry,
    /// The phone's position accuracy in metres.
    #[schema(value_type = Option<f64>)]
    pub accuracy_m: Option<Number>,
    /// The coordinate system the phone sent (`wgs84`, `gcj02`, `bd09`); stored converted to WGS-84.
    pub source_crs: String,
    pub hazard_types: Vec<String>,
    /// Item code → state as seen on this visit.
    #[schema(value_type = Object)]
    pub checklist: Value,
    pub notes: String,
    /// For a look-back (回头看): what it found.
    pub look_back_result: Option<LookBackResult>,
    /// Where the place came from: `gps` (the fix) or `map` (placed by hand); null when the phone did not say.
    #[serde(default)]
    pub location_source: Option<LocationSource>,
    /// The fix was stale or coarse and the inspector confirmed the place before queueing.
    #[serde(default)]
    pub location_confirmed: bool,
    pub photos: Vec<ObservationPhoto>,
}

/// A photo taken with an observation, with the EXIF found in the file (corroboration only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObservationPhoto {
    pub id: Uuid,
    pub sha256: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    /// The camera's local time, without a zone, as EXIF records it.
    pub exif_taken_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub exif_location: Option<geojson::Geometry>,
    #[schema(value_type = Option<f64>)]
    pub exif_direction_deg: Option<Number>,
    /// The original's EXIF as the phone read it before resizing (`photo_evidence`): the camera's local time…
    pub original_taken_at: Option<String>,
    /// …its GPS position…
    #[schema(value_type = Option<Object>)]
    pub original_location: Option<geojson::Geometry>,
    /// …and its make and model.
    pub original_device: Option<String>,
    /// Where the photo does not fit the observation: taken far away, days before or after, or its file's
    /// own EXIF disagreeing (`domain::photo_evidence::EvidenceFlag`). Flagged, never refused. (Absent in a
    /// detail written before migration 0009: none.)
    #[serde(default)]
    pub evidence_flags: Vec<EvidenceFlag>,
    pub url: String,
    pub thumbnail_url: String,
}

/// One entry of the site's append-only history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub at: Timestamp,
    /// Who acted (display name).
    pub actor: String,
    /// What happened: `opened`, an action such as `dispatch` or `approve`, `observed`, a re-derivation …
    pub kind: String,
    pub from_status: Option<SiteStatus>,
    pub to_status: Option<SiteStatus>,
    pub reason: Option<String>,
    /// What the event changed, by field.
    #[schema(value_type = Object)]
    pub data: Value,
    /// The observation that made the event, for observations and look-backs.
    pub observation_id: Option<Uuid>,
}

/// A `timestamptz` as PostgreSQL writes it in JSON (RFC 3339, e.g. `2026-11-28T09:15:00.12345+08:00`). The
/// text is kept as written, so the API answers what it always answered; `Timestamp::at` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = DateTime)]
pub struct Timestamp(pub String);

impl Timestamp {
    /// The instant, with the offset it was written in; `None` if the text is not RFC 3339.
    pub fn at(&self) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(&self.0)
            .or_else(|_| DateTime::parse_from_str(&self.0, "%Y-%m-%dT%H:%M:%S%.f%#z"))
            .ok()
    }
}

impl SiteDetail {
    /// Reads the detail as `db::sites::detail` gets it from PostgreSQL. The text passes through a
    /// `serde_json::Value` first: the query's `json_build_object` writes three keys twice (the shared list
    /// properties, then the detail's own), with equal values, and a derived struct refuses a repeated key
    /// where a `Value`, like `JSON.parse`, keeps the last.
    pub fn from_postgres_json(text: &str) -> serde_json::Result<SiteDetail> {
        serde_json::from_value(serde_json::from_str::<Value>(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_postgresql_text_and_read_as_instants() {
        let t: Timestamp = serde_json::from_str("\"2026-11-28T09:15:00.12345+08:00\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-28T09:15:00.12345+08:00\"");
        assert_eq!(t.at(), DateTime::parse_from_rfc3339("2026-11-28T01:15:00.12345Z").ok());
        assert_eq!(Timestamp("yesterday".into()).at(), None);
    }

    #[test]
    fn whole_real_numbers_stay_whole() {
        let n: Number = serde_json::from_str("12").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "12");
    }
}
