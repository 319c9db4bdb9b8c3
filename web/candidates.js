// 候选点段: the queue of what data found and a person has not yet decided (issue 12). Black spots from
// screening runs come with their crashes, patrol and drone detections with their image. A dispatcher confirms
// one (a new site opens, or an open site of its kind within 50 m is linked) or dismisses it with a reason;
// reviewers, leaders and admins read the queue, a town office its own town's. Nothing enters the ledger
// without this page (or its API).
//
// For tests: window.roadledger = { reload() }; body[data-state="ready"] once the first page loaded, and
// body[data-queue="loaded"] after every reload.

import { getJson, apiJson, h, fill, hasRole, createFlash } from './common.js';
import { t, tCode, localName, formatDateTime, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { explain, siteHref } from './lifecycle.js';
import { openDialog } from './dialog.js';

const SOURCES = ['crash_analysis', 'smart_patrol', 'drone'];
const KINDS = ['intersection', 'section', 'spot'];
const PAGE_SIZE = 50;

const state = {
  user: null,
  settings: null,
  towns: [],
  features: [],
  cursor: null,
  error: null,
  decided: new Map(), // candidate id → the candidate's properties after a decision made on this page
};

const $ = (id) => document.getElementById(id);
const flash = createFlash('cand-flash');

window.roadledger = { reload: () => load() };

boot({
  page: 'candidates',
  title: 'candidates.title',
  main,
  onError: (message) => fill($('cand-list'), h('p', { class: 'error' }, message)),
});

async function main({ user, settings }) {
  state.user = user;
  state.settings = settings;
  const towns = await getJson('/api/v1/towns').catch(() => ({ features: [] }));
  state.towns = (towns.features || []).map((f) => f.properties);
  const params = new URLSearchParams(location.search);
  renderFilters(params);
  $('cand-filters').addEventListener('change', () => {
    writeAddress();
    load();
  });
  $('cand-filters').addEventListener('submit', (e) => e.preventDefault());
  $('cand-refresh').addEventListener('click', () => load());
  $('cand-more').addEventListener('click', () => load({ more: true }));
  onLangChange(() => {
    renderFilters(new URLSearchParams(location.search));
    render();
  });
  await load();
  document.body.dataset.state = 'ready';
}

function renderFilters(params) {
  const options = (values, prefix, selected) => [h('option', { value: '' }, t('candidates.all')),
    values.map((v) => h('option', { value: v, selected: v === selected }, tCode(prefix, v)))];
  fill($('cand-source'), options(SOURCES, 'source', params.get('source')));
  fill($('cand-kind'), options(KINDS, 'kind', params.get('kind')));
  fill($('cand-town'), [h('option', { value: '' }, t('candidates.all')),
    state.towns.map((town) => h('option', { value: town.admin_code, selected: town.admin_code === params.get('town') }, localName(town)))]);
  const min = $('cand-min-score');
  min.placeholder = String(state.settings?.detection_min_confidence ?? '');
  if (params.has('min_score')) min.value = params.get('min_score');
}

/** The filters as the list API's query (and the page's address). */
function query() {
  const form = new FormData($('cand-filters'));
  const q = new URLSearchParams();
  for (const [key, value] of form) if (String(value).trim() !== '') q.set(key, String(value).trim());
  return q;
}

function writeAddress() {
  const q = query().toString();
  history.replaceState(history.state, '', `${location.pathname}${q ? `?${q}` : ''}`);
}

async function load({ more = false } = {}) {
  document.body.dataset.queue = 'loading';
  const q = query();
  q.set('status', 'open');
  q.set('limit', String(PAGE_SIZE));
  if (more && state.cursor) q.set('cursor', state.cursor);
  try {
    const page = await getJson(`/api/v1/candidates?${q}`);
    state.features = more ? state.features.concat(page.features) : page.features;
    state.cursor = page.next_cursor;
    state.error = null;
    if (!more) state.decided.clear();
  } catch (error) {
    state.error = explain(error);
  }
  render();
  document.body.dataset.queue = 'loaded';
}

function render() {
  const list = $('cand-list');
  $('cand-more').hidden = !state.cursor;
  if (state.error) return fill(list, h('p', { class: 'error' }, state.error));
  if (!state.features.length) return fill(list, h('p', { class: 'muted', id: 'cand-empty' }, t('candidates.empty')));
  fill(list, h('ul', { class: 'cand-items' }, state.features.map((f) => candidateItem(f))));
}

function number(value, digits = 2) {
  return value == null ? '' : Number(value).toFixed(digits).replace(/\.?0+$/, '');
}

function placeText(p) {
  const stake = (m) => (m == null ? null : `K${Math.floor(m / 1000)}+${String(Math.round(m % 1000)).padStart(3, '0')}`);
  const stakes = [stake(p.stake_m), stake(p.end_stake_m)].filter(Boolean).join(' – ');
  return [p.town, p.road_code, stakes].filter(Boolean).join(' · ') || t('candidates.noPlace');
}

function candidateItem(feature) {
  const p = state.decided.get(feature.id) || feature.properties;
  const [lon, lat] = feature.geometry.type === 'Point' ? feature.geometry.coordinates : feature.geometry.coordinates[0];
  const crashBased = p.source === 'crash_analysis';
  const facts = crashBased
    ? h('p', { class: 'cand-facts' },
      t('candidates.crashes', { count: p.crash_count, deaths: p.deaths, injuries: p.injuries }),
      p.dominant_crash_type ? ` · ${t('candidates.dominantType')}${t('common.colon')}${tCode('candidates.crashType', p.dominant_crash_type)}` : null,
      p.dominant_time_band ? ` · ${t('candidates.dominantBand')}${t('common.colon')}${tCode('candidates.timeBand', p.dominant_time_band)}` : null)
    : h('p', { class: 'cand-facts' },
      p.thumbnail_url ? h('a', { href: p.thumbnail_url.replace(/\/thumbnail$/, '/image'), target: '_blank', rel: 'noopener' },
        h('img', { class: 'cand-thumb', src: p.thumbnail_url, alt: t('candidates.image'), loading: 'lazy', width: 160 })) : null,
      h('span', {}, `${t('candidates.label')}${t('common.colon')}${p.label || ''} · ${t('candidates.confidence')}${t('common.colon')}${number(p.score)}`));
  const links = [
    h('a', { href: `/?candidates=1#17/${lat}/${lon}`, class: 'cand-map' }, t('candidates.onMap')),
    crashBased ? h('a', { href: `/api/v1/candidates/${p.id}/sheet.pdf`, target: '_blank', rel: 'noopener' }, t('candidates.pdf')) : null,
    crashBased ? h('a', { href: `/patterns.html?candidate=${p.id}` }, t('candidates.patterns')) : null,
  ].filter(Boolean);
  const mayDecide = hasRole('dispatcher', state.user);
  const decided = p.status !== 'open';
  const actions = decided
    ? h('p', { class: 'cand-decided' }, tCode('candidateStatus', p.status),
      p.site_id ? [' · ', h('a', { href: siteHref(p.site_id), id: `cand-site-${p.id}`, class: 'cand-site-link' }, p.site_code || t('candidates.openSite'))] : null,
      p.reason ? ` · ${p.reason}` : null)
    : mayDecide ? h('div', { class: 'cand-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'confirm' }, onclick: () => confirmCandidate(feature) }, t('candidates.confirm')),
      h('button', { type: 'button', class: 'btn', dataset: { action: 'dismiss' }, onclick: () => dismissCandidate(feature) }, t('candidates.dismiss')))
      : null;
  return h('li', { class: 'cand-item', id: `cand-${p.id}`, dataset: { id: String(p.id), source: p.source, status: p.status } },
    h('div', { class: 'cand-head' },
      h('span', { class: `badge cand-source cand-source-${p.source}` }, tCode('source', p.source)),
      h('strong', {}, ` ${tCode('kind', p.kind)} · ${placeText(p)}`),
      h('span', { class: 'muted' }, ` · ${t('candidates.score')} ${number(p.score)}${p.rank ? ` · ${t('candidates.rank', { rank: p.rank })}` : ''}`)),
    facts,
    h('p', { class: 'cand-links small' }, links.flatMap((a, i) => (i ? [' · ', a] : [a])),
      ` · ${t('candidates.found')} ${formatDateTime(p.created_at)}`),
    actions);
}

/** Confirm: the open sites of its kind within 50 m are offered to link; or a new site is opened. */
async function confirmCandidate(feature) {
  const id = feature.id;
  let nearby = { sites: [], radius_m: 50 };
  try {
    nearby = await getJson(`/api/v1/candidates/${id}/nearby-sites`);
  } catch (error) {
    flash.show('error', () => explain(error));
    return;
  }
  const choice = (value, label, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'target', value, checked }), ' ', label);
  const content = [
    h('p', {}, t('candidates.confirmExplain', { radius: nearby.radius_m })),
    h('fieldset', { class: 'cand-targets' },
      h('legend', {}, t('candidates.confirmInto')),
      choice('new', t('candidates.newSite'), true),
      nearby.sites.map((s) => choice(s.id, t('candidates.linkSite', {
        code: s.code, status: tCode('status', s.status), distance: Math.round(s.distance_m),
      }), false))),
  ];
  const answer = await openDialog({
    id: 'dialog-confirm-candidate',
    title: t('candidates.confirmTitle', { id }),
    content,
    submitLabel: t('candidates.confirm'),
    onSubmit: async (form) => {
      const target = new FormData(form).get('target');
      const body = target === 'new' ? { new_site: true } : { site_id: target };
      try {
        return await apiJson(`/api/v1/candidates/${id}/confirm`, { method: 'POST', json: body });
      } catch (error) {
        throw new Error(explain(error));
      }
    },
  });
  if (answer) decided(feature, answer, 'candidates.confirmed');
}

async function dismissCandidate(feature) {
  const id = feature.id;
  const reason = h('textarea', { name: 'reason', id: 'cand-reason', maxlength: 1000, rows: 4, placeholder: t('candidates.reasonHint') });
  const answer = await openDialog({
    id: 'dialog-dismiss-candidate',
    title: t('candidates.dismissTitle', { id }),
    content: [h('label', { class: 'field' }, h('span', {}, t('dialog.reason')), reason)],
    submitLabel: t('candidates.dismiss'),
    danger: true,
    onSubmit: async () => {
      const text = reason.value.trim();
      if (!text) throw new Error(t('dialog.reasonMissing'));
      try {
        return await apiJson(`/api/v1/candidates/${id}/dismiss`, { method: 'POST', json: { reason: text } });
      } catch (error) {
        throw new Error(explain(error));
      }
    },
  });
  if (answer) decided(feature, answer, 'candidates.dismissed');
}

/** A decision made here: the item shows it (with its site's link) until the next reload. */
function decided(feature, answer, key) {
  state.decided.set(feature.id, answer.properties);
  flash.show('ok', () => t(key, { id: feature.id }));
  render();
}
