//! Coordinate reference systems that imported files declare: the EPSG codes county data comes in
//! (WGS 84, CGCS2000 geographic and the CGCS2000 3° Gauss–Krüger zones), read from ESRI `.prj` / OGC WKT1,
//! GeoJSON `crs` names, GeoPackage `gpkg_spatial_ref_sys` rows or a command-line option.
//!
//! Only recognises systems; converting coordinates is the caller's job (PostGIS `ST_Transform`).

use std::fmt;

/// A coordinate reference system a file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// An EPSG code among the supported ones (see [`SUPPORTED`]).
    Epsg(u32),
}

/// The supported systems, for error messages and documentation.
pub const SUPPORTED: &str = "EPSG:4326 (WGS 84), EPSG:4490 (CGCS2000 geographic), \
EPSG:4513–4533 (CGCS2000 3° Gauss–Krüger zones 25–45, zone number in the false easting), \
EPSG:4534–4554 (CGCS2000 3° Gauss–Krüger CM 75°E–135°E), EPSG:32643–32653 (WGS 84 / UTM 43N–53N)";

/// Why a coordinate system was not recognised. Messages say what was found and what is supported.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CrsError {
    #[error("{found} is not a supported coordinate system; supported: {SUPPORTED}")]
    Unsupported { found: String },
    #[error("cannot read the coordinate system definition ({reason}); expected OGC WKT1 / ESRI .prj text")]
    BadWkt { reason: String },
    #[error("\"{name}\" is not a coordinate system name; use e.g. EPSG:4549, wgs84 or cgcs2000")]
    BadName { name: String },
}

const WGS84: u32 = 4326;
const CGCS2000: u32 = 4490;

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crs::Epsg(code) => write!(f, "EPSG:{code}"),
        }
    }
}

/// Is this EPSG code one we support?
fn supported(code: u32) -> bool {
    matches!(code, WGS84 | CGCS2000 | 4513..=4554 | 32643..=32653)
}

fn epsg(code: u32) -> Result<Crs, CrsError> {
    if supported(code) { Ok(Crs::Epsg(code)) } else { Err(CrsError::Unsupported { found: format!("EPSG:{code}") }) }
}

/// CGCS2000 3° Gauss–Krüger with false easting 500 000 m, by central meridian (degrees east):
/// EPSG:4534 (CM 75°E) … EPSG:4554 (CM 135°E).
fn gk_by_cm(cm: i64) -> Option<u32> {
    ((75..=135).contains(&cm) && cm % 3 == 0).then(|| 4534 + ((cm - 75) / 3) as u32)
}

/// CGCS2000 3° Gauss–Krüger with the zone number in the false easting (zone × 1 000 000 + 500 000 m):
/// EPSG:4513 (zone 25, CM 75°E) … EPSG:4533 (zone 45, CM 135°E). Zone = CM / 3.
fn gk_by_zone(zone: i64) -> Option<u32> {
    (25..=45).contains(&zone).then(|| 4513 + (zone - 25) as u32)
}

/// WGS 84 / UTM north zones covering China: zone 43 (CM 75°E) … 53 (CM 135°E).
fn utm_north(zone: i64) -> Option<u32> {
    (43..=53).contains(&zone).then(|| 32600 + zone as u32)
}

impl Crs {
    /// The EPSG code.
    pub fn epsg(&self) -> u32 {
        match self {
            Crs::Epsg(code) => *code,
        }
    }

    /// Geographic (longitude/latitude in degrees) rather than projected (metres): WGS 84 and CGCS2000.
    pub fn is_geographic(&self) -> bool {
        matches!(self, Crs::Epsg(WGS84 | CGCS2000))
    }

    /// Parses an ESRI `.prj` / OGC WKT1 string. An `AUTHORITY["EPSG","…"]` on the outermost element wins;
    /// otherwise the system is recognised by its names and parameters (ArcGIS writes no AUTHORITY).
    pub fn from_wkt(wkt: &str) -> Result<Crs, CrsError> {
        let root = wkt::parse(wkt).map_err(|reason| CrsError::BadWkt { reason })?;
        if let Some(code) = root.authority_epsg() {
            return epsg(code);
        }
        let name = root.name();
        match root.keyword.as_str() {
            "GEOGCS" => geographic(&root)
                .ok_or_else(|| CrsError::Unsupported { found: format!("the geographic system \"{name}\"") }),
            "PROJCS" => projected(&root).ok_or_else(|| CrsError::Unsupported {
                found: format!("the projected system \"{name}\" ({})", root.describe_projection()),
            }),
            other => Err(CrsError::Unsupported { found: format!("a {other} definition \"{name}\"") }),
        }
    }

    /// Parses a name: `EPSG:4549`, `epsg:4549`, `urn:ogc:def:crs:EPSG::4549`, `urn:ogc:def:crs:OGC:1.3:CRS84`,
    /// `http://www.opengis.net/def/crs/EPSG/0/4549`, `4549`, `wgs84`, `cgcs2000`.
    pub fn from_name(name: &str) -> Result<Crs, CrsError> {
        let lower = name.trim().to_ascii_lowercase();
        let compact: String = lower.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        match compact.as_str() {
            "wgs84" | "wgs1984" | "crs84" | "urnogcdefcrsogc13crs84" | "urnogcdefcrsogccrs84" => return epsg(WGS84),
            "cgcs2000" | "china2000" => return epsg(CGCS2000),
            _ => {}
        }
        let digits = if let Some(rest) = lower.strip_prefix("epsg:") {
            rest
        } else if let Some(rest) = lower.strip_prefix("urn:ogc:def:crs:epsg:") {
            // urn:ogc:def:crs:EPSG::4549 or with a version: urn:ogc:def:crs:EPSG:6.6:4549
            rest.rsplit(':').next().unwrap_or("")
        } else if let Some(rest) = lower.strip_prefix("http://www.opengis.net/def/crs/epsg/") {
            rest.rsplit('/').next().unwrap_or("")
        } else {
            lower.as_str()
        };
        match digits.parse::<u32>() {
            Ok(code) => epsg(code),
            Err(_) => Err(CrsError::BadName { name: name.trim().to_string() }),
        }
    }
}

/// Lower-case ASCII letters and digits only, so "GCS_China_Geodetic_Coordinate_System_2000",
/// "China Geodetic Coordinate System 2000" and "China_2000" compare easily.
fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn is_cgcs2000_name(s: &str) -> bool {
    let s = squash(s);
    s.contains("chinageodeticcoordinatesystem2000") || s.contains("china2000") || s.contains("cgcs2000")
}

fn is_wgs84_name(s: &str) -> bool {
    let s = squash(s);
    s.contains("wgs84") || s.contains("wgs1984")
}

/// The datum of a GEOGCS element (4326 or 4490), by the GEOGCS and DATUM names.
fn geographic(geogcs: &wkt::Node) -> Option<Crs> {
    let datum = geogcs.child("DATUM").map(|d| d.name()).unwrap_or_default();
    if is_cgcs2000_name(geogcs.name()) || is_cgcs2000_name(datum) {
        Some(Crs::Epsg(CGCS2000))
    } else if is_wgs84_name(geogcs.name()) || is_wgs84_name(datum) {
        Some(Crs::Epsg(WGS84))
    } else {
        None
    }
}

fn projected(projcs: &wkt::Node) -> Option<Crs> {
    let name = squash(projcs.name());
    // ArcGIS names: CGCS2000_3_Degree_GK_CM_120E, CGCS2000_3_Degree_GK_Zone_40, WGS_1984_UTM_Zone_51N.
    if let Some(rest) = name.strip_prefix("cgcs20003degreegkcm") {
        return gk_by_cm(rest.trim_end_matches('e').parse().ok()?).map(Crs::Epsg);
    }
    if let Some(rest) = name.strip_prefix("cgcs20003degreegkzone") {
        return gk_by_zone(rest.parse().ok()?).map(Crs::Epsg);
    }
    if let Some(rest) = name.strip_prefix("wgs1984utmzone").or_else(|| name.strip_prefix("wgs84utmzone")) {
        return utm_north(rest.strip_suffix('n')?.parse().ok()?).map(Crs::Epsg);
    }
    // Otherwise by datum, projection and parameters.
    let datum = geographic(projcs.child("GEOGCS")?)?;
    let projection = squash(projcs.child("PROJECTION")?.name());
    if projection != "transversemercator" && projection != "gausskruger" {
        return None;
    }
    let cm = projcs.parameter("central_meridian")?;
    let fe = projcs.parameter("false_easting")?;
    let k = projcs.parameter("scale_factor").unwrap_or(1.0);
    let fn_ = projcs.parameter("false_northing").unwrap_or(0.0);
    let lat0 = projcs.parameter("latitude_of_origin").unwrap_or(0.0);
    if fn_ != 0.0 || lat0 != 0.0 || cm.fract() != 0.0 {
        return None;
    }
    let cm = cm as i64;
    match datum {
        Crs::Epsg(CGCS2000) if k == 1.0 => {
            if fe == 500_000.0 {
                gk_by_cm(cm).map(Crs::Epsg)
            } else if cm % 3 == 0 && fe == (cm / 3) as f64 * 1_000_000.0 + 500_000.0 {
                gk_by_zone(cm / 3).map(Crs::Epsg)
            } else {
                None
            }
        }
        Crs::Epsg(WGS84) if k == 0.9996 && fe == 500_000.0 && (cm + 183) % 6 == 0 => {
            utm_north((cm + 183) / 6).map(Crs::Epsg)
        }
        _ => None,
    }
}

/// A minimal OGC WKT1 reader: `KEYWORD[arg, arg, …]` where an argument is a quoted string, a number or
/// a nested element. Enough for `.prj` files; WKT2 keywords parse too but are not recognised above.
mod wkt {
    #[derive(Debug)]
    pub enum Arg {
        Text(String),
        Number(f64),
        Node(Node),
    }

    #[derive(Debug)]
    pub struct Node {
        pub keyword: String,
        pub args: Vec<Arg>,
    }

    impl Node {
        /// The first quoted argument (the element's name), "" if none.
        pub fn name(&self) -> &str {
            self.args
                .iter()
                .find_map(|a| match a {
                    Arg::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .unwrap_or("")
        }

        pub fn children(&self) -> impl Iterator<Item = &Node> {
            self.args.iter().filter_map(|a| match a {
                Arg::Node(n) => Some(n),
                _ => None,
            })
        }

        pub fn child(&self, keyword: &str) -> Option<&Node> {
            self.children().find(|n| n.keyword == keyword)
        }

        /// `AUTHORITY["EPSG","4549"]` directly under this element (not a nested datum's or unit's).
        pub fn authority_epsg(&self) -> Option<u32> {
            let auth = self.children().find(|n| n.keyword == "AUTHORITY" || n.keyword == "ID")?;
            let mut texts = auth.args.iter();
            let org = match texts.next()? {
                Arg::Text(t) => t,
                _ => return None,
            };
            if !org.eq_ignore_ascii_case("EPSG") {
                return None;
            }
            match texts.next()? {
                Arg::Text(t) => t.trim().parse().ok(),
                Arg::Number(n) if n.fract() == 0.0 && *n > 0.0 => Some(*n as u32),
                _ => None,
            }
        }

        /// `PARAMETER["False_Easting",500000.0]`, the name compared case-insensitively.
        pub fn parameter(&self, name: &str) -> Option<f64> {
            self.children().filter(|n| n.keyword == "PARAMETER").find_map(|p| {
                if !p.name().eq_ignore_ascii_case(name) {
                    return None;
                }
                p.args.iter().find_map(|a| match a {
                    Arg::Number(v) => Some(*v),
                    _ => None,
                })
            })
        }

        /// A short description for error messages: projection, central meridian and false easting.
        pub fn describe_projection(&self) -> String {
            let projection = self.child("PROJECTION").map(|p| p.name()).unwrap_or("no projection");
            let mut out = projection.to_string();
            if let Some(cm) = self.parameter("central_meridian") {
                out.push_str(&format!(", central meridian {cm}"));
            }
            if let Some(fe) = self.parameter("false_easting") {
                out.push_str(&format!(", false easting {fe}"));
            }
            if let Some(geog) = self.child("GEOGCS") {
                out.push_str(&format!(", datum {}", geog.child("DATUM").map(|d| d.name()).unwrap_or(geog.name())));
            }
            out
        }
    }

    pub fn parse(text: &str) -> Result<Node, String> {
        let mut p = Parser { s: text.trim_start_matches('\u{feff}').as_bytes(), i: 0, depth: 0 };
        let node = p.node()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected text after the definition at character {}", p.i + 1));
        }
        Ok(node)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
        depth: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }

        fn node(&mut self) -> Result<Node, String> {
            // Real definitions nest 5 or 6 deep; refuse pathological input instead of overflowing the stack.
            self.depth += 1;
            if self.depth > 32 {
                return Err("nested more than 32 levels deep".into());
            }
            self.ws();
            let start = self.i;
            while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
                self.i += 1;
            }
            if start == self.i {
                return Err(format!("expected a keyword such as PROJCS at character {}", self.i + 1));
            }
            let keyword = String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_uppercase();
            self.ws();
            let close = match self.s.get(self.i) {
                Some(b'[') => b']',
                Some(b'(') => b')',
                _ => return Err(format!("expected '[' after {keyword}")),
            };
            self.i += 1;
            let mut args = Vec::new();
            loop {
                self.ws();
                match self.s.get(self.i) {
                    None => return Err(format!("{keyword}[ is not closed")),
                    Some(&c) if c == close => {
                        self.i += 1;
                        break;
                    }
                    Some(b',') => self.i += 1,
                    Some(b'"') => {
                        self.i += 1;
                        let start = self.i;
                        while self.i < self.s.len() && self.s[self.i] != b'"' {
                            self.i += 1;
                        }
                        if self.i == self.s.len() {
                            return Err("a quoted name is not closed".into());
                        }
                        args.push(Arg::Text(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()));
                        self.i += 1;
                    }
                    Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' || *c == b'.' => {
                        let start = self.i;
                        while self.i < self.s.len()
                            && (self.s[self.i].is_ascii_digit() || b"+-.eE".contains(&self.s[self.i]))
                        {
                            self.i += 1;
                        }
                        let t = String::from_utf8_lossy(&self.s[start..self.i]);
                        let v = t.parse().map_err(|_| format!("\"{t}\" is not a number"))?;
                        args.push(Arg::Number(v));
                    }
                    Some(_) => {
                        // Either a nested element or a bare enumeration word (AXIS["X",EAST]).
                        let save = self.i;
                        let mut probe = save;
                        while probe < self.s.len() && (self.s[probe].is_ascii_alphanumeric() || self.s[probe] == b'_') {
                            probe += 1;
                        }
                        let mut after = probe;
                        while after < self.s.len() && self.s[after].is_ascii_whitespace() {
                            after += 1;
                        }
                        if matches!(self.s.get(after), Some(b'[') | Some(b'(')) {
                            args.push(Arg::Node(self.node()?));
                        } else if probe > save {
                            args.push(Arg::Text(String::from_utf8_lossy(&self.s[save..probe]).into_owned()));
                            self.i = probe;
                        } else {
                            return Err(format!("unexpected character at {}", self.i + 1));
                        }
                    }
                }
            }
            self.depth -= 1;
            Ok(Node { keyword, args })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esri_gk(name: &str, cm: f64, fe: f64) -> String {
        format!(
            r#"PROJCS["{name}",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",{fe}],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",{cm}],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
        )
    }

    #[test]
    fn zone_arithmetic_at_every_edge() {
        // (central meridian, false easting, expected EPSG)
        let cases = [
            (75.0, 500_000.0, 4534),
            (120.0, 500_000.0, 4549),
            (135.0, 500_000.0, 4554),
            (75.0, 25_500_000.0, 4513),
            (120.0, 40_500_000.0, 4528),
            (135.0, 45_500_000.0, 4533),
        ];
        for (cm, fe, code) in cases {
            // A neutral name so only the parameters decide.
            let wkt = esri_gk("Custom_GK", cm, fe);
            assert_eq!(Crs::from_wkt(&wkt), Ok(Crs::Epsg(code)), "CM {cm} FE {fe}");
        }
        assert_eq!(gk_by_cm(72), None);
        assert_eq!(gk_by_cm(138), None);
        assert_eq!(gk_by_cm(121), None);
        assert_eq!(gk_by_zone(24), None);
        assert_eq!(gk_by_zone(46), None);
    }

    #[test]
    fn esri_names() {
        assert_eq!(Crs::from_wkt(&esri_gk("CGCS2000_3_Degree_GK_CM_120E", 120.0, 500_000.0)), Ok(Crs::Epsg(4549)));
        assert_eq!(Crs::from_wkt(&esri_gk("CGCS2000_3_Degree_GK_CM_75E", 75.0, 500_000.0)), Ok(Crs::Epsg(4534)));
        assert_eq!(Crs::from_wkt(&esri_gk("CGCS2000_3_Degree_GK_Zone_40", 120.0, 40_500_000.0)), Ok(Crs::Epsg(4528)));
        assert_eq!(Crs::from_wkt(&esri_gk("CGCS2000_3_Degree_GK_Zone_25", 75.0, 25_500_000.0)), Ok(Crs::Epsg(4513)));
        assert_eq!(Crs::from_wkt(&esri_gk("CGCS2000_3_Degree_GK_Zone_45", 135.0, 45_500_000.0)), Ok(Crs::Epsg(4533)));
    }

    #[test]
    fn authority_on_the_root_wins_over_nested_ones() {
        let wkt = r#"PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 120E",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",120],PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Northing",NORTH],AXIS["Easting",EAST],AUTHORITY["EPSG","4549"]]"#;
        assert_eq!(Crs::from_wkt(wkt), Ok(Crs::Epsg(4549)));
    }

    #[test]
    fn geographic_systems() {
        let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(Crs::from_wkt(wgs), Ok(Crs::Epsg(4326)));
        let cgcs = r#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(Crs::from_wkt(cgcs), Ok(Crs::Epsg(4490)));
        assert!(Crs::Epsg(4490).is_geographic());
        assert!(Crs::Epsg(4326).is_geographic());
        assert!(!Crs::Epsg(4549).is_geographic());
    }

    #[test]
    fn utm_bonus() {
        let utm = r#"PROJCS["WGS_1984_UTM_Zone_51N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",123.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
        assert_eq!(Crs::from_wkt(utm), Ok(Crs::Epsg(32651)));
        let renamed = utm.replace("WGS_1984_UTM_Zone_51N", "custom");
        assert_eq!(Crs::from_wkt(&renamed), Ok(Crs::Epsg(32651)));
    }

    #[test]
    fn unsupported_systems_say_what_they_are() {
        let beijing = r#"PROJCS["Beijing_1954_3_Degree_GK_CM_120E",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",120.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
        let err = Crs::from_wkt(beijing).unwrap_err().to_string();
        assert!(err.contains("Beijing_1954_3_Degree_GK_CM_120E"), "{err}");
        assert!(err.contains("Krasovsky") || err.contains("D_Beijing_1954"), "{err}");
        assert!(err.contains("EPSG:4534–4554"), "{err}");
        assert!(matches!(Crs::from_wkt("PROJCS[\"x\""), Err(CrsError::BadWkt { .. })));
        assert!(matches!(Crs::from_wkt(""), Err(CrsError::BadWkt { .. })));
        let deep = "A[".repeat(100);
        assert!(matches!(Crs::from_wkt(&deep), Err(CrsError::BadWkt { .. })));
        let web_mercator = r#"PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84"],AUTHORITY["EPSG","3857"]]"#;
        assert_eq!(Crs::from_wkt(web_mercator), Err(CrsError::Unsupported { found: "EPSG:3857".into() }));
    }

    #[test]
    fn names() {
        for (name, code) in [
            ("EPSG:4549", 4549),
            ("epsg:4549", 4549),
            ("urn:ogc:def:crs:EPSG::4549", 4549),
            ("urn:ogc:def:crs:EPSG:6.6:4490", 4490),
            ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326),
            ("http://www.opengis.net/def/crs/EPSG/0/4513", 4513),
            ("4549", 4549),
            (" wgs84 ", 4326),
            ("WGS 84", 4326),
            ("cgcs2000", 4490),
            ("CGCS2000", 4490),
        ] {
            assert_eq!(Crs::from_name(name), Ok(Crs::Epsg(code)), "{name}");
        }
        assert_eq!(Crs::from_name("EPSG:3857"), Err(CrsError::Unsupported { found: "EPSG:3857".into() }));
        assert_eq!(Crs::from_name("EPSG:4512"), Err(CrsError::Unsupported { found: "EPSG:4512".into() }));
        assert_eq!(Crs::from_name("EPSG:4555"), Err(CrsError::Unsupported { found: "EPSG:4555".into() }));
        assert!(matches!(Crs::from_name("gauss"), Err(CrsError::BadName { .. })));
        assert_eq!(Crs::Epsg(4549).to_string(), "EPSG:4549");
    }
}
