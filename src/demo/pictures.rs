//! Small synthetic road photos (real JPEGs): a road running to the horizon, fields, sometimes a canal, and
//! the facilities of the checklists — warning sign, warning posts, speed bump, markings, a beacon.
//!
//! "Before" pictures show the hazard (no sign, faded markings, leaning posts, crops drying on the road),
//! "after" pictures the finished remediation, "night" pictures the beacon working in the dark (the night
//! evidence the checklists ask for). Drawn straight into an RGB buffer: our crate is built without
//! optimisation in debug builds, so per-pixel generic image calls would be slow.

use std::ops::Range;

use super::rng::Rng;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
const JPEG_QUALITY: u8 = 85;

/// Which pictures show what; `COUNT` in all.
pub const BEFORE: Range<usize> = 0..12;
pub const AFTER: Range<usize> = 12..20;
pub const NIGHT: Range<usize> = 20..24;
pub const COUNT: usize = 24;

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
    canal_side: Option<f64>,
    crops_on_road: bool,
    sign: bool,
    posts: bool,
    bump: bool,
    beacon: bool,
}

fn scene(index: usize, rng: &mut Rng) -> Scene {
    let night = NIGHT.contains(&index);
    let after = !BEFORE.contains(&index);
    let light =
        if night { Light::Night } else { *rng.weighted(&[(Light::Day, 5), (Light::Overcast, 3), (Light::Dusk, 1)]) };
    let canal_side = rng.chance(0.4).then(|| if rng.chance(0.5) { 1.0 } else { -1.0 });
    Scene {
        light,
        after,
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
    if s.bump {
        let t0 = rng.range(0.55, 0.7);
        for k in 0..10 {
            let l = -1.0 + f64::from(k) * 0.2;
            let colour = if k % 2 == 0 { [226, 190, 30] } else { [30, 30, 30] };
            c.poly(&road.band(l, l + 0.2, t0, t0 + 0.025), dim(colour, shade.max(0.4)));
        }
    }

    // Warning posts (white with red bands) at the mouth of a side road; leaning when not remediated.
    if s.posts {
        let t0 = rng.range(0.45, 0.6);
        for k in 0..4 {
            let tk = t0 + f64::from(k) * 0.035;
            let x0 = road.x(tk, -1.12);
            let (pw, ph) = (5.0 * tk + 2.0, 70.0 * tk);
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
        let tk = rng.range(0.5, 0.75);
        let base_x = road.x(tk, 1.25);
        let (pole_h, size) = (230.0 * tk, 90.0 * tk + 10.0);
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
        c.rect(top.0 - bar, top.1 - size * 0.45, top.0 + bar, top.1 + size * 0.25, [20, 20, 20]);
        c.rect(
            top.0 - size * 0.3,
            top.1 - bar - size * 0.1,
            top.0 + size * 0.3,
            top.1 + bar - size * 0.1,
            [20, 20, 20],
        );
    }

    // A solar flashing beacon over the junction: a glow at night, a yellow lamp by day.
    if s.beacon {
        let tk = rng.range(0.35, 0.5);
        let x0 = road.x(tk, -1.3);
        let (ground, pole_h) = (road.y(tk), 260.0 * tk + 40.0);
        c.rect(x0 - 2.0, ground - pole_h, x0 + 2.0, ground, dim([120, 120, 124], shade.max(0.3)));
        c.rect(x0 - 12.0, ground - pole_h - 16.0, x0 + 12.0, ground - pole_h, [40, 40, 40]);
        c.rect(x0 - 22.0, ground - pole_h - 30.0, x0 + 22.0, ground - pole_h - 24.0, [30, 44, 80]);
        if s.light == Light::Night {
            c.glow(x0, ground - pole_h - 8.0, 70.0, [255, 214, 90]);
        }
        c.disc(x0, ground - pole_h - 8.0, 7.0, [255, 208, 40]);
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
        for index in [0, BEFORE.end - 1, AFTER.start, NIGHT.start, COUNT - 1] {
            let photo = process(&render(index), PhotoLimits::default()).expect("accepted");
            assert_eq!((photo.width, photo.height), (WIDTH, HEIGHT));
            assert_eq!((photo.thumbnail_width, photo.thumbnail_height), (320, 240));
            assert!(hashes.insert(photo.sha256));
        }
        assert_eq!(BEFORE.len() + AFTER.len() + NIGHT.len(), COUNT);
    }
}
