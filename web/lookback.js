// Look-back (回头看) on the inspector's phone: the open look-back tasks, nearest first, and the closed site
// chosen for re-inspection. The visit itself is an ordinary observation carrying
// `look_back: {site_id, result}`, sent through the same outbox, so a look-back recorded in a dead zone waits
// and goes like any other record. The server decides whether it counts: the site must still be closed and
// the inspector within 100 m of it.

import { getJson, h, distanceM } from './common.js';
import { t, tCode, formatDate } from './i18n.js';
import { roadText, today } from './lifecycle.js';

/** How many of the nearest tasks the page lists before "show all". */
export const NEARBY_SHOWN = 5;
/** The most tasks the page ever lists (the server sends at most 2000). */
const SHOWN_MAX = 100;
const CACHE_KEY = 'roadledger.lookBackTasks';

/** From a position to a site's geometry: a point, or the nearest vertex of a section's line. */
export function distanceToGeometry(p, geometry) {
  if (!p || !geometry) return null;
  const vertices = geometry.type === 'LineString' ? geometry.coordinates : [geometry.coordinates];
  return Math.min(...vertices.map(([lon, lat]) => distanceM(p, { lon, lat })));
}

/**
 * The open look-back tasks the user may see. The last list is kept on this phone (per account) so that it
 * is still there in a dead zone; `stale` says the list came from there.
 */
export async function loadTasks(userId) {
  try {
    const tasks = await getJson('/api/v1/look-backs');
    try {
      localStorage.setItem(CACHE_KEY, JSON.stringify({ user_id: userId, at: new Date().toISOString(), tasks }));
    } catch { /* storage full or disabled: the list is simply not kept */ }
    return { tasks, stale: null };
  } catch (error) {
    const cached = readCache();
    if (cached && cached.user_id === userId) return { tasks: cached.tasks, stale: cached.at };
    throw error;
  }
}

function readCache() {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) || 'null');
  } catch {
    return null;
  }
}

/** A look-back target from a site's detail, for a site opened by link with no planned task. */
export function targetFromSite(feature) {
  const p = feature.properties;
  return {
    site_id: feature.id, site_code: p.code, kind: p.kind, status: p.status, town: p.town, road_code: p.road_code,
    stake: p.stake, due_on: null, policy: 'manual', geometry: feature.geometry,
  };
}

/** Tasks with their distance from `fix`, nearest first (in due order while there is no position). */
export function byDistance(tasks, fix) {
  const rows = tasks.map((task) => ({ task, distance: distanceToGeometry(fix, task.geometry) }));
  if (fix) rows.sort((a, b) => a.distance - b.distance);
  return rows;
}

const where = (task) => [tCode('kind', task.kind), task.town, roadText(task)].filter(Boolean).join(' · ');

const distanceText = (m) => (m == null ? '' : m < 1000 ? t('lookBack.metres', { m: Math.round(m) }) : t('lookBack.km', { km: (m / 1000).toFixed(1) }));

/**
 * The look-back card: the nearest open tasks, each with a "start" button; or, once one is chosen, the site
 * and the result to record.
 */
export function renderLookBackCard({ tasks, stale, fix, active, expanded, radius, onStart, onExit, onResult, onExpand }) {
  if (active) {
    const { target, result } = active;
    const distance = distanceToGeometry(fix, target.geometry);
    return [
      h('h2', {}, t('lookBack.activeTitle', { code: target.site_code })),
      h('p', { class: 'look-back-where', id: 'look-back-where' }, where(target),
        distance != null ? h('span', { class: distance > radius ? 'error' : 'muted', dataset: { distanceM: String(Math.round(distance)) } },
          ` · ${t('lookBack.distance', { d: distanceText(distance) })}`) : null),
      distance != null && distance > radius
        ? h('p', { class: 'alert alert-warn', id: 'look-back-far' }, t('lookBack.tooFar', { m: radius })) : null,
      h('div', { class: 'segmented segmented-2', role: 'radiogroup', 'aria-label': t('lookBack.result') },
        ['pass', 'relapse'].map((code) => h('label', {},
          h('input', { type: 'radio', name: 'look-back-result', value: code, checked: result === code, onchange: () => onResult(code) }),
          h('span', {}, t(`lookBack.${code}`))))),
      h('p', { class: 'small muted', id: 'look-back-hint' }, t(result === 'relapse' ? 'lookBack.relapseHint' : 'lookBack.passHint')),
      h('button', { type: 'button', class: 'btn btn-small', id: 'look-back-exit', onclick: onExit }, t('lookBack.exit')),
    ];
  }
  const rows = byDistance(tasks, fix);
  const shown = rows.slice(0, expanded ? SHOWN_MAX : NEARBY_SHOWN);
  return [
    h('h2', {}, t('lookBack.title'), ' ', h('span', { class: 'aside', id: 'look-back-count' }, t('lookBack.count', { n: tasks.length }))),
    stale ? h('p', { class: 'small muted' }, t('lookBack.stale', { at: formatDate(stale.slice(0, 10)) })) : null,
    h('ul', { class: 'look-back-list', id: 'look-back-list' }, shown.map(({ task, distance }) => {
      const overdue = task.due_on && task.due_on < today();
      return h('li', { dataset: { siteId: task.site_id, siteCode: task.site_code } },
        h('div', {},
          h('strong', {}, task.site_code), ' ', h('span', { class: 'muted' }, where(task)), h('br'),
          h('span', { class: overdue ? 'error' : 'muted' },
            task.due_on ? t(overdue ? 'lookBack.overdue' : 'lookBack.due', { date: formatDate(task.due_on) }) : ''),
          distance != null ? h('span', { class: 'muted' }, ` · ${distanceText(distance)}`) : null),
        h('button', { type: 'button', class: 'btn btn-small look-back-start', onclick: () => onStart(task) }, t('lookBack.start')));
    })),
    rows.length > shown.length
      ? h('button', { type: 'button', class: 'btn btn-ghost btn-small', id: 'look-back-more', onclick: onExpand }, t('lookBack.showAll', { n: Math.min(rows.length, SHOWN_MAX) }))
      : null,
  ];
}

/**
 * What keeps a look-back from being sent, in the inspector's words: a result, a photo, and findings that
 * agree with the result (the server checks the same and more).
 */
export function lookBackProblems({ result, photos, checklist, notes }) {
  const failed = [...checklist].filter(([, s]) => s === 'missing' || s === 'damaged').map(([code]) => code);
  const problems = [];
  if (!result) problems.push(t('lookBack.needResult'));
  if (!photos) problems.push(t('lookBack.needPhoto'));
  if (result === 'relapse' && !failed.length) problems.push(t('lookBack.needFailed'));
  if (result === 'relapse' && !notes) problems.push(t('lookBack.needNotes'));
  if (result === 'pass' && failed.length) problems.push(t('lookBack.passWithFailed'));
  return problems;
}
