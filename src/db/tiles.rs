//! Mapbox vector tiles of the map's layers, cut by PostGIS (`ST_AsMVT`), and the change log that tells a
//! cached tile whether it is still right.
//!
//! - **sites**, z ≥ [`FEATURE_ZOOM`]: one feature per site (points, and sections as lines) with what the map
//!   colours, filters and labels by; the MVT feature id is the site's number (its code without `YH-`). Below that zoom a tile would hold up to a whole county's sites, so it holds
//!   aggregates instead: a [`GRID`] × [`GRID`] grid of cells, one point per non-empty cell at the mean position
//!   of its sites, with the count per status. Each site is counted once, by its anchor point
//!   (`site.anchor_3857`), in the one cell whose half-open square holds it, so cells add up to the total.
//! - **towns** and **roads**: the background, simplified to the tile's pixel below [`FEATURE_ZOOM`]; below
//!   [`MINOR_ROADS_ZOOM`] only roads with a route code.
//!
//! Site tiles take the site filter of `GET /api/v1/sites` (`sites::filter_condition`, with the scope), at every
//! zoom, so a filtered grid counts what the filtered legend counts. Every layer is drawn in WGS-84 or, for
//! base maps in GCJ-02, from geometries shifted per vertex by `gcj02_from_wgs84` before they are simplified and
//! cut ([`Crs`]).
//!
//! A feature whose geometry `ST_AsMVTGeom` clips away entirely (null) is left out by `ST_AsMVT` itself. The
//! statements do not filter it out with `where geom is not null`: the planner pushes such a condition down
//! into the scan, and `ST_AsMVTGeom` then runs twice per feature, once for the condition and once for the
//! column (a third of a z14 tile's drawing time).
//!
//! Every tile is drawn in one statement that also returns its snapshot (`pg_current_snapshot()`), and
//! [`changed_since`] answers from `map_change` (migration 0006) whether a statement the snapshot did not see has
//! since committed a change inside the tile: that is how a cached tile is never stale.

use super::ReadPool;
use chrono::NaiveDate;
use sqlx::PgPool;
use std::sync::LazyLock;

use super::sites::{FILTER_PARAMS, SiteFilter, bind_filter, filter_condition, scope_condition};
use crate::domain::site::SiteStatus;

/// From this zoom on, the sites layer has one feature per site; below it, grid aggregates.
pub const FEATURE_ZOOM: u8 = 13;
/// Below this zoom the roads layer leaves out roads without a route code (village lanes).
pub const MINOR_ROADS_ZOOM: u8 = 11;
/// The deepest zoom served (a site's stake is a few metres wide there).
pub const MAX_ZOOM: u8 = 22;
/// Cells per tile side in the low-zoom aggregates (16 px cells on a 512 px tile).
pub const GRID: u32 = 32;
/// Tile coordinate space (the MVT extent) and the buffer around it, in those units.
const EXTENT: u32 = 4096;
const BUFFER: u32 = 64;

/// A layer of the map's vector tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Sites,
    Towns,
    Roads,
    /// Open candidates (black spots and detections) waiting for a dispatcher: read by the roles that read the
    /// queue, a town office its own town's.
    Candidates,
    /// Public reports (citizens, hotline, Open311) with a point, waiting for a dispatcher: read by the roles
    /// that read the public reports queue, everyone the same.
    PublicReports,
}

impl Layer {
    pub const ALL: [Layer; 5] = [Layer::Sites, Layer::Towns, Layer::Roads, Layer::Candidates, Layer::PublicReports];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Sites => "sites",
            Layer::Towns => "towns",
            Layer::Roads => "roads",
            Layer::Candidates => "candidates",
            Layer::PublicReports => "public_reports",
        }
    }

    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The `map_change` layers whose changes can alter this layer's tiles: site tiles show town and road
    /// names, so a renamed town or road changes them (within its extent).
    fn depends_on(self) -> &'static [&'static str] {
        match self {
            Layer::Sites => &["sites", "towns", "roads"],
            Layer::Towns => &["towns"],
            Layer::Roads => &["roads"],
            Layer::Candidates => &["candidates"],
            Layer::PublicReports => &["public_reports"],
        }
    }
}

/// A tile address; [`TileId::new`] checks it exists at its zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    pub fn new(z: u8, x: u32, y: u32) -> Option<TileId> {
        let side = 1u64 << z.min(MAX_ZOOM);
        (z <= MAX_ZOOM && u64::from(x) < side && u64::from(y) < side).then_some(TileId { z, x, y })
    }
}

/// A drawn tile and what it was drawn from.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The MVT bytes (empty when the tile has no feature).
    pub mvt: Vec<u8>,
    /// The database snapshot the tile shows (`pg_snapshot` text), for [`changed_since`].
    pub snapshot: String,
    /// The county's date the tile was drawn on: `overdue` turns at midnight.
    pub today: NaiveDate,
}

/// The columns of a site feature (`s`, in a statement with `tile`). The feature id is the number of the site's
/// code (YH-000123 is 123, site_code_format): a varint, where the UUID and code strings made a third of a z14
/// tile and of its drawing time. Flags are left out when false (`ST_AsMVT` writes no null value), so a
/// feature carries only what is true of it; the town is its id (the towns layer names it) and the road its
/// route code, both on the site row, so no join is needed. The deadline is a `date`, which `ST_AsMVT` writes
/// as text in the connection's DateStyle: `YYYY-MM-DD`, as sqlx sets ISO on every connection.
const SITE_COLUMNS: &str = "
            st_asmvtgeom({site_geom}, tile.env, {extent}, {buffer}, true) as geom,
            substring(s.code from 4)::bigint as fid, s.kind, s.status, s.hazard_level,
            nullif(s.deadline < tile.today and s.status = any({open_param}), false) as overdue,
            nullif(s.supervision_level <> 'none', false) as supervised,
            nullif(s.return_count > 0, false) as returned,
            s.town_id, s.route_code as road, s.stake_text as stake, s.deadline";

/// The tile ($1–$3) of a statement of features: its envelope, the envelope with the buffer (the window that
/// finds what the tile may show) and the county's date.
const TILE: &str = "with tile as (
        select st_tileenvelope($1, $2, $3) as env,
               st_tileenvelope($1, $2, $3, margin => {margin}) as buffered,
               (now() at time zone 'Asia/Shanghai')::date as today)";

/// The site feature tile: parameters $1–$3 the tile, then the filter with its scope
/// (`sites::filter_condition`, [`FILTER_PARAMS`] of them), then the open statuses (`{open_param}`).
const SITES_SQL: &str = "
    {tile}
    select coalesce((
        select st_asmvt(f, 'sites', {extent}, 'geom', 'fid')
        from (
            select {site_columns}
            from site s
            where s.geom_3857 && {site_window} and {filter}
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// Every site of a tile, unfiltered, in WGS-84: the tile most asked for. $1–$3 the tile, $4 and $5 the
/// lows and highs of its tile-key ranges ([`key_ranges`]), $6 the open statuses. Point sites come from the
/// tile-key index alone (migration 0021: in map order, with every column here, so no heap page is read);
/// sections from their own GiST index.
const SITES_KEYED_SQL: &str = "
    {tile}
    select coalesce((
        select st_asmvt(f, 'sites', {extent}, 'geom', 'fid')
        from (
            select {site_columns}
            from tile, unnest($4::int8[], $5::int8[]) as r(lo, hi),
                 -- One range at a time, and only the columns site_tile_key_idx carries. `offset 0` keeps the
                 -- window test below out of the range's scan: given it, the planner takes the GiST index.
                 lateral (select s.geom_3857, s.code, s.kind, s.status, s.hazard_level, s.deadline,
                                 s.supervision_level, s.return_count, s.town_id, s.route_code, s.stake_text
                          from site s
                          where s.tile_key between r.lo and r.hi and s.kind <> 'section'
                          offset 0) s
            where s.geom_3857 && tile.buffered
            union all
            select {site_columns}
            from tile
            join site s on s.geom_3857 && tile.buffered
            where s.kind = 'section'
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// The low-zoom grid: parameters as [`SITES_SQL`], so the filter counts what the legend counts. One column per status, null (left out of the feature)
/// when the cell has none of it.
fn cells_sql(crs: Crs) -> String {
    let per_status: String = SiteStatus::ALL
        .iter()
        .map(|s| format!(",\n nullif(count(*) filter (where s.status = '{0}'), 0)::int as {0}", s.as_str()))
        .collect();
    let sql = format!(
        "with tile as (
            select st_tileenvelope($1, $2, $3) as env, (now() at time zone 'Asia/Shanghai')::date as today),
         cell as (select env, (st_xmax(env) - st_xmin(env)) / {GRID} as side, today from tile)
         select coalesce((
            select st_asmvt(f, 'sites', {EXTENT}, 'geom')
            from (
                select st_asmvtgeom(st_setsrid(st_point(avg(st_x(a.p)), avg(st_y(a.p))), 3857),
                                    cell.env, {EXTENT}, 0, true) as geom,
                       count(*)::int as n,
                       count(*) filter (where s.status = any({{open_param}}))::int as open,
                       count(*) filter (where s.deadline < cell.today and s.status = any({{open_param}}))::int as overdue
                       {per_status}
                from site s
                cross join cell
                -- The anchor as drawn: in GCJ-02 the shifted one.
                cross join lateral (select {{anchor}} as p) a
                -- Half-open cells: a site on a tile's top or right edge belongs to the next tile.
                where s.anchor_3857 && {{cell_window}} and a.p && cell.env
                  and st_x(a.p) < st_xmax(cell.env) and st_y(a.p) < st_ymax(cell.env)
                  and {filter}
                group by floor((st_x(a.p) - st_xmin(cell.env)) / cell.side),
                         floor((st_y(a.p) - st_ymin(cell.env)) / cell.side), cell.env
            ) f), ''),
            pg_current_snapshot()::text, (select today from tile)",
        filter = filter_condition(4)
    );
    for_crs(&sql.replace("{open_param}", &format!("${}", 4 + FILTER_PARAMS)), crs)
}

/// Town boundaries: $1–$3 the tile, $4 the simplification tolerance (metres, 0 for none).
const TOWNS_SQL: &str = "
    with tile as (
        select st_tileenvelope($1, $2, $3) as env, (now() at time zone 'Asia/Shanghai')::date as today)
    select coalesce((
        select st_asmvt(f, 'towns', {extent}, 'geom')
        from (
            select st_asmvtgeom(st_simplify(st_transform({town_geom}, 3857), $4), tile.env, {extent}, {buffer}, true)
                       as geom,
                   t.id, t.name, t.admin_code
            from town t
            where t.boundary && {wgs84_window}
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// Roads: $1–$3 the tile, $4 the simplification tolerance, $5 whether roads without a route code are drawn.
const ROADS_SQL: &str = "
    with tile as (
        select st_tileenvelope($1, $2, $3) as env, (now() at time zone 'Asia/Shanghai')::date as today)
    select coalesce((
        select st_asmvt(f, 'roads', {extent}, 'geom')
        from (
            select st_asmvtgeom(st_simplify(st_transform({road_geom}, 3857), $4), tile.env, {extent}, {buffer}, true)
                       as geom,
                   r.id, r.name, r.route_code, left(r.route_code, 1) as class
            from road r
            where r.geom && {wgs84_window} and ($5 or r.route_code is not null)
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// Open candidates: $1–$3 the tile, $4 the least confidence of a detection shown (black spots always show),
/// $5 whether every town's are drawn, else $6 the town's. The feature id is the candidate's id.
const CANDIDATES_SQL: &str = "
    {tile}
    select coalesce((
        select st_asmvt(f, 'candidates', {extent}, 'geom', 'fid')
        from (
            select st_asmvtgeom({candidate_geom}, tile.env, {extent}, {buffer}, true) as geom,
                   c.id as fid, c.source, c.kind, c.score, c.rank, c.crash_count
            from candidate c
            where c.status = 'open' and c.geom && {candidate_window}
              and (c.detection_id is null or c.score >= $4)
              and ($5 or c.town_id = $6)
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// Public reports waiting for moderation (status `received`, with a point): $1–$3 the tile. The feature id is
/// the report's id; no description, contact or photo is in the tile (the queue's detail has them).
const PUBLIC_REPORTS_SQL: &str = "
    {tile}
    select coalesce((
        select st_asmvt(f, 'public_reports', {extent}, 'geom', 'fid')
        from (
            select st_asmvtgeom({report_geom}, tile.env, {extent}, {buffer}, true) as geom,
                   r.id as fid, r.channel, r.category, r.received_at::text as received_at,
                   (select count(*) from public_report_photo p where p.report_id = r.id)::int as photos
            from public_report r
            where r.status = 'received' and r.geom is not null and r.geom && {report_window}
        ) f), ''),
        pg_current_snapshot()::text, tile.today
    from tile";

/// The coordinate system a tile is drawn in. Stored geometries are WGS-84; GCJ-02 (the shifted system of
/// AMap and Tencent base maps) is computed per vertex by `gcj02_from_wgs84` (migration 0007) before the
/// geometry is simplified and cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    Wgs84,
    Gcj02,
}

impl Crs {
    pub const ALL: [Crs; 2] = [Crs::Wgs84, Crs::Gcj02];
}

/// How far a tile's window widens in GCJ-02, in Mercator metres: a geometry shifted into the tile may lie
/// outside it in WGS-84. The GCJ-02 offset is under 1 km on the ground everywhere; Mercator metres are ground
/// metres over cos(latitude), at most 1.7 times them at China's northern tip, so 2 km is ample.
const GCJ02_MARGIN_3857_M: f64 = 2000.0;
/// The same in degrees, for the towns' and roads' WGS-84 index test (0.02° is over 1.3 km anywhere).
const GCJ02_MARGIN_DEG: f64 = 0.02;

/// Fills in the geometry expressions and windows of `crs`.
fn for_crs(sql: &str, crs: Crs) -> String {
    let shifted = |geometry: &str| format!("gcj02_from_wgs84({geometry})");
    let (candidate_geom, candidate_window) = match crs {
        Crs::Wgs84 => ("st_transform(c.geom, 3857)".to_string(), "st_transform(tile.buffered, 4326)".to_string()),
        Crs::Gcj02 => (
            format!("st_transform({}, 3857)", shifted("c.geom")),
            format!("st_expand(st_transform(tile.buffered, 4326), {GCJ02_MARGIN_DEG})"),
        ),
    };
    let (site_geom, site_window, anchor, cell_window, town_geom, road_geom, wgs84_window) = match crs {
        Crs::Wgs84 => (
            "s.geom_3857".to_string(),
            "tile.buffered".to_string(),
            "s.anchor_3857".to_string(),
            "cell.env".to_string(),
            "t.boundary".to_string(),
            "r.geom".to_string(),
            "st_transform(tile.env, 4326)".to_string(),
        ),
        Crs::Gcj02 => (
            format!("st_transform({}, 3857)", shifted("s.geom")),
            format!("st_expand(tile.buffered, {GCJ02_MARGIN_3857_M})"),
            format!("st_transform({}, 3857)", shifted("st_transform(s.anchor_3857, 4326)")),
            format!("st_expand(cell.env, {GCJ02_MARGIN_3857_M})"),
            shifted("t.boundary"),
            shifted("r.geom"),
            format!("st_expand(st_transform(tile.env, 4326), {GCJ02_MARGIN_DEG})"),
        ),
    };
    sql.replace("{site_geom}", &site_geom)
        .replace("{site_window}", &site_window)
        .replace("{anchor}", &anchor)
        .replace("{cell_window}", &cell_window)
        .replace("{town_geom}", &town_geom)
        .replace("{road_geom}", &road_geom)
        .replace("{wgs84_window}", &wgs84_window)
        .replace("{candidate_geom}", &candidate_geom)
        .replace("{candidate_window}", &candidate_window)
        .replace("{report_geom}", &candidate_geom.replace("c.geom", "r.geom"))
        .replace("{report_window}", &candidate_window)
}

fn with_constants(sql: &str, crs: Crs) -> String {
    with_condition(sql, crs, &filter_condition(4))
}

fn with_condition(sql: &str, crs: Crs, condition: &str) -> String {
    let sql = sql
        .replace("{site_columns}", SITE_COLUMNS)
        .replace("{tile}", TILE)
        .replace("{extent}", &EXTENT.to_string())
        .replace("{buffer}", &BUFFER.to_string())
        .replace("{margin}", &format!("{}", f64::from(BUFFER) / f64::from(EXTENT)))
        .replace("{filter}", condition)
        .replace("{open_param}", &format!("${}", 4 + FILTER_PARAMS));
    for_crs(&sql, crs)
}

/// The site feature statement with no filter but the scope (the scope's parameters where
/// `filter_condition(4)` has them, the others bound and unused). Most tiles are asked for unfiltered, and
/// this one is kept prepared: with every optional filter null, a generic plan fits it.
fn unfiltered(crs: Crs) -> String {
    with_condition(SITES_SQL, crs, &scope_condition(4 + FILTER_PARAMS - 3))
}

/// Each statement in each coordinate system, indexed by [`Crs`] as in [`Crs::ALL`].
static SITES: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(|crs| with_constants(SITES_SQL, crs)));
static SITES_UNFILTERED: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(unfiltered));
static SITES_KEYED: LazyLock<String> = LazyLock::new(|| {
    let sql = SITES_KEYED_SQL.replace("{site_columns}", SITE_COLUMNS).replace("{open_param}", "$6");
    with_condition(&sql, Crs::Wgs84, "")
});
static CELLS: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(cells_sql));
static TOWNS: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(|crs| with_constants(TOWNS_SQL, crs)));
static ROADS: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(|crs| with_constants(ROADS_SQL, crs)));
static CANDIDATES: LazyLock<[String; 2]> = LazyLock::new(|| Crs::ALL.map(|crs| with_constants(CANDIDATES_SQL, crs)));
static PUBLIC_REPORTS: LazyLock<[String; 2]> =
    LazyLock::new(|| Crs::ALL.map(|crs| with_constants(PUBLIC_REPORTS_SQL, crs)));

/// The SQL of each layer, zoom band and coordinate system, for tests that run every variant.
pub fn statements() -> Vec<&'static str> {
    [&*SITES, &*SITES_UNFILTERED, &*CELLS, &*TOWNS, &*ROADS, &*CANDIDATES, &*PUBLIC_REPORTS]
        .into_iter()
        .flat_map(|each| each.iter().map(String::as_str))
        .chain([SITES_KEYED.as_str()])
        .collect()
}

/// The statement that draws every site of a tile from the tile-key index (its parameters: the tile, then
/// [`key_ranges`], then the open statuses), for the benchmark and the test of its plan.
pub fn keyed_statement() -> &'static str {
    SITES_KEYED.as_str()
}

/// The level of the tile key (migration 0021): a Z-order curve over the level-24 cells of Web Mercator.
const KEY_LEVEL: u8 = 24;
/// The cells around a tile are this many levels finer (16 a side): a ring a sixteenth of the tile wide,
/// wider than its buffer (a 64th), that reads a quarter more of the curve than the tile itself.
const RING_LEVELS: u8 = 4;

/// The low 24 bits of `v` on the even bits (bit i to bit 2i), as `tile_key_spread` in SQL.
fn spread(v: u32) -> u64 {
    let mut v = u64::from(v & 0xFF_FFFF);
    v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    v = (v | (v << 2)) & 0x3333_3333_3333_3333;
    (v | (v << 1)) & 0x5555_5555_5555_5555
}

/// The first key of a cell (column, row from the top) at `level`, and how many keys it spans.
fn cell_range(level: u8, column: u32, row: u32) -> (u64, u64) {
    let shift = 2 * u32::from(KEY_LEVEL - level);
    ((spread(column) | (spread(row) << 1)) << shift, 1u64 << shift)
}

/// The tile-key ranges (lows, highs; inclusive) that hold every point site of `tile` with its buffer: the
/// tile's own range and those of a ring of finer cells around it, sorted and merged where they touch.
pub fn key_ranges(tile: TileId) -> (Vec<i64>, Vec<i64>) {
    let level = (tile.z + RING_LEVELS).min(KEY_LEVEL);
    let n = 1i64 << (level - tile.z.min(level));
    let side = 1i64 << level;
    let (x0, y0) = (i64::from(tile.x) * n, i64::from(tile.y) * n);
    let mut ranges = vec![cell_range(tile.z.min(KEY_LEVEL), tile.x, tile.y)];
    for row in y0 - 1..=y0 + n {
        for column in x0 - 1..=x0 + n {
            let on_ring = column == x0 - 1 || column == x0 + n || row == y0 - 1 || row == y0 + n;
            if on_ring && (0..side).contains(&column) && (0..side).contains(&row) {
                ranges.push(cell_range(level, column as u32, row as u32));
            }
        }
    }
    ranges.sort_unstable();
    let (mut lows, mut highs): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for (low, len) in ranges {
        let (low, high) = (low as i64, (low + len - 1) as i64);
        match highs.last_mut() {
            Some(last) if *last + 1 >= low => *last = (*last).max(high),
            _ => {
                lows.push(low);
                highs.push(high);
            }
        }
    }
    (lows, highs)
}

/// Half a pixel of a 4096-unit tile at zoom `z`, in Mercator metres: detail finer than that cannot show.
fn pixel_tolerance(z: u8) -> f64 {
    const WORLD: f64 = 2.0 * 20_037_508.342_789_244;
    if z >= FEATURE_ZOOM { 0.0 } else { WORLD / f64::from(1u32 << z) / f64::from(EXTENT) / 2.0 }
}

/// Who sees which candidates on the map: detections from this confidence on, and every town's (`None`) or
/// one town's.
#[derive(Debug, Clone, Copy, Default)]
pub struct CandidateView {
    pub detection_min_confidence: f64,
    pub town_scope: Option<Option<i32>>,
}

/// Draws one tile of `layer`: its sites as `sites` selects them (criteria and scope; its bbox, page and
/// cursor are not used: the tile is the bbox). Towns and roads are the same for everyone and every filter.
/// Candidates: every open one (`draw_with` draws them as one user sees them).
pub async fn draw(
    reads: impl Into<ReadPool>,
    layer: Layer,
    tile: TileId,
    sites: &SiteFilter,
    crs: Crs,
) -> sqlx::Result<Drawn> {
    draw_with(reads, layer, tile, sites, CandidateView::default(), crs).await
}

/// `draw`, with the candidates as `candidates` says.
pub async fn draw_with(
    reads: impl Into<ReadPool>,
    layer: Layer,
    tile: TileId,
    sites: &SiteFilter,
    candidates: CandidateView,
    crs: Crs,
) -> sqlx::Result<Drawn> {
    let reads: ReadPool = reads.into();
    let (z, x, y) = (i32::from(tile.z), tile.x as i32, tile.y as i32);
    let c = crs as usize;
    let row: (Vec<u8>, String, NaiveDate) = match layer {
        Layer::Sites => {
            if let Some(counted) = counted(tile, sites, crs) {
                return super::site_cells::draw(reads, tile, counted).await;
            }
            let unfiltered = sites.criteria.is_empty();
            if tile.z >= FEATURE_ZOOM && unfiltered && sites.scope.all && crs == Crs::Wgs84 {
                let (lows, highs) = key_ranges(tile);
                let row: (Vec<u8>, String, NaiveDate) = sqlx::query_as(SITES_KEYED.as_str())
                    .bind(z)
                    .bind(x)
                    .bind(y)
                    .bind(lows)
                    .bind(highs)
                    .bind(SiteStatus::open_codes())
                    .fetch_one(reads.pool())
                    .await?;
                return Ok(Drawn { mvt: row.0, snapshot: row.1, today: row.2 });
            }
            let sql = match (tile.z >= FEATURE_ZOOM, unfiltered) {
                (true, true) => SITES_UNFILTERED[c].as_str(),
                (true, false) => SITES[c].as_str(),
                (false, _) => CELLS[c].as_str(),
            };
            let filter = SiteFilter { bbox: None, ..sites.clone() };
            bind_filter(sqlx::query_as(sql).bind(z).bind(x).bind(y), &filter)
                .bind(SiteStatus::open_codes())
                .persistent(unfiltered && tile.z >= FEATURE_ZOOM)
                .fetch_one(reads.pool())
                .await?
        }
        Layer::Towns => {
            sqlx::query_as(TOWNS[c].as_str())
                .bind(z)
                .bind(x)
                .bind(y)
                .bind(pixel_tolerance(tile.z))
                .fetch_one(reads.pool())
                .await?
        }
        Layer::Roads => {
            sqlx::query_as(ROADS[c].as_str())
                .bind(z)
                .bind(x)
                .bind(y)
                .bind(pixel_tolerance(tile.z))
                .bind(tile.z >= MINOR_ROADS_ZOOM)
                .fetch_one(reads.pool())
                .await?
        }
        Layer::Candidates => {
            let (all, town) = match candidates.town_scope {
                None => (true, None),
                Some(town) => (false, town),
            };
            sqlx::query_as(CANDIDATES[c].as_str())
                .bind(z)
                .bind(x)
                .bind(y)
                .bind(candidates.detection_min_confidence)
                .bind(all)
                .bind(town)
                .fetch_one(reads.pool())
                .await?
        }
        Layer::PublicReports => {
            sqlx::query_as(PUBLIC_REPORTS[c].as_str()).bind(z).bind(x).bind(y).fetch_one(reads.pool()).await?
        }
    };
    Ok(Drawn { mvt: row.0, snapshot: row.1, today: row.2 })
}

/// Whether the low-zoom site tile is drawn from the grid counts (`db::site_cells`): unfiltered, in WGS-84,
/// for every site or one town's. Those tiles cost a few milliseconds whatever the number of sites.
fn counted(tile: TileId, sites: &SiteFilter, crs: Crs) -> Option<super::site_cells::Counted> {
    let unfiltered = sites.criteria.is_empty();
    if tile.z >= FEATURE_ZOOM || crs != Crs::Wgs84 || !unfiltered {
        return None;
    }
    super::site_cells::counted(tile, &sites.scope)
}

/// Whether drawing this tile reads every site under it (a low-zoom site tile not drawn from the counts):
/// the server draws few of those at once, so cheap tiles never wait behind them.
pub fn is_heavy(layer: Layer, tile: TileId, sites: &SiteFilter, crs: Crs) -> bool {
    layer == Layer::Sites && tile.z < FEATURE_ZOOM && counted(tile, sites, crs).is_none()
}

/// Whether a change that `drawn`'s snapshot did not see has committed inside `tile` (with its buffer), or
/// the county's date has turned since: then the tile must be drawn again.
pub async fn changed_since(pool: &PgPool, layer: Layer, tile: TileId, drawn: &Drawn) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select (now() at time zone 'Asia/Shanghai')::date <> $6 or exists (
               select 1 from map_change m
               where m.layer = any($1)
                 and m.xid >= pg_snapshot_xmin($2::text::pg_snapshot)
                 and not pg_visible_in_snapshot(m.xid, $2::text::pg_snapshot)
                 and (m.extent is null or m.extent && st_tileenvelope($3, $4, $5, margin => $7))) as "changed!""#,
        layer.depends_on() as &[&str],
        drawn.snapshot,
        i32::from(tile.z),
        tile.x as i32,
        tile.y as i32,
        drawn.today,
        f64::from(BUFFER) / f64::from(EXTENT),
    )
    .fetch_one(pool)
    .await
}

/// Deletes change-log rows written more than `age` ago by transactions that have ended. Tiles are cached for
/// less than that (http::tiles), so no cached tile still needs them.
pub async fn prune_changes(pool: &PgPool, age: std::time::Duration) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "delete from map_change
         where written_at < now() - $1::float8 * interval '1 second'
           and pg_xact_status(xid) is distinct from 'in progress'",
        age.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
