// The service worker of the inspection page: inspectors work in fields and villages with weak or no signal,
// so the page must open there too. It keeps the page's files and the reference data it reads at start
// (who is signed in, settings, hazard types, checklists) and answers from them when the
// network fails or is too slow. Observations themselves never pass through here: the page's outbox
// (IndexedDB) holds them until they are sent.
//
// Network first, always: online, every answer is fresh and the copy is refreshed; the copy is used only when
// the network fails or takes longer than NETWORK_WAIT_MS. Only successful same-origin answers are kept (never
// a redirect to the sign-in page, never an error). Signing in or out drops the kept API answers, so that
// the next person on a shared phone never sees the previous one's session.

const VERSION = 'v1';
const SHELL = `roadledger-shell-${VERSION}`;
const API = `roadledger-api-${VERSION}`;
/** Files the inspection page needs, fetched when the worker installs. */
const SHELL_FILES = [
  '/inspect.html', '/inspect.js', '/boot.js', '/outbox.js', '/common.js', '/i18n.js', '/locales/zh-CN.js',
  '/locales/en.js', '/header.js', '/lookback.js', '/lifecycle.js', '/dialog.js', '/photos.js', '/app.css', '/favicon.svg',
  '/place.js', '/nearby.js', '/placemap.js',
];
/** API answers the page reads at start; kept for opening the page offline. */
// The open look-backs are kept by the page itself (lookback.js), which says how old its copy is.
const API_KEPT = ['/api/v1/session', '/api/v1/settings', '/api/v1/hazard-types', '/api/v1/checklist-templates'];
/** How long the network may take before a kept copy is answered instead (the network answer still refreshes it). */
const NETWORK_WAIT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const keep = new Set([SHELL, API]);
    for (const name of await caches.keys()) if (!keep.has(name)) await caches.delete(name);
    await self.clients.claim();
  })());
});

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
  if (SHELL_FILES.includes(url.pathname)) {
    event.respondWith(networkFirst(request, SHELL, url.pathname));
  } else if (API_KEPT.includes(url.pathname) && !request.headers.has('authorization')) {
    // Answers to a Bearer token (the page checking a saved token) are not the session's: not kept.
    event.respondWith(networkFirst(request, API, url.pathname));
  }
});

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
