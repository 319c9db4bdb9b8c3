//! Coordinate systems used in China (WGS-84, GCJ-02, BD-09): conversion to WGS-84 and distances in metres.
//!
//! Phones and the browser Geolocation API report WGS-84; AMap/Tencent/WeChat maps use GCJ-02, an obfuscated
//! offset of WGS-84 of up to a few hundred metres; Baidu uses BD-09, a further offset of GCJ-02 (DOMAIN.md §5).
//! We store WGS-84 and convert other input on the way in. PROJ and PostGIS do not know GCJ-02, so the public
//! formulas are implemented here. All longitudes and latitudes are in decimal degrees, all distances in metres.
//!
//! Callers are expected to pass finite coordinates (validated at the edge); non-finite input is returned
//! unchanged by the shifts rather than turned into NaN.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// The coordinate system a client reported a position in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceCrs {
    /// WGS-84 (EPSG:4326): GPS, the Geolocation API, Tianditu (CGCS2000 is identical at phone accuracy).
    #[default]
    Wgs84,
    /// GCJ-02 ("Mars coordinates"): AMap/高德, Tencent, WeChat.
    Gcj02,
    /// BD-09: Baidu maps.
    Bd09,
}

impl SourceCrs {
    /// Every variant, in declaration order.
    pub const ALL: [SourceCrs; 3] = [SourceCrs::Wgs84, SourceCrs::Gcj02, SourceCrs::Bd09];

    /// The lowercase name used in JSON, query strings and the database: `wgs84`, `gcj02` or `bd09`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceCrs::Wgs84 => "wgs84",
            SourceCrs::Gcj02 => "gcj02",
            SourceCrs::Bd09 => "bd09",
        }
    }
}

impl fmt::Display for SourceCrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A coordinate system name that is not one of `wgs84`, `gcj02`, `bd09`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coordinate system {text:?}: expected one of wgs84, gcj02, bd09")]
pub struct ParseSourceCrsError {
    /// The rejected text, truncated to `CRS_TEXT_ECHO_CHARS_MAX` characters so the message stays bounded.
    pub text: String,
}

/// How much of a rejected coordinate system name is echoed back in the error message.
const CRS_TEXT_ECHO_CHARS_MAX: usize = 16;

impl FromStr for SourceCrs {
    type Err = ParseSourceCrsError;

    /// Parses `wgs84`, `gcj02` or `bd09`, ignoring ASCII case and surrounding whitespace.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        SourceCrs::ALL
            .into_iter()
            .find(|crs| crs.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| ParseSourceCrsError { text: trimmed.chars().take(CRS_TEXT_ECHO_CHARS_MAX).collect() })
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula, in metres.
const GCJ_A_M: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula.
#[expect(
    clippy::excessive_precision,
    reason = "the constant exactly as published (DOMAIN.md §5), so it can be checked by eye"
)]
const GCJ_EE: f64 = 0.006_693_421_622_965_943_23;
/// The constant of the BD-09 formulas (π · 3000 / 180).
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// Rough bounding box of China used by the public GCJ-02 formula: outside it there is no shift.
const CHINA_LON_MIN_DEG: f64 = 72.004;
const CHINA_LON_MAX_DEG: f64 = 137.8347;
const CHINA_LAT_MIN_DEG: f64 = 0.8293;
const CHINA_LAT_MAX_DEG: f64 = 55.8271;

/// The iterative inverses stop when a step moves the estimate by less than this, in degrees (~0.1 mm).
const INVERSE_STEP_DEG_MIN: f64 = 1e-9;
/// The iterative inverses give up refining after this many steps (they converge in a handful).
const INVERSE_ITERATIONS_MAX: u32 = 30;

/// Mean Earth radius (IUGG R1 = (2a + b) / 3 of WGS-84), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Whether the GCJ-02 formula leaves this point unshifted. Non-finite input counts as outside, so it is
/// returned unchanged instead of spreading NaN through the iteration.
fn outside_china(lon: f64, lat: f64) -> bool {
    !(CHINA_LON_MIN_DEG..=CHINA_LON_MAX_DEG).contains(&lon) || !(CHINA_LAT_MIN_DEG..=CHINA_LAT_MAX_DEG).contains(&lat)
}

/// Whether a WGS-84 point lies in the rough box of China the GCJ-02 formula uses: what an import of Chinese
/// records (crashes) accepts; a point outside is a swapped or projected pair, not a place in a county.
pub fn in_china(lon: f64, lat: f64) -> bool {
    !outside_china(lon, lat)
}

fn gcj_shift_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn gcj_shift_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// Converts WGS-84 to GCJ-02 (degrees in, degrees out) with the public formula.
/// Points outside China's bounding box are returned unchanged.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    gcj02_shifted(lon, lat)
}

/// The GCJ-02 formula itself, without the box: what [`wgs84_to_gcj02`] gives inside it.
fn gcj02_shifted(lon: f64, lat: f64) -> (f64, f64) {
    let d_lat = gcj_shift_lat(lon - 105.0, lat - 35.0);
    let d_lon = gcj_shift_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - GCJ_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((GCJ_A_M * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (GCJ_A_M / sqrt_magic * rad_lat.cos() * PI);
    (lon + d_lon, lat + d_lat)
}

/// Converts GCJ-02 to WGS-84 (degrees in, degrees out).
///
/// The formula has no closed-form inverse and the one-step "subtract the shift" inverse is off by up to a few
/// metres, so this refines the estimate by fixed-point iteration until a step is below 1e-9° (~0.1 mm) or 30
/// steps have run; the result round-trips through [`wgs84_to_gcj02`] to well under a millimetre.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    // Also keeps infinities out of the loop, where `inf - inf` would turn them into NaN.
    //
    // Fuzzing found (issue 14): a WGS-84 point just inside the box can shift to a GCJ-02 point just outside it
    // (e.g. [131.788229, 55.825992] → [131.798446, 55.828368]), which this returned unchanged, about 1 km
    // off. So points within a margin of the box are inverted too, with the formula without the box (an
    // estimate crossing the edge would otherwise stop the iteration), and the result is kept when it lies in
    // the box; otherwise the point is its own preimage (no shift outside the box).
    if outside_china_by_more_than(lon, lat, INVERSE_INPUT_MARGIN_DEG) {
        return (lon, lat);
    }
    let (mut wgs_lon, mut wgs_lat) = (lon, lat);
    for _ in 0..INVERSE_ITERATIONS_MAX {
        let (gcj_lon, gcj_lat) = gcj02_shifted(wgs_lon, wgs_lat);
        let (step_lon, step_lat) = (gcj_lon - lon, gcj_lat - lat);
        wgs_lon -= step_lon;
        wgs_lat -= step_lat;
        if step_lon.abs() < INVERSE_STEP_DEG_MIN && step_lat.abs() < INVERSE_STEP_DEG_MIN {
            break;
        }
    }
    // The result is kept on the box's edge too: fuzzing found [112.142567, 55.8271] (exactly on the edge)
    // coming back a rounding error outside it, so a hair's margin.
    if outside_china_by_more_than(wgs_lon, wgs_lat, INVERSE_RESULT_MARGIN_DEG) {
        (lon, lat)
    } else {
        (wgs_lon, wgs_lat)
    }
}

/// How far outside the box a GCJ-02 point may be and still be the shift of a point inside it: the shift is
/// at most about 0.011° anywhere in the box, so this is generous.
const INVERSE_INPUT_MARGIN_DEG: f64 = 0.1;
/// How far outside the box an inverse may land and still count as inside: rounding, not geography (~1 cm).
const INVERSE_RESULT_MARGIN_DEG: f64 = 1e-7;

/// Whether a point is outside the box grown by `margin_deg` on every side (non-finite points are outside).
fn outside_china_by_more_than(lon: f64, lat: f64, margin_deg: f64) -> bool {
    !(CHINA_LON_MIN_DEG - margin_deg..=CHINA_LON_MAX_DEG + margin_deg).contains(&lon)
        || !(CHINA_LAT_MIN_DEG - margin_deg..=CHINA_LAT_MAX_DEG + margin_deg).contains(&lat)
}

/// Converts GCJ-02 to BD-09 (degrees in, degrees out) with Baidu's public formula.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    if !lon.is_finite() || !lat.is_finite() {
        return (lon, lat);
    }
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * BD_X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * BD_X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Converts BD-09 to GCJ-02 (degrees in, degrees out).
///
/// Baidu's published inverse formula is off by up to about 0.1 m, so its result is only the starting estimate:
/// like [`gcj02_to_wgs84`], this refines it by fixed-point iteration against [`gcj02_to_bd09`] until a step is
/// below 1e-9° (~0.1 mm) or 30 steps have run.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !lon.is_finite() || !lat.is_finite() {
        return (lon, lat);
    }
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BD_X_PI).cos();
    let (mut gcj_lon, mut gcj_lat) = (z * theta.cos(), z * theta.sin());
    for _ in 0..INVERSE_ITERATIONS_MAX {
        let (bd_lon, bd_lat) = gcj02_to_bd09(gcj_lon, gcj_lat);
        let (step_lon, step_lat) = (bd_lon - lon, bd_lat - lat);
        gcj_lon -= step_lon;
        gcj_lat -= step_lat;
        if step_lon.abs() < INVERSE_STEP_DEG_MIN && step_lat.abs() < INVERSE_STEP_DEG_MIN {
            break;
        }
    }
    (gcj_lon, gcj_lat)
}

/// Converts BD-09 to WGS-84 (degrees in, degrees out): BD-09 → GCJ-02 → WGS-84.
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (gcj_lon, gcj_lat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(gcj_lon, gcj_lat)
}

/// Converts a position reported in `crs` to WGS-84 (degrees in, degrees out).
pub fn to_wgs84(crs: SourceCrs, lon: f64, lat: f64) -> (f64, f64) {
    match crs {
        SourceCrs::Wgs84 => (lon, lat),
        SourceCrs::Gcj02 => gcj02_to_wgs84(lon, lat),
        SourceCrs::Bd09 => bd09_to_wgs84(lon, lat),
    }
}

/// Great-circle distance in metres between two points given in degrees, by the haversine formula on a sphere
/// of radius [`EARTH_RADIUS_M`]. Within 0.5 % of the ellipsoidal distance: fine for "how far is this photo
/// from the hazard", not for surveying.
pub fn distance_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let h = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    // Clamp: rounding can push h a hair above 1 for antipodal points, and asin would return NaN.
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trips must come back within this distance (DOMAIN.md §5).
    const ROUND_TRIP_M_MAX: f64 = 0.5;

    /// Points in and around Zhangjiagang (lon 120.3–120.8, lat 31.75–32.05): corners, centre, inner points.
    const ZHANGJIAGANG: [(f64, f64); 7] = [
        (120.3, 31.75),
        (120.8, 31.75),
        (120.3, 32.05),
        (120.8, 32.05),
        (120.55, 31.87),
        (120.62, 31.95),
        (120.41, 31.82),
    ];

    /// Points spread over China: Beijing, Shanghai, Guangzhou, Urumqi, Harbin, Lhasa, Sanya, Kashgar, Mohe.
    const ELSEWHERE_IN_CHINA: [(f64, f64); 9] = [
        (116.397, 39.909),
        (121.47, 31.23),
        (113.26, 23.13),
        (87.6, 43.8),
        (126.6, 45.75),
        (91.1, 29.65),
        (109.5, 18.25),
        (75.99, 39.47),
        (122.5, 53.0),
    ];

    /// Points outside the bounding box: Tokyo, London, Sydney, New York, null island, just west of the box,
    /// just north of it, and the far side of the antimeridian.
    const OUTSIDE_CHINA: [(f64, f64); 8] = [
        (139.69, 35.69),
        (-0.1276, 51.5072),
        (151.21, -33.87),
        (-74.006, 40.7128),
        (0.0, 0.0),
        (72.0, 40.0),
        (120.0, 56.0),
        (-179.9, 31.0),
    ];

    fn all_chinese_points() -> impl Iterator<Item = (f64, f64)> {
        ZHANGJIAGANG.into_iter().chain(ELSEWHERE_IN_CHINA)
    }

    /// Found by fuzzing (issue 14): points that shift out of the box, or sit on its edge, came back unchanged,
    /// ~1 km off.
    #[test]
    fn a_point_shifted_out_of_the_box_still_round_trips() {
        let (lon, lat) = (131.788229, 55.825992);
        let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);
        assert!(gcj_lat > CHINA_LAT_MAX_DEG, "the case needs a GCJ-02 point outside the box");
        let (back_lon, back_lat) = gcj02_to_wgs84(gcj_lon, gcj_lat);
        assert!((back_lon - lon).abs() < 1e-9 && (back_lat - lat).abs() < 1e-9, "[{back_lon}, {back_lat}]");
        // Exactly on the box's edge (the inverse lands a rounding error outside it).
        let (gcj_lon, gcj_lat) = wgs84_to_gcj02(112.142567, CHINA_LAT_MAX_DEG);
        let (back_lon, back_lat) = gcj02_to_wgs84(gcj_lon, gcj_lat);
        assert!((back_lon - 112.142567).abs() < 1e-9 && (back_lat - CHINA_LAT_MAX_DEG).abs() < 1e-9);
        // Far outside the box nothing is shifted either way.
        assert_eq!(gcj02_to_wgs84(2.35, 48.85), (2.35, 48.85));
    }

    #[test]
    fn wgs84_gcj02_wgs84_round_trips_within_half_a_metre() {
        for (lon, lat) in all_chinese_points() {
            let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);

            let (back_lon, back_lat) = gcj02_to_wgs84(gcj_lon, gcj_lat);

            let error_m = distance_m(lon, lat, back_lon, back_lat);
            assert!(error_m < ROUND_TRIP_M_MAX, "({lon}, {lat}) came back {error_m} m away");
            // The iteration does far better than required: pin that so a regression to the one-step
            // inverse (off by up to ~2 m) cannot slip through.
            assert!(error_m < 0.001, "({lon}, {lat}) came back {error_m} m away");
        }
    }

    #[test]
    fn wgs84_bd09_wgs84_round_trips_within_half_a_metre() {
        for (lon, lat) in all_chinese_points() {
            let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);
            let (bd_lon, bd_lat) = gcj02_to_bd09(gcj_lon, gcj_lat);

            let (back_lon, back_lat) = bd09_to_wgs84(bd_lon, bd_lat);

            let error_m = distance_m(lon, lat, back_lon, back_lat);
            assert!(error_m < ROUND_TRIP_M_MAX, "({lon}, {lat}) came back {error_m} m away");
            // Baidu's one-step inverse alone is off by up to ~0.1 m; the refined one is at the millimetre level.
            assert!(error_m < 0.001, "({lon}, {lat}) came back {error_m} m away");
        }
    }

    #[test]
    fn gcj02_bd09_gcj02_round_trips_inside_and_outside_china() {
        // BD-09 is a shift of GCJ-02 with no bounding box, so it must invert everywhere.
        for (lon, lat) in all_chinese_points().chain(OUTSIDE_CHINA) {
            let (bd_lon, bd_lat) = gcj02_to_bd09(lon, lat);

            let (back_lon, back_lat) = bd09_to_gcj02(bd_lon, bd_lat);

            let error_m = distance_m(lon, lat, back_lon, back_lat);
            assert!(error_m < 0.001, "({lon}, {lat}) came back {error_m} m away");
        }
    }

    #[test]
    fn gcj02_offset_at_zhangjiagang_is_between_100_and_1000_metres() {
        for (lon, lat) in ZHANGJIAGANG {
            let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);

            let offset_m = distance_m(lon, lat, gcj_lon, gcj_lat);

            assert!((100.0..1000.0).contains(&offset_m), "({lon}, {lat}) offset {offset_m} m");
        }
    }

    #[test]
    fn gcj02_shift_at_zhangjiagang_centre_goes_east_and_south() {
        // Computed with this formula: +0.0042899 deg lon, -0.0021015 deg lat, 467.7 m. The bounds are tight
        // enough to catch a swapped axis or a wrong constant, loose enough not to pin rounding.
        let (gcj_lon, gcj_lat) = wgs84_to_gcj02(120.55, 31.87);

        let (d_lon, d_lat) = (gcj_lon - 120.55, gcj_lat - 31.87);
        assert!((0.00428..0.00430).contains(&d_lon), "lon shift {d_lon}");
        assert!((-0.00211..-0.00209).contains(&d_lat), "lat shift {d_lat}");
        let offset_m = distance_m(120.55, 31.87, gcj_lon, gcj_lat);
        assert!((467.0..468.5).contains(&offset_m), "offset {offset_m} m");
    }

    #[test]
    fn wgs84_to_gcj02_matches_published_reference_values() {
        // Test vectors published with googollee/eviltransform, an independent implementation of the same formula
        // (Shanghai, Shenzhen, Beijing): (wgs lon, wgs lat, gcj lon, gcj lat).
        let cases = [
            (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
            (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
            (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
        ];
        for (lon, lat, want_lon, want_lat) in cases {
            let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);

            assert!((gcj_lon - want_lon).abs() < 1e-9, "({lon}, {lat}) lon {gcj_lon} != {want_lon}");
            assert!((gcj_lat - want_lat).abs() < 1e-9, "({lon}, {lat}) lat {gcj_lat} != {want_lat}");
        }
    }

    #[test]
    fn gcj02_to_bd09_matches_published_reference_values() {
        // Vectors published with hujiulong/gcoord (8 decimals) and pyxis: (gcj lon, gcj lat, bd lon, bd lat).
        let cases = [
            (123.0, 45.0, 123.00636499, 45.00636899),
            (121.09626935575027, 30.608604331756705, 121.10271732371203, 30.61484572185035),
        ];
        for (lon, lat, want_lon, want_lat) in cases {
            let (bd_lon, bd_lat) = gcj02_to_bd09(lon, lat);

            assert!((bd_lon - want_lon).abs() < 1e-8, "({lon}, {lat}) lon {bd_lon} != {want_lon}");
            assert!((bd_lat - want_lat).abs() < 1e-8, "({lon}, {lat}) lat {bd_lat} != {want_lat}");
        }
    }

    #[test]
    fn points_outside_china_are_not_shifted() {
        for (lon, lat) in OUTSIDE_CHINA {
            assert_eq!(wgs84_to_gcj02(lon, lat), (lon, lat));
            assert_eq!(gcj02_to_wgs84(lon, lat), (lon, lat));
            assert_eq!(to_wgs84(SourceCrs::Gcj02, lon, lat), (lon, lat));
        }
    }

    #[test]
    fn non_finite_input_is_returned_unchanged() {
        let cases = [(f64::NAN, 31.87), (120.55, f64::NAN), (f64::INFINITY, 31.87), (120.55, f64::NEG_INFINITY)];
        for (lon, lat) in cases {
            for crs in SourceCrs::ALL {
                let (out_lon, out_lat) = to_wgs84(crs, lon, lat);

                // NaN != NaN, so compare bit patterns.
                assert_eq!((out_lon.to_bits(), out_lat.to_bits()), (lon.to_bits(), lat.to_bits()), "{crs}");
            }
        }
    }

    #[test]
    fn to_wgs84_dispatches_on_the_source_crs() {
        let (lon, lat) = (120.55, 31.87);

        assert_eq!(to_wgs84(SourceCrs::Wgs84, lon, lat), (lon, lat));
        assert_eq!(to_wgs84(SourceCrs::Gcj02, lon, lat), gcj02_to_wgs84(lon, lat));
        assert_eq!(to_wgs84(SourceCrs::Bd09, lon, lat), bd09_to_wgs84(lon, lat));
        assert_ne!(to_wgs84(SourceCrs::Gcj02, lon, lat), to_wgs84(SourceCrs::Bd09, lon, lat));
    }

    #[test]
    fn distance_m_matches_known_distances() {
        let one_degree_m = EARTH_RADIUS_M * PI / 180.0; // 111 195.080 m
        // (lon1, lat1, lon2, lat2, expected metres, tolerance metres)
        let cases = [
            (120.55, 31.87, 120.55, 31.87, 0.0, 0.0),
            (0.0, 0.0, 0.0, 1.0, one_degree_m, 1e-6),
            (0.0, 0.0, 1.0, 0.0, one_degree_m, 1e-6),
            (0.0, 0.0, 0.0, 90.0, 90.0 * one_degree_m, 1e-6),
            (0.0, 0.0, 180.0, 0.0, 180.0 * one_degree_m, 1e-6),
            (120.55, 31.87, 120.55, 31.871, one_degree_m / 1000.0, 1e-6),
            // At 60° a degree of longitude is half as long, measured along the great circle (a hair shorter).
            (0.0, 60.0, 0.001, 60.0, one_degree_m / 2000.0, 1e-6),
            // Beijing Tiananmen to Shanghai People's Square: about 1068 km.
            (116.397, 39.909, 121.47, 31.23, 1_068_087.0, 1.0),
        ];
        for (lon1, lat1, lon2, lat2, want_m, tolerance_m) in cases {
            let got_m = distance_m(lon1, lat1, lon2, lat2);

            assert!(
                (got_m - want_m).abs() <= tolerance_m,
                "({lon1}, {lat1}) -> ({lon2}, {lat2}): {got_m} m, want {want_m} m"
            );
            assert_eq!(got_m, distance_m(lon2, lat2, lon1, lat1), "distance must be symmetric");
        }
    }

    #[test]
    fn source_crs_names_round_trip() {
        let cases = [(SourceCrs::Wgs84, "wgs84"), (SourceCrs::Gcj02, "gcj02"), (SourceCrs::Bd09, "bd09")];
        for (crs, name) in cases {
            assert_eq!(crs.as_str(), name);
            assert_eq!(crs.to_string(), name);
            assert_eq!(name.parse::<SourceCrs>(), Ok(crs));
            assert_eq!(serde_json::to_string(&crs).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<SourceCrs>(&format!("\"{name}\"")).unwrap(), crs);
        }
    }

    #[test]
    fn source_crs_defaults_to_wgs84() {
        assert_eq!(SourceCrs::default(), SourceCrs::Wgs84);
    }

    #[test]
    fn source_crs_parse_ignores_case_and_surrounding_whitespace() {
        let cases = [("WGS84", SourceCrs::Wgs84), (" gcj02 ", SourceCrs::Gcj02), ("Bd09\n", SourceCrs::Bd09)];
        for (text, want) in cases {
            assert_eq!(text.parse::<SourceCrs>(), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn source_crs_parse_rejects_other_names_with_the_accepted_values() {
        let cases = [
            ("", ""),
            ("wgs-84", "wgs-84"),
            ("epsg:4326", "epsg:4326"),
            ("gcj 02", "gcj 02"),
            ("a-very-long-coordinate-system-name", "a-very-long-coor"),
        ];
        for (text, echoed) in cases {
            let err = text.parse::<SourceCrs>().unwrap_err();

            assert_eq!(err, ParseSourceCrsError { text: echoed.to_owned() });
            assert_eq!(
                err.to_string(),
                format!("unknown coordinate system \"{echoed}\": expected one of wgs84, gcj02, bd09")
            );
        }
    }

    #[test]
    fn source_crs_deserialize_rejects_unknown_names() {
        assert!(serde_json::from_str::<SourceCrs>("\"WGS84\"").is_err());
        assert!(serde_json::from_str::<SourceCrs>("\"cgcs2000\"").is_err());
    }
}
