//! The nine towns of Zhangjiagang (区镇/街道) as a tiling of the demo area.
//!
//! Boundaries are a Voronoi diagram of the town centres, clipped to the area, with gently wiggled shared
//! edges. Each shared edge is drawn once and used by both of its towns (reversed for one), so the towns
//! meet exactly: no overlaps, no gaps, and every site gets exactly one town from `st_intersects`.

use std::collections::HashMap;

use geo::{Contains, Coord, LineString, Point, Polygon};

use super::plane::{self, Xy};
use super::rng::Rng;

/// A town, with the people and places the dataset uses there.
#[derive(Debug)]
pub struct TownSpec {
    pub admin_code: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    /// Where the town seat roughly is (lon, lat): the Voronoi seed.
    pub centre: (f64, f64),
    /// The town's organisation (kind `town`).
    pub org: &'static str,
    /// Administrative villages / communities, for road names and notes.
    pub villages: &'static [&'static str],
    /// The town's two inspectors (巡查员).
    pub inspectors: [&'static str; 2],
    /// The town's road-safety officer (区镇交安办).
    pub officer: &'static str,
    /// The traffic police squadron that covers the town.
    pub squadron: &'static str,
}

/// Real town names; codes follow the 9-digit township pattern under 320582. Placement is schematic:
/// the Yangtze runs along the north, the city (杨舍) is in the centre-south.
pub const TOWNS: [TownSpec; 9] = [
    TownSpec {
        admin_code: "320582100",
        name: "杨舍镇",
        name_en: "Yangshe Town",
        centre: (120.54, 31.87),
        org: "杨舍镇人民政府",
        villages: &["善港", "农联", "东莱", "泗港", "城北", "勤丰"],
        inspectors: ["张伟", "李娜"],
        officer: "钱志宏",
        squadron: "张家港市公安局交通警察大队城区中队",
    },
    TownSpec {
        admin_code: "320582101",
        name: "塘桥镇",
        name_en: "Tangqiao Town",
        centre: (120.60, 31.78),
        org: "塘桥镇人民政府",
        villages: &["韩山", "金村", "妙桥", "鹿苑", "青龙", "滩里"],
        inspectors: ["王强", "刘洋"],
        officer: "蒋丽华",
        squadron: "张家港市公安局交通警察大队塘桥中队",
    },
    TownSpec {
        admin_code: "320582102",
        name: "金港街道",
        name_en: "Jingang Subdistrict",
        centre: (120.38, 31.95),
        org: "金港街道办事处",
        villages: &["长江", "德积", "后塍", "南沙", "香山", "东山"],
        inspectors: ["陈静", "杨帆"],
        officer: "沈国平",
        squadron: "张家港市公安局交通警察大队金港中队",
    },
    TownSpec {
        admin_code: "320582103",
        name: "锦丰镇",
        name_en: "Jinfeng Town",
        centre: (120.58, 31.97),
        org: "锦丰镇人民政府",
        villages: &["三兴", "锦南", "兴业", "光明", "洪桥", "合兴"],
        inspectors: ["赵磊", "黄敏"],
        officer: "韩雪",
        squadron: "张家港市公安局交通警察大队锦丰中队",
    },
    TownSpec {
        admin_code: "320582104",
        name: "乐余镇",
        name_en: "Leyu Town",
        centre: (120.73, 31.97),
        org: "乐余镇人民政府",
        villages: &["永乐", "兆丰", "乐红", "齐心", "扶海", "东沙"],
        inspectors: ["周杰", "吴芳"],
        officer: "杨建军",
        squadron: "张家港市公安局交通警察大队乐余中队",
    },
    TownSpec {
        admin_code: "320582105",
        name: "凤凰镇",
        name_en: "Fenghuang Town",
        centre: (120.40, 31.80),
        org: "凤凰镇人民政府",
        villages: &["恬庄", "港口", "西张", "安庆", "双塘", "凤南"],
        inspectors: ["徐明", "孙丽"],
        officer: "秦海",
        squadron: "张家港市公安局交通警察大队塘桥中队",
    },
    TownSpec {
        admin_code: "320582106",
        name: "南丰镇",
        name_en: "Nanfeng Town",
        centre: (120.72, 31.86),
        org: "南丰镇人民政府",
        villages: &["永联", "南丰", "海坝", "民联", "东港", "建农"],
        inspectors: ["朱军", "马超"],
        officer: "朱晓燕",
        squadron: "张家港市公安局交通警察大队乐余中队",
    },
    TownSpec {
        admin_code: "320582107",
        name: "大新镇",
        name_en: "Daxin Town",
        centre: (120.48, 31.99),
        org: "大新镇人民政府",
        villages: &["大新", "新丰", "长丰", "年丰", "朝东", "永兴"],
        inspectors: ["胡斌", "郭婷"],
        officer: "许文斌",
        squadron: "张家港市公安局交通警察大队金港中队",
    },
    TownSpec {
        admin_code: "320582400",
        name: "常阴沙现代农业示范区",
        name_en: "Changyinsha Modern Agriculture Demonstration Zone",
        centre: (120.66, 32.02),
        org: "常阴沙现代农业示范区管理委员会",
        villages: &["常兴", "红旗", "东兴", "悦来", "沙北", "新港"],
        inspectors: ["何平", "高翔"],
        officer: "尤佳",
        squadron: "张家港市公安局交通警察大队锦丰中队",
    },
];

/// A town with its boundary.
#[derive(Debug, Clone)]
pub struct Town {
    pub spec: &'static TownSpec,
    /// Closed exterior ring, (lon, lat) rounded to 7 decimals.
    pub ring: Vec<(f64, f64)>,
    polygon: Polygon,
}

impl Town {
    #[cfg(test)]
    pub fn polygon(&self) -> &Polygon {
        &self.polygon
    }
}

/// Vertices closer than this (metres) are one vertex: Voronoi vertices computed from different cells
/// differ in the last bits.
const SNAP_M: f64 = 0.01;
/// Shared edges get one wiggle point per this many metres.
const WIGGLE_SPACING_M: f64 = 1_200.0;
/// Largest sideways wiggle, as a share of the edge length (an envelope keeps the ends straight, so
/// neighbouring edges cannot cross).
const WIGGLE_SHARE: f64 = 0.035;

/// The towns of [`TOWNS`], tiling [`plane::AREA_DEG`].
pub fn tile() -> Vec<Town> {
    let (lo, hi) = plane::area();
    let rect = [lo, Xy::new(hi.x, lo.y), hi, Xy::new(lo.x, hi.y)];
    let seeds: Vec<Xy> = TOWNS.iter().map(|t| Xy::from_lonlat(t.centre.0, t.centre.1)).collect();

    // 1. Voronoi cells: the rectangle cut by the perpendicular bisector to every other seed.
    let cells: Vec<Vec<Xy>> = seeds
        .iter()
        .enumerate()
        .map(|(i, &si)| {
            seeds.iter().enumerate().filter(|&(j, _)| j != i).fold(rect.to_vec(), |poly, (_, &sj)| {
                let normal = sj.sub(si);
                let mid = si.lerp(sj, 0.5);
                plane::clip_half_plane(&poly, |p| p.sub(mid).dot(normal))
            })
        })
        .collect();

    // 2. One shared vertex list, so neighbours use the very same coordinates.
    let mut vertices: Vec<Xy> = Vec::new();
    let cells: Vec<Vec<usize>> = cells
        .iter()
        .map(|cell| {
            let mut ids: Vec<usize> = Vec::new();
            for &p in cell {
                let id = match vertices.iter().position(|v| v.dist(p) < SNAP_M) {
                    Some(id) => id,
                    None => {
                        vertices.push(p);
                        vertices.len() - 1
                    }
                };
                if ids.last() != Some(&id) && ids.first() != Some(&id) {
                    ids.push(id);
                }
            }
            ids
        })
        .collect();

    // 3. Wiggle each inner edge once, keyed by its vertex pair; edges on the area's border stay straight.
    let on_border = |a: Xy, b: Xy| {
        let near = |u: f64, v: f64| (u - v).abs() < SNAP_M;
        (near(a.x, lo.x) && near(b.x, lo.x))
            || (near(a.x, hi.x) && near(b.x, hi.x))
            || (near(a.y, lo.y) && near(b.y, lo.y))
            || (near(a.y, hi.y) && near(b.y, hi.y))
    };
    let mut wiggles: HashMap<(usize, usize), Vec<Xy>> = HashMap::new();
    for cell in &cells {
        for (k, &a) in cell.iter().enumerate() {
            let b = cell[(k + 1) % cell.len()];
            let key = (a.min(b), a.max(b));
            if wiggles.contains_key(&key) {
                continue;
            }
            let (p, q) = (vertices[key.0], vertices[key.1]);
            let points = if on_border(p, q) {
                Vec::new()
            } else {
                let mut rng = Rng::stream(&format!("town-edge-{}-{}", key.0, key.1));
                let n = (p.dist(q) / WIGGLE_SPACING_M) as usize;
                let normal = q.sub(p).left();
                let amplitude = WIGGLE_SHARE * p.dist(q);
                (1..=n)
                    .map(|i| {
                        let t = i as f64 / (n + 1) as f64;
                        let envelope = (std::f64::consts::PI * t).sin();
                        p.lerp(q, t).add(normal.scale(amplitude * envelope * rng.range(-1.0, 1.0)))
                    })
                    .collect()
            };
            wiggles.insert(key, points);
        }
    }

    // 4. Rings in degrees.
    cells
        .iter()
        .zip(TOWNS.iter())
        .map(|(cell, spec)| {
            let mut ring: Vec<(f64, f64)> = Vec::new();
            for (k, &a) in cell.iter().enumerate() {
                let b = cell[(k + 1) % cell.len()];
                ring.push(vertices[a].lonlat());
                let between = &wiggles[&(a.min(b), a.max(b))];
                if a < b {
                    ring.extend(between.iter().map(|p| p.lonlat()));
                } else {
                    ring.extend(between.iter().rev().map(|p| p.lonlat()));
                }
            }
            ring.push(ring[0]);
            let polygon = Polygon::new(LineString::from(ring.clone()), Vec::new());
            Town { spec, ring, polygon }
        })
        .collect()
}

/// Index of the town holding a point (lon, lat), if any.
pub fn town_at(towns: &[Town], lonlat: (f64, f64)) -> Option<usize> {
    let p = Point::from(Coord { x: lonlat.0, y: lonlat.1 });
    towns.iter().position(|t| t.polygon.contains(&p)).or_else(|| {
        // On a shared edge `contains` is false for both towns; take the first that touches it, in insert
        // order, as the SQL (`order by t.id limit 1`) does.
        towns.iter().position(|t| geo::Intersects::intersects(&t.polygon, &p))
    })
}

#[cfg(test)]
mod tests {
    use geo::{Area, BooleanOps, Validation};

    use super::*;

    #[test]
    fn towns_tile_the_area_without_overlaps_or_gaps() {
        let towns = tile();
        assert_eq!(towns.len(), 9);
        for town in &towns {
            assert!(town.polygon().is_valid(), "{}: {:?}", town.spec.name, town.polygon().validation_errors());
        }
        let [w, s, e, n] = plane::AREA_DEG;
        let area: f64 = towns.iter().map(|t| t.polygon().unsigned_area()).sum();
        assert!((area - (e - w) * (n - s)).abs() < 1e-9, "sum of town areas {area}");
        for (i, a) in towns.iter().enumerate() {
            for b in &towns[i + 1..] {
                let overlap = a.polygon().intersection(b.polygon()).unsigned_area();
                assert!(overlap < 1e-10, "{} and {} overlap by {overlap}", a.spec.name, b.spec.name);
            }
        }
    }

    #[test]
    fn every_town_holds_its_own_centre_and_codes_are_unique() {
        let towns = tile();
        for (i, t) in towns.iter().enumerate() {
            assert_eq!(town_at(&towns, t.spec.centre), Some(i), "{}", t.spec.name);
            assert!(t.spec.admin_code.starts_with("320582") && t.spec.admin_code.len() == 9);
        }
        let mut codes: Vec<&str> = TOWNS.iter().map(|t| t.admin_code).collect();
        codes.dedup();
        assert_eq!(codes.len(), TOWNS.len());
    }
}
