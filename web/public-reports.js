// 公众上报: the dispatchers' queue of what the public sent (issue 13): citizens' photo reports (随手拍), 12345
// hotline tickets and Open311 requests, oldest first. A dispatcher accepts one (an observation of a new site,
// or of an open site within 50 m offered here), merges it into a named site, or rejects it with a reason the
// reporter reads. Hotline operators, reviewers, leaders and admins read the queue; the reporter's contact is
// shown in full to dispatchers only (the server masks it for everyone else).
//
// For tests: window.roadledger = { reload() }; body[data-state="ready"] once the first page loaded, and
// body[data-queue="loaded"] after every reload.

import { getJson, apiJson, h, fill, hasRole, createFlash } from './common.js';
import { t, tCode, formatDateTime, onLangChange, isEnglish } from './i18n.js';
import { boot } from './boot.js';
import { explain, siteHref } from './lifecycle.js';
import { openDialog } from './dialog.js';

const STATUSES = ['received', 'accepted', 'merged', 'rejected'];
const CHANNELS = ['citizen', 'hotline', 'open311'];
const PAGE_SIZE = 50;

const state = {
  user: null,
  reports: [],
  categories: [],
  cursor: null,
  error: null,
  open: new Set(), // report ids whose detail is unfolded
  details: new Map(), // report id → its detail (photos, updates, nearby sites)
};

const $ = (id) => document.getElementById(id);
const flash = createFlash('pr-flash');

window.roadledger = { reload: () => load() };

boot({
  page: 'public-reports',
  title: 'publicReports.title',
  main,
  onError: (message) => fill($('pr-list'), h('p', { class: 'error' }, message)),
});

async function main({ user }) {
  state.user = user;
  const params = new URLSearchParams(location.search);
  renderFilters(params);
  $('pr-filters').addEventListener('change', () => {
    writeAddress();
    load();
  });
  $('pr-filters').addEventListener('submit', (e) => e.preventDefault());
  $('pr-refresh').addEventListener('click', () => load());
  $('pr-more').addEventListener('click', () => load({ more: true }));
  onLangChange(() => {
    renderFilters(new URLSearchParams(location.search));
    render();
  });
  await load();
  renderFilters(params);
  document.body.dataset.state = 'ready';
}

function categoryName(c) {
  return (isEnglish() ? c.name_en : c.name) || c.code;
}

function renderFilters(params) {
  const status = params.has('status') ? params.get('status') : 'received';
  fill($('pr-status'), [h('option', { value: '' }, t('candidates.all')),
    STATUSES.map((v) => h('option', { value: v, selected: v === status }, tCode('publicReports.status', v)))]);
  fill($('pr-channel'), [h('option', { value: '' }, t('candidates.all')),
    CHANNELS.map((v) => h('option', { value: v, selected: v === params.get('channel') }, tCode('publicReports.channel', v)))]);
  fill($('pr-category'), [h('option', { value: '' }, t('candidates.all')),
    state.categories.map((c) => h('option', { value: c.code, selected: c.code === params.get('category') }, categoryName(c)))]);
}

function query() {
  const q = new URLSearchParams();
  for (const [key, value] of new FormData($('pr-filters'))) if (String(value) !== '') q.set(key, String(value));
  return q;
}

function writeAddress() {
  const q = query();
  // The queue (received) is the page's default: the address says so only when another status is chosen.
  if (!q.has('status')) q.set('status', '');
  if (q.get('status') === 'received') q.delete('status');
  const text = q.toString();
  history.replaceState(history.state, '', `${location.pathname}${text ? `?${text}` : ''}`);
}

async function load({ more = false } = {}) {
  document.body.dataset.queue = 'loading';
  const q = query();
  q.set('limit', String(PAGE_SIZE));
  if (more && state.cursor) q.set('cursor', state.cursor);
  try {
    const page = await getJson(`/api/v1/public-reports?${q}`);
    state.reports = more ? state.reports.concat(page.reports) : page.reports;
    state.categories = page.categories || state.categories;
    state.cursor = page.next_cursor;
    state.error = null;
  } catch (error) {
    state.error = explain(error);
  }
  render();
  document.body.dataset.queue = 'loaded';
}

function render() {
  const list = $('pr-list');
  $('pr-more').hidden = !state.cursor;
  if (state.error) return fill(list, h('p', { class: 'error' }, state.error));
  if (!state.reports.length) return fill(list, h('p', { class: 'muted', id: 'pr-empty' }, t('publicReports.empty')));
  fill(list, h('ul', { class: 'cand-items' }, state.reports.map((r) => reportItem(r))));
}

function placeText(r) {
  const point = r.lon != null ? `${r.lon.toFixed(5)}, ${r.lat.toFixed(5)}` : null;
  return [r.town, r.address_text, point].filter(Boolean).join(' · ') || t('candidates.noPlace');
}

function contactText(r) {
  if (r.contact_purged_at) return t('publicReports.contactPurged');
  const parts = [r.contact_name, r.contact_phone, r.contact_email].filter(Boolean);
  if (!parts.length) return t('publicReports.noContact');
  return parts.join(' · ') + (r.contact_masked ? ` ${t('publicReports.masked')}` : '');
}

function reportItem(r) {
  const mayDecide = hasRole('dispatcher', state.user);
  const decided = r.status !== 'received';
  const category = state.categories.find((c) => c.code === r.category);
  const head = h('div', { class: 'cand-head' },
    h('span', { class: `badge pr-channel pr-channel-${r.channel}` }, tCode('publicReports.channel', r.channel)),
    h('strong', {}, ` #${r.id} ${category ? categoryName(category) : r.category}`),
    r.ticket_no ? h('span', { class: 'mono' }, ` · ${t('publicReports.ticket')} ${r.ticket_no}`) : null,
    h('span', { class: 'muted' }, ` · ${t('publicReports.received')} ${formatDateTime(r.received_at)} · ${placeText(r)}`),
    r.photo_count ? h('span', { class: 'muted' }, ` · ${t('publicReports.photos', { n: r.photo_count })}`) : null);
  const outcome = decided
    ? h('p', { class: 'cand-decided pr-decided' }, tCode('publicReports.status', r.status),
      r.site_id ? [' · ', h('a', { href: siteHref(r.site_id), id: `pr-site-${r.id}`, class: 'pr-site-link' }, r.site_code || t('candidates.openSite'))] : null,
      r.public_reason ? ` · ${r.public_reason}` : null,
      r.hidden ? ` · ${t('publicReports.hidden')}` : null)
    : null;
  const actions = !decided && mayDecide ? h('div', { class: 'cand-actions' },
    h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'accept' }, onclick: () => accept(r) }, t('publicReports.accept')),
    h('button', { type: 'button', class: 'btn', dataset: { action: 'merge' }, onclick: () => merge(r) }, t('publicReports.merge')),
    h('button', { type: 'button', class: 'btn', dataset: { action: 'reject' }, onclick: () => reject(r) }, t('publicReports.reject')))
    : null;
  const open = state.open.has(r.id);
  return h('li', { class: 'cand-item pr-item', id: `pr-${r.id}`, dataset: { id: String(r.id), status: r.status, channel: r.channel } },
    head,
    h('p', { class: 'pr-description' }, r.description || t('publicReports.noDescription')),
    h('p', { class: 'small pr-contact' }, `${t('publicReports.contact')}${t('common.colon')}${contactText(r)}`),
    h('p', { class: 'small' }, h('button', { type: 'button', class: 'btn pr-toggle', 'aria-expanded': String(open), onclick: () => toggle(r) },
      open ? t('publicReports.less') : t('publicReports.more'))),
    open ? detailView(r) : null,
    outcome,
    actions);
}

async function toggle(r) {
  if (state.open.has(r.id)) {
    state.open.delete(r.id);
  } else {
    state.open.add(r.id);
    if (!state.details.has(r.id)) {
      try {
        // A hotline operator reads the report but no site: nearby sites are left out for them (403).
        const [detail, nearby] = await Promise.all([
          getJson(`/api/v1/public-reports/${r.id}`),
          getJson(`/api/v1/public-reports/${r.id}/nearby-sites`).catch(() => null),
        ]);
        state.details.set(r.id, { ...detail, nearby });
      } catch (error) {
        flash.show('error', () => explain(error));
      }
    }
  }
  render();
}

function detailView(r) {
  const d = state.details.get(r.id);
  if (!d) return h('p', { class: 'muted' }, t('common.loading'));
  return h('div', { class: 'pr-detail' },
    d.photos.length ? h('div', { class: 'pr-photos cand-facts' }, d.photos.map((p) => h('a', { href: p.original_url, target: '_blank', rel: 'noopener', title: t('publicReports.original') },
      h('img', { class: 'cand-thumb', src: p.thumbnail_url, alt: t('publicReports.photo'), loading: 'lazy', width: p.thumbnail_width, height: p.thumbnail_height })))) : null,
    d.nearby ? h('p', { class: 'small' }, `${t('publicReports.nearby', { radius: d.nearby.radius_m })}${t('common.colon')}`,
      d.nearby.sites.length ? d.nearby.sites.map((s, i) => [i ? '、' : '', h('a', { href: siteHref(s.id) }, `${s.code}（${tCode('status', s.status)}，${Math.round(s.distance_m)} m）`)])
        : t('publicReports.noNearby')) : null,
    h('ol', { class: 'small pr-updates' }, d.updates.map((u) => h('li', {}, `${formatDateTime(u.at)} ${tCode('publicReports.publicStatus', u.public_status)}${u.description ? ` · ${u.description}` : ''}`))));
}

async function nearbyOf(r) {
  const known = state.details.get(r.id)?.nearby;
  // Only dispatchers decide, and they see every site: nearby sites were read with the detail.
  if (known) return known;
  return getJson(`/api/v1/public-reports/${r.id}/nearby-sites`);
}

const choice = (name, value, label, checked) => h('label', { class: 'choice' },
  h('input', { type: 'radio', name, value, checked }), ' ', label);

function notesFields({ reasonRequired = false } = {}) {
  return [
    h('label', { class: 'field' }, h('span', {}, reasonRequired ? t('publicReports.publicReason') : t('publicReports.publicNote')),
      h('textarea', { name: 'public', id: 'pr-public', maxlength: 500, rows: 3, placeholder: t('publicReports.publicHint') })),
    h('label', { class: 'field' }, h('span', {}, t('publicReports.internalNote')),
      h('textarea', { name: 'internal', id: 'pr-internal', maxlength: 2000, rows: 2 })),
  ];
}

async function decide(r, action, body) {
  try {
    return await apiJson(`/api/v1/public-reports/${r.id}/${action}`, { method: 'POST', json: body });
  } catch (error) {
    throw new Error(explain(error));
  }
}

function text(form, name) {
  const value = String(new FormData(form).get(name) || '').trim();
  return value || undefined;
}

/** Accept: a new site (or matching within 30 m), or an open site within 50 m named; a point for an address. */
async function accept(r) {
  let nearby;
  try {
    nearby = await nearbyOf(r);
  } catch (error) {
    flash.show('error', () => explain(error));
    return;
  }
  const needsPoint = r.lon == null;
  const content = [
    h('p', {}, t('publicReports.acceptExplain', { radius: nearby.radius_m })),
    h('fieldset', { class: 'cand-targets' }, h('legend', {}, t('candidates.confirmInto')),
      choice('target', 'new', t('candidates.newSite'), true),
      nearby.sites.map((s) => choice('target', s.id, t('candidates.linkSite', {
        code: s.code, status: tCode('status', s.status), distance: Math.round(s.distance_m),
      }), false))),
    needsPoint ? h('fieldset', { class: 'cand-targets' }, h('legend', {}, t('publicReports.pointNeeded', { address: r.address_text || '' })),
      h('label', { class: 'field' }, h('span', {}, t('publicReports.lon')), h('input', { name: 'lon', id: 'pr-lon', type: 'number', step: 'any', required: true })),
      h('label', { class: 'field' }, h('span', {}, t('publicReports.lat')), h('input', { name: 'lat', id: 'pr-lat', type: 'number', step: 'any', required: true }))) : null,
    notesFields(),
  ];
  const answer = await openDialog({
    id: 'dialog-accept-report',
    title: t('publicReports.acceptTitle', { id: r.id }),
    content,
    submitLabel: t('publicReports.accept'),
    onSubmit: async (form) => {
      const target = new FormData(form).get('target');
      const body = { public_note: text(form, 'public'), internal_note: text(form, 'internal') };
      if (target && target !== 'new') body.site_id = target;
      if (needsPoint) body.point = { lon: Number(text(form, 'lon')), lat: Number(text(form, 'lat')) };
      return decide(r, 'accept', body);
    },
  });
  if (answer) decided(r, answer, 'publicReports.accepted');
}

/** Merge into a named open site: one offered nearby, or any site by its id. */
async function merge(r) {
  let nearby = { sites: [], radius_m: 50 };
  try {
    nearby = await nearbyOf(r);
  } catch (error) {
    flash.show('error', () => explain(error));
    return;
  }
  const other = h('input', { name: 'site_id', id: 'pr-merge-site', placeholder: t('publicReports.siteIdHint'), pattern: '[0-9a-fA-F-]{36}' });
  const content = [
    h('fieldset', { class: 'cand-targets' }, h('legend', {}, t('publicReports.mergeInto')),
      nearby.sites.map((s, i) => choice('target', s.id, t('candidates.linkSite', {
        code: s.code, status: tCode('status', s.status), distance: Math.round(s.distance_m),
      }), i === 0)),
      choice('target', 'other', t('publicReports.otherSite'), !nearby.sites.length), other),
    notesFields(),
  ];
  const answer = await openDialog({
    id: 'dialog-merge-report',
    title: t('publicReports.mergeTitle', { id: r.id }),
    content,
    submitLabel: t('publicReports.merge'),
    onSubmit: async (form) => {
      const target = new FormData(form).get('target');
      const site = target === 'other' ? other.value.trim() : target;
      if (!site) throw new Error(t('publicReports.siteMissing'));
      return decide(r, 'merge', { site_id: site, public_note: text(form, 'public'), internal_note: text(form, 'internal') });
    },
  });
  if (answer) decided(r, answer, 'publicReports.merged');
}

async function reject(r) {
  const content = [
    ...notesFields({ reasonRequired: true }),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'hidden', id: 'pr-hidden' }), ' ', t('publicReports.hideSpam')),
  ];
  const answer = await openDialog({
    id: 'dialog-reject-report',
    title: t('publicReports.rejectTitle', { id: r.id }),
    content,
    submitLabel: t('publicReports.reject'),
    danger: true,
    onSubmit: async (form) => {
      const reason = text(form, 'public');
      if (!reason) throw new Error(t('publicReports.reasonMissing'));
      return decide(r, 'reject', { public_reason: reason, internal_note: text(form, 'internal'), hidden: new FormData(form).get('hidden') === 'on' });
    },
  });
  if (answer) decided(r, answer, 'publicReports.rejected');
}

/** A decision made here: the item shows it (with its site's link) until the next reload. */
function decided(r, answer, key) {
  const i = state.reports.findIndex((x) => x.id === r.id);
  if (i >= 0) state.reports[i] = answer.report;
  state.details.set(r.id, { ...answer, nearby: state.details.get(r.id)?.nearby || { sites: [], radius_m: 50 } });
  flash.show('ok', () => t(key, { id: r.id }));
  render();
}
