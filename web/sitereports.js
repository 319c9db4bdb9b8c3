// The public reports behind a site (随手拍, 12345 tickets, Open311) accepted or merged into it, with the
// hotline's ticket numbers (GET /api/v1/sites/{id}/public-reports). Their descriptions come only to those
// who read the public reports queue; the reporters' contact never comes here.

import { getJson, h } from './common.js';
import { t, tCode, formatDateTime } from './i18n.js';

export async function loadPublicReports(siteId) {
  return getJson(`/api/v1/sites/${encodeURIComponent(siteId)}/public-reports`);
}

/** The section, or null when no report stands behind the site. */
export function publicReportSection(data) {
  if (!data || !data.reports.length) return null;
  return h('section', { class: 'card office-card site-card', id: 'site-public-reports' },
    h('h2', {}, t('publicReports.behindSite')),
    h('ul', { class: 'small' }, data.reports.map((r) => h('li', { dataset: { report: String(r.id) } },
      data.readable ? h('a', { href: `/public-reports.html?status=#pr-${r.id}` }, `#${r.id}`) : `#${r.id}`,
      ` · ${tCode('publicReports.channel', r.channel)}`,
      r.ticket_no ? h('span', { class: 'mono site-ticket-no' }, ` · ${t('publicReports.ticket')} ${r.ticket_no}`) : null,
      ` · ${formatDateTime(r.reported_at)} · ${tCode('publicReports.status', r.status)} · ${tCode('publicReports.publicStatus', r.public_status)}`,
      r.description ? h('div', { class: 'muted' }, r.description) : null))));
}
