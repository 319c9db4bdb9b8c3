// 工作台: the queues of the close-out lifecycle, one tab per part a user plays (DOMAIN.md §6).
//
//  - 待核实 / 派单 (dispatchers): reported and verified sites, oldest first, verified or rejected here and
//    dispatched through a dialog;
//  - 我的整改 (town and unit officers): assigned, in-progress and reopened sites in their scope, overdue
//    first, then by the days left;
//  - 待验收 (reviewers): sites pending review;
//  - 延期申请 (dispatchers): sites with an extension request waiting, approved or denied here;
//  - 回头看 (dispatchers, leaders): the towns' look-back figures (relapses count against the town) and the open
//    look-back tasks; dispatchers apply the look-back policy here. Inspectors do the look-backs on their
//    phones (inspect.html).
//
// Every row links to the site page (site.html), where the rest of the work is done. The server scopes the
// lists to the user (a town officer sees their town, a unit officer their unit's sites).
//
// For tests: window.roadledger = { reload(), tab(id) }; body[data-state="ready"] once every queue loaded.

import { getJson, apiJson, h, fill, hasRole, createFlash } from './common.js';
import { t, tCode, localName, formatDateTime, formatDate, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { allSites } from './paging.js';
import {
  actFresh, isStale, explain, statusBadge, daysLeft, daysLeftBadge, roadText, siteHref, today, dispatchAction,
  reasonAction, confirmAction, decideExtensionAction,
} from './lifecycle.js';

/** The tabs, in the order of the bar, with the roles that see them and the statuses they list. */
const TABS = [
  { id: 'dispatch', roles: ['dispatcher'], statuses: ['reported', 'verified'] },
  { id: 'rectify', roles: ['town_officer', 'unit_officer'], statuses: ['assigned', 'in_progress', 'reopened'] },
  { id: 'review', roles: ['reviewer'], statuses: ['pending_review'] },
  { id: 'extensions', roles: ['dispatcher'], statuses: ['in_progress'] },
  { id: 'lookbacks', roles: ['dispatcher', 'leader'], statuses: null },
];
/** Open look-back tasks listed on the page (the towns' table counts them all). */
const LOOK_BACK_TASKS_SHOWN = 200;
/** Sites per page of the list API (at most the server's `sites_page_size_max`), and the most pages one queue
 * reads. */
const PAGE_SIZE = 1000;
const PAGES_MAX = 10;

const state = {
  user: null,
  tabs: [],
  current: null,
  queues: {}, // tab id → {sites: [Feature], error, truncated, loading}
  hazardTypes: new Map(),
  organisations: [],
  busy: new Set(), // site ids with an action under way
  settings: null,
};

const $ = (id) => document.getElementById(id);

window.roadledger = {
  reload: () => loadAll(),
  tab: (id) => selectTab(id),
};

boot({
  page: 'work',
  title: 'work.title',
  main,
  onError: (message) => fill($('work-panel'), h('p', { class: 'error' }, message)),
});

async function main({ user, settings }) {
  state.user = user;
  state.settings = settings;
  state.tabs = TABS.filter((tab) => tab.roles.some((r) => hasRole(r, user)));
  onLangChange(render);
  $('work-refresh').addEventListener('click', () => loadAll());
  window.addEventListener('hashchange', () => selectTab(location.hash.slice(1), { fromHash: true }));

  const wanted = location.hash.slice(1);
  state.current = state.tabs.find((tab) => tab.id === wanted)?.id || state.tabs[0]?.id || null;
  render();
  if (!state.tabs.length) {
    document.body.dataset.state = 'ready';
    return;
  }
  const [hazardTypes, organisations] = await Promise.all([
    getJson('/api/v1/hazard-types').catch(() => []),
    hasRole('dispatcher', user) ? apiJson('/api/v1/organisations') : Promise.resolve([]),
  ]);
  for (const ht of hazardTypes) state.hazardTypes.set(ht.code, ht);
  state.organisations = organisations;
  await loadAll();
  document.body.dataset.state = 'ready';
}

// ---------------------------------------------------------------------------------------------------------
// Loading

async function loadAll() {
  document.body.dataset.queues = 'loading';
  await Promise.all(state.tabs.map((tab) => loadQueue(tab)));
  document.body.dataset.queues = 'loaded';
}

async function loadQueue(tab) {
  state.queues[tab.id] = { ...(state.queues[tab.id] || {}), loading: true };
  render();
  try {
    if (tab.id === 'lookbacks') {
      const [tasks, summary] = await Promise.all([getJson('/api/v1/look-backs'), getJson('/api/v1/look-backs/towns')]);
      state.queues[tab.id] = { sites: tasks, summary, error: null, loading: false };
      render();
      return;
    }
    const { features, truncated } = await listSites(tab.statuses);
    // The extension requests waiting are those of in-progress sites that have one.
    const sites = tab.id === 'extensions' ? features.filter((f) => f.properties.pending_extension) : features;
    state.queues[tab.id] = { sites: sortFor(tab.id, sites), truncated, error: null, loading: false };
  } catch (error) {
    state.queues[tab.id] = { sites: [], error: explain(error), loading: false };
  }
  render();
}

/** Every site in the given statuses that the user may see (the server scopes the list), page by page. */
function listSites(statuses) {
  return allSites({ status: statuses.join(',') }, {
    pageSize: Math.min(PAGE_SIZE, state.settings.sites_page_size_max), pagesMax: PAGES_MAX,
  });
}

/** Ledger codes count up as sites are opened (YH-000123): their order is the order of reporting. */
const byCode = (a, b) => a.properties.code.localeCompare(b.properties.code, 'en', { numeric: true });

function sortFor(tabId, sites) {
  const list = [...sites];
  if (tabId === 'rectify') {
    // Overdue first (the longest overdue on top), then by days left; sites without a deadline last.
    const key = (f) => daysLeft(f.properties.deadline) ?? Number.POSITIVE_INFINITY;
    return list.sort((a, b) => key(a) - key(b) || byCode(a, b));
  }
  if (tabId === 'extensions') {
    const asked = (f) => f.properties.pending_extension?.requested_at || '';
    return list.sort((a, b) => asked(a).localeCompare(asked(b)));
  }
  return list.sort(byCode);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function selectTab(id, { fromHash = false } = {}) {
  if (!state.tabs.some((tab) => tab.id === id)) return;
  state.current = id;
  if (!fromHash) history.replaceState(null, '', `#${id}`);
  render();
  $(`tab-${id}`)?.focus();
}

function render() {
  const user = state.user;
  if (user) {
    $('work-who').textContent = [user.display_name, user.organisation?.name].filter(Boolean).join(' · ');
  }
  renderTabs();
  renderPanel();
  flashLine.render();
}

function renderTabs() {
  const bar = $('work-tabs');
  bar.hidden = state.tabs.length === 0;
  fill(bar, state.tabs.map((tab) => {
    const queue = state.queues[tab.id];
    const count = queue && !queue.loading && !queue.error ? queue.sites.length : null;
    const selected = tab.id === state.current;
    return h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.id}`, class: 'tab', dataset: { tab: tab.id },
      'aria-selected': String(selected), 'aria-controls': 'work-panel', tabindex: selected ? '0' : '-1',
      onclick: () => selectTab(tab.id),
      onkeydown: (e) => {
        const i = state.tabs.indexOf(tab);
        if (e.key === 'ArrowRight') selectTab(state.tabs[(i + 1) % state.tabs.length].id);
        if (e.key === 'ArrowLeft') selectTab(state.tabs[(i + state.tabs.length - 1) % state.tabs.length].id);
      },
    }, t(`work.tab.${tab.id}`), h('span', { class: 'tab-count', dataset: { count: count == null ? '' : String(count) } },
      count == null ? '…' : String(count)));
  }));
}

function renderPanel() {
  const panel = $('work-panel');
  if (!state.tabs.length) {
    panel.removeAttribute('aria-labelledby');
    fill(panel, h('div', { class: 'empty-state', id: 'work-no-roles' },
      h('p', {}, t('work.noRoles')), h('a', { class: 'btn', href: '/' }, t('nav.map'))));
    return;
  }
  const tab = state.current;
  panel.setAttribute('aria-labelledby', `tab-${tab}`);
  panel.dataset.tab = tab;
  const queue = state.queues[tab];
  const head = h('p', { class: 'work-hint muted' }, t(`work.hint.${tab}`));
  if (!queue || (queue.loading && !queue.sites)) {
    fill(panel, head, h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  if (queue.error) {
    fill(panel, head, h('p', { class: 'error' }, t('work.loadError', { detail: queue.error })));
    return;
  }
  if (tab === 'lookbacks') {
    fill(panel, head, lookBackPanel(queue));
    return;
  }
  fill(panel, head,
    queue.truncated ? h('p', { class: 'notice-inline' }, t('work.truncated', { n: queue.sites.length })) : null,
    queue.sites.length
      ? h('ul', { class: 'work-list', id: `list-${tab}` }, queue.sites.map((f) => row(tab, f)))
      : h('p', { class: 'empty-state muted', id: `empty-${tab}` }, t(`work.empty.${tab}`)));
}

function hazardChips(codes = []) {
  const shown = codes.slice(0, 3).map((code) => {
    const ht = state.hazardTypes.get(code);
    return h('span', { class: 'chip chip-small' }, ht ? localName(ht) : code);
  });
  if (codes.length > 3) shown.push(h('span', { class: 'chip chip-small chip-more' }, `+${codes.length - 3}`));
  return shown;
}

function row(tab, feature) {
  const p = feature.properties;
  const busy = state.busy.has(p.id);
  const place = [p.town, roadText(p)].filter(Boolean).join(' · ');
  return h('li', { class: `work-row${busy ? ' is-busy' : ''}${p.overdue ? ' is-overdue' : ''}`, dataset: { siteId: p.id, code: p.code, status: p.status } },
    h('div', { class: 'work-main' },
      h('div', { class: 'work-title' },
        h('a', { class: 'work-code', href: siteHref(p.id) }, p.code),
        statusBadge(p.status),
        h('span', { class: 'muted small' }, tCode('kindLong', p.kind)),
        p.hazard_level ? h('span', { class: `level level-${p.hazard_level}` }, tCode('level', p.hazard_level)) : null,
        p.supervision_level && p.supervision_level !== 'none'
          ? h('span', { class: 'level level-major' }, tCode('supervision', p.supervision_level)) : null),
      h('div', { class: 'work-place' }, place || t('common.none')),
      p.hazard_types?.length ? h('div', { class: 'chips' }, hazardChips(p.hazard_types)) : null,
      tab === 'extensions' && p.pending_extension
        ? h('div', { class: 'work-extension' },
          h('strong', {}, t('work.extensionAsked', { date: p.pending_extension.new_deadline })), ' ',
          h('span', { class: 'muted' }, `${t('dialog.reason')}${t('common.colon')}${p.pending_extension.reason}`))
        : null),
    h('div', { class: 'work-when' }, when(tab, p)),
    h('div', { class: 'work-actions' }, actions(tab, feature)));
}

function when(tab, p) {
  if (tab === 'dispatch') {
    return [h('span', { class: 'when-label' }, t('work.lastObserved')),
      h('span', { class: 'when-value' }, formatDateTime(p.last_observed_at)),
      h('span', { class: 'muted small' }, t('work.visits', { n: p.observation_count ?? 0 }))];
  }
  return [h('span', { class: 'when-label' }, t('work.deadline')),
    h('span', { class: 'when-value' }, p.deadline ? formatDate(p.deadline) : t('work.noDeadline')),
    daysLeftBadge(p),
    tab !== 'extensions' && p.checklist ? h('span', { class: 'muted small' }, t('work.checklist', { done: p.checklist })) : null];
}

function actions(tab, feature) {
  const p = feature.properties;
  const disabled = state.busy.has(p.id);
  const button = (action, label, onclick, extra = '') => h('button', {
    type: 'button', class: `btn btn-small ${extra}`.trim(), dataset: { action }, disabled, onclick,
  }, label);
  const open = (label) => h('a', { class: 'btn btn-small', href: siteHref(p.id), dataset: { action: 'open' } }, label);
  if (tab === 'dispatch') {
    if (p.status === 'reported') {
      return [button('verify', tCode('action', 'verify'), () => verify(feature), 'btn-primary'),
        button('reject', tCode('action', 'reject'), () => reject(feature), 'btn-danger-outline'), open(t('work.view'))];
    }
    return [button('dispatch', tCode('action', 'dispatch'), () => dispatch(feature), 'btn-primary'), open(t('work.view'))];
  }
  if (tab === 'extensions') {
    return [button('approve-extension', t('extension.approve'), () => decide(feature, true), 'btn-primary'),
      button('deny-extension', t('extension.deny'), () => decide(feature, false), 'btn-danger-outline'), open(t('work.view'))];
  }
  if (tab === 'review') return [h('a', { class: 'btn btn-small btn-primary', href: siteHref(p.id), dataset: { action: 'open' } }, t('work.review'))];
  return [h('a', { class: 'btn btn-small btn-primary', href: siteHref(p.id), dataset: { action: 'open' } }, t('work.open'))];
}

// ---------------------------------------------------------------------------------------------------------
// 回头看: the towns' figures and the open tasks

function lookBackPanel({ sites: tasks, summary }) {
  const rate = (row) => (row.done ? `${Math.round((100 * row.relapsed) / row.done)}%` : '—');
  const cells = (row) => [row.done, row.passed, row.relapsed, rate(row), row.open, row.overdue]
    .map((v, i) => h('td', { class: i === 2 && row.relapsed ? 'num error' : 'num' }, String(v)));
  return [
    hasRole('dispatcher', state.user)
      ? h('div', { class: 'work-toolbar' },
        h('button', { type: 'button', class: 'btn btn-primary', id: 'plan-look-backs', onclick: planLookBacks }, t('lookBack.plan')),
        h('span', { class: 'muted small' }, t('lookBack.planHint')))
      : null,
    h('h3', {}, t('lookBack.byTown'), ' ',
      h('span', { class: 'muted small' }, t('lookBack.period', { from: formatDate(summary.from), to: formatDate(summary.to) }))),
    summary.towns.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'look-back-towns' },
        h('thead', {}, h('tr', {}, ['town', 'done', 'passed', 'relapsed', 'rate', 'open', 'overdue']
          .map((c) => h('th', { scope: 'col', class: c === 'town' ? null : 'num' }, t(`lookBack.col.${c}`))))),
        h('tbody', {}, summary.towns.map((row) => h('tr', { dataset: { town: row.town || '' } },
          h('th', { scope: 'row' }, row.town || t('common.none')), cells(row)))),
        h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('lookBack.total')), cells(summary.total)))))
      : h('p', { class: 'muted', id: 'look-back-towns-empty' }, t('lookBack.noneInPeriod')),
    h('h3', {}, t('lookBack.openTasks')),
    tasks.length > LOOK_BACK_TASKS_SHOWN ? h('p', { class: 'notice-inline' }, t('work.truncated', { n: LOOK_BACK_TASKS_SHOWN })) : null,
    tasks.length
      ? h('ul', { class: 'work-list', id: 'list-lookbacks' }, tasks.slice(0, LOOK_BACK_TASKS_SHOWN).map((task) => {
        const overdue = task.due_on < today();
        return h('li', { class: `work-row${overdue ? ' is-overdue' : ''}`, dataset: { siteId: task.site_id, code: task.site_code } },
          h('div', { class: 'work-main' },
            h('div', { class: 'work-title' },
              h('a', { class: 'work-code', href: siteHref(task.site_id) }, task.site_code),
              h('span', { class: 'muted small' }, tCode('kindLong', task.kind)),
              h('span', { class: 'chip chip-small' }, tCode('policy', task.policy))),
            h('div', { class: 'work-place' }, [task.town, roadText(task)].filter(Boolean).join(' · ') || t('common.none'))),
          h('div', { class: 'work-when' },
            h('span', { class: 'when-label' }, t('lookBack.dueLabel')),
            h('span', { class: overdue ? 'when-value error' : 'when-value' }, formatDate(task.due_on))),
          h('div', { class: 'work-actions' }, h('a', { class: 'btn btn-small', href: siteHref(task.site_id), dataset: { action: 'open' } }, t('work.view'))));
      }))
      : h('p', { class: 'empty-state muted', id: 'empty-lookbacks' }, t('work.empty.lookbacks')),
  ];
}

/** Applies the look-back policy (safe to repeat: a site with an open task gets no second one). */
async function planLookBacks(e) {
  e.target.disabled = true;
  try {
    const planned = await apiJson('/api/v1/look-backs/plan', { method: 'POST' });
    flash('ok', () => t('lookBack.planned', { major: planned.quarterly_major, sample: planned.monthly_sample }));
    await loadQueue(state.tabs.find((tab) => tab.id === 'lookbacks'));
  } catch (error) {
    flash('error', () => explain(error));
  } finally {
    e.target.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Quick actions

/**
 * Runs a move from a row; the row follows the site (it leaves the queue when the site leaves its statuses,
 * or its extension request is decided): the queues are read again afterwards.
 */
async function run(feature, perform) {
  const p = feature.properties;
  state.busy.add(p.id);
  render();
  let moved = false;
  try {
    const outcome = await perform();
    if (!outcome) return; // cancelled
    if (outcome.error) throw outcome.error;
    moved = true;
    flash('ok', () => t('act.done', { code: p.code, action: tCode('action', outcome.action), status: tCode('status', outcome.feature.properties.status) }));
  } catch (error) {
    moved = isStale(error);
    if (moved) flash('error', () => t('act.staleList', { code: p.code }));
    else flash('error', () => `${p.code}${t('common.colon')}${explain(error)}`);
  } finally {
    state.busy.delete(p.id);
    if (moved) await Promise.all(state.tabs.map((tab) => loadQueue(tab)));
    render();
  }
}

/** Wraps a dialog's outcome with the action's name for the message. */
const named = (action) => (outcome) => (outcome && !outcome.error ? { ...outcome, action } : outcome);

function verify(feature) {
  const p = feature.properties;
  return run(feature, () => confirmAction({
    site: p, action: 'verify', message: t('confirm.verify', { code: p.code }),
    perform: (body) => actFresh(p.id, body),
  }).then(named('verify')));
}

function reject(feature) {
  const p = feature.properties;
  return run(feature, () => reasonAction({
    site: p, action: 'reject', message: t('confirm.reject'), placeholder: t('reason.rejectPlaceholder'), danger: true,
    perform: (body) => actFresh(p.id, body),
  }).then(named('reject')));
}

function dispatch(feature) {
  const p = feature.properties;
  return run(feature, () => dispatchAction({
    site: p, organisations: state.organisations, perform: (body) => actFresh(p.id, body),
  }).then(named('dispatch')));
}

function decide(feature, approve) {
  const p = feature.properties;
  return run(feature, () => decideExtensionAction({
    site: p, approve, perform: (body) => actFresh(p.id, body),
  }).then(named('decide_extension')));
}

// ---------------------------------------------------------------------------------------------------------

const flashLine = createFlash('work-flash');
const flash = (kind, text) => flashLine.show(kind, text);
