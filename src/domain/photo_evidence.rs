//! What a photo's original said about itself (its EXIF: when, where, which way, which camera), sent by the
//! phone as fields because the photo it uploads is resized and has lost its EXIF, and the rules that check
//! it against the observation it documents.
//!
//! A photo taken far from the recorded place, or days before or after the recorded time, is **flagged, not
//! refused**: the inspector may have a good reason (a photo taken from a bridge, an upload late at night),
//! and a reviewer decides. When the uploaded file still carries EXIF of its own (an original, or a client
//! that does not resize), it must agree with the fields, or that is flagged too. Where the county requires
//! originals, a file of another size than the original the phone read is flagged as not the original.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::coords::distance_m;
use super::observation::{ObservationError, SiteGeometry};

/// A photo taken farther than this from the recorded place is flagged (metres).
pub const FAR_FROM_RECORD_M: f64 = 5_000.0;
/// A photo taken more than this before or after the recorded time is flagged.
pub const TIME_FROM_RECORD_MAX: Duration = Duration::days(3);
/// The file's own EXIF and the fields disagree when their times differ by more than this…
pub const FILE_TIME_TOLERANCE: Duration = Duration::seconds(2);
/// …or their positions by more than this (metres; EXIF rationals round to centimetres, phones to metres).
pub const FILE_LOCATION_TOLERANCE_M: f64 = 50.0;
/// EXIF without `OffsetTimeOriginal` (most phones before 2019) is read as China Standard Time.
pub const DEFAULT_UTC_OFFSET_S: i32 = 8 * 3600;
pub const DEVICE_CHARS_MAX: usize = 64;
/// Larger than any phone camera's file or sensor, so anything above is a mistake.
pub const ORIGINAL_BYTES_MAX: u64 = 200 * 1024 * 1024;
pub const ORIGINAL_SIDE_PX_MAX: u32 = 100_000;

/// One photo's original, as the phone read it before resizing: one entry per photo, in the photos' order
/// (`photo_evidence` of the observation). Every field is optional: a camera may not write it, and Android
/// browsers often strip GPS from picked photos (DOMAIN.md §5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoEvidenceInput {
    /// EXIF `DateTimeOriginal`: the camera's local time, without a zone (`2026-11-30T09:14:52`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// EXIF `OffsetTimeOriginal` (`+08:00`), when the camera wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    /// EXIF GPS position, WGS-84 degrees (south and west negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// EXIF `GPSImgDirection`: degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction_deg: Option<f64>,
    /// EXIF `Make` and `Model`, joined by a space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The original file's size and pixels, before the phone resized it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_height: Option<u32>,
}

/// A photo's evidence, checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhotoEvidence {
    /// The camera's local time as written, and the instant it stands for (with the offset, or China's).
    pub taken_local: Option<NaiveDateTime>,
    pub utc_offset_s: Option<i32>,
    /// (longitude, latitude).
    pub location: Option<(f64, f64)>,
    pub direction_deg: Option<f64>,
    pub device: Option<String>,
    pub original_bytes: Option<u64>,
    pub original_width: Option<u32>,
    pub original_height: Option<u32>,
}

impl PhotoEvidence {
    /// When the photo was taken, as an instant.
    pub fn taken_at(&self) -> Option<DateTime<Utc>> {
        instant(self.taken_local?, self.utc_offset_s.unwrap_or(DEFAULT_UTC_OFFSET_S))
    }
}

fn instant(local: NaiveDateTime, offset_s: i32) -> Option<DateTime<Utc>> {
    let offset = FixedOffset::east_opt(offset_s)?;
    offset.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
}

/// Checks the evidence of an observation's photos: one entry per photo, each field in range. `now` bounds
/// the time taken (a phone's clock may run a day ahead of ours across zones, no more).
pub fn validate(
    entries: &[PhotoEvidenceInput],
    photos: usize,
    now: DateTime<Utc>,
) -> Result<Vec<PhotoEvidence>, ObservationError> {
    if entries.len() != photos {
        return Err(ObservationError::new(
            "photo_evidence",
            format!(
                "has {} entries for {photos} photos: send one entry per photo, in the photos' order",
                entries.len()
            ),
        ));
    }
    entries.iter().enumerate().map(|(i, e)| validate_one(i, e, now)).collect()
}

fn validate_one(i: usize, e: &PhotoEvidenceInput, now: DateTime<Utc>) -> Result<PhotoEvidence, ObservationError> {
    let bad = |field: &str, message: String| {
        ObservationError::new("photo_evidence", format!("photo_evidence[{i}].{field}: {message}"))
    };
    let taken_local = match e.taken_at.as_deref() {
        None => None,
        Some(text) => {
            let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                bad(
                    "taken_at",
                    format!(
                        "{:?} is not a local time written YYYY-MM-DDTHH:MM:SS (EXIF DateTimeOriginal, no zone)",
                        text.chars().take(40).collect::<String>()
                    ),
                )
            })?;
            if t.and_utc().timestamp() < 946_684_800 {
                return Err(bad("taken_at", "must not be before 2000-01-01".into()));
            }
            if t.and_utc() > now + Duration::days(1) {
                return Err(bad("taken_at", format!("{text} is in the future")));
            }
            Some(t)
        }
    };
    let utc_offset_s = match e.utc_offset.as_deref() {
        None => None,
        Some(text) => Some(parse_offset(text).ok_or_else(|| {
            bad(
                "utc_offset",
                format!(
                    "{:?} is not an offset from UTC written ±HH:MM within ±14:00 (EXIF OffsetTimeOriginal)",
                    text.chars().take(16).collect::<String>()
                ),
            )
        })?),
    };
    let location = match (e.lon, e.lat) {
        (None, None) => None,
        (Some(lon), Some(lat)) => {
            if !lon.is_finite()
                || !lat.is_finite()
                || !(-180.0..=180.0).contains(&lon)
                || !(-90.0..=90.0).contains(&lat)
            {
                return Err(bad("lon", format!("[{lon}, {lat}] is not a longitude and latitude in range")));
            }
            Some((lon, lat))
        }
        _ => return Err(bad("lon", "send both lon and lat, or neither".into())),
    };
    if let Some(d) = e.direction_deg
        && (!d.is_finite() || !(0.0..=360.0).contains(&d))
    {
        return Err(bad("direction_deg", format!("{d} is not a direction between 0 and 360 degrees")));
    }
    let device = match e.device.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > DEVICE_CHARS_MAX => {
            return Err(bad("device", format!("at most {DEVICE_CHARS_MAX} characters")));
        }
        Some(d) if d.chars().any(char::is_control) => return Err(bad("device", "has control characters".into())),
        Some(d) => Some(d.to_string()),
    };
    if let Some(b) = e.original_bytes
        && !(1..=ORIGINAL_BYTES_MAX).contains(&b)
    {
        return Err(bad("original_bytes", format!("{b} is not a file size between 1 and {ORIGINAL_BYTES_MAX} bytes")));
    }
    for (field, side) in [("original_width", e.original_width), ("original_height", e.original_height)] {
        if let Some(px) = side
            && !(1..=ORIGINAL_SIDE_PX_MAX).contains(&px)
        {
            return Err(bad(field, format!("{px} is not between 1 and {ORIGINAL_SIDE_PX_MAX} pixels")));
        }
    }
    Ok(PhotoEvidence {
        taken_local,
        utc_offset_s,
        location,
        direction_deg: e.direction_deg,
        device,
        original_bytes: e.original_bytes,
        original_width: e.original_width,
        original_height: e.original_height,
    })
}

/// `+08:00`, `-05:30`, `Z`: seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60 && h * 60 + m <= 14 * 60).then_some(sign * (h * 3600 + m * 60))
}

/// What the uploaded file's own EXIF says (read by the server from the bytes it received).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FileExif {
    pub taken_local: Option<NaiveDateTime>,
    pub location: Option<(f64, f64)>,
}

/// Why a photo is flagged, with the numbers a reviewer needs. Stored with the photo as JSON
/// (`{"code": "far_from_record", "distance_m": 6200}`) and shown on the site page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum EvidenceFlag {
    /// Taken farther than [`FAR_FROM_RECORD_M`] from the recorded place.
    FarFromRecord { distance_m: f64 },
    /// Taken more than [`TIME_FROM_RECORD_MAX`] before the recorded time.
    BeforeRecord { hours: f64 },
    /// Taken more than [`TIME_FROM_RECORD_MAX`] after the recorded time.
    AfterRecord { hours: f64 },
    /// The uploaded file's own EXIF says another time or place than the fields (`what`: `taken_at` or
    /// `location`).
    FileExifDiffers { what: String },
    /// The county requires originals (`--require-original-photos`) and the file received is not the one the
    /// evidence describes (another size: resized on the way).
    NotOriginal { original_bytes: u64, bytes: u64 },
}

/// Where the county requires originals: the file received must be the size the phone read from the original.
/// Without evidence there is nothing to compare (an API client that sends files as they are).
pub fn check_original(evidence: Option<&PhotoEvidence>, bytes: u64) -> Option<EvidenceFlag> {
    let original_bytes = evidence?.original_bytes?;
    (original_bytes != bytes).then_some(EvidenceFlag::NotOriginal { original_bytes, bytes })
}

/// Checks one photo against its observation. The evidence is the fields when sent, else the file's own EXIF;
/// what neither says is not checked (a photo without GPS is not flagged for it).
pub fn check(
    evidence: Option<&PhotoEvidence>,
    file: FileExif,
    place: &SiteGeometry,
    observed_at: DateTime<Utc>,
) -> Vec<EvidenceFlag> {
    let mut flags = Vec::new();
    let fields = evidence.cloned().unwrap_or_default();
    let taken_at = fields.taken_at().or_else(|| file.taken_local.and_then(|t| instant(t, DEFAULT_UTC_OFFSET_S)));
    let location = fields.location.or(file.location);

    if let Some((lon, lat)) = location {
        let distance = distance_to(place, lon, lat);
        if distance > FAR_FROM_RECORD_M {
            flags.push(EvidenceFlag::FarFromRecord { distance_m: distance.round() });
        }
    }
    if let Some(taken) = taken_at {
        let hours = |d: Duration| (d.num_seconds() as f64 / 360.0).round() / 10.0;
        if observed_at - taken > TIME_FROM_RECORD_MAX {
            flags.push(EvidenceFlag::BeforeRecord { hours: hours(observed_at - taken) });
        } else if taken - observed_at > TIME_FROM_RECORD_MAX {
            flags.push(EvidenceFlag::AfterRecord { hours: hours(taken - observed_at) });
        }
    }
    if evidence.is_some() {
        if let (Some(a), Some(b)) = (fields.taken_local, file.taken_local)
            && (a - b).abs() > FILE_TIME_TOLERANCE
        {
            flags.push(EvidenceFlag::FileExifDiffers { what: "taken_at".into() });
        }
        if let (Some(a), Some(b)) = (fields.location, file.location)
            && distance_m(a.0, a.1, b.0, b.1) > FILE_LOCATION_TOLERANCE_M
        {
            flags.push(EvidenceFlag::FileExifDiffers { what: "location".into() });
        }
    }
    flags
}

/// Metres from a position to the recorded place: the point, or the nearest vertex of a section.
fn distance_to(place: &SiteGeometry, lon: f64, lat: f64) -> f64 {
    match place {
        SiteGeometry::Point(p) => distance_m(p.lon, p.lat, lon, lat),
        SiteGeometry::Line(points) => {
            points.iter().map(|p| distance_m(p.lon, p.lat, lon, lat)).fold(f64::INFINITY, f64::min)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::observation::Wgs84Point;

    const HERE: (f64, f64) = (120.55, 31.87);

    fn place() -> SiteGeometry {
        SiteGeometry::Point(Wgs84Point { lon: HERE.0, lat: HERE.1 })
    }

    fn observed() -> DateTime<Utc> {
        "2026-11-30T01:15:00Z".parse().unwrap() // 09:15 in China
    }

    fn now() -> DateTime<Utc> {
        "2026-12-10T00:00:00Z".parse().unwrap()
    }

    fn evidence(json: serde_json::Value) -> PhotoEvidence {
        let input: PhotoEvidenceInput = serde_json::from_value(json).unwrap();
        validate(&[input], 1, now()).unwrap().remove(0)
    }

    /// `north_m` metres north of HERE.
    fn north(north_m: f64) -> f64 {
        HERE.1 + (north_m / 6_371_008.8_f64).to_degrees()
    }

    #[test]
    fn a_photo_taken_on_site_at_the_time_is_not_flagged() {
        let e = evidence(serde_json::json!({"taken_at": "2026-11-30T09:14:52", "lon": HERE.0, "lat": north(40.0)}));
        assert_eq!(e.taken_at(), Some("2026-11-30T01:14:52Z".parse().unwrap()), "no offset: China time");
        assert_eq!(check(Some(&e), FileExif::default(), &place(), observed()), vec![]);
    }

    #[test]
    fn far_and_late_photos_are_flagged_with_their_numbers() {
        let cases = [
            (serde_json::json!({"lon": HERE.0, "lat": north(4_900.0)}), vec![]),
            (
                serde_json::json!({"lon": HERE.0, "lat": north(6_200.0)}),
                vec![EvidenceFlag::FarFromRecord { distance_m: 6_200.0 }],
            ),
            // 3 days exactly is within; 3 days and a minute is not, either way.
            (serde_json::json!({"taken_at": "2026-11-27T09:15:00"}), vec![]),
            (serde_json::json!({"taken_at": "2026-11-27T09:14:00"}), vec![EvidenceFlag::BeforeRecord { hours: 72.0 }]),
            (serde_json::json!({"taken_at": "2026-11-26T09:15:00"}), vec![EvidenceFlag::BeforeRecord { hours: 96.0 }]),
            (
                serde_json::json!({"taken_at": "2026-12-03T21:15:00", "utc_offset": "+08:00"}),
                vec![EvidenceFlag::AfterRecord { hours: 84.0 }],
            ),
            // The offset moves the instant: 09:15 in New York is 22:15 in China, 13 hours later, fine.
            (serde_json::json!({"taken_at": "2026-11-29T20:15:00", "utc_offset": "-05:00"}), vec![]),
        ];
        for (json, flags) in cases {
            let e = evidence(json.clone());
            assert_eq!(check(Some(&e), FileExif::default(), &place(), observed()), flags, "{json}");
        }
    }

    #[test]
    fn a_section_is_measured_from_its_nearest_point() {
        let line = SiteGeometry::Line(vec![
            Wgs84Point { lon: HERE.0, lat: HERE.1 },
            Wgs84Point { lon: HERE.0, lat: north(8_000.0) },
        ]);
        let e = evidence(serde_json::json!({"lon": HERE.0, "lat": north(9_000.0)}));
        assert_eq!(check(Some(&e), FileExif::default(), &line, observed()), vec![]);
    }

    #[test]
    fn the_files_own_exif_is_evidence_and_must_agree_with_the_fields() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        // No fields: the file's EXIF is checked against the record.
        let far_file =
            FileExif { taken_local: Some(t("2026-11-30T09:14:00")), location: Some((HERE.0, north(7_000.0))) };
        assert_eq!(
            check(None, far_file, &place(), observed()),
            vec![EvidenceFlag::FarFromRecord { distance_m: 7_000.0 }]
        );
        // Fields and file agree: nothing.
        let e = evidence(serde_json::json!({"taken_at": "2026-11-30T09:14:00", "lon": HERE.0, "lat": HERE.1}));
        let same = FileExif { taken_local: Some(t("2026-11-30T09:14:01")), location: Some((HERE.0, north(10.0))) };
        assert_eq!(check(Some(&e), same, &place(), observed()), vec![]);
        // They disagree: flagged, naming what.
        let other = FileExif { taken_local: Some(t("2026-11-30T08:00:00")), location: Some((HERE.0, north(300.0))) };
        assert_eq!(
            check(Some(&e), other, &place(), observed()),
            vec![
                EvidenceFlag::FileExifDiffers { what: "taken_at".into() },
                EvidenceFlag::FileExifDiffers { what: "location".into() },
            ]
        );
    }

    #[test]
    fn malformed_evidence_is_refused_naming_the_field() {
        let cases = [
            (serde_json::json!({"taken_at": "2026:11:30 09:14:52"}), "taken_at"),
            (serde_json::json!({"taken_at": "2030-01-01T00:00:00"}), "in the future"),
            (serde_json::json!({"utc_offset": "+8"}), "utc_offset"),
            (serde_json::json!({"utc_offset": "+15:00"}), "utc_offset"),
            (serde_json::json!({"lon": 120.5}), "both lon and lat"),
            (serde_json::json!({"lon": 200.0, "lat": 31.0}), "not a longitude"),
            (serde_json::json!({"direction_deg": 400.0}), "direction_deg"),
            (serde_json::json!({"device": "x".repeat(65)}), "device"),
            (serde_json::json!({"original_bytes": 0}), "original_bytes"),
            (serde_json::json!({"original_width": 0}), "original_width"),
        ];
        for (json, fragment) in cases {
            let input: PhotoEvidenceInput = serde_json::from_value(json.clone()).unwrap();
            let err = validate(&[input], 1, now()).unwrap_err();
            assert_eq!(err.field, "photo_evidence");
            assert!(err.message.contains("photo_evidence[0]."), "{json}: {}", err.message);
            assert!(err.message.contains(fragment), "{json}: {}", err.message);
        }
        let err = validate(&[PhotoEvidenceInput::default()], 2, now()).unwrap_err();
        assert!(err.message.contains("1 entries for 2 photos"), "{}", err.message);
    }

    #[test]
    fn a_resized_photo_is_not_the_original() {
        let e = evidence(serde_json::json!({"original_bytes": 4_213_331}));
        assert_eq!(check_original(Some(&e), 4_213_331), None);
        assert_eq!(
            check_original(Some(&e), 402_118),
            Some(EvidenceFlag::NotOriginal { original_bytes: 4_213_331, bytes: 402_118 })
        );
        assert_eq!(check_original(None, 402_118), None);
        assert_eq!(check_original(Some(&evidence(serde_json::json!({}))), 402_118), None);
    }

    #[test]
    fn offsets_read_as_exif_writes_them() {
        assert_eq!(parse_offset("+08:00"), Some(28_800));
        assert_eq!(parse_offset("-05:30"), Some(-19_800));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("+14:01"), None);
        assert_eq!(parse_offset("08:00"), None);
    }
}
