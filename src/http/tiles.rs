//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: the map's vector tiles (`db::tiles`), cached in memory and never
//! served stale.
//!
//! A cached tile is kept with the database snapshot it was drawn from. Before it is served again,
//! `db::tiles::changed_since` asks the change log whether a change that snapshot did not see has committed
//! inside the tile (one indexed query, well under a millisecond): if so the tile is drawn again. So the cache
//! saves the drawing, never the check, and any change — a status move, a new observation, a merge, an import —
//! shows in the very next request for the tiles it touches, on every app server.
//!
//! Site tiles depend on who asks (a town officer sees only their town's sites) and on the site filter of the
//! query (`town`, `status`, `hazard_type`, …, as on `GET /api/v1/sites`): the cache key holds the scope and the
//! filter's canonical query, so a tile drawn for one scope or filter is never served to another, and one
//! filter written two ways shares its tiles. `crs=gcj02` draws every layer in the shifted coordinates of
//! Chinese base maps; the coordinate system is part of the key too. Bodies are kept gzipped (fast level, drawn once)
//! and sent gzipped to clients that accept it; the `ETag` is the tile's content hash, so a browser's
//! revalidation is a `304` whenever the tile it holds is still right.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::sites::{QueryPairs, site_filter};
use super::{AppState, Error, Result};
use crate::db::sites::SiteFilter;
use crate::db::tiles::{self, CandidateView, Crs, Drawn, Layer, TileId};
use crate::domain::auth::{Actor, Permission};
use crate::domain::site_filter::MapFilter;

/// A cached tile is checked against the change log on every use and dropped after this long in any case
/// (the log keeps its rows for [`CHANGES_KEPT`], far longer).
const CACHE_AGE_MAX: Duration = Duration::from_secs(10 * 60);
/// Change-log rows older than this are pruned (at most once per [`PRUNE_EVERY`]).
const CHANGES_KEPT: Duration = Duration::from_secs(24 * 60 * 60);
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);
/// Memory the cache may hold (gzipped and plain bodies together).
pub const CACHE_BYTES_MAX: usize = 256 * 1024 * 1024;

pub const CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Tiles drawn recently, per layer, tile, scope, site filter and coordinate system.
pub struct TileCache {
    inner: Mutex<Entries>,
    bytes_max: usize,
    started: Instant,
    /// Seconds since `started` of the last prune of the change log.
    last_prune_s: AtomicU64,
    /// Drawings of heavy tiles (low-zoom site tiles drawn from the sites, `tiles::is_heavy`) at once: one
    /// core fewer than the machine has, so cheap tiles and the rest of the API keep a core however many
    /// low-zoom tiles are asked for.
    heavy: tokio::sync::Semaphore,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Arc<Entry>>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<Key>,
    bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    layer: Layer,
    tile: TileId,
    /// `None` for the layers everyone sees alike (towns, roads).
    scope: Option<(bool, Option<i32>, Option<i32>)>,
    /// The site filter as its canonical query (`MapFilter::to_query`): one entry per filter however it was
    /// written, never one for two filters. Empty for towns and roads, which no site filter changes.
    filter: String,
    crs: Crs,
}

struct Entry {
    drawn: Drawn,
    plain: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
    at: Instant,
}

impl Entry {
    fn size(&self) -> usize {
        self.plain.len() + self.gzip.len() + self.drawn.snapshot.len() + 128
    }
}

impl TileCache {
    pub fn new(bytes_max: usize) -> TileCache {
        TileCache {
            inner: Mutex::new(Entries::default()),
            bytes_max,
            started: Instant::now(),
            last_prune_s: AtomicU64::new(0),
            heavy: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            ),
        }
    }

    fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).filter(|e| e.at.elapsed() < CACHE_AGE_MAX).cloned()
    }

    fn put(&self, key: Key, entry: Arc<Entry>) {
        let size = entry.size();
        if size > self.bytes_max / 8 {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = entries.map.insert(key.clone(), entry) {
            entries.bytes -= old.size();
            entries.order.retain(|k| k != &key);
        }
        entries.bytes += size;
        entries.order.push_back(key);
        while entries.bytes > self.bytes_max {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some(gone) = entries.map.remove(&oldest) {
                entries.bytes -= gone.size();
            }
        }
    }

    /// Whether it is time to prune the change log (true at most once per [`PRUNE_EVERY`]).
    fn prune_due(&self) -> bool {
        let now = self.started.elapsed().as_secs();
        let last = self.last_prune_s.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= PRUNE_EVERY.as_secs())
            && self.last_prune_s.compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// `{y}` comes with its format: `123.mvt`.
fn parse_tile(z: &str, x: &str, y: &str) -> Result<TileId> {
    let bad = || {
        Error::BadRequest(format!(
            "no tile {z}/{x}/{y}: give /tiles/{{layer}}/{{z}}/{{x}}/{{y}}.mvt with 0 ≤ z ≤ {} and 0 ≤ x, y < 2^z",
            tiles::MAX_ZOOM
        ))
    };
    let y = y.strip_suffix(".mvt").ok_or_else(bad)?;
    let (z, x, y) = (z.parse::<u8>().map_err(|_| bad())?, x.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
    TileId::new(z, x, y).ok_or_else(bad)
}

/// `crs=wgs84` (the default) or `crs=gcj02`, the shifted coordinates of Chinese base maps.
fn parse_crs(crs: Option<&str>) -> Result<Crs> {
    match crs {
        None | Some("wgs84") => Ok(Crs::Wgs84),
        Some("gcj02") => Ok(Crs::Gcj02),
        Some(other) => Err(Error::BadRequest(format!(
            "crs: {:?} is not a coordinate system of the tiles; accepted values: wgs84, gcj02",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

/// Who asks for a tile: a signed-in person, or the public. The public reads the county's towns and roads
/// only (the public report page's small map, where no base map is configured: boundaries and roads are the
/// county's published geography), never the sites or the queues.
pub struct Viewer(Option<Actor>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer> {
        if !super::auth::sends_credentials(&parts.headers) {
            return Ok(Viewer(None));
        }
        Actor::from_request_parts(parts, state).await.map(|actor| Viewer(Some(actor)))
    }
}

impl Viewer {
    /// The actor a layer is drawn for: the person, or for the public layers no one (no role, no scope).
    fn for_layer(self, layer: Layer) -> Result<Actor> {
        match (self.0, layer) {
            (Some(actor), _) => Ok(actor),
            (None, Layer::Towns | Layer::Roads) => Ok(Actor {
                user_id: uuid::Uuid::nil(),
                name: String::new(),
                display_name: String::new(),
                roles: Vec::new(),
                organisation_id: 0,
                town_id: None,
            }),
            (None, _) => Err(Error::Unauthorized(
                "sign in, or send an API token: only the towns and roads layers are public".into(),
            )),
        }
    }
}

pub async fn tile(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<TileCache>>,
    viewer: Viewer,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
    params: QueryPairs,
    headers: HeaderMap,
) -> Result<Response> {
    let layer = Layer::from_name(&layer).ok_or_else(|| {
        Error::NotFound(format!(
            "no tile layer {layer:?}; layers are sites, towns, roads, candidates and public_reports"
        ))
    })?;
    let actor = viewer.for_layer(layer)?;
    if layer == Layer::Candidates && !actor.can(Permission::ReadCandidates) {
        return Err(Error::Forbidden("the candidates layer is for the roles that read the candidates queue".into()));
    }
    if layer == Layer::PublicReports && !actor.can(Permission::ReadPublicReports) {
        return Err(Error::Forbidden(
            "the public_reports layer is for the roles that read the public reports queue".into(),
        ));
    }
    let tile = parse_tile(&z, &x, &y)?;
    // Every layer takes the site filter's parameters (the map sends the same query to all three); towns and
    // roads ignore them, and check only their form, not the hazard types against the table.
    let (criteria, others) = if layer == Layer::Sites {
        site_filter(&state, &params, &["crs"]).await?
    } else {
        let pairs = params.as_ref().map_err(|e| Error::BadRequest(e.body_text()))?;
        let (_, others) = MapFilter::parse(pairs, &["crs"]).map_err(|e| Error::BadRequest(e.to_string()))?;
        (MapFilter::default(), others)
    };
    let crs = parse_crs(others.get("crs"))?;
    let sites = SiteFilter { criteria, scope: actor.site_scope(), ..Default::default() };
    let scope = &sites.scope;
    let candidates = CandidateView {
        detection_min_confidence: state.settings.detection_min_confidence,
        town_scope: actor.candidate_town(),
    };
    let key = Key {
        layer,
        tile,
        scope: match layer {
            Layer::Sites => Some((scope.all, scope.town_id, scope.unit_id)),
            // A town office's candidates are its town's: the key keeps them apart from everyone's.
            Layer::Candidates => Some((candidates.town_scope.is_none(), candidates.town_scope.flatten(), None)),
            // Every reader of public reports sees the same waiting reports.
            Layer::Towns | Layer::Roads | Layer::PublicReports => None,
        },
        filter: sites.criteria.to_query(),
        crs,
    };

    if cache.prune_due() {
        let pool = state.pool.clone();
        tokio::spawn(async move {
            let metrics = &crate::metrics::METRICS;
            let pruned = tiles::prune_changes(&pool, CHANGES_KEPT).await;
            metrics.tile_change_prune.record(&pruned);
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "pruning the map change log failed");
            }
            // The grid counts' rows written since the last time, folded into one per cell, town and status.
            let compacted = crate::db::site_cells::compact(&pool).await;
            metrics.site_cell_compact.record(&compacted);
            if let Err(e) = compacted {
                tracing::warn!(error = %e, "folding the site grid counts failed");
            }
        });
    }

    // The check runs on the primary, never the replica: a replica behind would not know of the change.
    let entry = match cache.get(&key) {
        Some(entry) if !tiles::changed_since(&state.pool, layer, tile, &entry.drawn).await? => entry,
        _ => {
            let _permit = if tiles::is_heavy(layer, tile, &sites, crs) {
                Some(cache.heavy.acquire().await.map_err(|e| Error::Internal(e.into()))?)
            } else {
                None
            };
            let entry = Arc::new(draw(&state, layer, tile, &sites, candidates, crs).await?);
            cache.put(key, entry.clone());
            entry
        }
    };
    Ok(respond(&entry, &headers))
}

/// Draws on the replica when it has caught up with the primary (`db::replica`), else on the primary. A tile
/// drawn on the replica keeps the replica's snapshot, which `changed_since` checks on the primary like any.
async fn draw(
    state: &AppState,
    layer: Layer,
    tile: TileId,
    sites: &SiteFilter,
    candidates: CandidateView,
    crs: Crs,
) -> Result<Entry> {
    let mut drawn = state.read(|reads| tiles::draw_with(reads, layer, tile, sites, candidates, crs)).await?;
    let plain = Bytes::from(std::mem::take(&mut drawn.mvt));
    // Compressing is CPU work of the same order as drawing: done once per drawing, off the async threads.
    let (gzip, etag) = tokio::task::spawn_blocking({
        let plain = plain.clone();
        move || (gzip(&plain), etag(&plain))
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
    Ok(Entry { drawn, plain, gzip, etag, at: Instant::now() })
}

fn gzip(plain: &[u8]) -> Bytes {
    if plain.is_empty() {
        return Bytes::new();
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(plain.len() / 3), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    encoder.write_all(plain).expect("gzip into memory");
    Bytes::from(encoder.finish().expect("gzip into memory"))
}

fn etag(plain: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(plain);
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12]))).expect("hex is a valid header value")
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

fn respond(entry: &Entry, headers: &HeaderMap) -> Response {
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == entry.etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) && !entry.gzip.is_empty() {
        let mut response = Body::from(entry.gzip.clone()).into_response();
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        Body::from(entry.plain.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::ETAG, entry.etag.clone());
    // Private: site tiles depend on who asks. no-cache: the browser keeps the tile but asks each time, which is
    // a 304 while the tile is still right and the new tile as soon as anything in it changed.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding, Cookie, Authorization"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_addresses_are_checked() {
        assert_eq!(parse_tile("14", "13700", "6650.mvt").unwrap(), TileId { z: 14, x: 13700, y: 6650 });
        assert!(parse_tile("0", "0", "0.mvt").is_ok());
        for (z, x, y) in [
            ("1", "2", "0.mvt"),
            ("1", "0", "2.mvt"),
            ("23", "0", "0.mvt"),
            ("3", "1", "1.png"),
            ("a", "0", "0.mvt"),
            ("-1", "0", "0.mvt"),
        ] {
            assert!(parse_tile(z, x, y).is_err(), "{z}/{x}/{y}");
        }
    }

    #[test]
    fn gzip_is_negotiated() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("br"));
        assert!(!with("gzip;q=0"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_cache_keeps_to_its_budget() {
        let cache = TileCache::new(64 * 1024);
        let entry = |n: usize| {
            Arc::new(Entry {
                drawn: Drawn { mvt: Vec::new(), snapshot: "1:1:".into(), today: chrono::NaiveDate::MIN },
                plain: Bytes::from(vec![0u8; n]),
                gzip: Bytes::new(),
                etag: HeaderValue::from_static("\"x\""),
                at: Instant::now(),
            })
        };
        let key = |x: u32| Key {
            layer: Layer::Sites,
            tile: TileId { z: 10, x, y: 0 },
            scope: None,
            filter: String::new(),
            crs: Crs::Wgs84,
        };
        for x in 0..20 {
            cache.put(key(x), entry(6 * 1024));
        }
        let held = cache.inner.lock().unwrap();
        assert!(held.bytes <= 64 * 1024, "{} bytes held", held.bytes);
        assert!(held.map.contains_key(&key(19)), "the newest tile is kept");
        assert!(!held.map.contains_key(&key(0)), "the oldest tile is evicted");
        drop(held);
        // Too big to be worth a slot: not cached at all.
        cache.put(key(99), entry(60 * 1024));
        assert!(cache.get(&key(99)).is_none());
    }
}
