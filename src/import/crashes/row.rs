//! One row of a crash file checked into what is stored: the time in UTC (county time, UTC+8, unless the text
//! gives an offset), the casualty counts, the coded values, the place as given (coordinates in WGS-84, or a
//! route and stake still to be located), and the row's stable key.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::columns::{Columns, CrashField, clip};
use super::read::SheetRow;
use crate::domain::coords::{self, SourceCrs};
use crate::domain::crash::{CrashType, Light, RoadSurface, VehicleType, Weather};
use crate::domain::places::{self, StakeUnit};

/// County time: China Standard Time, UTC+8, no daylight saving.
const COUNTY_OFFSET_S: i32 = 8 * 3600;
pub const RECORD_NO_CHARS_MAX: usize = 64;
pub const SUMMARY_CHARS_MAX: usize = 1000;
const CASUALTIES_MAX: i16 = 999;

/// A row refused: why, in a stable code the page translates and in English, with the field it concerns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefusedRow {
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_no: Option<String>,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    pub reason: String,
}

/// Where a row says the crash was.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenPlace {
    /// WGS-84 longitude and latitude, converted from the file's coordinate system.
    pub point: Option<[f64; 2]>,
    /// The route code and the county its code names, if any.
    pub route: Option<(String, Option<String>)>,
    pub stake_m: Option<f64>,
    pub stake_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrashRow {
    pub row: u64,
    pub source_key: String,
    pub record_no: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub place: GivenPlace,
    pub deaths: i16,
    pub serious_injuries: i16,
    pub slight_injuries: i16,
    pub crash_type: Option<CrashType>,
    pub vehicle_types: Vec<VehicleType>,
    pub weather: Option<Weather>,
    pub light: Option<Light>,
    pub road_surface: Option<RoadSurface>,
    pub summary: String,
}

/// How rows are read: the file's columns, coordinate system, and whether it is a workbook (where a number in
/// the time column is an Excel serial date).
pub struct RowRules<'a> {
    pub columns: &'a Columns,
    pub crs: SourceCrs,
    pub workbook: bool,
    pub cell_chars_max: usize,
    /// Now, for refusing times in the future.
    pub now: DateTime<Utc>,
}

impl RowRules<'_> {
    pub fn check(&self, row: &SheetRow) -> Result<CrashRow, RefusedRow> {
        let record_no = self.text(row, CrashField::RecordNo).map(clip);
        let refuse = |code: &'static str, field: Option<CrashField>, reason: String| RefusedRow {
            row: row.number,
            record_no: record_no.clone(),
            code,
            field: field.map(CrashField::as_str),
            reason,
        };
        if let Some(long) = row.cells.iter().flatten().find(|c| c.chars().count() > self.cell_chars_max) {
            return Err(refuse(
                "cell_too_long",
                None,
                format!("a cell is longer than {} characters ({:?})", self.cell_chars_max, clip(long)),
            ));
        }
        let record_no = match self.text(row, CrashField::RecordNo) {
            Some(no) if no.chars().count() > RECORD_NO_CHARS_MAX => {
                return Err(refuse(
                    "record_no_too_long",
                    Some(CrashField::RecordNo),
                    format!("the record number is longer than {RECORD_NO_CHARS_MAX} characters"),
                ));
            }
            no => no.map(str::to_owned),
        };
        let occurred_at = match self.text(row, CrashField::Time) {
            None => return Err(refuse("no_time", Some(CrashField::Time), "no time".into())),
            Some(text) => {
                parse_time(text, self.workbook, self.now).map_err(|e| refuse("bad_time", Some(CrashField::Time), e))?
            }
        };
        let count = |field: CrashField| -> Result<Option<i16>, RefusedRow> {
            match self.text(row, field) {
                None => Ok(None),
                Some(text) => parse_count(text).map(Some).map_err(|e| refuse("bad_number", Some(field), e)),
            }
        };
        let deaths = count(CrashField::Deaths)?.unwrap_or(0);
        let serious = count(CrashField::SeriousInjuries)?;
        let slight = count(CrashField::SlightInjuries)?;
        let injuries = count(CrashField::Injuries)?;
        // 受伤人数 alone (no split into serious and slight) counts as slight injuries: the conservative reading,
        // which keeps the crash an injury crash without claiming serious harm.
        let (serious, slight) = match (serious, slight, injuries) {
            (None, None, Some(all))
                if !self.columns.has(CrashField::SeriousInjuries) && !self.columns.has(CrashField::SlightInjuries) =>
            {
                (0, all)
            }
            (s, l, _) => (s.unwrap_or(0), l.unwrap_or(0)),
        };

        macro_rules! coded {
            ($field:expr, $parse:expr, $what:literal, $all:expr) => {
                match self.text(row, $field) {
                    None => None,
                    Some(text) => Some($parse(text).ok_or_else(|| {
                        let labels: Vec<&str> = $all.iter().map(|c| c.label()).collect();
                        refuse(
                            "unknown_value",
                            Some($field),
                            format!("{:?} is no {}; use one of {}", clip(text), $what, labels.join(", ")),
                        )
                    })?),
                }
            };
        }
        let crash_type = coded!(CrashField::CrashType, CrashType::from_label, "crash type", CrashType::ALL);
        let weather = coded!(CrashField::Weather, Weather::from_label, "weather", Weather::ALL);
        let light = coded!(CrashField::Light, Light::from_label, "light", Light::ALL);
        let road_surface = coded!(CrashField::RoadSurface, RoadSurface::from_label, "road surface", RoadSurface::ALL);
        let vehicle_types = match self.text(row, CrashField::VehicleTypes) {
            None => Vec::new(),
            Some(text) => VehicleType::list_from_labels(text).map_err(|word| {
                refuse("unknown_value", Some(CrashField::VehicleTypes), format!("{word:?} is no vehicle type"))
            })?,
        };

        let place = self.place(row).map_err(|(code, field, reason)| refuse(code, Some(field), reason))?;
        if place.point.is_none() && (place.route.is_none() || place.stake_m.is_none()) {
            return Err(refuse(
                "no_place",
                None,
                "no coordinates and no road + stake: the crash cannot be placed".into(),
            ));
        }
        let summary: String =
            self.text(row, CrashField::Location).unwrap_or("").chars().take(SUMMARY_CHARS_MAX).collect();
        let mut crash = CrashRow {
            row: row.number,
            source_key: String::new(),
            record_no,
            occurred_at,
            place,
            deaths,
            serious_injuries: serious,
            slight_injuries: slight,
            crash_type,
            vehicle_types,
            weather,
            light,
            road_surface,
            summary,
        };
        crash.source_key = source_key(&crash);
        Ok(crash)
    }

    fn text<'r>(&self, row: &'r SheetRow, field: CrashField) -> Option<&'r str> {
        self.columns.get(field).and_then(|i| row.cells.get(i)).and_then(|c| c.as_deref())
    }

    fn place(&self, row: &SheetRow) -> Result<GivenPlace, (&'static str, CrashField, String)> {
        // A GeoJSON feature's point wins over lon/lat properties.
        let given = match &row.point {
            Some(Ok(point)) => Some(*point),
            Some(Err(e)) => return Err(("bad_coordinates", CrashField::Lon, e.clone())),
            None => match (self.text(row, CrashField::Lon), self.text(row, CrashField::Lat)) {
                (None, None) => None,
                (Some(lon), Some(lat)) => {
                    let number = |field: CrashField, text: &str| {
                        text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                            ("bad_coordinates", field, format!("{:?} is not a number of degrees", clip(text)))
                        })
                    };
                    Some([number(CrashField::Lon, lon)?, number(CrashField::Lat, lat)?])
                }
                (Some(_), None) => {
                    return Err(("bad_coordinates", CrashField::Lat, "a longitude without a latitude".into()));
                }
                (None, Some(_)) => {
                    return Err(("bad_coordinates", CrashField::Lon, "a latitude without a longitude".into()));
                }
            },
        };
        let point = match given {
            None => None,
            Some([lon, lat]) => {
                if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                    return Err((
                        "bad_coordinates",
                        CrashField::Lon,
                        format!("{lon}, {lat} are not degrees of longitude and latitude"),
                    ));
                }
                let (lon, lat) = coords::to_wgs84(self.crs, lon, lat);
                if !coords::in_china(lon, lat) {
                    return Err((
                        "outside_china",
                        CrashField::Lon,
                        format!("{lon:.5}, {lat:.5} is outside China (longitude and latitude swapped?)"),
                    ));
                }
                Some([lon, lat])
            }
        };
        let route = match self.text(row, CrashField::RouteCode) {
            None => None,
            Some(text) => places::route_code(text).map_err(|e| ("bad_route_code", CrashField::RouteCode, e))?,
        };
        let stake_text = self.text(row, CrashField::Stake).map(str::to_owned);
        let stake_m = match &stake_text {
            None => None,
            Some(text) => places::stake_value(&serde_json::Value::String(text.clone()), StakeUnit::M)
                .map_err(|e| ("bad_stake", CrashField::Stake, e))?,
        };
        if let Some(m) = stake_m
            && !(0.0..=10_000_000.0).contains(&m)
        {
            return Err(("bad_stake", CrashField::Stake, format!("{m} m is no stake")));
        }
        Ok(GivenPlace { point, route, stake_m, stake_text })
    }
}

/// `2025-03-04 18:20`, `2025/3/4 18:20:00`, `2025年3月4日 18时20分`, ISO 8601 with or without an offset, and in a
/// workbook an Excel serial date; county time unless an offset is given. Between 2000 and a day from now.
pub fn parse_time(text: &str, workbook: bool, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let county = FixedOffset::east_opt(COUNTY_OFFSET_S).expect("UTC+8 is a valid offset");
    let trimmed = text.trim();
    let bad = || {
        format!(
            "{:?} is not a time; write e.g. 2025-03-04 18:20 (county time) or 2025-03-04T18:20:00+08:00",
            clip(trimmed)
        )
    };
    let at = if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        t.with_timezone(&Utc)
    } else if let Some(serial) = trimmed.parse::<f64>().ok().filter(|_| workbook) {
        // Excel's 1900 date system counts days from 1899-12-30 (its phantom 1900-02-29 included).
        if !(1.0..2_958_466.0).contains(&serial) {
            return Err(bad());
        }
        let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("a date").and_hms_opt(0, 0, 0).expect("a time");
        let naive = epoch + chrono::Duration::milliseconds((serial * 86_400_000.0).round() as i64);
        county.from_local_datetime(&naive).single().ok_or_else(bad)?.with_timezone(&Utc)
    } else {
        let normal: String = trimmed
            .replace(['年', '月', '/', '.'], "-")
            .replace('日', " ")
            .replace(['时', '分', '點', '点'], ":")
            .replace('秒', "")
            .replace('T', " ");
        let normal = normal.split_whitespace().collect::<Vec<_>>().join(" ");
        let normal = normal.trim_end_matches(':');
        let with_offset = ["%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%d %H:%M%:z", "%Y-%m-%d %H:%M:%S%.f%:z"]
            .iter()
            .find_map(|f| DateTime::parse_from_str(normal, f).ok());
        match with_offset {
            Some(t) => t.with_timezone(&Utc),
            None => {
                let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(normal, f).ok())
                    .ok_or_else(bad)?;
                county.from_local_datetime(&naive).single().ok_or_else(bad)?.with_timezone(&Utc)
            }
        }
    };
    let earliest = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("a valid instant");
    if at < earliest || at > now + chrono::Duration::days(1) {
        return Err(format!("{:?} is before 2000 or in the future", clip(trimmed)));
    }
    Ok(at)
}

/// A count of people: a whole number 0–999 (`2`, `2.0` as spreadsheets write it, `2人`).
pub fn parse_count(text: &str) -> Result<i16, String> {
    let digits = text.trim().trim_end_matches('人').trim();
    let value = digits.parse::<f64>().ok().filter(|v| v.fract() == 0.0 && (0.0..=CASUALTIES_MAX as f64).contains(v));
    value.map(|v| v as i16).ok_or_else(|| format!("{:?} is not a count of people (0–{CASUALTIES_MAX})", clip(text)))
}

/// `no:` and the police record number when the file has one; else `sha256:` over every stored value, so the
/// same row read twice (even from another format) has the same key.
fn source_key(crash: &CrashRow) -> String {
    if let Some(no) = &crash.record_no {
        return format!("no:{no}");
    }
    let place = &crash.place;
    let canonical = serde_json::json!([
        crash.occurred_at.timestamp(),
        place.point.map(|[lon, lat]| [(lon * 1e7).round() as i64, (lat * 1e7).round() as i64]),
        place.route.as_ref().map(|(code, county)| format!("{code}{}", county.as_deref().unwrap_or(""))),
        place.stake_m.map(|m| (m * 1000.0).round() as i64),
        [crash.deaths, crash.serious_injuries, crash.slight_injuries],
        crash.crash_type.map(CrashType::as_str),
        crash.vehicle_types.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        crash.weather.map(Weather::as_str),
        crash.light.map(Light::as_str),
        crash.road_surface.map(RoadSurface::as_str),
        crash.summary,
    ]);
    format!("sha256:{}", hex::encode(Sha256::digest(canonical.to_string().as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn export_times_are_county_time_unless_they_say_otherwise() {
        let utc = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        for text in [
            "2025-03-04 18:20",
            "2025/3/4 18:20:00",
            "2025-03-04T18:20:00+08:00",
            "2025年3月4日 18时20分",
            "2025.03.04 18:20",
        ] {
            assert_eq!(parse_time(text, false, now()), Ok(utc(2025, 3, 4, 10, 20)), "{text}");
        }
        assert_eq!(parse_time("2025-03-04T18:20:00Z", false, now()), Ok(utc(2025, 3, 4, 18, 20)));
        assert_eq!(parse_time("2025-03-04 18:20:00+00:00", false, now()), Ok(utc(2025, 3, 4, 18, 20)));
        // 45720 is 2025-03-04 in Excel's serial dates; .76388… is 18:20.
        assert_eq!(parse_time("45720.763888888889", true, now()), Ok(utc(2025, 3, 4, 10, 20)));
        assert!(parse_time("45720.76", false, now()).is_err(), "serials only in workbooks");
        for bad in ["2025-03-04", "yesterday", "2025-13-01 10:00", "1999-12-31 10:00", "2027-01-01 00:00"] {
            assert!(parse_time(bad, false, now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_are_whole_numbers_of_people() {
        assert_eq!(parse_count("2"), Ok(2));
        assert_eq!(parse_count("2.0"), Ok(2));
        assert_eq!(parse_count("3人"), Ok(3));
        for bad in ["-1", "1.5", "两", "1000"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }
}
