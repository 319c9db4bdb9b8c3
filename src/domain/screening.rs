//! Black-spot screening (事故多发点段筛查, DOMAIN.md §7): the parameters of each method with the county's
//! defaults and their limits, the sliding window along a road, the score, the ranking rule and what
//! "dominant" means. Pure: `db::screening` finds which crashes lie where; this module decides what passes,
//! how it scores and in which order, so the same crashes and parameters always give the same candidates.
//!
//! Defaults are DOMAIN.md's: a 500 m window in 100 m steps with ≥ 3 crashes or ≥ 1 fatal crash in 3 years;
//! crashes within 50 m of a junction; DBSCAN with ε = 100 m and 3 points. A county overrides them with
//! `serve --screening-defaults` (the same JSON a run is sent), and a run may override them again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value};

use super::crash::{CrashType, ScreeningMethod, Severity, TimeBand};

/// Limits of every parameter, inclusive. Outside them a run is refused with the parameter's name.
pub const WINDOW_M: (f64, f64) = (50.0, 5_000.0);
pub const STEP_M_MIN: f64 = 10.0;
pub const RADIUS_M: (f64, f64) = (5.0, 500.0);
pub const EPS_M: (f64, f64) = (10.0, 1_000.0);
pub const MIN_POINTS: (u32, u32) = (2, 100);
pub const SNAP_M: (f64, f64) = (1.0, 200.0);
pub const MIN_CRASHES: (u32, u32) = (1, 1_000);
/// 0 turns the fatal rule off.
pub const MIN_FATAL_CRASHES: (u32, u32) = (0, 1_000);
pub const WEIGHT: (f64, f64) = (0.0, 1_000.0);
pub const MIN_SCORE: (f64, f64) = (0.0, 1_000_000.0);
/// The longest data window a run reads.
pub const DATA_YEARS_MAX: u32 = 10;

/// Equivalent property damage only (EPDO) weights: a crash scores the weight of its severity. The default
/// 12 / 3 / 1 is the usual simplified EPDO practice (a fatal crash counts as twelve damage-only ones, an
/// injury crash as three); it is a local choice, not a national standard, and a county with its own crash
/// costs sets its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpdoWeights {
    pub fatal: f64,
    pub injury: f64,
    pub property_damage_only: f64,
}

impl Default for EpdoWeights {
    fn default() -> Self {
        EpdoWeights { fatal: 12.0, injury: 3.0, property_damage_only: 1.0 }
    }
}

impl EpdoWeights {
    pub fn of(&self, severity: Severity) -> f64 {
        match severity {
            Severity::Fatal => self.fatal,
            Severity::Injury => self.injury,
            Severity::PropertyDamageOnly => self.property_damage_only,
        }
    }
}

/// What a window or junction needs to become a candidate: enough crashes, or enough fatal crashes, or (when
/// set) a high enough EPDO score. Any one suffices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub min_crashes: u32,
    /// 0: the fatal rule is off.
    pub min_fatal_crashes: u32,
    pub min_score: Option<f64>,
}

impl Threshold {
    pub fn passes(&self, crashes: u32, fatal: u32, score: f64) -> bool {
        crashes >= self.min_crashes
            || (self.min_fatal_crashes > 0 && fatal >= self.min_fatal_crashes)
            || self.min_score.is_some_and(|t| score >= t)
    }
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold { min_crashes: 3, min_fatal_crashes: 1, min_score: None }
    }
}

/// A window slid along each road: windows `[k·step, k·step + window)` of the road's measure; overlapping
/// windows that pass are merged into one stretch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlidingWindow {
    pub window_m: f64,
    pub step_m: f64,
    /// A crash placed by coordinates belongs to the nearest road within this distance (one placed by stake
    /// belongs to its road).
    pub snap_m: f64,
    #[serde(flatten)]
    pub threshold: Threshold,
    pub epdo_weights: EpdoWeights,
}

impl Default for SlidingWindow {
    fn default() -> Self {
        SlidingWindow {
            window_m: 500.0,
            step_m: 100.0,
            snap_m: 30.0,
            threshold: Threshold::default(),
            epdo_weights: EpdoWeights::default(),
        }
    }
}

/// Crashes within `radius_m` of a junction of the road network (where two roads meet or cross) or an
/// intersection site; a crash counts for its nearest junction only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Junction {
    pub radius_m: f64,
    #[serde(flatten)]
    pub threshold: Threshold,
    pub epdo_weights: EpdoWeights,
}

impl Default for Junction {
    fn default() -> Self {
        Junction { radius_m: 50.0, threshold: Threshold::default(), epdo_weights: EpdoWeights::default() }
    }
}

/// Density clusters (DBSCAN on the county's metric coordinates), for places the road network does not name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dbscan {
    pub eps_m: f64,
    pub min_points: u32,
    /// Cluster only the crashes farther than `snap_m` from every road (the windows cover the others).
    pub off_network_only: bool,
    pub snap_m: f64,
    pub epdo_weights: EpdoWeights,
}

impl Default for Dbscan {
    fn default() -> Self {
        Dbscan { eps_m: 100.0, min_points: 3, off_network_only: false, snap_m: 30.0, epdo_weights: Default::default() }
    }
}

/// One method with its parameters, all filled in: what a run stores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parameters {
    SlidingWindow(SlidingWindow),
    Junction(Junction),
    Dbscan(Dbscan),
}

impl Parameters {
    pub fn method(&self) -> ScreeningMethod {
        match self {
            Parameters::SlidingWindow(_) => ScreeningMethod::SlidingWindow,
            Parameters::Junction(_) => ScreeningMethod::Junction,
            Parameters::Dbscan(_) => ScreeningMethod::Dbscan,
        }
    }

    pub fn weights(&self) -> &EpdoWeights {
        match self {
            Parameters::SlidingWindow(p) => &p.epdo_weights,
            Parameters::Junction(p) => &p.epdo_weights,
            Parameters::Dbscan(p) => &p.epdo_weights,
        }
    }

    /// The stored form (`screening_run.parameters`): every parameter, defaults included, so a run can be
    /// repeated from its row alone.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Parameters::SlidingWindow(p) => serde_json::to_value(p),
            Parameters::Junction(p) => serde_json::to_value(p),
            Parameters::Dbscan(p) => serde_json::to_value(p),
        };
        value.expect("parameters serialise")
    }

    /// These parameters with the ones named in `given` changed, each checked against its limit.
    pub fn apply(mut self, given: &Map<String, Value>) -> Result<Parameters, ParameterError> {
        for (name, value) in given {
            match &mut self {
                Parameters::SlidingWindow(p) => match name.as_str() {
                    "window_m" => p.window_m = number(name, value, WINDOW_M)?,
                    "step_m" => p.step_m = number(name, value, (STEP_M_MIN, WINDOW_M.1))?,
                    "snap_m" => p.snap_m = number(name, value, SNAP_M)?,
                    "epdo_weights" => p.epdo_weights = weights(p.epdo_weights, value)?,
                    _ => threshold(&mut p.threshold, name, value, &SLIDING_WINDOW_NAMES)?,
                },
                Parameters::Junction(p) => match name.as_str() {
                    "radius_m" => p.radius_m = number(name, value, RADIUS_M)?,
                    "epdo_weights" => p.epdo_weights = weights(p.epdo_weights, value)?,
                    _ => threshold(&mut p.threshold, name, value, &JUNCTION_NAMES)?,
                },
                Parameters::Dbscan(p) => match name.as_str() {
                    "eps_m" => p.eps_m = number(name, value, EPS_M)?,
                    "min_points" => p.min_points = whole(name, value, MIN_POINTS)?,
                    "snap_m" => p.snap_m = number(name, value, SNAP_M)?,
                    "off_network_only" => {
                        p.off_network_only =
                            value.as_bool().ok_or_else(|| ParameterError::new(name, "is not true or false"))?
                    }
                    "epdo_weights" => p.epdo_weights = weights(p.epdo_weights, value)?,
                    _ => return Err(unknown(name, &DBSCAN_NAMES)),
                },
            }
        }
        if let Parameters::SlidingWindow(p) = &self
            && p.step_m > p.window_m
        {
            return Err(ParameterError::new(
                "step_m",
                &format!("= {} is longer than window_m = {}: windows would leave gaps", p.step_m, p.window_m),
            ));
        }
        Ok(self)
    }
}

const SLIDING_WINDOW_NAMES: [&str; 7] =
    ["window_m", "step_m", "snap_m", "min_crashes", "min_fatal_crashes", "min_score", "epdo_weights"];
const JUNCTION_NAMES: [&str; 5] = ["radius_m", "min_crashes", "min_fatal_crashes", "min_score", "epdo_weights"];
const DBSCAN_NAMES: [&str; 5] = ["eps_m", "min_points", "off_network_only", "snap_m", "epdo_weights"];

/// A parameter refused: its name (as the request wrote it) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} {message}")]
pub struct ParameterError {
    pub name: String,
    pub message: String,
}

impl ParameterError {
    fn new(name: &str, message: &str) -> Self {
        ParameterError { name: name.chars().take(64).collect(), message: message.to_string() }
    }
}

fn unknown(name: &str, known: &[&str]) -> ParameterError {
    ParameterError::new(name, &format!("is not a parameter of this method; it takes {}", known.join(", ")))
}

fn number(name: &str, value: &Value, (lo, hi): (f64, f64)) -> Result<f64, ParameterError> {
    match value.as_f64() {
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        Some(v) => Err(ParameterError::new(name, &format!("= {v} is outside {lo}–{hi}"))),
        None => Err(ParameterError::new(name, &format!("is not a number (give {lo}–{hi})"))),
    }
}

fn whole(name: &str, value: &Value, (lo, hi): (u32, u32)) -> Result<u32, ParameterError> {
    match value.as_u64() {
        Some(v) if (u64::from(lo)..=u64::from(hi)).contains(&v) => Ok(v as u32),
        _ => Err(ParameterError::new(name, &format!("= {value} is not a whole number in {lo}–{hi}"))),
    }
}

fn threshold(t: &mut Threshold, name: &str, value: &Value, known: &[&str]) -> Result<(), ParameterError> {
    match name {
        "min_crashes" => t.min_crashes = whole(name, value, MIN_CRASHES)?,
        "min_fatal_crashes" => t.min_fatal_crashes = whole(name, value, MIN_FATAL_CRASHES)?,
        "min_score" => t.min_score = if value.is_null() { None } else { Some(number(name, value, MIN_SCORE)?) },
        _ => return Err(unknown(name, known)),
    }
    Ok(())
}

fn weights(mut w: EpdoWeights, value: &Value) -> Result<EpdoWeights, ParameterError> {
    let given = value.as_object().ok_or_else(|| {
        ParameterError::new(
            "epdo_weights",
            "is not an object like {\"fatal\": 12, \"injury\": 3, \"property_damage_only\": 1}",
        )
    })?;
    for (name, v) in given {
        let full = format!("epdo_weights.{name}");
        match name.as_str() {
            "fatal" => w.fatal = number(&full, v, WEIGHT)?,
            "injury" => w.injury = number(&full, v, WEIGHT)?,
            "property_damage_only" => w.property_damage_only = number(&full, v, WEIGHT)?,
            _ => return Err(unknown(&full, &["fatal", "injury", "property_damage_only"])),
        }
    }
    if w.fatal + w.injury + w.property_damage_only <= 0.0 {
        return Err(ParameterError::new("epdo_weights", "are all 0: at least one must be above 0"));
    }
    Ok(w)
}

/// The county's defaults: each method's parameters and how many years a run reads when it names no window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScreeningDefaults {
    pub sliding_window: SlidingWindow,
    pub junction: Junction,
    pub dbscan: Dbscan,
    pub data_years: u32,
}

impl Default for ScreeningDefaults {
    fn default() -> Self {
        ScreeningDefaults {
            sliding_window: SlidingWindow::default(),
            junction: Junction::default(),
            dbscan: Dbscan::default(),
            data_years: 3,
        }
    }
}

impl ScreeningDefaults {
    pub fn of(&self, method: ScreeningMethod) -> Parameters {
        match method {
            ScreeningMethod::SlidingWindow => Parameters::SlidingWindow(self.sliding_window),
            ScreeningMethod::Junction => Parameters::Junction(self.junction),
            ScreeningMethod::Dbscan => Parameters::Dbscan(self.dbscan),
        }
    }
}

impl std::str::FromStr for ScreeningDefaults {
    type Err = String;

    /// `serve --screening-defaults`: JSON like `{"sliding_window": {"window_m": 400}, "data_years": 5}`;
    /// anything left out keeps DOMAIN.md's default. Empty: all defaults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut d = ScreeningDefaults::default();
        if s.trim().is_empty() {
            return Ok(d);
        }
        let value: Value = serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        for (key, value) in object {
            if key == "data_years" {
                d.data_years = whole(key, value, (1, DATA_YEARS_MAX)).map_err(|e| e.to_string())?;
                continue;
            }
            let method: ScreeningMethod = key.parse().map_err(|e| format!("{e} (or data_years)"))?;
            let given = value.as_object().ok_or_else(|| format!("{key} is not an object of parameters"))?;
            let p = d.of(method).apply(given).map_err(|e| format!("{key}.{e}"))?;
            match p {
                Parameters::SlidingWindow(p) => d.sliding_window = p,
                Parameters::Junction(p) => d.junction = p,
                Parameters::Dbscan(p) => d.dbscan = p,
            }
        }
        Ok(d)
    }
}

/// The crashes a run reads, `[start, end)` in county dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataWindow {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DataWindow {
    /// The window a run names, or the last `years` years up to `today` (exclusive: today's crashes may still
    /// be coming in). At most `DATA_YEARS_MAX` years.
    pub fn new(
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        today: NaiveDate,
        years: u32,
    ) -> Result<DataWindow, ParameterError> {
        let end = end.unwrap_or(today);
        let start = match start {
            Some(s) => s,
            None => end
                .checked_sub_months(Months::new(12 * years))
                .ok_or_else(|| ParameterError::new("window.end", "is too early"))?,
        };
        if !(1990..=2100).contains(&start.year()) || !(1990..=2100).contains(&end.year()) {
            return Err(ParameterError::new("window", "must lie within 1990–2100"));
        }
        if start >= end {
            return Err(ParameterError::new("window.start", &format!("{start} is not before window.end {end}")));
        }
        let longest = start.checked_add_months(Months::new(12 * DATA_YEARS_MAX)).unwrap_or(NaiveDate::MAX);
        if end > longest {
            return Err(ParameterError::new(
                "window",
                &format!("{start} to {end} is longer than {DATA_YEARS_MAX} years"),
            ));
        }
        Ok(DataWindow { start, end })
    }
}

/// What scoring needs of one crash read by a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrashFacts {
    pub id: i64,
    pub severity: Severity,
    pub deaths: i32,
    pub injuries: i32,
    pub crash_type: Option<CrashType>,
    pub time_band: TimeBand,
}

/// A place a method found, before scoring: its crashes (ids, ascending) and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<P> {
    pub place: P,
    pub crash_ids: Vec<i64>,
}

/// A place with its score, its rank in the run (1 = worst) and what dominates its crashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored<P> {
    pub place: P,
    pub crash_ids: Vec<i64>,
    pub score: f64,
    pub rank: i32,
    pub crash_count: i32,
    pub fatal_crashes: i32,
    pub deaths: i32,
    pub injuries: i32,
    pub dominant_crash_type: Option<CrashType>,
    pub dominant_time_band: Option<TimeBand>,
}

/// Scores every place and ranks them: score descending, then more crashes first, then the place whose
/// smallest crash id is smallest (crash ids are unique and a run's places share none, so the order is total
/// and the same on every run).
pub fn rank<P>(found: Vec<Found<P>>, crashes: &BTreeMap<i64, CrashFacts>, weights: &EpdoWeights) -> Vec<Scored<P>> {
    let mut scored: Vec<Scored<P>> = found
        .into_iter()
        .map(|f| {
            let facts: Vec<&CrashFacts> = f.crash_ids.iter().filter_map(|id| crashes.get(id)).collect();
            Scored {
                score: score(&facts, weights),
                crash_count: facts.len() as i32,
                fatal_crashes: facts.iter().filter(|c| c.severity == Severity::Fatal).count() as i32,
                deaths: facts.iter().map(|c| c.deaths).sum(),
                injuries: facts.iter().map(|c| c.injuries).sum(),
                dominant_crash_type: dominant(facts.iter().filter_map(|c| c.crash_type), CrashType::ALL),
                dominant_time_band: dominant(facts.iter().map(|c| c.time_band), TimeBand::ALL),
                rank: 0,
                place: f.place,
                crash_ids: f.crash_ids,
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.crash_count.cmp(&a.crash_count))
            .then(a.crash_ids.first().cmp(&b.crash_ids.first()))
    });
    for (n, s) in scored.iter_mut().enumerate() {
        s.rank = n as i32 + 1;
    }
    scored
}

/// The EPDO score of a set of crashes: the sum of their severities' weights. Summed in crash id order so the
/// floating-point result is the same on every run.
pub fn score(crashes: &[&CrashFacts], weights: &EpdoWeights) -> f64 {
    let mut ordered: Vec<&&CrashFacts> = crashes.iter().collect();
    ordered.sort_by_key(|c| c.id);
    ordered.iter().map(|c| weights.of(c.severity)).sum()
}

/// The most frequent value; a tie goes to the value that comes first in `order` (the code order of the
/// domain's enum). None when there are no values.
pub fn dominant<T: Copy + PartialEq>(values: impl Iterator<Item = T>, order: &[T]) -> Option<T> {
    let mut counts = vec![0usize; order.len()];
    for v in values {
        if let Some(i) = order.iter().position(|o| *o == v) {
            counts[i] += 1;
        }
    }
    let best = *counts.iter().max()?;
    if best == 0 {
        return None;
    }
    counts.iter().position(|c| *c == best).map(|i| order[i])
}

/// A crash's place along a road: the road, the part of its multi-line, and the measure there (metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Along {
    pub crash_id: i64,
    pub road_id: i32,
    pub part: i32,
    pub measure_m: f64,
}

/// A stretch of one road part, `[from_m, to_m)` of its measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    pub road_id: i32,
    pub part: i32,
    pub from_m: f64,
    pub to_m: f64,
}

/// Slides the window along every road part: windows `[k·step, k·step + window)` for whole k, each holding
/// the crashes whose measure lies in it. A window passes the threshold on its own crashes; passing windows
/// that overlap are merged into one stretch, whose crashes are those of all its windows.
///
/// Why merge rather than keep the best non-overlapping windows: a black spot longer than the window (a bend
/// and the approach to it) is one place for the person who confirms it, and overlapping windows would list
/// the same crashes several times; the merged stretch keeps every crash that made a window pass, once.
pub fn windows(along: &[Along], p: &SlidingWindow, crashes: &BTreeMap<i64, CrashFacts>) -> Vec<Found<Stretch>> {
    let mut by_part: BTreeMap<(i32, i32), Vec<(f64, i64)>> = BTreeMap::new();
    for a in along {
        by_part.entry((a.road_id, a.part)).or_default().push((a.measure_m, a.crash_id));
    }
    let mut out = Vec::new();
    for ((road_id, part), mut points) in by_part {
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // The windows that hold at least one crash: k ≥ 0 with k·step ≤ m < k·step + window (measures and
        // stakes are never negative, so no window starts before 0).
        let mut ks = BTreeSet::new();
        for (m, _) in &points {
            let last = (m / p.step_m).floor() as i64;
            let mut k = last;
            while k >= 0 && (k as f64) * p.step_m + p.window_m > *m {
                ks.insert(k);
                k -= 1;
            }
        }
        let in_range = |from: f64, to: f64| -> Vec<i64> {
            let start = points.partition_point(|(m, _)| *m < from);
            let end = points.partition_point(|(m, _)| *m < to);
            points[start..end].iter().map(|(_, id)| *id).collect()
        };
        let mut island: Option<(i64, i64)> = None;
        let close = |island: (i64, i64), out: &mut Vec<Found<Stretch>>| {
            let from_m = island.0 as f64 * p.step_m;
            let to_m = island.1 as f64 * p.step_m + p.window_m;
            let mut crash_ids = in_range(from_m, to_m);
            crash_ids.sort_unstable();
            out.push(Found { place: Stretch { road_id, part, from_m, to_m }, crash_ids });
        };
        for k in ks {
            let from = k as f64 * p.step_m;
            let ids = in_range(from, from + p.window_m);
            let facts: Vec<&CrashFacts> = ids.iter().filter_map(|id| crashes.get(id)).collect();
            let fatal = facts.iter().filter(|c| c.severity == Severity::Fatal).count() as u32;
            if !p.threshold.passes(facts.len() as u32, fatal, score(&facts, &p.epdo_weights)) {
                continue;
            }
            island = match island {
                // Overlaps the island's last window: the stretch grows.
                Some((first, last)) if from < last as f64 * p.step_m + p.window_m => Some((first, k)),
                Some(done) => {
                    close(done, &mut out);
                    Some((k, k))
                }
                None => Some((k, k)),
            };
        }
        if let Some(done) = island {
            close(done, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(id: i64, severity: Severity, crash_type: Option<CrashType>, time_band: TimeBand) -> CrashFacts {
        let (deaths, injuries) = match severity {
            Severity::Fatal => (1, 0),
            Severity::Injury => (0, 2),
            Severity::PropertyDamageOnly => (0, 0),
        };
        CrashFacts { id, severity, deaths, injuries, crash_type, time_band }
    }

    fn pdo(id: i64) -> CrashFacts {
        facts(id, Severity::PropertyDamageOnly, Some(CrashType::RearEnd), TimeBand::Daytime)
    }

    fn at(crash_id: i64, measure_m: f64) -> Along {
        Along { crash_id, road_id: 1, part: 1, measure_m }
    }

    #[test]
    fn defaults_are_domain_md_s() {
        let d = ScreeningDefaults::default();
        assert_eq!((d.sliding_window.window_m, d.sliding_window.step_m), (500.0, 100.0));
        assert_eq!((d.sliding_window.threshold.min_crashes, d.sliding_window.threshold.min_fatal_crashes), (3, 1));
        assert_eq!(d.junction.radius_m, 50.0);
        assert_eq!((d.dbscan.eps_m, d.dbscan.min_points), (100.0, 3));
        assert_eq!(d.data_years, 3);
    }

    #[test]
    fn parameters_out_of_range_name_themselves() {
        let d = ScreeningDefaults::default();
        let refuse = |method, given: Value| d.of(method).apply(given.as_object().unwrap()).unwrap_err().name;
        assert_eq!(refuse(ScreeningMethod::SlidingWindow, json!({"window_m": 40})), "window_m");
        assert_eq!(refuse(ScreeningMethod::SlidingWindow, json!({"window_m": 200, "step_m": 300})), "step_m");
        assert_eq!(refuse(ScreeningMethod::SlidingWindow, json!({"min_crashes": 2.5})), "min_crashes");
        assert_eq!(refuse(ScreeningMethod::Junction, json!({"radius_m": 501})), "radius_m");
        assert_eq!(refuse(ScreeningMethod::Junction, json!({"eps_m": 100})), "eps_m");
        assert_eq!(refuse(ScreeningMethod::Dbscan, json!({"eps_m": "100"})), "eps_m");
        assert_eq!(refuse(ScreeningMethod::Dbscan, json!({"min_points": 1})), "min_points");
        assert_eq!(refuse(ScreeningMethod::Dbscan, json!({"epdo_weights": {"fatal": -1}})), "epdo_weights.fatal");
        let p = d.of(ScreeningMethod::Dbscan).apply(json!({"eps_m": 60, "min_points": 4}).as_object().unwrap());
        let Ok(Parameters::Dbscan(p)) = p else { panic!("{p:?}") };
        assert_eq!((p.eps_m, p.min_points, p.off_network_only), (60.0, 4, false));
    }

    #[test]
    fn county_defaults_come_from_json_and_are_checked() {
        let d: ScreeningDefaults = r#"{"junction": {"radius_m": 80}, "data_years": 5}"#.parse().unwrap();
        assert_eq!((d.junction.radius_m, d.data_years, d.sliding_window.window_m), (80.0, 5, 500.0));
        let e = r#"{"dbscan": {"eps_m": 5}}"#.parse::<ScreeningDefaults>().unwrap_err();
        assert!(e.starts_with("dbscan.eps_m"), "{e}");
        assert!("{\"nearest\": {}}".parse::<ScreeningDefaults>().is_err());
        assert_eq!("".parse::<ScreeningDefaults>().unwrap(), ScreeningDefaults::default());
    }

    #[test]
    fn the_data_window_defaults_to_the_last_years_and_has_a_limit() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w = DataWindow::new(None, None, d("2026-12-07"), 3).unwrap();
        assert_eq!((w.start, w.end), (d("2023-12-07"), d("2026-12-07")));
        assert!(DataWindow::new(Some(d("2015-01-01")), Some(d("2025-01-02")), d("2026-12-07"), 3).is_err());
        assert!(DataWindow::new(Some(d("2015-01-01")), Some(d("2025-01-01")), d("2026-12-07"), 3).is_ok());
        assert_eq!(
            DataWindow::new(Some(d("2025-01-01")), Some(d("2025-01-01")), d("2026-12-07"), 3).unwrap_err().name,
            "window.start"
        );
    }

    #[test]
    fn dominant_is_the_most_frequent_and_ties_go_to_code_order() {
        use CrashType::*;
        assert_eq!(dominant([HeadOn, RearEnd, HeadOn].into_iter(), CrashType::ALL), Some(HeadOn));
        // One each of head-on and rear-end: rear_end comes first in the codes.
        assert_eq!(dominant([HeadOn, RearEnd].into_iter(), CrashType::ALL), Some(RearEnd));
        assert_eq!(dominant(std::iter::empty(), CrashType::ALL), None);
    }

    #[test]
    fn ranking_is_score_then_count_then_first_crash() {
        let w = EpdoWeights::default();
        let mut crashes: BTreeMap<i64, CrashFacts> = (1..=20).map(|i| (i, pdo(i))).collect();
        crashes.insert(9, facts(9, Severity::Fatal, Some(CrashType::HeadOn), TimeBand::Night));
        let found = vec![
            Found { place: "a", crash_ids: vec![1, 2, 3] },
            Found { place: "b", crash_ids: vec![9] },
            Found { place: "c", crash_ids: vec![4, 5, 6] },
            Found { place: "d", crash_ids: vec![10, 11, 12, 13] },
        ];
        let r = rank(found, &crashes, &w);
        let order: Vec<(&str, f64, i32)> = r.iter().map(|s| (s.place, s.score, s.rank)).collect();
        assert_eq!(order, [("b", 12.0, 1), ("d", 4.0, 2), ("a", 3.0, 3), ("c", 3.0, 4)]);
        assert_eq!((r[0].deaths, r[0].fatal_crashes, r[0].dominant_time_band), (1, 1, Some(TimeBand::Night)));
    }

    #[test]
    fn overlapping_passing_windows_merge_into_one_stretch() {
        let crashes: BTreeMap<i64, CrashFacts> = (1..=10).map(|i| (i, pdo(i))).collect();
        // Three crashes around 1 050 m and three around 1 450 m; two crashes at 5 000 m never make a window
        // pass.
        let along = [
            at(1, 1010.0),
            at(2, 1050.0),
            at(3, 1090.0),
            at(4, 1410.0),
            at(5, 1450.0),
            at(6, 1490.0),
            at(7, 5000.0),
            at(8, 5100.0),
        ];
        let p = SlidingWindow::default();
        let found = windows(&along, &p, &crashes);
        // Windows with 1 010, 1 050, 1 090: k = 6..=10 ([600,1100) … [1000,1500)); with 1 410–1 490:
        // k = 10..=14. They overlap: one stretch [600, 1900).
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].place, Stretch { road_id: 1, part: 1, from_m: 600.0, to_m: 1900.0 });
        assert_eq!(found[0].crash_ids, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn windows_apart_stay_apart_and_a_fatal_crash_alone_passes() {
        let mut crashes: BTreeMap<i64, CrashFacts> = (1..=10).map(|i| (i, pdo(i))).collect();
        crashes.insert(7, facts(7, Severity::Fatal, None, TimeBand::Night));
        let along = [at(1, 100.0), at(2, 120.0), at(3, 130.0), at(7, 3050.0)];
        let found = windows(&along, &SlidingWindow::default(), &crashes);
        let stretches: Vec<(f64, f64, Vec<i64>)> =
            found.iter().map(|f| (f.place.from_m, f.place.to_m, f.crash_ids.clone())).collect();
        // 100–130 m: windows k = 0 and 1 hold all three (none starts before 0); 3 050 m: k = 26..=30.
        assert_eq!(stretches, [(0.0, 600.0, vec![1, 2, 3]), (2600.0, 3500.0, vec![7])]);
        // The fatal rule off: the lone fatal crash is no longer a stretch.
        let mut p = SlidingWindow::default();
        p.threshold.min_fatal_crashes = 0;
        assert_eq!(windows(&along, &p, &crashes).len(), 1);
    }
}
