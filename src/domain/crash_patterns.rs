//! When crashes happen (事故时段规律, issue 12): crashes counted by hour of day, weekday, month, time band and
//! the periods rural campaigns plan around — the farming seasons (三夏, 三秋), the Spring Festival, school
//! days and school holidays, rest days and working days, night and dawn/dusk — each period with its
//! **exposure**, the share of the window's time it covers, so that "24 % of the crashes in a period that is
//! 13 % of the days" reads as over-represented.
//!
//! The database only groups crashes by county day, hour and light (`db::crash_patterns`); every rule about
//! periods is here, pure, with the holiday calendar (`calendar_day`) and the county's dates as inputs.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use utoipa::ToSchema;

use super::crash::{Light, TimeBand};
use super::site::coded_enum;

/// The longest window a pattern may cover: ten years (and their leap days).
pub const WINDOW_DAYS_MAX: i64 = 3653;
/// A period is over-represented when its share of the crashes is at least this many times its share of
/// the time, and it holds at least [`OVER_REPRESENTED_CRASHES_MIN`] crashes (one crash in a short period
/// is chance, not a pattern).
pub const OVER_REPRESENTED_RATIO: f64 = 1.25;
pub const OVER_REPRESENTED_CRASHES_MIN: i64 = 3;

/// A calendar day's name for the Spring Festival holiday (as the State Council's notices and migration 0017
/// write it).
pub const SPRING_FESTIVAL: &str = "春节";

/// A day of the year, `MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl MonthDay {
    fn of(date: NaiveDate) -> MonthDay {
        MonthDay { month: date.month(), day: date.day() }
    }

    fn parse(text: &str) -> Result<MonthDay, String> {
        let (m, d) = text.trim().split_once('-').ok_or_else(|| format!("{text:?} is not MM-DD"))?;
        let month: u32 = m.parse().map_err(|_| format!("{text:?} is not MM-DD"))?;
        let day: u32 = d.parse().map_err(|_| format!("{text:?} is not MM-DD"))?;
        // 2024 is a leap year, so 02-29 is accepted (and matches only in leap years).
        NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(|| format!("{text:?} is not a day of the year"))?;
        Ok(MonthDay { month, day })
    }
}

impl std::fmt::Display for MonthDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// Days from `start` to `end` inclusive, every year; a span whose end comes before its start runs over the
/// new year (a school term from 09-01 to 01-20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpan {
    pub start: MonthDay,
    pub end: MonthDay,
}

impl DateSpan {
    pub fn contains(&self, date: NaiveDate) -> bool {
        let d = MonthDay::of(date);
        if self.start <= self.end { self.start <= d && d <= self.end } else { d >= self.start || d <= self.end }
    }

    /// `05-25..06-15`.
    fn parse(text: &str) -> Result<DateSpan, String> {
        let (start, end) = text.split_once("..").ok_or_else(|| format!("{text:?} is not MM-DD..MM-DD"))?;
        Ok(DateSpan { start: MonthDay::parse(start)?, end: MonthDay::parse(end)? })
    }

    /// `5月25日至6月15日`.
    pub fn label_zh(&self) -> String {
        format!("{}月{}日至{}月{}日", self.start.month, self.start.day, self.end.month, self.end.day)
    }
}

impl std::fmt::Display for DateSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The two farming seasons of southern Jiangsu (DOMAIN.md §7), configurable yearly (`--farming-seasons`):
/// 三夏 (summer harvest and planting, farm vehicles and tricycles on the roads from dawn) and 三秋 (autumn
/// harvest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FarmingSeasons {
    pub summer: DateSpan,
    pub autumn: DateSpan,
}

impl Default for FarmingSeasons {
    fn default() -> Self {
        let md = |month, day| MonthDay { month, day };
        FarmingSeasons {
            summer: DateSpan { start: md(5, 25), end: md(6, 15) },
            autumn: DateSpan { start: md(10, 15), end: md(11, 30) },
        }
    }
}

impl std::str::FromStr for FarmingSeasons {
    type Err = String;

    /// `summer=05-25..06-15,autumn=10-15..11-30`; a season left out keeps its default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut seasons = FarmingSeasons::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, span) = part.split_once('=').ok_or_else(|| format!("{part:?} is not NAME=MM-DD..MM-DD"))?;
            let span = DateSpan::parse(span)?;
            match name.trim() {
                "summer" => seasons.summer = span,
                "autumn" => seasons.autumn = span,
                other => return Err(format!("unknown season {other:?}: summer (三夏), autumn (三秋)")),
            }
        }
        Ok(seasons)
    }
}

/// The school terms (`--school-terms`): by default 09-01..01-20 and 02-20..07-05. Outside them is the
/// winter or summer holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolTerms(pub Vec<DateSpan>);

impl Default for SchoolTerms {
    fn default() -> Self {
        let md = |month, day| MonthDay { month, day };
        SchoolTerms(vec![DateSpan { start: md(9, 1), end: md(1, 20) }, DateSpan { start: md(2, 20), end: md(7, 5) }])
    }
}

impl std::str::FromStr for SchoolTerms {
    type Err = String;

    /// `09-01..01-20,02-20..07-05`: one to four terms.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let terms: Vec<DateSpan> =
            s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(DateSpan::parse).collect::<Result<_, _>>()?;
        if terms.is_empty() || terms.len() > 4 {
            return Err(format!("give one to four terms as MM-DD..MM-DD, separated by commas; got {}", terms.len()));
        }
        Ok(SchoolTerms(terms))
    }
}

impl SchoolTerms {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.0.iter().any(|t| t.contains(date))
    }
}

/// The county's settings for the periods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodRules {
    pub farming: FarmingSeasons,
    pub school_terms: SchoolTerms,
}

coded_enum! {
    /// A row of `calendar_day`: a public holiday (a day off on any weekday) or a make-up working day (调休, a
    /// Saturday or Sunday worked).
    CalendarKind {
        Holiday = "holiday",
        Workday = "workday",
    }
}

/// One listed day of the holiday calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    pub day: NaiveDate,
    pub kind: CalendarKind,
    /// The holiday it belongs to, as the notice names it: 春节, 国庆节, …
    pub name: String,
}

/// Most rows a year of the calendar may have (a year has about 30 holiday and 6 make-up days).
pub const CALENDAR_DAYS_PER_YEAR_MAX: usize = 80;
/// Longest holiday name, as the database's check.
pub const CALENDAR_NAME_CHARS_MAX: usize = 32;

/// Checks a year's list before it replaces the stored one: every day in the year, once; a make-up working
/// day on a Saturday or Sunday (that is what 调休 means); names of 1–32 characters.
pub fn check_calendar_year(year: i32, days: &[CalendarDay]) -> Result<(), String> {
    if !(2000..=2100).contains(&year) {
        return Err(format!("year {year} is outside 2000–2100"));
    }
    if days.len() > CALENDAR_DAYS_PER_YEAR_MAX {
        return Err(format!("{} days listed; a year has at most {CALENDAR_DAYS_PER_YEAR_MAX}", days.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, d) in days.iter().enumerate() {
        if d.day.year() != year {
            return Err(format!("days[{i}]: {} is not in {year}", d.day));
        }
        if !seen.insert(d.day) {
            return Err(format!("days[{i}]: {} is listed twice", d.day));
        }
        let chars = d.name.trim().chars().count();
        if chars == 0 || chars > CALENDAR_NAME_CHARS_MAX {
            return Err(format!("days[{i}]: the name must be 1–{CALENDAR_NAME_CHARS_MAX} characters"));
        }
        if d.kind == CalendarKind::Workday && !is_weekend(d.day) {
            return Err(format!(
                "days[{i}]: {} is a {}; a make-up working day (调休上班) is a Saturday or Sunday",
                d.day,
                d.day.weekday()
            ));
        }
    }
    Ok(())
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The holiday calendar of a window, by day.
#[derive(Debug, Clone, Default)]
pub struct Calendar(HashMap<NaiveDate, (CalendarKind, String)>);

impl Calendar {
    pub fn new(days: impl IntoIterator<Item = CalendarDay>) -> Calendar {
        Calendar(days.into_iter().map(|d| (d.day, (d.kind, d.name))).collect())
    }

    /// A day off: a public holiday, or a Saturday or Sunday that is not a make-up working day.
    pub fn is_rest_day(&self, date: NaiveDate) -> bool {
        match self.0.get(&date) {
            Some((CalendarKind::Holiday, _)) => true,
            Some((CalendarKind::Workday, _)) => false,
            None => is_weekend(date),
        }
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        matches!(self.0.get(&date), Some((CalendarKind::Holiday, _)))
    }

    /// The Spring Festival holiday: the days off the calendar names 春节.
    pub fn is_spring_festival(&self, date: NaiveDate) -> bool {
        matches!(self.0.get(&date), Some((CalendarKind::Holiday, name)) if name == SPRING_FESTIVAL)
    }
}

coded_enum! {
    /// The periods rural campaigns plan around. The first seven are sets of days (exposure: their share of
    /// the window's days); night and dawn/dusk are times of day (exposure: their share of the day's hours).
    Period {
        FarmingSummer = "farming_summer",
        FarmingAutumn = "farming_autumn",
        SpringFestival = "spring_festival",
        PublicHoliday = "public_holiday",
        RestDay = "rest_day",
        WorkingDay = "working_day",
        SchoolDay = "school_day",
        SchoolHoliday = "school_holiday",
        Night = "night",
        DawnDusk = "dawn_dusk",
    }
}

/// Hours counted as night when a crash has no light recorded: the night and small-hours bands, 19:00–05:59.
fn night_hour(hour: u32) -> bool {
    matches!(TimeBand::of_hour(hour), TimeBand::Night | TimeBand::SmallHours)
}

/// Hours counted as dawn or dusk when a crash has no light recorded: 06:00–06:59 and 18:00–18:59, the hour
/// either side of the night bands (sunrise and sunset in southern Jiangsu fall in or near them most of the
/// year).
fn dawn_dusk_hour(hour: u32) -> bool {
    hour == 6 || hour == 18
}

impl Period {
    pub fn label(self) -> &'static str {
        match self {
            Period::FarmingSummer => "三夏农忙",
            Period::FarmingAutumn => "三秋农忙",
            Period::SpringFestival => "春节假期",
            Period::PublicHoliday => "法定节假日",
            Period::RestDay => "周末及节假日",
            Period::WorkingDay => "工作日",
            Period::SchoolDay => "上学日",
            Period::SchoolHoliday => "寒暑假",
            Period::Night => "夜间",
            Period::DawnDusk => "黎明黄昏",
        }
    }

    /// A time of day, not a set of days.
    pub fn is_time_of_day(self) -> bool {
        matches!(self, Period::Night | Period::DawnDusk)
    }

    /// Whether a day belongs to this period (false for the times of day).
    pub fn covers_day(self, date: NaiveDate, calendar: &Calendar, rules: &PeriodRules) -> bool {
        match self {
            Period::FarmingSummer => rules.farming.summer.contains(date),
            Period::FarmingAutumn => rules.farming.autumn.contains(date),
            Period::SpringFestival => calendar.is_spring_festival(date),
            Period::PublicHoliday => calendar.is_holiday(date),
            Period::RestDay => calendar.is_rest_day(date),
            Period::WorkingDay => !calendar.is_rest_day(date),
            // A school day is a working day in a term: pupils on the roads morning and afternoon.
            Period::SchoolDay => rules.school_terms.contains(date) && !calendar.is_rest_day(date),
            Period::SchoolHoliday => !rules.school_terms.contains(date),
            Period::Night | Period::DawnDusk => false,
        }
    }

    /// Whether a crash at this hour and light falls in this time of day (false for the sets of days). The
    /// light the police recorded decides; without it, the hour does.
    pub fn covers_time(self, hour: u32, light: Option<Light>) -> bool {
        match (self, light) {
            (Period::Night, Some(l)) => matches!(l, Light::DarkLit | Light::DarkUnlit),
            (Period::Night, None) => night_hour(hour),
            (Period::DawnDusk, Some(l)) => l == Light::DawnDusk,
            (Period::DawnDusk, None) => dawn_dusk_hour(hour),
            _ => false,
        }
    }

    /// The share of a day's hours a time of day covers, by the hour rule: night 11 of 24, dawn/dusk 2 of 24.
    fn hours_share(self) -> f64 {
        let hours = (0..24).filter(|h| self.covers_time(*h, None)).count();
        hours as f64 / 24.0
    }
}

/// Crashes, deaths, injured people and fatal crashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tally {
    pub crashes: i64,
    pub deaths: i64,
    pub injuries: i64,
    pub fatal: i64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.crashes += other.crashes;
        self.deaths += other.deaths;
        self.injuries += other.injuries;
        self.fatal += other.fatal;
    }
}

/// The crashes of a window as `db::crash_patterns::tallies` groups them: per county day (for the weekdays,
/// months and the periods that are sets of days) and per county hour and light (for the hours, bands and
/// times of day). Two small groupings rather than one per day, hour and light: over ten years that would be
/// nearly a row per crash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallies {
    pub days: Vec<(NaiveDate, Tally)>,
    /// Hour 0–23 county time, the light recorded.
    pub hours: Vec<(u32, Option<Light>, Tally)>,
}

/// The days counted, county dates, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: i64,
}

impl Window {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Window, String> {
        let days = (to - from).num_days() + 1;
        if days < 1 {
            return Err(format!("from {from} is after to {to}"));
        }
        if days > WINDOW_DAYS_MAX {
            return Err(format!("the window is {days} days; it may cover at most ten years ({WINDOW_DAYS_MAX} days)"));
        }
        Ok(Window { from, to, days })
    }

    fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take(self.days as usize)
    }
}

/// A time band's crashes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BandRow {
    pub band: TimeBand,
    pub label: String,
    #[serde(flatten)]
    pub tally: Tally,
}

/// A period's crashes against its exposure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodRow {
    pub period: Period,
    pub label: String,
    /// The dates or hours it covers, in words (`5月25日至6月15日`).
    pub definition: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// Days of the window in the period (for a time of day: the window's days).
    pub days: i64,
    /// The period's crashes over all crashes, 0–1; `None` without crashes.
    pub crash_share: Option<f64>,
    /// The period's share of the window's time, 0–1: its days over the window's days, or for a time of day
    /// its hours over 24.
    pub exposure_share: f64,
    /// `crash_share / exposure_share`: above 1, more crashes than its time would give.
    pub ratio: Option<f64>,
    /// `ratio ≥ 1.25` with at least 3 crashes.
    pub over_represented: bool,
}

/// The time patterns of a set of crashes over a window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Patterns {
    pub window: Window,
    pub totals: Tally,
    /// 24 rows: hour 0 (00:00–00:59 county time) to 23.
    pub hours: Vec<Tally>,
    /// 7 rows: Monday to Sunday.
    pub weekdays: Vec<Tally>,
    /// 12 rows: January to December, every year of the window together.
    pub months: Vec<Tally>,
    pub bands: Vec<BandRow>,
    pub periods: Vec<PeriodRow>,
}

/// Counts the tallies by hour, weekday, month, band and period, and measures each period's exposure over
/// the window's days. Days outside the window are not counted (the query reads only the window).
pub fn patterns(tallies: &Tallies, window: Window, calendar: &Calendar, rules: &PeriodRules) -> Patterns {
    let mut totals = Tally::default();
    let mut hours = vec![Tally::default(); 24];
    let mut weekdays = vec![Tally::default(); 7];
    let mut months = vec![Tally::default(); 12];
    let mut bands: Vec<Tally> = vec![Tally::default(); TimeBand::ALL.len()];
    let mut periods = vec![Tally::default(); Period::ALL.len()];
    for (day, t) in tallies.days.iter().filter(|(d, _)| *d >= window.from && *d <= window.to) {
        totals.add(t);
        weekdays[day.weekday().num_days_from_monday() as usize].add(t);
        months[day.month0() as usize].add(t);
        for (i, p) in Period::ALL.iter().enumerate() {
            if !p.is_time_of_day() && p.covers_day(*day, calendar, rules) {
                periods[i].add(t);
            }
        }
    }
    for (hour, light, t) in tallies.hours.iter().filter(|(h, _, _)| *h < 24) {
        hours[*hour as usize].add(t);
        let band = TimeBand::of_hour(*hour);
        bands[TimeBand::ALL.iter().position(|b| *b == band).unwrap_or(0)].add(t);
        for (i, p) in Period::ALL.iter().enumerate() {
            if p.is_time_of_day() && p.covers_time(*hour, *light) {
                periods[i].add(t);
            }
        }
    }
    let periods = Period::ALL
        .iter()
        .zip(periods)
        .map(|(p, tally)| {
            let (days, exposure_share) = if p.is_time_of_day() {
                (window.days, p.hours_share())
            } else {
                let days = window.dates().filter(|d| p.covers_day(*d, calendar, rules)).count() as i64;
                (days, days as f64 / window.days as f64)
            };
            let crash_share = (totals.crashes > 0).then(|| tally.crashes as f64 / totals.crashes as f64);
            let ratio = crash_share.filter(|_| exposure_share > 0.0).map(|s| s / exposure_share);
            PeriodRow {
                period: *p,
                label: p.label().to_string(),
                definition: definition(*p, rules),
                tally,
                days,
                crash_share,
                exposure_share,
                ratio,
                over_represented: ratio.is_some_and(|r| r >= OVER_REPRESENTED_RATIO)
                    && tally.crashes >= OVER_REPRESENTED_CRASHES_MIN,
            }
        })
        .collect();
    let bands = TimeBand::ALL
        .iter()
        .zip(bands)
        .map(|(b, tally)| BandRow { band: *b, label: b.label().to_string(), tally })
        .collect();
    Patterns { window, totals, hours, weekdays, months, bands, periods }
}

/// What a period covers, in words, with the county's dates.
fn definition(period: Period, rules: &PeriodRules) -> String {
    match period {
        Period::FarmingSummer => rules.farming.summer.label_zh(),
        Period::FarmingAutumn => rules.farming.autumn.label_zh(),
        Period::SpringFestival => "节假日表中名为春节的放假日".to_string(),
        Period::PublicHoliday => "节假日表中的放假日".to_string(),
        Period::RestDay => "周六、周日（调休上班日除外）及法定节假日".to_string(),
        Period::WorkingDay => "周一至周五（法定节假日除外）及调休上班日".to_string(),
        Period::SchoolDay => {
            let terms: Vec<String> = rules.school_terms.0.iter().map(DateSpan::label_zh).collect();
            format!("学期内（{}）的工作日", terms.join("、"))
        }
        Period::SchoolHoliday => "学期以外的日子".to_string(),
        Period::Night => "照明条件为夜间；未记录时 19:00–05:59".to_string(),
        Period::DawnDusk => "照明条件为黎明/黄昏；未记录时 06:00–06:59、18:00–18:59".to_string(),
    }
}

/// The weekday names, Monday first, as the charts and the page write them.
pub const WEEKDAYS_ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

/// A period's over-representation in words: `三秋农忙期间占统计期 13% 的天数，发生 24% 的事故`.
pub fn over_represented_zh(row: &PeriodRow) -> Option<String> {
    if !row.over_represented {
        return None;
    }
    let share = row.crash_share? * 100.0;
    let exposure = row.exposure_share * 100.0;
    let unit = if row.period.is_time_of_day() { "时间" } else { "天数" };
    Some(format!("{}期间占统计期 {exposure:.0}% 的{unit}，发生 {share:.0}% 的事故", row.label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Crashes at a county day and hour, as the query's two groupings would give them.
    fn tallies(crashes: &[(&str, u32, Option<Light>, i64)]) -> Tallies {
        let tally = |crashes| Tally { crashes, deaths: 0, injuries: crashes, fatal: 0 };
        Tallies {
            days: crashes.iter().map(|(day, _, _, n)| (date(day), tally(*n))).collect(),
            hours: crashes.iter().map(|(_, hour, light, n)| (*hour, *light, tally(*n))).collect(),
        }
    }

    /// The 2025 Spring Festival as the State Council published it: off 01-28 to 02-04, working Sunday 01-26
    /// and Saturday 02-08.
    fn calendar_2025() -> Calendar {
        let mut days: Vec<CalendarDay> = date("2025-01-28")
            .iter_days()
            .take(8)
            .map(|day| CalendarDay { day, kind: CalendarKind::Holiday, name: "春节".into() })
            .collect();
        for d in ["2025-01-26", "2025-02-08"] {
            days.push(CalendarDay { day: date(d), kind: CalendarKind::Workday, name: "春节".into() });
        }
        days.push(CalendarDay {
            day: date("2025-10-01"), kind: CalendarKind::Holiday, name: "国庆节、中秋节".into()
        });
        Calendar::new(days)
    }

    #[test]
    fn rest_days_follow_the_calendar_not_only_the_weekday() {
        let c = calendar_2025();
        assert!(!c.is_rest_day(date("2025-02-08")), "a make-up Saturday is a working day");
        assert!(!c.is_rest_day(date("2025-01-26")), "a make-up Sunday is a working day");
        assert!(c.is_rest_day(date("2025-01-29")), "a Wednesday in the holiday is a day off");
        assert!(c.is_rest_day(date("2025-02-15")), "an ordinary Saturday");
        assert!(!c.is_rest_day(date("2025-02-10")), "an ordinary Monday");
        assert!(c.is_spring_festival(date("2025-02-04")));
        assert!(!c.is_spring_festival(date("2025-02-05")));
        assert!(!c.is_spring_festival(date("2025-01-26")), "the make-up day is not the festival");
        assert!(!c.is_spring_festival(date("2025-10-01")));
    }

    #[test]
    fn spans_include_both_ends_and_may_run_over_the_new_year() {
        let rules = PeriodRules::default();
        assert!(rules.farming.summer.contains(date("2025-05-25")));
        assert!(rules.farming.summer.contains(date("2025-06-15")));
        assert!(!rules.farming.summer.contains(date("2025-06-16")));
        assert!(!rules.farming.autumn.contains(date("2025-10-14")));
        assert!(rules.farming.autumn.contains(date("2025-11-30")));
        assert!(rules.school_terms.contains(date("2025-01-20")), "the autumn term runs into January");
        assert!(!rules.school_terms.contains(date("2025-01-21")));
        assert!(!rules.school_terms.contains(date("2025-07-06")));
        assert!(rules.school_terms.contains(date("2025-12-31")));
    }

    #[test]
    fn settings_are_read_and_refused_with_reasons() {
        let seasons: FarmingSeasons = "autumn=10-20..11-25".parse().unwrap();
        assert_eq!(seasons.summer, FarmingSeasons::default().summer);
        assert_eq!(seasons.autumn.to_string(), "10-20..11-25");
        assert_eq!("".parse::<FarmingSeasons>().unwrap(), FarmingSeasons::default());
        assert!("winter=01-01..01-31".parse::<FarmingSeasons>().unwrap_err().contains("unknown season"));
        assert!("summer=02-30..03-01".parse::<FarmingSeasons>().unwrap_err().contains("not a day of the year"));
        assert!("summer=05-25".parse::<FarmingSeasons>().unwrap_err().contains("MM-DD..MM-DD"));
        let terms: SchoolTerms = "09-01..01-15, 02-25..06-30".parse().unwrap();
        assert_eq!(terms.0.len(), 2);
        assert!(!terms.contains(date("2026-01-16")));
        assert!("".parse::<SchoolTerms>().is_err());
    }

    #[test]
    fn night_and_dusk_follow_the_light_then_the_hour() {
        assert!(Period::Night.covers_time(14, Some(Light::DarkUnlit)), "the recorded light wins");
        assert!(Period::Night.covers_time(23, Some(Light::DarkLit)));
        assert!(!Period::Night.covers_time(20, Some(Light::Daylight)));
        assert!(Period::Night.covers_time(23, None));
        assert!(Period::Night.covers_time(0, None));
        assert!(Period::Night.covers_time(5, None));
        assert!(!Period::Night.covers_time(6, None));
        assert!(Period::DawnDusk.covers_time(18, None));
        assert!(!Period::DawnDusk.covers_time(19, None));
        assert!(Period::DawnDusk.covers_time(12, Some(Light::DawnDusk)));
        assert_eq!(Period::Night.hours_share(), 11.0 / 24.0);
        assert_eq!(Period::DawnDusk.hours_share(), 2.0 / 24.0);
    }

    #[test]
    fn counts_and_exposure_of_hand_made_crashes() {
        // January and February 2025: 59 days, 8 of them the Spring Festival holiday.
        let window = Window::new(date("2025-01-01"), date("2025-02-28")).unwrap();
        let mut cells = tallies(&[
            ("2025-01-29", 10, Some(Light::Daylight), 3), // the festival, a Wednesday
            ("2025-02-08", 23, None, 1),                  // a make-up Saturday, 23:xx
            ("2025-02-09", 0, None, 1),                   // a Sunday, 00:xx
            ("2025-01-15", 18, Some(Light::DawnDusk), 1), // a Wednesday in term
        ]);
        // A day outside the window is not counted.
        cells.days.push((date("2025-03-01"), Tally { crashes: 5, deaths: 0, injuries: 0, fatal: 0 }));
        let p = patterns(&cells, window, &calendar_2025(), &PeriodRules::default());
        assert_eq!(p.window.days, 59);
        assert_eq!(p.totals.crashes, 6);
        assert_eq!(p.hours[10].crashes, 3);
        assert_eq!((p.hours[23].crashes, p.hours[0].crashes, p.hours[18].crashes), (1, 1, 1));
        // Wednesday 3 + 1, Saturday 1, Sunday 1.
        assert_eq!(p.weekdays.iter().map(|t| t.crashes).collect::<Vec<_>>(), [0, 0, 4, 0, 0, 1, 1]);
        assert_eq!(p.months[0].crashes, 4);
        assert_eq!(p.months[1].crashes, 2);
        assert_eq!(p.months[2].crashes, 0);

        let row = |period: Period| p.periods.iter().find(|r| r.period == period).unwrap().clone();
        let festival = row(Period::SpringFestival);
        assert_eq!((festival.tally.crashes, festival.days), (3, 8));
        assert_eq!(festival.crash_share, Some(0.5));
        assert!((festival.exposure_share - 8.0 / 59.0).abs() < 1e-12);
        assert!((festival.ratio.unwrap() - 0.5 * 59.0 / 8.0).abs() < 1e-12);
        assert!(festival.over_represented);
        assert_eq!(over_represented_zh(&festival).unwrap(), "春节假期期间占统计期 14% 的天数，发生 50% 的事故");
        // Rest days: the festival (3) and Sunday 02-09 (1); the make-up Saturday is a working day.
        assert_eq!(row(Period::RestDay).tally.crashes, 4);
        assert_eq!(row(Period::WorkingDay).tally.crashes, 2);
        // 59 days: 8 holiday days (2 of them a weekend) and 16 weekend days, 2 of them worked.
        assert_eq!(row(Period::RestDay).days, 8 + 16 - 2 - 2);
        assert_eq!(row(Period::RestDay).days + row(Period::WorkingDay).days, 59);
        // School: 01-01..01-20 and 02-20..02-28 in term; only 01-15 is a school day, the rest is the winter
        // holiday (the make-up Saturday 02-08 included: a working day, but out of term).
        assert_eq!(row(Period::SchoolDay).tally.crashes, 1);
        assert_eq!(row(Period::SchoolHoliday).tally.crashes, 3 + 1 + 1);
        assert_eq!(row(Period::Night).tally.crashes, 2, "23:xx and 00:xx without light");
        assert_eq!(row(Period::DawnDusk).tally.crashes, 1);
        assert_eq!(row(Period::FarmingSummer).tally.crashes, 0);
        assert_eq!(row(Period::FarmingSummer).days, 0);
        assert_eq!(row(Period::FarmingSummer).ratio, None, "no exposure, no ratio");
        assert!(!row(Period::Night).over_represented, "2 crashes are too few");
        assert_eq!(p.bands.iter().map(|b| b.tally.crashes).sum::<i64>(), 6);
    }

    #[test]
    fn an_empty_window_has_no_shares_and_windows_are_bounded() {
        let window = Window::new(date("2025-05-01"), date("2025-06-30")).unwrap();
        let p = patterns(&Tallies::default(), window, &Calendar::default(), &PeriodRules::default());
        let summer = p.periods.iter().find(|r| r.period == Period::FarmingSummer).unwrap();
        assert_eq!(summer.days, 22);
        assert_eq!((summer.crash_share, summer.ratio), (None, None));
        assert!(Window::new(date("2025-05-02"), date("2025-05-01")).is_err());
        assert!(Window::new(date("2016-01-01"), date("2025-12-31")).is_ok());
        assert!(Window::new(date("2015-12-31"), date("2025-12-31")).unwrap_err().contains("ten years"));
    }

    #[test]
    fn a_calendar_year_is_checked() {
        let day = |d: &str, kind| CalendarDay { day: date(d), kind, name: "春节".into() };
        assert!(check_calendar_year(2025, &[day("2025-02-08", CalendarKind::Workday)]).is_ok());
        let weekday_workday = check_calendar_year(2025, &[day("2025-02-07", CalendarKind::Workday)]).unwrap_err();
        assert!(weekday_workday.contains("Saturday or Sunday"), "{weekday_workday}");
        assert!(check_calendar_year(2025, &[day("2026-02-08", CalendarKind::Holiday)]).unwrap_err().contains("not in"));
        let twice = [day("2025-01-28", CalendarKind::Holiday), day("2025-01-28", CalendarKind::Holiday)];
        assert!(check_calendar_year(2025, &twice).unwrap_err().contains("twice"));
        let unnamed = CalendarDay { day: date("2025-01-28"), kind: CalendarKind::Holiday, name: " ".into() };
        assert!(check_calendar_year(2025, &[unnamed]).is_err());
    }
}
