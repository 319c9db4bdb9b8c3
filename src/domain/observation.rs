//! An observation (排查记录) as the phone sends it, and its validation into trusted domain values.
//!
//! `ObservationInput` is the wire shape; `NewObservation::validate` checks every field against its limit and
//! turns coordinates into WGS-84, so code past this point never sees an unchecked value.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use geojson::GeometryValue;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::coords::{self, SourceCrs};
use super::photo_evidence::PhotoEvidenceInput;
use super::site::{ItemState, SiteKind, SiteSource};
use super::stake::Stake;

pub const NOTES_CHARS_MAX: usize = 4000;
pub const INSPECTOR_CHARS_MAX: usize = 64;
pub const HAZARD_TYPES_MAX: usize = 20;
pub const CHECKLIST_ITEMS_MAX: usize = 16;
pub const LINE_POINTS_MAX: usize = 500;
pub const ACCURACY_M_MAX: f64 = 10_000.0;
/// Phones' clocks drift; an observation may claim to be a little in the future, not more.
pub const CLOCK_SKEW_MAX: Duration = Duration::minutes(10);
/// A look-back is done on site: by default the inspector stands within this distance of the site's geometry
/// (`serve --look-back-radius-m`).
pub const LOOK_BACK_RADIUS_M: f64 = 100.0;

crate::domain::site::coded_enum! {
    /// What a look-back (回头看) found: the facilities hold, or something came back (反弹).
    LookBackResult {
        Pass = "pass",
        Relapse = "relapse",
    }
}

crate::domain::site::coded_enum! {
    /// Where the observation's place came from: the phone's fix, or a point placed (dragged) by hand on the
    /// page's map.
    LocationSource {
        Gps = "gps",
        Map = "map",
    }
}

/// A fix older than this needs the inspector's confirmation before the phone queues it.
pub const FIX_AGE_CONFIRM_S: f64 = 30.0;
/// A fix coarser than this needs the inspector's confirmation before the phone queues it.
pub const FIX_ACCURACY_CONFIRM_M: f64 = 50.0;

/// Whether a fix of this accuracy and age is one the inspector must confirm before it is used (the phone
/// asks; the observation then carries `location_confirmed`). An unknown accuracy needs confirmation too.
pub fn fix_needs_confirmation(accuracy_m: Option<f64>, age_s: f64) -> bool {
    age_s > FIX_AGE_CONFIRM_S || accuracy_m.is_none_or(|a| !a.is_finite() || a > FIX_ACCURACY_CONFIRM_M)
}

/// Why an observation may not join the site it names (`site_id`): the site is another kind, no longer
/// open, or farther than the radius from the observed place. The phone offers only open sites of the same
/// kind nearby, so each of these means the choice was stale or wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NamedSiteRefusal {
    #[error("site_id: the site is a {site_kind}, not a {kind}; a repeat visit is recorded against its own kind")]
    OtherKind { site_kind: String, kind: SiteKind },
    #[error("site_id: the site is {status}, not open; a closed site is looked back at (look_back), not joined")]
    NotOpen { status: String },
    #[error("site_id: the site is {distance_m:.0} m from the observed place; a repeat visit is within {radius_m:.0} m")]
    TooFar { distance_m: f64, radius_m: f64 },
}

impl NamedSiteRefusal {
    /// The stable code pages translate from.
    pub fn code(&self) -> &'static str {
        match self {
            NamedSiteRefusal::OtherKind { .. } => "site_other_kind",
            NamedSiteRefusal::NotOpen { .. } => "site_not_open",
            NamedSiteRefusal::TooFar { .. } => "site_too_far",
        }
    }
}

/// May an observation of `kind` join the named site (its kind, status, and distance from the observed place)?
pub fn check_named_site(
    kind: SiteKind,
    site_kind: &str,
    site_status: &str,
    distance_m: f64,
    radius_m: f64,
) -> Result<(), NamedSiteRefusal> {
    if site_kind != kind.as_str() {
        return Err(NamedSiteRefusal::OtherKind { site_kind: site_kind.to_string(), kind });
    }
    if !super::site::SiteStatus::open_codes().contains(&site_status) {
        return Err(NamedSiteRefusal::NotOpen { status: site_status.to_string() });
    }
    if distance_m.is_nan() || distance_m > radius_m {
        return Err(NamedSiteRefusal::TooFar { distance_m, radius_m });
    }
    Ok(())
}

/// The `look_back` part of an observation: which closed site was re-inspected and what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookBack {
    pub site_id: Uuid,
    pub result: LookBackResult,
}

/// The `observation` part of `POST /api/v1/observations`, as sent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationInput {
    pub id: Uuid,
    pub kind: SiteKind,
    /// GeoJSON Point (spot, intersection) or LineString (section), in `source_crs`.
    #[schema(value_type = Object)]
    pub geometry: geojson::Geometry,
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    pub observed_at: DateTime<Utc>,
    #[serde(default)]
    pub hazard_types: Vec<String>,
    #[serde(default)]
    pub checklist: BTreeMap<String, ItemState>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub road_code: Option<String>,
    #[serde(default)]
    pub stake: Option<String>,
    #[serde(default)]
    pub source_crs: SourceCrs,
    #[serde(default)]
    pub photo_sha256: Option<Vec<String>>,
    /// Present when this visit is a look-back of a closed site rather than a report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_back: Option<LookBack>,
    /// What each photo's original said about itself (EXIF), one entry per photo in order: the phone resizes
    /// photos, which drops their EXIF. Checked by `domain::photo_evidence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_evidence: Option<Vec<PhotoEvidenceInput>>,
    /// The open site this visit is a repeat visit of, chosen by the inspector: the observation joins it
    /// (same kind, open, within the look-back radius) instead of being matched by place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<Uuid>,
    /// Where the place came from: `gps` (the fix) or `map` (placed by hand). Absent: not said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_source: Option<LocationSource>,
    /// The fix was stale (over 30 s) or coarse (over 50 m) and the inspector confirmed it was the place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub location_confirmed: bool,
}

/// A WGS-84 position, longitude then latitude, in degrees, checked to be in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wgs84Point {
    pub lon: f64,
    pub lat: f64,
}

impl Wgs84Point {
    pub fn new(lon: f64, lat: f64) -> Result<Self, ObservationError> {
        if !lon.is_finite() || !lat.is_finite() || !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(ObservationError::new(
                "geometry",
                format!(
                    "coordinate [{lon}, {lat}] is out of range: longitude must be within -180..180 and \
                     latitude within -90..90 (GeoJSON order is [longitude, latitude])"
                ),
            ));
        }
        Ok(Wgs84Point { lon, lat })
    }
}

/// The observed place: a point (intersection, spot) or a line (section), always WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteGeometry {
    Point(Wgs84Point),
    Line(Vec<Wgs84Point>),
}

impl SiteGeometry {
    /// GeoJSON text for `ST_GeomFromGeoJSON`, 9 decimals (sub-millimetre; conversion keeps its precision).
    pub fn to_geojson(&self) -> String {
        let value = match self {
            SiteGeometry::Point(p) => GeometryValue::new_point([p.lon, p.lat]),
            SiteGeometry::Line(points) => GeometryValue::new_line_string(points.iter().map(|p| [p.lon, p.lat])),
        };
        geojson::Geometry::new(value).to_string()
    }

    /// The point that stands for the place (first point of a line).
    pub fn anchor(&self) -> Wgs84Point {
        match self {
            SiteGeometry::Point(p) => *p,
            SiteGeometry::Line(points) => points[0],
        }
    }
}

/// A validated observation, ready to store.
#[derive(Debug, Clone)]
pub struct NewObservation {
    pub id: Uuid,
    pub kind: SiteKind,
    pub geometry: SiteGeometry,
    pub accuracy_m: Option<f64>,
    pub observed_at: DateTime<Utc>,
    pub hazard_types: Vec<String>,
    pub checklist: BTreeMap<String, ItemState>,
    pub notes: String,
    pub road_code: Option<String>,
    pub stake: Option<Stake>,
    pub source_crs: SourceCrs,
    pub inspector: String,
    pub look_back: Option<LookBack>,
    pub site_id: Option<Uuid>,
    pub location_source: Option<LocationSource>,
    pub location_confirmed: bool,
    /// The `source` of a site this observation opens: an inspector's patrol, or a public report a dispatcher
    /// accepted (`citizen_photo`, `hotline`). A site it joins keeps its own.
    pub source: SiteSource,
}

impl NewObservation {
    /// The items this visit found missing or damaged: what a relapse reports.
    pub fn failed_items(&self) -> Vec<String> {
        self.checklist
            .iter()
            .filter(|(_, state)| matches!(state, ItemState::Missing | ItemState::Damaged))
            .map(|(code, _)| code.clone())
            .collect()
    }
}

/// What is wrong with an observation, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ObservationError {
    pub field: &'static str,
    pub message: String,
}

impl ObservationError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        ObservationError { field, message: message.into() }
    }
}

impl NewObservation {
    /// Checks every field; `now` bounds `observed_at`; `item_codes` are the checklist items of the kind's
    /// template, in order; `inspector` is the signed-in account's display name.
    pub fn validate(
        input: ObservationInput,
        now: DateTime<Utc>,
        item_codes: &[String],
        inspector: &str,
    ) -> Result<NewObservation, ObservationError> {
        if input.site_id.is_some() && input.look_back.is_some() {
            return Err(ObservationError::new(
                "site_id",
                "a look-back names its site in look_back.site_id; site_id is for a repeat visit of an open site",
            ));
        }
        let geometry = validate_geometry(input.kind, &input.geometry, input.source_crs, input.look_back.is_some())?;

        if let Some(acc) = input.accuracy_m
            && (!acc.is_finite() || !(0.0..=ACCURACY_M_MAX).contains(&acc))
        {
            return Err(ObservationError::new(
                "accuracy_m",
                format!("{acc} is not a distance between 0 and {ACCURACY_M_MAX} metres"),
            ));
        }
        if input.observed_at > now + CLOCK_SKEW_MAX {
            return Err(ObservationError::new(
                "observed_at",
                format!("{} is in the future (server time {})", input.observed_at.to_rfc3339(), now.to_rfc3339()),
            ));
        }
        if input.observed_at.timestamp() < 946_684_800 {
            return Err(ObservationError::new("observed_at", "must not be before 2000-01-01"));
        }

        if input.hazard_types.len() > HAZARD_TYPES_MAX {
            return Err(ObservationError::new("hazard_types", format!("at most {HAZARD_TYPES_MAX} codes")));
        }
        let mut hazard_types = input.hazard_types;
        hazard_types.sort();
        hazard_types.dedup();

        if input.checklist.len() > CHECKLIST_ITEMS_MAX {
            return Err(ObservationError::new("checklist", format!("at most {CHECKLIST_ITEMS_MAX} items")));
        }
        for (code, state) in &input.checklist {
            if !item_codes.contains(code) {
                return Err(ObservationError::new(
                    "checklist",
                    format!(
                        "item {code:?} is not on the {} checklist of a {}; its items are: {}",
                        input.kind.template_code(),
                        input.kind,
                        item_codes.join(", ")
                    ),
                ));
            }
            if *state == ItemState::Verified {
                return Err(ObservationError::new(
                    "checklist",
                    format!("item {code:?}: \"verified\" is set by a reviewer at acceptance, not by an observation"),
                ));
            }
        }

        let notes = input.notes.trim().to_string();
        if notes.chars().count() > NOTES_CHARS_MAX {
            return Err(ObservationError::new("notes", format!("at most {NOTES_CHARS_MAX} characters")));
        }
        let inspector = inspector.chars().take(INSPECTOR_CHARS_MAX).collect::<String>();

        let road_code = match input.road_code.map(|c| c.trim().to_uppercase()) {
            Some(c) if c.is_empty() => None,
            Some(c) if crate::domain::places::is_route_code(&c) => Some(c),
            Some(c) => {
                return Err(ObservationError::new(
                    "road_code",
                    format!(
                        "{:?} is not a route code: X, Y, C or Z and three digits (X202), or G or S and 1 to 4 digits (G15, S228)",
                        c.chars().take(32).collect::<String>()
                    ),
                ));
            }
            None => None,
        };
        let stake = match input.stake.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Stake::parse(text).map_err(|e| ObservationError::new("stake", e.to_string()))?),
        };

        let obs = NewObservation {
            id: input.id,
            kind: input.kind,
            geometry,
            accuracy_m: input.accuracy_m,
            observed_at: input.observed_at,
            hazard_types,
            checklist: input.checklist,
            notes,
            road_code,
            stake,
            source_crs: input.source_crs,
            inspector,
            look_back: input.look_back,
            site_id: input.site_id,
            location_source: input.location_source,
            location_confirmed: input.location_confirmed,
            source: SiteSource::Patrol,
        };
        obs.check_look_back()?;
        Ok(obs)
    }

    /// A look-back's findings must agree with its result: a relapse names what failed and says what was
    /// seen; a pass finds nothing missing or damaged. (Whether the site may be looked back at is the
    /// lifecycle's decision, made against the stored site.)
    fn check_look_back(&self) -> Result<(), ObservationError> {
        let Some(look_back) = self.look_back else { return Ok(()) };
        let failed = self.failed_items();
        match look_back.result {
            LookBackResult::Relapse if failed.is_empty() => Err(ObservationError::new(
                "checklist",
                "a relapse marks the items found missing or damaged on the site's checklist",
            )),
            LookBackResult::Relapse if self.notes.is_empty() => {
                Err(ObservationError::new("notes", "a relapse says what was found"))
            }
            LookBackResult::Pass if !failed.is_empty() => Err(ObservationError::new(
                "look_back",
                format!("items found missing or damaged ({}) make this a relapse, not a pass", failed.join(", ")),
            )),
            LookBackResult::Pass if !self.hazard_types.is_empty() => Err(ObservationError::new(
                "hazard_types",
                "a look-back that passes reports no hazards; found some? record a relapse",
            )),
            _ => Ok(()),
        }
    }
}

/// A report's geometry follows its kind (a section is a line); a look-back's is where the inspector stood,
/// a point, whatever the site's kind.
fn validate_geometry(
    kind: SiteKind,
    geometry: &geojson::Geometry,
    crs: SourceCrs,
    look_back: bool,
) -> Result<SiteGeometry, ObservationError> {
    let position = |p: &geojson::Position| -> Result<Wgs84Point, ObservationError> {
        let c = p.as_slice();
        if c.len() < 2 || c.len() > 3 {
            return Err(ObservationError::new("geometry", "a position has 2 numbers: [longitude, latitude]"));
        }
        // Range-check what was sent, then convert, then check again (conversion cannot leave the range, but
        // a trusted type is only built through `new`).
        Wgs84Point::new(c[0], c[1])?;
        let (lon, lat) = coords::to_wgs84(crs, c[0], c[1]);
        Wgs84Point::new(lon, lat)
    };
    let line = kind.is_line() && !look_back;
    match (&geometry.value, line) {
        (GeometryValue::Point { coordinates }, false) => Ok(SiteGeometry::Point(position(coordinates)?)),
        (GeometryValue::LineString { coordinates }, true) => {
            if coordinates.len() > LINE_POINTS_MAX {
                return Err(ObservationError::new(
                    "geometry",
                    format!("a LineString may have at most {LINE_POINTS_MAX} positions"),
                ));
            }
            let mut points = coordinates.iter().map(position).collect::<Result<Vec<_>, _>>()?;
            points.dedup();
            if points.len() < 2 {
                return Err(ObservationError::new(
                    "geometry",
                    "a section's LineString needs at least 2 distinct positions (start and end of the section)",
                ));
            }
            Ok(SiteGeometry::Line(points))
        }
        (other, _) if look_back => Err(ObservationError::new(
            "geometry",
            format!("a look-back is recorded as a Point where the inspector stands, not a {}", other.type_name()),
        )),
        (other, _) => Err(ObservationError::new(
            "geometry",
            format!(
                "a {} is recorded as a {}, not a {}",
                kind,
                if line { "LineString" } else { "Point" },
                other.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<String> {
        ["warning_sign", "road_marking", "speed_bump", "warning_post", "signal_light"].map(String::from).to_vec()
    }

    fn input(json: serde_json::Value) -> ObservationInput {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "id": "0b9c0c38-7c5a-4a5e-8d7e-2f1d2e3c4b5a",
            "kind": "intersection",
            "geometry": {"type": "Point", "coordinates": [120.55, 31.87]},
            "observed_at": "2026-11-30T08:00:00+08:00",
        })
    }

    fn now() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_minimal_point_observation_is_valid() {
        let obs = NewObservation::validate(input(base()), now(), &items(), "张伟").unwrap();
        assert_eq!(obs.geometry, SiteGeometry::Point(Wgs84Point { lon: 120.55, lat: 31.87 }));
        assert_eq!(obs.inspector, "张伟");
        assert_eq!(obs.observed_at, "2026-11-30T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn rejections_name_the_field() {
        let cases: Vec<(serde_json::Value, &str, &str)> = vec![
            (
                serde_json::json!({"geometry": {"type": "Point", "coordinates": [200.0, 31.0]}}),
                "geometry",
                "out of range",
            ),
            (
                serde_json::json!({"geometry": {"type": "LineString", "coordinates": [[120.5, 31.8], [120.6, 31.8]]}}),
                "geometry",
                "not a LineString",
            ),
            (
                serde_json::json!({"kind": "section", "geometry": {"type": "LineString", "coordinates": [[120.5, 31.8]]}}),
                "geometry",
                "at least 2 distinct",
            ),
            (
                serde_json::json!({"kind": "section", "geometry": {"type": "LineString", "coordinates": [[120.5, 31.8], [120.5, 31.8]]}}),
                "geometry",
                "at least 2 distinct",
            ),
            (serde_json::json!({"accuracy_m": -1.0}), "accuracy_m", "between 0"),
            (serde_json::json!({"observed_at": "2027-01-01T00:00:00Z"}), "observed_at", "in the future"),
            (serde_json::json!({"checklist": {"lamp": "missing"}}), "checklist", "not on the five_must_haves"),
            (serde_json::json!({"checklist": {"speed_bump": "verified"}}), "checklist", "set by a reviewer"),
            (serde_json::json!({"road_code": "X20"}), "road_code", "not a route code"),
            (serde_json::json!({"stake": "K12-300"}), "stake", "K12+300"),
            (serde_json::json!({"notes": "长".repeat(NOTES_CHARS_MAX + 1)}), "notes", "at most"),
        ];
        for (patch, field, fragment) in cases {
            let mut json = base();
            for (k, v) in patch.as_object().unwrap() {
                json[k] = v.clone();
            }
            let items = if json["kind"] == "section" { vec!["line".into()] } else { items() };
            let err = NewObservation::validate(input(json.clone()), now(), &items, "张伟").unwrap_err();
            assert_eq!(err.field, field, "{json}");
            assert!(err.message.contains(fragment), "{json}: {}", err.message);
        }
    }

    #[test]
    fn gcj02_input_is_converted_to_wgs84() {
        let (glon, glat) = coords::wgs84_to_gcj02(120.55, 31.87);
        let mut json = base();
        json["geometry"]["coordinates"] = serde_json::json!([glon, glat]);
        json["source_crs"] = "gcj02".into();
        let obs = NewObservation::validate(input(json), now(), &items(), "张伟").unwrap();
        let p = obs.geometry.anchor();
        assert!(coords::distance_m(p.lon, p.lat, 120.55, 31.87) < 0.5);
    }

    #[test]
    fn hazard_types_are_sorted_and_deduplicated() {
        let mut json = base();
        json["hazard_types"] = serde_json::json!(["no_signal", "missing_warning_sign", "no_signal"]);
        let obs = NewObservation::validate(input(json), now(), &items(), "张伟").unwrap();
        assert_eq!(obs.hazard_types, vec!["missing_warning_sign", "no_signal"]);
    }

    #[test]
    fn a_look_back_is_a_point_whose_findings_agree_with_its_result() {
        let site = "5f0c8a52-1111-4a5e-8d7e-2f1d2e3c4b5a";
        let look_back = |kind: &str, geometry: serde_json::Value, result: &str, extra: serde_json::Value| {
            let mut json = base();
            json["kind"] = kind.into();
            json["geometry"] = geometry;
            json["look_back"] = serde_json::json!({"site_id": site, "result": result});
            for (k, v) in extra.as_object().unwrap() {
                json[k] = v.clone();
            }
            let items = if kind == "section" { vec!["line".into(), "sign".into()] } else { items() };
            NewObservation::validate(input(json), now(), &items, "张伟")
        };
        let here = serde_json::json!({"type": "Point", "coordinates": [120.55, 31.87]});

        // A section's look-back is where the inspector stood; a line is refused.
        let on_section = look_back("section", here.clone(), "pass", serde_json::json!({})).unwrap();
        assert_eq!(on_section.geometry, SiteGeometry::Point(Wgs84Point { lon: 120.55, lat: 31.87 }));
        let line = serde_json::json!({"type": "LineString", "coordinates": [[120.5, 31.8], [120.6, 31.8]]});
        assert_eq!(look_back("section", line, "pass", serde_json::json!({})).unwrap_err().field, "geometry");

        let relapse = look_back(
            "intersection",
            here.clone(),
            "relapse",
            serde_json::json!({"checklist": {"speed_bump": "damaged", "warning_sign": "installed"}, "notes": "减速带破损"}),
        )
        .unwrap();
        assert_eq!(relapse.failed_items(), ["speed_bump"]);

        let cases = [
            ("relapse", serde_json::json!({"notes": "坏了"}), "checklist"),
            ("relapse", serde_json::json!({"checklist": {"speed_bump": "missing"}}), "notes"),
            ("pass", serde_json::json!({"checklist": {"speed_bump": "missing"}}), "look_back"),
            ("pass", serde_json::json!({"hazard_types": ["no_signal"]}), "hazard_types"),
        ];
        for (result, extra, field) in cases {
            let err = look_back("intersection", here.clone(), result, extra.clone()).unwrap_err();
            assert_eq!(err.field, field, "{result} {extra}: {}", err.message);
        }
    }

    #[test]
    fn a_named_site_is_joined_only_if_same_kind_open_and_near() {
        let k = SiteKind::Intersection;
        assert_eq!(check_named_site(k, "intersection", "reported", 12.0, 100.0), Ok(()));
        assert_eq!(check_named_site(k, "intersection", "in_progress", 100.0, 100.0), Ok(()));
        let far = check_named_site(k, "intersection", "reported", 100.4, 100.0).unwrap_err();
        assert_eq!(far.code(), "site_too_far");
        assert!(far.to_string().contains("100 m from the observed place"), "{far}");
        assert_eq!(
            check_named_site(k, "intersection", "reported", f64::NAN, 100.0).unwrap_err().code(),
            "site_too_far"
        );
        assert_eq!(check_named_site(k, "spot", "reported", 1.0, 100.0).unwrap_err().code(), "site_other_kind");
        for closed in ["closed", "cancelled", "rejected", "duplicate"] {
            assert_eq!(check_named_site(k, "intersection", closed, 1.0, 100.0).unwrap_err().code(), "site_not_open");
        }
    }

    #[test]
    fn a_stale_or_coarse_fix_needs_confirmation() {
        assert!(!fix_needs_confirmation(Some(8.0), 2.0));
        assert!(!fix_needs_confirmation(Some(50.0), 30.0));
        assert!(fix_needs_confirmation(Some(8.0), 31.0));
        assert!(fix_needs_confirmation(Some(50.5), 0.0));
        assert!(fix_needs_confirmation(None, 0.0));
        assert!(fix_needs_confirmation(Some(f64::NAN), 0.0));
    }

    #[test]
    fn site_id_and_location_fields_are_read_and_left_out_of_the_wire_when_unset() {
        let mut json = base();
        json["site_id"] = "5f0c8a52-1111-4a5e-8d7e-2f1d2e3c4b5a".into();
        json["location_source"] = "map".into();
        json["location_confirmed"] = true.into();
        let obs = NewObservation::validate(input(json), now(), &items(), "张伟").unwrap();
        assert_eq!(obs.site_id.map(|s| s.to_string()).as_deref(), Some("5f0c8a52-1111-4a5e-8d7e-2f1d2e3c4b5a"));
        assert_eq!(obs.location_source, Some(LocationSource::Map));
        assert!(obs.location_confirmed);
        // An old phone's observation serialises as before (its replay hash does not change).
        let plain = serde_json::to_value(input(base())).unwrap();
        for field in ["site_id", "location_source", "location_confirmed", "look_back"] {
            assert!(plain.get(field).is_none(), "{field} in {plain}");
        }
        // A look-back names its site there, not in site_id.
        let mut both = base();
        both["site_id"] = "5f0c8a52-1111-4a5e-8d7e-2f1d2e3c4b5a".into();
        both["look_back"] = serde_json::json!({"site_id": "5f0c8a52-1111-4a5e-8d7e-2f1d2e3c4b5a", "result": "pass"});
        assert_eq!(NewObservation::validate(input(both), now(), &items(), "张伟").unwrap_err().field, "site_id");
    }
}
