// The inspector's phone page: where am I (Geolocation API, WGS-84), what kind of site, which hazards, the
// checklist as seen, photos, notes; then submit. Every submission goes through the outbox (IndexedDB) first,
// so nothing is lost in a dead zone: it is sent at once when possible and retried automatically, each record
// on its own schedule with backoff (outbox.js), when the phone is back online and on page load. The
// observation id is made once per draft and kept across retries, so a retry after a lost answer is
// recognised by the server as the same observation. The draft itself is kept in IndexedDB as it is edited
// (draft.js), and the room left on the phone is shown (storage.js).
//
// The page itself opens offline too, and installs as an app: its service worker (sw.js, pwa.js) keeps one
// release of the page's files and the reference data it reads at start.
//
// Photo location comes from the Geolocation API at capture time, not from EXIF: mobile browsers strip GPS
// EXIF from photos picked in a web page (DOMAIN.md §5). Photos are resized before they are queued, and what
// their originals' EXIF still says goes with the observation as evidence (photos.js).
//
// Who recorded an observation is the signed-in account: the server takes it from the session (or from the
// personal API token), never from the form. Each outbox record remembers the account it was queued under
// and is sent only under that account: after someone else signs in on the same phone, it waits for its
// owner. A send answered 401 (session expired, token revoked) stays queued, and the page asks the
// inspector to sign in again. With an API token saved under "Settings", records of the token's account are
// sent with `Authorization: Bearer` (which the server reads before any cookie), so they go out even after the
// session has expired.

import {
  ApiError, readResponse, getJson, h, fill, apiFetch, currentUser, hasRole, deviceToken, setDeviceToken, loginUrl,
  distanceM, session, fetchSession,
} from './common.js';
import * as outbox from './outbox.js';
import { preparePhoto } from './photos.js';
import * as draft from './draft.js';
import * as storage from './storage.js';
import * as pwa from './pwa.js';
import { openDialog, confirmDialog } from './dialog.js';
import { t, tCode, localName, onLangChange, formatDateTime } from './i18n.js';
import { boot } from './boot.js';
import { loadTasks, lookBackProblems, renderLookBackCard, targetFromSite } from './lookback.js';
import { explain } from './lifecycle.js';
import { fixAgeS, fixText, needsConfirmation, simplifyTrack, trackAccepts } from './place.js';
import { keepAround, openSitesNear } from './nearby.js';
import { mapFiles, openPlaceMap } from './placemap.js';
import * as townTiles from './towntiles.js';

/** Which hazard groups apply to which kind of site. */
const GROUPS_BY_KIND = {
  intersection: ['intersection', 'roadside', 'stop'],
  section: ['section', 'roadside', 'stop', 'work_zone'],
  spot: ['section', 'roadside', 'stop', 'work_zone'],
};
const ITEM_STATES = ['missing', 'damaged', 'installed', 'not_applicable'];
const ACCURACY_GOOD_M = 10;
const ACCURACY_FAIR_M = 30;
// As the server: X, Y, C, Z and three digits; G and S (national, provincial, expressways) one to four.
const ROAD_CODE = /^([GS]\d{1,4}|[XYCZ]\d{3})$/;
const STAKE = /^[ZY]?K\d{1,4}\+\d{3}(\.\d{1,3})?$/;

const state = {
  settings: null, // /api/v1/settings (boot.js): photo limits, the look-back radius
  hazardTypes: [],
  templates: [],
  kind: 'intersection',
  draftId: newId(),
  fix: null, // latest position {lon, lat, accuracy_m, at, t (ms)}
  onRoad: null, // where the fix is on the road network, as /api/v1/roads/locate says ({none: true}: no road near)
  geoError: null,
  point: null, // the position chosen with "use this location" (with `age_s`: the fix's age when chosen)
  /** Open sites of the kind near the place: {sites, source}, as nearby.js answers. */
  nearby: { sites: [], source: 'none' },
  /** The inspector's answer to "a repeat visit of site …?": null (not asked), {id, code} or 'new'. */
  siteChoice: null,
  /** A section recorded as a track: {state: 'recording' | 'paused' | 'done', points, line (simplified)}. */
  track: null,
  start: null,
  end: null,
  hazards: new Set(),
  checklist: new Map(),
  photos: [], // {file, url}
  sending: false,
  inFlight: new Set(), // outbox ids being sent right now
  progress: new Map(), // outbox id → {loaded, total} bytes of its upload under way
  progressEvents: 0,
  room: null, // storage.room(): space left on the phone
  result: null, // {state, render: () => node}
  outbox: [],
  sentLog: [],
  /** The last send was refused with 401: {bearer: whether an API token was used, detail}. */
  authProblem: null,
  tokenStatus: null, // {kind: 'ok' | 'error', text}
  lookBackTasks: [], // open look-back tasks (GET /api/v1/look-backs)
  lookBackStale: null, // when the task list was kept on the phone, if the server could not be reached
  lookBackExpanded: false,
  /** The look-back under way: {target: task or site, result: 'pass' | 'relapse' | null}. */
  lookBack: null,
};

const $ = (id) => document.getElementById(id);

/**
 * A fresh observation id. crypto.randomUUID exists only in secure contexts (HTTPS or localhost); a page
 * opened over plain HTTP on a LAN address still works, with a v4 UUID from getRandomValues.
 */
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

window.roadledger = {
  user: () => currentUser(),
  draftId: () => state.draftId,
  outboxCount: () => state.outbox.length,
  flushOutbox: () => flushOutbox({ force: true }),
  /** How many upload progress events the outbox has shown. */
  progressEvents: () => state.progressEvents,
  /** Resolves once the service worker has kept the start-up answers (for opening offline next time). */
  startUpKept: null,
  /** The small map's MapLibre map while it is open (for tests), and the town kept for it (towntiles.js). */
  placeMap: () => placeMap?.map || null,
  townTiles: () => townTiles.status(),
  keepTownTiles: () => keepTownTiles({ force: true }),
};

// The fixed submit bar grows with its result line (queued, an error): the page keeps that much room below its
// last card, so that every card can be scrolled clear of the bar and tapped.
const submitBar = document.querySelector('.submit-bar');
new ResizeObserver(() => {
  document.documentElement.style.setProperty('--submit-bar-h', `${submitBar.offsetHeight}px`);
}).observe(submitBar);

boot({
  page: 'inspect',
  title: 'inspect.title',
  // Lets the page open without signal next time (sw.js, pwa.js); needs a secure context (HTTPS or localhost).
  before: () => { pwa.registerWorker(); },
  main,
  onError: (message) => showResult('error', () => message),
});

async function main({ settings }) {
  state.settings = settings;
  onLangChange(renderAll);

  // A reload may bring back the browser's remembered choice.
  state.kind = document.querySelector('input[name=kind]:checked')?.value || state.kind;
  for (const input of document.querySelectorAll('input[name=kind]')) {
    input.addEventListener('change', () => setKind(input.value));
  }
  $('road-code').addEventListener('input', (e) => { e.target.value = e.target.value.toUpperCase(); });
  $('use-location').addEventListener('click', toggleUseLocation);
  $('map-toggle').addEventListener('click', toggleMap);
  $('track-start').addEventListener('click', startTrack);
  $('track-pause').addEventListener('click', pauseTrack);
  $('track-stop').addEventListener('click', stopTrack);
  $('set-start').addEventListener('click', () => setEnd('start'));
  $('set-end').addEventListener('click', () => setEnd('end'));
  $('photo-input').addEventListener('change', onPhotosPicked);
  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  $('outbox-count').addEventListener('click', () => $('card-outbox').scrollIntoView({ behavior: 'smooth' }));
  $('outbox-retry').addEventListener('click', () => flushOutbox({ force: true }));
  $('token-settings').addEventListener('submit', (e) => {
    e.preventDefault();
    saveToken();
  });
  $('api-token-clear').addEventListener('click', clearToken);
  $('result').addEventListener('click', (e) => {
    if (e.target.tagName !== 'A') clearResult();
  });
  window.addEventListener('online', () => { renderOnline(); flushOutbox({ force: true }); keepTownTiles({ force: true }); });
  window.addEventListener('offline', renderOnline);
  // The worker's Background Sync (sw.js) wakes the page when the browser finds a connection.
  window.addEventListener('roadledger:flush-outbox', () => flushOutbox({ force: true }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') flushOutbox();
  });

  startGeolocation();
  renderOnline();
  renderAll();

  const [hazardTypes, templates] = await Promise.all([
    getJson('/api/v1/hazard-types'),
    getJson('/api/v1/checklist-templates'),
  ]);
  state.hazardTypes = hazardTypes;
  state.templates = templates;
  await restoreDraft();
  renderAll();
  await refreshLookBacks();
  document.body.dataset.state = 'ready';
  // The start-up answers are now kept by the worker, for a reload without signal.
  window.roadledger.startUpKept = pwa.keepStartUp({ vendor: mapFiles(settings) }).catch(() => 0);
  storage.askPersist();
  await refreshOutbox();
  flushOutbox({ force: true });
  renderOfflineMap(townTiles.status());
  // The town's tiles for the small map, after the worker has said which release it runs.
  window.roadledger.startUpKept.then(() => {
    townTilesReady = true;
    keepTownTiles({ force: true });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The small map's town kept for use without signal (towntiles.js)

/** Where and when the town was last looked for: a fix moving on looks again after 500 m or a minute. */
let townLookup = { at: 0, lon: null, lat: null };
/** Set once the page has started (and the worker named its release): fixes before that wait for it. */
let townTilesReady = false;
const TOWN_LOOKUP_MOVE_M = 500;
const TOWN_LOOKUP_MIN_MS = 60_000;

function keepTownTiles({ force = false } = {}) {
  const user = currentUser();
  if (!townTilesReady || !user || !canRecord()) return;
  const fix = state.fix ? { lon: state.fix.lon, lat: state.fix.lat } : null;
  const moved = fix && townLookup.lon != null ? distanceM(townLookup, fix) : Infinity;
  if (!force && moved < TOWN_LOOKUP_MOVE_M && Date.now() - townLookup.at < TOWN_LOOKUP_MIN_MS) return;
  townLookup = { at: Date.now(), lon: fix?.lon ?? null, lat: fix?.lat ?? null };
  townTiles.keepTown({
    user,
    fix,
    release: pwa.release(),
    // An observation being sent goes first: the tiles wait.
    isBusy: () => state.sending || state.inFlight.size > 0,
    onProgress: renderOfflineMap,
    fetchJson: getJson,
  });
}

/** "离线底图：已缓存 杨舍镇 412/412" under the map's button. */
function renderOfflineMap(entry) {
  const line = $('offline-map');
  if (!line) return;
  line.hidden = !entry;
  if (!entry) return;
  const phase = entry.done >= entry.total ? 'done' : (entry.state === 'running' ? 'running' : 'paused');
  const key = { done: 'offlineMap.done', running: 'offlineMap.running', paused: 'offlineMap.paused' }[phase];
  line.textContent = t(key, { town: entry.name, done: entry.done, total: entry.total });
  Object.assign(line.dataset, { state: phase, done: String(entry.done), total: String(entry.total), town: entry.name });
}

// ---------------------------------------------------------------------------------------------------------
// Look-back (回头看)

/** Loads the open tasks; a link from the site page (`?look_back=<site id>`) starts that site's look-back. */
async function refreshLookBacks() {
  if (!currentUser() || !hasRole('inspector')) return;
  try {
    const { tasks, stale } = await loadTasks(currentUser().id);
    state.lookBackTasks = tasks;
    state.lookBackStale = stale;
  } catch (error) {
    console.warn('look-backs', error);
  }
  const wanted = new URLSearchParams(location.search).get('look_back');
  if (wanted && !state.lookBack) {
    const task = state.lookBackTasks.find((x) => x.site_id === wanted);
    if (task) {
      startLookBack(task);
    } else {
      const site = await getJson(`/api/v1/sites/${encodeURIComponent(wanted)}`).catch(() => null);
      if (site?.properties?.status === 'closed') startLookBack(targetFromSite(site));
      else showResult('error', () => t('lookBack.notClosed'));
    }
  }
  renderLookBack();
}

function startLookBack(target) {
  state.lookBack = { target, result: null };
  for (const input of document.querySelectorAll('input[name=kind]')) input.checked = input.value === target.kind;
  setKind(target.kind);
  state.hazards.clear();
  clearResult();
  renderAll();
  window.scrollTo({ top: 0, behavior: 'smooth' });
}

function exitLookBack() {
  state.lookBack = null;
  if (new URLSearchParams(location.search).has('look_back')) history.replaceState(null, '', location.pathname);
  renderAll();
}

function renderLookBack() {
  const card = $('card-look-back');
  const active = state.lookBack;
  card.hidden = !active && !state.lookBackTasks.length;
  card.dataset.mode = active ? 'active' : 'list';
  document.body.dataset.lookBack = active ? active.result || 'chosen' : '';
  $('card-kind').hidden = Boolean(active);
  $('card-hazards').hidden = Boolean(active);
  $('road-stake-row').hidden = Boolean(active);
  if (card.hidden) return;
  fill(card, renderLookBackCard({
    tasks: state.lookBackTasks,
    stale: state.lookBackStale,
    fix: state.fix,
    active,
    expanded: state.lookBackExpanded,
    radius: state.settings.look_back_radius_m,
    onStart: startLookBack,
    onExit: exitLookBack,
    onResult: (result) => {
      state.lookBack.result = result;
      renderLookBack();
    },
    onExpand: () => {
      state.lookBackExpanded = true;
      renderLookBack();
    },
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Settings: the personal API token kept on this phone

/**
 * Saves the token after checking that the server takes it (a GET with it alone, without the cookie) and
 * that it is one of the signed-in user's own tokens.
 */
async function saveToken() {
  const token = $('api-token').value.trim();
  if (!token) {
    state.tokenStatus = { kind: 'error', text: () => t('inspect.apiTokenMissing') };
    renderSettings();
    return;
  }
  $('api-token-save').disabled = true;
  try {
    const response = await apiFetch('/api/v1/settings', { bearer: token, loginRedirect: false });
    if (response.status === 401) {
      state.tokenStatus = { kind: 'error', text: () => t('inspect.apiTokenInvalid') };
      return;
    }
    await readResponse(response);
    // Records are sent under the token's account: it must be this inspector's own. The token list shows each
    // token's first characters (api_token.prefix), which is enough to recognise it.
    const listed = await apiFetch('/api/v1/tokens', { loginRedirect: false });
    if (listed.ok) {
      const mine = (await readResponse(listed)) || [];
      if (!mine.some((tok) => !tok.revoked_at && tok.prefix && token.startsWith(tok.prefix))) {
        state.tokenStatus = { kind: 'error', text: () => t('inspect.apiTokenNotMine') };
        return;
      }
    }
    const user = currentUser();
    setDeviceToken({ token, user_id: user.id, user_name: user.display_name });
    $('api-token').value = '';
    state.tokenStatus = { kind: 'ok', text: () => t('inspect.apiTokenSaved') };
    state.authProblem = null;
    flushOutbox();
  } catch (error) {
    state.tokenStatus = { kind: 'error', text: () => t('common.error', { detail: error.detail || error.message }) };
  } finally {
    $('api-token-save').disabled = false;
    renderSettings();
    renderOutbox();
  }
}

function clearToken() {
  setDeviceToken(null);
  $('api-token').value = '';
  state.tokenStatus = { kind: 'ok', text: () => t('inspect.apiTokenCleared') };
  renderSettings();
}

function renderSettings() {
  const stored = deviceToken();
  const mine = stored && stored.user_id === currentUser()?.id;
  $('token-state').textContent = mine ? t('inspect.apiTokenOn') : '';
  $('card-settings').dataset.token = mine ? 'set' : 'unset';
  $('api-token-hint').textContent = mine
    ? t('inspect.apiTokenHintSet', { name: stored.user_name })
    : t('inspect.apiTokenHint');
  $('api-token-clear').hidden = !stored;
  const status = $('api-token-status');
  status.textContent = state.tokenStatus ? state.tokenStatus.text() : '';
  status.className = `small ${state.tokenStatus?.kind === 'error' ? 'error' : 'ok-text'}`;
  status.dataset.kind = state.tokenStatus?.kind || '';
}

/**
 * Recording observations needs the inspector role (the server answers 403 otherwise): anyone else may look
 * at the page but not submit.
 */
function canRecord() {
  return !currentUser() || hasRole('inspector');
}

function renderInspector() {
  const user = currentUser();
  if (!user) return;
  fill($('inspector'),
    t('inspect.inspectorLabel'), h('strong', { id: 'inspector-name' }, user.display_name),
    user.organisation ? h('span', { class: 'muted' }, ` · ${user.organisation.name}`) : null,
    canRecord() ? null : h('span', { class: 'error', id: 'not-inspector' }, h('br'), t('inspect.notInspector')));
}

// ---------------------------------------------------------------------------------------------------------
// Location

function startGeolocation() {
  if (!window.isSecureContext) {
    // Browsers give positions only to HTTPS pages (and localhost).
    state.geoError = { key: 'inspect.insecure' };
    renderLocation();
    return;
  }
  if (!('geolocation' in navigator)) {
    state.geoError = { key: 'inspect.geoUnsupported' };
    renderLocation();
    return;
  }
  navigator.geolocation.watchPosition(
    (position) => {
      const c = position.coords;
      const at = position.timestamp || Date.now();
      state.fix = {
        lon: c.longitude, lat: c.latitude, accuracy_m: c.accuracy, at: new Date(at).toISOString(), t: at,
      };
      state.geoError = null;
      if (state.track?.state === 'recording' && trackAccepts(state.track.points.at(-1), state.fix)) {
        state.track.points.push({ ...state.fix });
      }
      renderLocation();
      renderLookBack(); // distances to the sites
      // A point placed by hand keeps its own road and stake; otherwise they follow the fix.
      if (state.point?.source !== 'map') locateOnRoad(state.fix);
      keepAround(state.fix, openStatuses());
      keepTownTiles();
      refreshNearby();
    },
    (error) => {
      state.geoError = error.code === error.PERMISSION_DENIED
        ? { key: 'inspect.geoDenied' }
        : { key: 'inspect.geoUnavailable', vars: { detail: error.message || error.code } };
      renderLocation();
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 },
  );
}

/** Ask the server where the fix is on the road network ("X202 K12+300"), at most every few seconds and only
 * after moving; without signal the last answer simply stays (or nothing is shown). */
const ROAD_LOOKUP_MIN_MS = 4000;
const ROAD_LOOKUP_MIN_MOVE_M = 15;
let roadLookup = { at: 0, lon: null, lat: null, busy: false };
async function locateOnRoad(fix, { force = false } = {}) {
  if (!fix || roadLookup.busy || !navigator.onLine) return;
  const now = Date.now();
  const moved = roadLookup.lon == null ? Infinity : distanceM(roadLookup, fix);
  if (!force && (now - roadLookup.at < ROAD_LOOKUP_MIN_MS || moved < ROAD_LOOKUP_MIN_MOVE_M)) return;
  roadLookup = { at: now, lon: fix.lon, lat: fix.lat, busy: true };
  try {
    const query = new URLSearchParams({ lon: fix.lon.toFixed(7), lat: fix.lat.toFixed(7), radius_m: '100' });
    const stored = deviceToken();
    const bearer = stored && stored.user_id === currentUser()?.id ? stored.token : null;
    const response = await apiFetch(`/api/v1/roads/locate?${query}`, { bearer, loginRedirect: false });
    if (response.status === 404) state.onRoad = { none: true };
    else if (response.ok) state.onRoad = await response.json();
  } catch { /* no signal: keep what was shown */ } finally {
    roadLookup.busy = false;
  }
  renderRoad();
}

function renderRoad() {
  const box = $('loc-road');
  const r = state.onRoad;
  box.hidden = !r;
  if (!r) return;
  box.textContent = r.none
    ? t('inspect.noRoadNear')
    : [r.route_code ? `${r.route_code}${r.stake ? ` ${r.stake}` : ''}` : t('inspect.uncodedRoad'), r.name,
      t('inspect.offRoad', { m: Math.round(r.offset_m) })].filter(Boolean).join(' · ');
  box.dataset.route = r.route_code || '';
}

/** The statuses that count as open, as the server's settings say. */
function openStatuses() {
  return (state.settings?.statuses || []).filter((x) => x.open).map((x) => x.code);
}

/** Where the observation would be now: the chosen point (or the section's start), else the fix. */
function placeNow() {
  if (state.kind === 'section' && !state.lookBack) return state.start || state.fix;
  return state.point || state.fix;
}

/** Asks which open sites of the kind are near the place (after moving 10 m or 15 s), and shows them. */
let nearbyAsked = { lon: null, lat: null, kind: null, at: 0, busy: false };
let nearbyAgain = false; // a forced refresh came while one was under way: it runs after it
async function refreshNearby({ force = false } = {}) {
  const p = placeNow();
  if (nearbyAsked.busy) {
    nearbyAgain = nearbyAgain || force;
    return;
  }
  if (state.lookBack || !p) return;
  const moved = nearbyAsked.lon == null ? Infinity : distanceM(nearbyAsked, p);
  if (!force && nearbyAsked.kind === state.kind && moved < 10 && Date.now() - nearbyAsked.at < 15_000) return;
  nearbyAsked = { lon: p.lon, lat: p.lat, kind: state.kind, at: Date.now(), busy: true };
  try {
    state.nearby = await openSitesNear(p, state.kind);
  } finally {
    nearbyAsked.busy = false;
  }
  // A choice of a site no longer offered (moved away, other kind) is dropped.
  if (state.siteChoice && state.siteChoice !== 'new' && !state.nearby.sites.some((x) => x.id === state.siteChoice.id)) {
    state.siteChoice = null;
  }
  renderNearby();
  placeMap?.setSites(state.nearby.sites);
  if (nearbyAgain) {
    nearbyAgain = false;
    refreshNearby({ force: true });
  }
}

function nearbyLabel(site) {
  return [t('nearby.site', { code: site.code, m: Math.round(site.distance_m) }),
    site.road_code ? `${site.road_code}${site.stake ? ` ${site.stake}` : ''}` : null,
    tCode('status', site.status)].filter(Boolean).join(' · ');
}

function renderNearby() {
  const box = $('nearby-offer');
  const sites = state.lookBack ? [] : state.nearby.sites;
  box.hidden = !sites.length;
  box.dataset.count = String(sites.length);
  box.dataset.choice = state.siteChoice ? (state.siteChoice === 'new' ? 'new' : state.siteChoice.code) : '';
  if (box.hidden) return;
  const choice = state.siteChoice;
  fill(box,
    h('p', {}, t('nearby.offer'), state.nearby.source === 'kept' ? h('span', { class: 'muted' }, ` ${t('nearby.kept')}`) : null),
    h('ul', { class: 'nearby-list' }, sites.map((site) => h('li', { dataset: { siteCode: site.code } },
      h('button', {
        type: 'button',
        class: `btn btn-small${choice?.id === site.id ? ' btn-primary' : ''}`,
        'aria-pressed': String(choice?.id === site.id),
        onclick: () => {
          state.siteChoice = choice?.id === site.id ? null : { id: site.id, code: site.code };
          renderNearby();
        },
      }, t('nearby.question', { code: site.code })),
      h('span', { class: 'small muted' }, ` ${nearbyLabel(site)}`)))),
    choice ? h('p', { class: 'small', id: 'nearby-choice' },
      choice === 'new' ? t('nearby.chooseNew') : t('nearby.chosen', { code: choice.code })) : null);
}

/** Asks, before queueing, whether this is a repeat visit of an open site nearby; false if cancelled. */
async function askRepeatVisit(p) {
  state.nearby = await openSitesNear(p, state.kind).catch(() => state.nearby);
  renderNearby();
  const sites = state.nearby.sites;
  // Within the repeat-visit radius the server joins the nearest open site by itself; beyond it (up to 50 m)
  // a new site would be opened, so the inspector is asked. The live offer shows every site within 50 m.
  const joinedByPlace = state.settings.repeat_visit_radius_m ?? 30;
  if (!sites.length || state.siteChoice || sites[0].distance_m <= joinedByPlace) return true;
  const options = [...sites.map((site) => ({ value: site.id, label: nearbyLabel(site), code: site.code })),
    { value: 'new', label: t('nearby.newSite') }];
  const chosen = await openDialog({
    id: 'nearby-dialog',
    title: t('nearby.title'),
    submitLabel: t('nearby.ok'),
    content: [
      h('p', {}, t('nearby.offer')),
      h('div', { class: 'nearby-choices', role: 'radiogroup', 'aria-label': t('nearby.title') }, options.map((o, i) => h('label', { class: 'nearby-choice' },
        h('input', { type: 'radio', name: 'nearby-site', value: o.value, checked: i === 0 }),
        h('span', {}, o.code ? [h('strong', {}, t('nearby.question', { code: o.code })), h('br'), o.label] : o.label)))),
    ],
    onSubmit: (form) => form.querySelector('input[name=nearby-site]:checked')?.value || false,
  });
  if (!chosen) return false;
  const site = sites.find((x) => x.id === chosen);
  state.siteChoice = site ? { id: site.id, code: site.code } : 'new';
  renderNearby();
  return true;
}

/** A section as a track: fixes every few metres while recording (poor ones dropped), simplified at the end. */
function startTrack() {
  state.track = { state: 'recording', points: [], line: null };
  if (state.fix && trackAccepts(null, state.fix)) state.track.points.push({ ...state.fix });
  state.start = null;
  state.end = null;
  renderLocation();
}

function pauseTrack() {
  if (!state.track || state.track.state === 'done') return;
  state.track.state = state.track.state === 'recording' ? 'paused' : 'recording';
  renderLocation();
}

function stopTrack() {
  const track = state.track;
  if (!track) return;
  const line = simplifyTrack(track.points);
  if (line.length < 2) {
    showResult('error', () => t('track.tooShort'));
    return;
  }
  track.state = 'done';
  track.line = line;
  const accuracy = Math.max(...track.points.map((p) => p.accuracy_m));
  state.start = { ...line[0], accuracy_m: accuracy, age_s: 0 };
  state.end = { ...line.at(-1), accuracy_m: accuracy, age_s: 0 };
  renderLocation();
  refreshNearby({ force: true });
}

function renderTrack() {
  const track = state.track;
  const box = $('track');
  box.dataset.state = track?.state || 'idle';
  box.dataset.points = String(track?.points.length || 0);
  box.dataset.line = String(track?.line?.length || 0);
  const recording = track && track.state !== 'done';
  $('track-start').hidden = Boolean(recording);
  $('track-start').textContent = track?.state === 'done' ? t('track.again') : t('track.start');
  $('track-pause').hidden = !recording;
  $('track-pause').textContent = track?.state === 'paused' ? t('track.resume') : t('track.pause');
  $('track-stop').hidden = !recording;
  $('track-text').textContent = !track ? t('track.hint')
    : track.state === 'done' ? t('track.done', { n: track.points.length, kept: track.line.length })
      : t(track.state === 'paused' ? 'track.paused' : 'track.recording', { n: track.points.length });
}

/** The small map (placemap.js): opened on the place, its point dragged or tapped becomes the place. */
let placeMap = null;
async function toggleMap() {
  const box = $('place-map');
  const button = $('map-toggle');
  if (placeMap || !box.hidden) {
    placeMap?.remove();
    placeMap = null;
    box.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.textContent = t('place.mapOpen');
    return;
  }
  const at = placeNow();
  if (!at) {
    showResult('error', () => t('inspect.needLocation'));
    return;
  }
  box.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  button.textContent = t('place.mapClose');
  try {
    placeMap = await openPlaceMap(box, at, { onMove: placeByHand, label: t('place.mapPoint') });
    placeMap.setSites(state.nearby.sites);
  } catch (error) {
    console.warn('place map', error);
    box.hidden = true;
    showResult('error', () => t('place.mapUnavailable'));
  }
}

/** The point moved on the map is the place: no fix, so no accuracy; its road and nearby sites follow. */
function placeByHand(p) {
  state.point = { lon: p.lon, lat: p.lat, accuracy_m: null, at: new Date().toISOString(), age_s: 0, source: 'map' };
  state.siteChoice = null;
  renderLocation();
  locateOnRoad(state.point, { force: true });
  refreshNearby({ force: true });
}

/** Asks the inspector to confirm a stale or coarse fix; false if they would rather wait for a better one. */
async function confirmFix({ accuracy_m: accuracy, age_s: age }) {
  const ok = await openDialog({
    id: 'confirm-fix',
    title: t('place.confirmTitle'),
    submitLabel: t('place.confirmOk'),
    content: h('p', {}, t('place.confirmText', { m: Math.round(accuracy ?? 0), age: Math.round(age) })),
  });
  return Boolean(ok);
}

function quality(accuracy) {
  if (accuracy == null) return 'none';
  if (accuracy <= ACCURACY_GOOD_M) return 'good';
  if (accuracy <= ACCURACY_FAIR_M) return 'fair';
  return 'poor';
}

const coordsText = (p) => `${p.lat.toFixed(6)}, ${p.lon.toFixed(6)}`;
const accuracyText = (p) => t('inspect.accuracy', { m: Math.round(p.accuracy_m) });

function toggleUseLocation() {
  if (state.point) {
    state.point = null;
    state.siteChoice = null;
  } else if (state.fix) {
    state.point = { ...state.fix, age_s: fixAgeS(state.fix) };
    placeMap?.setPoint(state.point);
  } else {
    showResult('error', () => t('inspect.needLocation'));
  }
  renderLocation();
  refreshNearby({ force: true });
}

function setEnd(which) {
  if (!state.fix) {
    showResult('error', () => t('inspect.needLocation'));
    return;
  }
  state.track = null; // a tapped end replaces a recorded track
  state[which] = { ...state.fix, age_s: fixAgeS(state.fix) };
  renderLocation();
  refreshNearby({ force: true });
}

/** The fix's accuracy and age, live: the age grows by the second while no new fix comes. */
function renderFixAge() {
  const box = $('loc-fix');
  const fix = state.fix;
  if (!fix) {
    box.textContent = '';
    return;
  }
  const age = fixAgeS(fix);
  const doubtful = needsConfirmation(fix.accuracy_m, age);
  box.textContent = `${fixText(fix)}${doubtful ? ` · ${t('place.stale')}` : ''}`;
  box.dataset.ageS = String(Math.floor(age));
  box.dataset.doubtful = String(doubtful);
}
setInterval(renderFixAge, 1000);

function renderLocation() {
  const fix = state.fix;
  renderFixAge();
  renderTrack();
  $('loc-dot').dataset.quality = quality(fix?.accuracy_m);
  if (fix) {
    $('loc-accuracy').textContent = t('inspect.accuracyShort', { m: Math.round(fix.accuracy_m) });
    $('loc-accuracy').dataset.accuracyM = String(Math.round(fix.accuracy_m));
    $('loc-coords').textContent = `${coordsText(fix)} · ${accuracyText(fix)}${fix.accuracy_m > ACCURACY_FAIR_M ? ` · ${t('inspect.accuracyPoor')}` : ''}`;
  } else {
    $('loc-accuracy').textContent = state.geoError ? '—' : t('inspect.locating');
    $('loc-coords').textContent = state.geoError ? t(state.geoError.key, state.geoError.vars) : '';
  }
  const isLine = state.kind === 'section' && !state.lookBack;
  $('point-block').hidden = isLine;
  $('section-block').hidden = !isLine;

  const use = $('use-location');
  use.textContent = state.point ? t('inspect.relocate') : t('inspect.useLocation');
  use.classList.toggle('btn-primary', !state.point);
  use.disabled = !state.point && !fix;
  const fixed = $('point-fixed');
  fixed.dataset.state = state.point ? 'set' : 'unset';
  fixed.classList.toggle('is-empty', !state.point);
  fixed.dataset.source = state.point?.source || '';
  fixed.textContent = state.point
    ? `✓ ${t('inspect.locationSet')}：${coordsText(state.point)}（${state.point.source === 'map' ? t('place.sourceMap') : accuracyText(state.point)}）`
    : fix ? `${t('inspect.notSet')}` : '';
  for (const which of ['start', 'end']) {
    const p = state[which];
    $(`${which}-text`).textContent = p
      ? `${coordsText(p)} ${t('inspect.accuracyShort', { m: Math.round(p.accuracy_m) })}`
      : t('inspect.notSet');
    $(`${which}-text`).dataset.state = p ? 'set' : 'unset';
    $(`set-${which}`).disabled = !fix;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kind, hazard types, checklist

function setKind(kind) {
  state.kind = kind;
  const groups = GROUPS_BY_KIND[kind];
  // Hazards of groups that do not apply to the new kind are dropped; the checklist is another template.
  for (const code of [...state.hazards]) {
    const ht = state.hazardTypes.find((x) => x.code === code);
    if (ht && !groups.includes(ht.group)) state.hazards.delete(code);
  }
  state.checklist.clear();
  state.siteChoice = null;
  renderLocation();
  renderHazards();
  renderChecklist();
  refreshNearby({ force: true });
}

function templateFor(kind) {
  return state.templates.find((tpl) => (tpl.site_kinds || []).includes(kind));
}

function renderHazards() {
  const groups = GROUPS_BY_KIND[state.kind];
  const container = $('hazard-groups');
  if (!state.hazardTypes.length) {
    fill(container, h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  fill(container, groups.map((group) => {
    const types = state.hazardTypes.filter((ht) => ht.group === group);
    if (!types.length) return null;
    return h('div', { class: 'hazard-group', dataset: { group } },
      h('h3', {}, tCode('group', group)),
      h('div', { class: 'chip-toggles' }, types.map((ht) => h('label', { class: 'chip-toggle' },
        h('input', {
          type: 'checkbox', name: 'hazard', value: ht.code, checked: state.hazards.has(ht.code),
          onchange: (e) => {
            if (e.target.checked) state.hazards.add(ht.code);
            else state.hazards.delete(ht.code);
          },
        }),
        h('span', {}, localName(ht))))));
  }));
}

function renderChecklist() {
  const template = templateFor(state.kind);
  $('checklist-title').textContent = t('inspect.checklist', { name: template ? localName(template) : '' });
  const container = $('checklist-items');
  if (!template) {
    fill(container, h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  fill(container, template.items.map((item) => h('div', { class: 'check-item', dataset: { item: item.code } },
    h('div', { class: 'check-item-name' }, localName(item)),
    h('div', { class: 'choice', role: 'radiogroup', 'aria-label': localName(item) }, ITEM_STATES.map((s) => h('label', {},
      h('input', {
        type: 'radio', name: `item-${item.code}`, value: s, checked: state.checklist.get(item.code) === s,
        // A second tap on the chosen state clears it ("not checked"), which a plain radio cannot do.
        onclick: (e) => {
          if (state.checklist.get(item.code) === s) {
            e.target.checked = false;
            state.checklist.delete(item.code);
          } else {
            state.checklist.set(item.code, s);
          }
        },
      }),
      h('span', {}, tCode('item', s))))))));
}

// ---------------------------------------------------------------------------------------------------------
// Photos

function onPhotosPicked(e) {
  const max = state.settings.photos_per_observation_max;
  const bytesMax = state.settings.photo_bytes_max;
  // Photos are resized on the phone (photos.js) unless the county wants them as taken; only an original can
  // be too large for the server.
  const requireOriginals = Boolean(state.settings.require_original_photos);
  const problems = [];
  for (const file of e.target.files) {
    if (!['image/jpeg', 'image/png'].includes(file.type)) {
      problems.push(t('inspect.photoType', { name: file.name }));
    } else if (requireOriginals && file.size > bytesMax) {
      problems.push(t('inspect.photoTooLarge', { name: file.name, mb: Math.floor(bytesMax / 1024 / 1024) }));
    } else if (state.photos.length >= max) {
      problems.push(t('inspect.tooManyPhotos', { max }));
      break;
    } else {
      // Resizing and reading the EXIF start now, while the inspector fills in the rest.
      const prepared = preparePhoto(file, { requireOriginals });
      prepared.catch(() => {});
      state.photos.push({ file, url: URL.createObjectURL(file), prepared });
    }
  }
  e.target.value = ''; // so that the same file can be picked again after removing it
  if (problems.length) showResult('error', () => problems.join('；'));
  renderPhotos();
}

function renderPhotos() {
  $('photo-count').textContent = t('inspect.photoCount', { n: state.photos.length, max: state.settings.photos_per_observation_max });
  $('photo-count').dataset.count = String(state.photos.length);
  fill($('photo-previews'), state.photos.map((photo, i) => h('div', { class: 'photo-preview' },
    h('img', { src: photo.url, alt: photo.file.name }),
    h('button', {
      type: 'button',
      'aria-label': t('common.delete'),
      onclick: () => {
        URL.revokeObjectURL(photo.url);
        state.photos.splice(i, 1);
        renderPhotos();
      },
    }, '×'))));
}

// ---------------------------------------------------------------------------------------------------------
// Submit

/** A chosen point's age is its fix's age when chosen; the live fix's is its age now. Taken back from the
 * outbox (no time kept), it counts as confirmed already. */
function pointAgeS(p) {
  if (p.age_s != null) return p.age_s;
  return p.t ? fixAgeS(p) : 0;
}

function geometryOrProblem() {
  if (state.kind === 'section' && !state.lookBack) {
    if (!state.start || !state.end) return { problem: t('inspect.needStartEnd') };
    if (state.start.lon === state.end.lon && state.start.lat === state.end.lat) return { problem: t('inspect.sameStartEnd') };
    if (state.track?.state === 'done') {
      return {
        geometry: { type: 'LineString', coordinates: state.track.line.map((p) => [p.lon, p.lat]) },
        accuracy_m: state.start.accuracy_m,
        age_s: 0,
        anchor: state.start,
      };
    }
    return {
      geometry: { type: 'LineString', coordinates: [[state.start.lon, state.start.lat], [state.end.lon, state.end.lat]] },
      accuracy_m: Math.max(state.start.accuracy_m, state.end.accuracy_m),
      age_s: Math.max(pointAgeS(state.start), pointAgeS(state.end)),
      anchor: state.start,
    };
  }
  const p = state.point || state.fix;
  if (!p) return { problem: t('inspect.needLocation') };
  return {
    geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, accuracy_m: p.accuracy_m, age_s: pointAgeS(p), anchor: p,
    source: p.source || 'gps',
  };
}

/** The photo's SHA-256 in hex, or null where Web Crypto is missing (not a secure context). */
async function sha256Hex(blob) {
  if (!crypto.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function submit() {
  if (state.sending) return;
  clearResult();
  const where = geometryOrProblem();
  const roadCode = $('road-code').value.trim().toUpperCase();
  const stake = $('stake').value.trim().toUpperCase();
  const problems = [];
  if (where.problem) problems.push(where.problem);
  $('road-code').setAttribute('aria-invalid', String(Boolean(roadCode) && !ROAD_CODE.test(roadCode)));
  $('stake').setAttribute('aria-invalid', String(Boolean(stake) && !STAKE.test(stake)));
  const lookBack = state.lookBack;
  if (lookBack) {
    problems.push(...lookBackProblems({
      result: lookBack.result, photos: state.photos.length, checklist: state.checklist, notes: $('notes').value.trim(),
    }));
  } else {
    if (roadCode && !ROAD_CODE.test(roadCode)) problems.push(t('inspect.badRoad'));
    if (stake && !STAKE.test(stake)) problems.push(t('inspect.badStake'));
  }
  if (problems.length) {
    showResult('error', () => problems.join('；'));
    return;
  }

  // A stale or coarse fix is used only once the inspector says it is the place; the observation says so.
  // A point placed by hand on the map is no fix: the inspector chose it.
  const confirmNeeded = where.source !== 'map' && needsConfirmation(where.accuracy_m, where.age_s);
  if (confirmNeeded && !(await confirmFix(where))) return;
  // A repeat visit names its site, so that a poor fix or a few metres more do not open a duplicate.
  if (!lookBack && !(await askRepeatVisit(where.anchor))) return;
  // A record that would not fit on the phone is refused here, while the draft still holds it.
  const bytes = state.photos.reduce((n, p) => n + (photoBlob(p)?.size || 0), 0);
  state.room = await storage.room(typicalPhotoBytes());
  renderRoom();
  if (!storage.fits(state.room, bytes)) {
    showResult('error', () => t('inspect.storageFull'), { storage: 'full' });
    return;
  }

  setSending(true);
  const id = state.draftId;
  // While this submission is under way, the outbox flush leaves its record alone.
  state.inFlight.add(id);
  try {
    // The photos as they will be sent (resized, photos.js), read into Blobs now: a camera's File may not
    // outlive the page. Each keeps what its original's EXIF said (`photo_evidence`).
    const photos = await Promise.all(state.photos.map(async ({ file, prepared }) => {
      const p = await (prepared || preparePhoto(file, { requireOriginals: Boolean(state.settings.require_original_photos) }));
      return { name: p.name, type: p.type, blob: new Blob([await p.blob.arrayBuffer()], { type: p.type }), evidence: p.evidence };
    }));
    const observation = {
      id,
      kind: state.kind,
      geometry: where.geometry,
      accuracy_m: where.accuracy_m == null ? null : Math.round(where.accuracy_m * 10) / 10,
      observed_at: new Date().toISOString(),
      hazard_types: lookBack ? [] : [...state.hazards].sort(),
      checklist: Object.fromEntries(state.checklist),
      notes: $('notes').value.trim(),
      road_code: lookBack ? null : roadCode || null,
      stake: lookBack ? null : stake || null,
      source_crs: 'wgs84',
      // Lets the server refuse a photo cut short in transit instead of storing half a picture.
      photo_sha256: await Promise.all(photos.map((p) => sha256Hex(p.blob))),
    };
    if (observation.photo_sha256.includes(null)) delete observation.photo_sha256;
    if (photos.length) observation.photo_evidence = photos.map((p) => p.evidence || {});
    observation.location_source = where.source || 'gps';
    if (confirmNeeded) observation.location_confirmed = true;
    if (!lookBack && state.siteChoice && state.siteChoice !== 'new') observation.site_id = state.siteChoice.id;
    if (lookBack) observation.look_back = { site_id: lookBack.target.site_id, result: lookBack.result };
    const me = currentUser();
    const record = {
      id: observation.id,
      observation,
      photos,
      user_id: me.id,
      user_name: me.display_name,
      // Shown in the outbox; the server knows the site by its id.
      look_back_code: lookBack ? lookBack.target.site_code : null,
      queued_at: new Date().toISOString(),
      attempts: 0,
      next_at: 0,
      last_error: null,
      rejected: null,
      conflict: null,
    };
    let stored = true;
    try {
      await outbox.put(record);
    } catch (error) {
      stored = false;
      console.warn('outbox', error);
    }
    await refreshOutbox();

    const outcome = await send(record);
    if (outcome.kind === 'sent') {
      await outbox.remove(record.id).catch(() => {});
      showSuccess(outcome.body);
      resetDraft();
    } else if (outcome.kind === 'rejected') {
      // Nothing was recorded: the inspector fixes the form and submits the same draft (same id) again.
      await outbox.remove(record.id).catch(() => {});
      showResult('error', () => t('inspect.error', { detail: outcome.detail }), { status: outcome.status });
    } else if (stored && outcome.kind === 'unauthorized') {
      await settle(record, outcome).catch(() => {});
      showResult('signin', () => [t('inspect.queuedSignIn'), ' ', signInLink()]);
      resetDraft();
    } else if (stored) {
      // A network failure waits its turn; a 409 waits for the inspector's choice in the outbox.
      await settle(record, outcome).catch(() => {});
      showResult('queued', () => t(outcome.kind === 'conflict' ? 'inspect.queuedConflict' : 'inspect.queued'));
      resetDraft();
    } else {
      showResult('error', () => `${t('inspect.error', { detail: outcome.detail })}；${t('inspect.storageError', { detail: 'IndexedDB' })}`);
    }
  } finally {
    state.inFlight.delete(id);
    setSending(false);
    await refreshOutbox();
  }
}

/** The record may be sent now: it was queued under the signed-in account (or before accounts existed). */
function isMine(record) {
  return !record.user_id || record.user_id === currentUser()?.id;
}

/** The API token to send `record` with: the one kept on this phone, if it belongs to the record's account. */
function bearerFor(record) {
  const stored = deviceToken();
  if (!stored) return null;
  const owner = record.user_id || currentUser()?.id;
  return stored.user_id === owner ? stored.token : null;
}

/**
 * Sends one outbox record. `sent` on 200/201 (201 new, 200 a replay of the same id and content);
 * `rejected` on a 4xx that sending again cannot fix; `unauthorized` on 401 (sign in again, then it goes);
 * `retry` on network failures, 5xx, 408 and 429; `not_mine` when it waits for another account.
 */
async function send(record) {
  const bearer = bearerFor(record);
  if (!bearer && !isMine(record)) return { kind: 'not_mine' };
  // Records queued before accounts existed carry the inspector's name, which the server now refuses: the
  // account says who it was.
  const { inspector, ...observation } = record.observation;
  const form = new FormData();
  form.append('observation', new Blob([JSON.stringify(observation)], { type: 'application/json' }));
  record.photos.forEach((p, i) => {
    const ext = p.type === 'image/png' ? 'png' : 'jpg';
    form.append('photo', p.blob, p.name || `photo-${i + 1}.${ext}`);
  });
  let response;
  let usedBearer = Boolean(bearer);
  // Up and down within a time that grows with the photos' bytes; progress shown in the outbox.
  const timeout = outbox.timeoutMs(outbox.recordBytes(record));
  const onProgress = (loaded, total) => {
    state.progress.set(record.id, { loaded, total });
    state.progressEvents += 1;
    renderProgress(record.id);
  };
  const post = async (withBearer, csrf) => outbox.upload('/api/v1/observations', form, { bearer: withBearer, csrf, timeout, onProgress });
  try {
    const csrf = (await session()).csrfToken;
    response = await post(bearer, csrf);
    if (response.status === 401 && bearer && isMine(record)) {
      // The token was revoked; the session may still be good.
      usedBearer = false;
      response = await post(null, csrf);
    }
    if (response.status === 403 && !usedBearer) {
      // Perhaps a stale CSRF token (signed in again in another tab): once more with the current one.
      const fresh = await fetchSession().catch(() => null);
      if (fresh && fresh.csrfToken !== csrf) response = await post(null, fresh.csrfToken);
    }
  } catch (error) {
    const timedOut = /longer than/.test(error?.message || '');
    return { kind: 'retry', detail: timedOut ? t('inspect.outboxTimeout') : t('common.networkError') };
  }
  if (response.status === 401) {
    const detail = await readResponse(response).catch((error) => error.detail);
    state.authProblem = { bearer: usedBearer, detail };
    return { kind: 'unauthorized', detail: usedBearer ? t('inspect.tokenRefused') : t('inspect.signInShort') };
  }
  state.authProblem = null;
  try {
    return { kind: 'sent', body: await readResponse(response) };
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 0;
    // A refusal by a named rule (a look-back too far from its site…) in the inspector's language.
    const detail = error.body?.code ? explain(error) : error.detail || error.message;
    if (status === 409) return { kind: 'conflict', status, detail };
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'rejected', status, detail };
    return { kind: 'retry', detail };
  }
}

function showSuccess(body) {
  const site = body.site?.properties || {};
  const match = body.observation?.site_match;
  if (match === 'look_back') {
    const relapse = body.observation.look_back_result === 'relapse';
    showResult('success', () => [
      h('strong', {}, t(relapse ? 'lookBack.sentRelapse' : 'lookBack.sentPass', { code: site.code || '' })), ' · ',
      h('a', { href: `/site.html?id=${encodeURIComponent(body.site.id)}` }, t('lookBack.viewSite')),
    ], { siteCode: site.code || '', siteMatch: match });
    return;
  }
  const coords = body.site?.geometry?.type === 'Point' ? body.site.geometry.coordinates : body.observation?.geometry?.coordinates?.[0];
  showResult('success', () => [
    h('strong', {}, t('inspect.success', { code: site.code || '' })), h('br'),
    match === 'joined' ? t('inspect.joined', { n: site.observation_count }) : t('inspect.opened'),
    coords ? [' · ', h('a', { href: `/#16/${coords[1]}/${coords[0]}` }, t('inspect.viewOnMap'))] : null,
  ], { siteCode: site.code || '', siteMatch: match || '' });
}

function resetDraft() {
  // A look-back sent or queued is done on this phone: its task leaves the list.
  if (state.lookBack) {
    const done = state.lookBack.target.site_id;
    state.lookBackTasks = state.lookBackTasks.filter((task) => task.site_id !== done);
    state.lookBack = null;
    if (new URLSearchParams(location.search).has('look_back')) history.replaceState(null, '', location.pathname);
  }
  state.draftId = newId();
  state.siteChoice = null;
  state.track = null;
  if (placeMap) toggleMap();
  draft.clear();
  state.point = null;
  state.start = null;
  state.end = null;
  state.hazards.clear();
  state.checklist.clear();
  for (const photo of state.photos) URL.revokeObjectURL(photo.url);
  state.photos = [];
  $('notes').value = '';
  $('stake').value = '';
  renderAll();
  window.scrollTo({ top: 0, behavior: 'smooth' });
}

function setSending(sending) {
  state.sending = sending;
  const button = $('submit');
  button.disabled = sending || !canRecord();
  button.textContent = sending ? t('inspect.sending') : t('inspect.submit');
  document.body.dataset.sending = String(sending);
}

function showResult(resultState, render, data = {}) {
  state.result = { state: resultState, render, data };
  renderResult();
}

function clearResult() {
  state.result = null;
  renderResult();
}

function renderResult() {
  const el = $('result');
  if (!state.result) {
    el.hidden = true;
    el.removeAttribute('data-state');
    return;
  }
  el.hidden = false;
  el.dataset.state = state.result.state;
  el.dataset.siteCode = state.result.data.siteCode || '';
  el.dataset.siteMatch = state.result.data.siteMatch || '';
  fill(el, state.result.render());
}

// ---------------------------------------------------------------------------------------------------------
// Outbox
//
// Each record waits on its own schedule (outbox.backoffMs: 5 s doubling to 30 min, ±30 %), and a flush sends
// every record that is due, two at a time, whatever happened to the others: a record that always fails
// (a "poison" record) only pushes its own next try further out. A 409 (the server holds other content under
// the record's id) is set aside for the inspector: compare, then send the phone's as a new observation, or
// drop it. A new page, coming back online and "retry now" try every waiting record at once.

const SEND_CONCURRENCY = 2;
/** While offline, how often to look again (the browser's `online` event is not always fired). */
const OFFLINE_POLL_MS = 5_000;
let flushing = null;
let flushAgain = false;
let forceNext = false;
let forceAt = 0;
let retryTimer = null;

/** Sends the records that are due (with `force`, also those not tried since). One run at a time; a call
 * during a run makes another run after it. */
function flushOutbox({ force = false } = {}) {
  if (force) {
    forceNext = true;
    forceAt = Date.now();
  }
  if (flushing) {
    flushAgain = true;
    return flushing;
  }
  flushing = (async () => {
    do {
      flushAgain = false;
      const forced = forceNext;
      forceNext = false;
      await doFlush(forced);
    } while (flushAgain);
  })().catch((error) => console.warn('outbox flush', error)).finally(() => {
    flushing = null;
    scheduleRetry();
  });
  return flushing;
}

/** A record that waits for the network (not refused, not in conflict, sendable under this account). */
function isWaiting(record) {
  return !record.rejected && !record.conflict && (isMine(record) || Boolean(bearerFor(record)));
}

async function doFlush(force) {
  // The browser knows it has no network at all: a try would fail at once and only lengthen the backoff.
  if (navigator.onLine === false) {
    await refreshOutbox();
    return;
  }
  const now = Date.now();
  // Forced ("retry now", back online, a new page): every record not tried since then, whatever its backoff.
  const due = (await outbox.all()).filter((r) => isWaiting(r) && !state.inFlight.has(r.id)
    && (!(r.next_at > now) || (force && !(r.tried_at >= forceAt))));
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const record = due[next];
      next += 1;
      await sendQueued(record);
    }
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, worker));
  await refreshOutbox();
}

/** Sends one queued record and writes down what came of it. */
async function sendQueued(record) {
  // The form's own submission, or the inspector, may have dealt with it meanwhile.
  if (!(await outbox.get(record.id)) || state.inFlight.has(record.id)) return;
  state.inFlight.add(record.id);
  renderOutbox();
  let outcome;
  try {
    outcome = await send(record);
  } finally {
    state.inFlight.delete(record.id);
    state.progress.delete(record.id);
  }
  await settle(record, outcome);
}

/** Records the outcome of sending `record`: gone when sent, set aside when refused or in conflict, else
 * its next try scheduled. */
async function settle(record, outcome) {
  if (outcome.kind === 'sent') {
    await outbox.remove(record.id);
    state.sentLog.unshift({ code: outcome.body.site?.properties?.code || '', at: new Date().toISOString() });
    state.sentLog = state.sentLog.slice(0, 5);
    return;
  }
  if (outcome.kind === 'not_mine') return;
  // Deleted by the inspector while it was on its way: not brought back.
  if (!(await outbox.get(record.id))) return;
  if (outcome.kind === 'rejected') {
    record.rejected = { status: outcome.status, detail: outcome.detail };
  } else if (outcome.kind === 'conflict') {
    record.conflict = { detail: outcome.detail, at: new Date().toISOString() };
  } else {
    record.attempts = (record.attempts || 0) + 1;
    record.last_error = outcome.detail;
    record.needs_signin = outcome.kind === 'unauthorized';
    record.tried_at = Date.now();
    record.next_at = record.tried_at + outbox.backoffMs(record.attempts);
    if (record.needs_signin) showResult('signin', () => [t('inspect.signInAgain'), ' ', signInLink()]);
    pwa.requestSync();
  }
  await outbox.put(record);
}

/** One timer for the earliest record due. */
function scheduleRetry() {
  clearTimeout(retryTimer);
  const waiting = state.outbox.filter((r) => isWaiting(r) && !state.inFlight.has(r.id));
  if (!waiting.length) return;
  const earliest = Math.min(...waiting.map((r) => r.next_at || 0));
  const wait = navigator.onLine === false ? OFFLINE_POLL_MS : Math.max(1000, earliest - Date.now());
  retryTimer = setTimeout(() => flushOutbox(), wait);
}

async function refreshOutbox() {
  try {
    state.outbox = await outbox.all();
  } catch (error) {
    console.warn('outbox', error);
    state.outbox = [];
  }
  renderOutbox();
  refreshRoom();
}

function recordState(r) {
  if (r.rejected) return 'rejected';
  if (r.conflict) return 'conflict';
  if (state.inFlight.has(r.id)) return 'sending';
  return 'waiting';
}

function renderOutbox() {
  const n = state.outbox.length;
  const badge = $('outbox-count');
  badge.dataset.count = String(n);
  badge.textContent = t('inspect.outbox', { n });
  $('card-outbox').hidden = n === 0 && state.sentLog.length === 0;
  $('outbox-retry').hidden = n === 0;
  const banner = $('outbox-signin');
  banner.hidden = !(state.authProblem && n > 0);
  if (!banner.hidden) {
    fill(banner, state.authProblem.bearer ? t('inspect.tokenRefused') : t('inspect.signInAgain'), ' ', signInLink());
  }
  fill($('outbox-list'), n === 0
    ? h('li', { class: 'muted' }, t('inspect.outboxEmpty'))
    : state.outbox.map((r) => {
      const recState = recordState(r);
      const progress = state.progress.get(r.id);
      return h('li', { dataset: { id: r.id, state: recState, attempts: String(r.attempts || 0), nextAt: String(r.next_at || 0) } },
        h('div', {},
          h('strong', {}, r.observation.look_back
            ? t('lookBack.outboxLabel', { code: r.look_back_code || '', result: t(`lookBack.${r.observation.look_back.result}`) })
            : tCode('kind', r.observation.kind)),
          ' · ', formatDateTime(r.observation.observed_at),
          ' · ', t('inspect.photoN', { n: r.photos.length })),
        h('div', { class: r.rejected || r.conflict ? 'error small' : 'muted small' }, outboxLine(r)),
        recState === 'sending' ? h('progress', {
          class: 'outbox-progress', max: String(progress?.total || 1), value: progress ? String(progress.loaded) : null,
          'aria-label': t('inspect.outboxSending'),
        }) : null,
        h('div', { class: 'outbox-actions' },
          r.rejected && isMine(r) ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => editRecord(r) }, t('inspect.outboxEdit')) : null,
          r.conflict ? h('button', { type: 'button', class: 'btn btn-small btn-primary outbox-as-new', onclick: () => resolveConflict(r) }, t('inspect.conflictAsNew')) : null,
          h('button', { type: 'button', class: 'btn btn-small outbox-delete', onclick: () => deleteRecord(r) }, t('common.delete'))));
    }));
  fill($('outbox-log'), state.sentLog.map((s, i) => [i ? h('br') : null, t('inspect.outboxSent', { code: s.code })]));
  $('outbox-log').dataset.sentCodes = state.sentLog.map((s) => s.code).join(',');
}

/** Upload progress of a record being sent, without redrawing the list. */
function renderProgress(id) {
  const bar = document.querySelector(`#outbox-list li[data-id="${CSS.escape(id)}"] .outbox-progress`);
  const p = state.progress.get(id);
  if (!bar || !p) return;
  bar.max = p.total || 1;
  bar.value = p.loaded;
  bar.closest('li').dataset.progress = String(p.total ? Math.round((100 * p.loaded) / p.total) : 0);
}

function outboxLine(r) {
  if (r.rejected) return t('inspect.outboxRejected', { detail: r.rejected.detail });
  if (r.conflict) return t('inspect.outboxConflict');
  if (!isMine(r) && !bearerFor(r)) return t('inspect.outboxOtherUser', { name: r.user_name || '' });
  if (r.needs_signin) return t('inspect.outboxNeedsSignIn');
  if (state.inFlight.has(r.id)) return t('inspect.outboxSending');
  const when = r.next_at > Date.now() ? t('inspect.outboxNextTry', { s: Math.ceil((r.next_at - Date.now()) / 1000) }) : '';
  return `${t('inspect.outboxWaiting')}${r.last_error ? `（${r.last_error}）` : ''}${when ? ` · ${when}` : ''}`;
}

/** "Sign in again", coming back to this page, where the outbox is sent on load. */
function signInLink() {
  return h('a', { href: loginUrl('/inspect.html'), class: 'signin-link', id: 'signin-link' }, t('inspect.signInLink'));
}

async function deleteRecord(record) {
  const sure = await confirmDialog({
    title: t('inspect.deleteQueuedTitle'),
    message: t('inspect.deleteQueuedMessage', { kind: tCode('kind', record.observation.kind), n: record.photos.length }),
    confirmLabel: t('common.delete'),
    danger: true,
    id: 'confirm-delete-queued',
  });
  if (!sure) return;
  await outbox.remove(record.id);
  await refreshOutbox();
}

/** The parts of an observation an inspector tells apart, for the two copies side by side. */
function observationSummary(o, photos) {
  const row = (key, value) => h('tr', {}, h('th', { scope: 'row' }, t(key)), h('td', {}, value == null || value === '' ? '—' : String(value)));
  return [
    row('inspect.kind', tCode('kind', o.kind)),
    row('inspect.conflictTime', o.observed_at ? formatDateTime(o.observed_at) : null),
    row('inspect.hazards', (o.hazard_types || []).map((c) => localName(state.hazardTypes.find((x) => x.code === c) || { name: c })).join('、')),
    row('inspect.notes', o.notes),
    row('inspect.photos', photos),
  ];
}

/** A 409: the server's copy beside the phone's; the phone's may go as a new observation (new id). */
async function resolveConflict(record) {
  let server = null;
  try {
    const response = await apiFetch(`/api/v1/observations/${encodeURIComponent(record.id)}`, { bearer: bearerFor(record), loginRedirect: false });
    if (response.ok) server = await response.json();
  } catch {
    // No signal: the phone's copy alone.
  }
  const so = server?.observation?.properties || server?.observation || null;
  const table = (caption, rows) => h('table', { class: 'conflict-copy' }, h('caption', {}, caption), h('tbody', {}, rows));
  const answer = await openDialog({
    id: 'conflict-dialog',
    wide: true,
    title: t('inspect.conflictTitle'),
    content: [
      h('p', {}, t('inspect.conflictExplain')),
      h('div', { class: 'conflict-copies' },
        table(t('inspect.conflictServer'), so
          ? [...observationSummary(so, (server.photos || []).length),
            server.site?.properties?.code ? h('tr', {}, h('th', { scope: 'row' }, t('inspect.conflictSite')), h('td', {}, server.site.properties.code)) : null]
          : h('tr', {}, h('td', {}, t('inspect.conflictServerUnseen')))),
        table(t('inspect.conflictPhone'), observationSummary(record.observation, record.photos.length))),
    ],
    submitLabel: t('inspect.conflictAsNew'),
  });
  if (answer !== true) return;
  await sendAsNew(record);
}

/** Queues the phone's copy again under a new id (the old id stays the server's), then sends it. */
async function sendAsNew(record) {
  const id = newId();
  const fresh = {
    ...record,
    id,
    observation: { ...record.observation, id },
    replaces: record.id,
    conflict: null,
    rejected: null,
    attempts: 0,
    next_at: 0,
    last_error: null,
  };
  await outbox.put(fresh);
  await outbox.remove(record.id);
  await refreshOutbox();
  await flushOutbox({ force: true });
}

// ---------------------------------------------------------------------------------------------------------
// Storage: room left for the outbox, asked for persistence once

let roomTimer = null;

/** Shows how many more photos fit, and warns before the quota is reached (at most once a second). */
function refreshRoom() {
  clearTimeout(roomTimer);
  roomTimer = setTimeout(async () => {
    state.room = await storage.room(typicalPhotoBytes());
    renderRoom();
  }, 200);
}

/** The mean size of the photos queued or picked, or a typical resized photo when there are none. */
function typicalPhotoBytes() {
  const sizes = [
    ...state.outbox.flatMap((r) => r.photos.map((p) => p.blob?.size || 0)),
    ...state.photos.map((p) => photoBlob(p)?.size || 0),
  ].filter((n) => n > 0);
  return sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : storage.PHOTO_BYTES_TYPICAL;
}

function renderRoom() {
  const line = $('storage-room');
  const warning = $('storage-warning');
  const room = state.room;
  line.hidden = !room;
  warning.hidden = !room?.warn;
  if (!room) return;
  line.textContent = t('inspect.storageRoom', { n: room.photos });
  line.dataset.photos = String(room.photos);
  if (room.warn) warning.textContent = t('inspect.storageLow', { n: room.photos });
}

// ---------------------------------------------------------------------------------------------------------
// Draft: kept in IndexedDB as it is edited (draft.js)

function draftSnapshot() {
  return {
    id: state.draftId,
    kind: state.kind,
    hazards: [...state.hazards],
    checklist: [...state.checklist],
    point: state.point,
    start: state.start,
    end: state.end,
    // Whatever the photo part keeps per photo (draft.js leaves out the page's object URL).
    photos: state.photos,
    notes: $('notes').value,
    road_code: $('road-code').value,
    stake: $('stake').value,
    look_back: state.lookBack,
    saved_at: new Date().toISOString(),
  };
}

let draftReady = false;

/** The picture of a photo as the page holds it (`file`, or a `blob` made from it). */
function photoBlob(photo) {
  if (photo?.file instanceof Blob) return photo.file;
  return photo?.blob instanceof Blob ? photo.blob : null;
}

/** Whether anything was entered beyond the kind (an empty draft is not kept). */
function draftIsEmpty() {
  return !state.hazards.size && !state.checklist.size && !state.photos.length && !state.point && !state.start
    && !state.end && !state.lookBack && !$('notes').value.trim() && !$('road-code').value.trim() && !$('stake').value.trim();
}

function saveDraft() {
  if (!draftReady) return;
  if (draftIsEmpty()) draft.clear();
  else draft.schedule(draftSnapshot);
}

/** Brings back the draft kept before a reload, a discarded tab or a restart, then keeps every edit. */
async function restoreDraft() {
  const d = await draft.load();
  if (d && d.id) {
    state.draftId = d.id;
    if (GROUPS_BY_KIND[d.kind]) {
      state.kind = d.kind;
      for (const input of document.querySelectorAll('input[name=kind]')) input.checked = input.value === d.kind;
    }
    state.hazards = new Set(d.hazards || []);
    state.checklist = new Map(d.checklist || []);
    state.point = d.point || null;
    state.start = d.start || null;
    state.end = d.end || null;
    state.lookBack = d.look_back || null;
    state.photos = (d.photos || []).filter(photoBlob).map((p) => ({ ...p, url: URL.createObjectURL(photoBlob(p)) }));
    $('notes').value = d.notes || '';
    $('road-code').value = d.road_code || '';
    $('stake').value = d.stake || '';
    document.body.dataset.draftRestored = 'true';
    renderAll();
  }
  draftReady = true;
  const form = $('form');
  for (const type of ['input', 'change', 'click']) form.addEventListener(type, saveDraft);
  // Photos may be added after some work (resizing): their previews appearing is the sign.
  new MutationObserver(saveDraft).observe($('photo-previews'), { childList: true });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      saveDraft();
      draft.flush();
    }
  });
  window.addEventListener('pagehide', () => { saveDraft(); draft.flush(); });
}

/** Takes a record the server refused back into the form (same id: nothing was recorded under it). */
async function editRecord(record) {
  const o = record.observation;
  await outbox.remove(record.id);
  state.draftId = o.id;
  for (const input of document.querySelectorAll('input[name=kind]')) input.checked = input.value === o.kind;
  state.kind = o.kind;
  state.lookBack = o.look_back ? {
    target: state.lookBackTasks.find((task) => task.site_id === o.look_back.site_id)
      || { site_id: o.look_back.site_id, site_code: record.look_back_code || '', kind: o.kind, geometry: null },
    result: o.look_back.result,
  } : null;
  state.hazards = new Set(o.hazard_types);
  state.checklist = new Map(Object.entries(o.checklist || {}));
  const pos = (c) => ({ lon: c[0], lat: c[1], accuracy_m: o.accuracy_m ?? 0, at: o.observed_at });
  if (o.geometry.type === 'LineString') {
    state.start = pos(o.geometry.coordinates[0]);
    state.end = pos(o.geometry.coordinates[o.geometry.coordinates.length - 1]);
  } else {
    state.point = pos(o.geometry.coordinates);
  }
  $('notes').value = o.notes || '';
  $('road-code').value = o.road_code || '';
  $('stake').value = o.stake || '';
  // Already prepared: sent again as queued, with the evidence read from the originals.
  state.photos = record.photos.map((p, i) => {
    const file = new File([p.blob], p.name, { type: p.type });
    const evidence = p.evidence || o.photo_evidence?.[i] || {};
    return { file, url: URL.createObjectURL(file), prepared: Promise.resolve({ blob: file, name: p.name, type: p.type, evidence }) };
  });
  showResult('error', () => t('inspect.error', { detail: record.rejected?.detail || '' }));
  renderAll();
  window.scrollTo({ top: 0, behavior: 'smooth' });
}

function renderOnline() {
  $('offline-flag').hidden = navigator.onLine !== false;
}

function renderAll() {
  setSending(state.sending);
  renderLookBack();
  renderLocation();
  renderNearby();
  renderHazards();
  renderChecklist();
  renderPhotos();
  renderOutbox();
  renderResult();
  renderInspector();
  renderSettings();
  renderOfflineMap(townTiles.status());
}
