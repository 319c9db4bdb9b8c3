// The inspector's town kept for the small map without signal: the `towns` and `roads` tiles covering the
// town's bounding box at the zooms the map draws from, fetched ahead of time into the cache the service
// worker answers tiles from when the network fails (sw.js, `TOWN_TILES`).
//
// Which town: the account's own (a town officer's organisation names one); otherwise the town the current fix
// lies in (an inspector of the city office or a police squadron patrols more than one), or, outside every
// town, the nearest one; without a fix, none until one comes. The last TOWNS_KEPT towns stay kept, so a day
// across a town boundary does not fetch them again and again.
//
// What: tile zooms 10–14. The map's sources stop at 14 (MapLibre draws deeper zooms from those tiles) and a
// vector source's 512 px tiles at zoom z serve the map at zoom z + 1, so this covers the map from zoom 11 (a
// whole town on a phone) to the street. The demo's 杨舍镇 (18 × 16 km box) is 250 tiles, 62 KB; a town whose box
// would take more than TILES_PER_TOWN_MAX tiles loses its deepest zoom until it fits (the map then overzooms).
//
// When: once per release and town, and again after a week (the county's roads change by import). The work
// yields to the outbox: it runs two tiles at a time at low fetch priority, waits while an observation is being
// sent, and stops when the network goes (the page starts it again when it is back); what was fetched stays.
//
// Tiles fetched here carry the header PRECACHE_HEADER, which the worker lets pass to the network untouched,
// so they never land in (or push others out of) the cache of tiles the map drew while browsing.

/** Shared with sw.js (a template that cannot import): the cache of the kept towns' tiles. */
export const TOWN_TILES_CACHE = 'roadledger-town-tiles-v1';
export const PRECACHE_HEADER = 'x-roadledger-precache';
export const ZOOM_MIN = 10;
export const ZOOM_MAX = 14;
export const TILES_PER_TOWN_MAX = 1500;
const TOWNS_KEPT = 3;
const STALE_MS = 7 * 24 * 3600_000;
const CONCURRENCY = 2;
const BUSY_POLL_MS = 1000;
const LAYERS = ['towns', 'roads'];
const KEY = 'roadledger.townTiles';

/** The XYZ tiles covering `bbox` ([minLon, minLat, maxLon, maxLat]) at zoom `z`. */
export function tilesAt(bbox, z) {
  const n = 2 ** z;
  const x = (lon) => Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
  const y = (lat) => {
    const r = (Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI) / 180;
    return Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)));
  };
  const out = [];
  for (let tx = x(bbox[0]); tx <= x(bbox[2]); tx++) {
    for (let ty = y(bbox[3]); ty <= y(bbox[1]); ty++) out.push([z, tx, ty]);
  }
  return out;
}

/** The tile paths (both layers) of a town's box, deepest zoom dropped until within TILES_PER_TOWN_MAX. */
export function townTilePaths(bbox) {
  for (let top = ZOOM_MAX; top >= ZOOM_MIN; top--) {
    const tiles = [];
    for (let z = ZOOM_MIN; z <= top; z++) tiles.push(...tilesAt(bbox, z));
    if (tiles.length * LAYERS.length <= TILES_PER_TOWN_MAX || top === ZOOM_MIN) {
      return LAYERS.flatMap((layer) => tiles.map(([z, x, y]) => `/tiles/${layer}/${z}/${x}/${y}.mvt`))
        .slice(0, TILES_PER_TOWN_MAX);
    }
  }
  return [];
}

/** The bounding box of a GeoJSON Polygon or MultiPolygon. */
function bboxOf(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of polygons.map((p) => p[0])) {
    for (const [lon, lat] of ring) {
      box[0] = Math.min(box[0], lon);
      box[1] = Math.min(box[1], lat);
      box[2] = Math.max(box[2], lon);
      box[3] = Math.max(box[3], lat);
    }
  }
  return box;
}

/** Whether a point lies in a GeoJSON Polygon or MultiPolygon (even-odd rule over every ring, holes too). */
export function contains(geometry, { lon, lat }) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let inside = false;
  for (const ring of polygons.flat()) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** The town whose box is nearest `p` (in degrees, enough to choose), for a fix outside every town. */
function nearest(features, p) {
  let best = null;
  let bestD = Infinity;
  for (const f of features) {
    if (!f.geometry) continue;
    const [minX, minY, maxX, maxY] = bboxOf(f.geometry);
    const dx = Math.max(minX - p.lon, 0, p.lon - maxX) * Math.cos((p.lat * Math.PI) / 180);
    const dy = Math.max(minY - p.lat, 0, p.lat - maxY);
    const d = dx * dx + dy * dy;
    if (d < bestD) { best = f; bestD = d; }
  }
  return best;
}

/** What is kept: {towns: [{id, name, bbox, release, at, done, total}]}, newest first. */
function manifest() {
  try {
    const m = JSON.parse(localStorage.getItem(KEY) || 'null');
    return m && Array.isArray(m.towns) ? m : { towns: [] };
  } catch {
    return { towns: [] };
  }
}

function saveManifest(m) {
  try {
    localStorage.setItem(KEY, JSON.stringify(m));
  } catch { /* full storage: the tiles are kept anyway, only the bookkeeping is lost */ }
}

/** The kept entry of the town being worked on or last finished (for the status line), or null. */
export function status() {
  return manifest().towns[0] || null;
}

let towns = null; // the county's towns (GET /api/v1/towns), once per page
let running = null;

/**
 * Keeps the tiles of the inspector's town: `user` (the session's), `fix` ({lon, lat} or null), `release`
 * (the service worker's, or null), `isBusy()` (true while the outbox sends), `onProgress(entry)` after every
 * tile. Resolves when done, stopped offline, or there is nothing to do; one run at a time.
 */
export function keepTown({ user, fix, release, isBusy = () => false, onProgress = () => {}, fetchJson }) {
  if (running || navigator.onLine === false || !('caches' in window)) return running;
  running = run({ user, fix, release, isBusy, onProgress, fetchJson })
    .catch((error) => console.warn('offline base map', error))
    .finally(() => { running = null; });
  return running;
}

async function run({ user, fix, release, isBusy, onProgress, fetchJson }) {
  if (!towns) towns = (await fetchJson('/api/v1/towns')).features || [];
  const ownTown = user?.organisation?.town_id;
  const town = ownTown != null
    ? towns.find((f) => (f.properties?.id ?? f.id) === ownTown)
    : fix && (towns.find((f) => f.geometry && contains(f.geometry, fix)) || nearest(towns, fix));
  if (!town?.geometry) return;
  const id = town.properties?.id ?? town.id;
  const m = manifest();
  const kept = m.towns.find((t) => t.id === id);
  const fresh = kept && (!release || kept.release === release) && Date.now() - kept.at < STALE_MS;
  if (fresh && kept.done >= kept.total) {
    // Already kept: it moves to the front (the town shown, and the last to be dropped).
    m.towns = [kept, ...m.towns.filter((t) => t !== kept)];
    saveManifest(m);
    onProgress(kept);
    return;
  }
  const bbox = bboxOf(town.geometry);
  const paths = townTilePaths(bbox);
  const entry = {
    id, name: town.properties?.name || String(id), bbox, release: release || null,
    at: fresh ? kept.at : Date.now(), done: 0, total: paths.length, state: 'running',
  };
  m.towns = [entry, ...m.towns.filter((t) => t.id !== id)];
  const dropped = m.towns.splice(TOWNS_KEPT);
  saveManifest(m);
  const cache = await caches.open(TOWN_TILES_CACHE);
  await dropTowns(cache, dropped, m.towns);

  let next = 0;
  let offline = false;
  const worker = async () => {
    while (next < paths.length && !offline) {
      const path = paths[next];
      next += 1;
      // A run resumed within its week skips what it already has.
      if (!(fresh && await cache.match(path))) {
        while (isBusy()) await new Promise((resolve) => { setTimeout(resolve, BUSY_POLL_MS); });
        if (navigator.onLine === false) { offline = true; break; }
        try {
          const response = await fetch(path, { priority: 'low', credentials: 'same-origin', headers: { [PRECACHE_HEADER]: '1' } });
          if (response.ok) await cache.put(path, response);
        } catch {
          offline = true; // no signal: what was fetched stays, the rest waits for the next run
          break;
        }
      }
      entry.done += 1;
      saveManifest(m);
      onProgress(entry);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  entry.state = entry.done >= entry.total ? 'done' : 'paused';
  saveManifest(m);
  onProgress(entry);
}

/** Deletes the tiles of towns no longer kept, except those another kept town shares. */
async function dropTowns(cache, dropped, keptTowns) {
  if (!dropped.length) return;
  const stillKept = new Set(keptTowns.flatMap((t) => townTilePaths(t.bbox)));
  for (const town of dropped) {
    await Promise.all(townTilePaths(town.bbox).filter((p) => !stillKept.has(p)).map((p) => cache.delete(p)));
  }
}
