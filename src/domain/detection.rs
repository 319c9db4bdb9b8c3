//! A detection from a smart-patrol vehicle or a drone (issue 12 part 4): the wire shape a detection system
//! sends and its validation into `NewDetection`. A detection never enters the ledger: it becomes a candidate
//! that a dispatcher confirms or dismisses.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::coords::{self, SourceCrs};
use super::crash::DetectionPlatform;

/// The detector's own class name (e.g. `faded_marking`), as the `detection_label_length` constraint says.
pub const LABEL_CHARS_MAX: usize = 64;
/// A detection older than this is history, not a finding to act on: refused.
pub const AGE_DAYS_MAX: i64 = 366;
/// Clocks of vehicles and drones drift; a detection up to this far in the future is taken as now-ish.
pub const CLOCK_SKEW_MINUTES_MAX: i64 = 5;
/// Where a detection may be: China's bounding box (the one county imports check too).
const CHINA_LON_DEG: (f64, f64) = (73.0, 136.0);
const CHINA_LAT_DEG: (f64, f64) = (3.0, 54.0);

/// A detection as a detection system sends it (the `detection` part of `POST /api/v1/detections`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionInput {
    /// Made by the sender (a UUID), so a retry is recognised: same id and content answers the stored record.
    pub id: Uuid,
    pub platform: DetectionPlatform,
    /// When the detector saw it (RFC 3339 with an offset).
    pub detected_at: DateTime<Utc>,
    /// Longitude and latitude in `crs`.
    pub lon: f64,
    pub lat: f64,
    #[serde(default)]
    pub crs: SourceCrs,
    /// The detector's class name, kept as sent.
    pub label: String,
    /// A hazard type code (GET /api/v1/hazard-types) when the class maps to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard_type: Option<String>,
    /// The detector's confidence, 0 to 1.
    pub confidence: f64,
}

/// A detection that passed every check: its place in WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDetection {
    pub id: Uuid,
    pub platform: DetectionPlatform,
    pub detected_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub crs: SourceCrs,
    pub label: String,
    pub hazard_type: Option<String>,
    pub confidence: f64,
}

/// What is wrong with a detection, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DetectionError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> DetectionError {
    DetectionError { field, message: message.into() }
}

impl NewDetection {
    /// Checks every field against its limit and converts the place to WGS-84. `now` is the server's clock.
    pub fn validate(input: DetectionInput, now: DateTime<Utc>) -> Result<NewDetection, DetectionError> {
        let label = input.label.trim().to_string();
        if label.is_empty() || label.chars().count() > LABEL_CHARS_MAX {
            return Err(refuse("label", format!("1 to {LABEL_CHARS_MAX} characters, the detector's class name")));
        }
        if !input.confidence.is_finite() || !(0.0..=1.0).contains(&input.confidence) {
            return Err(refuse("confidence", "a number from 0 to 1"));
        }
        if input.detected_at > now + Duration::minutes(CLOCK_SKEW_MINUTES_MAX) {
            return Err(refuse("detected_at", "is in the future; check the sending system's clock"));
        }
        if input.detected_at < now - Duration::days(AGE_DAYS_MAX) {
            return Err(refuse("detected_at", format!("is more than {AGE_DAYS_MAX} days old")));
        }
        let in_china = |lon: f64, lat: f64| {
            lon.is_finite()
                && lat.is_finite()
                && (CHINA_LON_DEG.0..=CHINA_LON_DEG.1).contains(&lon)
                && (CHINA_LAT_DEG.0..=CHINA_LAT_DEG.1).contains(&lat)
        };
        if !in_china(input.lon, input.lat) {
            return Err(refuse(
                "lon",
                format!("[{}, {}] is not in China: send longitude and latitude in degrees", input.lon, input.lat),
            ));
        }
        let (lon, lat) = coords::to_wgs84(input.crs, input.lon, input.lat);
        let hazard_type = input.hazard_type.map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        if hazard_type.as_ref().is_some_and(|h| h.chars().count() > 48) {
            return Err(refuse("hazard_type", "a hazard type code of at most 48 characters"));
        }
        Ok(NewDetection {
            id: input.id,
            platform: input.platform,
            detected_at: input.detected_at,
            lon,
            lat,
            crs: input.crs,
            label,
            hazard_type,
            confidence: input.confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> DetectionInput {
        DetectionInput {
            id: Uuid::nil(),
            platform: DetectionPlatform::Drone,
            detected_at: "2026-12-01T10:00:00+08:00".parse().unwrap(),
            lon: 120.55,
            lat: 31.87,
            crs: SourceCrs::Wgs84,
            label: " faded_marking ".into(),
            hazard_type: Some("worn_markings".into()),
            confidence: 0.8,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-07T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_good_detection_is_kept_with_its_label_trimmed() {
        let d = NewDetection::validate(input(), now()).unwrap();
        assert_eq!(d.label, "faded_marking");
        assert_eq!((d.lon, d.lat), (120.55, 31.87));
    }

    #[test]
    fn gcj02_is_converted() {
        let mut i = input();
        i.crs = SourceCrs::Gcj02;
        let d = NewDetection::validate(i, now()).unwrap();
        let (lon, lat) = coords::gcj02_to_wgs84(120.55, 31.87);
        assert_eq!((d.lon, d.lat), (lon, lat));
        assert!(coords::distance_m(d.lon, d.lat, 120.55, 31.87) > 100.0, "the shift is hundreds of metres");
    }

    #[test]
    fn every_limit_names_its_field() {
        type Change = fn(&mut DetectionInput);
        let cases: [(Change, &str); 8] = [
            (|i| i.label = String::new(), "label"),
            (|i| i.label = "x".repeat(65), "label"),
            (|i| i.confidence = 1.01, "confidence"),
            (|i| i.confidence = f64::NAN, "confidence"),
            (|i| i.detected_at = "2026-12-07T00:10:00Z".parse().unwrap(), "detected_at"),
            (|i| i.detected_at = "2025-12-01T00:00:00Z".parse().unwrap(), "detected_at"),
            (|i| i.lon = 2.35, "lon"),
            (|i| i.hazard_type = Some("h".repeat(49)), "hazard_type"),
        ];
        for (change, field) in cases {
            let mut i = input();
            change(&mut i);
            assert_eq!(NewDetection::validate(i, now()).unwrap_err().field, field);
        }
    }
}
