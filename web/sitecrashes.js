// A site found by crash analysis (or linked to a black spot): the crashes behind it and, once it is closed,
// the crashes within 50 m before and after its treatment in equal periods (GET /api/v1/sites/{id}/crashes).
// Kept apart from the site's detail: crashes are imported without the site changing.

import { getJson, h } from './common.js';
import { t, tCode, formatDateTime } from './i18n.js';

/** Whether a site's crashes are worth asking for: opened from, or linked to, a confirmed candidate. */
export function foundByData(p) {
  return p.source === 'crash_analysis' || (p.events || []).some((e) => e.data?.candidate_id != null);
}

export async function loadCrashes(siteId) {
  return getJson(`/api/v1/sites/${encodeURIComponent(siteId)}/crashes`);
}

/** The section, or null when there is nothing to show. */
export function crashSection(data) {
  if (!data || (!data.crashes.length && !data.before_after)) return null;
  const ba = data.before_after;
  const period = (label, x) => h('div', { class: 'crash-period' },
    h('strong', {}, label), ' ',
    t('candidates.crashes', { count: x.crashes, deaths: x.deaths, injuries: x.injuries }));
  return h('section', { class: 'card office-card site-card', id: 'site-crashes' },
    h('h2', {}, t('candidates.crashHistory')),
    ba ? h('div', { class: 'before-after', id: 'before-after' },
      h('h3', {}, `${t('candidates.beforeAfter')} · ${t('candidates.periodDays', { days: ba.days })}`),
      period(t('candidates.before'), ba.before), period(t('candidates.after'), ba.after)) : null,
    data.crashes.length ? h('ul', { class: 'crash-list small' }, data.crashes.map((c) => h('li', {},
      `${formatDateTime(c.occurred_at)} · ${tCode('candidates.timeBand', c.time_band)} · `,
      `${tCode('candidates.crashType', c.crash_type)} · `,
      t('candidates.crashes', { count: 1, deaths: c.deaths, injuries: c.injuries }),
      c.summary ? ` · ${c.summary}` : ''))) : null);
}
