//! Property and fuzz tests of the code that reads what clients send: stakes, the observation JSON,
//! coordinates, EXIF and photo evidence (issue 14, part 3).
//!
//! Each target is a plain unit test driven by `arbtest` (structured random input from `arbitrary`) for a time
//! budget: `ROADLEDGER_FUZZ_MS` per target, 300 ms by default so the suite stays short. A long run by hand:
//! `ROADLEDGER_FUZZ_MS=600000 cargo test --lib fuzz -- --nocapture` (each target prints its executions).
//! Each asserts that nothing panics and a property that must hold for every input.

use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::{Result, Unstructured};
use chrono::{DateTime, Utc};

use crate::domain::coords::{self, SourceCrs};
use crate::domain::observation::{
    HAZARD_TYPES_MAX, NOTES_CHARS_MAX, NewObservation, ObservationInput, SiteGeometry, Wgs84Point,
};
use crate::domain::photo_evidence::{self, FileExif, PhotoEvidenceInput};
use crate::domain::stake::{Carriageway, STAKE_METRES_MAX, Stake};
use crate::photos::process::{self, PhotoLimits};

/// Default time budget per target: short enough for every `cargo test`.
const FUZZ_MS_DEFAULT: u64 = 300;

/// The time budget per target, from `ROADLEDGER_FUZZ_MS` (milliseconds).
pub(crate) fn budget_ms() -> u64 {
    std::env::var("ROADLEDGER_FUZZ_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(FUZZ_MS_DEFAULT)
}

/// Runs `property` on random input for the budget and prints how many inputs it ran, for the note.
pub(crate) fn fuzz(name: &str, size_max: u32, mut property: impl FnMut(&mut Unstructured<'_>) -> Result<()>) {
    let executions = AtomicU64::new(0);
    arbtest::arbtest(|u| {
        executions.fetch_add(1, Ordering::Relaxed);
        property(u)
    })
    .budget_ms(budget_ms())
    .size_max(size_max)
    .run();
    eprintln!("fuzz {name}: {} executions in {} ms", executions.load(Ordering::Relaxed), budget_ms());
}

// ---------------------------------------------------------------------------------------------------------
// 1. Stakes

/// Text shaped like a stake, so the random input gets past the first check more often than raw strings do.
fn stake_like(u: &mut Unstructured<'_>) -> Result<String> {
    let pieces = ["K", "k", "ZK", "yk", "+", ".", " ", "0", "9", "12", "300", "0000", "99999", "-", "１", "Ｋ"];
    let mut text = String::new();
    for _ in 0..u.int_in_range(0..=8)? {
        if u.ratio(1, 6)? {
            text.push(u.arbitrary::<char>()?);
        } else {
            text.push_str(u.choose(&pieces)?);
        }
    }
    Ok(text)
}

#[test]
fn fuzz_stake_parse_never_panics_and_what_it_accepts_round_trips() {
    fuzz("stake_parse", 256, |u| {
        let text = if u.arbitrary()? { u.arbitrary::<String>()? } else { stake_like(u)? };
        if let Ok(stake) = Stake::parse(&text) {
            assert!((0.0..=STAKE_METRES_MAX).contains(&stake.metres), "{text:?} gave {stake:?}");
            let again = Stake::parse(&stake.to_string());
            assert_eq!(again.as_ref(), Ok(&stake), "{text:?} → {stake} did not parse back");
        }
        Ok(())
    });
}

#[test]
fn fuzz_every_stake_value_formats_then_parses_back() {
    fuzz("stake_round_trip", 64, |u| {
        let carriageway = *u.choose(&[Carriageway::Single, Carriageway::Left, Carriageway::Right])?;
        // Every value a stake can have, to the millimetre: exact round trip.
        let mm: u64 = u.int_in_range(0..=9_999_999_999)?;
        let stake = Stake::new(carriageway, mm as f64 / 1_000.0).unwrap();
        assert_eq!(Stake::parse(&stake.to_string()), Ok(stake.clone()), "{stake:?}");
        // Any f64 in range (e.g. a measure read back from the database): within half a millimetre.
        let metres = u.arbitrary::<f64>()?;
        if let Ok(stake) = Stake::new(carriageway, metres) {
            let text = stake.to_string();
            let back = Stake::parse(&text).unwrap_or_else(|e| panic!("{stake:?} → {text:?}: {e}"));
            assert!((back.metres - metres).abs() <= 0.000_5 + 1e-9, "{stake:?} → {text:?} → {back:?}");
            assert_eq!(back.carriageway, carriageway);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------------------
// 2. The observation JSON, as http::observations reads it: `serde_json::from_slice` then `validate`

fn now() -> DateTime<Utc> {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

fn item_codes() -> Vec<String> {
    ["warning_sign", "road_marking", "speed_bump", "warning_post", "signal_light"].map(String::from).to_vec()
}

/// What `http::observations` does with the `observation` part, minus the database.
fn read_observation(bytes: &[u8]) -> Option<std::result::Result<NewObservation, String>> {
    let input: ObservationInput = serde_json::from_slice(bytes).ok()?;
    Some(NewObservation::validate(input, now(), &item_codes(), "张伟").map_err(|e| e.field.to_string()))
}

/// Any JSON value, small, with the odd number that serde_json cannot write (it writes null instead).
fn json_value(u: &mut Unstructured<'_>, depth: u32) -> Result<serde_json::Value> {
    use serde_json::Value;
    let leaf_only = depth == 0;
    Ok(match u.int_in_range(0..=if leaf_only { 4 } else { 6 })? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => serde_json::json!(u.arbitrary::<f64>()?),
        3 => serde_json::json!(u.arbitrary::<i64>()?),
        4 => Value::String(u.arbitrary()?),
        5 => Value::Array((0..u.int_in_range(0..=3)?).map(|_| json_value(u, depth - 1)).collect::<Result<_>>()?),
        _ => Value::Object(
            (0..u.int_in_range(0..=3)?)
                .map(|_| Ok((u.arbitrary::<String>()?, json_value(u, depth - 1)?)))
                .collect::<Result<_>>()?,
        ),
    })
}

/// A valid observation with random fields replaced: near-valid input reaches every check of `validate`.
fn observation_like(u: &mut Unstructured<'_>) -> Result<serde_json::Value> {
    let kind = *u.choose(&["intersection", "section", "spot", "bridge"])?;
    let lon = if u.ratio(1, 4)? { u.arbitrary::<f64>()? } else { u.int_in_range(7_200..=13_800)? as f64 / 100.0 };
    let lat = if u.ratio(1, 4)? { u.arbitrary::<f64>()? } else { u.int_in_range(0..=5_600)? as f64 / 100.0 };
    let geometry = if u.arbitrary()? {
        serde_json::json!({"type": "Point", "coordinates": [lon, lat]})
    } else {
        let n = u.int_in_range(0..=4)?;
        let points: Vec<[f64; 2]> = (0..n).map(|i| [lon + f64::from(i) * 0.001, lat]).collect();
        serde_json::json!({"type": "LineString", "coordinates": points})
    };
    let mut obs = serde_json::json!({
        "id": "0b9c0c38-7c5a-4a5e-8d7e-2f1d2e3c4b5a",
        "kind": kind,
        "geometry": geometry,
        "observed_at": "2026-11-30T08:00:00+08:00",
        "source_crs": *u.choose(&["wgs84", "gcj02", "bd09"])?,
    });
    let object = obs.as_object_mut().unwrap();
    let fields = [
        "accuracy_m",
        "hazard_types",
        "checklist",
        "notes",
        "road_code",
        "stake",
        "look_back",
        "site_id",
        "photo_evidence",
        "location_source",
        "location_confirmed",
        "observed_at",
        "geometry",
        "unknown",
    ];
    for _ in 0..u.int_in_range(0..=4)? {
        let field = *u.choose(&fields)?;
        let value = match field {
            "stake" => serde_json::json!(stake_like(u)?),
            "checklist" => {
                let states = ["missing", "damaged", "installed", "verified"];
                let mut items = serde_json::Map::new();
                for _ in 0..u.int_in_range(0..=3)? {
                    let code = if u.ratio(1, 4)? { u.arbitrary()? } else { u.choose(&item_codes())?.clone() };
                    items.insert(code, serde_json::json!(*u.choose(&states)?));
                }
                serde_json::Value::Object(items)
            }
            "look_back" => serde_json::json!({
                "site_id": "1b9c0c38-7c5a-4a5e-8d7e-2f1d2e3c4b5a",
                "result": *u.choose(&["pass", "relapse"])?,
            }),
            _ => json_value(u, 2)?,
        };
        object.insert(field.to_string(), value);
    }
    Ok(obs)
}

#[test]
fn fuzz_observation_json_never_panics() {
    fuzz("observation_json", 4096, |u| {
        let bytes =
            if u.ratio(1, 3)? { u.arbitrary::<Vec<u8>>()? } else { serde_json::to_vec(&observation_like(u)?).unwrap() };
        if let Some(Ok(obs)) = read_observation(&bytes) {
            // What validate lets through is within every limit, in WGS-84 range.
            assert!(obs.notes.chars().count() <= NOTES_CHARS_MAX);
            assert!(obs.hazard_types.len() <= HAZARD_TYPES_MAX);
            let points = match &obs.geometry {
                SiteGeometry::Point(p) => vec![*p],
                SiteGeometry::Line(points) => points.clone(),
            };
            for p in points {
                assert_eq!(Wgs84Point::new(p.lon, p.lat), Ok(p));
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_observation_limits_hold() {
    fuzz("observation_limits", 512, |u| {
        let mut obs = serde_json::json!({
            "id": "0b9c0c38-7c5a-4a5e-8d7e-2f1d2e3c4b5a",
            "kind": "spot",
            "geometry": {"type": "Point", "coordinates": [120.55, 31.87]},
            "observed_at": "2026-11-30T08:00:00+08:00",
        });
        // A note of any non-blank characters one to a few over the limit, or too many hazard types.
        let over = u.int_in_range(1..=3)?;
        let field = if u.arbitrary()? {
            let c = u.arbitrary::<char>()?;
            let c = if c.is_whitespace() { '注' } else { c };
            obs["notes"] = serde_json::json!(c.to_string().repeat(NOTES_CHARS_MAX + over));
            "notes"
        } else {
            let codes: Vec<String> = (0..HAZARD_TYPES_MAX + over).map(|i| format!("h{i}")).collect();
            obs["hazard_types"] = serde_json::json!(codes);
            "hazard_types"
        };
        let outcome = read_observation(&serde_json::to_vec(&obs).unwrap()).expect("well-formed JSON");
        assert_eq!(outcome.err().as_deref(), Some(field));
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------------------
// 3. Coordinates

/// Any f64, with the special values and the China box's edges more often than chance gives them.
fn coordinate(u: &mut Unstructured<'_>) -> Result<f64> {
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 72.004, 137.8347, 0.8293, 55.8271, 1e308];
    if u.ratio(1, 3)? { Ok(*u.choose(&special)?) } else { u.arbitrary() }
}

#[test]
fn fuzz_coordinate_conversions_never_panic() {
    fuzz("coords_any", 64, |u| {
        let (lon, lat) = (coordinate(u)?, coordinate(u)?);
        for crs in SourceCrs::ALL {
            let (x, y) = coords::to_wgs84(crs, lon, lat);
            // A finite position stays finite (within range it may shift, never blow up).
            if lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0 {
                assert!(x.is_finite() && y.is_finite(), "{crs} [{lon}, {lat}] → [{x}, {y}]");
            }
        }
        let _ = coords::wgs84_to_gcj02(lon, lat);
        let _ = coords::gcj02_to_bd09(lon, lat);
        let _ = coords::distance_m(lon, lat, coordinate(u)?, coordinate(u)?);
        let _ = Wgs84Point::new(lon, lat);
        Ok(())
    });
}

#[test]
fn fuzz_gcj02_to_wgs84_inverts_wgs84_to_gcj02_in_china() {
    fuzz("coords_gcj02_inverse", 64, |u| {
        // Any point of the formula's box, in micro-degrees, edges included.
        let lon = f64::from(u.int_in_range(72_004_000..=137_834_700)?) / 1e6;
        let lat = f64::from(u.int_in_range(829_300..=55_827_100)?) / 1e6;
        let (gcj_lon, gcj_lat) = coords::wgs84_to_gcj02(lon, lat);
        let (back_lon, back_lat) = coords::gcj02_to_wgs84(gcj_lon, gcj_lat);
        assert!(
            (back_lon - lon).abs() < 1e-6 && (back_lat - lat).abs() < 1e-6,
            "[{lon}, {lat}] → GCJ-02 [{gcj_lon}, {gcj_lat}] → [{back_lon}, {back_lat}]"
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------------------
// 4. EXIF and photos

/// A JPEG start, an APP1 segment with an EXIF (TIFF) header and random bytes after it, and sometimes an end.
fn jpeg_with_app1(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let tail: Vec<u8> = u.arbitrary()?;
    let mut tiff = if u.arbitrary()? { b"II*\0\x08\0\0\0".to_vec() } else { b"MM\0*\0\0\0\x08".to_vec() };
    tiff.extend_from_slice(&tail);
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE1];
    // The segment length: usually right, sometimes whatever the input says.
    let length = if u.ratio(3, 4)? { (tiff.len() + 8).min(0xFFFF) as u16 } else { u.arbitrary()? };
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(b"Exif\0\0");
    bytes.extend_from_slice(&tiff);
    if u.arbitrary()? {
        bytes.extend_from_slice(&[0xFF, 0xD9]);
    }
    Ok(bytes)
}

#[test]
fn fuzz_exif_and_photo_processing_never_panic() {
    // Small limits keep each decode short; the limits are the property: nothing bigger is ever accepted.
    let limits = PhotoLimits { bytes_max: 2048, pixels_max: 4096 };
    fuzz("exif_photo", 2048, |u| {
        let bytes = if u.ratio(1, 4)? { u.arbitrary::<Vec<u8>>()? } else { jpeg_with_app1(u)? };
        let exif = process::read_exif(&bytes);
        if let Some((lon, lat)) = exif.location {
            assert!(Wgs84Point::new(lon, lat).is_ok(), "EXIF location [{lon}, {lat}] out of range");
        }
        if let Some(orientation) = exif.orientation {
            assert!((1..=8).contains(&orientation));
        }
        let _ = process::sniff(&bytes);
        if let Ok(photo) = process::process(&bytes, limits) {
            assert!(photo.bytes <= limits.bytes_max);
            assert!(u64::from(photo.width) * u64::from(photo.height) <= limits.pixels_max);
        }
        Ok(())
    });
}

/// Photo evidence fields as a phone might send them: the known names with random values.
fn evidence_like(u: &mut Unstructured<'_>) -> Result<serde_json::Value> {
    let mut fields = serde_json::Map::new();
    let names = [
        "taken_at",
        "utc_offset",
        "lon",
        "lat",
        "direction_deg",
        "device",
        "original_bytes",
        "original_width",
        "original_height",
    ];
    for _ in 0..u.int_in_range(0..=6)? {
        let name = *u.choose(&names)?;
        let value = match name {
            "taken_at" if u.arbitrary()? => serde_json::json!(format!(
                "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}",
                u.int_in_range(0..=99)?,
                u.int_in_range(0..=13)?,
                u.int_in_range(0..=32)?,
                u.int_in_range(0..=25)?,
                u.int_in_range(0..=60)?,
                u.int_in_range(0..=60)?
            )),
            "utc_offset" if u.arbitrary()? => serde_json::json!(format!(
                "{}{:02}:{:02}",
                u.choose(&["+", "-", "", "−"])?,
                u.int_in_range(0..=99)?,
                u.int_in_range(0..=99)?
            )),
            "lon" | "lat" | "direction_deg" => serde_json::json!(coordinate(u)?),
            _ => json_value(u, 1)?,
        };
        fields.insert(name.to_string(), value);
    }
    Ok(serde_json::Value::Object(fields))
}

#[test]
fn fuzz_photo_evidence_never_panics() {
    let place = SiteGeometry::Point(Wgs84Point { lon: 120.55, lat: 31.87 });
    fuzz("photo_evidence", 1024, |u| {
        let entries: Vec<PhotoEvidenceInput> = (0..u.int_in_range(0..=3)?)
            .filter_map(|_| evidence_like(u).map(|v| serde_json::from_value(v).ok()).transpose())
            .collect::<Result<_>>()?;
        let photos = if u.ratio(7, 8)? { entries.len() } else { u.int_in_range(0..=4)? };
        let Ok(evidence) = photo_evidence::validate(&entries, photos, now()) else { return Ok(()) };
        assert_eq!(evidence.len(), photos);
        for e in &evidence {
            if let Some((lon, lat)) = e.location {
                assert!(Wgs84Point::new(lon, lat).is_ok(), "evidence location [{lon}, {lat}]");
            }
            let taken_local =
                u.arbitrary::<Option<i64>>()?.and_then(|s| DateTime::from_timestamp(s, 0)).map(|t| t.naive_utc());
            let file = FileExif { taken_local, location: None };
            let _ = photo_evidence::check(Some(e), file, &place, now());
            let _ = photo_evidence::check_original(Some(e), u.arbitrary()?);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------------------
// 7. 12345 hotline tickets

/// Text from pieces a ticket's fields hold (and any character now and then).
fn ticket_text(u: &mut Unstructured<'_>, repeat_max: u32) -> Result<Option<String>> {
    if u.ratio(1, 6)? {
        return Ok(None);
    }
    let pieces = ["GD", "2026", "-", "_", "0001", " ", "路灯", "护栏", "+86", "138", "1234", "5678", "/", "\u{feff}"];
    let mut text = String::new();
    for _ in 0..u.int_in_range(0..=repeat_max)? {
        if u.ratio(1, 5)? {
            text.push(u.arbitrary::<char>()?);
        } else {
            text.push_str(u.choose(&pieces)?);
        }
    }
    Ok(Some(text))
}

#[test]
fn fuzz_hotline_tickets_never_panic_and_what_passes_fits_the_schema() {
    use crate::domain::hotline::{TicketInput, category_of_words, check};
    use crate::domain::public_report::{ADDRESS_CHARS_MAX, CONTACT_NAME_CHARS_MAX, DESCRIPTION_CHARS_MAX, category};
    fuzz("hotline_ticket", 4096, |u| {
        let [no, description, address, phone, name, words] =
            [20, 700, 120, 12, 40, 6].map(|n| ticket_text(u, n)).map(|t| t.ok().flatten());
        let point = if u.ratio(1, 2)? { Some((coordinate(u)?, coordinate(u)?)) } else { None };
        let input = TicketInput {
            ticket_no: no.as_deref(),
            called_at: DateTime::from_timestamp(u.int_in_range(0..=2_000_000_000)?, 0),
            description: description.as_deref(),
            address: address.as_deref(),
            point,
            crs: *u.choose(&SourceCrs::ALL)?,
            category: Some(category_of_words(words.as_deref().unwrap_or(""))),
            caller_phone: phone.as_deref(),
            caller_name: name.as_deref(),
        };
        let Ok(t) = check(&input, now()) else { return Ok(()) };
        // What the constraints of migration 0018 ask, so a checked ticket never fails its insert.
        assert!(!t.ticket_no.is_empty() && t.ticket_no.len() <= 40, "{:?}", t.ticket_no);
        assert!(t.ticket_no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!t.description.is_empty() && t.description.chars().count() <= DESCRIPTION_CHARS_MAX);
        assert!(t.address.as_ref().is_none_or(|a| (1..=ADDRESS_CHARS_MAX).contains(&a.chars().count())));
        assert!(t.address.is_some() || t.point.is_some());
        if let Some((lon, lat)) = t.point {
            assert!(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0, "[{lon}, {lat}]");
        }
        assert!(category(t.category).is_some());
        assert!(t.caller_phone.as_ref().is_none_or(|p| {
            let digits = p.trim_start_matches('+');
            (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }));
        assert!(t.caller_name.as_ref().is_none_or(|n| (1..=CONTACT_NAME_CHARS_MAX).contains(&n.chars().count())));
        assert!(t.called_at <= now() + chrono::Duration::minutes(1));
        Ok(())
    });
}
