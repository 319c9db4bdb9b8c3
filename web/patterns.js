// 事故时段规律: when crashes happen, for the county (filtered by dates, town, severity, crash type, vehicle) or
// for one screening candidate (`?candidate=ID`): the server's counts and charts (GET /api/v1/crash-patterns,
// src/http/crash_patterns.rs), the over-represented periods in words, each period's share of the crashes
// against its share of the time, and for a candidate the link to its sheet (PDF). The page lays the server's
// answer out; it computes nothing the server does not send.
//
// Not in the top bar: the crashes and candidates pages link here, and the reports page's head does.
// For tests: body[data-state="ready"] once started; the panel's data-loaded is `county:<from>:<to>` or
// `candidate:<id>` once drawn.

import { getJson, h, fill } from './common.js';
import { t, tCode, localName, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { svgNode } from './svgchart.js';

const SEVERITIES = ['fatal', 'injury', 'property_damage_only'];
const CRASH_TYPES = ['rear_end', 'angle', 'head_on', 'sideswipe', 'single_vehicle', 'pedestrian', 'non_motor', 'other'];
const VEHICLES = ['e_bike', 'bicycle', 'motorcycle', 'tricycle', 'farm_vehicle', 'car', 'minivan', 'bus', 'coach',
  'truck', 'hazmat', 'other'];
const CHARTS = ['hours', 'weekdays', 'months', 'periods'];
/** The query parameters the page keeps in its address, as the API names them. */
const PARAMS = ['from', 'to', 'town', 'severity', 'crash_type', 'vehicle', 'candidate'];

const state = { params: {}, towns: [], answer: null, error: null };
const $ = (id) => document.getElementById(id);

boot({
  page: 'patterns',
  title: 'patterns.title',
  main,
  onError: (message) => fill($('patterns-panel'), h('p', { class: 'error' }, message)),
});

async function main() {
  readAddress();
  const towns = await getJson('/api/v1/towns').catch(() => ({ features: [] }));
  state.towns = (towns.features || []).map((f) => ({ code: f.properties.admin_code, name: f.properties.name, name_en: f.properties.name_en }))
    .filter((town) => town.code)
    .sort((a, b) => a.code.localeCompare(b.code));
  $('patterns-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    state.params = Object.fromEntries(PARAMS.filter((p) => p !== 'candidate').map((p) => [p, form.get(p) || '']));
    history.pushState(null, '', `?${query()}`);
    load();
  });
  window.addEventListener('popstate', () => { readAddress(); load(); });
  onLangChange(render);
  await load();
  document.body.dataset.state = 'ready';
}

function readAddress() {
  const search = new URLSearchParams(location.search);
  state.params = Object.fromEntries(PARAMS.map((p) => [p, search.get(p) || '']));
}

/** The non-empty parameters as a query string. */
function query() {
  const q = new URLSearchParams();
  for (const p of PARAMS) if (state.params[p]) q.set(p, state.params[p]);
  return q.toString();
}

async function load() {
  state.answer = null;
  state.error = null;
  render();
  try {
    state.answer = await getJson(`/api/v1/crash-patterns?${query()}`);
  } catch (error) {
    state.error = error.detail || error.message;
  }
  render();
}

function options(select, codes, prefix, selected) {
  fill(select, h('option', { value: '' }, t('patterns.all')),
    codes.map((code) => h('option', { value: code, selected: code === selected }, tCode(prefix, code))));
}

function renderFilter() {
  const form = $('patterns-filter');
  form.hidden = Boolean(state.params.candidate);
  const shown = state.answer?.window;
  $('filter-from').value = state.params.from || shown?.from || '';
  $('filter-to').value = state.params.to || shown?.to || '';
  fill($('filter-town'), h('option', { value: '' }, t('patterns.county')),
    state.towns.map((town) => h('option', { value: town.code, selected: town.code === state.params.town }, localName(town))));
  options($('filter-severity'), SEVERITIES, 'patterns.severity', state.params.severity);
  options($('filter-crash-type'), CRASH_TYPES, 'patterns.crashType', state.params.crash_type);
  options($('filter-vehicle'), VEHICLES, 'patterns.vehicle', state.params.vehicle);
}

function render() {
  renderFilter();
  const candidate = state.params.candidate;
  fill($('patterns-scope'), candidate
    ? [t('patterns.scope.candidate', { id: candidate }), ' · ',
      h('a', { href: `/api/v1/candidates/${encodeURIComponent(candidate)}/sheet.pdf`, id: 'candidate-pdf' }, t('patterns.pdf')),
      ' · ', h('a', { href: '/patterns.html' }, t('patterns.scope.toCounty'))]
    : t('patterns.scope.county'));
  const panel = $('patterns-panel');
  delete panel.dataset.loaded;
  if (state.error) {
    fill(panel, h('p', { class: 'error', role: 'alert' }, t('common.error', { detail: state.error })));
    return;
  }
  const p = state.answer;
  if (!p) {
    fill(panel, h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  fill(panel,
    h('p', { id: 'patterns-summary' }, t('patterns.summary', {
      from: p.window.from, to: p.window.to, days: p.window.days,
      crashes: p.totals.crashes, deaths: p.totals.deaths, injuries: p.totals.injuries,
    })),
    overRepresented(p),
    h('div', { class: 'report-charts' }, CHARTS.map((name) => chart(name, p.charts[name]))),
    periodTable(p));
  panel.dataset.loaded = candidate ? `candidate:${candidate}` : `county:${p.window.from}:${p.window.to}`;
}

const percent = (share) => (share == null ? t('common.none') : `${Math.round(share * 100)}%`);

function overRepresented(p) {
  const rows = p.periods.filter((row) => row.over_represented);
  return h('section', { class: 'report-section', 'aria-labelledby': 'over-title' },
    h('h2', { id: 'over-title' }, t('patterns.over.title')),
    rows.length
      ? h('ul', { id: 'over-represented' }, rows.map((row) => h('li', { dataset: { period: row.period } },
        t(row.period === 'night' || row.period === 'dawn_dusk' ? 'patterns.over.time' : 'patterns.over.days', {
          period: tCode('patterns.period', row.period),
          exposure: percent(row.exposure_share),
          share: percent(row.crash_share),
        }))))
      : h('p', { class: 'muted', id: 'over-represented' }, t('patterns.over.none')));
}

function chart(name, svgText) {
  const caption = t(`patterns.chart.${name}`);
  return h('figure', { class: 'report-chart', id: `chart-${name}` },
    h('figcaption', {}, caption),
    svgText ? svgNode(svgText, caption, t('reports.noChart')) : h('p', { class: 'muted' }, t('reports.noChart')));
}

function periodTable(p) {
  const head = h('tr', {}, ['period', 'crashes', 'crashShare', 'days', 'exposure', 'ratio']
    .map((col) => h('th', { scope: 'col' }, t(`patterns.col.${col}`))));
  const rows = p.periods.map((row) => h('tr', { dataset: { period: row.period }, class: row.over_represented ? 'over' : null },
    h('th', { scope: 'row', title: row.definition }, tCode('patterns.period', row.period)),
    h('td', { class: 'num' }, row.crashes),
    h('td', { class: 'num' }, percent(row.crash_share)),
    h('td', { class: 'num' }, row.days),
    h('td', { class: 'num' }, percent(row.exposure_share)),
    h('td', { class: 'num' }, row.ratio == null ? t('common.none') : `×${row.ratio.toFixed(2)}`)));
  return h('section', { class: 'report-section', 'aria-labelledby': 'periods-title' },
    h('h2', { id: 'periods-title' }, t('patterns.periods')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'period-table' }, h('thead', {}, head), h('tbody', {}, rows))));
}
