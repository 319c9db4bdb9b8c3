// 统计通报: the weekly summary (周总结), the monthly bulletin (月通报), the quarterly town ranking (晴雨榜) and
// what has been published of them (DOMAIN.md §8), with a leader's dashboard in front.
//
//  - 总览 (office roles): this quarter's board so far (the sunny and the rainy bands) and this month's numbers
//    against last month's, with the drafts the server's schedule has prepared;
//  - 周总结 / 月通报: one period's report for the county or a town: totals with their change, town by town,
//    the longest overdue sites, the server's three charts, the PDF and XLSX, and publishing;
//  - 晴雨榜: one quarter's board, its five measures and their weights;
//  - 已发布: every publication the user may read, corrections with the version they correct; one opens as it
//    was stored.
//
// Every number of a report links to its sites on the map (`/?figure=month:2026-11:overdue&town=…`,
// mapfilter.js), which shows exactly the sites the server counted in it. The figures, the charts and the
// documents are the server's (src/http/reports.rs): this page only lays them out. Town, unit officers and
// inspectors read the published copies; the county office's roles read the live figures of every period, and
// dispatchers, leaders and admins publish.
//
// For tests: window.roadledger = { tab(id), reload(), where() }; body[data-state="ready"] once started, and the
// panel's data-loaded names what it shows once drawn (`monthly:2026-11:320582100`, `ranking:2026Q4`,
// `published`, `publication:<id>`, `overview`).

import { getJson, apiJson, h, fill, hasRole, createFlash } from './common.js';
import { t, tCode, localName, formatDateTime, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { openDialog } from './dialog.js';
import { svgNode } from './svgchart.js';
import { explain, statusBadge, siteHref } from './lifecycle.js';
import { emptyFilter, filterQuery, figureFilter } from './mapfilter.js';
import {
  currentPeriod, lastCompletePeriod, parsePeriod, periodTitle, periodsBack, shiftPeriod,
} from './periods.js';

/** Roles that read the live figures of every period and every town (the county office). */
const OFFICE_ROLES = ['dispatcher', 'reviewer', 'leader', 'admin'];
/** Roles that publish (the server checks it too). */
const PUBLISH_ROLES = ['dispatcher', 'leader', 'admin'];

/** The tabs in the order of the bar; `kind` is the period kind a tab steps through. */
const TABS = [
  { id: 'overview', office: true },
  { id: 'weekly', office: true, kind: 'week', path: 'weekly' },
  { id: 'monthly', office: true, kind: 'month', path: 'monthly' },
  { id: 'ranking', office: true, kind: 'quarter' },
  { id: 'published', office: false },
];
/** A publication's kind, the tab that shows such a report, and its period kind. */
const PUBLICATION_KINDS = { weekly: 'week', monthly: 'month', ranking: 'quarter' };
/** How far back a period select reaches. */
const PERIODS_LISTED = { week: 26, month: 24, quarter: 12 };

/** The figures of a report's totals, in the order printed; the dashboard shows the first seven. */
const FIGURES = ['found', 'dispatched', 'closed', 'overdue', 'open', 'returned', 'relapsed', 'verified',
  'closed_on_time', 'look_backs', 'extensions_requested', 'extensions_approved', 'supervision_listed',
  'supervision_lifted', 'supervision_open'];
const DASHBOARD_FIGURES = FIGURES.slice(0, 7);
/** The columns of the per-town table. */
const TOWN_COLUMNS = ['found', 'dispatched', 'closed', 'closed_on_time', 'overdue', 'open', 'returned', 'look_backs',
  'relapsed'];
/** A rise is good news for these and bad news for those; the rest are neither (more found is not worse). */
const GOOD_WHEN_UP = new Set(['verified', 'dispatched', 'closed', 'closed_on_time', 'look_backs', 'supervision_lifted']);
const BAD_WHEN_UP = new Set(['overdue', 'open', 'returned', 'relapsed', 'extensions_requested', 'supervision_listed',
  'supervision_open']);
const MEDIANS = ['median_days_report_to_dispatch', 'median_days_dispatch_to_accept', 'median_days_dispatch_to_close'];
const MEASURES = ['on_time_rate', 'overdue', 'return_rate', 'relapse_rate', 'response_days'];
const CHARTS = ['trend', 'towns', 'statuses'];

const state = {
  user: null,
  office: false,
  publisher: false,
  tabs: [],
  tab: null,
  periods: {}, // kind → code shown
  town: '', // admin code of the town shown, '' for the county
  publication: null, // id of the publication open under 已发布
  publishedKind: '', // the 已发布 tab's kind filter
  towns: [], // [{code, name, name_en}]
  answers: new Map(), // url → {data, error, loading}
};

const $ = (id) => document.getElementById(id);
const flashLine = createFlash('reports-flash');

window.roadledger = {
  tab: (id) => selectTab(id),
  reload: () => reload(),
  where: () => ({ tab: state.tab, periods: { ...state.periods }, town: state.town, publication: state.publication }),
};

boot({
  page: 'reports',
  title: 'reports.title',
  main,
  onError: (message) => fill($('reports-panel'), h('p', { class: 'error' }, message)),
});

async function main({ user }) {
  state.user = user;
  state.office = OFFICE_ROLES.some((r) => hasRole(r, user));
  state.publisher = PUBLISH_ROLES.some((r) => hasRole(r, user));
  state.tabs = TABS.filter((tab) => !tab.office || state.office);
  for (const kind of ['week', 'month', 'quarter']) state.periods[kind] = lastCompletePeriod(kind);
  readAddress();
  onLangChange(render);
  $('reports-refresh').addEventListener('click', () => reload());
  window.addEventListener('popstate', () => { readAddress(); render(); });
  if (state.office) {
    const towns = await getJson('/api/v1/towns').catch(() => ({ features: [] }));
    state.towns = (towns.features || []).map((f) => ({ code: f.properties.admin_code, name: f.properties.name, name_en: f.properties.name_en }))
      .filter((town) => town.code)
      .sort((a, b) => a.code.localeCompare(b.code));
  }
  render();
  document.body.dataset.state = 'ready';
}

// ---------------------------------------------------------------------------------------------------------
// The address: `?tab=monthly&period=2026-11&town=320582100`, `?tab=published&publication=<id>`

function readAddress() {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('tab');
  state.tab = state.tabs.find((tab) => tab.id === wanted)?.id || state.tabs[0].id;
  const kind = tabOf(state.tab).kind;
  if (kind && parsePeriod(kind, params.get('period'))) state.periods[kind] = parsePeriod(kind, params.get('period')).code;
  const town = params.get('town') || '';
  state.town = state.office && /^[0-9A-Za-z]{1,32}$/.test(town) ? town : '';
  state.publication = state.tab === 'published' ? params.get('publication') : null;
  state.publishedKind = PUBLICATION_KINDS[params.get('kind')] ? params.get('kind') : '';
}

function writeAddress({ push = false } = {}) {
  const params = new URLSearchParams();
  params.set('tab', state.tab);
  const tab = tabOf(state.tab);
  if (tab.kind) params.set('period', state.periods[tab.kind]);
  if (tab.path && state.town) params.set('town', state.town);
  if (state.tab === 'published') {
    if (state.publishedKind) params.set('kind', state.publishedKind);
    if (state.publication) params.set('publication', state.publication);
  }
  const url = `${location.pathname}?${params}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

function tabOf(id) {
  return TABS.find((tab) => tab.id === id);
}

function selectTab(id) {
  if (!state.tabs.some((tab) => tab.id === id)) return;
  state.tab = id;
  if (id !== 'published') state.publication = null;
  writeAddress();
  render();
  $(`tab-${id}`)?.focus();
}

function go(changes, { push = true } = {}) {
  Object.assign(state, changes);
  writeAddress({ push });
  render();
}

// ---------------------------------------------------------------------------------------------------------
// Loading: each answer is kept by its URL until the page reloads them

function answer(url) {
  let entry = state.answers.get(url);
  if (!entry) {
    entry = { data: null, error: null, loading: true };
    state.answers.set(url, entry);
    getJson(url)
      .then((data) => { entry.data = data; })
      .catch((error) => { entry.error = error; })
      .finally(() => {
        entry.loading = false;
        render();
      });
  }
  return entry;
}

function reload() {
  state.answers.clear();
  render();
}

// ---------------------------------------------------------------------------------------------------------
// Addresses of the API and of the map

function withQuery(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  return query ? `${path}?${query}` : path;
}

function reportUrl(tab, code, town, ext = '') {
  return withQuery(`/api/v1/reports/${tab.path}${ext}`, { period: code, town });
}

function rankingUrl(code, ext = '') {
  return `/api/v1/rankings/${encodeURIComponent(code)}${ext}`;
}

/** The map showing the sites counted in one figure (of one town, when given). */
function mapHref(kind, code, figure, townCode) {
  const filter = { ...emptyFilter(), town: townCode ? [townCode] : [], figure: figureFilter(kind, code, figure) };
  return `/?${filterQuery(filter)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render() {
  const user = state.user;
  if (!user) return;
  $('reports-who').textContent = [user.display_name, user.organisation?.name].filter(Boolean).join(' · ');
  renderTabs();
  renderPanel();
  flashLine.render();
}

function renderTabs() {
  const bar = $('reports-tabs');
  fill(bar, state.tabs.map((tab) => {
    const selected = tab.id === state.tab;
    return h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.id}`, class: 'tab', dataset: { tab: tab.id },
      'aria-selected': String(selected), 'aria-controls': 'reports-panel', tabindex: selected ? '0' : '-1',
      onclick: () => selectTab(tab.id),
      onkeydown: (e) => {
        const i = state.tabs.indexOf(tab);
        if (e.key === 'ArrowRight') selectTab(state.tabs[(i + 1) % state.tabs.length].id);
        if (e.key === 'ArrowLeft') selectTab(state.tabs[(i + state.tabs.length - 1) % state.tabs.length].id);
      },
    }, t(`reports.tab.${tab.id}`));
  }));
}

function renderPanel() {
  const panel = $('reports-panel');
  panel.setAttribute('aria-labelledby', `tab-${state.tab}`);
  panel.dataset.tab = state.tab;
  const tab = tabOf(state.tab);
  let view;
  if (tab.id === 'overview') view = overview();
  else if (tab.path) view = reportTab(tab);
  else if (tab.id === 'ranking') view = rankingTab();
  else view = state.publication ? publicationView(state.publication) : publishedList();
  panel.dataset.loaded = view.loaded || '';
  fill(panel, view.nodes);
}

/** What an answer still loading or failed shows; null once it has data. */
function pending(entry) {
  if (entry.loading && !entry.data) return h('p', { class: 'muted', 'aria-busy': 'true' }, t('common.loading'));
  if (entry.error) {
    if (entry.error.status === 404) return h('p', { class: 'empty-state muted' }, t('reports.notFound'));
    return h('p', { class: 'error', role: 'alert' }, t('reports.loadError', { detail: explain(entry.error) }));
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// 总览: the leader's dashboard

function overview() {
  const month = currentPeriod('month');
  const quarter = currentPeriod('quarter');
  const monthEntry = answer(reportUrl(tabOf('monthly'), month, ''));
  const rankingEntry = answer(rankingUrl(quarter));
  const draftsShown = state.publisher || hasRole('leader', state.user);
  const draftsEntry = draftsShown ? answer('/api/v1/reports/drafts') : null;
  const ready = monthEntry.data && rankingEntry.data;
  return {
    loaded: ready ? 'overview' : '',
    nodes: [
      h('section', { class: 'report-section', id: 'overview-month', 'aria-labelledby': 'overview-month-title' },
        h('div', { class: 'section-head' },
          h('h2', { id: 'overview-month-title' }, t('reports.overview.month', { period: periodTitle('month', month) })),
          h('a', { class: 'btn btn-small', href: `?tab=monthly&period=${month}`, onclick: (e) => openPeriod(e, 'monthly', month) },
            t('reports.overview.openMonth'))),
        pending(monthEntry) || h('div', {},
          h('p', { class: 'muted small' }, t('reports.versus', { period: periodTitle('month', monthEntry.data.previous_period.code) }),
            ' · ', t('reports.asOf', { at: formatDateTime(monthEntry.data.as_of) })),
          figureCards(monthEntry.data, DASHBOARD_FIGURES, 'month', month, ''))),
      h('section', { class: 'report-section', id: 'overview-board', 'aria-labelledby': 'overview-board-title' },
        h('div', { class: 'section-head' },
          h('h2', { id: 'overview-board-title' }, t('reports.overview.board', { period: periodTitle('quarter', quarter) })),
          h('a', { class: 'btn btn-small', href: `?tab=ranking&period=${quarter}`, onclick: (e) => openPeriod(e, 'ranking', quarter) },
            t('reports.overview.openBoard'))),
        pending(rankingEntry) || bandsSummary(rankingEntry.data)),
      draftsShown ? draftsSection(draftsEntry) : null,
    ],
  };
}

function openPeriod(event, tabId, code) {
  event.preventDefault();
  state.periods[tabOf(tabId).kind] = code;
  go({ tab: tabId, town: '' });
}

/** The top and the bottom of a board, side by side. */
function bandsSummary(ranking) {
  const sunny = ranking.towns.filter((town) => town.band === 'sunny');
  const rainy = ranking.towns.filter((town) => town.band === 'rainy');
  const list = (band, towns) => h('div', { class: `band-card band-${band}`, id: `overview-${band}` },
    h('h3', {}, h('span', { class: 'band-icon', 'aria-hidden': 'true' }, band === 'sunny' ? '☀' : '☂'), ' ',
      t(`reports.band.${band}List`)),
    towns.length
      ? h('ol', { class: 'band-list' }, towns.map((town) => h('li', { dataset: { code: town.code } },
        h('span', { class: 'band-rank' }, t('reports.rank', { n: town.rank })),
        h('span', { class: 'band-name' }, town.name),
        h('span', { class: 'band-score' }, formatScore(town.score)))))
      : h('p', { class: 'muted' }, t('reports.band.none')));
  return h('div', { class: 'band-cards' },
    h('p', { class: 'muted small band-as-of' }, t('reports.asOf', { at: formatDateTime(ranking.as_of) })),
    list('sunny', sunny), list('rainy', rainy));
}

function draftsSection(entry) {
  const drafts = entry.data || [];
  return h('section', { class: 'report-section', id: 'overview-drafts', 'aria-labelledby': 'overview-drafts-title' },
    h('h2', { id: 'overview-drafts-title' }, t('reports.drafts.title')),
    pending(entry) || (drafts.length
      ? h('ul', { class: 'draft-list' }, drafts.map((draft) => {
        const kind = PUBLICATION_KINDS[draft.kind];
        const tabId = draft.kind === 'ranking' ? 'ranking' : draft.kind;
        return h('li', { dataset: { kind: draft.kind, period: draft.period } },
          h('a', { href: `?tab=${tabId}&period=${draft.period}`, onclick: (e) => openPeriod(e, tabId, draft.period) },
            `${t(`reports.kind.${draft.kind}`)} · ${periodTitle(kind, draft.period)}`),
          ' ', h('span', { class: `badge ${draft.published ? 'badge-ok' : 'badge-outline'}` },
            t(draft.published ? 'reports.drafts.published' : 'reports.drafts.waiting')),
          ' ', h('span', { class: 'muted small' }, t('reports.drafts.generated', { at: formatDateTime(draft.generated_at) })));
      }))
      : h('p', { class: 'muted' }, t('reports.drafts.none'))));
}

// ---------------------------------------------------------------------------------------------------------
// 周总结 / 月通报

function reportTab(tab) {
  const code = state.periods[tab.kind];
  const entry = answer(reportUrl(tab, code, state.town));
  const toolbar = h('div', { class: 'work-toolbar report-toolbar' },
    periodPicker(tab.kind),
    scopePicker(),
    h('div', { class: 'toolbar-spacer' }),
    downloadLinks(reportUrl(tab, code, state.town, '.pdf'), reportUrl(tab, code, state.town, '.xlsx')),
    state.publisher && !state.town && entry.data
      ? h('button', { type: 'button', class: 'btn btn-primary', id: 'publish', onclick: () => publish(tab.path, entry.data) },
        t(entry.data.published?.length ? 'reports.publishCorrection' : 'reports.publish'))
      : null);
  const body = pending(entry);
  if (body) return { nodes: [toolbar, body] };
  return {
    loaded: `${tab.path}:${code}:${state.town || 'county'}`,
    nodes: [toolbar, reportView(entry.data, entry.data.charts, { kindTab: tab })],
  };
}

/** A report as the live figures or a publication hold it. */
function reportView(report, charts, { kindTab, publication = null }) {
  const kind = report.period.kind;
  const code = report.period.code;
  const scopeTown = report.scope?.kind === 'town' ? report.scope.code : '';
  // A unit's sites cannot be narrowed to on the map: its numbers are not links.
  const linkable = report.scope?.kind !== 'unit';
  return h('article', { class: 'report', id: 'report', dataset: { period: code, kind } },
    h('header', { class: 'report-head' },
      h('h2', { class: 'report-title', id: 'report-title' },
        `${periodTitle(kind, code)} ${t(`reports.kind.${kindTab.path}`)} · ${scopeName(report.scope)}`),
      h('p', { class: 'muted small' },
        t('reports.range', { start: report.period.start, end: report.period.end }), ' · ',
        t('reports.asOf', { at: formatDateTime(report.as_of) }), ' · ',
        t('reports.versus', { period: periodTitle(kind, report.previous_period.code) })),
      publication ? publicationBanner(publication) : publishedBadges(report.published)),
    h('section', { class: 'report-section', 'aria-labelledby': 'totals-title' },
      h('h3', { id: 'totals-title' }, t('reports.totals')),
      figureCards(report, FIGURES, kind, code, scopeTown, linkable),
      medians(report)),
    h('section', { class: 'report-section', 'aria-labelledby': 'charts-title' },
      h('h3', { id: 'charts-title' }, t('reports.charts')),
      h('div', { class: 'report-charts' }, CHARTS.map((name) => chart(name, charts?.[name])))),
    report.towns?.length ? townTable(report, kind, code, linkable) : null,
    worstOverdue(report));
}

function scopeName(scope) {
  if (!scope || scope.kind === 'county') return t('reports.scope.county');
  return scope.name || scope.code || String(scope.id);
}

/** Each figure: its number (a link to its sites), and its change against the previous period. */
function figureCards(report, figures, kind, code, townCode, linkable = true) {
  return h('ul', { class: 'figure-cards' }, figures.map((figure) => {
    const value = report.totals[figure] ?? 0;
    const previous = report.previous_totals?.[figure];
    return h('li', { class: 'figure-card', dataset: { figure } },
      h('span', { class: 'figure-label' }, tCode('figure', figure)),
      numberLink(value, linkable && mapHref(kind, code, figure, townCode), `total-${figure}`, figure),
      change(value, previous, figure));
  }));
}

function numberLink(value, href, id, figure, townName = '') {
  const text = String(value);
  if (!href) return h('span', { class: 'figure-value', id, dataset: { value: text } }, text);
  return h('a', {
    class: 'figure-value', id, href, dataset: { value: text, figure },
    title: t('reports.showOnMap'),
    'aria-label': t('reports.showOnMapLabel', { n: text, figure: tCode('figure', figure), town: townName }),
  }, text);
}

/** `+3` / `−2` against the previous period, coloured by whether a rise is good news. */
function change(value, previous, figure) {
  if (previous == null) return null;
  const d = value - previous;
  const direction = d > 0 ? 'up' : d < 0 ? 'down' : 'same';
  const good = d === 0 || (!GOOD_WHEN_UP.has(figure) && !BAD_WHEN_UP.has(figure)) ? 'neutral'
    : (d > 0) === GOOD_WHEN_UP.has(figure) ? 'good' : 'bad';
  const arrow = { up: '▲', down: '▼', same: '' }[direction];
  const text = d > 0 ? `+${d}` : d < 0 ? `−${-d}` : '±0';
  return h('span', {
    class: `change change-${direction} change-${good}`, dataset: { change: String(d) },
    title: t('reports.previousValue', { n: previous }),
  },
  arrow ? h('span', { 'aria-hidden': 'true' }, `${arrow} `) : null,
  text,
  h('span', { class: 'visually-hidden' }, ` ${t('reports.previousValue', { n: previous })}`));
}

function medians(report) {
  const days = (v) => (v == null ? t('common.none') : formatDays(v));
  return h('dl', { class: 'facts report-medians' }, MEDIANS.flatMap((name) => [
    h('dt', {}, t(`reports.median.${name}`)),
    h('dd', { dataset: { median: name } }, days(report.totals[name]),
      h('span', { class: 'muted small' }, ` (${t('reports.previousValue', { n: days(report.previous_totals?.[name]) })})`)),
  ]));
}

/**
 * One of the server's charts (svgchart.js reads it as SVG, never as HTML).
 */
function chart(name, svgText) {
  const caption = t(`reports.chart.${name}`);
  const captionId = `chart-${name}-caption`;
  return h('figure', { class: 'report-chart', id: `chart-${name}` },
    h('figcaption', { id: captionId }, caption),
    svgText ? svgNode(svgText, caption, t('reports.noChart')) : h('p', { class: 'muted' }, t('reports.noChart')));
}

function townTable(report, kind, code, linkable) {
  const head = h('tr', {},
    h('th', { scope: 'col' }, t('reports.town')),
    TOWN_COLUMNS.map((figure) => h('th', { scope: 'col', class: 'num' }, tCode('figure', figure))));
  const cells = (figures, previous, townCode, townName, rowId) => TOWN_COLUMNS.map((figure) => h('td', { class: 'num', dataset: { figure } },
    numberLink(figures[figure] ?? 0, linkable && townCode !== null && mapHref(kind, code, figure, townCode),
      rowId ? `${rowId}-${figure}` : null, figure, townName),
    previous ? change(figures[figure] ?? 0, previous[figure], figure) : null));
  return h('section', { class: 'report-section', 'aria-labelledby': 'towns-title' },
    h('h3', { id: 'towns-title' }, t('reports.byTown')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table report-towns', id: 'report-towns' },
        h('thead', {}, head),
        h('tbody', {}, report.towns.map((row) => {
          // The sites in no town cannot be narrowed to on the map.
          const townCode = row.code || null;
          const name = row.name || t('reports.noTown');
          return h('tr', { dataset: { town: row.code || '', townId: String(row.town_id ?? '') } },
            h('th', { scope: 'row' }, name),
            cells(row.figures, row.previous, townCode, name, row.code ? `town-${row.code}` : null));
        })),
        report.towns.length > 1 ? h('tfoot', {}, h('tr', {},
          h('th', { scope: 'row' }, t('reports.total')),
          TOWN_COLUMNS.map((figure) => h('td', { class: 'num' }, String(report.totals[figure] ?? 0))))) : null)));
}

function worstOverdue(report) {
  const sites = report.worst_overdue || [];
  return h('section', { class: 'report-section', 'aria-labelledby': 'overdue-title' },
    h('h3', { id: 'overdue-title' }, t('reports.worstOverdue')),
    sites.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'report-overdue' },
        h('thead', {}, h('tr', {}, ['code', 'town', 'road', 'kind', 'level', 'unit', 'status', 'deadline', 'daysOverdue']
          .map((col) => h('th', { scope: 'col', class: col === 'daysOverdue' ? 'num' : null }, t(`reports.col.${col}`))))),
        h('tbody', {}, sites.map((site) => h('tr', { dataset: { siteId: site.id } },
          h('td', { class: 'mono' }, h('a', { href: siteHref(site.id) }, site.code)),
          h('td', {}, site.town || t('common.none')),
          h('td', {}, site.road || t('common.none')),
          h('td', {}, tCode('kindLong', site.kind)),
          h('td', {}, site.hazard_level ? tCode('level', site.hazard_level) : t('common.none')),
          h('td', {}, site.responsible_unit || t('common.none')),
          h('td', {}, statusBadge(site.status)),
          h('td', { class: 'mono' }, site.deadline),
          h('td', { class: 'num text-danger' }, String(site.days_overdue)))))))
      : h('p', { class: 'muted', id: 'report-overdue-none' }, t('reports.noOverdue')));
}

function downloadLinks(pdf, xlsx) {
  return h('div', { class: 'download-links' },
    h('a', { class: 'btn btn-small', id: 'download-pdf', href: pdf, download: '' }, t('reports.downloadPdf')),
    xlsx ? h('a', { class: 'btn btn-small', id: 'download-xlsx', href: xlsx, download: '' }, t('reports.downloadXlsx')) : null);
}

function periodPicker(kind) {
  const code = state.periods[kind];
  const now = currentPeriod(kind);
  const codes = periodsBack(kind, now, PERIODS_LISTED[kind]);
  if (!codes.includes(code)) codes.push(code);
  const label = (c) => (c === now ? t('reports.periodRunning', { period: periodTitle(kind, c) }) : periodTitle(kind, c));
  const set = (next) => {
    state.periods[kind] = next;
    writeAddress({ push: true });
    render();
  };
  return h('div', { class: 'period-picker', role: 'group', 'aria-label': t('reports.period') },
    h('button', {
      type: 'button', class: 'btn btn-small', id: 'period-prev', 'aria-label': t('reports.periodPrev'), title: t('reports.periodPrev'),
      onclick: () => set(shiftPeriod(kind, code, -1)),
    }, '‹'),
    h('select', { id: 'period-select', 'aria-label': t('reports.period'), onchange: (e) => set(e.target.value) },
      codes.map((c) => h('option', { value: c, selected: c === code }, label(c)))),
    h('button', {
      type: 'button', class: 'btn btn-small', id: 'period-next', 'aria-label': t('reports.periodNext'), title: t('reports.periodNext'),
      disabled: code >= now, onclick: () => set(shiftPeriod(kind, code, 1)),
    }, '›'));
}

function scopePicker() {
  if (!state.office || !state.towns.length) return null;
  return h('label', { class: 'scope-picker' },
    h('span', {}, t('reports.scope')),
    h('select', { id: 'scope-select', onchange: (e) => go({ town: e.target.value }) },
      h('option', { value: '', selected: !state.town }, t('reports.scope.county')),
      state.towns.map((town) => h('option', { value: town.code, selected: town.code === state.town }, localName(town)))));
}

// ---------------------------------------------------------------------------------------------------------
// 晴雨榜

function rankingTab() {
  const code = state.periods.quarter;
  const entry = answer(rankingUrl(code));
  const toolbar = h('div', { class: 'work-toolbar report-toolbar' },
    periodPicker('quarter'),
    h('div', { class: 'toolbar-spacer' }),
    downloadLinks(rankingUrl(code, '.pdf'), rankingUrl(code, '.xlsx')),
    state.publisher && entry.data
      ? h('button', { type: 'button', class: 'btn btn-primary', id: 'publish', onclick: () => publish('ranking', entry.data) },
        t(entry.data.published?.length ? 'reports.publishCorrection' : 'reports.publishRanking'))
      : null);
  const body = pending(entry);
  if (body) return { nodes: [toolbar, body] };
  return { loaded: `ranking:${code}`, nodes: [toolbar, rankingView(entry.data)] };
}

function formatScore(score) {
  return score == null ? t('common.none') : Number(score).toFixed(2);
}

/** Days to a tenth, as the server rounds its medians. */
function formatDays(value) {
  return t('reports.days', { n: Number(value).toFixed(1).replace(/\.0$/, '') });
}

function formatMeasure(name, value) {
  if (value == null) return t('common.none');
  if (name.endsWith('_rate')) return `${(value * 100).toFixed(1)}%`;
  if (name === 'response_days') return formatDays(value);
  return String(value);
}

function rankingView(ranking, { publication = null } = {}) {
  const code = ranking.period.code;
  const bands = ['sunny', 'middle', 'rainy'];
  const row = (town) => h('tr', { class: `band-row band-${town.band}`, dataset: { band: town.band, code: town.code } },
    h('td', { class: 'num' }, String(town.rank)),
    h('th', { scope: 'row' }, town.name),
    h('td', {}, h('span', { class: `band-badge band-badge-${town.band}` },
      h('span', { 'aria-hidden': 'true' }, { sunny: '☀ ', middle: '', rainy: '☂ ' }[town.band]), t(`reports.band.${town.band}`))),
    h('td', { class: 'num score' }, formatScore(town.score)),
    MEASURES.map((name) => h('td', { class: 'num', dataset: { measure: name } }, name === 'overdue'
      ? numberLink(town.measures.overdue, mapHref('quarter', code, 'overdue', town.code), `rank-${town.code}-overdue`, 'overdue', town.name)
      : formatMeasure(name, town.measures[name]))));
  const columns = 4 + MEASURES.length;
  return h('article', { class: 'ranking', id: 'ranking', dataset: { period: code } },
    h('header', { class: 'report-head' },
      h('h2', { class: 'report-title', id: 'report-title' }, `${periodTitle('quarter', code)} ${t('reports.kind.ranking')}`),
      h('p', { class: 'muted small' },
        t('reports.range', { start: ranking.period.start, end: ranking.period.end }), ' · ',
        t('reports.asOf', { at: formatDateTime(ranking.as_of) })),
      publication ? publicationBanner(publication) : publishedBadges(ranking.published)),
    h('div', { class: 'ranking-weights', id: 'ranking-weights' },
      h('span', { class: 'muted small' }, t('reports.weights')),
      h('ul', { class: 'chips' }, MEASURES.map((name) => h('li', { class: 'chip', dataset: { weight: name } },
        `${t(`reports.measure.${name}`)} ${ranking.weights[name]}`))),
      h('span', { class: 'muted small' }, t('reports.bandsRule', { sunny: ranking.bands.sunny, rainy: ranking.bands.rainy }))),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table ranking-board', id: 'ranking-board' },
        h('caption', { class: 'visually-hidden' }, t('reports.kind.ranking')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', class: 'num' }, t('reports.col.rank')),
          h('th', { scope: 'col' }, t('reports.town')),
          h('th', { scope: 'col' }, t('reports.col.band')),
          h('th', { scope: 'col', class: 'num' }, t('reports.col.score')),
          MEASURES.map((name) => h('th', { scope: 'col', class: 'num' }, t(`reports.measure.${name}`))))),
        bands.map((band) => {
          const towns = ranking.towns.filter((town) => town.band === band);
          if (!towns.length) return null;
          return h('tbody', { class: `band-group band-group-${band}`, dataset: { band } },
            band === 'middle' ? null : h('tr', { class: 'band-heading' },
              h('th', { scope: 'rowgroup', colspan: String(columns) },
                h('span', { 'aria-hidden': 'true' }, band === 'sunny' ? '☀ ' : '☂ '), t(`reports.band.${band}List`))),
            towns.map(row));
        }))),
    h('p', { class: 'muted small' }, t('reports.rankingRule')));
}

// ---------------------------------------------------------------------------------------------------------
// Publishing

function publishedBadges(published = []) {
  if (!published?.length) return h('p', { class: 'published-state muted small', id: 'published-state', dataset: { versions: '0' } }, t('reports.notPublished'));
  const latest = published[0];
  return h('p', { class: 'published-state', id: 'published-state', dataset: { versions: String(published.length) } },
    h('span', { class: 'badge badge-ok' }, t('reports.version', { n: latest.version })), ' ',
    t('reports.publishedBy', { at: formatDateTime(latest.published_at), by: personName(latest.published_by) }), ' ',
    h('a', { href: `?tab=published&publication=${encodeURIComponent(latest.id)}`, onclick: (e) => openPublication(e, latest.id) },
      t('reports.openPublished')));
}

/**
 * Publishes the report or board shown. A period published before is published again only as a correction
 * naming the latest version, with a note saying what changed; the server refuses anything else (409).
 */
async function publish(kind, shown) {
  const latest = shown.published?.[0] || null;
  const code = shown.period.code;
  const url = kind === 'ranking'
    ? `${rankingUrl(code)}/publish`
    : withQuery(`/api/v1/reports/${kind}/publish`, { period: code });
  const note = h('textarea', { id: 'publish-note', name: 'note', rows: '3', maxlength: '1000' });
  const title = `${periodTitle(PUBLICATION_KINDS[kind], code)} ${t(`reports.kind.${kind}`)}`;
  const done = await openDialog({
    id: 'publish-dialog',
    title: t(latest ? 'reports.publishCorrectionTitle' : 'reports.publishTitle', { title }),
    submitLabel: t(latest ? 'reports.publishCorrection' : 'reports.publishConfirm'),
    content: [
      h('p', {}, t('reports.publishExplain')),
      latest ? h('p', { class: 'notice-inline', id: 'publish-corrects' },
        t('reports.publishCorrects', { n: latest.version, at: formatDateTime(latest.published_at) })) : null,
      h('label', { class: 'field', for: 'publish-note' },
        h('span', {}, t(latest ? 'reports.correctionNote' : 'reports.publishNote')), note),
    ],
    onSubmit: async () => {
      const text = note.value.trim();
      if (latest && !text) throw new Error(t('reports.correctionNoteRequired'));
      const body = {};
      if (latest) body.corrects = latest.id;
      if (text) body.note = text;
      try {
        return await apiJson(url, { method: 'POST', json: body });
      } catch (error) {
        throw new Error(explain(error));
      }
    },
  });
  if (!done) return;
  flashLine.show('ok', () => t('reports.publishedFlash', { title, n: done.version }));
  reload();
}

function personName(person) {
  if (!person) return t('common.none');
  if (typeof person === 'string') return person;
  return person.display_name || person.name || t('common.none');
}

function periodCode(period) {
  return typeof period === 'string' ? period : period?.code;
}

// ---------------------------------------------------------------------------------------------------------
// 已发布

function openPublication(event, id) {
  event.preventDefault();
  go({ tab: 'published', publication: String(id) });
}

function publishedList() {
  const entry = answer(withQuery('/api/v1/publications', { kind: state.publishedKind }));
  const filter = h('label', { class: 'scope-picker' },
    h('span', {}, t('reports.publishedKind')),
    h('select', { id: 'published-kind', onchange: (e) => go({ publishedKind: e.target.value }, { push: false }) },
      h('option', { value: '', selected: !state.publishedKind }, t('filter.any')),
      Object.keys(PUBLICATION_KINDS).map((kind) => h('option', { value: kind, selected: kind === state.publishedKind }, t(`reports.kind.${kind}`)))));
  const toolbar = h('div', { class: 'work-toolbar' }, filter);
  const body = pending(entry);
  if (body) return { nodes: [toolbar, body] };
  const list = entry.data || [];
  const byId = new Map(list.map((p) => [String(p.id), p]));
  if (!list.length) return { loaded: 'published', nodes: [toolbar, h('p', { class: 'empty-state muted', id: 'published-none' }, t('reports.publishedNone'))] };
  return {
    loaded: 'published',
    nodes: [toolbar, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'published-list' },
      h('thead', {}, h('tr', {}, ['kind', 'period', 'version', 'publishedAt', 'publishedBy', 'note', 'actions']
        .map((col) => h('th', { scope: 'col' }, t(`reports.col.${col}`))))),
      h('tbody', {}, list.map((p) => {
        const corrected = p.corrects != null ? byId.get(String(p.corrects)) : null;
        const code = periodCode(p.period);
        return h('tr', { dataset: { publication: String(p.id), kind: p.kind, period: code || '', version: String(p.version) } },
          h('td', {}, t(`reports.kind.${p.kind}`)),
          h('td', {}, h('a', { href: `?tab=published&publication=${encodeURIComponent(p.id)}`, onclick: (e) => openPublication(e, p.id) },
            periodTitle(PUBLICATION_KINDS[p.kind], code))),
          h('td', {}, t('reports.version', { n: p.version }),
            p.corrects != null ? h('div', { class: 'small correction', dataset: { corrects: String(p.corrects) } },
              t('reports.corrects', { n: corrected ? corrected.version : `#${p.corrects}` })) : null),
          h('td', { class: 'mono' }, formatDateTime(p.published_at)),
          h('td', {}, personName(p.published_by)),
          h('td', { class: 'note' }, p.note || t('common.none')),
          h('td', { class: 'actions' }, publicationDownloads(p)));
      })))),
    ],
  };
}

function publicationDownloads(p) {
  const base = `/api/v1/publications/${encodeURIComponent(p.id)}`;
  return [
    h('a', { class: 'btn btn-small', href: `${base}/report.pdf`, download: '', 'aria-label': `PDF ${t('reports.version', { n: p.version })}` }, 'PDF'),
    h('a', { class: 'btn btn-small', href: `${base}/report.xlsx`, download: '', 'aria-label': `XLSX ${t('reports.version', { n: p.version })}` }, 'XLSX'),
  ];
}

function publicationBanner(p) {
  return h('p', { class: 'publication-banner', id: 'publication-banner' },
    h('span', { class: 'badge badge-ok' }, t('reports.version', { n: p.version })), ' ',
    t('reports.publishedBy', { at: formatDateTime(p.published_at), by: personName(p.published_by) }),
    p.corrects != null ? h('span', { class: 'correction' }, ' · ', t('reports.corrects', { n: p.corrected_version ?? `#${p.corrects}` })) : null,
    p.note ? h('span', {}, ' · ', p.note) : null);
}

function publicationView(id) {
  const entry = answer(`/api/v1/publications/${encodeURIComponent(id)}`);
  const back = h('div', { class: 'work-toolbar' },
    h('a', { class: 'btn btn-small', id: 'published-back', href: '?tab=published', onclick: (e) => { e.preventDefault(); go({ publication: null }); } },
      t('reports.backToPublished')),
    h('div', { class: 'toolbar-spacer' }),
    entry.data ? h('div', { class: 'download-links' }, publicationDownloads(entry.data)) : null);
  const body = pending(entry);
  if (body) return { nodes: [back, body] };
  const p = entry.data;
  // The version it corrects, if the list is at hand (it names versions, the publication names an id).
  const list = state.answers.get('/api/v1/publications')?.data || [];
  const corrected = p.corrects != null ? list.find((other) => String(other.id) === String(p.corrects)) : null;
  const shown = { ...p, corrected_version: corrected?.version };
  const view = p.kind === 'ranking'
    ? rankingView(p.body, { publication: shown })
    : reportView(p.body, p.charts, { kindTab: tabOf(p.kind), publication: shown });
  return { loaded: `publication:${id}`, nodes: [back, view] };
}
