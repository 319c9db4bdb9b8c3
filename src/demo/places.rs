//! Where the sites are: intersections at junctions and at road vertices (field roads and driveways that
//! are not on the map), spots on roads, and sections cut out of roads.

use std::collections::HashMap;

use crate::domain::site::SiteKind;

use super::plane::{self, Xy};
use super::rng::Rng;
use super::roads::Network;
use super::towns::{self, Town};

/// Site counts by kind, duplicates included (≈ 50 % / 35 % / 15 %).
pub const INTERSECTIONS: usize = 1_230;
pub const SPOTS: usize = 860;
pub const SECTIONS: usize = 370;

/// Point sites of one kind are at least this far apart (metres); a repeat visit joins within 30 m.
const INTERSECTION_SPACING_M: f64 = 80.0;
const SPOT_SPACING_M: f64 = 60.0;
/// Sections on one road keep this gap between them.
const SECTION_GAP_M: f64 = 50.0;

#[derive(Debug, Clone)]
pub enum Geom {
    Point(Xy),
    Line(Vec<Xy>),
}

impl Geom {
    pub fn wkt(&self) -> String {
        match self {
            Geom::Point(p) => plane::wkt_point(*p),
            Geom::Line(pts) => plane::wkt_linestring(pts),
        }
    }

    /// The point that decides the town, as the SQL does: a point itself, or the middle of a line by
    /// its length in degrees (`st_lineinterpolatepoint(geom, 0.5)`).
    pub fn town_anchor(&self) -> (f64, f64) {
        match self {
            Geom::Point(p) => p.lonlat(),
            Geom::Line(pts) => {
                let deg: Vec<(f64, f64)> = pts.iter().map(|p| p.lonlat()).collect();
                let seg = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0).hypot(b.1 - a.1);
                let half = deg.windows(2).map(|w| seg(w[0], w[1])).sum::<f64>() / 2.0;
                let mut walked = 0.0;
                for w in deg.windows(2) {
                    let l = seg(w[0], w[1]);
                    if walked + l >= half && l > 0.0 {
                        let t = (half - walked) / l;
                        return (w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t);
                    }
                    walked += l;
                }
                deg[deg.len() - 1]
            }
        }
    }
}

/// A place for one site.
#[derive(Debug, Clone)]
pub struct Place {
    pub kind: SiteKind,
    pub geom: Geom,
    pub road: usize,
    /// Distance along the road (start, end for sections), metres.
    pub s: f64,
    pub s_end: f64,
    /// The crossing road of a mapped junction.
    pub other_road: Option<usize>,
    pub town: usize,
}

/// Points of placed sites by 100 m grid cell, to keep sites of one kind apart.
#[derive(Default)]
struct Grid(HashMap<(i64, i64), Vec<Xy>>);

impl Grid {
    fn cell(p: Xy) -> (i64, i64) {
        ((p.x / 100.0).floor() as i64, (p.y / 100.0).floor() as i64)
    }

    fn clear_of(&self, p: Xy, spacing_m: f64) -> bool {
        let (cx, cy) = Grid::cell(p);
        let r = (spacing_m / 100.0).ceil() as i64;
        (cx - r..=cx + r).all(|x| {
            (cy - r..=cy + r).all(|y| self.0.get(&(x, y)).is_none_or(|v| v.iter().all(|q| q.dist(p) >= spacing_m)))
        })
    }

    fn add(&mut self, p: Xy) {
        self.0.entry(Grid::cell(p)).or_default().push(p);
    }
}

/// Places `counts` = (intersections, spots, sections) sites, the same on every run.
pub fn place(towns: &[Town], net: &Network, counts: (usize, usize, usize)) -> Vec<Place> {
    let mut rng = Rng::stream("places");
    let town_of = |g: &Geom| towns::town_at(towns, g.town_anchor()).expect("roads stay inside the area");
    // Hazards concentrate on rural roads: weight each road by length and class.
    let weights: Vec<(usize, u32)> = net
        .roads
        .iter()
        .enumerate()
        .map(|(i, r)| (i, (r.line.len_m() / 100.0 * [6.0, 7.0, 10.0, 13.0, 16.0][usize::from(r.rank())]) as u32))
        .collect();
    let mut out = Vec::with_capacity(counts.0 + counts.1 + counts.2);

    // Intersections: every mapped junction, then junctions with unmapped field roads at road vertices.
    let mut crossings = Grid::default();
    for j in net.junctions.iter().take(counts.0) {
        let geom = Geom::Point(j.at);
        crossings.add(j.at);
        let town = town_of(&geom);
        out.push(Place {
            kind: SiteKind::Intersection,
            geom,
            road: j.roads[0],
            s: j.s[0],
            s_end: j.s[0],
            other_road: Some(j.roads[1]),
            town,
        });
    }
    let mut attempts = 0;
    while out.len() < counts.0 {
        attempts += 1;
        let road = *rng.weighted(&weights);
        let line = &net.roads[road].line;
        // Mostly at a vertex (where the map's line bends, a field road usually joins); when the vertices
        // are taken, anywhere along the road.
        let s = if attempts < 20 * counts.0 {
            line.vertex_s(rng.int(1, line.points().len() as i64 - 2) as usize)
        } else {
            rng.range(50.0, line.len_m() - 50.0)
        };
        let at = line.at(s);
        if !crossings.clear_of(at, INTERSECTION_SPACING_M) {
            continue;
        }
        crossings.add(at);
        let geom = Geom::Point(at);
        let town = town_of(&geom);
        out.push(Place { kind: SiteKind::Intersection, geom, road, s, s_end: s, other_road: None, town });
    }

    // Spots: on the road, a metre or two to the side where the hazard is.
    let mut spots = Grid::default();
    let target = out.len() + counts.1;
    while out.len() < target {
        let road = *rng.weighted(&weights);
        let line = &net.roads[road].line;
        let s = rng.range(30.0, line.len_m() - 30.0);
        let at = line.at(s).add(line.heading(s).left().scale(rng.range(-3.0, 3.0)));
        if !spots.clear_of(at, SPOT_SPACING_M) || !crossings.clear_of(at, 40.0) {
            continue;
        }
        spots.add(at);
        let geom = Geom::Point(at);
        let town = town_of(&geom);
        out.push(Place { kind: SiteKind::Spot, geom, road, s, s_end: s, other_road: None, town });
    }

    // Sections: 100–600 m of a road, not overlapping others on the same road.
    let mut taken: HashMap<usize, Vec<(f64, f64)>> = HashMap::new();
    let target = out.len() + counts.2;
    while out.len() < target {
        let road = *rng.weighted(&weights);
        let line = &net.roads[road].line;
        let length_m = rng.range(100.0, 600.0);
        if line.len_m() < length_m + 100.0 {
            continue;
        }
        let s0 = rng.range(0.0, line.len_m() - length_m);
        let s1 = s0 + length_m;
        let busy = taken.entry(road).or_default();
        if busy.iter().any(|&(a, b)| s0 < b + SECTION_GAP_M && a < s1 + SECTION_GAP_M) {
            continue;
        }
        busy.push((s0, s1));
        let geom = Geom::Line(line.substring(s0, s1));
        let town = town_of(&geom);
        out.push(Place { kind: SiteKind::Section, geom, road, s: s0, s_end: s1, other_road: None, town });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::roads;

    #[test]
    fn places_have_the_asked_counts_and_stay_apart() {
        let towns = towns::tile();
        let net = roads::build(&towns);
        let places = place(&towns, &net, (INTERSECTIONS, SPOTS, SECTIONS));
        let count = |k: SiteKind| places.iter().filter(|p| p.kind == k).count();
        assert_eq!(
            [count(SiteKind::Intersection), count(SiteKind::Spot), count(SiteKind::Section)],
            [INTERSECTIONS, SPOTS, SECTIONS]
        );
        for p in &places {
            match &p.geom {
                Geom::Point(at) => assert!(net.roads[p.road].line.at(p.s).dist(*at) <= 3.01),
                Geom::Line(pts) => {
                    let length_m: f64 = pts.windows(2).map(|w| w[0].dist(w[1])).sum();
                    assert!((99.0..=601.0).contains(&length_m), "section of {length_m} m");
                }
            }
        }
    }
}
