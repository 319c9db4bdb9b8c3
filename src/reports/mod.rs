//! The documents of the weekly summary, the monthly bulletin and the quarterly ranking (周总结、月通报、季度晴雨榜,
//! DOMAIN.md §8, issue 11): charts as SVG ([`chart`]), printable A4 PDFs ([`pdf`]) and workbooks ([`xlsx`]),
//! all from the pure `domain::report` types, so they need no database and print the figures the page shows.
//!
//! The words the three share (the document's name, a change against the previous period, China time) are
//! here, once.

pub mod chart;
pub mod crash_patterns;
#[doc(hidden)]
pub mod fixtures;
pub mod pdf;
pub mod xlsx;

use chrono::{DateTime, Utc};

use crate::closeout::china_time;
use crate::domain::report::{Band, PeriodKind, Report, ReportScope};

/// Whose report it is, as the title names it: the county (全县), a town or a unit.
pub fn scope_name(scope: &ReportScope) -> &str {
    match scope {
        ReportScope::County => "全县",
        ReportScope::Town { name, .. } | ReportScope::Unit { name, .. } => name,
    }
}

/// 周总结 for a week, 月通报 for a month (the names the county office uses), 季度通报 for a quarter.
pub fn document_name(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Week => "周总结",
        PeriodKind::Month => "月通报",
        PeriodKind::Quarter => "季度通报",
    }
}

/// The report's title: `全县农村道路交通安全隐患排查整治周总结`.
pub fn report_title(report: &Report) -> String {
    format!("{}农村道路交通安全隐患排查整治{}", scope_name(&report.scope), document_name(report.period.kind))
}

/// A change against the previous period, signed: `+3`, `-2`, `0`.
pub fn change(now: i64, before: i64) -> String {
    match now - before {
        0 => "0".to_string(),
        d => format!("{d:+}"),
    }
}

/// A count with its change: `12（+3）`.
pub fn with_change(now: i64, before: i64) -> String {
    format!("{now}（{}）", change(now, before))
}

/// An instant as the county reads it: `2026-11-30 00:00` (China time, said next to it by the caller).
pub fn china_minutes(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_time()).format("%Y-%m-%d %H:%M").to_string()
}

/// A median number of days to one decimal, or a dash when there was nothing to measure.
pub fn days(d: Option<f64>) -> String {
    d.map_or_else(|| "—".to_string(), |d| format!("{d:.1}"))
}

/// A rate as a percentage to one decimal, or a dash when there was nothing to measure.
pub fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// 晴 for the top of the board, 雨 for the bottom, nothing in between.
pub fn band_zh(band: Band) -> &'static str {
    match band {
        Band::Sunny => "晴",
        Band::Middle => "",
        Band::Rainy => "雨",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::fixtures::sample_report;

    #[test]
    fn words_shared_by_the_documents() {
        assert_eq!(report_title(&sample_report()), "全县农村道路交通安全隐患排查整治周总结");
        assert_eq!(
            (with_change(12, 9), with_change(2, 5), with_change(4, 4)),
            ("12（+3）".into(), "2（-3）".into(), "4（0）".into())
        );
        assert_eq!(china_minutes(sample_report().as_of), "2026-11-30 00:00");
        assert_eq!((days(None), days(Some(2.26))), ("—".into(), "2.3".into()));
        assert_eq!(percent(Some(0.8126)), "81.3%");
    }
}
