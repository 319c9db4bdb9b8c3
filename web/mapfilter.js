// The map's filter and view options as they travel in the page's address, so a shared link opens the same
// map: `/?status=reported,verified&town=320582100&overdue=true&layers=sites,towns&base=none#12/31.87/120.55`.
//
// The filter parameters are exactly those of the server's site filter (`GET /api/v1/sites`, `/sites/counts`,
// the exports and `/tiles/sites/…`), so the same query string goes to all of them. `filterQuery` writes it in
// one canonical form (keys in the server's order, `domain::site_filter::PARAMS` then `figure`; values sorted and
// without repeats): the server keys its tile cache on the filter, and the browser's HTTP cache on the URL, so
// one filter must have one spelling.
//
// Pure functions of their arguments: no DOM, no fetch.

/** Filters that take a list of codes (any of them matches). */
export const LIST_KEYS = ['town', 'status', 'kind', 'hazard_type', 'level', 'source'];
/** Yes/no filters: absent means either. */
export const BOOL_KEYS = ['overdue', 'supervised', 'relapsed'];
/** First observed from / to, `YYYY-MM-DD`, inclusive. */
export const DATE_KEYS = ['from', 'to'];
/**
 * The sites counted in one figure of a report (reports.html links its numbers here):
 * `<kind>:<period code>:<figure>`, e.g. `month:2026-11:overdue` (kind week, month or quarter; the figures of
 * `domain::report::Figure`). The server decides which sites those are.
 */
export const FIGURE_KEY = 'figure';
/** Every filter parameter in the server's canonical order (`domain::site_filter::PARAMS`, then `figure`). */
export const PARAMS = ['town', 'status', 'kind', 'hazard_type', 'level', 'overdue', 'supervised', 'relapsed', 'from',
  'to', 'source', FIGURE_KEY];
/** The map's own layers, in drawing order from the bottom. */
export const LAYERS = ['towns', 'roads', 'sites'];

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const FIGURE = /^(week|month|quarter):(\d{4}(?:-W\d{2}|-\d{2}|Q[1-4])):([a-z_]{1,32})$/;

/** A filter that lets everything through. */
export function emptyFilter() {
  const filter = {};
  for (const key of LIST_KEYS) filter[key] = [];
  for (const key of BOOL_KEYS) filter[key] = null;
  for (const key of DATE_KEYS) filter[key] = '';
  filter[FIGURE_KEY] = '';
  return filter;
}

/** A report figure filter read into its parts ({kind, period, figure}), or null when absent or malformed. */
export function parseFigure(text) {
  const match = FIGURE.exec(text || '');
  return match ? { kind: match[1], period: match[2], figure: match[3] } : null;
}

/** The figure filter of a report's number: `month:2026-11:overdue`. */
export function figureFilter(kind, period, figure) {
  return `${kind}:${period}:${figure}`;
}

/** Reads the filter from a query string (`URLSearchParams`); what is malformed is left out. */
export function readFilter(params) {
  const filter = emptyFilter();
  for (const key of LIST_KEYS) filter[key] = splitList(params.get(key));
  for (const key of BOOL_KEYS) {
    const value = params.get(key);
    filter[key] = value === 'true' ? true : value === 'false' ? false : null;
  }
  for (const key of DATE_KEYS) {
    const value = params.get(key) || '';
    filter[key] = DATE.test(value) ? value : '';
  }
  filter[FIGURE_KEY] = parseFigure(params.get(FIGURE_KEY)) ? params.get(FIGURE_KEY) : '';
  return filter;
}

function splitList(text) {
  if (!text) return [];
  return [...new Set(text.split(',').map((v) => v.trim()).filter(Boolean))].sort();
}

/** The filter as `URLSearchParams` in canonical order; parameters without a value are left out. */
export function filterParams(filter, { without = [] } = {}) {
  const params = new URLSearchParams();
  for (const key of PARAMS) {
    if (without.includes(key)) continue;
    const value = filter[key];
    if (Array.isArray(value)) {
      const list = [...new Set(value)].sort();
      if (list.length) params.set(key, list.join(','));
    } else if (typeof value === 'boolean') {
      params.set(key, String(value));
    } else if (value) {
      params.set(key, value);
    }
  }
  return params;
}

/** The filter as a canonical query string without `?` (empty when nothing is filtered). */
export function filterQuery(filter, options) {
  return filterParams(filter, options).toString();
}

/** Whether the filter lets every site through. */
export function isEmptyFilter(filter) {
  return filterQuery(filter) === '';
}

/** How many filter fields are set (for the "filters (3)" badge). */
export function activeFilterCount(filter, { without = [] } = {}) {
  return [...filterParams(filter, { without }).keys()].length;
}

/**
 * The page's own options besides the filter: which of our layers show (all by default) and the base map
 * (`none` by default).
 */
export function readView(params) {
  const layers = params.has('layers') ? splitList(params.get('layers')).filter((l) => LAYERS.includes(l)) : [...LAYERS];
  return { layers, base: params.get('base') || 'none' };
}

/** The whole address query: the filter, then the layers and base map when they are not the defaults. */
export function pageQuery(filter, view) {
  const params = filterParams(filter);
  const layers = LAYERS.filter((l) => view.layers.includes(l));
  if (layers.length !== LAYERS.length) params.set('layers', layers.join(','));
  if (view.base && view.base !== 'none') params.set('base', view.base);
  return params.toString();
}
