//! The neighbourhood an upload can change: the cells of a fixed grid that an observation's 30 m buffer touches,
//! and the advisory lock keys that stand for them (and for the observation's id), so that uploads at different
//! places never wait for each other while two uploads that could match one site always do.
//!
//! Why cells and not one lock per kind: matching reads `site` and then may insert into it, and no row lock can
//! guard a row that does not exist yet, so two uploads that could open one site must share a lock. They can
//! only open one site if they lie within [`REPEAT_VISIT_RADIUS_M`] of each other. Each upload locks every cell
//! its geometry's buffer touches; the other's geometry lies inside that buffer, and lies in cells the other
//! upload locks too (its own cells are inside its own buffer), so the two share at least one cell and run one
//! after the other. Locking only the cell of the point would miss two points 20 m apart on either side of an
//! edge. Uploads farther apart than the buffer usually share no cell and run in parallel.
//!
//! The grid (WGS-84, no projection): rows of [`Level::side_m`] in latitude; each row cut into columns of the
//! same side in metres at the row's poleward edge (a lon/lat grid scaled by cos(lat) per row), so no cell is
//! narrower than its side anywhere in it. A fine cell is 100 m (≥ 2 × 30 m: a point's buffer touches at
//! most 2 × 2 cells). A section touching more than [`FINE_CELLS_MAX`] fine cells locks the cells of the
//! coarse grid (3.2 km) instead, so a long section takes a bounded number of locks.
//!
//! Two grids need one more rule: a section on the coarse grid and a point on the fine grid share no key. So
//! every upload also takes the coarse cells its buffer touches, in shared mode when it works on the fine grid
//! (intention locks): fine-grid uploads never block each other on a coarse cell, and a coarse-grid upload
//! (exclusive) waits for, and holds off, every fine-grid upload in its coarse cells.
//!
//! The buffer is taken generously (33 m, and longer edges more, see [`BUFFER_M`]): a lock on a cell too many
//! costs a little parallelism, a cell too few would break "two phones cannot open two sites for one place".
//! The grid is meant for the latitudes of a county in China, not for the poles or the antimeridian.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::observation::{SiteGeometry, Wgs84Point};
use super::site::{REPEAT_VISIT_RADIUS_M, SiteKind};

/// A fine-grid section touching more cells than this locks the coarse grid's cells instead.
pub const FINE_CELLS_MAX: usize = 32;

/// The buffer whose cells are locked, metres: the matching radius with 10 % to spare for the flat-earth
/// degree lengths below (PostGIS measures on the spheroid).
pub const BUFFER_M: f64 = REPEAT_VISIT_RADIUS_M * 1.1;

/// Metres per degree of latitude, the smallest anywhere on WGS-84 (at the equator): degrees computed from it
/// are never too few.
const M_PER_DEG_LAT_MIN: f64 = 110_574.0;
/// Metres per degree of longitude on the equator; times cos(lat) elsewhere (the spheroid's parallel is a
/// little longer away from the equator, so this errs on the side of more degrees for the buffer).
const M_PER_DEG_LON_EQUATOR: f64 = 111_320.0;
/// Earth's polar radius, metres: the smallest, for the bound on how far a long edge bows (below).
const EARTH_RADIUS_MIN_M: f64 = 6_356_752.0;

/// The two grids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 100 m cells.
    Fine,
    /// 3.2 km cells (32 × 32 fine ones), for long sections.
    Coarse,
}

impl Level {
    pub fn side_m(self) -> f64 {
        match self {
            Level::Fine => 100.0,
            Level::Coarse => 3_200.0,
        }
    }

    fn code(self) -> u8 {
        match self {
            Level::Fine => 0,
            Level::Coarse => 1,
        }
    }

    fn row_height_deg(self) -> f64 {
        self.side_m() / M_PER_DEG_LAT_MIN
    }

    /// A row's column width in degrees: the side at the row's poleward edge, where degrees of longitude are
    /// shortest.
    fn col_width_deg(self, row: i64) -> f64 {
        let h = self.row_height_deg();
        let poleward = (row as f64 * h).abs().max(((row + 1) as f64 * h).abs()).min(89.0);
        self.side_m() / (M_PER_DEG_LON_EQUATOR * poleward.to_radians().cos())
    }
}

/// One cell of one grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub level: Level,
    pub row: i64,
    pub col: i64,
}

impl Cell {
    /// The cell a point lies in.
    pub fn of(level: Level, p: Wgs84Point) -> Cell {
        let row = (p.lat / level.row_height_deg()).floor() as i64;
        let col = (p.lon / level.col_width_deg(row)).floor() as i64;
        Cell { level, row, col }
    }

    /// West, south, east, north edges, degrees.
    pub fn bounds(self) -> [f64; 4] {
        let (h, w) = (self.level.row_height_deg(), self.level.col_width_deg(self.row));
        [self.col as f64 * w, self.row as f64 * h, (self.col + 1) as f64 * w, (self.row + 1) as f64 * h]
    }
}

/// How an advisory lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Exclusive,
    Shared,
}

/// One transaction-level advisory lock (`pg_advisory_xact_lock(bigint)` or its `_shared` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvisoryLock {
    pub key: i64,
    pub mode: LockMode,
}

/// The locks an upload takes, in the order it must take them: ascending keys. Every upload takes its locks in
/// one global order, so no two can each hold a lock the other waits for (no deadlock, whatever the modes).
/// `geometry` is the observed place when the upload matches by place, none when it names its site (that site's
/// row lock guards the join; nothing can be opened). The observation's own id is always locked: the replay
/// check ("same id stored?") must be exact even for two retries whose places differ (a conflicting retry), or
/// both could pass the check and the second insert would fail on the primary key instead of answering 409.
pub fn upload_locks(id: Uuid, kind: SiteKind, geometry: Option<&SiteGeometry>) -> Vec<AdvisoryLock> {
    let mut locks = vec![AdvisoryLock { key: observation_key(id), mode: LockMode::Exclusive }];
    if let Some(geometry) = geometry {
        let fine = buffer_cells(geometry, Level::Fine);
        let coarse = buffer_cells(geometry, Level::Coarse);
        let (exclusive, shared) =
            if fine.len() <= FINE_CELLS_MAX { (fine, coarse) } else { (coarse, Default::default()) };
        let key = |cell: &Cell| cell_key(kind, *cell);
        locks.extend(exclusive.iter().map(|c| AdvisoryLock { key: key(c), mode: LockMode::Exclusive }));
        locks.extend(shared.iter().map(|c| AdvisoryLock { key: key(c), mode: LockMode::Shared }));
    }
    // Sorted, and one lock per key: the exclusive one if a key came twice (taking a key shared and then
    // exclusive in one transaction would be an upgrade, which two transactions can deadlock on).
    locks.sort_by_key(|l| (l.key, l.mode != LockMode::Exclusive));
    locks.dedup_by_key(|l| l.key);
    locks
}

/// The cells of one grid that the geometry's buffer ([`BUFFER_M`]) touches, or a few more: for each piece of
/// the geometry (a point, or a stretch of a line no longer than a cell), the cells its bounding box widened by
/// the buffer touches.
pub fn buffer_cells(geometry: &SiteGeometry, level: Level) -> std::collections::BTreeSet<Cell> {
    let mut cells = std::collections::BTreeSet::new();
    match geometry {
        SiteGeometry::Point(p) => add_box_cells(&mut cells, level, *p, *p, BUFFER_M),
        SiteGeometry::Line(points) => {
            if let [only] = points.as_slice() {
                add_box_cells(&mut cells, level, *only, *only, BUFFER_M);
            }
            for edge in points.windows(2) {
                let (a, b) = (edge[0], edge[1]);
                let length_m = approx_distance_m(a, b);
                // PostGIS draws a geography's edge as a great-circle arc, which bows poleward of the straight
                // line in degrees that the pieces follow, by at most L²·tan(lat)/(8R): widen the buffer by it.
                let lat = a.lat.abs().max(b.lat.abs()).min(89.0).to_radians();
                let bow_m = length_m * length_m * lat.tan() / (8.0 * EARTH_RADIUS_MIN_M);
                let pieces = (length_m / level.side_m()).ceil().max(1.0) as usize;
                for i in 0..pieces {
                    let at = |t: f64| Wgs84Point { lon: a.lon + (b.lon - a.lon) * t, lat: a.lat + (b.lat - a.lat) * t };
                    let (from, to) = (at(i as f64 / pieces as f64), at((i + 1) as f64 / pieces as f64));
                    add_box_cells(&mut cells, level, from, to, BUFFER_M + bow_m);
                }
            }
        }
    }
    cells
}

/// Adds the cells touched by the bounding box of `a` and `b` widened by `buffer_m` on every side.
fn add_box_cells(
    cells: &mut std::collections::BTreeSet<Cell>,
    level: Level,
    a: Wgs84Point,
    b: Wgs84Point,
    buffer_m: f64,
) {
    let dlat = buffer_m / M_PER_DEG_LAT_MIN;
    let (south, north) = (a.lat.min(b.lat) - dlat, a.lat.max(b.lat) + dlat);
    let poleward = south.abs().max(north.abs()).min(89.0);
    let dlon = buffer_m / (M_PER_DEG_LON_EQUATOR * poleward.to_radians().cos());
    let (west, east) = (a.lon.min(b.lon) - dlon, a.lon.max(b.lon) + dlon);
    let h = level.row_height_deg();
    for row in (south / h).floor() as i64..=(north / h).floor() as i64 {
        let w = level.col_width_deg(row);
        for col in (west / w).floor() as i64..=(east / w).floor() as i64 {
            cells.insert(Cell { level, row, col });
        }
    }
}

/// Metres between two points, flat-earth (equirectangular) at their mean latitude: close enough to cut a line
/// into pieces and bound its bow; the buffer's own margin covers the rest.
fn approx_distance_m(a: Wgs84Point, b: Wgs84Point) -> f64 {
    let lat = ((a.lat + b.lat) / 2.0).to_radians();
    let dx = (b.lon - a.lon) * M_PER_DEG_LON_EQUATOR * lat.cos();
    let dy = (b.lat - a.lat) * M_PER_DEG_LAT_MIN;
    dx.hypot(dy)
}

/// The advisory key of a cell for a site kind: sites of another kind are never matched, so never wait. A
/// 64-bit slice of SHA-256, the same on every server; two cells sharing a key only wait for each other.
pub fn cell_key(kind: SiteKind, cell: Cell) -> i64 {
    let mut hash = Sha256::new();
    hash.update(b"roadledger.site_match\0");
    hash.update(kind.as_str().as_bytes());
    hash.update([0, cell.level.code()]);
    hash.update(cell.row.to_be_bytes());
    hash.update(cell.col.to_be_bytes());
    key_of(hash)
}

/// The advisory key of one observation id (the replay check's lock).
pub fn observation_key(id: Uuid) -> i64 {
    let mut hash = Sha256::new();
    hash.update(b"roadledger.observation\0");
    hash.update(id.as_bytes());
    key_of(hash)
}

fn key_of(hash: Sha256) -> i64 {
    let digest = hash.finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> Wgs84Point {
        Wgs84Point { lon, lat }
    }

    /// A point `east_m`, `north_m` metres from `from` (flat earth, with the spheroid's longer degrees of
    /// longitude away from the equator: `111 412.84 cos φ − 93.5 cos 3φ`, so these offsets are true metres
    /// to well under 1 %).
    fn offset(from: Wgs84Point, east_m: f64, north_m: f64) -> Wgs84Point {
        let phi = from.lat.to_radians();
        let m_per_deg_lon = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
        let m_per_deg_lat = 111_132.92 - 559.82 * (2.0 * phi).cos();
        p(from.lon + east_m / m_per_deg_lon, from.lat + north_m / m_per_deg_lat)
    }

    fn exclusive(locks: &[AdvisoryLock]) -> Vec<i64> {
        locks.iter().filter(|l| l.mode == LockMode::Exclusive).map(|l| l.key).collect()
    }

    const ZHANGJIAGANG: Wgs84Point = Wgs84Point { lon: 120.5531, lat: 31.8754 };

    #[test]
    fn cells_are_at_least_their_side_wide_and_tall() {
        for lat in [0.0, 18.2, 31.8754, 53.5, -40.0] {
            let cell = Cell::of(Level::Fine, p(120.0, lat));
            let [w, s, e, n] = cell.bounds();
            let height_m = (n - s) * M_PER_DEG_LAT_MIN;
            let width_m = (e - w) * M_PER_DEG_LON_EQUATOR * s.abs().max(n.abs()).to_radians().cos();
            assert!((99.999..101.0).contains(&height_m), "{lat}: {height_m}");
            assert!((99.999..101.0).contains(&width_m), "{lat}: {width_m}");
            assert_eq!(Cell::of(Level::Fine, p((w + e) / 2.0, (s + n) / 2.0)), cell);
        }
    }

    #[test]
    fn a_point_mid_cell_locks_its_id_its_cell_and_its_coarse_cell_shared() {
        let [w, s, e, n] = Cell::of(Level::Fine, ZHANGJIAGANG).bounds();
        let middle = p((w + e) / 2.0, (s + n) / 2.0);
        let id = Uuid::from_u128(7);
        let locks = upload_locks(id, SiteKind::Spot, Some(&SiteGeometry::Point(middle)));
        let coarse = cell_key(SiteKind::Spot, Cell::of(Level::Coarse, middle));
        let fine = cell_key(SiteKind::Spot, Cell::of(Level::Fine, middle));
        let mut expected = vec![
            AdvisoryLock { key: observation_key(id), mode: LockMode::Exclusive },
            AdvisoryLock { key: fine, mode: LockMode::Exclusive },
            AdvisoryLock { key: coarse, mode: LockMode::Shared },
        ];
        expected.sort_by_key(|l| l.key);
        assert_eq!(locks, expected);
    }

    #[test]
    fn a_named_site_locks_the_id_alone() {
        let id = Uuid::from_u128(9);
        assert_eq!(
            upload_locks(id, SiteKind::Spot, None),
            [AdvisoryLock { key: observation_key(id), mode: LockMode::Exclusive }]
        );
    }

    #[test]
    fn two_points_within_30_m_always_share_a_locked_cell_even_across_an_edge() {
        // Points around a corner of four cells and along edges, paired with points up to 30 m away in every
        // direction: each pair shares an exclusive key.
        let [w, s, _, _] = Cell::of(Level::Fine, ZHANGJIAGANG).bounds();
        let corner = p(w, s);
        let id = Uuid::nil();
        for (dx, dy) in [(0.0, 0.0), (-3.0, 2.0), (14.0, -9.0), (29.0, 1.0), (-1.0, -29.5)] {
            let a = offset(corner, dx, dy);
            let locks_a = exclusive(&upload_locks(id, SiteKind::Spot, Some(&SiteGeometry::Point(a))));
            for step in 0..72 {
                let angle = (step as f64 * 5.0).to_radians();
                let b = offset(a, 30.0 * angle.cos(), 30.0 * angle.sin());
                let locks_b = exclusive(&upload_locks(Uuid::max(), SiteKind::Spot, Some(&SiteGeometry::Point(b))));
                assert!(locks_a.iter().any(|k| locks_b.contains(k)), "{a:?} and {b:?} share no cell");
            }
        }
    }

    #[test]
    fn points_farther_apart_than_a_cell_and_the_buffer_share_no_cell() {
        let a = ZHANGJIAGANG;
        let b = offset(a, 0.0, 300.0);
        let cells = |q| buffer_cells(&SiteGeometry::Point(q), Level::Fine);
        assert!(cells(a).is_disjoint(&cells(b)));
        assert!(cells(a).len() <= 4);
    }

    #[test]
    fn kinds_never_share_a_key() {
        let cell = Cell::of(Level::Fine, ZHANGJIAGANG);
        assert_ne!(cell_key(SiteKind::Spot, cell), cell_key(SiteKind::Intersection, cell));
        assert_ne!(cell_key(SiteKind::Spot, cell), cell_key(SiteKind::Spot, Cell { level: Level::Coarse, ..cell }));
    }

    #[test]
    fn a_section_locks_the_cells_along_it_and_a_long_one_the_coarse_grid() {
        let start = ZHANGJIAGANG;
        let section = |length_m: f64| SiteGeometry::Line(vec![start, offset(start, length_m * 0.6, length_m * 0.8)]);
        let short = upload_locks(Uuid::nil(), SiteKind::Section, Some(&section(400.0)));
        let fine = buffer_cells(&section(400.0), Level::Fine);
        // A diagonal 400 m: a strip of cells, not its whole bounding box (4 × 5 cells or more).
        assert!(fine.len() >= 5 && fine.len() < 20, "{}", fine.len());
        assert_eq!(exclusive(&short).len(), fine.len() + 1);

        let long = upload_locks(Uuid::nil(), SiteKind::Section, Some(&section(5_000.0)));
        let coarse = buffer_cells(&section(5_000.0), Level::Coarse);
        assert!(buffer_cells(&section(5_000.0), Level::Fine).len() > FINE_CELLS_MAX);
        assert_eq!(long.len(), coarse.len() + 1);
        assert!(long.iter().all(|l| l.mode == LockMode::Exclusive));

        // A point on the long section waits for it: the point takes the coarse cell shared.
        let on_it = offset(start, 1_500.0, 2_000.0);
        let point = upload_locks(Uuid::max(), SiteKind::Section, Some(&SiteGeometry::Point(on_it)));
        assert!(point.iter().any(|l| l.mode == LockMode::Shared && long.iter().any(|m| m.key == l.key)));
    }

    #[test]
    fn locks_come_sorted_and_once_per_key() {
        let line = SiteGeometry::Line(vec![ZHANGJIAGANG, offset(ZHANGJIAGANG, 700.0, -250.0)]);
        let locks = upload_locks(Uuid::from_u128(3), SiteKind::Section, Some(&line));
        assert!(locks.windows(2).all(|w| w[0].key < w[1].key));
    }
}
