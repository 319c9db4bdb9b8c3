//! Planar geometry for the demo: a local metric frame around Zhangjiagang, polylines, clipping and WKT.
//!
//! At this scale (≈ 47 × 33 km) an equirectangular frame is good to a few metres per kilometre, plenty for a
//! synthetic dataset: 1° of latitude ≈ 111.0 km and 1° of longitude ≈ 94.5 km at 31.9° N. The mapping is
//! affine, so a point on a segment in metres is on the same segment in degrees: stakes derived by PostGIS
//! from the stored geometry agree with where the points were put here.

use std::fmt::Write as _;

const ORIGIN_LON: f64 = 120.55;
const ORIGIN_LAT: f64 = 31.9;
const M_PER_DEG_LON: f64 = 94_500.0;
const M_PER_DEG_LAT: f64 = 111_000.0;

/// The demo area (west, south, east, north), WGS-84 degrees: Zhangjiagang, county admin code 320582.
pub const AREA_DEG: [f64; 4] = [120.30, 31.75, 120.80, 32.05];

/// Degrees are written with 7 decimals (≈ 1 cm); every coordinate is rounded once, here, so shared
/// vertices stay identical in every geometry that uses them.
pub fn round_deg(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// A position in the local frame, metres east and north of 120.55° E, 31.9° N.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xy {
    pub x: f64,
    pub y: f64,
}

impl Xy {
    pub const fn new(x: f64, y: f64) -> Self {
        Xy { x, y }
    }

    pub fn from_lonlat(lon: f64, lat: f64) -> Self {
        Xy { x: (lon - ORIGIN_LON) * M_PER_DEG_LON, y: (lat - ORIGIN_LAT) * M_PER_DEG_LAT }
    }

    /// WGS-84 (lon, lat), rounded to 7 decimals.
    pub fn lonlat(self) -> (f64, f64) {
        (round_deg(ORIGIN_LON + self.x / M_PER_DEG_LON), round_deg(ORIGIN_LAT + self.y / M_PER_DEG_LAT))
    }

    pub fn add(self, o: Xy) -> Xy {
        Xy::new(self.x + o.x, self.y + o.y)
    }

    pub fn sub(self, o: Xy) -> Xy {
        Xy::new(self.x - o.x, self.y - o.y)
    }

    pub fn scale(self, k: f64) -> Xy {
        Xy::new(self.x * k, self.y * k)
    }

    pub fn dot(self, o: Xy) -> f64 {
        self.x * o.x + self.y * o.y
    }

    pub fn cross(self, o: Xy) -> f64 {
        self.x * o.y - self.y * o.x
    }

    pub fn len(self) -> f64 {
        self.x.hypot(self.y)
    }

    pub fn dist(self, o: Xy) -> f64 {
        self.sub(o).len()
    }

    pub fn lerp(self, o: Xy, t: f64) -> Xy {
        self.add(o.sub(self).scale(t))
    }

    /// The unit vector in this direction.
    pub fn unit(self) -> Xy {
        let l = self.len();
        if l == 0.0 { Xy::new(1.0, 0.0) } else { self.scale(1.0 / l) }
    }

    /// Rotated anticlockwise by `rad`.
    pub fn rotate(self, rad: f64) -> Xy {
        let (s, c) = rad.sin_cos();
        Xy::new(self.x * c - self.y * s, self.x * s + self.y * c)
    }

    /// The unit normal, to the left of this direction.
    pub fn left(self) -> Xy {
        Xy::new(-self.y, self.x).unit()
    }

    /// A point `r` metres away in a direction given by `angle` (radians from east).
    pub fn offset(self, r: f64, angle: f64) -> Xy {
        Xy::new(self.x + r * angle.cos(), self.y + r * angle.sin())
    }
}

/// The demo area in the local frame: (south-west, north-east).
pub fn area() -> (Xy, Xy) {
    let [w, s, e, n] = AREA_DEG;
    (Xy::from_lonlat(w, s), Xy::from_lonlat(e, n))
}

/// True when `p` lies inside the area with `margin_m` to spare.
pub fn inside_area(p: Xy, margin_m: f64) -> bool {
    let (lo, hi) = area();
    p.x >= lo.x + margin_m && p.x <= hi.x - margin_m && p.y >= lo.y + margin_m && p.y <= hi.y - margin_m
}

/// A polyline with cumulative lengths, for "the point `s` metres along".
#[derive(Debug, Clone)]
pub struct Polyline {
    pts: Vec<Xy>,
    cum: Vec<f64>,
}

impl Polyline {
    pub fn new(pts: Vec<Xy>) -> Self {
        assert!(pts.len() >= 2, "a polyline needs two points");
        let mut cum = Vec::with_capacity(pts.len());
        let mut total = 0.0;
        cum.push(0.0);
        for w in pts.windows(2) {
            total += w[0].dist(w[1]);
            cum.push(total);
        }
        Polyline { pts, cum }
    }

    pub fn points(&self) -> &[Xy] {
        &self.pts
    }

    pub fn len_m(&self) -> f64 {
        *self.cum.last().expect("two points or more")
    }

    /// Distance along the line of vertex `i`.
    pub fn vertex_s(&self, i: usize) -> f64 {
        self.cum[i]
    }

    /// Index of the segment holding `s` (clamped to the line).
    fn segment(&self, s: f64) -> usize {
        let i = self.cum.partition_point(|&c| c <= s);
        i.clamp(1, self.pts.len() - 1) - 1
    }

    pub fn at(&self, s: f64) -> Xy {
        let s = s.clamp(0.0, self.len_m());
        let i = self.segment(s);
        let seg = self.cum[i + 1] - self.cum[i];
        let t = if seg == 0.0 { 0.0 } else { (s - self.cum[i]) / seg };
        self.pts[i].lerp(self.pts[i + 1], t)
    }

    /// Unit direction of travel at `s`.
    pub fn heading(&self, s: f64) -> Xy {
        let i = self.segment(s.clamp(0.0, self.len_m()));
        self.pts[i + 1].sub(self.pts[i]).unit()
    }

    /// The part between `s0` and `s1` (`s0 < s1`), like ST_LineSubstring.
    pub fn substring(&self, s0: f64, s1: f64) -> Vec<Xy> {
        let (s0, s1) = (s0.clamp(0.0, self.len_m()), s1.clamp(0.0, self.len_m()));
        let mut out = vec![self.at(s0)];
        for (p, &c) in self.pts.iter().zip(&self.cum) {
            if c > s0 && c < s1 && p.dist(*out.last().expect("not empty")) > 0.01 {
                out.push(*p);
            }
        }
        let end = self.at(s1);
        if end.dist(*out.last().expect("not empty")) > 0.01 {
            out.push(end);
        }
        out
    }

    /// Bounding box (south-west, north-east).
    pub fn bbox(&self) -> (Xy, Xy) {
        let mut lo = Xy::new(f64::INFINITY, f64::INFINITY);
        let mut hi = Xy::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
        for p in &self.pts {
            lo = Xy::new(lo.x.min(p.x), lo.y.min(p.y));
            hi = Xy::new(hi.x.max(p.x), hi.y.max(p.y));
        }
        (lo, hi)
    }
}

/// Where segments `a–b` and `c–d` meet: the parameters along each (0..=1), if they do.
pub fn segment_intersection(a: Xy, b: Xy, c: Xy, d: Xy) -> Option<(f64, f64)> {
    let r = b.sub(a);
    let s = d.sub(c);
    let denom = r.cross(s);
    if denom.abs() < 1e-12 {
        return None; // parallel or collinear: roads that run along each other do not make a junction
    }
    let q = c.sub(a);
    let t = q.cross(s) / denom;
    let u = q.cross(r) / denom;
    const EPS: f64 = 1e-9;
    ((-EPS..=1.0 + EPS).contains(&t) && (-EPS..=1.0 + EPS).contains(&u))
        .then_some((t.clamp(0.0, 1.0), u.clamp(0.0, 1.0)))
}

/// Sutherland–Hodgman: the part of a convex polygon where `side(p) <= 0`, `side` being affine.
pub fn clip_half_plane(poly: &[Xy], side: impl Fn(Xy) -> f64) -> Vec<Xy> {
    let mut out = Vec::with_capacity(poly.len() + 1);
    for (i, &p) in poly.iter().enumerate() {
        let q = poly[(i + 1) % poly.len()];
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0 && sq > 0.0) || (sp > 0.0 && sq < 0.0) {
            out.push(p.lerp(q, sp / (sp - sq)));
        }
    }
    out
}

fn push_coords(out: &mut String, pts: impl IntoIterator<Item = (f64, f64)>) {
    for (i, (lon, lat)) in pts.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{lon:.7} {lat:.7}");
    }
}

pub fn wkt_point(p: Xy) -> String {
    let (lon, lat) = p.lonlat();
    format!("POINT({lon:.7} {lat:.7})")
}

pub fn wkt_linestring(pts: &[Xy]) -> String {
    let mut out = String::from("LINESTRING(");
    push_coords(&mut out, pts.iter().map(|p| p.lonlat()));
    out.push(')');
    out
}

pub fn wkt_multilinestring(pts: &[Xy]) -> String {
    let mut out = String::from("MULTILINESTRING((");
    push_coords(&mut out, pts.iter().map(|p| p.lonlat()));
    out.push_str("))");
    out
}

/// One polygon without holes, from a closed ring of (lon, lat).
pub fn wkt_multipolygon(ring: &[(f64, f64)]) -> String {
    let mut out = String::from("MULTIPOLYGON(((");
    push_coords(&mut out, ring.iter().copied());
    out.push_str(")))");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polyline_measures_and_cuts() {
        let line = Polyline::new(vec![Xy::new(0.0, 0.0), Xy::new(100.0, 0.0), Xy::new(100.0, 50.0)]);
        assert_eq!(line.len_m(), 150.0);
        assert_eq!(line.at(120.0), Xy::new(100.0, 20.0));
        assert_eq!(line.heading(120.0), Xy::new(0.0, 1.0));
        assert_eq!(line.substring(50.0, 130.0), vec![Xy::new(50.0, 0.0), Xy::new(100.0, 0.0), Xy::new(100.0, 30.0)]);
    }

    #[test]
    fn segments_cross() {
        let hit = segment_intersection(Xy::new(0.0, 0.0), Xy::new(10.0, 0.0), Xy::new(5.0, -5.0), Xy::new(5.0, 5.0));
        assert_eq!(hit, Some((0.5, 0.5)));
        let miss = segment_intersection(Xy::new(0.0, 0.0), Xy::new(10.0, 0.0), Xy::new(5.0, 1.0), Xy::new(5.0, 5.0));
        assert_eq!(miss, None);
    }

    #[test]
    fn degrees_round_trip_to_the_centimetre() {
        let p = Xy::from_lonlat(120.6543210, 31.9876543);
        assert_eq!(p.lonlat(), (120.654321, 31.9876543));
        assert_eq!(wkt_point(p), "POINT(120.6543210 31.9876543)");
    }
}
