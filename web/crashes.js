// 事故数据: crash records from the police crash database's exports (issue 12). A dispatcher or admin uploads
// a file with a dry run first (the report: counts, the columns read, the personal columns dropped, the rows
// refused with their row numbers), then imports it; below are the recent imports and the crashes themselves,
// filtered by dates, severity and town. Reviewers and leaders read; the server decides who may import.
//
// For tests: body[data-state="ready"] once the page has loaded; window.roadledger.reload().

import { getJson, h, fill, hasRole } from './common.js';
import { fileImport, reportCount as count } from './fileimport.js';
import { t, tCode, localName, formatDateTime, onLangChange } from './i18n.js';
import { boot } from './boot.js';

/** Crashes per page of the list (the server allows up to 2000). */
const PAGE_SIZE = 200;
/** Refused rows shown under a report (the report itself lists at most 200). */
const REFUSED_SHOWN = 50;

const state = {
  user: null,
  towns: [],
  report: null, // the last report
  error: null,
  imports: null,
  crashes: [],
  next: null,
  listError: null,
};

const $ = (id) => document.getElementById(id);

window.roadledger = { reload: () => Promise.all([loadImports(), loadCrashes()]) };

boot({
  page: 'crashes',
  title: 'crashes.title',
  main: start,
  onError: (message) => fill($('crash-list'), h('p', { class: 'error' }, message)),
});

async function start({ user }) {
  state.user = user;
  const mayImport = hasRole('dispatcher', user) || hasRole('admin', user);
  $('crash-upload-card').hidden = !mayImport;
  fileImport({
    url: '/api/v1/crash-imports',
    file: $('crash-file'),
    options: ['crash-crs', 'crash-encoding', 'crash-sheet', 'crash-mapping'].map($),
    dryRunButton: $('crash-dry-run'),
    importButton: $('crash-import'),
    parts: () => [['crs', $('crash-crs').value], ['encoding', $('crash-encoding').value],
      ['sheet', $('crash-sheet').value.trim()], ['mapping', $('crash-mapping').value.trim()]],
    onReport: async (report, dryRun) => {
      state.report = report;
      state.error = null;
      if (!dryRun) await Promise.all([loadImports(), loadCrashes()]);
      renderReport();
    },
    onError: (error) => {
      state.report = null;
      state.error = error.body?.code ? t(`crashes.refusal.${error.body.code}`, {}) + (error.detail ? ` (${error.detail})` : '') : (error.detail || error.message);
      renderReport();
    },
  });
  $('crash-filter').addEventListener('submit', (e) => { e.preventDefault(); loadCrashes(); });
  $('crash-more').addEventListener('click', () => loadCrashes({ more: true }));
  onLangChange(() => { renderReport(); renderImports(); renderCrashes(); renderTowns(); });
  const towns = await getJson('/api/v1/towns').catch(() => ({ features: [] }));
  state.towns = (towns.features || []).map((f) => f.properties);
  renderTowns();
  await Promise.all([mayImport ? loadImports() : Promise.resolve(), loadCrashes()]);
  document.body.dataset.state = 'ready';
}

function renderTowns() {
  const select = $('crash-town');
  const chosen = select.value;
  fill(select, h('option', { value: '' }, t('crashes.all')),
    state.towns.map((town) => h('option', { value: String(town.id) }, localName(town))));
  select.value = chosen;
}

function renderReport() {
  const slot = $('crash-report');
  if (state.error) {
    fill(slot, h('p', { class: 'error', id: 'crash-report-error' }, state.error));
    return;
  }
  const r = state.report;
  if (!r) {
    fill(slot);
    return;
  }
  const columns = Object.entries(r.columns || {}).map(([field, header]) => `${header} → ${tCode('crashes.field', field)}`);
  const refused = (r.refused || []).slice(0, REFUSED_SHOWN);
  fill(slot, h('div', { class: 'crash-report', id: 'crash-report-body', dataset: { dryRun: String(r.dry_run) } },
    h('h3', {}, r.dry_run ? t('crashes.reportDry') : t('crashes.reportDone')),
    h('div', { class: 'stats' },
      count('crashes.rowsRead', r.rows_read),
      count(r.dry_run ? 'crashes.rowsWouldImport' : 'crashes.rowsImported', r.rows_imported),
      count('crashes.rowsKnown', r.rows_known),
      count('crashes.rowsRefused', r.rows_refused)),
    h('p', { class: 'small' }, t('crashes.columnsRead'), t('common.colon'), columns.join('、') || t('common.none')),
    r.dropped_columns?.length
      ? h('p', { class: 'small', id: 'crash-dropped' }, t('crashes.dropped'), t('common.colon'), r.dropped_columns.join('、'))
      : null,
    (r.notes || []).length ? h('p', { class: 'small muted' }, t('crashes.injuriesNote')) : null,
    refused.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'crash-refused' },
      h('caption', { class: 'visually-hidden' }, t('crashes.refusedCaption')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('crashes.col.row')), h('th', { scope: 'col' }, t('crashes.col.recordNo')),
        h('th', { scope: 'col' }, t('crashes.col.reason')))),
      h('tbody', {}, refused.map((row) => h('tr', { dataset: { row: String(row.row) } },
        h('td', { class: 'num' }, String(row.row)),
        h('td', {}, row.record_no || t('common.none')),
        h('td', { title: row.reason }, tCode('crashes.reason', row.code))))))) : null,
    r.rows_refused > refused.length ? h('p', { class: 'muted small' }, t('crashes.moreRefused', { n: r.rows_refused - refused.length })) : null,
    r.dry_run ? h('p', { class: 'muted small' }, t('crashes.dryRunHint')) : null));
}

async function loadImports() {
  try {
    state.imports = await getJson('/api/v1/crash-imports');
  } catch (error) {
    state.imports = { error: error.detail || error.message };
  }
  renderImports();
}

function renderImports() {
  const slot = $('crash-imports');
  if (!state.imports) return;
  if (state.imports.error) {
    fill(slot, h('p', { class: 'error' }, state.imports.error));
    return;
  }
  if (!state.imports.length) {
    fill(slot, h('p', { class: 'muted' }, t('crashes.noImports')));
    return;
  }
  fill(slot, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'crash-import-table' },
    h('thead', {}, h('tr', {}, ['file', 'importedAt', 'importedBy', 'rowsImported', 'rowsKnown', 'rowsRefused', 'dropped']
      .map((k) => h('th', { scope: 'col' }, t(`crashes.col.${k}`))))),
    h('tbody', {}, state.imports.map((i) => h('tr', {},
      h('td', {}, i.file_name),
      h('td', {}, formatDateTime(i.imported_at)),
      h('td', {}, i.imported_by),
      h('td', { class: 'num' }, String(i.rows_imported)),
      h('td', { class: 'num' }, String(i.rows_known)),
      h('td', { class: 'num' }, String(i.rows_refused)),
      h('td', {}, (i.dropped_columns || []).join('、') || t('common.none'))))))));
}

function filterQuery() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const [id, name] of [['crash-from', 'from'], ['crash-to', 'to'], ['crash-severity', 'severity'], ['crash-town', 'town']]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  return params.toString();
}

async function loadCrashes({ more = false } = {}) {
  try {
    const page = await getJson(more && state.next ? state.next : `/api/v1/crashes?${filterQuery()}`);
    state.crashes = more ? state.crashes.concat(page.features) : page.features;
    state.next = page.next;
    state.listError = null;
  } catch (error) {
    state.listError = error.detail || error.message;
  }
  renderCrashes();
}

/** A stake in metres as K12+300. */
function stakeText(p) {
  if (p.stake) return p.stake;
  if (p.stake_m == null) return '';
  const m = Math.round(p.stake_m);
  return `K${Math.floor(m / 1000)}+${String(m % 1000).padStart(3, '0')}`;
}

function renderCrashes() {
  const slot = $('crash-list');
  $('crash-more').hidden = !state.next;
  if (state.listError) {
    fill(slot, h('p', { class: 'error' }, state.listError));
    return;
  }
  if (!state.crashes.length) {
    fill(slot, h('p', { class: 'muted' }, t('crashes.noCrashes')));
    return;
  }
  fill(slot, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'crash-table' },
    h('thead', {}, h('tr', {}, ['time', 'severity', 'casualties', 'type', 'vehicles', 'weather', 'light', 'road', 'town']
      .map((k) => h('th', { scope: 'col' }, t(`crashes.col.${k}`))))),
    h('tbody', {}, state.crashes.map(({ properties: p }) => h('tr', { dataset: { crash: String(p.id) } },
      h('td', {}, formatDateTime(p.time)),
      h('td', {}, tCode('crashes.severity', p.severity)),
      h('td', { class: 'num' }, t('crashes.casualties', { d: p.deaths, s: p.serious_injuries, l: p.slight_injuries })),
      h('td', {}, p.crash_type ? tCode('crashes.type', p.crash_type) : t('common.none')),
      h('td', {}, (p.vehicle_types || []).map((v) => tCode('crashes.vehicle', v)).join('、') || t('common.none')),
      h('td', {}, p.weather ? tCode('crashes.weather', p.weather) : t('common.none')),
      h('td', {}, p.light ? tCode('crashes.light', p.light) : t('common.none')),
      h('td', {}, [p.route_code, stakeText(p)].filter(Boolean).join(' ') || t('common.none')),
      h('td', {}, p.town || t('common.none'))))))));
}
