//! The site filter the map shares across the site list, the legend counts, the vector tiles and the GIS
//! exports: which towns, statuses, kinds, hazard types, levels, flags, first-observed dates and sources.
//!
//! It lives in `domain/` rather than next to its SQL (`db::sites::filter_condition`) because it is pure
//! rules: parsing the query parameters into typed values, with their limits, and writing them back as one
//! canonical query string (sorted, deduplicated values, parameters in a fixed order), which the tile cache
//! keys on and the counts answer with. Every endpoint parses through [`MapFilter::parse`], so a parameter
//! means the same thing everywhere. Whether a hazard type code exists is a database question, asked by the
//! HTTP layer after parsing (`db::reference::unknown_hazard_types`).

use chrono::NaiveDate;

use super::labels;
use super::report::{Figure, Period, PeriodKind};
use super::site::{HazardLevel, SiteKind, SiteStatus};

/// The filter's query parameters, in the order of the canonical query string.
pub const PARAMS: [&str; 12] = [
    "town",
    "status",
    "kind",
    "hazard_type",
    "level",
    "overdue",
    "supervised",
    "relapsed",
    "from",
    "to",
    "source",
    "figure",
];
/// Most entries one comma-separated parameter may list (town codes or names, hazard types, …).
pub const LIST_ENTRIES_MAX: usize = 50;
/// Longest entry of a list (a town's admin code or name, a hazard type code).
pub const ENTRY_CHARS_MAX: usize = 64;

/// What a site must match; every part is optional, empty means "any". Lists are sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapFilter {
    /// Town admin codes or names (any of).
    pub towns: Vec<String>,
    pub statuses: Vec<SiteStatus>,
    pub kinds: Vec<SiteKind>,
    /// A site matches if its `hazard_types` has any of these codes.
    pub hazard_types: Vec<String>,
    pub levels: Vec<HazardLevel>,
    /// Open and past its deadline (county date), as the tiles' `overdue` property.
    pub overdue: Option<bool>,
    /// Listed for supervision (`supervision_level <> 'none'`).
    pub supervised: Option<bool>,
    /// Relapsed at least once (`relapse_count > 0`).
    pub relapsed: Option<bool>,
    /// First observed on or after this county date.
    pub from: Option<NaiveDate>,
    /// First observed on or before this county date.
    pub to: Option<NaiveDate>,
    /// Site sources (`site_source_known`).
    pub sources: Vec<String>,
    /// The sites one figure of a report counts (`figure=month:2026-11:overdue`): a report's click-through.
    pub figure: Option<FigureFilter>,
}

/// One figure of one period's report, as a filter: `<week|month|quarter>:<period code>:<figure>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FigureFilter {
    pub period: Period,
    pub figure: Figure,
}

impl FigureFilter {
    pub fn parse(value: &str) -> Result<FigureFilter, String> {
        let usage = "expected <week|month|quarter>:<period>:<figure>, e.g. month:2026-11:overdue";
        let mut parts = value.splitn(3, ':');
        let (Some(kind), Some(code), Some(figure)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(usage.to_string());
        };
        let kind = [PeriodKind::Week, PeriodKind::Month, PeriodKind::Quarter]
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| format!("unknown period kind {kind:?}; {usage}"))?;
        let period = Period::parse(kind, code).map_err(|e| e.0)?;
        let figure = figure.parse::<Figure>().map_err(|e| e.0)?;
        Ok(FigureFilter { period, figure })
    }

    /// The canonical form, as parsed.
    pub fn to_param(self) -> String {
        format!("{}:{}:{}", self.period.kind.as_str(), self.period.code(), self.figure.as_str())
    }
}

/// A parameter that is malformed, out of its limits or unknown; `param` names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct FilterError {
    pub param: String,
    pub message: String,
}

fn error(param: &str, message: impl Into<String>) -> FilterError {
    FilterError { param: param.chars().take(ENTRY_CHARS_MAX).collect(), message: message.into() }
}

/// The parameters of a request that are not the filter's but the endpoint's own (`bbox`, `limit`, `crs`, …).
#[derive(Debug, Default)]
pub struct Others<'a>(Vec<(&'static str, &'a str)>);

impl<'a> Others<'a> {
    /// The value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).filter(|v| !v.is_empty())
    }
}

impl MapFilter {
    /// Reads the filter from query parameters (already percent-decoded). `others` names the endpoint's own
    /// parameters, handed back as given; any other parameter, or one given twice, is an error that lists the
    /// accepted ones.
    pub fn parse<'a>(
        pairs: &'a [(String, String)],
        others: &[&'static str],
    ) -> Result<(MapFilter, Others<'a>), FilterError> {
        let mut filter = MapFilter::default();
        let mut rest = Others::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(error(name, "given twice; list several values comma-separated in one parameter"));
            }
            seen.push(name);
            if let Some(other) = others.iter().find(|o| **o == name) {
                rest.0.push((other, value));
                continue;
            }
            let value = value.trim();
            match name.as_str() {
                "town" => filter.towns = texts(name, value)?,
                "status" => filter.statuses = codes(name, value, SiteStatus::as_str)?,
                "kind" => filter.kinds = codes(name, value, SiteKind::as_str)?,
                "hazard_type" => filter.hazard_types = texts(name, value)?,
                "level" => filter.levels = codes(name, value, HazardLevel::as_str)?,
                "overdue" => filter.overdue = flag(name, value)?,
                "supervised" => filter.supervised = flag(name, value)?,
                "relapsed" => filter.relapsed = flag(name, value)?,
                "figure" if !value.is_empty() => {
                    if value.len() > ENTRY_CHARS_MAX {
                        return Err(error(name, format!("longer than {ENTRY_CHARS_MAX} characters")));
                    }
                    filter.figure = Some(FigureFilter::parse(value).map_err(|m| error(name, m))?);
                }
                "figure" => {}
                "from" => filter.from = date(name, value)?,
                "to" => filter.to = date(name, value)?,
                "source" => {
                    filter.sources = texts(name, value)?;
                    let known: Vec<&str> = labels::SOURCES.iter().map(|(code, _)| *code).collect();
                    if let Some(bad) = filter.sources.iter().find(|s| !known.contains(&s.as_str())) {
                        return Err(error(
                            name,
                            format!("unknown source {bad:?}; accepted values: {}", known.join(", ")),
                        ));
                    }
                }
                _ => {
                    let accepted: Vec<&str> = PARAMS.iter().chain(others).copied().collect();
                    return Err(error(
                        name,
                        format!("unknown parameter {name:?}; the parameters are {}", accepted.join(", ")),
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(error("from", format!("{from} is after to={to}; the range is inclusive, from ≤ to")));
        }
        Ok((filter, rest))
    }

    /// Whether the filter lets every site through (no part set).
    pub fn is_empty(&self) -> bool {
        *self == MapFilter::default()
    }

    /// The filter as a query string with its parameters in [`PARAMS`] order and each list sorted and
    /// deduplicated, so two spellings of one filter give one string; empty for no filter. Values are
    /// percent-encoded (RFC 3986 unreserved characters and the comma stay as they are).
    pub fn to_query(&self) -> String {
        let join = |values: Vec<&str>| values.join(",");
        let flag = |b: Option<bool>| b.map(|b| b.to_string()).unwrap_or_default();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let values = [
            join(self.towns.iter().map(String::as_str).collect()),
            join(self.statuses.iter().map(|s| s.as_str()).collect()),
            join(self.kinds.iter().map(|k| k.as_str()).collect()),
            join(self.hazard_types.iter().map(String::as_str).collect()),
            join(self.levels.iter().map(|l| l.as_str()).collect()),
            flag(self.overdue),
            flag(self.supervised),
            flag(self.relapsed),
            date(self.from),
            date(self.to),
            join(self.sources.iter().map(String::as_str).collect()),
            self.figure.map(FigureFilter::to_param).unwrap_or_default(),
        ];
        PARAMS
            .iter()
            .zip(values)
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name}={}", percent_encode(&value, b",")))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn status_codes(&self) -> Vec<&'static str> {
        self.statuses.iter().map(|s| s.as_str()).collect()
    }

    pub fn kind_codes(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.as_str()).collect()
    }

    pub fn level_codes(&self) -> Vec<&'static str> {
        self.levels.iter().map(|l| l.as_str()).collect()
    }
}

/// The non-empty entries of a comma-separated list, sorted and deduplicated, within the limits.
fn texts(param: &str, value: &str) -> Result<Vec<String>, FilterError> {
    let mut entries: Vec<String> =
        value.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect();
    entries.sort();
    entries.dedup();
    if entries.len() > LIST_ENTRIES_MAX {
        return Err(error(param, format!("at most {LIST_ENTRIES_MAX} values, {} given", entries.len())));
    }
    if let Some(long) = entries.iter().find(|e| e.chars().count() > ENTRY_CHARS_MAX) {
        let start: String = long.chars().take(16).collect();
        return Err(error(param, format!("{start:?}… is longer than {ENTRY_CHARS_MAX} characters")));
    }
    Ok(entries)
}

/// A list of codes of a coded enum, sorted by code and deduplicated.
fn codes<T, E>(param: &str, value: &str, code: fn(T) -> &'static str) -> Result<Vec<T>, FilterError>
where
    T: std::str::FromStr<Err = E> + Copy,
    E: std::fmt::Display,
{
    let mut parsed = texts(param, value)?
        .iter()
        .map(|e| e.parse::<T>().map_err(|err| error(param, err.to_string())))
        .collect::<Result<Vec<T>, _>>()?;
    parsed.sort_by_key(|t| code(*t));
    parsed.dedup_by_key(|t| code(*t));
    Ok(parsed)
}

fn flag(param: &str, value: &str) -> Result<Option<bool>, FilterError> {
    match value {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        other => Err(error(param, format!("{:?} is neither true nor false", short(other)))),
    }
}

fn date(param: &str, value: &str) -> Result<Option<NaiveDate>, FilterError> {
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = (value.len() == 10).then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()).flatten();
    parsed.map(Some).ok_or_else(|| error(param, format!("{:?} is not a date written YYYY-MM-DD", short(value))))
}

fn short(text: &str) -> String {
    text.chars().take(ENTRY_CHARS_MAX).collect()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters and `also_keep` (the filter keeps
/// the comma, its lists' separator).
pub fn percent_encode(text: &str, also_keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || also_keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn parse(query: &[(&str, &str)]) -> Result<MapFilter, FilterError> {
        MapFilter::parse(&pairs(query), &[]).map(|(f, _)| f)
    }

    #[test]
    fn every_parameter_is_read_into_its_type() {
        let f = parse(&[
            ("town", "杨舍镇,320582101"),
            ("status", "verified,reported"),
            ("kind", "spot"),
            ("hazard_type", "sight_obstructed,no_warning_sign"),
            ("level", "major,general"),
            ("overdue", "true"),
            ("supervised", "false"),
            ("relapsed", "true"),
            ("from", "2026-01-01"),
            ("to", "2026-01-31"),
            ("source", "hotline"),
        ])
        .unwrap();
        assert!(!f.is_empty());
        assert!(parse(&[("town", ""), ("status", "")]).unwrap().is_empty(), "empty values set nothing");
        assert!(!parse(&[("overdue", "false")]).unwrap().is_empty(), "overdue=false is a filter");
        assert_eq!(f.towns, ["320582101", "杨舍镇"]);
        assert_eq!(f.statuses, [SiteStatus::Reported, SiteStatus::Verified]);
        assert_eq!(f.kinds, [SiteKind::Spot]);
        assert_eq!(f.hazard_types, ["no_warning_sign", "sight_obstructed"]);
        assert_eq!(f.levels, [HazardLevel::General, HazardLevel::Major]);
        assert_eq!((f.overdue, f.supervised, f.relapsed), (Some(true), Some(false), Some(true)));
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(f.to, NaiveDate::from_ymd_opt(2026, 1, 31));
        assert_eq!(f.sources, ["hotline"]);
    }

    #[test]
    fn a_report_figure_is_a_filter() {
        let f = parse(&[("figure", "month:2026-11:overdue")]).unwrap();
        let figure = f.figure.unwrap();
        assert_eq!((figure.period.code(), figure.figure), ("2026-11".to_string(), Figure::Overdue));
        assert_eq!(f.to_query(), "figure=month%3A2026-11%3Aoverdue");
        assert_eq!(
            parse(&[("figure", "quarter:2026-Q4:closed")]).unwrap().figure.unwrap().to_param(),
            "quarter:2026Q4:closed"
        );
        for (bad, says) in [
            ("month:2026-13:overdue", "no month 13"),
            ("day:2026-11-01:overdue", "unknown period kind"),
            ("month:2026-11:speed", "unknown figure"),
            ("overdue", "expected <week|month|quarter>"),
        ] {
            let e = parse(&[("figure", bad)]).unwrap_err();
            assert!(e.param == "figure" && e.message.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_values_are_no_filter() {
        let f = parse(&[("town", ""), ("status", ""), ("overdue", ""), ("from", ""), ("kind", " , ")]).unwrap();
        assert_eq!(f, MapFilter::default());
        assert_eq!(f.to_query(), "");
    }

    #[test]
    fn the_canonical_query_is_sorted_deduplicated_and_encoded() {
        let a = parse(&[("status", "verified,reported,verified"), ("town", "杨舍镇"), ("overdue", "true")]).unwrap();
        let b = parse(&[("overdue", "true"), ("town", " 杨舍镇 ,杨舍镇"), ("status", "reported,verified")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_query(), "town=%E6%9D%A8%E8%88%8D%E9%95%87&status=reported,verified&overdue=true");
        let c = parse(&[("status", "reported")]).unwrap();
        assert_ne!(a.to_query(), c.to_query());
        // An ampersand in a town name cannot end the parameter.
        assert_eq!(parse(&[("town", "A&B=C")]).unwrap().to_query(), "town=A%26B%3DC");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let too_many = (0..51).map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        let long = "镇".repeat(65);
        for (query, param, fragment) in [
            (vec![("status", "done")], "status", "unknown SiteStatus \"done\""),
            (vec![("kind", "road")], "kind", "accepted values: intersection, section, spot"),
            (vec![("level", "huge")], "level", "general, significant, major"),
            (vec![("overdue", "yes")], "overdue", "neither true nor false"),
            (vec![("relapsed", "1")], "relapsed", "neither true nor false"),
            (vec![("from", "2026-1-1")], "from", "YYYY-MM-DD"),
            (vec![("to", "2026-02-30")], "to", "YYYY-MM-DD"),
            (vec![("from", "2026-02-01"), ("to", "2026-01-31")], "from", "from ≤ to"),
            (vec![("source", "rumour")], "source", "accepted values: patrol"),
            (vec![("town", too_many.as_str())], "town", "at most 50 values"),
            (vec![("town", long.as_str())], "town", "longer than 64 characters"),
            (vec![("colour", "red")], "colour", "the parameters are town, status, kind"),
            (vec![("town", "a"), ("town", "b")], "town", "given twice"),
        ] {
            let err = parse(&query).unwrap_err();
            assert_eq!(err.param, param, "{query:?}");
            assert!(err.to_string().contains(fragment), "{query:?}: {err}");
        }
    }

    #[test]
    fn the_endpoints_own_parameters_are_handed_back() {
        let given = pairs(&[("bbox", "1,2,3,4"), ("status", "closed"), ("limit", "")]);
        let (f, others) = MapFilter::parse(&given, &["bbox", "limit"]).unwrap();
        assert_eq!(f.statuses, [SiteStatus::Closed]);
        assert_eq!(others.get("bbox"), Some("1,2,3,4"));
        assert_eq!(others.get("limit"), None);
        let err = MapFilter::parse(&given, &["limit"]).unwrap_err();
        assert!(
            err.message.contains(
                "town, status, kind, hazard_type, level, overdue, supervised, relapsed, from, to, source, figure, limit"
            ),
            "{err}"
        );
    }
}
