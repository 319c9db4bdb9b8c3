// 事故多发点段筛查: black-spot screening runs (issue 12). A dispatcher or administrator picks a method, edits its
// parameters (filled in from the county's defaults in /api/v1/settings → screening) and the data window, and
// runs it; the page shows the run's ranked candidates, each linked to the map centred on it, and the list of
// past runs. Reviewers and leaders read the runs without the form.
//
// For tests: body[data-state="ready"] once the runs are listed; window.roadledger = { show(id) }.

import { getJson, apiJson, h, fill, hasRole, createFlash } from './common.js';
import { t, tCode, formatDateTime, onLangChange } from './i18n.js';
import { boot } from './boot.js';

const METHODS = ['sliding_window', 'junction', 'dbscan'];
/** The parameters the form offers per method, in order (the API accepts exactly these). */
const FIELDS = {
  sliding_window: ['window_m', 'step_m', 'snap_m', 'min_crashes', 'min_fatal_crashes'],
  junction: ['radius_m', 'min_crashes', 'min_fatal_crashes'],
  dbscan: ['eps_m', 'min_points', 'snap_m', 'off_network_only'],
};
const WEIGHTS = ['fatal', 'injury', 'property_damage_only'];

const state = { settings: null, user: null, run: null, runs: [] };
const $ = (id) => document.getElementById(id);
const flash = createFlash('screenings-flash');

window.roadledger = { show: (id) => showRun(id) };

boot({
  page: 'screenings',
  title: 'screenings.title',
  main,
  onError: (message) => fill($('screenings-result'), h('p', { class: 'error' }, message)),
});

async function main({ user, settings }) {
  state.user = user;
  state.settings = settings;
  const mayRun = hasRole('dispatcher', user) || hasRole('admin', user);
  $('screenings-form-card').hidden = !mayRun;
  fill($('screenings-method'), METHODS.map((m) => h('option', { value: m }, tCode('screenings.methods', m))));
  $('screenings-method').addEventListener('change', renderParams);
  $('screenings-form').addEventListener('submit', (event) => { event.preventDefault(); run(); });
  renderParams();
  onLangChange(() => { renderParams(); renderRun(); renderRuns(); });
  await loadRuns();
  const wanted = Number(new URLSearchParams(location.search).get('run')) || state.runs[0]?.id;
  if (wanted) await showRun(wanted);
  else fill($('screenings-result'), h('p', { class: 'muted' }, t('screenings.noRuns')));
  document.body.dataset.state = 'ready';
}

function defaults(method) {
  return state.settings?.screening?.defaults?.[method] || {};
}

function renderParams() {
  const method = $('screenings-method').value || METHODS[0];
  const d = defaults(method);
  const limits = state.settings?.screening?.limits || {};
  const fields = FIELDS[method].map((name) => {
    if (name === 'off_network_only') {
      return h('label', {}, h('input', { type: 'checkbox', name, checked: !!d[name] }), ' ', t(`screenings.param.${name}`));
    }
    const [min, max] = limits[name] || [];
    return h('label', {}, h('span', {}, t(`screenings.param.${name}`)), ' ',
      h('input', { type: 'number', name, value: d[name] ?? '', min, max, step: 'any', required: true }));
  });
  const weights = WEIGHTS.map((w) => h('label', {}, h('span', {}, t(`screenings.weight.${w}`)), ' ',
    h('input', { type: 'number', name: `w.${w}`, value: d.epdo_weights?.[w] ?? '', min: 0, max: 1000, step: 'any' })));
  fill($('screenings-params'), fields, h('fieldset', {}, h('legend', {}, t('screenings.epdo')), weights));
}

async function run() {
  const method = $('screenings-method').value;
  const parameters = {};
  for (const input of $('screenings-params').querySelectorAll('input')) {
    if (input.name.startsWith('w.')) {
      if (input.value === '') continue;
      parameters.epdo_weights = { ...(parameters.epdo_weights || {}), [input.name.slice(2)]: Number(input.value) };
    } else if (input.type === 'checkbox') parameters[input.name] = input.checked;
    else if (input.value !== '') parameters[input.name] = Number(input.value);
  }
  const window = {};
  if ($('screenings-start').value) window.start = $('screenings-start').value;
  if ($('screenings-end').value) window.end = $('screenings-end').value;
  $('screenings-run').disabled = true;
  try {
    state.run = await apiJson('/api/v1/screenings', { method: 'POST', json: { method, parameters, window } });
    flash.show('ok', () => t('screenings.done', { n: state.run.run.candidates }));
    renderRun();
    await loadRuns();
  } catch (error) {
    flash.show('error', () => t('common.error', { detail: error.detail || error.message }));
  } finally {
    $('screenings-run').disabled = false;
  }
}

async function loadRuns() {
  state.runs = (await getJson('/api/v1/screenings?limit=50')).runs;
  renderRuns();
}

async function showRun(id) {
  state.run = await getJson(`/api/v1/screenings/${encodeURIComponent(id)}`);
  renderRun();
}

function renderRuns() {
  const rows = state.runs.map((r) => h('tr', {},
    h('td', {}, h('a', { href: `?run=${r.id}`, onclick: (e) => { e.preventDefault(); showRun(r.id); } }, `#${r.id}`)),
    h('td', {}, tCode('screenings.methods', r.method)),
    h('td', {}, `${r.window.start} – ${r.window.end}`),
    h('td', {}, formatDateTime(r.run_at)),
    h('td', {}, r.run_by),
    h('td', { class: 'num' }, r.crashes_read),
    h('td', { class: 'num' }, r.candidates)));
  fill($('screenings-runs'), rows.length ? h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, ['run', 'method', 'window', 'runAt', 'runBy', 'crashes', 'candidates'].map((c) => h('th', {}, t(`screenings.col.${c}`))))),
    h('tbody', {}, rows)) : h('p', { class: 'muted' }, t('screenings.noRuns')));
}

/** Where the map opens for a candidate: MapLibre's hash, zoom/lat/lon. */
function mapHref(c) {
  const [lon, lat] = c.centre;
  return `/#${c.kind === 'section' ? 15 : 17}/${lat}/${lon}`;
}

function stakeText(m) {
  if (m == null) return '';
  const km = Math.floor(m / 1000);
  return `K${km}+${String(Math.round(m - km * 1000)).padStart(3, '0')}`;
}

function renderRun() {
  if (!state.run) return;
  const { run, candidates } = state.run;
  const head = h('p', {}, t('screenings.summary', {
    id: run.id, method: tCode('screenings.methods', run.method), start: run.window.start, end: run.window.end,
    crashes: run.crashes_read, candidates: run.candidates, ms: run.elapsed_ms,
  }), h('br'), h('small', { class: 'muted' }, `SHA-256 ${run.inputs_sha256}`));
  const rows = candidates.map((c) => h('tr', { dataset: { candidate: c.id } },
    h('td', { class: 'num' }, c.rank),
    h('td', {}, tCode('screenings.kinds', c.kind)),
    h('td', { class: 'num' }, c.score),
    h('td', { class: 'num' }, c.crash_count),
    h('td', { class: 'num' }, `${c.deaths} / ${c.injuries}`),
    h('td', {}, c.dominant_crash_type ? tCode('screenings.crashTypes', c.dominant_crash_type) : ''),
    h('td', {}, c.dominant_time_band ? tCode('screenings.timeBands', c.dominant_time_band) : ''),
    h('td', {}, c.town || ''),
    h('td', {}, [c.route_code, stakeText(c.stake_m), c.end_stake_m != null ? `– ${stakeText(c.end_stake_m)}` : ''].filter(Boolean).join(' ')),
    h('td', {}, tCode('screenings.statuses', c.status)),
    h('td', {}, h('a', { href: mapHref(c) }, t('screenings.onMap')))));
  fill($('screenings-result'), head, rows.length ? h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, ['rank', 'kind', 'score', 'crashes', 'casualties', 'crashType', 'timeBand', 'town', 'road', 'status', 'map'].map((c) => h('th', {}, t(`screenings.col.${c}`))))),
    h('tbody', {}, rows)) : h('p', { class: 'muted' }, t('screenings.noCandidates')));
}
