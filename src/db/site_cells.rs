//! Low-zoom site tiles from the grid counts that migration 0008 keeps (`site_cell`), instead of from the
//! sites themselves: a z10 tile over a million-site county sums a few thousand count rows where
//! [`super::tiles`]' own statement reads every site under it.
//!
//! The counts answer the questions the map asks most: every site (leaders, dispatchers, reviewers) or one
//! town's (town officers), unfiltered, in WGS-84. Anything else — a unit's sites, a filter, GCJ-02 — is drawn
//! from the sites by `tiles::draw`. A test draws every case both ways and compares the features.

use super::ReadPool;
use chrono::NaiveDate;
use sqlx::PgPool;
use std::sync::LazyLock;

use super::tiles::{Drawn, GRID, TileId};
use crate::domain::auth::SiteScope;
use crate::domain::site::SiteStatus;

/// Cell levels kept by migration 0008: a tile of zoom z has the cells of level z + 5 (`GRID` = 32 = 2⁵).
const LEVEL_OFFSET: u8 = 5;
/// The deepest tile zoom the counts serve (cell level 17).
pub const MAX_TILE_ZOOM: u8 = 12;

/// One tile from the counts: $1–$3 the tile, $4 the town (null for all). Returns the MVT, the snapshot, the
/// county's today and the day the overdue counts are as of.
static CELLS_SQL: LazyLock<String> = LazyLock::new(|| {
    let per_status: String = SiteStatus::ALL
        .iter()
        .map(|s| format!(",\n nullif(sum(c.n) filter (where c.status = '{0}'), 0)::int as {0}", s.as_str()))
        .collect();
    format!(
        "with tile as (
             select st_tileenvelope($1, $2, $3) as env, (now() at time zone 'Asia/Shanghai')::date as today),
         cells as (
             select sum(c.n) as n, sum(c.sum_x) as sx, sum(c.sum_y) as sy,
                    sum(c.n) filter (where site_status_open(c.status))::int as open,
                    sum(c.overdue)::int as overdue
                    {per_status}
             from site_cell c
             -- The tile's cells, numbered from the bottom left like the cells (tile rows count from the top).
             where c.level = $1 + {LEVEL_OFFSET}
               and c.x between $2 * {GRID} and $2 * {GRID} + {last}
               and c.y between ((1 << $1) - 1 - $3) * {GRID} and ((1 << $1) - 1 - $3) * {GRID} + {last}
               and ($4::int is null or c.town_id = $4)
             group by c.x, c.y
             having sum(c.n) > 0)
         select coalesce((
             select st_asmvt(f, 'sites', 4096, 'geom')
             from (
                 select st_asmvtgeom(st_setsrid(st_point(cells.sx / cells.n, cells.sy / cells.n), 3857),
                                     tile.env, 4096, 0, true) as geom,
                        cells.n::int as n, cells.open, cells.overdue {columns}
                 from cells
             ) f), ''),
             pg_current_snapshot()::text, tile.today, (select as_of from site_cell_day)
         from tile",
        last = GRID - 1,
        columns = SiteStatus::ALL.iter().map(|s| format!(", cells.{}", s.as_str())).collect::<String>(),
    )
});

/// The statement, for the test that runs every tile statement.
pub fn statement() -> &'static str {
    CELLS_SQL.as_str()
}

/// Which sites the counts can draw a tile of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Every,
    Town(i32),
}

/// What the counts would draw for `scope` at this zoom: every site, or one town's; None when the tile must be
/// drawn from the sites (a deeper zoom, or a unit's sites, which no count follows).
pub fn counted(tile: TileId, scope: &SiteScope) -> Option<Counted> {
    if tile.z > MAX_TILE_ZOOM {
        return None;
    }
    match (scope.all, scope.town_id, scope.unit_id) {
        (true, _, _) => Some(Counted::Every),
        (false, Some(town), None) => Some(Counted::Town(town)),
        _ => None,
    }
}

/// Draws a low-zoom site tile from the counts. On the first draw of a new county day, moves the overdue
/// counts to it first: on the primary, which then draws the tile too (a replica may not have replayed the
/// move yet).
pub async fn draw(reads: impl Into<ReadPool>, tile: TileId, sites: Counted) -> sqlx::Result<Drawn> {
    let reads: ReadPool = reads.into();
    debug_assert!(tile.z <= MAX_TILE_ZOOM);
    let town = match sites {
        Counted::Every => None,
        Counted::Town(town) => Some(town),
    };
    let mut from = reads.pool();
    for _ in 0..2 {
        let (mvt, snapshot, today, as_of): (Vec<u8>, String, NaiveDate, NaiveDate) = sqlx::query_as(CELLS_SQL.as_str())
            .bind(i32::from(tile.z))
            .bind(tile.x as i32)
            .bind(tile.y as i32)
            .bind(town)
            .fetch_one(from)
            .await?;
        if as_of >= today {
            return Ok(Drawn { mvt, snapshot, today });
        }
        from = reads.primary_pool();
        roll(from, today).await?;
    }
    Err(sqlx::Error::Protocol("the site cell counts did not move to the county's day".into()))
}

/// Moves the overdue counts to `today` (migration 0008, `site_cell_roll`).
pub async fn roll(pool: &PgPool, today: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!("select site_cell_roll($1)", today).execute(pool).await?;
    Ok(())
}

/// Folds the count rows written since the last compaction (`site_cell_compact`); returns how many.
pub async fn compact(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select site_cell_compact() as "folded!""#).fetch_one(pool).await
}
