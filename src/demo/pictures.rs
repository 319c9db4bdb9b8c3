//! Small synthetic road photos (real JPEGs): a road running to the horizon, fields, sometimes a canal, and
//! the facilities of the checklists — warning sign, warning posts, speed bump, markings, a beacon.
//!
//! "Before" pictures show the hazard (no sign, faded markings, leaning posts, crops drying on the road),
//! "after" pictures the finished remediation, "night" pictures the beacon working in the dark (the night
//! evidence the checklists ask for). Close-ups show one finished facility near the camera, as a unit
//! photographs each checklist item for its evidence, and night close-ups the lights that are not flashing
//! beacons (a signal head, a street lamp) lit in the dark. Drawn straight into an RGB buffer: our crate is
//! built without optimisation in debug builds, so per-pixel generic image calls would be slow.

use std::ops::Range;

use super::rng::Rng;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
const JPEG_QUALITY: u8 = 85;

/// Which pictures show what; `COUNT` in all. `NIGHT` pictures show a flashing beacon at night.
pub const BEFORE: Range<usize> = 0..12;
pub const AFTER: Range<usize> = 12..20;
pub const NIGHT: Range<usize> = 20..24;
/// Two close-ups per facility, in `Facility::ALL` order.
pub const CLOSE_UPS: Range<usize> = 24..38;
/// Night close-ups of the facilities in `NIGHT_CLOSE_UP_OF`, in that order.
pub const NIGHT_CLOSE_UPS: Range<usize> = 38..41;
pub const COUNT: usize = 41;

/// A finished facility, as an evidence photo shows it close up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    Sign,
    Marking,
    Bump,
    Posts,
    /// A flashing warning beacon (黄闪灯, 爆闪灯), usually solar.
    Beacon,
    /// A full traffic signal head.
    Signal,
    StreetLamp,
}

impl Facility {
    const ALL: [Facility; 7] = [
        Facility::Sign,
        Facility::Marking,
        Facility::Bump,
        Facility::Posts,
        Facility::Beacon,
        Facility::Signal,
        Facility::StreetLamp,
    ];
}

const NIGHT_CLOSE_UP_OF: [Facility; 3] = [Facility::Signal, Facility::StreetLamp, Facility::StreetLamp];

/// A close-up of the finished facility: picture `variant` of its two.
pub fn close_up(facility: Facility, variant: usize) -> usize {
    let k = Facility::ALL.iter().position(|f| *f == facility).expect("every facility is in ALL");
    CLOSE_UPS.start + 2 * k + variant % 2
}

/// A night picture of the facility working, for lights (`None` for what does not light up).
pub fn night(facility: Facility, variant: usize) -> Option<usize> {
    if facility == Facility::Beacon {
        return Some(NIGHT.start + variant % NIGHT.len());
    }
    let own: Vec<usize> =
        NIGHT_CLOSE_UPS.filter(|i| NIGHT_CLOSE_UP_OF[i - NIGHT_CLOSE_UPS.start] == facility).collect();
    (!own.is_empty()).then(|| own[variant % own.len()])
}

type Rgb = [u8; 3];

struct Canvas {
    w: i32,
    h: i32,
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Canvas { w: WIDTH as i32, h: HEIGHT as i32, px: vec![0; (WIDTH * HEIGHT * 3) as usize] }
    }

    fn blend(&mut self, x: i32, y: i32, c: Rgb, alpha: f64) {
        if x < 0 || y < 0 || x >= self.w || y >= self.h {
            return;
        }
        let i = ((y * self.w + x) * 3) as usize;
        for (old, new) in self.px[i..i + 3].iter_mut().zip(c) {
            let o = f64::from(*old);
            *old = (o + (f64::from(new) - o) * alpha).round().clamp(0.0, 255.0) as u8;
        }
    }

    fn row(&mut self, y: i32, x0: f64, x1: f64, c: Rgb) {
        if y < 0 || y >= self.h {
            return;
        }
        let (a, b) = (x0.round().max(0.0) as i32, x1.round().min(f64::from(self.w)) as i32);
        for x in a..b {
            let i = ((y * self.w + x) * 3) as usize;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        for y in y0.round() as i32..y1.round() as i32 {
            self.row(y, x0, x1, c);
        }
    }

    /// Fills a polygon (even-odd, scanline).
    fn poly(&mut self, pts: &[(f64, f64)], c: Rgb) {
        let y0 = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min).floor().max(0.0) as i32;
        let y1 = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max).ceil().min(f64::from(self.h)) as i32;
        let mut xs: Vec<f64> = Vec::with_capacity(8);
        for y in y0..y1 {
            let yc = f64::from(y) + 0.5;
            xs.clear();
            for (i, &(ax, ay)) in pts.iter().enumerate() {
                let (bx, by) = pts[(i + 1) % pts.len()];
                if (ay <= yc && by > yc) || (by <= yc && ay > yc) {
                    xs.push(ax + (yc - ay) / (by - ay) * (bx - ax));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                self.row(y, pair[0], pair[1], c);
            }
        }
    }

    fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        for y in (cy - r).floor() as i32..=(cy + r).ceil() as i32 {
            let dy = f64::from(y) + 0.5 - cy;
            if dy.abs() <= r {
                let dx = (r * r - dy * dy).sqrt();
                self.row(y, cx - dx, cx + dx, c);
            }
        }
    }

    /// A soft halo, for lamps at night.
    fn glow(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        for y in (cy - r) as i32..=(cy + r) as i32 {
            for x in (cx - r) as i32..=(cx + r) as i32 {
                let d = (f64::from(x) - cx).hypot(f64::from(y) - cy) / r;
                if d < 1.0 {
                    self.blend(x, y, c, 0.85 * (1.0 - d).powi(2));
                }
            }
        }
    }

    /// A pool of light on the ground under a lamp: an ellipse, brightest in the middle.
    fn pool(&mut self, cx: f64, cy: f64, rx: f64, ry: f64, c: Rgb) {
        for y in (cy - ry) as i32..=(cy + ry) as i32 {
            for x in (cx - rx) as i32..=(cx + rx) as i32 {
                let d = ((f64::from(x) - cx) / rx).hypot((f64::from(y) - cy) / ry);
                if d < 1.0 {
                    self.blend(x, y, c, 0.6 * (1.0 - d * d));
                }
            }
        }
    }

    /// Film grain, so the JPEG looks like a photo rather than a drawing.
    fn grain(&mut self, rng: &mut Rng, amount: i32) {
        let mut state = rng.next_u64() as u32 | 1;
        for v in self.px.iter_mut() {
            // xorshift32: cheap enough to run on every byte in a debug build.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % (2 * amount as u32 + 1)) as i32 - amount;
            *v = (i32::from(*v) + n).clamp(0, 255) as u8;
        }
    }
}

fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    [0, 1, 2].map(|k| (f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * t).round() as u8)
}

fn dim(c: Rgb, k: f64) -> Rgb {
    c.map(|v| (f64::from(v) * k).round() as u8)
}

#[derive(Clone, Copy, PartialEq)]
enum Light {
    Day,
    Overcast,
    Dusk,
    Night,
}

/// The road seen from the driver's seat: it narrows to `vanish` on the horizon.
struct Road {
    horizon: f64,
    vanish_x: f64,
    bottom_x: f64,
    half_bottom: f64,
}

impl Road {
    /// Depth 0 at the horizon, 1 at the bottom of the picture.
    fn y(&self, t: f64) -> f64 {
        self.horizon + t * (f64::from(HEIGHT) - self.horizon)
    }

    fn centre(&self, t: f64) -> f64 {
        self.vanish_x + (self.bottom_x - self.vanish_x) * t
    }

    /// x of a line `lateral` road half-widths from the centre (±1 are the edges).
    fn x(&self, t: f64, lateral: f64) -> f64 {
        self.centre(t) + lateral * self.half_bottom * t
    }

    /// A band between two laterals and two depths, as a polygon.
    fn band(&self, l0: f64, l1: f64, t0: f64, t1: f64) -> [(f64, f64); 4] {
        [
            (self.x(t0, l0), self.y(t0)),
            (self.x(t0, l1), self.y(t0)),
            (self.x(t1, l1), self.y(t1)),
            (self.x(t1, l0), self.y(t1)),
        ]
    }
}

/// What one picture shows.
struct Scene {
    light: Light,
    after: bool,
    /// A close-up: this facility near the camera, and nothing else of the junction.
    focus: Option<Facility>,
    /// Which of a facility's close-ups: they differ in layout, not only in the random draws.
    variant: usize,
    canal_side: Option<f64>,
    crops_on_road: bool,
    sign: bool,
    posts: bool,
    bump: bool,
    beacon: bool,
}

impl Scene {
    fn near(&self, facility: Facility) -> bool {
        self.focus == Some(facility)
    }
}

fn scene(index: usize, rng: &mut Rng) -> Scene {
    let close_up = if CLOSE_UPS.contains(&index) {
        let k = index - CLOSE_UPS.start;
        Some((Facility::ALL[k / 2], k % 2, false))
    } else if NIGHT_CLOSE_UPS.contains(&index) {
        let k = index - NIGHT_CLOSE_UPS.start;
        let facility = NIGHT_CLOSE_UP_OF[k];
        Some((facility, NIGHT_CLOSE_UP_OF[..k].iter().filter(|f| **f == facility).count(), true))
    } else {
        None
    };
    if let Some((facility, variant, night)) = close_up {
        let light = if night { Light::Night } else { *rng.weighted(&[(Light::Day, 3), (Light::Overcast, 2)]) };
        return Scene {
            light,
            after: true,
            focus: Some(facility),
            variant,
            canal_side: rng.chance(0.3).then(|| if rng.chance(0.5) { 1.0 } else { -1.0 }),
            crops_on_road: false,
            sign: facility == Facility::Sign,
            posts: facility == Facility::Posts,
            bump: facility == Facility::Bump,
            beacon: facility == Facility::Beacon,
        };
    }
    let night = NIGHT.contains(&index);
    let after = !BEFORE.contains(&index);
    let light =
        if night { Light::Night } else { *rng.weighted(&[(Light::Day, 5), (Light::Overcast, 3), (Light::Dusk, 1)]) };
    let canal_side = rng.chance(0.4).then(|| if rng.chance(0.5) { 1.0 } else { -1.0 });
    Scene {
        light,
        after,
        focus: None,
        variant: 0,
        canal_side,
        crops_on_road: !after && rng.chance(0.25),
        sign: after || rng.chance(0.3),
        posts: after || rng.chance(0.4),
        bump: after && rng.chance(0.6),
        beacon: night || (after && rng.chance(0.5)),
    }
}

/// Renders picture `index` (0..COUNT) as a JPEG.
pub fn render(index: usize) -> Vec<u8> {
    let mut rng = Rng::stream(&format!("picture-{index}"));
    let s = scene(index, &mut rng);
    let mut c = Canvas::new();
    let (w, h) = (f64::from(WIDTH), f64::from(HEIGHT));
    let shade = match s.light {
        Light::Day => 1.0,
        Light::Overcast => 0.85,
        Light::Dusk => 0.7,
        Light::Night => 0.22,
    };

    // Sky, from the zenith to the horizon.
    let horizon = h * rng.range(0.38, 0.47);
    let (top, low) = match s.light {
        Light::Day => ([62, 124, 201], [196, 220, 238]),
        Light::Overcast => ([140, 146, 154], [208, 208, 206]),
        Light::Dusk => ([58, 66, 118], [242, 168, 104]),
        Light::Night => ([4, 6, 20], [28, 32, 58]),
    };
    for y in 0..horizon as i32 {
        c.row(y, 0.0, w, mix(top, low, f64::from(y) / horizon));
    }
    if s.light == Light::Day && rng.chance(0.6) {
        for _ in 0..rng.int(2, 4) {
            let (cx, cy) = (rng.range(0.0, w), rng.range(20.0, horizon * 0.6));
            for k in 0..5 {
                c.disc(
                    cx + f64::from(k) * 18.0 - 36.0,
                    cy + rng.range(-6.0, 6.0),
                    rng.range(14.0, 24.0),
                    [240, 242, 245],
                );
            }
        }
    }

    // Fields with furrows running to the vanishing point, and a tree line on the horizon.
    let field = dim(*rng.pick(&[[86, 142, 62], [112, 150, 58], [190, 168, 82], [206, 188, 52]]), shade);
    let furrow = dim(field, 0.82);
    c.rect(0.0, horizon, w, h, field);
    let road = Road {
        horizon,
        vanish_x: w * rng.range(0.42, 0.58),
        bottom_x: w * rng.range(0.45, 0.6),
        half_bottom: w * rng.range(0.36, 0.48),
    };
    for k in -14..=14 {
        let lateral = f64::from(k) * 0.55;
        if lateral.abs() > 1.3 {
            c.poly(&road.band(lateral, lateral + 0.06, 0.02, 1.0), furrow);
        }
    }
    let trees = dim([46, 78, 44], shade);
    let mut x = 0.0;
    while x < w {
        let r = rng.range(5.0, 13.0);
        c.disc(x, horizon - r * 0.4, r, trees);
        x += r * 1.3;
    }

    // A canal beside the road, with its bank.
    if let Some(side) = s.canal_side {
        let (a, b) = if side > 0.0 { (1.45, 3.2) } else { (-3.2, -1.45) };
        c.poly(&road.band(a, b, 0.0, 1.0), dim([92, 124, 136], shade));
    }

    // The road: asphalt, edge lines, a dashed centre line; faded before remediation.
    c.poly(&road.band(-1.0, 1.0, 0.0, 1.0), dim([88, 88, 92], shade.max(0.3)));
    let paint = if s.after { dim([236, 236, 230], shade.max(0.35)) } else { dim([150, 150, 146], shade.max(0.3)) };
    for edge in [-0.94, 0.9] {
        c.poly(&road.band(edge, edge + 0.04, 0.0, 1.0), paint);
    }
    let mut t: f64 = 0.03;
    while t < 1.0 {
        let t1 = (t * 1.22).min(1.0);
        if !s.after && rng.chance(0.4) {
            t = t1 * 1.2;
            continue; // worn away
        }
        c.poly(&road.band(-0.025, 0.025, t, t1), paint);
        t = t1 * 1.2;
    }
    if s.crops_on_road {
        let grain = dim([214, 178, 88], shade);
        for _ in 0..3 {
            let t0 = rng.range(0.3, 0.8);
            c.poly(&road.band(0.1, 0.85, t0, t0 + 0.08), grain);
        }
    }
    // Fresh markings close up: transverse speed-reduction bars, or a stop line and a zebra crossing.
    if s.near(Facility::Marking) {
        if s.variant == 0 {
            for k in 0..7 {
                let t0 = 0.5 + f64::from(k) * 0.07;
                c.poly(&road.band(-0.9, 0.9, t0, t0 + 0.012 + 0.012 * t0), paint);
            }
        } else {
            c.poly(&road.band(-0.95, 0.95, 0.64, 0.66), paint);
            for k in 0..9 {
                let l = -0.9 + f64::from(k) * 0.2;
                c.poly(&road.band(l, l + 0.11, 0.72, 0.88), paint);
            }
        }
    }
    if s.bump {
        // Close up: one thick bump near the camera, or a pair of them.
        let strips: Vec<(f64, f64)> = match (s.near(Facility::Bump), s.variant) {
            (false, _) => vec![(rng.range(0.55, 0.7), 0.025)],
            (true, 0) => vec![(rng.range(0.74, 0.8), 0.05)],
            (true, _) => vec![(0.6, 0.035), (0.8, 0.05)],
        };
        for (t0, depth) in strips {
            for k in 0..10 {
                let l = -1.0 + f64::from(k) * 0.2;
                let colour = if k % 2 == 0 { [226, 190, 30] } else { [30, 30, 30] };
                c.poly(&road.band(l, l + 0.2, t0, t0 + depth), dim(colour, shade.max(0.4)));
            }
        }
    }

    // Warning posts (white with red bands) at the mouth of a side road; leaning when not remediated.
    if s.posts {
        // Close up: taller posts nearer the camera, on one side of the side road or on both.
        let near = s.near(Facility::Posts);
        let (t0, step, size) =
            if near { (rng.range(0.6, 0.66), 0.07, 2.0) } else { (rng.range(0.45, 0.6), 0.035, 1.0) };
        let sides: &[f64] = if near && s.variant == 1 { &[-1.12, 1.08] } else { &[-1.12] };
        for (k, lateral) in (0..4).flat_map(|k| sides.iter().map(move |l| (k, *l))) {
            let tk = t0 + f64::from(k) * step;
            let x0 = road.x(tk, lateral);
            let (pw, ph) = ((5.0 * tk + 2.0) * size, 70.0 * tk * size);
            let lean = if s.after || k % 2 == 0 { 0.0 } else { 0.3 * ph };
            let y1 = road.y(tk);
            let post = [(x0, y1), (x0 + pw, y1), (x0 + pw + lean, y1 - ph), (x0 + lean, y1 - ph)];
            c.poly(&post, dim([240, 240, 240], shade.max(0.35)));
            for band in [0.55, 0.8] {
                let (ya, yb) = (y1 - ph * band, y1 - ph * (band + 0.1));
                let (la, lb) = (lean * band, lean * (band + 0.1));
                c.poly(
                    &[(x0 + la, ya), (x0 + pw + la, ya), (x0 + pw + lb, yb), (x0 + lb, yb)],
                    dim([206, 30, 36], shade.max(0.35)),
                );
            }
        }
    }

    // The warning sign: a yellow triangle with a black border and a crossroads symbol, on a pole.
    if s.sign {
        // Close up: a big sign beside the camera, with a crossroads or an exclamation mark (注意危险).
        let near = s.near(Facility::Sign);
        let tk = if near { rng.range(0.82, 0.9) } else { rng.range(0.5, 0.75) };
        let (pole_h, size) = if near { (250.0 * tk, 150.0 * tk + 20.0) } else { (230.0 * tk, 90.0 * tk + 10.0) };
        let base_x = if near { road.x(tk, 1.1).min(w - size * 0.6 - 8.0) } else { road.x(tk, 1.25) };
        let tilt = if s.after { 0.0 } else { rng.range(0.15, 0.35) };
        let ground = road.y(tk);
        let top = (base_x + tilt * pole_h, ground - pole_h);
        c.poly(
            &[(base_x - 2.0, ground), (base_x + 2.0, ground), (top.0 + 2.0, top.1), (top.0 - 2.0, top.1)],
            dim([150, 150, 155], shade.max(0.35)),
        );
        let tri = |k: f64| {
            [
                (top.0, top.1 - size * k),
                (top.0 + size * 0.58 * k, top.1 + size * 0.42 * k),
                (top.0 - size * 0.58 * k, top.1 + size * 0.42 * k),
            ]
        };
        c.poly(&tri(1.0), [20, 20, 20]);
        let yellow = if s.after { [246, 200, 20] } else { [196, 176, 96] };
        c.poly(&tri(0.8), dim(yellow, shade.max(0.45)));
        let bar = size * 0.07;
        if near && s.variant == 1 {
            c.rect(top.0 - bar, top.1 - size * 0.55, top.0 + bar, top.1 + size * 0.02, [20, 20, 20]);
            c.disc(top.0, top.1 + size * 0.17, bar * 1.3, [20, 20, 20]);
        } else {
            c.rect(top.0 - bar, top.1 - size * 0.45, top.0 + bar, top.1 + size * 0.25, [20, 20, 20]);
            c.rect(
                top.0 - size * 0.3,
                top.1 - bar - size * 0.1,
                top.0 + size * 0.3,
                top.1 + bar - size * 0.1,
                [20, 20, 20],
            );
        }
    }

    // A solar flashing beacon over the junction: a glow at night, a yellow lamp by day.
    if s.beacon {
        // Close up: nearer and bigger, on either side of the road.
        let near = s.near(Facility::Beacon);
        let (tk, k) = if near { (rng.range(0.62, 0.7), 1.8) } else { (rng.range(0.35, 0.5), 1.0) };
        let x0 = road.x(tk, if near && s.variant == 1 { 1.15 } else { -1.3 }).clamp(30.0 * k, w - 30.0 * k);
        let (ground, pole_h) = (road.y(tk), 260.0 * tk + 40.0);
        c.rect(x0 - 2.0 * k, ground - pole_h, x0 + 2.0 * k, ground, dim([120, 120, 124], shade.max(0.3)));
        c.rect(x0 - 12.0 * k, ground - pole_h - 16.0 * k, x0 + 12.0 * k, ground - pole_h, [40, 40, 40]);
        c.rect(x0 - 22.0 * k, ground - pole_h - 30.0 * k, x0 + 22.0 * k, ground - pole_h - 24.0 * k, [30, 44, 80]);
        if s.light == Light::Night {
            c.glow(x0, ground - pole_h - 8.0 * k, 70.0 * k, [255, 214, 90]);
        }
        c.disc(x0, ground - pole_h - 8.0 * k, 7.0 * k, [255, 208, 40]);
    }

    // A signal head hung from an arm over the road: green lit by day, amber flashing in the other view and
    // at night.
    if s.near(Facility::Signal) {
        let tk = rng.range(0.6, 0.68);
        let x0 = road.x(tk, 1.2).min(w - 12.0);
        let (ground, pole_h) = (road.y(tk), 330.0 * tk);
        let arm_y = ground - pole_h;
        let head_x = road.x(tk, 0.35);
        let steel = dim([130, 132, 136], shade.max(0.3));
        c.rect(x0 - 4.0, arm_y, x0 + 4.0, ground, steel);
        c.rect(head_x - 4.0, arm_y - 3.0, x0 + 4.0, arm_y + 3.0, steel);
        c.rect(head_x - 16.0, arm_y + 3.0, head_x + 16.0, arm_y + 93.0, [28, 28, 30]);
        let lit = if s.variant == 0 && s.light != Light::Night { 2 } else { 1 };
        for (slot, colour) in [[226, 40, 36], [250, 176, 30], [40, 210, 90]].into_iter().enumerate() {
            let cy = arm_y + 18.0 + 30.0 * slot as f64;
            if slot == lit {
                if s.light == Light::Night {
                    c.glow(head_x, cy, 60.0, colour);
                }
                c.disc(head_x, cy, 10.0, colour);
            } else {
                c.disc(head_x, cy, 10.0, dim(colour, 0.25));
            }
        }
    }

    // An LED street lamp on an arm over the road; at night its light falls on the road below.
    if s.near(Facility::StreetLamp) {
        let side = if s.variant == 0 { 1.0 } else { -1.0 };
        let tk = rng.range(0.58, 0.66);
        let x0 = road.x(tk, 1.25 * side).clamp(12.0, w - 12.0);
        let (ground, pole_h) = (road.y(tk), 360.0 * tk);
        let head_x = road.x(tk, 0.45 * side);
        let top = ground - pole_h;
        let steel = dim([150, 152, 156], shade.max(0.3));
        c.rect(x0 - 4.0, top, x0 + 4.0, ground, steel);
        c.rect(head_x.min(x0), top - 3.0, head_x.max(x0), top + 3.0, steel);
        c.rect(head_x - 30.0, top + 3.0, head_x + 30.0, top + 12.0, dim([90, 92, 96], shade.max(0.4)));
        let face = if s.light == Light::Night { [255, 244, 214] } else { [214, 218, 222] };
        c.rect(head_x - 26.0, top + 12.0, head_x + 26.0, top + 16.0, face);
        if s.light == Light::Night {
            c.glow(head_x, top + 14.0, 80.0, [255, 236, 190]);
            c.pool(head_x, road.y(tk + 0.12), 150.0, 40.0, [236, 222, 180]);
        }
    }

    c.grain(&mut rng, 6);
    let mut out = Vec::with_capacity(64 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode(&c.px, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .expect("encoding an in-memory RGB buffer cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photos::process::{PhotoLimits, process};

    #[test]
    fn pictures_are_distinct_jpegs_the_upload_path_accepts() {
        let mut hashes = std::collections::HashSet::new();
        for index in [0, BEFORE.end - 1, AFTER.start, NIGHT.start, CLOSE_UPS.start, NIGHT_CLOSE_UPS.start, COUNT - 1] {
            let photo = process(&render(index), PhotoLimits::default()).expect("accepted");
            assert_eq!((photo.width, photo.height), (WIDTH, HEIGHT));
            assert_eq!((photo.thumbnail_width, photo.thumbnail_height), (320, 240));
            assert!(hashes.insert(photo.sha256));
        }
        assert_eq!(BEFORE.len() + AFTER.len() + NIGHT.len() + CLOSE_UPS.len() + NIGHT_CLOSE_UPS.len(), COUNT);
    }

    #[test]
    fn every_facility_has_two_close_ups_and_every_light_a_night_picture() {
        let mut close_ups: Vec<usize> = Facility::ALL.iter().flat_map(|f| [close_up(*f, 0), close_up(*f, 1)]).collect();
        close_ups.sort_unstable();
        assert_eq!(close_ups, CLOSE_UPS.collect::<Vec<_>>());
        for f in [Facility::Beacon, Facility::Signal, Facility::StreetLamp] {
            let index = night(f, 0).expect("a light has a night picture");
            assert!(NIGHT.contains(&index) || NIGHT_CLOSE_UPS.contains(&index), "{f:?}");
        }
        assert_eq!(night(Facility::StreetLamp, 0), Some(NIGHT_CLOSE_UPS.start + 1));
        assert_eq!(night(Facility::StreetLamp, 1), Some(NIGHT_CLOSE_UPS.start + 2));
        assert_eq!(night(Facility::Sign, 0), None);
    }
}
