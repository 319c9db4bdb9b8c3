//! The road network: trunk routes (G, S, X) drawn through waypoints, rural routes (Y, C) grown out of them
//! as gentle random walks, and the junctions where any two meet.

use std::collections::HashSet;

use super::plane::{self, Polyline, Xy};
use super::rng::Rng;
use super::towns::{self, Town};

/// The county every demo road belongs to (X/Y/C numbers are unique only within it).
pub const COUNTY_ADMIN_CODE: &str = "320582";

#[derive(Debug, Clone)]
pub struct Road {
    pub code: String,
    pub name: String,
    pub line: Polyline,
}

impl Road {
    /// G 0, S 1, X 2, Y 3, C 4: the lower, the more important.
    pub fn rank(&self) -> u8 {
        class_rank(self.code.as_bytes()[0])
    }
}

fn class_rank(class: u8) -> u8 {
    match class {
        b'G' => 0,
        b'S' => 1,
        b'X' => 2,
        b'Y' => 3,
        _ => 4,
    }
}

/// Two roads meeting: `roads[0]` is the more important one, `s` the distances along each.
#[derive(Debug, Clone)]
pub struct Junction {
    pub at: Xy,
    pub roads: [usize; 2],
    pub s: [f64; 2],
}

#[derive(Debug)]
pub struct Network {
    pub roads: Vec<Road>,
    pub junctions: Vec<Junction>,
}

/// A chainage break (断链): at `measure_m` along the line the stake jumps from `stake_back_m` to
/// `stake_ahead_m`.
#[derive(Debug, Clone, Copy)]
pub struct ChainageBreak {
    pub route_code: &'static str,
    pub measure_m: f64,
    pub stake_back_m: f64,
    pub stake_ahead_m: f64,
}

/// G204 was realigned twice: a long chain (长链, stakes skip 54.4 m) and later a short chain (短链, 34.4 m
/// of stakes repeat). Stakes after both read 20 m more than the distance along the line.
pub const CHAINAGE_BREAKS: [ChainageBreak; 2] = [
    ChainageBreak { route_code: "G204", measure_m: 12_000.0, stake_back_m: 12_000.0, stake_ahead_m: 12_054.4 },
    ChainageBreak { route_code: "G204", measure_m: 31_500.0, stake_back_m: 31_554.4, stake_ahead_m: 31_520.0 },
];

struct TrunkSpec {
    code: &'static str,
    name: &'static str,
    /// (lon, lat) the route passes through, in travel (stake) order.
    waypoints: &'static [(f64, f64)],
}

/// National, provincial and county routes. Schematic, not surveyed: they run between the town centres
/// of [`towns::TOWNS`] the way the real ones connect the towns.
const TRUNKS: &[TrunkSpec] = &[
    TrunkSpec {
        code: "G204",
        name: "国道204线",
        waypoints: &[
            (120.31, 32.04),
            (120.42, 31.97),
            (120.50, 31.905),
            (120.565, 31.858),
            (120.66, 31.80),
            (120.79, 31.76),
        ],
    },
    TrunkSpec {
        code: "G346",
        name: "国道346线",
        waypoints: &[(120.305, 31.905), (120.42, 31.917), (120.55, 31.932), (120.68, 31.926), (120.795, 31.94)],
    },
    TrunkSpec {
        code: "S228",
        name: "省道228线",
        waypoints: &[(120.452, 32.045), (120.44, 31.95), (120.43, 31.85), (120.42, 31.755)],
    },
    TrunkSpec {
        code: "S229",
        name: "省道229线",
        waypoints: &[(120.652, 32.045), (120.642, 31.96), (120.646, 31.85), (120.652, 31.755)],
    },
    TrunkSpec {
        code: "S338",
        name: "省道338线",
        waypoints: &[(120.305, 31.826), (120.45, 31.832), (120.58, 31.822), (120.70, 31.816), (120.795, 31.812)],
    },
    TrunkSpec {
        code: "X201",
        name: "张杨公路",
        waypoints: &[(120.535, 31.872), (120.46, 31.91), (120.38, 31.952), (120.34, 32.00)],
    },
    TrunkSpec {
        code: "X202",
        name: "港丰公路",
        waypoints: &[(120.33, 31.975), (120.40, 31.986), (120.48, 31.992), (120.58, 31.976), (120.625, 31.99)],
    },
    TrunkSpec {
        code: "X203",
        name: "杨锦公路",
        waypoints: &[(120.545, 31.876), (120.562, 31.92), (120.58, 31.968), (120.60, 32.04)],
    },
    TrunkSpec {
        code: "X204",
        name: "锦乐公路",
        waypoints: &[(120.585, 31.965), (120.66, 31.975), (120.73, 31.968), (120.79, 31.963)],
    },
    TrunkSpec {
        code: "X205",
        name: "杨南公路",
        waypoints: &[(120.548, 31.868), (120.63, 31.868), (120.72, 31.858), (120.79, 31.855)],
    },
    TrunkSpec {
        code: "X206",
        name: "凤塘公路",
        waypoints: &[(120.31, 31.79), (120.40, 31.80), (120.50, 31.786), (120.60, 31.781), (120.72, 31.77)],
    },
    TrunkSpec {
        code: "X207",
        name: "杨塘公路",
        waypoints: &[(120.542, 31.864), (120.57, 31.82), (120.60, 31.78), (120.612, 31.756)],
    },
    TrunkSpec {
        code: "X208",
        name: "常乐公路",
        waypoints: &[(120.60, 32.044), (120.66, 32.02), (120.73, 31.972), (120.77, 31.92)],
    },
    TrunkSpec {
        code: "X209",
        name: "南乐公路",
        waypoints: &[(120.722, 31.80), (120.72, 31.86), (120.732, 31.97), (120.745, 32.042)],
    },
    TrunkSpec { code: "X210", name: "凤杨公路", waypoints: &[(120.40, 31.80), (120.47, 31.84), (120.532, 31.868)] },
    TrunkSpec {
        code: "X211",
        name: "金凤公路",
        waypoints: &[(120.38, 31.952), (120.385, 31.87), (120.40, 31.80), (120.405, 31.756)],
    },
    TrunkSpec { code: "X212", name: "新杨公路", waypoints: &[(120.48, 31.992), (120.50, 31.93), (120.54, 31.878)] },
];

pub const Y_ROUTES: usize = 25;
pub const C_ROUTES: usize = 60;
/// Junctions closer than this are one junction (a staggered crossing is one place for the ledger).
const JUNCTION_MERGE_M: f64 = 40.0;
/// Rural routes stop this far inside the area, so every site has a town.
const AREA_MARGIN_M: f64 = 300.0;

/// The whole network, the same on every run.
pub fn build(towns: &[Town]) -> Network {
    let mut rng = Rng::stream("roads");
    let mut roads: Vec<Road> = TRUNKS
        .iter()
        .map(|spec| {
            let (spacing_m, share) = if spec.code.starts_with('X') { (400.0, 0.03) } else { (500.0, 0.015) };
            let waypoints: Vec<Xy> = spec.waypoints.iter().map(|&(lon, lat)| Xy::from_lonlat(lon, lat)).collect();
            Road {
                code: spec.code.into(),
                name: spec.name.into(),
                line: Polyline::new(curve(&waypoints, spacing_m, share, &mut rng)),
            }
        })
        .collect();
    let mut junctions: Vec<Junction> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();

    // Township roads (乡道) branch off the trunk roads; village roads (村道) off township and county roads.
    let trunk: Vec<usize> = (0..roads.len()).collect();
    let mut used_villages: HashSet<&str> = HashSet::new();
    for n in 0..Y_ROUTES {
        let walk = Walk { length_m: (2_500.0, 8_000.0), step_m: (260.0, 340.0), drift_deg: 5.0, turn_max_deg: 30.0 };
        let (parent, s, pts) = grow(&roads, &trunk, &walk, &mut rng);
        let town = start_town(towns, pts[0]);
        let village = town
            .villages
            .iter()
            .copied()
            .find(|v| !used_villages.contains(v))
            .unwrap_or_else(|| *rng.pick(town.villages));
        used_villages.insert(village);
        let name = unique_name(&mut names, village, &["线", "支线", "二线"]);
        junctions.push(Junction { at: pts[0], roads: [parent, roads.len()], s: [s, 0.0] });
        roads.push(Road { code: format!("Y{:03}", 101 + n), name, line: Polyline::new(pts) });
    }
    let feeders: Vec<usize> =
        (0..roads.len()).filter(|&i| matches!(roads[i].code.as_bytes()[0], b'X' | b'Y')).collect();
    for n in 0..C_ROUTES {
        let walk = Walk { length_m: (800.0, 3_000.0), step_m: (130.0, 180.0), drift_deg: 6.0, turn_max_deg: 25.0 };
        let (parent, s, pts) = grow(&roads, &feeders, &walk, &mut rng);
        let town = start_town(towns, pts[0]);
        let village = *rng.pick(town.villages);
        let name =
            unique_name(&mut names, village, &["东线", "西线", "南线", "北线", "中心线", "新线", "圩线", "港线"]);
        junctions.push(Junction { at: pts[0], roads: [parent, roads.len()], s: [s, 0.0] });
        roads.push(Road { code: format!("C{:03}", 1 + n), name, line: Polyline::new(pts) });
    }

    for junction in crossings(&roads) {
        if junctions.iter().all(|j| j.at.dist(junction.at) >= JUNCTION_MERGE_M) {
            junctions.push(junction);
        }
    }
    // The explicit T-junctions were pushed child-second; put the more important road first everywhere.
    for j in &mut junctions {
        if roads[j.roads[1]].rank() < roads[j.roads[0]].rank() {
            j.roads.swap(0, 1);
            j.s.swap(0, 1);
        }
    }
    Network { roads, junctions }
}

fn start_town(towns: &[Town], p: Xy) -> &'static towns::TownSpec {
    towns::town_at(towns, p.lonlat()).map_or(&towns::TOWNS[0], |i| towns[i].spec)
}

fn unique_name(names: &mut HashSet<String>, stem: &str, suffixes: &[&str]) -> String {
    let name = suffixes
        .iter()
        .map(|s| format!("{stem}{s}"))
        .find(|n| !names.contains(n))
        .unwrap_or_else(|| format!("{stem}{}号线", names.len()));
    names.insert(name.clone());
    name
}

/// Densifies waypoints into a gently curving line: each leg bows sideways by up to `share` of its length
/// (a half sine, so the waypoints themselves are kept exactly and legs meet smoothly enough).
fn curve(waypoints: &[Xy], spacing_m: f64, share: f64, rng: &mut Rng) -> Vec<Xy> {
    let mut out = vec![waypoints[0]];
    for leg in waypoints.windows(2) {
        let (a, b) = (leg[0], leg[1]);
        let len = a.dist(b);
        let n = ((len / spacing_m).round() as usize).max(1);
        let normal = b.sub(a).left();
        let bow = rng.range(-share, share) * len;
        let ripple = rng.range(-share, share) * len * 0.25;
        for k in 1..n {
            let t = k as f64 / n as f64;
            let side = bow * (std::f64::consts::PI * t).sin() + ripple * (2.0 * std::f64::consts::PI * t).sin();
            out.push(a.lerp(b, t).add(normal.scale(side)));
        }
        out.push(b);
    }
    out
}

struct Walk {
    length_m: (f64, f64),
    step_m: (f64, f64),
    drift_deg: f64,
    turn_max_deg: f64,
}

/// A new road leaving one of `parents` at right angles (more or less) and wandering gently: the parent,
/// the distance along it where the new road starts, and the new road's points.
fn grow(roads: &[Road], parents: &[usize], walk: &Walk, rng: &mut Rng) -> (usize, f64, Vec<Xy>) {
    let weights: Vec<(usize, u32)> = parents.iter().map(|&i| (i, roads[i].line.len_m() as u32)).collect();
    loop {
        let parent = *rng.weighted(&weights);
        let line = &roads[parent].line;
        let s = rng.range(0.08, 0.92) * line.len_m();
        let start = line.at(s);
        let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let first = line.heading(s).left().scale(side).rotate(rng.range(-25.0, 25.0).to_radians());
        let target_m = rng.range(walk.length_m.0, walk.length_m.1);
        let (mut pts, mut dir, mut length_m) = (vec![start], first, 0.0);
        while length_m < target_m {
            dir = dir.rotate(rng.range(-walk.drift_deg, walk.drift_deg).to_radians());
            let turned = first.cross(dir).atan2(first.dot(dir));
            if turned.abs() > walk.turn_max_deg.to_radians() {
                dir = first.rotate(turned.signum() * walk.turn_max_deg.to_radians());
            }
            let step = rng.range(walk.step_m.0, walk.step_m.1);
            let next = pts.last().expect("not empty").add(dir.scale(step));
            if !plane::inside_area(next, AREA_MARGIN_M) {
                break;
            }
            pts.push(next);
            length_m += step;
        }
        // Too short (it ran into the area's edge): try another start.
        if length_m >= walk.length_m.0 * 0.6 {
            return (parent, s, pts);
        }
    }
}

/// Every point where two roads cross or touch.
fn crossings(roads: &[Road]) -> Vec<Junction> {
    let boxes: Vec<(Xy, Xy)> = roads.iter().map(|r| r.line.bbox()).collect();
    let overlap = |a: &(Xy, Xy), b: &(Xy, Xy)| a.0.x <= b.1.x && b.0.x <= a.1.x && a.0.y <= b.1.y && b.0.y <= a.1.y;
    let mut out = Vec::new();
    for i in 0..roads.len() {
        for j in i + 1..roads.len() {
            if !overlap(&boxes[i], &boxes[j]) {
                continue;
            }
            let (a, b) = (&roads[i].line, &roads[j].line);
            for (p, seg_a) in a.points().windows(2).enumerate() {
                let box_a = (
                    Xy::new(seg_a[0].x.min(seg_a[1].x), seg_a[0].y.min(seg_a[1].y)),
                    Xy::new(seg_a[0].x.max(seg_a[1].x), seg_a[0].y.max(seg_a[1].y)),
                );
                if !overlap(&box_a, &boxes[j]) {
                    continue;
                }
                for (q, seg_b) in b.points().windows(2).enumerate() {
                    if let Some((t, u)) = plane::segment_intersection(seg_a[0], seg_a[1], seg_b[0], seg_b[1]) {
                        let s_a = a.vertex_s(p) + t * seg_a[0].dist(seg_a[1]);
                        let s_b = b.vertex_s(q) + u * seg_b[0].dist(seg_b[1]);
                        out.push(Junction { at: seg_a[0].lerp(seg_a[1], t), roads: [i, j], s: [s_a, s_b] });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_has_every_class_inside_the_area() {
        let towns = towns::tile();
        let net = build(&towns);
        let count = |c: char| net.roads.iter().filter(|r| r.code.starts_with(c)).count();
        assert_eq!([count('G'), count('S'), count('X'), count('Y'), count('C')], [2, 3, 12, Y_ROUTES, C_ROUTES]);
        let codes: HashSet<&str> = net.roads.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes.len(), net.roads.len());
        for road in &net.roads {
            assert!(road.line.points().len() >= 4, "{} has too few vertices", road.code);
            assert!(road.line.points().iter().all(|&p| plane::inside_area(p, 100.0)), "{} leaves the area", road.code);
            assert!(road.code.len() == 4 && road.code[1..].bytes().all(|b| b.is_ascii_digit()));
        }
        // Junctions lie on both of their roads.
        for j in &net.junctions {
            for k in 0..2 {
                let d = net.roads[j.roads[k]].line.at(j.s[k]).dist(j.at);
                assert!(d < 0.01, "junction is {d} m off {}", net.roads[j.roads[k]].code);
            }
            assert!(net.roads[j.roads[0]].rank() <= net.roads[j.roads[1]].rank());
        }
        assert!(net.junctions.len() > Y_ROUTES + C_ROUTES, "{} junctions", net.junctions.len());
    }

    #[test]
    fn chainage_breaks_lie_on_g204() {
        let net = build(&towns::tile());
        let g204 = net.roads.iter().find(|r| r.code == "G204").expect("G204");
        for b in CHAINAGE_BREAKS {
            assert!(b.measure_m < g204.line.len_m());
        }
    }
}
