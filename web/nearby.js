// Open sites near the inspector, so that a repeat visit names its site (`site_id`) instead of opening a
// duplicate. Online, the server answers (`GET /api/v1/sites/nearby`); without signal, a list kept on the
// phone does: the open sites within a few kilometres of where the inspector last had signal, fetched from
// `GET /api/v1/sites` (one bounded page) and kept in IndexedDB (database `roadledger-places`, apart from the
// outbox's), refreshed after moving a kilometre or half an hour.

import { apiFetch, currentUser, deviceToken, distanceM, readResponse } from './common.js';
import { distanceToGeometryM } from './place.js';

/** Sites of the same kind within this distance are offered as a repeat visit. */
export const OFFER_RADIUS_M = 50;
/** The kept list covers this many degrees each way around the inspector (about 3 km). */
const CACHE_HALF_SIDE_DEG = 0.03;
const CACHE_LIMIT = 2000;
const CACHE_MOVE_M = 1000;
const CACHE_AGE_MS = 30 * 60_000;
const DB_NAME = 'roadledger-places';
const STORE = 'open-sites';
const KEY = 'around';

/** How long the server may take to answer before the kept list answers instead (a weak link hangs). */
const SERVER_WAIT_MS = 4000;

/** The API token kept on this phone, when it is the signed-in inspector's (reads then survive an expired session). */
function ownToken() {
  const stored = deviceToken();
  return stored && stored.user_id === currentUser()?.id ? stored.token : null;
}

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

async function idb(mode, work) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
  });
}

/** The kept list: {at, lon, lat, sites: [{id, code, kind, status, road_code, stake, geometry}]}, or null. */
export async function cached() {
  try {
    return (await idb('readonly', (s) => s.get(KEY))) || null;
  } catch {
    return null;
  }
}

let refreshing = false;
/** Keeps the open sites around `fix` on the phone, when online and the kept list is far or old. */
export async function keepAround(fix, openStatuses) {
  if (refreshing || !fix || navigator.onLine === false || !openStatuses.length) return;
  const kept = await cached();
  if (kept && distanceM(kept, fix) < CACHE_MOVE_M && Date.now() - kept.at < CACHE_AGE_MS) return;
  refreshing = true;
  try {
    const d = CACHE_HALF_SIDE_DEG;
    const query = new URLSearchParams({
      bbox: [fix.lon - d, fix.lat - d, fix.lon + d, fix.lat + d].map((x) => x.toFixed(5)).join(','),
      status: openStatuses.join(','),
      limit: String(CACHE_LIMIT),
    });
    const response = await apiFetch(`/api/v1/sites?${query}`, { bearer: ownToken(), loginRedirect: false, signal: AbortSignal.timeout(30_000) });
    if (!response.ok) return;
    const body = await readResponse(response);
    const sites = (body.features || []).map((f) => ({
      id: f.id ?? f.properties.id,
      code: f.properties.code,
      kind: f.properties.kind,
      status: f.properties.status,
      road_code: f.properties.road_code,
      stake: f.properties.stake,
      geometry: f.geometry,
    }));
    await idb('readwrite', (s) => s.put({ at: Date.now(), lon: fix.lon, lat: fix.lat, sites }, KEY));
  } catch (error) {
    console.warn('open sites around', error);
  } finally {
    refreshing = false;
  }
}

/** The kept open sites of `kind` within `radiusM` of `p`, nearest first (what the server would answer). */
export function fromList(sites, p, kind, radiusM = OFFER_RADIUS_M) {
  return sites
    .filter((s) => s.kind === kind)
    .map((s) => ({ ...s, distance_m: Math.round(distanceToGeometryM(p, s.geometry) * 10) / 10 }))
    .filter((s) => s.distance_m <= radiusM)
    .sort((a, b) => a.distance_m - b.distance_m || String(a.code).localeCompare(String(b.code)));
}

/**
 * Open sites of `kind` within 50 m of `p`, nearest first: from the server, or from the kept list without
 * signal. `{sites, source: 'server' | 'kept' | 'none'}`.
 */
export async function openSitesNear(p, kind) {
  if (navigator.onLine !== false) {
    try {
      const query = new URLSearchParams({
        lon: p.lon.toFixed(7), lat: p.lat.toFixed(7), kind, radius_m: String(OFFER_RADIUS_M),
      });
      const response = await apiFetch(`/api/v1/sites/nearby?${query}`, {
        bearer: ownToken(), loginRedirect: false, signal: AbortSignal.timeout(SERVER_WAIT_MS),
      });
      if (response.ok) return { sites: (await response.json()).sites, source: 'server' };
    } catch { /* no signal after all, or too slow: the kept list answers */ }
  }
  const kept = await cached();
  if (!kept) return { sites: [], source: 'none' };
  return { sites: fromList(kept.sites, p, kind), source: 'kept' };
}
