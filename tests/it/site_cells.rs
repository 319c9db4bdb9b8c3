//! The grid counts of migration 0008 (`site_cell`) against the sites they count: every low-zoom tile drawn
//! from the counts holds, cell by cell, what counting the sites themselves gives (here in Rust, from the
//! anchors), for every site and for one town's, after inserts, status moves, moves and deletes, after
//! compaction, and on a new county day (overdue counts rolled forward).

use std::collections::BTreeMap;

use geo_types::Geometry;
use mvt_reader::feature::Value as Mvt;
use sqlx::PgPool;

use crate::common::app;
use roadledger::db::site_cells::{self, Counted};
use roadledger::db::sites::SiteFilter;
use roadledger::db::tiles::{self, Crs, GRID, Layer, TileId};
use roadledger::domain::auth::SiteScope;
use roadledger::domain::site::SiteStatus;
use roadledger::domain::site_filter::MapFilter;

const HALF: f64 = 20_037_508.342_789_244;
const EXTENT: f64 = 4096.0;
const ZOOMS: [u8; 6] = [3, 7, 9, 10, 11, 12];

/// One site as the counts see it.
struct Counted1 {
    x: f64,
    y: f64,
    status: String,
    overdue: bool,
    town: i32,
}

/// What a cell should hold: count, open, overdue, per status, and the sums of the anchors.
#[derive(Debug, Default, PartialEq)]
struct Cell {
    n: i64,
    open: i64,
    overdue: i64,
    by_status: BTreeMap<String, i64>,
    sum_x: f64,
    sum_y: f64,
}

async fn sites_now(pool: &PgPool) -> Vec<Counted1> {
    let rows: Vec<(f64, f64, String, bool, i32)> = sqlx::query_as(
        "select st_x(anchor_3857), st_y(anchor_3857), status,
                coalesce(site_status_open(status) and deadline < (now() at time zone 'Asia/Shanghai')::date, false),
                coalesce(town_id, 0)
         from site",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(x, y, status, overdue, town)| Counted1 { x, y, status, overdue, town }).collect()
}

/// The cells of tile `t` by counting `sites` in Rust: (column, row from the top) → cell.
fn expected(sites: &[Counted1], t: TileId, town: Option<i32>) -> BTreeMap<(i64, i64), Cell> {
    let level = i32::from(t.z) + 5;
    let size = 2.0 * HALF / 2f64.powi(level);
    let grid = i64::from(GRID);
    let (x0, top) = (i64::from(t.x) * grid, ((1i64 << t.z) - 1 - i64::from(t.y)) * grid);
    let mut cells: BTreeMap<(i64, i64), Cell> = BTreeMap::new();
    for s in sites.iter().filter(|s| town.is_none_or(|t| s.town == t)) {
        let (cx, cy) = (((s.x + HALF) / size).floor() as i64, ((s.y + HALF) / size).floor() as i64);
        if !(x0..x0 + grid).contains(&cx) || !(top..top + grid).contains(&cy) {
            continue;
        }
        let cell = cells.entry((cx - x0, grid - 1 - (cy - top))).or_default();
        cell.n += 1;
        cell.open += i64::from(SiteStatus::open_codes().contains(&s.status.as_str()));
        cell.overdue += i64::from(s.overdue);
        *cell.by_status.entry(s.status.clone()).or_default() += 1;
        cell.sum_x += s.x;
        cell.sum_y += s.y;
    }
    cells
}

fn int(properties: &std::collections::HashMap<String, Mvt>, key: &str) -> i64 {
    match properties.get(key) {
        Some(Mvt::Int(n) | Mvt::SInt(n)) => *n,
        Some(Mvt::UInt(n)) => *n as i64,
        None => 0,
        other => panic!("{key} is {other:?}"),
    }
}

/// Draws every tile of `ZOOMS` that holds a site from the counts and compares it with counting the sites.
/// Answers how many cells were compared.
async fn check_tiles(pool: &PgPool, counted: Counted) -> usize {
    let sites = sites_now(pool).await;
    let town = match counted {
        Counted::Every => None,
        Counted::Town(t) => Some(t),
    };
    let mut compared = 0;
    for z in ZOOMS {
        let tile_size = 2.0 * HALF / 2f64.powi(i32::from(z));
        let mut tiles: Vec<(u32, u32)> = sites
            .iter()
            .map(|s| (((s.x + HALF) / tile_size).floor() as u32, ((HALF - s.y) / tile_size).floor() as u32))
            .collect();
        tiles.sort();
        tiles.dedup();
        for (x, y) in tiles {
            let t = TileId::new(z, x, y).unwrap();
            let want = expected(&sites, t, town);
            let drawn = site_cells::draw(pool, t, counted).await.unwrap();
            let mut got: Vec<Cell> = Vec::new();
            if !drawn.mvt.is_empty() {
                let reader = mvt_reader::Reader::new(drawn.mvt.clone()).unwrap();
                for f in reader.get_features(0).unwrap() {
                    let p = match f.geometry {
                        Geometry::Point(p) => p,
                        Geometry::MultiPoint(m) if m.0.len() == 1 => m.0[0],
                        other => panic!("a cell is a point, not {other:?}"),
                    };
                    let properties = f.properties.unwrap_or_default();
                    got.push(Cell {
                        n: int(&properties, "n"),
                        open: int(&properties, "open"),
                        overdue: int(&properties, "overdue"),
                        by_status: SiteStatus::ALL
                            .iter()
                            .filter(|s| properties.contains_key(s.as_str()))
                            .map(|s| (s.as_str().to_string(), int(&properties, s.as_str())))
                            .collect(),
                        // Here the drawn position, in tile units.
                        sum_x: f64::from(p.x()),
                        sum_y: f64::from(p.y()),
                    });
                }
            }
            assert_eq!(got.len(), want.len(), "z{z}/{x}/{y} {counted:?}: cells drawn vs counted");
            let (xmin, ymax) = (-HALF + f64::from(x) * tile_size, HALF - f64::from(y) * tile_size);
            for (key, w) in &want {
                // The cell is drawn at its sites' mean position (tile units, within rounding) with their counts.
                let mean = (
                    (w.sum_x / w.n as f64 - xmin) / tile_size * EXTENT,
                    (ymax - w.sum_y / w.n as f64) / tile_size * EXTENT,
                );
                let at = got
                    .iter()
                    .position(|g| (g.sum_x - mean.0).abs() <= 1.0 && (g.sum_y - mean.1).abs() <= 1.0)
                    .unwrap_or_else(|| panic!("z{z}/{x}/{y}: no cell drawn at {mean:?} (cell {key:?})"));
                let g = got.swap_remove(at);
                assert_eq!(
                    (g.n, g.open, g.overdue, &g.by_status),
                    (w.n, w.open, w.overdue, &w.by_status),
                    "z{z}/{x}/{y} {key:?}"
                );
                compared += 1;
            }
        }
    }
    compared
}

async fn insert_sites(pool: &PgPool, n: i32, from: i32) {
    // A fixed scatter over two towns and their surroundings, every status, deadlines around today.
    sqlx::query(
        "insert into site (kind, geom, status, template_code, deadline, town_id, first_observed_at, last_observed_at)
         select 'spot', p.geom, (array['reported', 'verified', 'assigned', 'in_progress', 'pending_review', 'closed',
                                      'reopened', 'rejected', 'closed', 'cancelled'])[1 + i % 10],
                'three_ones', case when i % 11 = 0 then null else (now() at time zone 'Asia/Shanghai')::date + (i % 9 - 4) end,
                (select id from town t where st_intersects(t.boundary, p.geom) limit 1), now(), now()
         from generate_series($1, $1 + $2 - 1) i
         cross join lateral (select st_setsrid(st_point(120.40 + ((i * 7919) % 1000) / 1000.0 * 0.35,
                                                        31.78 + ((i * 104729) % 1000) / 1000.0 * 0.20), 4326) as geom) p",
    )
    .bind(from)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn grid_counts_follow_every_change_and_match_the_sites(pool: PgPool) {
    let app = app(pool).await;
    app.add_town("320582100", "杨舍镇", [120.40, 31.78, 120.55, 31.90]).await;
    app.add_town("320582101", "塘桥镇", [120.55, 31.78, 120.75, 31.90]).await;
    let town: i32 =
        sqlx::query_scalar("select id from town where admin_code = '320582101'").fetch_one(&app.pool).await.unwrap();
    let pool = &app.pool;
    insert_sites(pool, 300, 1).await;
    insert_sites(pool, 1, 301).await; // a second statement: unsettled rows on top of the first's
    assert!(check_tiles(pool, Counted::Every).await > 300);
    assert!(check_tiles(pool, Counted::Town(town)).await > 50);

    // Status moves, moves across cells and towns, deletes; then everything folded.
    sqlx::query("update site set status = 'closed' where status = 'in_progress'").execute(pool).await.unwrap();
    // An update that changes nothing the counts hold adds no row.
    let rows =
        || async { sqlx::query_scalar::<_, i64>("select count(*) from site_cell").fetch_one(pool).await.unwrap() };
    let before = rows().await;
    sqlx::query("update site set updated_at = now()").execute(pool).await.unwrap();
    assert_eq!(rows().await, before);
    sqlx::query(
        "update site set geom = st_translate(geom, 0.013, -0.007),
                         town_id = (select id from town t where st_intersects(t.boundary, st_translate(geom, 0.013, -0.007)) limit 1)
         where status = 'reported'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("delete from site where status = 'cancelled'").execute(pool).await.unwrap();
    check_tiles(pool, Counted::Every).await;
    check_tiles(pool, Counted::Town(town)).await;
    let unsettled: i64 =
        sqlx::query_scalar("select count(*) from site_cell where not settled").fetch_one(pool).await.unwrap();
    assert!(unsettled > 0);
    assert!(site_cells::compact(pool).await.unwrap() > 0);
    let unsettled: i64 =
        sqlx::query_scalar("select count(*) from site_cell where not settled").fetch_one(pool).await.unwrap();
    assert_eq!(unsettled, 0);
    let empty: i64 = sqlx::query_scalar("select count(*) from site_cell where n = 0").fetch_one(pool).await.unwrap();
    assert_eq!(empty, 0, "keys whose sites are gone are dropped");
    check_tiles(pool, Counted::Every).await;

    // Counted as of five days ago: the first tile of today moves the overdue counts to today.
    sqlx::query("update site_cell_day set as_of = (now() at time zone 'Asia/Shanghai')::date - 5")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("select site_cell_rebuild()").execute(pool).await.unwrap();
    let stale: i64 =
        sqlx::query_scalar("select sum(overdue) from site_cell where level = 5").fetch_one(pool).await.unwrap();
    let overdue_now = sites_now(pool).await.iter().filter(|s| s.overdue).count() as i64;
    assert!(stale < overdue_now, "five days ago fewer sites were overdue ({stale} < {overdue_now})");
    check_tiles(pool, Counted::Every).await;
    let as_of: bool =
        sqlx::query_scalar("select as_of = (now() at time zone 'Asia/Shanghai')::date from site_cell_day")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(as_of, "the counts moved to today");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_database_and_the_domain_agree_on_open_statuses(pool: PgPool) {
    for status in SiteStatus::ALL {
        let open: bool =
            sqlx::query_scalar("select site_status_open($1)").bind(status.as_str()).fetch_one(&pool).await.unwrap();
        assert_eq!(open, status.is_open(), "{status:?}");
    }
}

/// A drawn cell: n, open, overdue, the count per status, and its position in tile units.
type DrawnCell = (i64, i64, i64, Vec<i64>, (i64, i64));

/// A tile's cells, sorted, for comparing two drawings.
fn cells_of(mvt: &[u8]) -> Vec<DrawnCell> {
    if mvt.is_empty() {
        return Vec::new();
    }
    let reader = mvt_reader::Reader::new(mvt.to_vec()).unwrap();
    let mut cells: Vec<_> = reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let p = match f.geometry {
                Geometry::Point(p) => p,
                Geometry::MultiPoint(m) => m.0[0],
                other => panic!("{other:?}"),
            };
            let properties = f.properties.unwrap_or_default();
            let by_status = SiteStatus::ALL.iter().map(|s| int(&properties, s.as_str())).collect();
            (
                int(&properties, "n"),
                int(&properties, "open"),
                int(&properties, "overdue"),
                by_status,
                (p.x().round() as i64, p.y().round() as i64),
            )
        })
        .collect();
    cells.sort();
    cells
}

#[sqlx::test(migrations = "./migrations")]
async fn the_map_serves_low_zooms_from_the_counts_as_it_would_from_the_sites(pool: PgPool) {
    let app = app(pool).await;
    app.add_town("320582100", "杨舍镇", [120.40, 31.78, 120.55, 31.90]).await;
    let town: i32 = sqlx::query_scalar("select id from town").fetch_one(&app.pool).await.unwrap();
    insert_sites(&app.pool, 400, 1).await;
    let filter =
        |scope: SiteScope, criteria: MapFilter| SiteFilter { bbox: None, criteria, after: None, limit: 1, scope };
    // Listing every status filters nothing, but it is a filter: that tile is drawn from the sites.
    let every_status = MapFilter { statuses: SiteStatus::ALL.to_vec(), ..MapFilter::default() };
    let scopes = [
        SiteScope { all: true, town_id: None, unit_id: None },
        SiteScope { all: false, town_id: Some(town), unit_id: None },
    ];
    let mut compared = 0;
    for scope in scopes {
        for z in [0u8, 4, 8, 10, 11, 12] {
            let n = 1u32 << z;
            let x = ((120.55 + 180.0) / 360.0 * f64::from(n)) as u32;
            let lat = 31.85f64.to_radians();
            let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * f64::from(n)) as u32;
            let tile = TileId::new(z, x, y).unwrap();
            let counted = filter(scope, MapFilter::default());
            let live = filter(scope, every_status.clone());
            assert!(!tiles::is_heavy(Layer::Sites, tile, &counted, Crs::Wgs84), "z{z} from the counts");
            assert!(tiles::is_heavy(Layer::Sites, tile, &live, Crs::Wgs84), "z{z} from the sites");
            let a = tiles::draw(&app.pool, Layer::Sites, tile, &counted, Crs::Wgs84).await.unwrap();
            let b = tiles::draw(&app.pool, Layer::Sites, tile, &live, Crs::Wgs84).await.unwrap();
            let (a, b) = (cells_of(&a.mvt), cells_of(&b.mvt));
            assert!(!a.is_empty(), "z{z} shows sites");
            assert_eq!(a.len(), b.len(), "z{z} {scope:?}");
            for (ca, cb) in a.iter().zip(&b) {
                assert_eq!((ca.0, ca.1, ca.2, &ca.3), (cb.0, cb.1, cb.2, &cb.3), "z{z}");
                assert!((ca.4.0 - cb.4.0).abs() <= 1 && (ca.4.1 - cb.4.1).abs() <= 1, "z{z}: {:?} vs {:?}", ca.4, cb.4);
                compared += 1;
            }
        }
    }
    assert!(compared > 100, "{compared} cells compared");
    // A unit's sites, GCJ-02 and zooms with single sites are never drawn from the counts.
    let unit = filter(SiteScope { all: false, town_id: None, unit_id: Some(1) }, MapFilter::default());
    let tile = TileId::new(10, 854, 415).unwrap();
    assert!(tiles::is_heavy(Layer::Sites, tile, &unit, Crs::Wgs84));
    let every = filter(scopes[0], MapFilter::default());
    assert!(tiles::is_heavy(Layer::Sites, tile, &every, Crs::Gcj02));
    assert!(!tiles::is_heavy(Layer::Sites, TileId::new(13, 6832, 3320).unwrap(), &every, Crs::Wgs84));
}
