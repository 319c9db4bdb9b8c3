// The map page (office and traffic police view): towns, roads and hazard sites coloured by status, a legend
// that filters by status, and a side panel with one site's checklist, observations, photos and history.
//
// Everything comes from this server: MapLibre from /vendor/, data from /api/v1/. The style is built here
// with no glyphs and no sprite, because nothing may be fetched from the internet: there are no text layers.
// Town names are drawn by the browser (its own CJK fonts) onto small canvases, added as map images and
// placed by an icon-only symbol layer, so they sit under the sites and give way to each other.
//
// For tests: window.roadledger = { map, ready, loadedSiteCount(), sites(), openSite(id), idle() }.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { STATUS_COLOUR, ITEM_STATE_COLOUR, getJson, h, fill, debounce } from './common.js';
import { boot } from './boot.js';
import { allSites } from './paging.js';
import { t, tCode, localName, formatDateTime, formatDate, onLangChange } from './i18n.js';

/** Sites per request (at most the server's `sites_page_size_max`), and how many pages one view may load
 * before asking the user to zoom in. */
const PAGE_SIZE = 2000;
const PAGES_MAX = 5;
/** Zhangjiagang, for an empty database. */
const DEFAULT_CENTER = [120.55, 31.87];
const EMPTY = { type: 'FeatureCollection', features: [] };

const ROAD_COLOUR = ['match', ['get', 'class'], 'G', '#e0533d', 'S', '#f39c3c', 'X', '#f0c93a', '#a9a9a9'];
const TOWN_FILLS = ['#dfe9d8', '#e8e2d2', '#d8e4ea', '#eadbe0', '#e3e8d0', '#dcdcec'];

const state = {
  map: null,
  settings: null,
  hazardTypes: new Map(),
  templates: new Map(),
  towns: EMPTY,
  sites: [],
  hidden: new Set(),
  counts: null,
  truncated: false,
  clamped: false,
  loadError: null,
  selectedId: null,
  detail: null,
  detailError: null,
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
  loadedSiteCount: () => state.sites.length,
  sites: () => state.sites.map((f) => ({ ...f.properties, geometry: f.geometry })),
  openSite: (id) => openSite(id),
  /** Resolves when the map has finished drawing what it has. */
  idle: () => new Promise((resolve) => {
    if (state.map.loaded() && !state.map.isMoving()) resolve();
    else state.map.once('idle', () => resolve());
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
  onLangChange(() => {
    renderLegend();
    renderTownLabels();
    renderPanel();
    renderNotice();
  });
  // On a phone the legend starts folded: the map comes first.
  if (window.matchMedia('(max-width: 760px)').matches) $('legend').open = false;
  renderLegend();
  $('panel-close').addEventListener('click', closePanel);
}

async function main({ settings }) {
  state.settings = settings;
  renderLegend();
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closePanel();
  });

  const [towns, roads, hazardTypes, templates] = await Promise.all([
    getJson('/api/v1/towns'),
    getJson('/api/v1/roads'),
    getJson('/api/v1/hazard-types'),
    getJson('/api/v1/checklist-templates'),
  ]);
  state.towns = towns;
  for (const ht of hazardTypes) state.hazardTypes.set(ht.code, ht);
  for (const tpl of templates) state.templates.set(tpl.code, tpl);
  refreshCounts();
  setInterval(refreshCounts, 60_000);

  const bounds = boundsOf(towns) || boundsOf(roads);
  const hasHash = /^#\d/.test(location.hash);
  const map = new maplibregl.Map({
    container: 'map',
    style: buildStyle(settings),
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
    // Keep the towns clear of the legend on wide screens.
    const wide = map.getContainer().clientWidth > 760;
    map.fitBounds(bounds, { padding: { top: 40, bottom: 40, right: 60, left: wide ? 270 : 40 }, animate: false, maxZoom: 15 });
  }

  map.on('error', (e) => console.warn('map error', e.error || e));
  await new Promise((resolve) => map.once('load', resolve));

  map.getSource('towns').setData(towns);
  map.getSource('roads').setData(roads);
  renderTownLabels();
  applyStatusFilter();

  for (const layer of ['sites-point', 'sites-section']) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('click', onMapClick);
  map.on('moveend', debounce(() => loadSites().catch(() => {}), 250));

  await loadSites();
  document.body.dataset.state = 'ready';
  resolveReady(window.roadledger);
}

// ---------------------------------------------------------------------------------------------------------
// Style

function buildStyle(settings) {
  const sources = {
    towns: { type: 'geojson', data: EMPTY },
    'town-labels': { type: 'geojson', data: EMPTY },
    roads: { type: 'geojson', data: EMPTY },
    sites: { type: 'geojson', data: EMPTY },
  };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1ec' } }];
  const base = settings.base_map_url;
  if (base) {
    // MapLibre has no {s} placeholder: expand it into one URL per subdomain.
    const tiles = base.includes('{s}') ? ['a', 'b', 'c'].map((s) => base.replace('{s}', s)) : [base];
    sources.base = { type: 'raster', tiles, tileSize: 256, maxzoom: 18 };
    layers.push({ id: 'base', type: 'raster', source: 'base' });
  }
  const statusColour = ['match', ['get', 'status'], ...Object.entries(STATUS_COLOUR).flat(), '#555555'];
  const isPoint = ['==', ['geometry-type'], 'Point'];
  const isLine = ['==', ['geometry-type'], 'LineString'];
  const overdue = ['==', ['get', 'overdue'], true];
  layers.push(
    {
      id: 'towns-fill',
      type: 'fill',
      source: 'towns',
      paint: {
        'fill-color': ['match', ['%', ['to-number', ['get', 'id'], 0], TOWN_FILLS.length],
          ...TOWN_FILLS.slice(1).flatMap((c, i) => [i + 1, c]), TOWN_FILLS[0]],
        'fill-opacity': base ? 0.18 : 0.9,
      },
    },
    {
      id: 'towns-outline',
      type: 'line',
      source: 'towns',
      paint: { 'line-color': '#7d8f7b', 'line-width': 1.2, 'line-dasharray': [3, 2] },
    },
    {
      id: 'roads-casing',
      type: 'line',
      source: 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#ffffff', 'line-width': roadWidth(2), 'line-opacity': 0.9 },
    },
    {
      id: 'roads',
      type: 'line',
      source: 'roads',
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
      id: 'sites-section-casing',
      type: 'line',
      source: 'sites',
      filter: isLine,
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: {
        'line-color': ['case', overdue, '#111111', '#ffffff'],
        'line-width': ['interpolate', ['linear'], ['zoom'], 8, 5, 14, 11],
      },
    },
    {
      id: 'sites-section',
      type: 'line',
      source: 'sites',
      filter: isLine,
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': statusColour, 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 3, 14, 7] },
    },
    {
      id: 'sites-point',
      type: 'circle',
      source: 'sites',
      filter: isPoint,
      paint: {
        'circle-color': statusColour,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 4.5, 12, 7, 16, 10],
        'circle-stroke-color': ['case', overdue, '#111111', '#ffffff'],
        'circle-stroke-width': ['case', overdue, 3, 1.5],
      },
    },
    {
      id: 'sites-selected-point',
      type: 'circle',
      source: 'sites',
      filter: ['all', isPoint, ['==', ['get', 'id'], '']],
      paint: {
        'circle-color': 'rgba(0,0,0,0)',
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 9, 12, 12, 16, 15],
        'circle-stroke-color': '#0b2545',
        'circle-stroke-width': 3,
      },
    },
    {
      id: 'sites-selected-line',
      type: 'line',
      source: 'sites',
      filter: ['all', isLine, ['==', ['get', 'id'], '']],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#0b2545', 'line-width': 3, 'line-gap-width': 9 },
    },
  );
  // No `glyphs` and no `sprite`: nothing to fetch, so no symbol layers with text or icons.
  return { version: 8, sources, layers };
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

// ---------------------------------------------------------------------------------------------------------
// Sites in view

let loadGeneration = 0;
let loadAbort = null;

/**
 * The view as a bbox the server accepts: within ±180/±85 and at most `areaMax` square degrees (the server's
 * `bbox_area_deg2_max`; when zoomed out further, a box of that area around the centre, with the view's
 * proportions).
 */
export function clampBbox(bounds, center, areaMax) {
  let w = bounds.getWest();
  let s = bounds.getSouth();
  let e = bounds.getEast();
  let n = bounds.getNorth();
  let clamped = false;
  const area = (e - w) * (n - s);
  if (area > areaMax) {
    const k = Math.sqrt((areaMax * 0.999) / area);
    const halfW = ((e - w) * k) / 2;
    const halfH = ((n - s) * k) / 2;
    [w, e, s, n] = [center.lng - halfW, center.lng + halfW, center.lat - halfH, center.lat + halfH];
    clamped = true;
  }
  w = Math.max(-180, w);
  e = Math.min(180, e);
  s = Math.max(-85, s);
  n = Math.min(85, n);
  return { bbox: [w, s, e, n].map((v) => v.toFixed(6)).join(','), clamped };
}

async function loadSites() {
  const map = state.map;
  const generation = ++loadGeneration;
  loadAbort?.abort();
  const abort = new AbortController();
  loadAbort = abort;
  const { bbox, clamped } = clampBbox(map.getBounds(), map.getCenter(), state.settings.bbox_area_deg2_max);
  document.body.dataset.sites = 'loading';
  let features;
  let truncated;
  try {
    ({ features, truncated } = await allSites({ bbox }, {
      pageSize: Math.min(PAGE_SIZE, state.settings.sites_page_size_max), pagesMax: PAGES_MAX, signal: abort.signal,
    }));
  } catch (error) {
    if (generation !== loadGeneration) return; // superseded by a newer view
    state.loadError = error.detail || error.message;
    document.body.dataset.sites = 'error';
    renderNotice();
    throw error;
  }
  if (generation !== loadGeneration) return;
  state.sites = features;
  state.truncated = truncated;
  state.clamped = clamped;
  state.loadError = null;
  map.getSource('sites').setData({ type: 'FeatureCollection', features });
  document.body.dataset.sites = 'loaded';
  document.body.dataset.siteCount = String(features.length);
  renderLegend();
  renderNotice();
}

async function refreshCounts() {
  try {
    state.counts = await getJson('/api/v1/sites/counts');
    renderLegend();
  } catch (error) {
    console.warn('counts', error);
  }
}

function applyStatusFilter() {
  const map = state.map;
  if (!map) return;
  const visible = statusCodes().filter((c) => !state.hidden.has(c));
  const byStatus = ['in', ['get', 'status'], ['literal', visible]];
  map.setFilter('sites-point', ['all', ['==', ['geometry-type'], 'Point'], byStatus]);
  map.setFilter('sites-section', ['all', ['==', ['geometry-type'], 'LineString'], byStatus]);
  map.setFilter('sites-section-casing', ['all', ['==', ['geometry-type'], 'LineString'], byStatus]);
}

function toggleStatus(code) {
  if (state.hidden.has(code)) state.hidden.delete(code);
  else state.hidden.add(code);
  applyStatusFilter();
  renderLegend();
}

function showNotice(text, isError = false) {
  const el = $('map-notice');
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle('notice-error', isError);
}

function renderNotice() {
  if (document.body.dataset.state === 'error') return;
  if (state.loadError) showNotice(t('map.loadError', { detail: state.loadError }), true);
  else if (state.truncated) showNotice(t('map.truncated', { n: state.sites.length }));
  else if (state.clamped) showNotice(t('map.zoomedOut'));
  else showNotice('');
}

// ---------------------------------------------------------------------------------------------------------
// Legend

/** The site statuses in the server's order (lifecycle order), once the settings are in. */
function statusCodes() {
  return state.settings?.statuses.map((s) => s.code) ?? [];
}

function renderLegend() {
  const counts = state.counts?.by_status || {};
  const list = $('legend-statuses');
  list.replaceChildren(...statusCodes().map((code) => {
    const shown = !state.hidden.has(code);
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
        state.counts ? String(counts[code] ?? 0) : '…')));
  }));
  $('legend-total').textContent = state.counts ? `${t('map.total')} ${state.counts.total}` : '';
  $('legend-total').dataset.count = String(state.counts?.total ?? '');
  $('legend-inview').textContent = state.map ? t('map.inView', { n: state.sites.length }) : t('common.loading');

  const line = (colour, width) => h('span', { class: 'key-line', style: { background: colour, height: `${width}px` } });
  $('legend-keys').replaceChildren(
    h('div', { class: 'legend-keys-title' }, t('map.roads')),
    h('div', { class: 'key' }, line('#e0533d', 5), t('map.road.G'), ' G'),
    h('div', { class: 'key' }, line('#f39c3c', 4), t('map.road.S'), ' S'),
    h('div', { class: 'key' }, line('#f0c93a', 3), t('map.road.X'), ' X'),
    h('div', { class: 'key' }, line('#a9a9a9', 2), t('map.road.YC'), ' Y/C'),
    h('div', { class: 'key' }, h('span', { class: 'key-dot' }), t('map.point')),
    h('div', { class: 'key' }, h('span', { class: 'key-section' }), t('map.section')),
    h('div', { class: 'key' }, h('span', { class: 'key-dot key-overdue' }), t('map.overdue')),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Town names: text drawn on a canvas, shown as icons (no glyph server offline)

function renderTownLabels() {
  const map = state.map;
  if (!map) return;
  const ratio = Math.max(1, Math.round(window.devicePixelRatio || 1));
  const lang = document.documentElement.lang;
  const features = [];
  for (const f of state.towns.features || []) {
    const point = f.properties.label_point?.coordinates;
    const text = localName(f.properties);
    if (!point || !text) continue;
    const image = `town-label:${lang}:${f.properties.admin_code}`;
    if (!map.hasImage(image)) map.addImage(image, labelImage(text, ratio), { pixelRatio: ratio });
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: point }, properties: { image, name: text } });
  }
  map.getSource('town-labels').setData({ type: 'FeatureCollection', features });
}

/** A town name as RGBA pixels: dark green text with a white halo, like a map label. */
function labelImage(text, ratio) {
  const font = `600 ${13 * ratio}px system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif`;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  ctx.font = font;
  const width = Math.ceil(ctx.measureText(text).width + 10 * ratio);
  const height = Math.ceil(20 * ratio);
  canvas.width = width;
  canvas.height = height;
  ctx.font = font;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3.5 * ratio;
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.92)';
  ctx.strokeText(text, width / 2, height / 2);
  ctx.fillStyle = '#3d4f3b';
  ctx.fillText(text, width / 2, height / 2);
  return { width, height, data: new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer) };
}

// ---------------------------------------------------------------------------------------------------------
// Site panel

function onMapClick(e) {
  const map = state.map;
  const pad = 8; // fingers and mice are not pixel-exact
  const box = [[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]];
  const hits = map.queryRenderedFeatures(box, { layers: ['sites-point', 'sites-section'] });
  if (!hits.length) return;
  // Points over lines; then the closest to the click.
  hits.sort((a, b) => (a.layer.id === 'sites-point' ? 0 : 1) - (b.layer.id === 'sites-point' ? 0 : 1));
  openSite(hits[0].properties.id);
  // The panel covers the right of the map (the bottom on phones): bring the clicked site into the clear.
  const container = map.getContainer();
  const phone = container.clientWidth <= 760;
  const panelLeft = phone ? container.clientWidth : container.clientWidth - 420;
  const panelTop = phone ? container.clientHeight * 0.4 : container.clientHeight;
  if (e.point.x > panelLeft - 20 || e.point.y > panelTop - 20) {
    const target = phone ? [container.clientWidth / 2, panelTop / 2] : [panelLeft / 2, container.clientHeight / 2];
    map.panBy([e.point.x - target[0], e.point.y - target[1]]);
  }
}

let detailGeneration = 0;

async function openSite(id) {
  const generation = ++detailGeneration;
  state.selectedId = id;
  state.detail = null;
  state.detailError = null;
  highlight(id);
  const panel = $('panel');
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.dataset.siteId = id;
  document.body.classList.add('panel-open');
  renderPanel();
  try {
    const detail = await getJson(`/api/v1/sites/${encodeURIComponent(id)}`);
    if (generation !== detailGeneration) return;
    state.detail = detail;
    panel.dataset.state = 'ready';
  } catch (error) {
    if (generation !== detailGeneration) return;
    state.detailError = error.detail || error.message;
    panel.dataset.state = 'error';
  }
  renderPanel();
}

function closePanel() {
  detailGeneration += 1;
  state.selectedId = null;
  state.detail = null;
  highlight(null);
  const panel = $('panel');
  panel.hidden = true;
  panel.dataset.state = 'closed';
  document.body.classList.remove('panel-open');
}

function highlight(id) {
  const map = state.map;
  if (!map) return;
  map.setFilter('sites-selected-point', ['all', ['==', ['geometry-type'], 'Point'], ['==', ['get', 'id'], id || '']]);
  map.setFilter('sites-selected-line', ['all', ['==', ['geometry-type'], 'LineString'], ['==', ['get', 'id'], id || '']]);
}

function statusBadge(status) {
  return h('span', { class: 'badge', dataset: { status }, style: { background: STATUS_COLOUR[status] || '#555' } },
    tCode('status', status));
}

function itemBadge(itemState) {
  if (!itemState) return h('span', { class: 'badge badge-outline' }, t('item.unchecked'));
  return h('span', { class: 'badge', dataset: { state: itemState }, style: { background: ITEM_STATE_COLOUR[itemState] || '#555' } },
    tCode('item', itemState));
}

function hazardChip(code) {
  const ht = state.hazardTypes.get(code);
  return h('span', { class: 'chip', title: code }, ht ? localName(ht) : code);
}

function renderPanel() {
  const panel = $('panel');
  if (panel.hidden) return;
  const body = $('panel-body');
  if (state.detailError) {
    $('panel-code').textContent = '';
    $('panel-sub').replaceChildren();
    body.replaceChildren(h('p', { class: 'error' }, t('panel.loadError', { detail: state.detailError })));
    return;
  }
  if (!state.detail) {
    const summary = state.sites.find((f) => f.properties.id === state.selectedId)?.properties;
    $('panel-code').textContent = summary?.code || '';
    $('panel-sub').replaceChildren();
    body.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  const p = state.detail.properties;
  const code = $('panel-code');
  code.textContent = p.code;
  code.dataset.siteCode = p.code;
  fill($('panel-sub'), statusBadge(p.status), ' ',
    h('span', { class: 'muted' }, t(`kindLong.${p.kind}`)),
    p.overdue ? h('span', { class: 'badge badge-danger' }, t('panel.overdue')) : null);

  const road = [p.road_code, p.stake && (p.end_stake ? `${p.stake} – ${p.end_stake}` : p.stake)].filter(Boolean).join(' ');
  const template = state.templates.get(p.template);
  const facts = [
    [t('panel.kind'), t(`kindLong.${p.kind}`)],
    [t('panel.status'), statusBadge(p.status)],
    [t('panel.town'), p.town ? `${p.town}${p.town_code ? ` (${p.town_code})` : ''}` : t('common.none')],
    [t('panel.road'), road || t('common.none')],
    [t('panel.hazardLevel'), tCode('level', p.hazard_level)],
    [t('panel.deadline'), p.deadline
      ? h('span', { class: p.overdue ? 'text-danger' : '' }, formatDate(p.deadline), p.overdue ? ` · ${t('panel.overdue')}` : '')
      : t('common.none')],
    [t('panel.supervision'), tCode('supervision', p.supervision_level)],
    [t('panel.source'), tCode('source', p.source)],
    [t('panel.firstObserved'), formatDateTime(p.first_observed_at)],
    [t('panel.observationCount'), String(p.observation_count ?? 0)],
  ];

  const items = p.checklist_items || [];
  const observations = p.observations || [];
  const events = p.events || [];
  const itemNames = new Map(items.map((i) => [i.code, i]));

  fill(body,
    // The site page holds the rest: the actions, the evidence and the before/after photos.
    h('a', { class: 'btn btn-small btn-primary panel-open-site', id: 'panel-open-site', href: `/site.html?id=${encodeURIComponent(p.id)}` },
      t('panel.openSite')),
    h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    p.duplicate_of ? h('p', { class: 'muted' }, t('panel.duplicateOf')) : null,

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.hazardTypes')),
      p.hazard_types?.length
        ? h('div', { class: 'chips', id: 'panel-hazards' }, p.hazard_types.map(hazardChip))
        : h('p', { class: 'muted' }, t('common.none'))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.checklist'), ' ',
        h('span', { class: 'muted small' },
          t('panel.checklistSummary', { template: template ? localName(template) : p.template || '', done: p.checklist }))),
      h('ul', { class: 'checklist', id: 'panel-checklist' }, items.map((i) => h('li', { dataset: { item: i.code } },
        h('div', { class: 'checklist-name' }, localName(i),
          i.required ? h('span', { class: 'tag' }, t('panel.required')) : null,
          i.night_evidence ? h('span', { class: 'tag', title: t('panel.nightEvidence') }, t('panel.night')) : null),
        h('div', { class: 'checklist-state' },
          i.quantity != null ? h('span', { class: 'muted small' },
            t('panel.quantity', { q: i.quantity_min != null ? `${i.quantity}/${i.quantity_min}` : i.quantity })) : null,
          itemBadge(i.state)),
        i.reason ? h('div', { class: 'muted small checklist-reason' }, i.reason) : null)))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.observations'), ' ', h('span', { class: 'muted small' }, String(p.observation_count ?? observations.length))),
      (p.observation_count ?? 0) > observations.length
        ? h('p', { class: 'muted small' }, t('panel.observationsMore', { n: p.observation_count, m: observations.length }))
        : null,
      h('ol', { class: 'observations', id: 'panel-observations' }, observations.map((o) => renderObservation(o, itemNames)))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.events')),
      events.length
        ? h('ol', { class: 'timeline', id: 'panel-events' }, events.map((e) => h('li', { dataset: { kind: e.kind } },
          h('div', { class: 'timeline-head' },
            h('strong', {}, tCode('event', e.kind)), ' ',
            e.from_status ? statusBadge(e.from_status) : null,
            e.from_status && e.to_status ? ' → ' : null,
            e.to_status ? statusBadge(e.to_status) : null),
          h('div', { class: 'muted small' }, formatDateTime(e.at), e.actor ? ` · ${e.actor}` : ''),
          e.reason ? h('div', { class: 'timeline-reason' }, e.reason) : null)))
        : h('p', { class: 'muted' }, t('panel.noEvents'))),
  );
}

function renderObservation(o, itemNames) {
  const checklist = Object.entries(o.checklist || {});
  return h('li', { class: 'observation', dataset: { observationId: o.id } },
    h('div', { class: 'observation-head' },
      h('strong', {}, formatDateTime(o.observed_at)), ' · ', o.inspector || '',
      o.accuracy_m != null ? h('span', { class: 'muted small' }, ` · ${t('panel.accuracy', { m: Math.round(o.accuracy_m) })}`) : null),
    o.hazard_types?.length ? h('div', { class: 'chips' }, o.hazard_types.map(hazardChip)) : null,
    checklist.length
      ? h('div', { class: 'small' }, checklist.map(([code, s], i) => [i ? ' · ' : '',
        `${itemNames.has(code) ? localName(itemNames.get(code)) : code}: `, h('span', { style: { color: ITEM_STATE_COLOUR[s] } }, tCode('item', s))]))
      : null,
    o.notes ? h('p', { class: 'observation-notes' }, o.notes) : null,
    o.photos?.length
      ? h('div', { class: 'photos' }, o.photos.map((photo) => h('a', {
        href: photo.url, target: '_blank', rel: 'noopener', title: t('panel.openPhoto'), class: 'photo',
      }, h('img', {
        src: photo.thumbnail_url, alt: `${o.inspector || ''} ${formatDateTime(o.observed_at)}`, loading: 'lazy', decoding: 'async',
      }))))
      : h('p', { class: 'muted small' }, t('panel.noPhotos')));
}
