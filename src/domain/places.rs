//! Towns and roads as county files describe them: admin codes, route codes, stake values and chainage
//! breaks (DOMAIN.md §4). Pure parsing and arithmetic; the import (`crate::import`) applies it to files.

use super::stake::Stake;

/// A town or sub-district's admin code: 9 digits, the first 6 its county's (320582100 is in 320582).
///
/// The national statistical division codes have 12 digits (320582100000: county, town, village); a town's
/// ends in `000` and is accepted as its 9-digit form.
pub fn town_admin_code(text: &str) -> Result<String, String> {
    let code = text.trim();
    if !code.bytes().all(|b| b.is_ascii_digit()) || code.is_empty() {
        return Err(format!("town admin code {:?} is not a number of 9 digits", clip(code)));
    }
    match code.len() {
        9 => Ok(code.to_owned()),
        12 if code.ends_with("000") => Ok(code[..9].to_owned()),
        12 => Err(format!("admin code {code} is a village's (its last three digits are not 000), not a town's")),
        n => Err(format!("town admin code {code} has {n} digits: a town's has 9 (e.g. 320582100) or 12 ending in 000")),
    }
}

/// The county of an admin code: a county's own 6 digits (320582), or the first 6 of a town's 9 or a division's
/// 12 (a road database often gives a township or village road the code of its town).
pub fn county_admin_code(text: &str) -> Result<String, String> {
    let code = text.trim();
    if !code.bytes().all(|b| b.is_ascii_digit()) || code.is_empty() {
        return Err(format!("county admin code {:?} is not a number of 6 digits", clip(code)));
    }
    match code.len() {
        6 | 9 | 12 => Ok(code[..6].to_owned()),
        n => Err(format!("admin code {code} has {n} digits: a county's has 6 (e.g. 320582), a town's 9")),
    }
}

/// A route code as files write it, read into the code and the county it names, if any.
///
/// Accepted: `X202`, `x202 `, `G15`, `G1501`, the road database's `X202320582` (code + county), and OSM's
/// `ref` lists such as `G204;S228` (the first code is the route; the others are concurrent routes).
/// `Ok(None)` when the text holds no route code at all (an empty `ref`, "无").
pub fn route_code(text: &str) -> Result<Option<(String, Option<String>)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let first = text.split([';', ',', '/', '，', '；']).map(str::trim).find(|s| !s.is_empty()).unwrap_or("");
    let upper: String = first.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let bytes = upper.as_bytes();
    if bytes.is_empty() || !b"GSXYCZ".contains(&bytes[0]) {
        if upper.chars().all(|c| !c.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        return Err(format!("{:?} is not a route code: one of G S X Y C Z then digits, e.g. X202", clip(text)));
    }
    if is_route_code(&upper) {
        return Ok(Some((upper, None)));
    }
    // X202 + 320582: the road database writes the county after the number of X, Y, C and Z routes.
    if upper.len() == 10 && is_route_code(&upper[..4]) && upper[4..].bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some((upper[..4].to_owned(), Some(upper[4..].to_owned()))));
    }
    Err(format!(
        "{:?} is not a route code: X, Y, C or Z and three digits (X202), or G or S and 1 to 4 digits (G15, S228)",
        clip(text)
    ))
}

/// Whether `code` is a route code as stored: X, Y, C or Z and three digits (X202); G or S and one to four, for
/// national and provincial routes and expressways (G2, G15, S38, G228, G1501).
pub fn is_route_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    let digits = bytes.len().saturating_sub(1);
    let digits_ok = bytes.len() > 1 && bytes[1..].iter().all(u8::is_ascii_digit);
    match bytes.first() {
        Some(b'G' | b'S') => digits_ok && (1..=4).contains(&digits),
        Some(b'X' | b'Y' | b'C' | b'Z') => digits_ok && digits == 3,
        _ => false,
    }
}

/// The unit a file's numeric stakes are written in. Road databases differ: some write metres (12300), the
/// national rural road map writes kilometres (12.300).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StakeUnit {
    #[default]
    M,
    Km,
}

/// A stake value from a file: a number in `unit`, a numeric string, or stake text (`K12+300`). `Ok(None)`
/// for a blank.
pub fn stake_value(value: &serde_json::Value, unit: StakeUnit) -> Result<Option<f64>, String> {
    let scale = match unit {
        StakeUnit::M => 1.0,
        StakeUnit::Km => 1000.0,
    };
    let metres = match value {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Number(n) => n.as_f64().map(|v| v * scale),
        serde_json::Value::String(s) if s.trim().is_empty() => return Ok(None),
        serde_json::Value::String(s) => match s.trim().parse::<f64>() {
            Ok(v) => Some(v * scale),
            Err(_) => Some(Stake::parse(s).map_err(|e| e.to_string())?.metres),
        },
        other => return Err(format!("stake {other} is neither a number nor stake text like K12+300")),
    };
    match metres {
        Some(m) if m.is_finite() && (0.0..=super::stake::STAKE_METRES_MAX).contains(&m) => Ok(Some(m)),
        _ => Err(format!("stake {value} is out of range: 0 to 9 999 km")),
    }
}

/// A chainage break (断链): at continuous chainage `measure_m` the stakes read `stake_back_m` behind and
/// `stake_ahead_m` ahead. A "short chain" jumps forward (ahead > back), a "long chain" back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainageBreak {
    pub measure_m: f64,
    pub stake_back_m: f64,
    pub stake_ahead_m: f64,
}

impl ChainageBreak {
    fn jump_m(&self) -> f64 {
        self.stake_ahead_m - self.stake_back_m
    }
}

/// The stake at continuous chainage `measure_m`: the measure plus every jump at or behind it. The same rule
/// as the SQL function `road_stake_at` (migrations/0005).
pub fn stake_at(measure_m: f64, breaks: &[ChainageBreak]) -> f64 {
    measure_m + breaks.iter().filter(|b| b.measure_m <= measure_m).map(ChainageBreak::jump_m).sum::<f64>()
}

/// The continuous chainage where the stakes read `stake_m`, the inverse of [`stake_at`]. After a long chain
/// some stakes are read twice; the first place is returned. `None` when a short chain skips the stake.
pub fn measure_of(stake_m: f64, breaks: &[ChainageBreak]) -> Option<f64> {
    let mut sorted = breaks.to_vec();
    sorted.sort_by(|a, b| a.measure_m.total_cmp(&b.measure_m));
    // Between consecutive breaks the stake is the measure plus the jumps so far.
    let mut jumps = 0.0;
    let mut from = f64::NEG_INFINITY;
    for b in sorted.iter().map(Some).chain([None]) {
        let to = b.map_or(f64::INFINITY, |b| b.measure_m);
        let measure = stake_m - jumps;
        if measure >= from && measure < to {
            return Some(measure);
        }
        if let Some(b) = b {
            jumps += b.jump_m();
            from = b.measure_m;
        }
    }
    None
}

/// How far past a road's first or last stake a stake still names its end (metres): stakes are written to the
/// metre and roads end anywhere, so K6+803 names the end of a road whose measure ends at 6 802.7 m.
pub const STAKE_END_TOLERANCE_M: f64 = 1.0;

/// Why a stake names no place on a road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StakeOffRoad {
    /// A short chain (断链) skips the stake.
    SkippedByBreak,
    /// Before the road's first stake or past its last.
    BeyondEnds,
}

/// The continuous chainage of `stake_m` on a road whose measures run from `low_m` to `high_m`, within
/// [`STAKE_END_TOLERANCE_M`] of either end (clamped to it). The one rule of the stake locator and the crash
/// import; the point at the measure may still fall in a gap between a road's parts.
pub fn measure_on_road(stake_m: f64, breaks: &[ChainageBreak], low_m: f64, high_m: f64) -> Result<f64, StakeOffRoad> {
    let measure = measure_of(stake_m, breaks).ok_or(StakeOffRoad::SkippedByBreak)?;
    if measure < low_m - STAKE_END_TOLERANCE_M || measure > high_m + STAKE_END_TOLERANCE_M {
        return Err(StakeOffRoad::BeyondEnds);
    }
    Ok(measure.clamp(low_m, high_m))
}

/// The continuous chainage of each break, from breaks given as stakes (a 断链 table lists the stake behind
/// and ahead): the stake behind, less the jumps before it.
pub fn breaks_from_stakes(stakes: &[(f64, f64)]) -> Vec<ChainageBreak> {
    let mut sorted = stakes.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut jumps = 0.0;
    sorted
        .into_iter()
        .map(|(back, ahead)| {
            let b = ChainageBreak { measure_m: back - jumps, stake_back_m: back, stake_ahead_m: ahead };
            jumps += ahead - back;
            b
        })
        .collect()
}

/// At most 32 characters of an input, for messages.
fn clip(text: &str) -> String {
    text.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn town_codes_of_9_or_12_digits() {
        assert_eq!(town_admin_code(" 320582100 ").unwrap(), "320582100");
        assert_eq!(town_admin_code("320582100000").unwrap(), "320582100");
        assert!(town_admin_code("320582100201").unwrap_err().contains("village"));
        assert!(town_admin_code("32058210").unwrap_err().contains("8 digits"));
        assert!(town_admin_code("杨舍").is_err());
        assert!(town_admin_code("").is_err());
    }

    #[test]
    fn county_codes() {
        assert_eq!(county_admin_code("320582").unwrap(), "320582");
        assert_eq!(county_admin_code("320582000000").unwrap(), "320582");
        assert_eq!(county_admin_code("320582100").unwrap(), "320582", "a town's code names its county");
        assert!(county_admin_code("3205").is_err());
        assert!(county_admin_code("3205821").is_err());
    }

    #[test]
    fn route_codes_as_files_write_them() {
        let code = |t: &str| route_code(t).unwrap();
        assert_eq!(code("X202"), Some(("X202".into(), None)));
        assert_eq!(code(" x202 "), Some(("X202".into(), None)));
        assert_eq!(code("G15"), Some(("G15".into(), None)));
        assert_eq!(code("G1501"), Some(("G1501".into(), None)));
        assert_eq!(code("X202320582"), Some(("X202".into(), Some("320582".into()))));
        assert_eq!(code("G204;S228"), Some(("G204".into(), None)));
        assert_eq!(code(""), None);
        assert_eq!(code("-"), None);
        assert!(route_code("A12").is_err());
        assert!(route_code("X2O2").is_err());
        assert!(route_code("X20212").is_err());
        assert!(route_code("X20").is_err(), "county routes have three digits");
        assert_eq!(code("S38"), Some(("S38".into(), None)));
    }

    #[test]
    fn stake_values_in_metres_kilometres_or_text() {
        assert_eq!(stake_value(&json!(12300), StakeUnit::M).unwrap(), Some(12300.0));
        assert_eq!(stake_value(&json!(12.3), StakeUnit::Km).unwrap(), Some(12300.0));
        assert_eq!(stake_value(&json!("K12+300"), StakeUnit::Km).unwrap(), Some(12300.0));
        assert_eq!(stake_value(&json!("5200"), StakeUnit::M).unwrap(), Some(5200.0));
        assert_eq!(stake_value(&json!(" "), StakeUnit::M).unwrap(), None);
        assert_eq!(stake_value(&json!(null), StakeUnit::M).unwrap(), None);
        assert!(stake_value(&json!(-5), StakeUnit::M).is_err());
        assert!(stake_value(&json!("K12+3"), StakeUnit::M).is_err());
        assert!(stake_value(&json!(true), StakeUnit::M).is_err());
    }

    #[test]
    fn chainage_breaks_both_ways() {
        // A short chain at K2+000 (stakes jump to K2+100) and a long chain at K5+100 (back to K5+000).
        let breaks = breaks_from_stakes(&[(5100.0, 5000.0), (2000.0, 2100.0)]);
        assert_eq!(breaks[0], ChainageBreak { measure_m: 2000.0, stake_back_m: 2000.0, stake_ahead_m: 2100.0 });
        assert_eq!(breaks[1], ChainageBreak { measure_m: 5000.0, stake_back_m: 5100.0, stake_ahead_m: 5000.0 });
        assert_eq!(stake_at(1500.0, &breaks), 1500.0);
        assert_eq!(stake_at(2500.0, &breaks), 2600.0);
        assert_eq!(stake_at(5000.0, &breaks), 5000.0);
        assert_eq!(stake_at(6000.0, &breaks), 6000.0);
        for m in [0.0, 1999.0, 2000.0, 3000.0, 4999.0, 5500.0] {
            let s = stake_at(m, &breaks);
            let back = measure_of(s, &breaks).unwrap();
            assert_eq!(stake_at(back, &breaks), s, "measure {m}");
        }
        // K2+050 does not exist: the short chain skips it.
        assert_eq!(measure_of(2050.0, &breaks), None);
        // K5+050 exists twice (before and after the long chain): the first place.
        assert_eq!(measure_of(5050.0, &breaks), Some(4950.0));
    }
}
