// The map page (office and traffic police view): the whole jurisdiction from vector tiles, coloured by
// closure status, filtered the way the police work, with a side panel for one site.
//
// - Sites come from `/tiles/sites/{z}/{x}/{y}.mvt`: below the server's feature zoom a tile holds grid cells
//   with counts per status (drawn as circles sized by count, coloured by the commonest status, with the count
//   written in); from it on, one feature per site. Towns and roads are tiles too.
// - The filter (mapfilter.js) goes to the server with every tile and count request, so the cells, the
//   legend and the exports all follow it; the view, the filter, the layers and the base map live in the
//   address, so a shared link opens the same map.
// - Base maps (basemaps.js): none, the server's (Tianditu, XYZ services) or the user's own XYZ URL. Over a
//   GCJ-02 base map our tiles are asked for with `crs=gcj02` and the server shifts them.
// - Nothing is fetched from the internet unless a base map says so: no glyphs and no sprite. Town names and
//   cell counts are drawn by the browser (its own CJK fonts) onto small canvases and placed as icons.
//
// For tests: window.roadledger = { map, ready, idle(), filter(), setFilter(), openSite(code),
// renderedSites(), renderedCells(), counts() }.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { STATUS_COLOUR, getJson, h, fill, debounce, hasRole } from './common.js';
import { boot } from './boot.js';
import { t, tCode, localName, onLangChange, formatDateTime } from './i18n.js';
import {
  LAYERS, emptyFilter, readFilter, readView, filterQuery, pageQuery, activeFilterCount, parseFigure,
} from './mapfilter.js';
import { periodTitle } from './periods.js';
import { baseMapChoices, baseMapStyle, choiceLabel, tileCrs, validXyzUrl } from './basemaps.js';
import { wgs84ToGcj02 } from './coords.js';
import { renderSitePanel, renderSitePanelMessage } from './sitepanel.js';
import { foundByData, loadCrashes, crashSection } from './sitecrashes.js';

/** The server's feature zoom when its settings do not say (src/db/tiles.rs FEATURE_ZOOM). */
const FEATURE_ZOOM_DEFAULT = 13;
/** Site tiles are asked for up to this zoom and drawn larger from it (a z16 tile is exact to centimetres). */
const SITES_MAX_ZOOM = 16;
/** Towns and roads tiles stop here; deeper zooms draw them from z14 tiles. */
const BACKGROUND_MAX_ZOOM = 14;
/** Zhangjiagang, for an empty database. */
const DEFAULT_CENTER = [120.55, 31.87];
const EMPTY = { type: 'FeatureCollection', features: [] };
/** The user's own XYZ base map, kept on this browser. */
const CUSTOM_BASE_KEY = 'roadledger.map.customBase';

const ROAD_COLOUR = ['match', ['get', 'class'], 'G', '#e0533d', 'S', '#f39c3c', 'X', '#f0c93a', '#a9a9a9'];
const TOWN_FILLS = ['#dfe9d8', '#e8e2d2', '#d8e4ea', '#eadbe0', '#e3e8d0', '#dcdcec'];
const SITE_LAYERS = ['sites-point', 'sites-section'];
const CELL_LAYER = 'cells';
/** The candidates layer (候选点段): black spots and detections waiting for a dispatcher, for the roles that
 * read the queue; off unless the address says `candidates=1`. */
const CANDIDATE_LAYERS = ['candidates-crash', 'candidates-detection'];
const CANDIDATE_READERS = ['dispatcher', 'reviewer', 'leader', 'admin', 'town_officer'];
/** The public reports layer (公众上报): citizens' reports and hotline tickets waiting for a dispatcher, for the
 * roles that read that queue; off unless the address says `public_reports=1`. */
const PUBLIC_REPORT_LAYER = 'public-reports';
const PUBLIC_REPORT_READERS = ['dispatcher', 'hotline', 'reviewer', 'leader', 'admin'];
/** Layers of each of our map layers, for the layer switcher. */
const LAYER_GROUPS = {
  towns: ['towns-fill', 'towns-outline', 'town-labels'],
  roads: ['roads-casing', 'roads'],
  sites: ['cells', 'cell-counts', 'sites-section-casing', 'sites-section', 'sites-point', 'sites-selected-point',
    'sites-selected-line'],
};

const state = {
  map: null,
  settings: null,
  hazardTypes: new Map(),
  templates: new Map(),
  towns: EMPTY,
  filter: emptyFilter(),
  view: { layers: [...LAYERS], base: 'none' },
  base: null,
  custom: null,
  byStatus: null,
  counts: null,
  inView: null,
  tileError: null,
  selected: null,
  detail: null,
  detailError: null,
  // Whether this user may see candidates, and whether the layer is on.
  mayReadCandidates: false,
  candidates: false,
  // The same for public reports.
  mayReadPublicReports: false,
  publicReports: false,
};

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
// A test waiting on `ready` must see a failure, not an unhandled rejection in the console.
ready.catch(() => {});

window.roadledger = {
  get map() {
    return state.map;
  },
  ready,
  filter: () => structuredClone(state.filter),
  setFilter: (changes) => setFilter({ ...state.filter, ...changes }),
  openSite: (code) => openSite(code),
  /** The site features drawn now (feature zooms), one per site. */
  renderedSites: () => uniqueById(state.map.queryRenderedFeatures({ layers: SITE_LAYERS }))
    .map((f) => ({ ...f.properties, code: siteCode(f.id), geometry: f.geometry })),
  /** The grid cells drawn now (low zooms), with their counts. */
  renderedCells: () => state.map.queryRenderedFeatures({ layers: [CELL_LAYER] })
    .map((f) => ({ ...f.properties, coordinates: f.geometry.coordinates })),
  counts: () => state.counts && structuredClone(state.counts),
  /** Resolves when the map has finished drawing what it has. */
  idle: () => new Promise((resolve) => {
    if (state.map.loaded() && !state.map.isMoving() && state.map.areTilesLoaded()) {
      resolve();
      return;
    }
    state.map.once('idle', () => resolve());
    // A map that has stopped rendering before everything counted as loaded emits no further 'idle' by
    // itself: one more frame lets it say so.
    state.map.triggerRepaint();
  }),
};

const $ = (id) => document.getElementById(id);

boot({
  page: 'map',
  title: 'map.title',
  before,
  main,
  onError: (message, error) => {
    showNotice(message, true);
    rejectReady(error);
  },
});

function before() {
  const params = new URLSearchParams(location.search);
  state.filter = readFilter(params);
  state.view = readView(params);
  state.custom = readCustomBase();
  onLangChange(() => {
    renderLegend();
    renderFilters();
    renderLayers();
    renderTownLabels();
    renderPanel();
    renderNotice();
    renderFigureChip();
  });
  // On a phone the legend starts folded: the map comes first.
  if (window.matchMedia('(max-width: 760px)').matches) $('legend').open = false;
  if (activeFilterCount(state.filter)) $('filters').open = true;
  renderFigureChip();
  renderLegend();
  $('panel-close').addEventListener('click', closePanel);
}

async function main({ settings, user }) {
  state.settings = settings;
  state.mayReadCandidates = CANDIDATE_READERS.some((r) => hasRole(r, user));
  state.candidates = state.mayReadCandidates && new URLSearchParams(location.search).get('candidates') === '1';
  state.mayReadPublicReports = PUBLIC_REPORT_READERS.some((r) => hasRole(r, user));
  state.publicReports = state.mayReadPublicReports && new URLSearchParams(location.search).get('public_reports') === '1';
  const choices = baseMapChoices(settings, state.custom);
  state.base = choices.find((c) => c.id === state.view.base) || choices[0];
  state.view.base = state.base.id;
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closePanel();
  });

  const [towns, hazardTypes, templates] = await Promise.all([
    getJson('/api/v1/towns'),
    getJson('/api/v1/hazard-types'),
    getJson('/api/v1/checklist-templates'),
  ]);
  state.towns = towns;
  for (const ht of hazardTypes) state.hazardTypes.set(ht.code, ht);
  for (const tpl of templates) state.templates.set(tpl.code, tpl);
  renderFilters();
  renderLayers();
  refreshCounts();
  setInterval(refreshCounts, 60_000);

  const bounds = boundsOf(towns);
  const hasHash = /^#\d/.test(location.hash);
  const map = new maplibregl.Map({
    container: 'map',
    style: buildStyle(),
    center: DEFAULT_CENTER,
    zoom: 10,
    hash: true,
    maxPitch: 0,
    dragRotate: false,
    attributionControl: { compact: true },
  });
  state.map = map;
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  if (bounds && !hasHash) {
    // Keep the towns clear of the side cards on wide screens.
    const wide = map.getContainer().clientWidth > 760;
    map.fitBounds(bounds, { padding: { top: 40, bottom: 40, right: 60, left: wide ? 280 : 40 }, animate: false, maxZoom: 15 });
  }

  map.on('error', onMapError);
  map.setMissingStyleImageResolver((id) => {
    if (id.startsWith('n:') && !map.hasImage(id)) addLabelImage(id, id.slice(2), 'count');
  });
  await new Promise((resolve) => map.once('load', resolve));

  renderTownLabels();
  applyLayerVisibility();
  for (const layer of [...SITE_LAYERS, CELL_LAYER]) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('click', onMapClick);
  map.on('idle', debounce(updateInView, 100));
  map.on('sourcedata', (e) => {
    if (e.sourceId === 'sites' && e.isSourceLoaded && state.tileError) {
      state.tileError = null;
      renderNotice();
    }
  });

  await window.roadledger.idle();
  document.body.dataset.state = 'ready';
  resolveReady(window.roadledger);
}

// ---------------------------------------------------------------------------------------------------------
// Style

function featureZoom() {
  return state.settings?.tiles?.feature_zoom ?? FEATURE_ZOOM_DEFAULT;
}

/** Our tile URL for `layer` with the filter (sites only) and the base map's coordinate system. */
function tileUrl(layer) {
  const params = new URLSearchParams(layer === 'sites' ? filterQuery(state.filter) : '');
  if (tileCrs(state.base) === 'gcj02') params.set('crs', 'gcj02');
  const query = params.toString();
  return `${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt${query ? `?${query}` : ''}`;
}

function buildStyle() {
  const base = baseMapStyle(state.base);
  const sources = {
    ...base.sources,
    towns: { type: 'vector', tiles: [tileUrl('towns')], maxzoom: BACKGROUND_MAX_ZOOM },
    roads: { type: 'vector', tiles: [tileUrl('roads')], maxzoom: BACKGROUND_MAX_ZOOM },
    'town-labels': { type: 'geojson', data: EMPTY },
    sites: { type: 'vector', tiles: [tileUrl('sites')], maxzoom: SITES_MAX_ZOOM },
  };
  if (state.mayReadCandidates) {
    sources.candidates = { type: 'vector', tiles: [tileUrl('candidates')], maxzoom: SITES_MAX_ZOOM };
  }
  if (state.mayReadPublicReports) {
    sources.public_reports = { type: 'vector', tiles: [tileUrl('public_reports')], maxzoom: SITES_MAX_ZOOM };
  }
  const statusColour = ['match', ['get', 'status'], ...Object.entries(STATUS_COLOUR).flat(), '#555555'];
  const isSite = ['has', 'status'];
  const isPoint = ['all', isSite, ['==', ['geometry-type'], 'Point']];
  const isLine = ['all', isSite, ['==', ['geometry-type'], 'LineString']];
  const isCell = ['has', 'n'];
  const overdue = ['==', ['get', 'overdue'], true];
  const cellRadius = ['interpolate', ['linear'], ['sqrt', ['get', 'n']], 1, 4.5, 2, 8, 5, 12, 20, 22];
  const layers = [
    { id: 'background', type: 'background', paint: { 'background-color': '#eef1ec' } },
    ...base.layers,
    {
      id: 'towns-fill',
      type: 'fill',
      source: 'towns',
      'source-layer': 'towns',
      paint: {
        'fill-color': ['match', ['%', ['to-number', ['get', 'id'], 0], TOWN_FILLS.length],
          ...TOWN_FILLS.slice(1).flatMap((c, i) => [i + 1, c]), TOWN_FILLS[0]],
        'fill-opacity': townFillOpacity(),
      },
    },
    {
      id: 'towns-outline',
      type: 'line',
      source: 'towns',
      'source-layer': 'towns',
      paint: { 'line-color': '#7d8f7b', 'line-width': 1.2, 'line-dasharray': [3, 2] },
    },
    {
      id: 'roads-casing',
      type: 'line',
      source: 'roads',
      'source-layer': 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#ffffff', 'line-width': roadWidth(2), 'line-opacity': 0.9 },
    },
    {
      id: 'roads',
      type: 'line',
      source: 'roads',
      'source-layer': 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ROAD_COLOUR, 'line-width': roadWidth(0) },
    },
    {
      id: 'town-labels',
      type: 'symbol',
      source: 'town-labels',
      layout: { 'icon-image': ['get', 'image'], 'icon-allow-overlap': false, 'icon-padding': 4 },
    },
    {
      id: CELL_LAYER,
      type: 'circle',
      source: 'sites',
      'source-layer': 'sites',
      filter: isCell,
      paint: {
        'circle-color': dominantStatusColour(),
        'circle-opacity': 0.88,
        'circle-radius': cellRadius,
        'circle-stroke-color': ['case', ['>', ['coalesce', ['get', 'overdue'], 0], 0], '#111111', '#ffffff'],
        'circle-stroke-width': ['case', ['>', ['coalesce', ['get', 'overdue'], 0], 0], 2.5, 1.5],
      },
    },
    {
      id: 'cell-counts',
      type: 'symbol',
      source: 'sites',
      'source-layer': 'sites',
      // A single site needs no number.
      filter: ['all', isCell, ['>', ['get', 'n'], 1]],
      layout: {
        'icon-image': ['concat', 'n:', ['to-string', ['get', 'n']]],
        'icon-allow-overlap': true,
        'icon-ignore-placement': true,
      },
    },
    {
      id: 'sites-section-casing',
      type: 'line',
      source: 'sites',
      'source-layer': 'sites',
      filter: isLine,
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: {
        'line-color': ['case', overdue, '#111111', '#ffffff'],
        'line-width': ['interpolate', ['linear'], ['zoom'], 12, 6, 16, 12],
      },
    },
    {
      id: 'sites-section',
      type: 'line',
      source: 'sites',
      'source-layer': 'sites',
      filter: isLine,
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': statusColour, 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 3.5, 16, 8] },
    },
    {
      id: 'sites-point',
      type: 'circle',
      source: 'sites',
      'source-layer': 'sites',
      filter: isPoint,
      paint: {
        'circle-color': statusColour,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 6, 16, 10],
        'circle-stroke-color': ['case', overdue, '#111111', '#ffffff'],
        'circle-stroke-width': ['case', overdue, 3, 1.5],
      },
    },
    {
      id: 'sites-selected-point',
      type: 'circle',
      source: 'sites',
      'source-layer': 'sites',
      filter: ['all', isPoint, ['==', ['id'], -1]],
      paint: {
        'circle-color': 'rgba(0,0,0,0)',
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 11, 16, 15],
        'circle-stroke-color': '#0b2545',
        'circle-stroke-width': 3,
      },
    },
    {
      id: 'sites-selected-line',
      type: 'line',
      source: 'sites',
      'source-layer': 'sites',
      filter: ['all', isLine, ['==', ['id'], -1]],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#0b2545', 'line-width': 3, 'line-gap-width': 10 },
    },
  ];
  if (state.mayReadCandidates) layers.push(...candidateLayers());
  if (state.mayReadPublicReports) layers.push(publicReportLayer());
  // No `glyphs` and no `sprite`: nothing to fetch, so no symbol layers with text or icons from a server.
  return { version: 8, sources, layers };
}

function townFillOpacity() {
  return state.base && state.base.id !== 'none' ? 0.18 : 0.9;
}

/** A cell's colour: that of the status most of its sites are in (ties to the earlier in the lifecycle). */
function dominantStatusColour() {
  const codes = statusCodes();
  const count = (code) => ['coalesce', ['get', code], 0];
  const branches = codes.flatMap((code, i) => [
    ['all', ...codes.filter((other) => other !== code).map((other, j) => (j < i ? ['>', count(code), count(other)] : ['>=', count(code), count(other)]))],
    STATUS_COLOUR[code] || '#555555',
  ]);
  return branches.length ? ['case', ...branches, '#555555'] : '#555555';
}

/** Road widths by class (G widest … C narrowest), growing with zoom; `extra` widens a casing. */
function roadWidth(extra) {
  const byClass = (g, s, x, y) => ['match', ['get', 'class'], 'G', g + extra, 'S', s + extra, 'X', x + extra, y + extra];
  return ['interpolate', ['linear'], ['zoom'], 8, byClass(1.6, 1.3, 1, 0.5), 12, byClass(3.5, 3, 2.2, 1.4),
    16, byClass(9, 7.5, 6, 4)];
}

function boundsOf(collection) {
  let b = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      if (!b) b = [c[0], c[1], c[0], c[1]];
      b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
    } else c.forEach(visit);
  };
  for (const f of collection?.features || []) if (f.geometry) visit(f.geometry.coordinates);
  return b && [[b[0], b[1]], [b[2], b[3]]];
}

function applyLayerVisibility() {
  const map = state.map;
  if (!map) return;
  for (const [group, layers] of Object.entries(LAYER_GROUPS)) {
    const visible = state.view.layers.includes(group) ? 'visible' : 'none';
    for (const layer of layers) map.setLayoutProperty(layer, 'visibility', visible);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Filter, address and counts

function setFilter(next) {
  state.filter = { ...emptyFilter(), ...next };
  writeAddress();
  state.map?.getSource('sites')?.setTiles([tileUrl('sites')]);
  renderFilters();
  renderFigureChip();
  renderLegend();
  refreshCounts();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The filter, layers and base map into the address (the view is MapLibre's hash). */
function writeAddress() {
  const query = pageQuery(state.filter, state.view);
  history.replaceState(history.state, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
}

let countsGeneration = 0;

/**
 * The legend's numbers: per status over the filter without its status part (so a hidden status still shows
 * what showing it would add), and the total and overdue over the whole filter, as the map draws it.
 */
async function refreshCounts() {
  const generation = ++countsGeneration;
  const without = filterQuery(state.filter, { without: ['status'] });
  const whole = filterQuery(state.filter);
  try {
    const [byStatus, counts] = await Promise.all([
      getJson(`/api/v1/sites/counts${without ? `?${without}` : ''}`),
      getJson(`/api/v1/sites/counts${whole ? `?${whole}` : ''}`),
    ]);
    if (generation !== countsGeneration) return;
    state.byStatus = byStatus.by_status;
    state.counts = counts;
    renderLegend();
  } catch (error) {
    if (generation !== countsGeneration) return;
    state.tileError = error.detail || error.message;
    renderNotice();
  }
}

/** Sites in view: the cells' counts at low zooms, the distinct sites drawn at feature zooms. */
function updateInView() {
  const map = state.map;
  if (!map || !state.view.layers.includes('sites')) return;
  const cells = map.queryRenderedFeatures({ layers: [CELL_LAYER] });
  const sites = uniqueById(map.queryRenderedFeatures({ layers: SITE_LAYERS }));
  state.inView = cells.reduce((sum, c) => sum + (c.properties.n || 0), 0) + sites.length;
  const el = $('legend-inview');
  el.textContent = t(map.getZoom() < featureZoom() ? 'map.inViewCells' : 'map.inView', { n: state.inView });
  el.dataset.count = String(state.inView);
}

function uniqueById(features) {
  const seen = new Map();
  for (const f of features) if (!seen.has(f.id)) seen.set(f.id, f);
  return [...seen.values()];
}

/** YH-000123 from a tile feature's id (the number of the site's code). */
function siteCode(id) {
  return `YH-${String(id).padStart(6, '0')}`;
}

function onMapError(e) {
  if (e.sourceId === 'sites' || e.sourceId === 'towns' || e.sourceId === 'roads') {
    state.tileError = e.error?.message || String(e.error || 'tile');
    renderNotice();
  }
  console.warn('map error', e.error || e);
}

function showNotice(text, isError = false) {
  const el = $('map-notice');
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle('notice-error', isError);
}

function renderNotice() {
  if (document.body.dataset.state === 'error') return;
  if (state.tileError) showNotice(t('map.loadError', { detail: state.tileError }), true);
  else showNotice('');
}

/**
 * A report's number opened on the map (reports.html links each figure here with `figure=`): the map shows only
 * the sites counted in it, which the chip says, until it is cleared.
 */
function renderFigureChip() {
  const el = $('figure-chip');
  const figure = parseFigure(state.filter.figure);
  el.hidden = !figure;
  if (!figure) {
    el.replaceChildren();
    return;
  }
  fill(el,
    h('span', { class: 'figure-chip-text', id: 'figure-chip-text', title: t('map.figureHint') },
      t('map.figureChip', { period: periodTitle(figure.kind, figure.period), figure: tCode('figure', figure.figure) })),
    h('button', {
      type: 'button',
      class: 'figure-chip-clear',
      id: 'figure-chip-clear',
      'aria-label': t('map.figureClear'),
      title: t('map.figureClear'),
      onclick: () => setFilter({ ...state.filter, figure: '' }),
    }, '✕'));
}

// ---------------------------------------------------------------------------------------------------------
// Legend

/** The site statuses in the server's order (lifecycle order), once the settings are in. */
function statusCodes() {
  return state.settings?.statuses.map((s) => s.code) ?? [];
}

function statusShown(code) {
  return !state.filter.status.length || state.filter.status.includes(code);
}

function toggleStatus(code) {
  const all = statusCodes();
  let shown = all.filter(statusShown);
  shown = shown.includes(code) ? shown.filter((c) => c !== code) : [...shown, code];
  // Every status shown is no status filter at all; none shown would show nothing, so it means all too.
  setFilter({ ...state.filter, status: shown.length === all.length || !shown.length ? [] : shown });
}

function renderLegend() {
  const counts = state.byStatus || {};
  $('legend-statuses').replaceChildren(...statusCodes().map((code) => {
    const shown = statusShown(code);
    return h('li', {},
      h('button', {
        type: 'button',
        class: `legend-item${shown ? '' : ' is-off'}`,
        dataset: { status: code },
        'aria-pressed': String(shown),
        onclick: () => toggleStatus(code),
      },
      h('span', { class: 'swatch', style: { background: STATUS_COLOUR[code] } }),
      h('span', { class: 'legend-label' }, tCode('status', code)),
      h('span', { class: 'count', dataset: { count: String(counts[code] ?? 0) } },
        state.byStatus ? String(counts[code] ?? 0) : '…')));
  }));
  const total = $('legend-total');
  total.textContent = state.counts ? `${t('map.total')} ${state.counts.total}` : '';
  total.dataset.count = String(state.counts?.total ?? '');
  const overdue = $('legend-overdue');
  overdue.textContent = state.counts ? t('map.overdueCount', { n: state.counts.overdue ?? 0 }) : '';
  overdue.dataset.count = String(state.counts?.overdue ?? '');
  if (state.inView == null) $('legend-inview').textContent = t('common.loading');
  else updateInView();

  const line = (colour, width) => h('span', { class: 'key-line', style: { background: colour, height: `${width}px` } });
  $('legend-keys').replaceChildren(
    h('div', { class: 'legend-keys-title' }, t('map.roads')),
    h('div', { class: 'key' }, line('#e0533d', 5), t('map.road.G'), ' G'),
    h('div', { class: 'key' }, line('#f39c3c', 4), t('map.road.S'), ' S'),
    h('div', { class: 'key' }, line('#f0c93a', 3), t('map.road.X'), ' X'),
    h('div', { class: 'key' }, line('#a9a9a9', 2), t('map.road.YC'), ' Y/C'),
    h('div', { class: 'key' }, h('span', { class: 'key-cell' }, '12'), t('map.cell')),
    h('div', { class: 'key' }, h('span', { class: 'key-dot' }), t('map.point')),
    h('div', { class: 'key' }, h('span', { class: 'key-section' }), t('map.section')),
    h('div', { class: 'key' }, h('span', { class: 'key-dot key-overdue' }), t('map.overdue')),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Filters and exports

function renderFilters() {
  const f = state.filter;
  const settings = state.settings;
  const n = activeFilterCount(f, { without: ['status'] });
  $('filter-count').textContent = n ? t('filter.active', { n }) : '';
  $('filter-count').dataset.count = String(n);
  if (!settings) return;

  const select = (id, key, options) => {
    const current = f[key];
    const several = current.length > 1;
    return field(id, t(`filter.${key}`), h('select', {
      id,
      onchange: (e) => setFilter({ ...state.filter, [key]: e.target.value ? [e.target.value] : [] }),
    },
    h('option', { value: '' }, t('filter.any')),
    several ? h('option', { value: current.join(','), selected: true, disabled: true }, t('filter.several', { n: current.length })) : null,
    options.map(([value, label]) => h('option', { value, selected: !several && current[0] === value }, label))));
  };
  const checks = (key, codes, label) => h('fieldset', { class: 'filter-checks', id: `f-${key}` },
    h('legend', {}, t(`filter.${key}`)),
    codes.map((code) => h('label', { class: 'check' },
      h('input', {
        type: 'checkbox',
        value: code,
        checked: f[key].includes(code),
        onchange: (e) => {
          const set = new Set(state.filter[key]);
          if (e.target.checked) set.add(code);
          else set.delete(code);
          setFilter({ ...state.filter, [key]: [...set] });
        },
      }),
      ' ', label(code))));
  const yesNo = (key) => field(`f-${key}`, t(`filter.${key}`), h('select', {
    id: `f-${key}`,
    onchange: (e) => setFilter({ ...state.filter, [key]: e.target.value === '' ? null : e.target.value === 'true' }),
  },
  h('option', { value: '', selected: f[key] === null }, t('filter.any')),
  h('option', { value: 'true', selected: f[key] === true }, t('filter.yes')),
  h('option', { value: 'false', selected: f[key] === false }, t('filter.no'))));
  const date = (key) => field(`f-${key}`, t(`filter.${key}`), h('input', {
    type: 'date',
    id: `f-${key}`,
    value: f[key],
    onchange: (e) => setFilter({ ...state.filter, [key]: e.target.value }),
  }));

  const towns = (state.towns.features || [])
    .map((town) => [town.properties.admin_code, localName(town.properties)])
    .sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
  const hazardTypes = [...state.hazardTypes.values()].map((ht) => [ht.code, localName(ht)]);
  const sources = (settings.site_sources || []).map((code) => [code, tCode('source', code)]);

  fill($('filter-form'),
    select('f-town', 'town', towns),
    checks('kind', settings.site_kinds, (code) => t(`kind.${code}`)),
    checks('level', settings.hazard_levels, (code) => tCode('level', code)),
    select('f-hazard_type', 'hazard_type', hazardTypes),
    sources.length ? select('f-source', 'source', sources) : null,
    h('div', { class: 'filter-row' }, yesNo('overdue'), yesNo('supervised'), yesNo('relapsed')),
    h('div', { class: 'filter-row' }, date('from'), date('to')),
    h('div', { class: 'filter-actions' },
      h('button', {
        type: 'button',
        class: 'btn btn-small',
        id: 'filter-reset',
        disabled: !activeFilterCount(f),
        onclick: () => setFilter(emptyFilter()),
      }, t('filter.reset'))),
    h('div', { class: 'filter-exports' },
      h('span', { class: 'muted small' }, t('filter.export')),
      exportLink('geojson', 'GeoJSON'),
      exportLink('kml', 'KML')));
}

function field(id, label, control) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

function exportLink(format, label) {
  const query = filterQuery(state.filter);
  return h('a', {
    class: 'btn btn-small',
    id: `export-${format}`,
    href: `/api/v1/sites/export.${format}${query ? `?${query}` : ''}`,
    download: '',
  }, label);
}

// ---------------------------------------------------------------------------------------------------------
// Layers and base maps

function readCustomBase() {
  try {
    const custom = JSON.parse(localStorage.getItem(CUSTOM_BASE_KEY) || 'null');
    return custom && validXyzUrl(custom.url).ok ? custom : null;
  } catch {
    return null;
  }
}

/** Candidates drawn apart from sites: black spots as dark red rings sized by their crashes, detections as
 * small violet dots; both with a white halo so they read over any base map. */
function candidateLayers() {
  const visibility = state.candidates ? 'visible' : 'none';
  const common = { source: 'candidates', 'source-layer': 'candidates', layout: { visibility } };
  return [
    {
      ...common,
      id: 'candidates-crash',
      type: 'circle',
      filter: ['==', ['get', 'source'], 'crash_analysis'],
      paint: {
        'circle-color': 'rgba(139,0,0,0.25)',
        'circle-radius': ['interpolate', ['linear'], ['coalesce', ['get', 'crash_count'], 1], 1, 8, 10, 14, 30, 20],
        'circle-stroke-color': '#8b0000',
        'circle-stroke-width': 3,
      },
    },
    {
      ...common,
      id: 'candidates-detection',
      type: 'circle',
      filter: ['!=', ['get', 'source'], 'crash_analysis'],
      paint: {
        'circle-color': '#6a3d9a',
        'circle-radius': 6,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 2,
      },
    },
  ];
}

/** Public reports waiting for moderation: orange squares-ish dots with a white halo, apart from sites. */
function publicReportLayer() {
  return {
    id: PUBLIC_REPORT_LAYER,
    type: 'circle',
    source: 'public_reports',
    'source-layer': 'public_reports',
    layout: { visibility: state.publicReports ? 'visible' : 'none' },
    paint: { 'circle-color': '#e67e22', 'circle-radius': 6, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 },
  };
}

function setPublicReports(on) {
  state.publicReports = on;
  state.map?.setLayoutProperty(PUBLIC_REPORT_LAYER, 'visibility', on ? 'visible' : 'none');
  const url = new URL(location.href);
  if (on) url.searchParams.set('public_reports', '1');
  else url.searchParams.delete('public_reports');
  history.replaceState(history.state, '', url);
}

function setCandidates(on) {
  state.candidates = on;
  for (const layer of CANDIDATE_LAYERS) state.map?.setLayoutProperty(layer, 'visibility', on ? 'visible' : 'none');
  const url = new URL(location.href);
  if (on) url.searchParams.set('candidates', '1');
  else url.searchParams.delete('candidates');
  history.replaceState(history.state, '', url);
}

function renderLayers() {
  if (!state.settings) return;
  const choices = baseMapChoices(state.settings, state.custom);
  fill($('layers-form'),
    h('fieldset', { class: 'filter-checks', id: 'layer-switch' },
      h('legend', {}, t('layers.ours')),
      LAYERS.slice().reverse().map((layer) => h('label', { class: 'check' },
        h('input', {
          type: 'checkbox',
          value: layer,
          checked: state.view.layers.includes(layer),
          onchange: (e) => {
            const set = new Set(state.view.layers);
            if (e.target.checked) set.add(layer);
            else set.delete(layer);
            state.view.layers = LAYERS.filter((l) => set.has(l));
            applyLayerVisibility();
            writeAddress();
          },
        }),
        ' ', t(`layers.${layer}`))),
      state.mayReadCandidates ? h('label', { class: 'check' },
        h('input', { type: 'checkbox', id: 'layer-candidates', value: 'candidates', checked: state.candidates, onchange: (e) => setCandidates(e.target.checked) }),
        ' ', t('candidates.layer')) : null,
      state.mayReadPublicReports ? h('label', { class: 'check' },
        h('input', { type: 'checkbox', id: 'layer-public-reports', value: 'public_reports', checked: state.publicReports, onchange: (e) => setPublicReports(e.target.checked) }),
        ' ', t('publicReports.layer')) : null),
    field('base-map', t('basemap.title'), h('select', {
      id: 'base-map',
      onchange: (e) => setBase(e.target.value),
    }, choices.map((c) => h('option', { value: c.id, selected: c.id === state.base?.id }, choiceLabel(c))))),
    h('details', { class: 'custom-base', open: !state.custom },
      h('summary', {}, t('basemap.custom')),
      h('form', {
        id: 'custom-base-form',
        onsubmit: (e) => {
          e.preventDefault();
          const url = $('custom-base-url').value.trim();
          const verdict = validXyzUrl(url);
          $('custom-base-error').textContent = verdict.ok ? '' : verdict.reason;
          if (!verdict.ok) return;
          state.custom = { url, crs: $('custom-base-crs').value };
          localStorage.setItem(CUSTOM_BASE_KEY, JSON.stringify(state.custom));
          setBase('custom');
          renderLayers();
        },
      },
      field('custom-base-url', t('basemap.customUrl'), h('input', {
        id: 'custom-base-url', type: 'url', value: state.custom?.url || '', placeholder: t('basemap.customPlaceholder'),
      })),
      field('custom-base-crs', t('basemap.crs'), h('select', { id: 'custom-base-crs' },
        h('option', { value: 'wgs84', selected: state.custom?.crs !== 'gcj02' }, t('basemap.crs.wgs84')),
        h('option', { value: 'gcj02', selected: state.custom?.crs === 'gcj02' }, t('basemap.crs.gcj02')))),
      h('p', { class: 'error small', id: 'custom-base-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'btn btn-small' }, t('basemap.apply')))));
}

/** Switches the base map: its layers under ours, and our tiles in its coordinate system. */
function setBase(id) {
  const choices = baseMapChoices(state.settings, state.custom);
  const next = choices.find((c) => c.id === id) || choices[0];
  const map = state.map;
  const old = baseMapStyle(state.base);
  const crsChanged = tileCrs(next) !== tileCrs(state.base);
  state.base = next;
  state.view.base = next.id;
  writeAddress();
  if (!map) return;
  for (const layer of old.layers) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
  for (const source of Object.keys(old.sources)) if (map.getSource(source)) map.removeSource(source);
  const style = baseMapStyle(next);
  for (const [name, source] of Object.entries(style.sources)) map.addSource(name, source);
  for (const layer of style.layers) map.addLayer(layer, 'towns-fill');
  map.setPaintProperty('towns-fill', 'fill-opacity', townFillOpacity());
  if (crsChanged) {
    for (const layer of LAYERS) map.getSource(layer).setTiles([tileUrl(layer)]);
    map.getSource('candidates')?.setTiles([tileUrl('candidates')]);
    map.getSource('public_reports')?.setTiles([tileUrl('public_reports')]);
    renderTownLabels();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Town names and cell counts: text drawn on a canvas, shown as icons (no glyph server offline)

function renderTownLabels() {
  const map = state.map;
  if (!map) return;
  const lang = document.documentElement.lang;
  const gcj = tileCrs(state.base) === 'gcj02';
  const features = [];
  for (const f of state.towns.features || []) {
    const point = f.properties.label_point?.coordinates;
    const text = localName(f.properties);
    if (!point || !text) continue;
    const image = `town-label:${lang}:${f.properties.admin_code}`;
    if (!map.hasImage(image)) addLabelImage(image, text, 'town');
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: gcj ? wgs84ToGcj02(point) : point },
      properties: { image, name: text },
    });
  }
  map.getSource('town-labels').setData({ type: 'FeatureCollection', features });
}

/** Text as an icon: a town name (dark green, white halo) or a cell's count (white, dark halo). */
function addLabelImage(id, text, kind) {
  const ratio = Math.max(1, Math.round(window.devicePixelRatio || 1));
  const size = kind === 'town' ? 13 : 11.5;
  const font = `${kind === 'town' ? 600 : 700} ${size * ratio}px system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif`;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  ctx.font = font;
  const width = Math.ceil(ctx.measureText(text).width + 10 * ratio);
  const height = Math.ceil((size + 7) * ratio);
  canvas.width = width;
  canvas.height = height;
  ctx.font = font;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3.5 * ratio;
  ctx.strokeStyle = kind === 'town' ? 'rgba(255, 255, 255, 0.92)' : 'rgba(20, 28, 38, 0.75)';
  ctx.strokeText(text, width / 2, height / 2);
  ctx.fillStyle = kind === 'town' ? '#3d4f3b' : '#ffffff';
  ctx.fillText(text, width / 2, height / 2);
  state.map.addImage(id, { width, height, data: new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer) },
    { pixelRatio: ratio });
}

// ---------------------------------------------------------------------------------------------------------
// Clicks and the site panel

function onMapClick(e) {
  const map = state.map;
  const pad = 8; // fingers and mice are not pixel-exact
  const box = [[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]];
  const candidates = state.candidates ? map.queryRenderedFeatures(box, { layers: CANDIDATE_LAYERS }) : [];
  if (candidates.length) {
    openCandidate(candidates[0]);
    keepClear(e.point);
    return;
  }
  const reports = state.publicReports ? map.queryRenderedFeatures(box, { layers: [PUBLIC_REPORT_LAYER] }) : [];
  if (reports.length) {
    openPublicReport(reports[0]);
    keepClear(e.point);
    return;
  }
  const sites = map.queryRenderedFeatures(box, { layers: SITE_LAYERS });
  if (sites.length) {
    // Points over lines.
    sites.sort((a, b) => (a.layer.id === 'sites-point' ? 0 : 1) - (b.layer.id === 'sites-point' ? 0 : 1));
    openSite(siteCode(sites[0].id));
    keepClear(e.point);
    return;
  }
  const cells = map.queryRenderedFeatures(box, { layers: [CELL_LAYER] });
  if (cells.length) {
    // A cell stands for its sites: zoom in towards them, to the sites themselves in a step or two.
    map.easeTo({ center: cells[0].geometry.coordinates, zoom: Math.min(featureZoom(), Math.floor(map.getZoom()) + 2) });
  }
}

/** The panel covers the right of the map (the bottom on phones): bring the clicked site into the clear. */
function keepClear(point) {
  const map = state.map;
  const container = map.getContainer();
  const phone = container.clientWidth <= 760;
  const panelLeft = phone ? container.clientWidth : container.clientWidth - 420;
  const panelTop = phone ? container.clientHeight * 0.4 : container.clientHeight;
  if (point.x > panelLeft - 20 || point.y > panelTop - 20) {
    const target = phone ? [container.clientWidth / 2, panelTop / 2] : [panelLeft / 2, container.clientHeight / 2];
    map.panBy([point.x - target[0], point.y - target[1]]);
  }
}

let detailGeneration = 0;

function panelElements() {
  return { code: $('panel-code'), sub: $('panel-sub'), body: $('panel-body') };
}

async function openSite(code) {
  const generation = ++detailGeneration;
  state.selected = code;
  state.detail = null;
  state.detailError = null;
  highlight(code);
  const panel = $('panel');
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.dataset.siteCode = code;
  document.body.classList.add('panel-open');
  renderPanel();
  try {
    const detail = await getJson(`/api/v1/sites/${encodeURIComponent(code)}`);
    if (generation !== detailGeneration) return;
    state.detail = detail;
    // A site found by data shows the crashes behind it (and before/after counts once closed).
    state.crashes = foundByData(detail.properties) ? await loadCrashes(detail.id).catch(() => null) : null;
    if (generation !== detailGeneration) return;
    panel.dataset.state = 'ready';
  } catch (error) {
    if (generation !== detailGeneration) return;
    state.detailError = error.detail || error.message;
    panel.dataset.state = 'error';
  }
  renderPanel();
}

/** A candidate in the side panel: what the tile says about it, and the way to the queue where it is decided. */
function openCandidate(feature) {
  detailGeneration += 1;
  highlight(null);
  const p = feature.properties;
  const panel = $('panel');
  panel.hidden = false;
  panel.dataset.state = 'ready';
  panel.dataset.candidate = String(feature.id);
  document.body.classList.add('panel-open');
  const { code, sub, body } = panelElements();
  code.textContent = `#${feature.id}`;
  fill(sub, h('span', { class: 'badge' }, tCode('source', p.source)), ' ', h('span', { class: 'muted' }, tCode('kind', p.kind)));
  fill(body,
    h('p', {}, p.source === 'crash_analysis'
      ? t('candidates.crashes', { count: p.crash_count ?? 0, deaths: '–', injuries: '–' })
      : `${t('candidates.confidence')}${t('common.colon')}${Number(p.score).toFixed(2)}`),
    h('p', {}, h('a', { class: 'btn btn-primary', id: 'panel-candidate-queue', href: `/candidates.html#cand-${feature.id}` }, t('candidates.openQueue'))));
}

/** A waiting public report in the panel: its channel, category and when it came, and a link to the queue. */
function openPublicReport(feature) {
  detailGeneration += 1;
  state.selected = null;
  highlight(null);
  const p = feature.properties;
  const panel = $('panel');
  panel.hidden = false;
  panel.dataset.state = 'ready';
  panel.dataset.publicReport = String(feature.id);
  document.body.classList.add('panel-open');
  const { code, sub, body } = panelElements();
  code.textContent = `#${feature.id}`;
  fill(sub, h('span', { class: 'badge' }, tCode('publicReports.channel', p.channel)));
  fill(body,
    h('p', {}, `${formatDateTime(p.received_at)}${p.photos ? ` · ${t('publicReports.photos', { n: p.photos })}` : ''}`),
    h('p', {}, h('a', { class: 'btn btn-primary', id: 'panel-public-report-queue', href: `/public-reports.html#pr-${feature.id}` }, t('publicReports.openQueue'))));
}

function closePanel() {
  detailGeneration += 1;
  state.selected = null;
  state.detail = null;
  highlight(null);
  const panel = $('panel');
  panel.hidden = true;
  panel.dataset.state = 'closed';
  document.body.classList.remove('panel-open');
}

function highlight(code) {
  const map = state.map;
  if (!map) return;
  const id = code ? Number(code.slice(3)) : -1;
  map.setFilter('sites-selected-point', ['all', ['has', 'status'], ['==', ['geometry-type'], 'Point'], ['==', ['id'], id]]);
  map.setFilter('sites-selected-line', ['all', ['has', 'status'], ['==', ['geometry-type'], 'LineString'], ['==', ['id'], id]]);
}

function renderPanel() {
  if ($('panel').hidden) return;
  const elements = panelElements();
  if (state.detailError) renderSitePanelMessage(elements, { error: state.detailError });
  else if (!state.detail) renderSitePanelMessage(elements, { code: state.selected || '' });
  else {
    renderSitePanel(elements, state.detail, { hazardTypes: state.hazardTypes, templates: state.templates });
    const crashes = crashSection(state.crashes);
    if (crashes) elements.body.append(crashes);
  }
}
