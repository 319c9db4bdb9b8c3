// 12345热线工单: hotline operators and dispatchers enter a ticket the caller reports (its number, the time of
// the call, what was said, the address, optionally the place picked on a small map) and import the hotline
// platform's CSV export, a dry run first. Tickets land in the public reports' queue for a dispatcher; the
// ticket number is the key, so the same ticket sent again answers the stored one.
//
// For tests: body[data-state="ready"] once the page has loaded; #ticket-result[data-outcome] after a send
// ("created", "known", "refused").

import { apiFetch, getJson, readResponse, h, fill } from './common.js';
import { fileImport, reportCount as count } from './fileimport.js';
import { t, tCode, isEnglish, formatDateTime, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { openPlaceMap } from './placemap.js';

/** Where the map opens when no point is picked yet: the county seat. */
const DEFAULT_CENTER = { lon: 120.55, lat: 31.87 };
/** Refused rows shown under an import's report (the report itself lists at most 200). */
const REFUSED_SHOWN = 50;

const state = { categories: [], point: null, map: null, result: null, report: null, importError: null };
const $ = (id) => document.getElementById(id);

boot({
  page: 'hotline',
  title: 'hotline.title',
  main: start,
  onError: (message) => fill($('ticket-result'), h('p', { class: 'error' }, message)),
});

async function start() {
  // The public categories, as the public page and Open311 list them (`GET /api/v1/public/categories`).
  state.categories = await getJson('/api/v1/public/categories');
  renderCategories();
  resetTime();
  $('ticket-form').addEventListener('submit', (e) => { e.preventDefault(); enter(); });
  $('ticket-pick').addEventListener('click', pick);
  $('ticket-unpick').addEventListener('click', unpick);
  fileImport({
    url: '/api/v1/hotline-imports',
    file: $('hotline-file'),
    options: [$('hotline-crs'), $('hotline-encoding')],
    dryRunButton: $('hotline-dry-run'),
    importButton: $('hotline-run'),
    parts: () => [['crs', $('hotline-crs').value], ['encoding', $('hotline-encoding').value]],
    onReport: (report) => { state.report = report; state.importError = null; renderReport(); },
    onError: (error) => { state.report = null; state.importError = error.detail || error.message; renderReport(); },
  });
  onLangChange(() => { renderCategories(); renderPoint(); renderResult(); renderReport(); });
  document.body.dataset.state = 'ready';
}

function renderCategories() {
  const select = $('ticket-category');
  const chosen = select.value || 'other';
  fill(select, state.categories.map((c) => h('option', { value: c.code }, isEnglish() ? c.name_en : c.name)));
  select.value = chosen;
}

/** The call's time defaults to now, in the browser's (the county's) time. */
function resetTime() {
  const now = new Date();
  now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
  $('ticket-called-at').value = now.toISOString().slice(0, 16);
}

async function pick() {
  const container = $('ticket-map');
  container.hidden = false;
  $('ticket-unpick').hidden = false;
  if (!state.point) state.point = { ...DEFAULT_CENTER };
  renderPoint();
  if (state.map) return;
  state.map = await openPlaceMap(container, state.point, {
    label: t('hotline.marker'),
    onMove: (p) => { state.point = p; renderPoint(); },
  });
}

function unpick() {
  state.point = null;
  state.map?.remove();
  state.map = null;
  $('ticket-map').hidden = true;
  $('ticket-unpick').hidden = true;
  renderPoint();
}

function renderPoint() {
  const p = state.point;
  $('ticket-point').textContent = p ? t('hotline.pointAt', { lon: p.lon.toFixed(6), lat: p.lat.toFixed(6) }) : '';
}

/** The form as the API takes it: empty fields left out; the picked point is WGS-84 (our own tiles). */
function ticket() {
  const value = (id) => $(id).value.trim() || undefined;
  const called = $('ticket-called-at').value;
  return {
    ticket_no: value('ticket-no'),
    // datetime-local has no offset: the county's time, which the server reads as such.
    called_at: called ? called.replace('T', ' ') : undefined,
    description: value('ticket-description'),
    address: value('ticket-address'),
    location: state.point ? { lon: state.point.lon, lat: state.point.lat, crs: 'wgs84' } : undefined,
    category: $('ticket-category').value,
    caller_phone: value('ticket-phone'),
    caller_name: value('ticket-name'),
  };
}

const FIELD_INPUTS = {
  ticket_no: 'ticket-no', called_at: 'ticket-called-at', description: 'ticket-description', address: 'ticket-address',
  category: 'ticket-category', caller_phone: 'ticket-phone', caller_name: 'ticket-name', location: 'ticket-pick',
};

async function enter() {
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove('field-invalid');
  $('ticket-submit').disabled = true;
  try {
    const response = await apiFetch('/api/v1/hotline-tickets', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ticket()),
    });
    // 201: entered now; 200: the same ticket was entered before, and this is it.
    const known = response.status === 200;
    const body = await readResponse(response);
    state.result = { outcome: known ? 'known' : 'created', ticket: body };
    if (!known) {
      $('ticket-form').reset();
      resetTime();
      unpick();
    }
  } catch (error) {
    const field = error.body?.field;
    if (field && FIELD_INPUTS[field]) {
      $(FIELD_INPUTS[field]).classList.add('field-invalid');
      $(FIELD_INPUTS[field]).focus();
    }
    state.result = { outcome: 'refused', message: error.detail || error.message, code: error.body?.code };
  } finally {
    $('ticket-submit').disabled = false;
    renderResult();
  }
}

function renderResult() {
  const slot = $('ticket-result');
  const r = state.result;
  if (!r) return fill(slot);
  slot.dataset.outcome = r.outcome;
  if (r.outcome === 'refused') {
    const lead = r.code === 'ticket_conflict' ? t('hotline.conflict') : t('hotline.refused');
    return fill(slot, h('p', { class: 'error', id: 'ticket-error' }, lead, ' ', r.message));
  }
  const tk = r.ticket;
  return fill(slot, h('div', { class: 'notice-inline', id: 'ticket-done' },
    h('p', {}, h('strong', {}, t(r.outcome === 'known' ? 'hotline.known' : 'hotline.created', { no: tk.ticket_no }))),
    h('p', { class: 'small' }, t('hotline.tracking'), ' ',
      h('a', { href: `/track.html#${tk.tracking_token}`, id: 'ticket-tracking' }, `${location.origin}/track.html#${tk.tracking_token}`)),
    h('p', { class: 'small muted' }, t('hotline.enteredAt', { at: formatDateTime(tk.received_at), by: tk.entered_by || '' }))));
}

function renderReport() {
  const slot = $('hotline-report');
  if (state.importError) return fill(slot, h('p', { class: 'error', id: 'hotline-report-error' }, state.importError));
  const r = state.report;
  if (!r) return fill(slot);
  const columns = Object.entries(r.columns || {}).map(([field, header]) => `${header} → ${tCode('hotline.field', field)}`);
  const refused = (r.refused || []).slice(0, REFUSED_SHOWN);
  return fill(slot, h('div', { class: 'hotline-report', id: 'hotline-report-body', dataset: { dryRun: String(r.dry_run) } },
    h('h3', {}, r.dry_run ? t('hotline.reportDry') : t('hotline.reportDone')),
    h('div', { class: 'stats' },
      count('hotline.rowsRead', r.rows_read),
      count(r.dry_run ? 'hotline.rowsWouldStore' : 'hotline.rowsStored', r.rows_stored),
      count('hotline.rowsKnown', r.rows_known),
      count('hotline.rowsRefused', r.rows_refused)),
    h('p', { class: 'small' }, t('hotline.columnsRead'), t('common.colon'), columns.join('、') || t('common.none')),
    refused.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'hotline-refused' },
      h('caption', { class: 'visually-hidden' }, t('hotline.refusedCaption')),
      h('thead', {}, h('tr', {}, ['row', 'ticketNo', 'reason'].map((k) => h('th', { scope: 'col' }, t(`hotline.col.${k}`))))),
      h('tbody', {}, refused.map((row) => h('tr', { dataset: { row: String(row.row) } },
        h('td', { class: 'num' }, String(row.row)),
        h('td', {}, row.ticket_no || t('common.none')),
        h('td', {}, row.reason)))))) : null,
    r.rows_refused > refused.length ? h('p', { class: 'muted small' }, t('hotline.moreRefused', { n: r.rows_refused - refused.length })) : null,
    r.dry_run ? h('p', { class: 'muted small' }, t('hotline.dryRunHint')) : null));
}
