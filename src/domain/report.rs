//! Weekly summaries, monthly bulletins and the quarterly town ranking (周总结、月通报、季度晴雨榜,
//! DOMAIN.md §8): their periods, the figures they print and what each figure means, and the ranking rule.
//!
//! The figures are counted from site events as of a period's end (`db::reports`, over the SQL function
//! `report_site_facts` of migration 0011), so a report for a past period gives the same numbers whenever it
//! is asked for. The definitions, in DOMAIN.md's words, are the doc comments of [`Figures`]; the SQL says the
//! same thing once, and `tests/it/reports.rs` checks both against a hand-made history.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a period is a period of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// An ISO week, Monday to Sunday: `2026-W48`.
    Week,
    /// A calendar month: `2026-11`.
    Month,
    /// A calendar quarter: `2026Q4`.
    Quarter,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }
}

/// What is published: a weekly summary (周总结), a monthly bulletin (月通报) or a quarterly ranking (晴雨榜).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Weekly,
    Monthly,
    Ranking,
}

impl ReportKind {
    pub const ALL: [ReportKind; 3] = [ReportKind::Weekly, ReportKind::Monthly, ReportKind::Ranking];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Weekly => "weekly",
            ReportKind::Monthly => "monthly",
            ReportKind::Ranking => "ranking",
        }
    }

    pub fn period_kind(self) -> PeriodKind {
        match self {
            ReportKind::Weekly => PeriodKind::Week,
            ReportKind::Monthly => PeriodKind::Month,
            ReportKind::Ranking => PeriodKind::Quarter,
        }
    }

    pub fn title_zh(self) -> &'static str {
        match self {
            ReportKind::Weekly => "周总结",
            ReportKind::Monthly => "月通报",
            ReportKind::Ranking => "晴雨榜",
        }
    }

    /// The period whose draft the schedule should have prepared by `now`: the last one ended, from 08:00
    /// county time the next day (Monday for a week, the 1st for a month or quarter); before that, the one
    /// before it.
    pub fn due_period(self, now: DateTime<Utc>) -> Period {
        let last = Period::last_complete(self.period_kind(), crate::domain::lifecycle::china_date(now));
        if now < last.ends_at() + Duration::hours(DRAFT_HOUR) { last.previous() } else { last }
    }
}

impl std::str::FromStr for ReportKind {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| PeriodError(format!("unknown report kind {s:?}: weekly, monthly or ranking")))
    }
}

/// The hour (county time) the schedule prepares a period's draft, on the first day after it.
pub const DRAFT_HOUR: i64 = 8;

/// A reporting period: county dates from `start` (included) to `end` (excluded), midnight China time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Why a period code was refused; the text is the 400's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeriodError(pub String);

/// Years a period may name: a report before the product existed or far ahead is a typo.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Midnight China time at the start of a county date, as an instant.
pub fn china_midnight(date: NaiveDate) -> DateTime<Utc> {
    china()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("UTC+8 has no gaps")
        .with_timezone(&Utc)
}

impl Period {
    /// Reads `2026-W48`, `2026-11` or `2026Q4` (also `2026-Q4`), as the kind expects.
    pub fn parse(kind: PeriodKind, code: &str) -> Result<Period, PeriodError> {
        let bad = |expected: &str| {
            PeriodError(format!("period {code:?} is not a {}: expected e.g. {expected}", kind.as_str()))
        };
        let code = code.trim();
        if code.len() > 16 {
            return Err(bad("a short code"));
        }
        let year_ok = |y: i32| {
            if YEARS.contains(&y) {
                Ok(y)
            } else {
                Err(PeriodError(format!("year {y} is outside {}–{}", YEARS.start(), YEARS.end())))
            }
        };
        match kind {
            PeriodKind::Week => {
                let (y, w) = code.split_once("-W").ok_or_else(|| bad("2026-W48"))?;
                let y = year_ok(y.parse().map_err(|_| bad("2026-W48"))?)?;
                let w: u32 = w.parse().map_err(|_| bad("2026-W48"))?;
                let start = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon)
                    .ok_or_else(|| PeriodError(format!("{y} has no ISO week {w}")))?;
                Ok(Period { kind, start, end: start + Duration::days(7) })
            }
            PeriodKind::Month => {
                let (y, m) = code.split_once('-').ok_or_else(|| bad("2026-11"))?;
                let y = year_ok(y.parse().map_err(|_| bad("2026-11"))?)?;
                let m: u32 = m.parse().map_err(|_| bad("2026-11"))?;
                let start = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(|| PeriodError(format!("no month {m}")))?;
                Ok(Period { kind, start, end: add_months(start, 1) })
            }
            PeriodKind::Quarter => {
                let (y, q) = code.split_once('Q').ok_or_else(|| bad("2026Q4"))?;
                let y = year_ok(y.trim_end_matches('-').parse().map_err(|_| bad("2026Q4"))?)?;
                let q: u32 = q.parse().map_err(|_| bad("2026Q4"))?;
                if !(1..=4).contains(&q) {
                    return Err(PeriodError(format!("no quarter {q}: quarters are 1–4")));
                }
                let start = NaiveDate::from_ymd_opt(y, 3 * q - 2, 1).expect("valid quarter start");
                Ok(Period { kind, start, end: add_months(start, 3) })
            }
        }
    }

    /// The period of this kind that holds a county date.
    pub fn containing(kind: PeriodKind, date: NaiveDate) -> Period {
        let start = match kind {
            PeriodKind::Week => date - Duration::days(date.weekday().num_days_from_monday() as i64),
            PeriodKind::Month => date.with_day(1).expect("day 1 exists"),
            PeriodKind::Quarter => {
                NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).expect("valid quarter start")
            }
        };
        let end = match kind {
            PeriodKind::Week => start + Duration::days(7),
            PeriodKind::Month => add_months(start, 1),
            PeriodKind::Quarter => add_months(start, 3),
        };
        Period { kind, start, end }
    }

    /// The last period of this kind that has ended by a county date (last week, last month, last quarter):
    /// the one a report issued on that date covers.
    pub fn last_complete(kind: PeriodKind, today: NaiveDate) -> Period {
        Period::containing(kind, today).previous()
    }

    /// The period just before.
    pub fn previous(self) -> Period {
        Period::containing(self.kind, self.start - Duration::days(1))
    }

    /// The code people write: `2026-W48`, `2026-11`, `2026Q4`.
    pub fn code(self) -> String {
        match self.kind {
            PeriodKind::Week => {
                let w = self.start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Month => format!("{}-{:02}", self.start.year(), self.start.month()),
            PeriodKind::Quarter => format!("{}Q{}", self.start.year(), self.start.month0() / 3 + 1),
        }
    }

    /// The period's first instant.
    pub fn starts_at(self) -> DateTime<Utc> {
        china_midnight(self.start)
    }

    /// The instant the period ends (midnight China time after its last day).
    pub fn ends_at(self) -> DateTime<Utc> {
        china_midnight(self.end)
    }

    /// The last day of the period.
    pub fn last_day(self) -> NaiveDate {
        self.end - Duration::days(1)
    }

    /// The instant the figures are counted at: the period's end, or `now` for a period not over yet.
    pub fn as_of(self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.ends_at().min(now)
    }

    /// The `n` periods of this kind ending with this one, oldest first (a trend chart's weeks or months).
    pub fn trailing(self, n: usize) -> Vec<Period> {
        let mut out = vec![self];
        while out.len() < n {
            let first = out[0].previous();
            out.insert(0, first);
        }
        out
    }

    /// How the period is named in Chinese: `2026年第48周`, `2026年11月`, `2026年第四季度`.
    pub fn title_zh(self) -> String {
        match self.kind {
            PeriodKind::Week => {
                let w = self.start.iso_week();
                format!("{}年第{}周", w.year(), w.week())
            }
            PeriodKind::Month => format!("{}年{}月", self.start.year(), self.start.month()),
            PeriodKind::Quarter => {
                let q = ["一", "二", "三", "四"][(self.start.month0() / 3) as usize];
                format!("{}年第{q}季度", self.start.year())
            }
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Period", 5)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("code", &self.code())?;
        st.serialize_field("start", &self.start)?;
        st.serialize_field("end", &self.last_day())?;
        st.serialize_field("title", &self.title_zh())?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            kind: PeriodKind,
            code: String,
        }
        let w = Wire::deserialize(d)?;
        Period::parse(w.kind, &w.code).map_err(serde::de::Error::custom)
    }
}

fn add_months(first_of_month: NaiveDate, months: u32) -> NaiveDate {
    first_of_month.checked_add_months(chrono::Months::new(months)).expect("dates up to 2100 are in range")
}

/// The figures of a period and a scope, counted from site events as of the period's end. Counts of moves
/// ("found", "dispatched", …) count the moves made within the period; states ("overdue", "open") are the
/// sites' states at the period's end. A site counts in the town it was in, and for the unit it was
/// dispatched to, at the time of the count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// 发现: sites opened (the first report of a place) within the period.
    pub found: i64,
    /// 核实: verify moves.
    pub verified: i64,
    /// 派单: dispatch moves.
    pub dispatched: i64,
    /// 销号: close-outs approved by the reviewer.
    pub closed: i64,
    /// 按期销号: close-outs approved on or before the site's deadline as it stood then (county date).
    pub closed_on_time: i64,
    /// 逾期: sites open at the period's end whose deadline, as it stood then, is before the county date of
    /// that instant (the map's `overdue` rule, as of that instant: a deadline on the last day of the period
    /// is overdue when the period ends with the site still open).
    pub overdue: i64,
    /// 在办: sites open at the period's end (reported, verified, assigned, in progress, pending review,
    /// reopened).
    pub open: i64,
    /// 退回: close-outs returned by review.
    pub returned: i64,
    /// 回头看: look-backs recorded (passed or relapsed).
    pub look_backs: i64,
    /// 反弹: look-backs that found the hazard back.
    pub relapsed: i64,
    /// 申请延期: extension requests.
    pub extensions_requested: i64,
    /// 批准延期: extension requests approved.
    pub extensions_approved: i64,
    /// 挂牌督办: supervision listings made (a level other than none set on a site not yet listed).
    pub supervision_listed: i64,
    /// 摘牌: supervision lifted (the level set back to none, or the listed site closed).
    pub supervision_lifted: i64,
    /// Sites under listed supervision at the period's end that are still open.
    pub supervision_open: i64,
    /// Median days from a site's opening to its first dispatch, over the dispatches of the period.
    pub median_days_report_to_dispatch: Option<f64>,
    /// Median days from the dispatch to the unit's acceptance (响应), over the acceptances of the period.
    pub median_days_dispatch_to_accept: Option<f64>,
    /// Median days from a site's first dispatch to its close-out, over the close-outs of the period.
    pub median_days_dispatch_to_close: Option<f64>,
}

/// One figure's name, as the API, the click-through to the sites and the tests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    Found,
    Verified,
    Dispatched,
    Closed,
    ClosedOnTime,
    Overdue,
    Open,
    Returned,
    LookBacks,
    Relapsed,
    ExtensionsRequested,
    ExtensionsApproved,
    SupervisionListed,
    SupervisionLifted,
    SupervisionOpen,
}

impl Figure {
    pub const ALL: [Figure; 15] = [
        Figure::Found,
        Figure::Verified,
        Figure::Dispatched,
        Figure::Closed,
        Figure::ClosedOnTime,
        Figure::Overdue,
        Figure::Open,
        Figure::Returned,
        Figure::LookBacks,
        Figure::Relapsed,
        Figure::ExtensionsRequested,
        Figure::ExtensionsApproved,
        Figure::SupervisionListed,
        Figure::SupervisionLifted,
        Figure::SupervisionOpen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Figure::Found => "found",
            Figure::Verified => "verified",
            Figure::Dispatched => "dispatched",
            Figure::Closed => "closed",
            Figure::ClosedOnTime => "closed_on_time",
            Figure::Overdue => "overdue",
            Figure::Open => "open",
            Figure::Returned => "returned",
            Figure::LookBacks => "look_backs",
            Figure::Relapsed => "relapsed",
            Figure::ExtensionsRequested => "extensions_requested",
            Figure::ExtensionsApproved => "extensions_approved",
            Figure::SupervisionListed => "supervision_listed",
            Figure::SupervisionLifted => "supervision_lifted",
            Figure::SupervisionOpen => "supervision_open",
        }
    }

    /// The Chinese column title.
    pub fn label_zh(self) -> &'static str {
        match self {
            Figure::Found => "发现",
            Figure::Verified => "核实",
            Figure::Dispatched => "派单",
            Figure::Closed => "销号",
            Figure::ClosedOnTime => "按期销号",
            Figure::Overdue => "逾期",
            Figure::Open => "在办",
            Figure::Returned => "退回",
            Figure::LookBacks => "回头看",
            Figure::Relapsed => "反弹",
            Figure::ExtensionsRequested => "申请延期",
            Figure::ExtensionsApproved => "批准延期",
            Figure::SupervisionListed => "挂牌督办",
            Figure::SupervisionLifted => "摘牌",
            Figure::SupervisionOpen => "督办在办",
        }
    }

    pub fn of(self, f: &Figures) -> i64 {
        match self {
            Figure::Found => f.found,
            Figure::Verified => f.verified,
            Figure::Dispatched => f.dispatched,
            Figure::Closed => f.closed,
            Figure::ClosedOnTime => f.closed_on_time,
            Figure::Overdue => f.overdue,
            Figure::Open => f.open,
            Figure::Returned => f.returned,
            Figure::LookBacks => f.look_backs,
            Figure::Relapsed => f.relapsed,
            Figure::ExtensionsRequested => f.extensions_requested,
            Figure::ExtensionsApproved => f.extensions_approved,
            Figure::SupervisionListed => f.supervision_listed,
            Figure::SupervisionLifted => f.supervision_lifted,
            Figure::SupervisionOpen => f.supervision_open,
        }
    }
}

impl std::str::FromStr for Figure {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Figure::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Figure::ALL.iter().map(|f| f.as_str()).collect();
            PeriodError(format!("unknown figure {s:?}: one of {}", known.join(", ")))
        })
    }
}

/// Whose figures a report holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportScope {
    /// The whole county, town by town.
    County,
    /// One town (区镇).
    Town { id: i32, code: String, name: String },
    /// One responsible unit (责任单位): the sites dispatched to it.
    Unit { id: i32, name: String },
}

/// One row of a report's per-town table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TownFigures {
    /// `None` for the sites in no town (outside every boundary).
    pub town_id: Option<i32>,
    pub code: Option<String>,
    pub name: String,
    pub figures: Figures,
    pub previous: Figures,
}

/// A site open and past its deadline at the period's end, for the list of the worst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverdueSite {
    pub id: Uuid,
    pub code: String,
    pub town: Option<String>,
    /// Route code and stake, e.g. `X202 K12+300`.
    pub road: Option<String>,
    pub kind: String,
    pub hazard_level: Option<String>,
    pub responsible_unit: Option<String>,
    pub status: String,
    pub deadline: NaiveDate,
    /// Days past the deadline at the period's end.
    pub days_overdue: i64,
}

/// One period of a trend chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendPoint {
    pub code: String,
    pub found: i64,
    pub closed: i64,
    /// Sites open at the period's end.
    pub open: i64,
}

/// Sites per status at the period's end (the donut).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    pub status: String,
    pub sites: i64,
}

/// A weekly summary or a monthly bulletin: what the page shows, the PDF prints and the XLSX tabulates, and
/// what a publication stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    #[schema(value_type = Object)]
    pub period: Period,
    #[schema(value_type = Object)]
    pub previous_period: Period,
    pub scope: ReportScope,
    /// The instant the figures are counted at: the period's end, or the time of the request for a period
    /// not over yet.
    pub as_of: DateTime<Utc>,
    pub totals: Figures,
    pub previous_totals: Figures,
    /// Town by town, in town code order; for a town's report, that town only.
    pub towns: Vec<TownFigures>,
    /// The longest overdue at the period's end, most days first (at most [`WORST_OVERDUE`]).
    pub worst_overdue: Vec<OverdueSite>,
    /// Found, closed and open of the last [`TREND_PERIODS`] periods, ending with this one.
    pub trend: Vec<TrendPoint>,
    /// Sites per status at the period's end.
    pub statuses: Vec<StatusCount>,
    /// SHA-256 (hex) of the events counted: their ids, sites, kinds and times, in id order. The same hash
    /// tomorrow says the same inputs.
    pub inputs_sha256: String,
}

/// How many overdue sites a report lists.
pub const WORST_OVERDUE: usize = 10;
/// How many periods a trend chart shows.
pub const TREND_PERIODS: usize = 8;

/// The ranking's weights (a county setting, `--ranking-weights`): how much each measure counts, in points
/// that need not add up to 100 (the score divides by their sum).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RankingWeights {
    /// 按期整改率: close-outs on time / (close-outs + sites overdue at the end).
    pub on_time_rate: f64,
    /// 逾期数: sites overdue at the quarter's end.
    pub overdue: f64,
    /// 退回率: returns / (returns + close-outs).
    pub return_rate: f64,
    /// 反弹率: relapses / look-backs.
    pub relapse_rate: f64,
    /// 响应时间: median days from dispatch to the unit's acceptance.
    pub response_days: f64,
}

impl Default for RankingWeights {
    fn default() -> Self {
        RankingWeights { on_time_rate: 35.0, overdue: 25.0, return_rate: 15.0, relapse_rate: 15.0, response_days: 10.0 }
    }
}

impl std::str::FromStr for RankingWeights {
    type Err = String;

    /// `on_time_rate=35,overdue=25,return_rate=15,relapse_rate=15,response_days=10`; a name left out keeps its
    /// default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut w = RankingWeights::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("{part:?} is not NAME=POINTS"))?;
            let v: f64 = value.trim().parse().map_err(|_| format!("{value:?} is not a number"))?;
            if !(0.0..=1000.0).contains(&v) {
                return Err(format!("weight {name} = {v} is outside 0–1000"));
            }
            match name.trim() {
                "on_time_rate" => w.on_time_rate = v,
                "overdue" => w.overdue = v,
                "return_rate" => w.return_rate = v,
                "relapse_rate" => w.relapse_rate = v,
                "response_days" => w.response_days = v,
                other => {
                    return Err(format!(
                        "unknown weight {other:?}: on_time_rate, overdue, return_rate, relapse_rate, response_days"
                    ));
                }
            }
        }
        if w.sum() <= 0.0 {
            return Err("at least one weight must be above 0".into());
        }
        Ok(w)
    }
}

impl RankingWeights {
    fn sum(&self) -> f64 {
        self.on_time_rate + self.overdue + self.return_rate + self.relapse_rate + self.response_days
    }
}

/// How many towns the sunny and the rainy bands hold (a county setting, `--ranking-bands`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RankingBands {
    pub sunny: usize,
    pub rainy: usize,
}

impl Default for RankingBands {
    fn default() -> Self {
        RankingBands { sunny: 3, rainy: 3 }
    }
}

/// A town's place on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// 晴: the top of the board.
    Sunny,
    Middle,
    /// 雨: the bottom.
    Rainy,
}

/// The five measures of one town for a quarter. A rate or a median with nothing to measure is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Measures {
    pub on_time_rate: Option<f64>,
    pub overdue: i64,
    pub return_rate: Option<f64>,
    pub relapse_rate: Option<f64>,
    pub response_days: Option<f64>,
}

impl Measures {
    pub fn of(f: &Figures) -> Measures {
        let rate = |num: i64, den: i64| (den > 0).then(|| num as f64 / den as f64);
        Measures {
            on_time_rate: rate(f.closed_on_time, f.closed + f.overdue),
            overdue: f.overdue,
            return_rate: rate(f.returned, f.returned + f.closed),
            relapse_rate: rate(f.relapsed, f.look_backs),
            response_days: f.median_days_dispatch_to_accept,
        }
    }
}

/// One town on the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RankedTown {
    /// 1 is the best. Every town has its own rank: ties are broken (see [`rank`]).
    pub rank: usize,
    pub band: Band,
    pub town_id: i32,
    pub code: String,
    pub name: String,
    /// 0–100.
    pub score: f64,
    pub measures: Measures,
    pub figures: Figures,
}

/// The quarterly ranking (晴雨榜).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ranking {
    #[schema(value_type = Object)]
    pub period: Period,
    pub as_of: DateTime<Utc>,
    pub weights: RankingWeights,
    pub bands: RankingBands,
    pub towns: Vec<RankedTown>,
    pub inputs_sha256: String,
}

/// A town with its figures, as the ranking takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TownInput {
    pub town_id: i32,
    pub code: String,
    pub name: String,
    pub figures: Figures,
}

/// Ranks the towns.
///
/// Each measure is scored 0–100 among the towns that have it: the best value 100, the worst 0, linearly
/// between (all equal: 100). A town without a value for a measure (nothing closed, no look-back, …) gets the
/// mean of the others' scores for it, so having nothing to show neither helps nor hurts. The score is the
/// weighted mean of the five, rounded to 0.01.
///
/// Ties are broken, in order, by: the higher on-time rate (none counts lowest), fewer overdue sites, the town
/// code. The top `bands.sunny` towns are sunny and the bottom `bands.rainy` rainy, each at most half the
/// board, so a town is never both.
pub fn rank(towns: Vec<TownInput>, weights: &RankingWeights, bands: &RankingBands) -> Vec<RankedTown> {
    let measures: Vec<Measures> = towns.iter().map(|t| Measures::of(&t.figures)).collect();
    // Higher is better for the rates of good things, lower for the rest.
    type Measure = fn(&Measures) -> Option<f64>;
    let columns: [(f64, Measure, bool); 5] = [
        (weights.on_time_rate, |m| m.on_time_rate, true),
        (weights.overdue, |m| Some(m.overdue as f64), false),
        (weights.return_rate, |m| m.return_rate, false),
        (weights.relapse_rate, |m| m.relapse_rate, false),
        (weights.response_days, |m| m.response_days, false),
    ];
    let mut scores = vec![0.0; towns.len()];
    for (weight, value, higher_is_better) in &columns {
        let values: Vec<Option<f64>> = measures.iter().map(value).collect();
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        let (lo, hi) = known.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let scored: Vec<Option<f64>> = values
            .iter()
            .map(|v| {
                v.map(|v| {
                    if hi - lo < 1e-12 {
                        100.0
                    } else if *higher_is_better {
                        100.0 * (v - lo) / (hi - lo)
                    } else {
                        100.0 * (hi - v) / (hi - lo)
                    }
                })
            })
            .collect();
        let known_scores: Vec<f64> = scored.iter().flatten().copied().collect();
        let mean =
            if known_scores.is_empty() { 100.0 } else { known_scores.iter().sum::<f64>() / known_scores.len() as f64 };
        for (total, s) in scores.iter_mut().zip(&scored) {
            *total += weight * s.unwrap_or(mean);
        }
    }
    let sum = weights.sum();
    let mut ranked: Vec<RankedTown> = towns
        .into_iter()
        .zip(measures)
        .zip(scores)
        .map(|((t, m), s)| RankedTown {
            rank: 0,
            band: Band::Middle,
            town_id: t.town_id,
            code: t.code,
            name: t.name,
            score: (s / sum * 100.0).round() / 100.0,
            measures: m,
            figures: t.figures,
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.measures.on_time_rate.unwrap_or(-1.0).total_cmp(&a.measures.on_time_rate.unwrap_or(-1.0)))
            .then_with(|| a.measures.overdue.cmp(&b.measures.overdue))
            .then_with(|| a.code.cmp(&b.code))
    });
    let n = ranked.len();
    let sunny = bands.sunny.min(n / 2);
    let rainy = bands.rainy.min(n / 2);
    for (i, t) in ranked.iter_mut().enumerate() {
        t.rank = i + 1;
        t.band = if i < sunny {
            Band::Sunny
        } else if i >= n - rainy {
            Band::Rainy
        } else {
            Band::Middle
        };
    }
    ranked
}

/// A number of days as reports print it: to a tenth of a day.
pub fn to_tenth_of_a_day(days: f64) -> f64 {
    (days * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_parse_and_print_back() {
        let w = Period::parse(PeriodKind::Week, "2026-W48").unwrap();
        assert_eq!((w.start, w.end), (d(2026, 11, 23), d(2026, 11, 30)));
        assert_eq!(w.code(), "2026-W48");
        assert_eq!(w.title_zh(), "2026年第48周");
        let m = Period::parse(PeriodKind::Month, "2026-11").unwrap();
        assert_eq!((m.start, m.end), (d(2026, 11, 1), d(2026, 12, 1)));
        assert_eq!(m.code(), "2026-11");
        let q = Period::parse(PeriodKind::Quarter, "2026Q4").unwrap();
        assert_eq!((q.start, q.end), (d(2026, 10, 1), d(2027, 1, 1)));
        assert_eq!(Period::parse(PeriodKind::Quarter, "2026-Q4").unwrap(), q);
        assert_eq!(q.code(), "2026Q4");
        assert_eq!(q.title_zh(), "2026年第四季度");
        // ISO week 1 of 2027 starts in 2027-01-04; week 53 of 2026 exists (2026 starts on a Thursday).
        assert_eq!(Period::parse(PeriodKind::Week, "2026-W53").unwrap().start, d(2026, 12, 28));
        assert_eq!(Period::containing(PeriodKind::Week, d(2027, 1, 1)).code(), "2026-W53");
    }

    #[test]
    fn bad_periods_say_what_is_expected() {
        for (kind, code) in [
            (PeriodKind::Week, "2026-11"),
            (PeriodKind::Week, "2025-W53"),
            (PeriodKind::Month, "2026-13"),
            (PeriodKind::Month, "1999-01"),
            (PeriodKind::Quarter, "2026Q5"),
            (PeriodKind::Quarter, "2026-11"),
            (PeriodKind::Month, "20261111111111111111"),
        ] {
            assert!(Period::parse(kind, code).is_err(), "{kind:?} {code}");
        }
    }

    #[test]
    fn periods_step_back_and_end_at_china_midnight() {
        let m = Period::parse(PeriodKind::Month, "2026-01").unwrap();
        assert_eq!(m.previous().code(), "2025-12");
        assert_eq!(Period::parse(PeriodKind::Quarter, "2026Q1").unwrap().previous().code(), "2025Q4");
        assert_eq!(Period::last_complete(PeriodKind::Month, d(2026, 12, 7)).code(), "2026-11");
        assert_eq!(Period::last_complete(PeriodKind::Week, d(2026, 12, 7)).code(), "2026-W49");
        assert_eq!(m.ends_at().to_rfc3339(), "2026-01-31T16:00:00+00:00");
        let trend: Vec<String> = m.trailing(3).into_iter().map(Period::code).collect();
        assert_eq!(trend, ["2025-11", "2025-12", "2026-01"]);
    }

    fn town(code: &str, f: Figures) -> TownInput {
        TownInput { town_id: code.parse().unwrap(), code: code.into(), name: format!("镇{code}"), figures: f }
    }

    #[test]
    fn ranking_scores_bands_and_breaks_ties() {
        let good = Figures {
            closed: 10,
            closed_on_time: 10,
            look_backs: 4,
            median_days_dispatch_to_accept: Some(1.0),
            ..Default::default()
        };
        let bad = Figures {
            closed: 10,
            closed_on_time: 5,
            overdue: 5,
            returned: 5,
            look_backs: 4,
            relapsed: 2,
            median_days_dispatch_to_accept: Some(5.0),
            ..Default::default()
        };
        // Two identical middling towns: the code decides.
        let mid = Figures {
            closed: 10,
            closed_on_time: 8,
            overdue: 2,
            returned: 1,
            look_backs: 4,
            relapsed: 1,
            median_days_dispatch_to_accept: Some(3.0),
            ..Default::default()
        };
        let towns = vec![
            town("3", mid.clone()),
            town("1", bad),
            town("2", mid),
            town("4", good),
            town("5", Figures::default()),
        ];
        let r = rank(towns, &RankingWeights::default(), &RankingBands { sunny: 1, rainy: 1 });
        let order: Vec<&str> = r.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(order[0], "4", "{r:#?}");
        assert_eq!(*order.last().unwrap(), "1");
        let pos = |c: &str| order.iter().position(|o| *o == c).unwrap();
        assert!(pos("2") < pos("3"), "equal scores fall back to the code: {order:?}");
        assert_eq!(r[0].score, 100.0);
        assert_eq!(r.last().unwrap().score, 0.0);
        assert_eq!((r[0].band, r[1].band, r[4].band), (Band::Sunny, Band::Middle, Band::Rainy));
        assert_eq!(r.iter().map(|t| t.rank).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        // The empty town has no rates: it scores the mean on those, and the best on overdue (0).
        let empty = r.iter().find(|t| t.code == "5").unwrap();
        assert_eq!(empty.measures.on_time_rate, None);
        assert!(empty.score > 0.0 && empty.score < 100.0, "{empty:?}");
    }

    #[test]
    fn bands_never_overlap_on_a_small_board() {
        let towns = (1..=3).map(|i| town(&i.to_string(), Figures { overdue: i, ..Default::default() })).collect();
        let r = rank(towns, &RankingWeights::default(), &RankingBands { sunny: 3, rainy: 3 });
        assert_eq!(r.iter().map(|t| t.band).collect::<Vec<_>>(), [Band::Sunny, Band::Middle, Band::Rainy]);
    }

    #[test]
    fn weights_parse_with_defaults_and_refuse_nonsense() {
        let w: RankingWeights = "overdue=50, response_days=0".parse().unwrap();
        assert_eq!((w.overdue, w.response_days, w.on_time_rate), (50.0, 0.0, 35.0));
        assert!("speed=3".parse::<RankingWeights>().is_err());
        assert!("overdue=-1".parse::<RankingWeights>().is_err());
        assert!(
            "on_time_rate=0,overdue=0,return_rate=0,relapse_rate=0,response_days=0".parse::<RankingWeights>().is_err()
        );
    }

    #[test]
    fn drafts_fall_due_at_eight_the_next_morning() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Monday 2026-12-07, 07:59 and 08:00 China time.
        assert_eq!(ReportKind::Weekly.due_period(at("2026-12-07T07:59:00+08:00")).code(), "2026-W48");
        assert_eq!(ReportKind::Weekly.due_period(at("2026-12-07T08:00:00+08:00")).code(), "2026-W49");
        assert_eq!(ReportKind::Monthly.due_period(at("2026-12-01T08:00:00+08:00")).code(), "2026-11");
        assert_eq!(ReportKind::Monthly.due_period(at("2026-12-01T07:00:00+08:00")).code(), "2026-10");
        assert_eq!(ReportKind::Ranking.due_period(at("2026-12-07T12:00:00+08:00")).code(), "2026Q3");
    }

    #[test]
    fn days_are_printed_to_a_tenth() {
        assert_eq!(to_tenth_of_a_day(20.499), 20.5);
        assert_eq!(to_tenth_of_a_day(1.04), 1.0);
    }
}
