//! Three years of synthetic crashes on the demo network (2023-11-28 to 2026-11-27), drawn from the constant
//! seed: most scattered along the roads by their traffic, a dozen true black spots (junctions and stretches
//! with many crashes, some fatal), and a few clusters off the network (a factory gate, a village square, a
//! market). Times follow rural patterns: the morning and evening peaks, more fatal crashes at night, the
//! farming seasons (三夏 late May–mid June, 三秋 mid October–November), the Spring Festival and weekends.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::plane::Xy;
use super::rng::Rng;
use super::roads::Network;
use crate::domain::crash::{CrashType, Light, RoadSurface, VehicleType, Weather};

/// The first day with crashes; the data window of the demo's screening runs starts here.
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 11, 28).expect("valid date")
}

/// The day after the last day with crashes (the demo's "today" is 2026-11-27): the window's end.
pub fn end_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date")
}

/// Crashes scattered along the roads, before the black spots and clusters are added.
const BACKGROUND: usize = 3_000;

#[derive(Debug, Clone)]
pub struct DemoCrash {
    pub record_no: String,
    pub lon: f64,
    pub lat: f64,
    /// The road it happened on (an index into the network's roads), when on one; the police located it by
    /// stake then, else by coordinates.
    pub road: Option<usize>,
    pub by_stake: bool,
    pub occurred_at: DateTime<Utc>,
    pub deaths: i16,
    pub serious_injuries: i16,
    pub slight_injuries: i16,
    pub crash_type: CrashType,
    pub vehicle_types: Vec<VehicleType>,
    pub weather: Weather,
    pub light: Light,
    pub road_surface: RoadSurface,
    pub summary: String,
}

/// Traffic per metre by road class, relative: national and provincial roads carry the most.
fn traffic(code: &str) -> f64 {
    match code.as_bytes()[0] {
        b'G' => 3.0,
        b'S' => 2.5,
        b'X' => 2.0,
        b'Y' => 1.0,
        _ => 0.6,
    }
}

/// What kind of place a crash happens at shapes how it happens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setting {
    Road,
    Junction,
    Bend,
    Yard,
}

pub fn generate(net: &Network) -> Vec<DemoCrash> {
    let mut rng = Rng::stream("crashes");
    let mut out = Vec::new();
    let weights: Vec<f64> = net.roads.iter().map(|r| traffic(&r.code) * r.line.len_m()).collect();
    let total: f64 = weights.iter().sum();
    for _ in 0..BACKGROUND {
        let mut pick = rng.unit() * total;
        let road = weights.iter().position(|w| {
            pick -= w;
            pick <= 0.0
        });
        let road = road.unwrap_or(net.roads.len() - 1);
        let line = &net.roads[road].line;
        let s = rng.range(0.0, line.len_m());
        let at = beside(line.at(s), &mut rng, 6.0);
        out.push(crash(&mut rng, at, Some(road), Setting::Road, 0.025));
    }

    // Six junctions of the busier roads, each with 12–24 crashes within 30 m, angle crashes first.
    let mut junctions: Vec<usize> =
        (0..net.junctions.len()).filter(|&j| net.roads[net.junctions[j].roads[0]].rank() <= 2).collect();
    for n in 0..6.min(junctions.len()) {
        let j = junctions.remove(rng.index(junctions.len()));
        let junction = &net.junctions[j];
        let count = rng.int(12, 24) as usize;
        let fatal_share = if n % 2 == 0 { 0.12 } else { 0.04 };
        for _ in 0..count {
            let at = junction.at.offset(rng.range(0.0, 30.0), rng.range(0.0, std::f64::consts::TAU));
            out.push(crash(&mut rng, at, Some(junction.roads[0]), Setting::Junction, fatal_share));
        }
    }
    // Six stretches of 300–600 m (a bend, a village street, a long straight invites speed), 10–20 crashes each.
    let busy: Vec<usize> = (0..net.roads.len()).filter(|&r| net.roads[r].rank() <= 2).collect();
    for n in 0..6 {
        let road = busy[rng.index(busy.len())];
        let line = &net.roads[road].line;
        let length = rng.range(300.0, 600.0);
        let start = rng.range(0.0, (line.len_m() - length).max(0.0));
        let count = rng.int(10, 20) as usize;
        let fatal_share = if n % 2 == 0 { 0.1 } else { 0.03 };
        for _ in 0..count {
            let at = beside(line.at(start + rng.range(0.0, length)), &mut rng, 5.0);
            out.push(crash(&mut rng, at, Some(road), Setting::Bend, fatal_share));
        }
    }
    // Three places off the network, 250–400 m from a road: 6–10 crashes within 40 m of each.
    let mut placed = 0;
    while placed < 3 {
        let road = busy[rng.index(busy.len())];
        let line = &net.roads[road].line;
        let s = rng.range(0.0, line.len_m());
        let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let centre = line.at(s).add(line.heading(s).left().scale(side * rng.range(250.0, 400.0)));
        let clear = net.roads.iter().all(|r| distance_to(&r.line, centre) > 150.0);
        if !clear || !super::plane::inside_area(centre, 500.0) {
            continue;
        }
        placed += 1;
        for _ in 0..rng.int(6, 10) {
            let at = centre.offset(rng.range(0.0, 40.0), rng.range(0.0, std::f64::consts::TAU));
            out.push(crash(&mut rng, at, None, Setting::Yard, 0.02));
        }
    }

    // Record numbers in time order, as the police number them.
    out.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.lon.total_cmp(&b.lon)));
    for (n, c) in out.iter_mut().enumerate() {
        c.record_no = format!("320582{}{:05}", c.occurred_at.year(), n + 1);
    }
    out
}

/// The shortest distance from a point to a polyline (metres, local frame).
fn distance_to(line: &super::plane::Polyline, p: Xy) -> f64 {
    line.points()
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let ab = b.sub(a);
            let t = if ab.dot(ab) == 0.0 { 0.0 } else { (p.sub(a).dot(ab) / ab.dot(ab)).clamp(0.0, 1.0) };
            a.add(ab.scale(t)).dist(p)
        })
        .fold(f64::INFINITY, f64::min)
}

/// A point within `spread_m` of `p`: where on the carriageway or verge the police put it.
fn beside(p: Xy, rng: &mut Rng, spread_m: f64) -> Xy {
    p.offset(rng.range(0.0, spread_m), rng.range(0.0, std::f64::consts::TAU))
}

/// 三夏 (late May–mid June) and 三秋 (mid October–November) in southern Jiangsu (DOMAIN.md §7).
fn farming_season(day: NaiveDate) -> bool {
    let md = (day.month(), day.day());
    ((5, 25)..=(6, 15)).contains(&md) || ((10, 15)..=(11, 30)).contains(&md)
}

/// How much likelier a crash is on a day: farming seasons, the Spring Festival week and weekends.
fn day_weight(day: NaiveDate) -> f64 {
    let mut w = 1.0;
    if farming_season(day) {
        w *= 1.4;
    }
    // The Spring Festival (春节) of each year in the data, and the travel days either side.
    let festivals = [(2024, 2, 10), (2025, 1, 29), (2026, 2, 17)];
    if festivals.iter().any(|&(y, m, d)| {
        let f = NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
        (day - f).num_days().abs() <= 7
    }) {
        w *= 1.6;
    }
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        w *= 1.25;
    }
    w
}

/// An hour of the day: peaks at 7–8 and 17–18; fatal crashes lean to the night (speed, drink, no lights).
fn hour(rng: &mut Rng, fatal: bool) -> u32 {
    const DAY: [(u32, u32); 24] = [
        (0, 2),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 2),
        (6, 5),
        (7, 9),
        (8, 7),
        (9, 5),
        (10, 5),
        (11, 5),
        (12, 4),
        (13, 4),
        (14, 5),
        (15, 5),
        (16, 7),
        (17, 10),
        (18, 8),
        (19, 6),
        (20, 5),
        (21, 4),
        (22, 3),
        (23, 2),
    ];
    const NIGHT: [(u32, u32); 24] = [
        (0, 6),
        (1, 5),
        (2, 5),
        (3, 4),
        (4, 3),
        (5, 3),
        (6, 3),
        (7, 4),
        (8, 3),
        (9, 2),
        (10, 2),
        (11, 2),
        (12, 2),
        (13, 2),
        (14, 2),
        (15, 2),
        (16, 3),
        (17, 4),
        (18, 6),
        (19, 8),
        (20, 9),
        (21, 9),
        (22, 8),
        (23, 7),
    ];
    *rng.weighted(if fatal { &NIGHT } else { &DAY })
}

fn crash(rng: &mut Rng, at: Xy, road: Option<usize>, setting: Setting, fatal_share: f64) -> DemoCrash {
    let fatal = rng.chance(fatal_share);
    let days = (end_day() - first_day()).num_days();
    // Rejection sampling on the day weight (at most 1.4 × 1.6 × 1.25 = 2.8).
    let day = loop {
        let d = first_day() + Duration::days(rng.int(0, days - 1));
        if rng.unit() * 2.8 < day_weight(d) {
            break d;
        }
    };
    let farming = farming_season(day);
    let h = hour(rng, fatal);
    let minute = rng.int(0, 59) as u32;
    let local = day.and_hms_opt(h, minute, 0).expect("valid time");
    let occurred_at = local.and_utc() - Duration::hours(8);

    let types: &[(CrashType, u32)] = match setting {
        Setting::Junction => &[
            (CrashType::Angle, 40),
            (CrashType::NonMotor, 25),
            (CrashType::RearEnd, 12),
            (CrashType::Pedestrian, 8),
            (CrashType::Sideswipe, 8),
            (CrashType::Other, 3),
        ],
        Setting::Bend => &[
            (CrashType::HeadOn, 25),
            (CrashType::SingleVehicle, 30),
            (CrashType::Sideswipe, 20),
            (CrashType::RearEnd, 10),
            (CrashType::NonMotor, 10),
        ],
        Setting::Yard => &[
            (CrashType::Pedestrian, 30),
            (CrashType::NonMotor, 30),
            (CrashType::Sideswipe, 20),
            (CrashType::Other, 10),
        ],
        Setting::Road => &[
            (CrashType::RearEnd, 15),
            (CrashType::Angle, 12),
            (CrashType::HeadOn, 8),
            (CrashType::Sideswipe, 12),
            (CrashType::SingleVehicle, 14),
            (CrashType::Pedestrian, 6),
            (CrashType::NonMotor, 28),
            (CrashType::Other, 5),
        ],
    };
    let crash_type = *rng.weighted(types);
    let farm = if farming { 14 } else { 4 };
    let vehicles: [(VehicleType, u32); 11] = [
        (VehicleType::EBike, 30),
        (VehicleType::Car, 30),
        (VehicleType::Tricycle, 10),
        (VehicleType::FarmVehicle, farm),
        (VehicleType::Truck, 8),
        (VehicleType::Minivan, 6),
        (VehicleType::Motorcycle, 5),
        (VehicleType::Bicycle, 3),
        (VehicleType::Bus, 1),
        (VehicleType::Coach, 1),
        (VehicleType::Hazmat, 1),
    ];
    let n = if crash_type == CrashType::SingleVehicle { 1 } else { 2 };
    let mut vehicle_types = rng.weighted_distinct(&vehicles, n);
    vehicle_types.sort_by_key(|v| VehicleType::ALL.iter().position(|x| x == v));

    let weather = *rng.weighted(&[
        (Weather::Clear, 55),
        (Weather::Cloudy, 25),
        (Weather::Rain, 15),
        (Weather::Fog, 4),
        (Weather::Snow, 1),
    ]);
    let road_surface = match weather {
        Weather::Rain => RoadSurface::Wet,
        Weather::Snow => RoadSurface::Icy,
        Weather::Fog if rng.chance(0.5) => RoadSurface::Wet,
        _ => RoadSurface::Dry,
    };
    let light = match h {
        7..=16 => Light::Daylight,
        5..=6 | 17..=18 => Light::DawnDusk,
        _ if rng.chance(if setting == Setting::Road { 0.35 } else { 0.6 }) => Light::DarkLit,
        _ => Light::DarkUnlit,
    };
    let (deaths, serious, slight) = if fatal {
        (if rng.chance(0.15) { 2 } else { 1 }, rng.int(0, 1) as i16, rng.int(0, 2) as i16)
    } else if rng.chance(0.35) {
        (0, rng.int(0, 1) as i16, rng.int(1, 3) as i16)
    } else {
        (0, 0, 0)
    };
    let who = vehicle_types.iter().map(|v| v.label()).collect::<Vec<_>>().join("与");
    let summary = format!("{who}，{}（{}，{}）", crash_type.label(), weather.label(), light.label());
    let (lon, lat) = at.lonlat();
    DemoCrash {
        record_no: String::new(),
        lon,
        lat,
        road,
        by_stake: road.is_some() && rng.chance(0.3),
        occurred_at,
        deaths,
        serious_injuries: serious,
        slight_injuries: slight,
        crash_type,
        vehicle_types,
        weather,
        light,
        road_surface,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_days_are_busier() {
        let plain = NaiveDate::from_ymd_opt(2025, 3, 12).unwrap(); // a Wednesday
        assert_eq!(day_weight(plain), 1.0);
        assert!(day_weight(NaiveDate::from_ymd_opt(2025, 6, 4).unwrap()) > 1.0); // 三夏
        assert!(day_weight(NaiveDate::from_ymd_opt(2025, 1, 30).unwrap()) > 1.5); // the Spring Festival
        assert!(day_weight(NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()) > 1.0); // a Saturday
    }
}
