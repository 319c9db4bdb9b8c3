//! `GET /api/v1/settings`: what the pages need to know about this server, so that they read its limits, codes
//! and default deadlines instead of keeping copies that drift (issue 15, item 8).
//!
//! It also lists the base maps the map page offers (`base_maps`, issue 9): Tianditu's vector and imagery maps
//! with their annotation when the operator set a Tianditu key (`--tianditu-key`), then the operator's own XYZ
//! raster services (`--base-map NAME=URL[,crs=gcj02|wgs84]`), each with the coordinate system its tiles are
//! drawn in, so the page can ask for our own tiles shifted to match (`/tiles/…?crs=gcj02`). Both flags are
//! checked here at start-up ([`TiandituKey`], [`parse_base_map`], [`check_base_maps`]), with messages that say
//! what is wrong; `vendor` gives the versioned path of MapLibre (see `http::vendor`).

use std::fmt;
use std::str::FromStr;

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::AppState;
use super::vendor::VendorPaths;
use crate::domain::auth::Actor;
use crate::domain::coords::SourceCrs;
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus, SupervisionLevel};

/// The statuses in the order a site goes through them (DOMAIN.md §6), then the ways out: the order of the
/// map's legend. The length makes the compiler check that none is missing; the test, that none is twice.
const LIFECYCLE_ORDER: [SiteStatus; SiteStatus::ALL.len()] = [
    SiteStatus::Reported,
    SiteStatus::Verified,
    SiteStatus::Assigned,
    SiteStatus::InProgress,
    SiteStatus::PendingReview,
    SiteStatus::Closed,
    SiteStatus::Reopened,
    SiteStatus::Rejected,
    SiteStatus::Duplicate,
    SiteStatus::Cancelled,
];

/// The server's settings and vocabulary, for any signed-in user: statuses in lifecycle order, other codes in
/// the domain's order. Labels and colours are the pages' business.
#[utoipa::path(
    get,
    path = "/settings",
    tag = "reference",
    responses(
        (status = 200, description = "Base map, county, limits, codes in order and default deadlines", body = Object),
    )
)]
pub async fn settings(
    State(state): State<AppState>,
    Extension(vendor): Extension<std::sync::Arc<VendorPaths>>,
    _actor: Actor,
) -> Json<Value> {
    let s = &state.settings;
    Json(json!({
        // The one XYZ URL of `--base-map-url`, for pages that predate `base_maps` (which lists it too).
        "base_map_url": s.base_map_url,
        "base_maps": base_maps(s.tianditu_key.as_ref(), &s.base_maps),
        "vendor": {"maplibre": vendor.maplibre},
        "county_admin_code": s.county_admin_code,
        "photo_bytes_max": s.photo_limits.bytes_max,
        "photo_pixels_max": s.photo_limits.pixels_max,
        "photos_per_observation_max": s.photos_per_observation_max,
        // Off: the phone resizes photos (longest side 2048 px, about 500 KB) and sends the originals' EXIF as
        // `photo_evidence`; on: it sends the originals as taken (`serve --require-original-photos`).
        "require_original_photos": s.require_original_photos,
        // The candidates queue and map hide detections below this confidence unless asked (`min_score=0`).
        "detection_min_confidence": s.detection_min_confidence,
        "repeat_visit_radius_m": crate::domain::site::REPEAT_VISIT_RADIUS_M,
        "look_back_radius_m": s.look_back_radius_m,
        // `GET /api/v1/sites` refuses a larger bbox or page (src/http/sites.rs).
        "bbox_area_deg2_max": super::sites::BBOX_AREA_DEG2_MAX,
        "sites_page_size_max": super::sites::PAGE_SIZE_MAX,
        "default_deadline_days": default_deadline_days(&s.deadlines),
        "statuses": LIFECYCLE_ORDER.iter().map(|s| json!({"code": s.as_str(), "open": s.is_open()})).collect::<Vec<_>>(),
        "site_kinds": codes(SiteKind::ALL, SiteKind::as_str),
        "item_states": codes(ItemState::ALL, ItemState::as_str),
        "hazard_levels": codes(HazardLevel::ALL, HazardLevel::as_str),
        "rectification_modes": codes(RectificationMode::ALL, RectificationMode::as_str),
        "supervision_levels": codes(SupervisionLevel::ALL, SupervisionLevel::as_str),
        // Black-spot screening: each method's default parameters and the years a run reads by default
        // (`serve --screening-defaults`), with the limits a run is checked against.
        "screening": screening_settings(&s.screening),
        // The map draws grid cells below this zoom and one feature per site from it (src/db/tiles.rs).
        "tiles": {"feature_zoom": crate::db::tiles::FEATURE_ZOOM, "max_zoom": crate::db::tiles::MAX_ZOOM},
    }))
}

fn screening_settings(d: &crate::domain::screening::ScreeningDefaults) -> Value {
    use crate::domain::screening as s;
    json!({
        "defaults": d,
        "limits": {
            "window_m": s::WINDOW_M, "step_m": (s::STEP_M_MIN, s::WINDOW_M.1), "radius_m": s::RADIUS_M,
            "eps_m": s::EPS_M, "min_points": s::MIN_POINTS, "snap_m": s::SNAP_M, "min_crashes": s::MIN_CRASHES,
            "min_fatal_crashes": s::MIN_FATAL_CRASHES, "min_score": s::MIN_SCORE, "epdo_weight": s::WEIGHT,
            "data_years_max": s::DATA_YEARS_MAX,
        },
    })
}

/// At most this many `--base-map` entries.
pub const BASE_MAPS_MAX: usize = 10;
/// Longest `--base-map` URL template, bytes (the page's own XYZ entry has the same limit).
pub const BASE_MAP_URL_BYTES_MAX: usize = 2048;
/// Longest base map name, characters.
pub const BASE_MAP_NAME_CHARS_MAX: usize = 40;
/// At most this many tile URLs once a `{1-4}`/`{s}` subdomain placeholder is expanded.
const BASE_MAP_SUBDOMAINS_MAX: usize = 10;
/// The zoom an operator's XYZ service is assumed to reach (MapLibre over-zooms its tiles past it).
const XYZ_MAX_ZOOM: u8 = 18;
/// Tianditu serves its Web Mercator tiles (TILEMATRIXSET=w) to zoom 18.
const TIANDITU_MAX_ZOOM: u8 = 18;

/// A raster base map as `GET /api/v1/settings` lists it: XYZ tile URLs (one per subdomain), the annotation
/// drawn over it (Tianditu's labels; empty for most), and the coordinate system its tiles are drawn in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseMap {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub tiles: Vec<String>,
    pub overlay_tiles: Vec<String>,
    /// `wgs84` or `gcj02` (never `bd09`: Baidu's tiles are not XYZ).
    pub crs: SourceCrs,
    pub attribution: String,
    pub max_zoom: u8,
}

/// An operator's XYZ raster service from `--base-map NAME=URL[,crs=gcj02|wgs84]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomBaseMap {
    pub name: String,
    /// The URL template with any subdomain placeholder expanded: one URL per subdomain.
    pub tiles: Vec<String>,
    pub crs: SourceCrs,
}

/// A Tianditu browser key (天地图 "浏览器端" key): 32 hexadecimal characters.
#[derive(Clone, PartialEq, Eq)]
pub struct TiandituKey(String);

impl fmt::Debug for TiandituKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TiandituKey(…)")
    }
}

/// A `--tianditu-key` or `--base-map` value that cannot be used; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BaseMapError(String);

impl FromStr for TiandituKey {
    type Err = BaseMapError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let key = text.trim();
        if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(TiandituKey(key.to_ascii_lowercase()));
        }
        Err(BaseMapError(format!(
            "a Tianditu key is the 32 hexadecimal characters of a browser key (浏览器端) from console.tianditu.gov.cn; this one has {} characters{}",
            key.chars().count(),
            if key.chars().all(|c| c.is_ascii_hexdigit()) { "" } else { ", not all of them 0-9 or a-f" }
        )))
    }
}

/// Parses `NAME=URL` with an optional `,crs=gcj02` or `,crs=wgs84` after the URL (default wgs84). The URL must
/// be http(s), at most 2 KB, and have `{x}`, `{y}` and `{z}`; one subdomain placeholder, `{s}` (a, b, c) or a
/// range like `{1-4}` or `{a-d}`, is expanded into one URL each.
pub fn parse_base_map(text: &str) -> Result<CustomBaseMap, BaseMapError> {
    let fail = |why: String| Err(BaseMapError(why));
    let Some((name, rest)) = text.split_once('=') else {
        return fail(
            "expected NAME=URL, e.g. 高德=https://webrd0{1-4}.is.autonavi.com/…&x={x}&y={y}&z={z},crs=gcj02".into(),
        );
    };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > BASE_MAP_NAME_CHARS_MAX || name.chars().any(char::is_control) {
        return fail(format!("the name must be 1 to {BASE_MAP_NAME_CHARS_MAX} characters"));
    }
    let (url, crs) = match rest.rsplit_once(",crs=") {
        Some((url, crs)) => match crs.trim().parse::<SourceCrs>() {
            Ok(crs @ (SourceCrs::Wgs84 | SourceCrs::Gcj02)) => (url, crs),
            _ => return fail(format!("crs must be gcj02 or wgs84, not {}", echo(crs))),
        },
        None => (rest, SourceCrs::Wgs84),
    };
    match xyz_tiles(url.trim()) {
        Ok(tiles) => Ok(CustomBaseMap { name: name.to_owned(), tiles, crs }),
        Err(why) => fail(why),
    }
}

/// Refuses more than [`BASE_MAPS_MAX`] entries, and two entries of one name (the page tells them by name).
pub fn check_base_maps(maps: &[CustomBaseMap]) -> Result<(), BaseMapError> {
    if maps.len() > BASE_MAPS_MAX {
        return Err(BaseMapError(format!("at most {BASE_MAPS_MAX} --base-map entries, not {}", maps.len())));
    }
    for (i, map) in maps.iter().enumerate() {
        if maps[..i].iter().any(|other| other.name == map.name) {
            return Err(BaseMapError(format!("two --base-map entries are named {}", map.name)));
        }
    }
    Ok(())
}

/// The tile URLs of one XYZ URL template: checked, with its subdomain placeholder expanded.
pub fn xyz_tiles(url: &str) -> Result<Vec<String>, String> {
    if url.len() > BASE_MAP_URL_BYTES_MAX {
        return Err(format!("the URL is {} bytes, more than {BASE_MAP_URL_BYTES_MAX}", url.len()));
    }
    let lower = url.to_ascii_lowercase();
    let Some(after_scheme) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else {
        return Err("the URL must start with http:// or https://".into());
    };
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`|".contains(*c)) {
        return Err(format!("the URL has a {c:?}, which a URL cannot have unencoded"));
    }
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("the URL must name a host (and no user name or password)".into());
    }
    // Every `{…}` is a placeholder: {x}, {y}, {z} each once at least, at most one subdomain list.
    let mut subdomains: Option<(String, Vec<String>)> = None;
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err("the URL has a { without its }".into());
        };
        let placeholder = &rest[start..start + len + 1];
        rest = &rest[start + len + 1..];
        if matches!(placeholder, "{x}" | "{y}" | "{z}") {
            continue;
        }
        let Some(values) = subdomain_values(placeholder) else {
            return Err(format!(
                "unknown placeholder {}: use {{x}}, {{y}}, {{z}} and one subdomain list such as {{s}} or {{1-4}}",
                echo(placeholder)
            ));
        };
        if subdomains.replace((placeholder.to_owned(), values)).is_some() {
            return Err("the URL has more than one subdomain list".into());
        }
    }
    for needed in ["{x}", "{y}", "{z}"] {
        if !url.contains(needed) {
            return Err(format!("the URL has no {needed}: an XYZ URL has {{x}}, {{y}} and {{z}}"));
        }
    }
    Ok(match subdomains {
        None => vec![url.to_owned()],
        Some((placeholder, values)) => values.iter().map(|value| url.replacen(&placeholder, value, 1)).collect(),
    })
}

/// `{s}` is Leaflet's a, b, c; `{1-4}` or `{a-d}` a range of single digits or letters, at most 10 long.
fn subdomain_values(placeholder: &str) -> Option<Vec<String>> {
    if placeholder == "{s}" {
        return Some(["a", "b", "c"].map(String::from).to_vec());
    }
    let inner = placeholder.strip_prefix('{')?.strip_suffix('}')?;
    let [first, b'-', last] = inner.as_bytes() else { return None };
    let same_class =
        (first.is_ascii_digit() && last.is_ascii_digit()) || (first.is_ascii_lowercase() && last.is_ascii_lowercase());
    if !same_class || first > last || usize::from(last - first) >= BASE_MAP_SUBDOMAINS_MAX {
        return None;
    }
    Some((*first..=*last).map(|b| char::from(b).to_string()).collect())
}

/// At most 60 characters of a rejected value, so a message stays bounded.
fn echo(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() { format!("{short:?}…") } else { format!("{short:?}") }
}

/// Tianditu's WMTS GetTile (KVP) URLs of one layer of its Web Mercator set (`vec_w`, `cva_w`, …), one per
/// server t0–t7. The key goes to the browser: it is a browser key, bound to the site's domain by Tianditu.
fn tianditu_tiles(layer: &str, key: &TiandituKey) -> Vec<String> {
    (0..8)
        .map(|server| {
            format!(
                "https://t{server}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0\
                 &LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}\
                 &TILECOL={{x}}&tk={}",
                key.0
            )
        })
        .collect()
}

/// The base maps of `GET /api/v1/settings`: Tianditu's two (with a key), then the operator's own, in the
/// order given (ids `xyz1`, `xyz2`, …). Tianditu is CGCS2000, which is WGS-84 to within centimetres: `wgs84`.
pub fn base_maps(tianditu: Option<&TiandituKey>, custom: &[CustomBaseMap]) -> Vec<BaseMap> {
    let mut maps = Vec::new();
    if let Some(key) = tianditu {
        for (id, name, name_en, base, overlay) in [
            ("tianditu_vec", "天地图矢量", "Tianditu vector", "vec", "cva"),
            ("tianditu_img", "天地图影像", "Tianditu imagery", "img", "cia"),
        ] {
            maps.push(BaseMap {
                id: id.into(),
                name: name.into(),
                name_en: name_en.into(),
                tiles: tianditu_tiles(base, key),
                overlay_tiles: tianditu_tiles(overlay, key),
                crs: SourceCrs::Wgs84,
                attribution: "天地图".into(),
                max_zoom: TIANDITU_MAX_ZOOM,
            });
        }
    }
    for (i, map) in custom.iter().enumerate() {
        maps.push(BaseMap {
            id: format!("xyz{}", i + 1),
            name: map.name.clone(),
            name_en: map.name.clone(),
            tiles: map.tiles.clone(),
            overlay_tiles: Vec::new(),
            crs: map.crs,
            attribution: map.name.clone(),
            max_zoom: XYZ_MAX_ZOOM,
        });
    }
    maps
}

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&value| code(value)).collect()
}

/// `{mode: {level: days or null}}` from the deadline policy, so the dispatch dialog shows the deadline the
/// server would set; `null` where a deadline must be given (a major hazard follows its approved plan).
fn default_deadline_days(policy: &crate::domain::policy::DeadlinePolicy) -> Value {
    let mut modes = Map::new();
    for &mode in RectificationMode::ALL {
        let levels: Map<String, Value> = HazardLevel::ALL
            .iter()
            .map(|&level| (level.as_str().to_string(), json!(policy.default_days(level, mode))))
            .collect();
        modes.insert(mode.as_str().to_string(), Value::Object(levels));
    }
    Value::Object(modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_order_lists_every_status_once() {
        let listed: std::collections::HashSet<_> = LIFECYCLE_ORDER.iter().collect();
        assert_eq!(listed.len(), SiteStatus::ALL.len());
    }

    const AMAP: &str =
        "https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}";

    #[test]
    fn a_base_map_entry_expands_its_subdomains_and_reads_its_crs() {
        let amap = parse_base_map(&format!("高德={AMAP},crs=gcj02")).unwrap();

        assert_eq!(amap.name, "高德");
        assert_eq!(amap.crs, SourceCrs::Gcj02);
        let want: Vec<String> = (1..=4).map(|n| AMAP.replace("{1-4}", &n.to_string())).collect();
        assert_eq!(amap.tiles, want);
        assert!(amap.tiles[0].starts_with("https://webrd01.is.autonavi.com/"), "{}", amap.tiles[0]);

        let osm = parse_base_map("OSM=https://{s}.tile.example.org/{z}/{x}/{y}.png").unwrap();
        assert_eq!(osm.crs, SourceCrs::Wgs84);
        assert_eq!(osm.tiles, ["a", "b", "c"].map(|s| format!("https://{s}.tile.example.org/{{z}}/{{x}}/{{y}}.png")));

        let plain = parse_base_map(" 影像 = http://tiles.example.org/{z}/{x}/{y}.jpg ,crs=WGS84").unwrap();
        assert_eq!(plain.name, "影像");
        assert_eq!(plain.tiles, ["http://tiles.example.org/{z}/{x}/{y}.jpg"]);
        assert_eq!(plain.crs, SourceCrs::Wgs84);

        let letters = parse_base_map("T=https://t{a-d}.example.org/{z}/{x}/{y}").unwrap();
        assert_eq!(letters.tiles.len(), 4);
        assert_eq!(letters.tiles[3], "https://td.example.org/{z}/{x}/{y}");
    }

    #[test]
    fn a_bad_base_map_entry_is_refused_saying_why() {
        let long = format!("L=https://example.org/{{z}}/{{x}}/{{y}}?pad={}", "a".repeat(2100));
        let cases = [
            ("https://example.org/{z}/{x}/{y}", "expected NAME=URL"),
            ("=https://example.org/{z}/{x}/{y}", "the name must be 1 to 40 characters"),
            (&format!("{}=https://example.org/{{z}}/{{x}}/{{y}}", "名".repeat(41)), "the name must be 1 to 40"),
            ("A=ftp://example.org/{z}/{x}/{y}", "must start with http:// or https://"),
            ("A=example.org/{z}/{x}/{y}", "must start with http:// or https://"),
            ("A=https:///{z}/{x}/{y}", "must name a host"),
            ("A=https://user:pw@example.org/{z}/{x}/{y}", "no user name or password"),
            ("A=https://example.org/{z}/{x}", "the URL has no {y}"),
            ("A=https://example.org/{x}/{y}", "the URL has no {z}"),
            ("A=https://example.org/{z}/{x}/{y},crs=bd09", "crs must be gcj02 or wgs84, not \"bd09\""),
            ("A=https://example.org/{z}/{x}/{y},crs=", "crs must be gcj02 or wgs84"),
            ("A=https://example.org/{z}/{x}/{y}/{foo}", "unknown placeholder \"{foo}\""),
            ("A=https://{0-9}{s}.example.org/{z}/{x}/{y}", "more than one subdomain list"),
            ("A=https://t{a-z}.example.org/{z}/{x}/{y}", "unknown placeholder \"{a-z}\""),
            ("A=https://t{4-1}.example.org/{z}/{x}/{y}", "unknown placeholder"),
            ("A=https://example.org/{z}/{x}/{y", "a { without its }"),
            ("A=https://example.org/{z}/{x}/{y} x", "the URL has a ' '"),
            ("A=https://example.org/\"{z}/{x}/{y}", "the URL has a '\"'"),
            (&long, "bytes, more than 2048"),
        ];
        for (text, why) in cases {
            let err = parse_base_map(text).unwrap_err().to_string();

            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn at_most_ten_base_maps_and_no_two_of_one_name() {
        let map = |name: &str| parse_base_map(&format!("{name}=https://example.org/{{z}}/{{x}}/{{y}}")).unwrap();
        let ten: Vec<_> = (0..10).map(|i| map(&format!("m{i}"))).collect();
        assert_eq!(check_base_maps(&ten), Ok(()));

        let eleven: Vec<_> = (0..11).map(|i| map(&format!("m{i}"))).collect();
        assert_eq!(check_base_maps(&eleven).unwrap_err().to_string(), "at most 10 --base-map entries, not 11");

        let twice = [map("高德"), map("OSM"), map("高德")];
        assert_eq!(check_base_maps(&twice).unwrap_err().to_string(), "two --base-map entries are named 高德");
    }

    #[test]
    fn a_tianditu_key_is_32_hex_characters() {
        let key: TiandituKey = " 0123456789ABCDEF0123456789abcdef ".parse().unwrap();
        assert_eq!(key.0, "0123456789abcdef0123456789abcdef");
        // The key is not written into logs by {:?}.
        assert_eq!(format!("{key:?}"), "TiandituKey(…)");

        for (text, why) in [
            ("", "this one has 0 characters"),
            ("0123456789abcdef0123456789abcde", "this one has 31 characters"),
            ("0123456789abcdef0123456789abcdef0", "this one has 33 characters"),
            ("0123456789abcdef0123456789abcdeg", "not all of them 0-9 or a-f"),
        ] {
            let err = text.parse::<TiandituKey>().unwrap_err().to_string();

            assert!(err.starts_with("a Tianditu key is the 32 hexadecimal characters"), "{err}");
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn tianditu_gives_vector_and_imagery_with_their_annotation() {
        let key: TiandituKey = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let custom = [parse_base_map(&format!("高德={AMAP},crs=gcj02")).unwrap()];

        let maps = base_maps(Some(&key), &custom);

        let ids: Vec<_> = maps.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["tianditu_vec", "tianditu_img", "xyz1"]);
        for (map, base, overlay) in [(&maps[0], "vec", "cva"), (&maps[1], "img", "cia")] {
            assert_eq!(map.tiles.len(), 8);
            assert_eq!(map.overlay_tiles.len(), 8);
            for (n, (tile, label)) in map.tiles.iter().zip(&map.overlay_tiles).enumerate() {
                for (url, layer) in [(tile, base), (label, overlay)] {
                    assert_eq!(
                        *url,
                        format!(
                            "https://t{n}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0\
                             &LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}\
                             &TILEROW={{y}}&TILECOL={{x}}&tk=0123456789abcdef0123456789abcdef"
                        )
                    );
                }
            }
            assert_eq!((map.crs, map.attribution.as_str(), map.max_zoom), (SourceCrs::Wgs84, "天地图", 18));
        }
        assert_eq!(maps[2].crs, SourceCrs::Gcj02);
        assert!(maps[2].overlay_tiles.is_empty());
        assert_eq!(base_maps(None, &custom).len(), 1);
        assert!(base_maps(None, &[]).is_empty());
    }
}
