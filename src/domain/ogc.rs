//! Rules of the OGC API – Features query that are not SQL: the `datetime` parameter (Part 1, §7.15.4) and the
//! queryables of the sites (Part 3), the properties a CQL2 filter may name, with their types.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

use super::cql2::Type;

/// The sites' queryables: name, type, description. `db::ogc` gives each its SQL expression (a test checks
/// that every one has one).
pub const SITE_QUERYABLES: &[(&str, Type, &str)] = &[
    ("code", Type::Text, "The site's ledger number, e.g. YH-000123"),
    ("status", Type::Text, "Where the site is in the close-out lifecycle"),
    ("kind", Type::Text, "intersection, section or spot"),
    ("hazard_level", Type::Text, "general, significant or major (null until assessed)"),
    ("town", Type::Text, "The town's name (null outside every town)"),
    ("town_code", Type::Text, "The town's admin code"),
    ("road", Type::Text, "The road's name (the feature's road_name)"),
    ("road_name", Type::Text, "The road's name (as road)"),
    ("route_code", Type::Text, "The road's route code, e.g. X203 (the feature's road_code)"),
    ("road_code", Type::Text, "The road's route code (as route_code)"),
    ("source", Type::Text, "How the site was first reported"),
    ("overdue", Type::Boolean, "Open and past its deadline (by the date in China Standard Time)"),
    ("supervision_level", Type::Text, "Who lists the site for supervision (挂牌督办), or none"),
    ("deadline", Type::Date, "The rectification deadline"),
    ("first_observed_at", Type::Timestamp, "When the site was first observed: its temporal property"),
    ("return_count", Type::Number, "How many times the site was returned for rework"),
    ("relapse_count", Type::Number, "How many look-backs found the hazard again"),
    ("geometry", Type::Geometry, "The site's point or section line, in CRS84"),
];

/// The name and type of each site queryable, as `cql2::parse` takes them.
pub fn site_queryable_types() -> Vec<(&'static str, Type)> {
    SITE_QUERYABLES.iter().map(|(name, ty, _)| (*name, *ty)).collect()
}

/// A time interval, `from` included and `until` excluded; `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// China Standard Time, in which the ledger's dates are days (as `overdue` reads them).
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

const USAGE: &str = "datetime is an instant (2026-11-01T00:00:00Z or 2026-11-01) or an interval start/end, \
                     with .. or nothing for an open end (RFC 3339 date-times with an offset, or dates)";

/// One end: a date-time, or a date as the whole day in China Standard Time. Returns the first instant and the
/// first instant after it (a date-time's next microsecond, PostgreSQL's resolution).
fn instant(text: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    if let Some(t) = super::cql2::parse_timestamp(text) {
        // Truncated to microseconds as PostgreSQL stores them, so `< until` is `<= t`.
        let t = t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000));
        return Ok((t, t + Duration::microseconds(1)));
    }
    if let Some(day) = super::cql2::parse_date(text) {
        let start = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0).and_then(|t| cst().from_local_datetime(&t).single()).map(|t| t.with_timezone(&Utc))
        };
        if let (Some(a), Some(b)) = (start(day), day.succ_opt().and_then(start)) {
            return Ok((a, b));
        }
    }
    Err(format!("{text:?} is neither an RFC 3339 date-time with an offset nor a date; {USAGE}"))
}

/// Reads the `datetime` parameter: an instant, or `start/end` with `..` or an empty end for open ends.
pub fn parse_datetime(text: &str) -> Result<Interval, String> {
    if text.len() > 100 {
        return Err(format!("datetime is at most 100 characters; {USAGE}"));
    }
    let Some((start, end)) = text.split_once('/') else {
        if text.is_empty() || text == ".." {
            return Err(format!("datetime is empty; {USAGE}"));
        }
        let (from, until) = instant(text)?;
        return Ok(Interval { from: Some(from), until: Some(until) });
    };
    if end.contains('/') {
        return Err(format!("datetime has more than one /; {USAGE}"));
    }
    let open = |s: &str| s.is_empty() || s == "..";
    let from = if open(start) { None } else { Some(instant(start)?.0) };
    let until = if open(end) { None } else { Some(instant(end)?.1) };
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        return Err(format!("datetime {text:?}: the start is after the end"));
    }
    Ok(Interval { from, until })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn instants_and_intervals() {
        assert_eq!(
            parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            Interval { from: utc("2026-11-01T00:00:00Z"), until: utc("2026-11-01T00:00:00.000001Z") }
        );
        // A date is its whole day in China Standard Time.
        assert_eq!(
            parse_datetime("2026-11-01").unwrap(),
            Interval { from: utc("2026-10-31T16:00:00Z"), until: utc("2026-11-01T16:00:00Z") }
        );
        assert_eq!(
            parse_datetime("2026-11-01T08:00:00+08:00/2026-11-02").unwrap(),
            Interval { from: utc("2026-11-01T00:00:00Z"), until: utc("2026-11-02T16:00:00Z") }
        );
        assert_eq!(
            parse_datetime("../2026-11-01T00:00:00Z").unwrap(),
            Interval { from: None, until: utc("2026-11-01T00:00:00.000001Z") }
        );
        assert_eq!(parse_datetime("2026-11-01T00:00:00Z/").unwrap().until, None);
        assert_eq!(parse_datetime("/2026-11-01").unwrap().from, None);
        assert_eq!(parse_datetime("../..").unwrap(), Interval { from: None, until: None });
    }

    #[test]
    fn malformed_datetimes_are_refused_with_the_rule() {
        for bad in [
            "",
            "..",
            "yesterday",
            "2026-11-01T00:00:00",
            "2026-13-01",
            "2026-11-02/2026-11-01",
            "a/b/c",
            "2026-11-01/x",
        ] {
            let e = parse_datetime(bad).expect_err(bad);
            assert!(e.contains("datetime"), "{bad}: {e}");
        }
        assert!(parse_datetime(&"9".repeat(101)).is_err());
        assert!(parse_datetime("-4800-01-01").is_err());
    }

    #[test]
    fn queryables_are_unique() {
        let mut names: Vec<&str> = SITE_QUERYABLES.iter().map(|q| q.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SITE_QUERYABLES.len());
    }
}
