// The service worker of the inspection page: inspectors work in fields and villages with weak or no signal,
// so the page must open there too, and open as one consistent release.
//
// This file is a template: the server (src/http/release.rs) serves it as /sw.js with RELEASE (an id of the
// release) and FILES (every file of the inspection page with its SHA-256) written in. A changed file is a
// changed worker: the browser installs it beside the running one, and the page offers to switch
// ("有新版本，点此刷新"); the new worker takes over only when the inspector accepts (message 'skip-waiting').
//
//  - Install fetches every file of the release, checks each against its hash, and keeps them all in one
//    cache named after the release; if any file differs (a deploy under way), nothing is installed.
//  - The release's files are answered to the inspection page from that cache first, so it never mixes old and
//    new modules (the other pages, which share some of these files, get them from the network).
//  - The API answers the page reads at start (who is signed in, settings, hazard types, checklists) are
//    network first, kept for when the network fails or is too slow. They are also fetched by the worker itself
//    once it runs and whenever the page asks (message 'keep-start-up'): the page's very first load happens
//    before the worker controls it, and a reload without signal must still find the session.
//  - Town and road tiles are network first, kept for drawing the small map without signal: those the map drew
//    (at most TILES_KEPT, oldest dropped first), and the inspector's town fetched ahead of time by the page
//    (towntiles.js, into TOWN_TILES, which browsing never trims).
//  - Activate drops the caches of older releases. Observations never pass through here: the page's outbox
//    (IndexedDB) holds them. A Background Sync ('outbox') wakes the open pages to send it, or, with none
//    open, sends what waits under the session itself (syncOutbox).
//
// Only successful same-origin answers are kept (never a redirect to the sign-in page, never an error).
// Signing in or out drops the kept API answers, so the next person on a shared phone never sees the previous
// one's session.

const RELEASE = '__RELEASE__';
/** path → SHA-256 of every file of the release. */
const FILES = '__FILES__';
const SHELL_PREFIX = 'roadledger-shell-';
const SHELL = `${SHELL_PREFIX}${RELEASE}`;
const API = 'roadledger-api-v1';
/** Vendor modules (MapLibre under /vendor/) the inspection page loaded: not part of the release's files (the
 * server names their version in the path), kept as the page uses them. */
const VENDOR = 'roadledger-vendor-v1';
/** Town and road tiles the small map drew (the same for every user), for drawing the same view without signal;
 * at most TILES_KEPT of them, the oldest dropped first. */
const TILES = 'roadledger-tiles-v1';
const TILES_KEPT = 2000;
/** The inspector's towns' tiles, fetched ahead of time by the page (towntiles.js, which names the same cache
 * and header): answered without signal like the drawn ones, refreshed in place when drawn online, and never
 * trimmed by browsing (the page keeps at most three towns of at most 1 500 tiles). */
const TOWN_TILES = 'roadledger-town-tiles-v1';
const PRECACHE_HEADER = 'x-roadledger-precache';
/** API answers the page reads at start; kept for opening the page offline. */
// The open look-backs are kept by the page itself (lookback.js), which says how old its copy is.
const API_KEPT = ['/api/v1/session', '/api/v1/settings', '/api/v1/hazard-types', '/api/v1/checklist-templates'];
/** How long the network may take before a kept copy is answered instead (the network answer still refreshes it). */
const NETWORK_WAIT_MS = 4000;

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    // Every file first, checked; then all kept at once.
    const fetched = await Promise.all(Object.entries(FILES).map(async ([path, hash]) => {
      const response = await fetch(path, { cache: 'no-cache', credentials: 'same-origin' });
      if (!response.ok || response.redirected) throw new Error(`${path}: ${response.status}`);
      const body = await response.clone().arrayBuffer();
      const got = await sha256Hex(body);
      if (got !== hash) throw new Error(`${path} is not the file of release ${RELEASE}`);
      return [path, response];
    }));
    const cache = await caches.open(SHELL);
    await Promise.all(fetched.map(([path, response]) => cache.put(path, response)));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(SHELL_PREFIX) && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
    await keepStartUp();
  })());
});

self.addEventListener('message', (event) => {
  const type = event.data?.type;
  if (type === 'skip-waiting') {
    self.skipWaiting();
  } else if (type === 'keep-start-up') {
    const vendor = (event.data.vendor || []).filter((path) => typeof path === 'string' && path.startsWith('/vendor/'));
    event.waitUntil(Promise.all([keepStartUp(), keepVendor(vendor)])
      .then(([kept]) => event.source?.postMessage({ type: 'start-up-kept', kept, release: RELEASE })));
  }
});

self.addEventListener('sync', (event) => {
  if (event.tag === 'outbox') event.waitUntil(syncOutbox());
});

/**
 * Background Sync: the browser found a connection. An open inspection page sends the outbox itself (it has
 * the saved API token, shows progress and asks about conflicts); with none open, the worker sends what it
 * can under the session's cookie: each record of the signed-in account that waits for the network. Sent
 * records leave the outbox; anything the server refuses stays for the page to show. A network failure or a
 * 5xx fails the sync, so the browser tries again later.
 */
async function syncOutbox() {
  const pages = await self.clients.matchAll({ type: 'window' });
  if (pages.length) {
    for (const page of pages) page.postMessage({ type: 'flush-outbox' });
    return;
  }
  const session = await fetch('/api/v1/session', { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!session.ok) return; // signed out: the page will ask to sign in again
  const { user, csrf_token: csrf } = await session.json();
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('roadledger');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    if (!db.objectStoreNames.contains('outbox')) return;
    const records = await storeRequest(db, 'readonly', (store) => store.getAll());
    let retry = false;
    for (const record of records || []) {
      if (record.rejected || record.conflict || (record.user_id && record.user_id !== user.id)) continue;
      const { inspector, ...observation } = record.observation;
      const form = new FormData();
      form.append('observation', new Blob([JSON.stringify(observation)], { type: 'application/json' }));
      record.photos.forEach((p, i) => form.append('photo', p.blob, p.name || `photo-${i + 1}.jpg`));
      let response;
      try {
        response = await fetch('/api/v1/observations', {
          method: 'POST', body: form, credentials: 'same-origin', headers: { accept: 'application/json', 'x-csrf-token': csrf },
        });
      } catch {
        retry = true;
        continue;
      }
      if (response.ok) await storeRequest(db, 'readwrite', (store) => store.delete(record.id));
      else if (response.status >= 500 || response.status === 408 || response.status === 429) retry = true;
    }
    if (retry) throw new Error('some records could not be sent yet');
  } finally {
    db.close();
  }
}

function storeRequest(db, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('outbox', mode);
    const request = work(tx.objectStore('outbox'));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

/** Drops the oldest kept tiles beyond TILES_KEPT (Cache Storage lists keys in the order they were put). */
async function trimTiles() {
  const cache = await caches.open(TILES);
  const keys = await cache.keys();
  await Promise.all(keys.slice(0, Math.max(0, keys.length - TILES_KEPT)).map((key) => cache.delete(key)));
}

/** Keeps the vendor files the page loaded (from the HTTP cache when it has them). */
async function keepVendor(paths) {
  if (!paths.length) return;
  const cache = await caches.open(VENDOR);
  await Promise.all(paths.slice(0, 50).map(async (path) => {
    try {
      const response = await fetch(path);
      if (response.ok && response.type === 'basic') await cache.put(path, response);
    } catch {
      // No signal: what was kept stays.
    }
  }));
}

/** Fetches the start-up answers into the API cache (with the session's cookie); how many were kept. */
async function keepStartUp() {
  let kept = 0;
  await Promise.all(API_KEPT.map(async (path) => {
    try {
      const response = await fetch(path, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (response.ok && response.type === 'basic' && !response.redirected) {
        await (await caches.open(API)).put(path, response);
        kept += 1;
      }
    } catch {
      // No signal: what was kept stays.
    }
  }));
  return kept;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/api/v1/session' && request.method !== 'GET') {
    // Sign-in or sign-out: whatever was kept of the previous session goes.
    event.respondWith(fetch(request).finally(() => caches.delete(API)));
    return;
  }
  if (request.method !== 'GET') return;
  if (Object.hasOwn(FILES, url.pathname)) {
    // Only the inspection page runs on the release; the other pages share some of its files (common.js,
    // app.css…) and must get them as fresh as their own.
    event.respondWith(forInspectionPage(event).then((ours) => (ours ? releaseFile(request, url.pathname) : fetch(request))));
  } else if (url.pathname.startsWith('/vendor/')) {
    // Versioned or revalidated files, alike for every page, and asked for by MapLibre's own web worker too
    // (a client of its own): kept whoever asks, still network first.
    event.respondWith(networkFirst(request, VENDOR, url.pathname));
  } else if (/^\/tiles\/(towns|roads)\//.test(url.pathname)) {
    // The page's own fetches for a town kept ahead of time go straight to the network: it puts them in
    // TOWN_TILES itself.
    if (request.headers.has(PRECACHE_HEADER)) return;
    event.respondWith(tile(request, url.pathname + url.search));
  } else if (API_KEPT.includes(url.pathname) && !request.headers.has('authorization')) {
    // Answers to a Bearer token (the page checking a saved token) are not the session's: not kept.
    event.respondWith(networkFirst(request, API, url.pathname));
  }
});

/** A town or road tile: a kept town's stays in its cache (refreshed there); any other is kept as drawn. */
async function tile(request, key) {
  if (await caches.match(key, { cacheName: TOWN_TILES })) return networkFirst(request, TOWN_TILES, key);
  const response = await networkFirst(request, TILES, key);
  trimTiles();
  return response;
}

/** Whether a request is the inspection page itself or made by it. */
async function forInspectionPage(event) {
  const { request } = event;
  if (request.mode === 'navigate') return new URL(request.url).pathname === '/inspect.html';
  const client = event.clientId ? await self.clients.get(event.clientId) : null;
  return Boolean(client) && new URL(client.url).pathname === '/inspect.html';
}

/** A file of the release, from its cache; from the network only if the cache lost it. */
async function releaseFile(request, path) {
  const kept = await caches.match(path, { cacheName: SHELL });
  return kept || fetch(request);
}

/** The network's answer, or the kept copy when the network fails or is slow; keeps good answers. */
async function networkFirst(request, cacheName, key) {
  // The cache is opened (which creates it) only to keep an answer: a signed-out page must not bring it back.
  const network = fetch(request).then(async (response) => {
    if (response.ok && response.type === 'basic') await (await caches.open(cacheName)).put(key, response.clone());
    return response;
  });
  network.catch(() => {}); // a late failure after the kept copy was answered is nobody's business
  const slow = new Promise((resolve) => { setTimeout(resolve, NETWORK_WAIT_MS, 'slow'); });
  try {
    const first = await Promise.race([network, slow]);
    if (first !== 'slow') return first;
    const kept = await caches.match(key, { cacheName });
    return kept || await network;
  } catch (error) {
    const kept = await caches.match(key, { cacheName });
    if (kept) return kept;
    throw error;
  }
}
