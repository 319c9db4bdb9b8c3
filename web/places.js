// 区镇与道路, the admin page's second tab: the county's own towns and roads, imported from its files.
//
//  - the lists: GET /api/v1/places/towns (all) and /api/v1/places/roads (a page of 100, searched by route
//    code prefix or name);
//  - the import form: one file (.geojson/.json, .zip, .gpkg, .pbf, .csv) or a shapefile's parts, with its
//    options. "预览" sends it with `dry_run: true` and shows the report; only a preview without problems
//    enables "导入", which sends the very same upload with `dry_run: false`. Changing anything in the form
//    forgets the preview, so what is imported is always what was previewed;
//  - progress: bytes sent (XMLHttpRequest: fetch reports no upload progress), then the server's phase,
//    polled every 500 ms at GET /api/v1/imports/progress/{id} with an id made here;
//  - the history: GET /api/v1/imports.
//
// The server checks everything again (options, CRS, encoding, every feature) and says what is wrong in
// problem+json: 422 `import_problems` with the report, `import_options`, `import_unreadable`.

import { getJson, apiUpload, h, fill, debounce } from './common.js';
import { t, tCode, formatDateTime } from './i18n.js';

const ROADS_PAGE = 100;
const PROGRESS_POLL_MS = 500;
const COUNTY = /^[0-9]{6}$/;
/** EPSG codes of the CGCS2000 Gauss-Krüger 3° zones the server knows (src/import/crs.rs). */
const GK_EPSG = /^(?:EPSG:)?(45[1-4][0-9]|455[0-4])$/i;
/** Files a map import takes; a shapefile comes as several of them. */
const MAP_ACCEPT = '.geojson,.json,.zip,.gpkg,.pbf,.shp,.shx,.dbf,.prj,.cpg';
const SHAPEFILE_PART = /\.(shp|shx|dbf|prj|cpg|qix|sbn|sbx|xml)$/i;
const MAPPING_FIELDS = ['admin_code', 'name', 'route_code', 'start_stake', 'end_stake', 'source_id'];

const state = {
  towns: null,
  townsError: null,
  roads: null, // {total, roads}
  roadsError: null,
  roadsQuery: '',
  roadsOffset: 0,
  history: null,
  historyError: null,
  busy: null, // 'preview' | 'import'
  progress: null, // {sent, total, phase, done, of, features}
  // The answer shown under the form: {report} (200/201) or {error: ApiError} (4xx/5xx, network).
  outcome: null,
  // The preview that enables "导入": the upload's signature and its report.
  preview: null,
  formError: null,
};

const $ = (id) => document.getElementById(id);

/** Wires the tab's form and search; the lists load on the first `load()`. */
export function mountPlaces() {
  const form = $('import-form');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(true);
  });
  $('import-apply').addEventListener('click', () => submit(false));
  // Anything changed after a preview: the preview no longer stands for the upload.
  const forget = () => {
    if (state.busy) return;
    state.preview = null;
    state.formError = null;
    renderForm();
  };
  form.addEventListener('input', forget);
  form.addEventListener('change', forget);
  $('road-search').addEventListener('input', debounce((e) => {
    state.roadsQuery = e.target.value.trim();
    state.roadsOffset = 0;
    loadRoads();
  }, 250));
  renderForm();
}

let loaded = null;
/** Loads the lists once (the tab may be opened several times). */
export function loadPlaces() {
  if (!loaded) loaded = Promise.all([loadTowns(), loadRoads(), loadHistory()]);
  return loaded;
}

export function renderPlaces() {
  renderForm();
  renderProgress();
  renderOutcome();
  renderTowns();
  renderRoads();
  renderHistory();
}

// ---------------------------------------------------------------------------------------------------------
// Lists

async function loadTowns() {
  try {
    state.towns = await getJson('/api/v1/places/towns');
    state.townsError = null;
  } catch (error) {
    state.townsError = error.detail || error.message;
  }
  renderTowns();
}

async function loadRoads() {
  const params = new URLSearchParams({ limit: String(ROADS_PAGE), offset: String(state.roadsOffset) });
  if (state.roadsQuery) params.set('q', state.roadsQuery);
  const asked = params.toString();
  try {
    const roads = await getJson(`/api/v1/places/roads?${params}`);
    // A slower answer to an older search must not replace a newer one.
    if (asked !== currentRoadsParams()) return;
    state.roads = roads;
    state.roadsError = null;
  } catch (error) {
    state.roadsError = error.detail || error.message;
  }
  renderRoads();
}

function currentRoadsParams() {
  const params = new URLSearchParams({ limit: String(ROADS_PAGE), offset: String(state.roadsOffset) });
  if (state.roadsQuery) params.set('q', state.roadsQuery);
  return params.toString();
}

async function loadHistory() {
  try {
    state.history = await getJson('/api/v1/imports');
    state.historyError = null;
  } catch (error) {
    state.historyError = error.detail || error.message;
  }
  renderHistory();
}

function listState(container, error, value) {
  if (error) {
    fill(container, h('p', { class: 'error' }, t('common.error', { detail: error })));
    return true;
  }
  if (value == null) {
    fill(container, h('p', { class: 'muted' }, t('common.loading')));
    return true;
  }
  return false;
}

const number = (n, digits = 0) => (n == null ? t('common.none')
  : Number(n).toLocaleString('zh-CN', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

/** A stake in metres as `K12+300` (centimetres kept when there are any: K2+814.19). */
export function stakeText(metres) {
  if (metres == null || !Number.isFinite(metres)) return null;
  const cm = Math.round(Math.max(0, metres) * 100);
  const km = Math.floor(cm / 100_000);
  const rest = cm - km * 100_000;
  const m = String(Math.floor(rest / 100)).padStart(3, '0');
  const frac = rest % 100 ? `.${String(rest % 100).padStart(2, '0').replace(/0$/, '')}` : '';
  return `K${km}+${m}${frac}`;
}

function renderTowns() {
  const container = $('town-list');
  if (listState(container, state.townsError, state.towns)) return;
  const towns = state.towns;
  $('town-count').textContent = t('places.townCount', { n: towns.length });
  if (!towns.length) {
    fill(container, h('p', { class: 'muted', id: 'town-empty' }, t('places.noTowns')));
    return;
  }
  const sum = (key) => towns.reduce((s, town) => s + (town[key] || 0), 0);
  fill(container, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'town-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('places.adminCode')), h('th', {}, t('places.townName')), h('th', { class: 'num' }, t('places.areaKm2')),
      h('th', { class: 'num' }, t('places.sites')), h('th', { class: 'num' }, t('places.openSites')))),
    h('tbody', {}, towns.map((town) => h('tr', { dataset: { code: town.admin_code } },
      h('td', { class: 'mono' }, town.admin_code),
      h('td', { class: 'place-name' }, town.name),
      h('td', { class: 'num' }, number(town.area_km2, 1)),
      h('td', { class: 'num' }, number(town.sites)),
      h('td', { class: 'num' }, number(town.open_sites))))),
    h('tfoot', {}, h('tr', {},
      h('th', { colspan: 2 }, t('places.total')),
      h('td', { class: 'num' }, number(sum('area_km2'), 1)),
      h('td', { class: 'num' }, number(sum('sites'))),
      h('td', { class: 'num' }, number(sum('open_sites'))))))));
}

function renderRoads() {
  const container = $('road-list');
  if (listState(container, state.roadsError, state.roads)) return;
  const { total, roads } = state.roads;
  $('road-count').textContent = t('places.roadCount', { n: number(total) });
  if (!roads.length) {
    fill(container, h('p', { class: 'muted', id: 'road-empty' }, state.roadsQuery ? t('places.noRoadMatch') : t('places.noRoads')));
    return;
  }
  const first = state.roadsOffset + 1;
  const last = state.roadsOffset + roads.length;
  const page = (offset) => {
    state.roadsOffset = offset;
    loadRoads();
  };
  fill(container,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'road-table' },
      h('thead', {}, h('tr', {},
        h('th', {}, t('places.routeCode')), h('th', {}, t('places.roadName')), h('th', {}, t('places.countyCode')),
        h('th', { class: 'num' }, t('places.lengthKm')), h('th', {}, t('places.stakeRange')),
        h('th', { class: 'num' }, t('places.sites')), h('th', { class: 'num' }, t('places.openSites')))),
      h('tbody', {}, roads.map((road) => {
        const from = stakeText(road.start_stake_m);
        const to = stakeText(road.end_stake_m);
        return h('tr', { dataset: { id: String(road.id), route: road.route_code || '' } },
          h('td', { class: 'mono nowrap' }, road.route_code || h('span', { class: 'muted' }, t('places.noRouteCode'))),
          h('td', { class: 'place-name' }, road.name || h('span', { class: 'muted' }, t('common.none'))),
          h('td', { class: 'mono' }, road.admin_code || t('common.none')),
          h('td', { class: 'num' }, road.length_m == null ? t('common.none') : number(road.length_m / 1000, 2)),
          h('td', { class: 'mono nowrap' }, from && to ? `${from} – ${to}` : h('span', { class: 'muted' }, t('common.none'))),
          h('td', { class: 'num' }, number(road.sites)),
          h('td', { class: 'num' }, number(road.open_sites)));
      })))),
    total > ROADS_PAGE ? h('div', { class: 'pager', id: 'road-pager' },
      h('span', { class: 'muted' }, t('places.pageOf', { first: number(first), last: number(last), total: number(total) })),
      h('button', { type: 'button', class: 'btn btn-small', id: 'road-prev', disabled: state.roadsOffset === 0,
        onclick: () => page(Math.max(0, state.roadsOffset - ROADS_PAGE)) }, t('places.prevPage')),
      h('button', { type: 'button', class: 'btn btn-small', id: 'road-next', disabled: last >= total,
        onclick: () => page(state.roadsOffset + ROADS_PAGE) }, t('places.nextPage'))) : null);
}

function renderHistory() {
  const container = $('import-history');
  if (listState(container, state.historyError, state.history)) return;
  if (!state.history.length) {
    fill(container, h('p', { class: 'muted', id: 'history-empty' }, t('places.noHistory')));
    return;
  }
  fill(container, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'history-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('places.time')), h('th', {}, t('places.kind')), h('th', {}, t('places.file')),
      h('th', {}, 'SHA-256'), h('th', {}, t('places.crs')), h('th', {}, t('places.by')),
      h('th', { class: 'num' }, t('places.inserted')), h('th', { class: 'num' }, t('places.updated')),
      h('th', { class: 'num' }, t('places.unchanged')), h('th', { class: 'num' }, t('places.sitesChanged')))),
    h('tbody', {}, state.history.map((row) => h('tr', { dataset: { id: String(row.id), kind: row.kind } },
      h('td', { class: 'nowrap' }, formatDateTime(row.imported_at)),
      h('td', { class: 'nowrap' }, tCode('places.kind', row.kind.replace('_', '-'))),
      h('td', { class: 'history-file' }, row.file_name, row.format ? h('span', { class: 'tag' }, row.format) : null),
      h('td', { class: 'mono', title: row.file_sha256 }, (row.file_sha256 || '').slice(0, 12)),
      h('td', { class: 'nowrap' }, row.crs || t('common.none')),
      h('td', {}, row.imported_by || t('common.none')),
      h('td', { class: 'num' }, number(row.inserted)),
      h('td', { class: 'num' }, number(row.updated)),
      h('td', { class: 'num' }, number(row.unchanged)),
      h('td', { class: 'num' }, number(row.sites_changed))))))));
}

// ---------------------------------------------------------------------------------------------------------
// The form

function kind() {
  return document.querySelector('#import-kinds input:checked')?.value || 'towns';
}

/** Shows the options that apply to the chosen kind (`data-for="towns roads"`). */
function renderForm() {
  const chosen = kind();
  const isMap = chosen === 'towns' || chosen === 'roads';
  for (const el of document.querySelectorAll('#import-form [data-for]')) {
    el.hidden = !el.dataset.for.split(' ').includes(chosen);
  }
  $('import-crs-code-field').hidden = !isMap || $('import-crs').value !== 'gk';
  const file = $('import-file');
  file.accept = isMap ? MAP_ACCEPT : '.csv,text/csv';
  file.multiple = isMap;
  $('import-file-hint').textContent = t(isMap ? 'places.fileHintMap' : 'places.fileHintCsv');
  fileNames($('import-file'), $('import-file-names'));
  fileNames($('import-breaks'), $('import-breaks-names'));
  for (const input of document.querySelectorAll('#import-kinds input, #import-form input, #import-form select')) {
    input.disabled = Boolean(state.busy);
  }
  const error = $('import-form-error');
  error.hidden = !state.formError;
  error.textContent = state.formError || '';
  $('import-preview').disabled = Boolean(state.busy);
  $('import-preview').textContent = state.busy === 'preview' ? t('places.previewing') : t('places.preview');
  const ready = Boolean(state.preview) && !state.busy;
  $('import-apply').disabled = !ready;
  $('import-apply').textContent = state.busy === 'import' ? t('places.applying') : t('places.apply');
  $('import-apply-hint').textContent = state.busy || ready ? '' : t('places.applyHint');
}

/** The chosen files' names and sizes beside the picker (the browser's own text would be in its own language). */
function fileNames(input, out) {
  const files = [...input.files];
  out.classList.toggle('muted', !files.length);
  out.textContent = files.length
    ? files.map((f) => `${f.name}（${bytesText(f.size)}）`).join(t('common.listSep'))
    : t('places.noFileChosen');
}

/** The options part: only what was set (the server refuses unknown fields and treats absent as "from the file"). */
function options(dryRun) {
  const chosen = kind();
  const isMap = chosen === 'towns' || chosen === 'roads';
  const out = { dry_run: dryRun };
  if (isMap) {
    const crs = $('import-crs').value;
    if (crs === 'gk') {
      const match = GK_EPSG.exec($('import-crs-code').value.trim());
      if (!match) throw new Error(t('places.badGk'));
      out.crs = `EPSG:${match[1]}`;
    } else if (crs) {
      out.crs = crs;
    }
  }
  const encoding = $('import-encoding').value;
  if (encoding) out.encoding = encoding;
  if (chosen === 'roads' || chosen === 'chainage-breaks') {
    const county = $('import-county').value.trim();
    if (county && !COUNTY.test(county)) throw new Error(t('places.badCounty'));
    if (county) out.county = county;
  }
  if (chosen === 'roads') out.stake_unit = $('import-stake-unit').value;
  if (isMap) {
    const mapping = {};
    for (const field of MAPPING_FIELDS) {
      const input = $(`map-${field}`);
      const value = input.value.trim();
      if (value && !input.closest('[data-for]').hidden) mapping[field] = value;
    }
    if (Object.keys(mapping).length) out.mapping = mapping;
  }
  return out;
}

function chosenFiles() {
  const files = [...$('import-file').files];
  if (!files.length) throw new Error(t('places.noFile'));
  if (files.length > 1 && (!files.every((f) => SHAPEFILE_PART.test(f.name)) || !files.some((f) => /\.shp$/i.test(f.name)))) {
    throw new Error(t('places.notOneShapefile'));
  }
  return files;
}

/** What identifies an upload: a preview enables "导入" for exactly this. */
function signature(chosen, files, breaks, opts) {
  const describe = (f) => f && [f.name, f.size, f.lastModified].join('/');
  return JSON.stringify([chosen, files.map(describe), describe(breaks), { ...opts, dry_run: null }]);
}

async function submit(dryRun) {
  if (state.busy) return;
  const chosen = kind();
  let files;
  let opts;
  try {
    files = chosenFiles();
    opts = options(dryRun);
  } catch (error) {
    state.formError = error.message;
    renderForm();
    return;
  }
  const breaks = chosen === 'roads' ? $('import-breaks').files[0] || null : null;
  const sig = signature(chosen, files, breaks, opts);
  if (!dryRun && state.preview?.signature !== sig) {
    state.preview = null;
    renderForm();
    return;
  }
  const body = new FormData();
  body.append('options', new Blob([JSON.stringify(opts)], { type: 'application/json' }), 'options.json');
  for (const file of files) body.append('file', file, file.name);
  if (breaks) body.append('breaks', breaks, breaks.name);

  const id = crypto.randomUUID();
  state.busy = dryRun ? 'preview' : 'import';
  state.formError = null;
  state.outcome = null;
  state.progress = { sent: 0, total: files.reduce((s, f) => s + f.size, 0), uploaded: false, phase: null };
  renderForm();
  renderOutcome();
  renderProgress();
  const poll = pollProgress(id);
  try {
    const report = await apiUpload(`/api/v1/imports/${chosen}?progress=${id}`, body, {
      onUploadProgress: (sent, total) => {
        state.progress = { ...state.progress, sent, total: total || state.progress.total };
        renderProgress();
      },
      onUploaded: () => {
        state.progress = { ...state.progress, uploaded: true };
        renderProgress();
      },
    });
    state.outcome = { report };
    if (dryRun) {
      state.preview = report.problems_total === 0 && changes(report) ? { signature: sig, report } : null;
    } else {
      state.preview = null;
      await Promise.all([loadTowns(), loadRoads(), loadHistory()]);
    }
  } catch (error) {
    state.outcome = { error };
    state.preview = null;
  } finally {
    poll.stop();
    state.busy = null;
    state.progress = null;
    renderForm();
    renderProgress();
    renderOutcome();
  }
}

const changes = (report) => report.inserted + report.updated > 0 || report.sites_changed.length > 0;

/** Polls the server's progress every 500 ms until stopped; a 404 means not started yet or finished. */
function pollProgress(id) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      const progress = await getJson(`/api/v1/imports/progress/${id}`);
      if (!stopped && state.progress) {
        state.progress = { ...state.progress, uploaded: true, phase: progress.phase, done: progress.done, of: progress.total, features: progress.features };
        renderProgress();
      }
    } catch {
      // 404 before the upload has arrived and after the import ended; a network hiccup: the next tick.
    }
    if (!stopped) timer = setTimeout(tick, PROGRESS_POLL_MS);
  };
  timer = setTimeout(tick, PROGRESS_POLL_MS);
  return { stop: () => { stopped = true; clearTimeout(timer); } };
}

function renderProgress() {
  const box = $('import-progress');
  const p = state.progress;
  box.hidden = !p;
  if (!p) return;
  const bar = $('import-progress-bar');
  let text;
  if (!p.uploaded) {
    const pct = p.total ? Math.min(100, Math.round((p.sent / p.total) * 100)) : 0;
    bar.value = pct;
    text = t('places.uploading', { pct, sent: bytesText(p.sent), total: bytesText(p.total) });
    box.dataset.phase = 'uploading';
  } else if (p.phase && p.of) {
    bar.value = Math.min(100, Math.round((p.done / p.of) * 100));
    text = t('places.phaseCount', { phase: tCode('places.phase', p.phase), done: number(p.done), total: number(p.of) });
    box.dataset.phase = p.phase;
  } else {
    bar.removeAttribute('value'); // indeterminate: the server is at work and has not said how far
    text = p.phase ? tCode('places.phase', p.phase) : t('places.serverWorking');
    box.dataset.phase = p.phase || 'waiting';
  }
  if (p.features) text += ` · ${t('places.featuresSoFar', { n: number(p.features) })}`;
  $('import-progress-text').textContent = text;
}

function bytesText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------------------------
// The report

function renderOutcome() {
  const container = $('import-report');
  const outcome = state.outcome;
  if (!outcome) {
    fill(container);
    delete container.dataset.state;
    return;
  }
  if (outcome.report) {
    const r = outcome.report;
    container.dataset.state = r.dry_run ? 'preview' : r.applied ? 'applied' : 'unchanged';
    let headline;
    if (r.dry_run) headline = changes(r) ? t('places.previewReady') : t('places.previewNothing');
    else headline = r.applied ? t('places.applied') : t('places.nothingChanged');
    fill(container, h('div', { class: `alert ${r.dry_run && changes(r) ? 'alert-info' : 'alert-ok'}`, id: 'import-headline' }, headline),
      reportBody(r));
    return;
  }
  const error = outcome.error;
  const problem = error.body || {};
  container.dataset.state = 'error';
  container.dataset.code = problem.code || String(error.status || 'network');
  const title = errorTitle(error);
  const detail = error.detail || error.message;
  fill(container,
    h('div', { class: 'alert alert-danger', id: 'import-error', role: 'alert' },
      h('strong', {}, title),
      h('p', { class: 'import-error-detail', lang: 'en' }, detail)),
    problem.report ? reportBody(problem.report) : null);
}

function errorTitle(error) {
  const problem = error.body || {};
  if (error.status == null) return t('common.networkError');
  if (problem.code === 'import_problems') return t('places.error.import_problems', { n: number(problem.report?.problems_total ?? 0) });
  if (problem.code === 'import_unreadable') {
    return `${t('places.error.import_unreadable')}${problem.read_error ? `：${tCode('places.readError', problem.read_error)}` : ''}`;
  }
  if (problem.code === 'import_options') return t('places.error.import_options');
  if (error.status === 413) return t('places.error.tooLarge');
  if (error.status === 403) return t('places.error.forbidden');
  return t('common.error', { detail: `${error.status}` });
}

function reportBody(r) {
  const stat = (key, value) => h('div', { class: 'stat', dataset: { stat: key } },
    h('span', { class: 'stat-value' }, number(value)), h('span', { class: 'stat-label' }, t(`places.${key}`)));
  const file = r.file || {};
  const fields = Object.entries(file.fields || {});
  return h('div', { class: 'report', dataset: { kind: r.kind, dryRun: String(r.dry_run) } },
    h('div', { class: 'stats' },
      stat('features_read', r.features_read), stat('inserted', r.inserted), stat('updated', r.updated),
      stat('unchanged', r.unchanged), stat('not_in_file', r.not_in_file),
      stat('sitesChanged', r.sites_changed?.length ?? 0)),
    r.not_in_file ? h('p', { class: 'hint' }, t('places.notInFileKept')) : null,
    h('dl', { class: 'report-facts' },
      fact(t('places.file'), file.name, 'file'),
      fact(t('places.format'), file.format, 'format'),
      fact(t('places.crs'), file.crs, 'crs'),
      fact(t('places.encoding'), file.encoding, 'encoding'),
      fact(t('places.size'), file.bytes == null ? null : bytesText(file.bytes), 'bytes'),
      fact('SHA-256', file.sha256 ? file.sha256.slice(0, 12) : null, 'sha256'),
      fact(t('places.elapsed'), r.elapsed_ms == null ? null : t('places.ms', { n: number(r.elapsed_ms) }), 'elapsed')),
    fields.length ? h('div', { class: 'report-fields' },
      h('h3', {}, t('places.fieldsUnderstood')),
      h('div', { class: 'chips', id: 'report-fields' }, fields.map(([attribute, field]) => h('span', { class: 'chip', dataset: { field } },
        h('span', { class: 'mono' }, attribute), ' → ', tCode('places.field', field))))) : null,
    r.problems?.length ? h('div', { class: 'report-section' },
      h('h3', {}, t('places.problems'), r.problems_total > r.problems.length
        ? h('span', { class: 'muted count-aside' }, t('places.firstOf', { n: r.problems.length, total: number(r.problems_total) })) : null),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'problem-table' },
        h('thead', {}, h('tr', {}, h('th', { class: 'num' }, t('places.feature')), h('th', {}, t('places.key')),
          h('th', {}, t('places.problem')), h('th', {}, t('places.attributes')))),
        h('tbody', {}, r.problems.map((p) => h('tr', {},
          h('td', { class: 'num' }, p.feature ?? t('common.none')),
          h('td', { class: 'mono nowrap' }, p.key ?? t('common.none')),
          h('td', { class: 'problem-text', lang: 'en' }, p.problem),
          h('td', { class: 'attributes' }, attributesText(p.attributes)))))))) : null,
    r.sites_changed?.length ? h('div', { class: 'report-section' },
      h('h3', {}, r.dry_run ? t('places.sitesWouldChange') : t('places.sitesDidChange')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'site-change-table' },
        h('thead', {}, h('tr', {}, h('th', {}, t('places.siteCode')), h('th', {}, t('places.what')),
          h('th', {}, t('places.before')), h('th', {}, t('places.after')))),
        h('tbody', {}, r.sites_changed.map((c) => h('tr', {},
          h('td', { class: 'mono nowrap' }, c.code ? h('a', { href: `/site.html?id=${encodeURIComponent(c.site_id)}` }, c.code) : c.site_id),
          h('td', {}, tCode('places.changed', c.field)),
          h('td', {}, c.before || t('common.none')),
          h('td', {}, c.after || t('common.none')))))))) : null,
    r.repaired?.length ? h('div', { class: 'report-section' },
      h('h3', {}, t('places.repaired')),
      h('ul', { class: 'report-list', id: 'repair-list' }, r.repaired.map((x) => h('li', {},
        h('span', { class: 'muted' }, t('places.featureN', { n: x.feature })), ' ', h('span', { class: 'mono' }, x.key), t('common.colon'),
        h('span', { lang: 'en' }, x.repair))))) : null,
    r.warnings?.length ? h('div', { class: 'report-section' },
      h('h3', {}, t('places.warnings'), h('span', { class: 'muted count-aside' }, number(r.warnings.length))),
      h('ul', { class: 'report-list', id: 'warning-list' }, r.warnings.map((w) => h('li', { lang: 'en' }, w)))) : null);
}

function fact(label, value, key) {
  return h('div', { dataset: { fact: key } }, h('dt', {}, label), h('dd', {}, value || t('common.none')));
}

function attributesText(attributes) {
  if (!attributes) return t('common.none');
  return Object.entries(attributes).map(([k, v]) => `${k}=${v == null ? '∅' : v}`).join('，');
}
