// One site in the map's side panel: its facts, the photos before and after the work (each with its evidence
// flags, as on the site page), the checklist, the observations with their photos, and the timeline; the
// site page (linked at the top) holds the actions.
//
// `renderSitePanel(elements, detail, refs)` draws a `GET /api/v1/sites/{id}` answer into the panel's
// elements; `refs` holds the reference data the names come from (hazard types, checklist templates).

import { STATUS_COLOUR, ITEM_STATE_COLOUR, h, fill } from './common.js';
import { t, tCode, localName, formatDateTime, formatDate } from './i18n.js';
import { flaggedPhoto } from './photoflags.js';

/** Photos shown per side in the before/after strip; the rest are on the site page. */
const BEFORE_AFTER_MAX = 4;

export function statusBadge(status) {
  return h('span', { class: 'badge', dataset: { status }, style: { background: STATUS_COLOUR[status] || '#555' } },
    tCode('status', status));
}

function itemBadge(itemState) {
  if (!itemState) return h('span', { class: 'badge badge-outline' }, t('item.unchecked'));
  return h('span', { class: 'badge', dataset: { state: itemState }, style: { background: ITEM_STATE_COLOUR[itemState] || '#555' } },
    tCode('item', itemState));
}

function hazardChip(code, refs) {
  const ht = refs.hazardTypes.get(code);
  return h('span', { class: 'chip', title: code }, ht ? localName(ht) : code);
}

/** A photo thumbnail linking to the full photo in a new tab, with the server's evidence flags under it (the
 * site page's wording, photoflags.js). */
function photoLink(photo, alt) {
  return flaggedPhoto(photo, h('a', { href: photo.url, target: '_blank', rel: 'noopener', title: t('panel.openPhoto'), class: 'photo' },
    h('img', { src: photo.thumbnail_url, alt, loading: 'lazy', decoding: 'async' })));
}

/**
 * The photos before the work (the evidence's own "before" photos, else those of the first observations) and
 * after it (the evidence's "after" and night photos), newest evidence first.
 */
export function beforeAfter(p) {
  const evidence = (p.checklist_items || []).flatMap((item) => (item.evidence || []).map((e) => ({ item, e })));
  evidence.sort((a, b) => String(b.e.submitted_at).localeCompare(String(a.e.submitted_at)));
  const of = (roles) => evidence.flatMap(({ item, e }) => e.photos
    .filter((photo) => roles.includes(photo.role))
    .map((photo) => ({ photo, alt: `${localName(item)} · ${formatDateTime(e.submitted_at)}` })));
  let before = of(['before']);
  if (!before.length) {
    // Observations come newest first: the oldest ones show the hazard as found.
    before = [...(p.observations || [])].reverse().flatMap((o) => (o.photos || [])
      .map((photo) => ({ photo, alt: `${o.inspector || ''} ${formatDateTime(o.observed_at)}` })));
  }
  return { before: before.slice(0, BEFORE_AFTER_MAX), after: of(['after', 'night']).slice(0, BEFORE_AFTER_MAX) };
}

/** Draws the loading state or an error into the panel. */
export function renderSitePanelMessage(elements, { code = '', error = null }) {
  elements.code.textContent = code;
  elements.sub.replaceChildren();
  elements.body.replaceChildren(error
    ? h('p', { class: 'error' }, t('panel.loadError', { detail: error }))
    : h('p', { class: 'muted' }, t('common.loading')));
}

export function renderSitePanel(elements, detail, refs) {
  const p = detail.properties;
  elements.code.textContent = p.code;
  elements.code.dataset.siteCode = p.code;
  fill(elements.sub, statusBadge(p.status), ' ',
    h('span', { class: 'muted' }, t(`kindLong.${p.kind}`)),
    p.overdue ? h('span', { class: 'badge badge-danger' }, t('panel.overdue')) : null);

  const road = [p.road_code, p.stake && (p.end_stake ? `${p.stake} – ${p.end_stake}` : p.stake)].filter(Boolean).join(' ');
  const template = refs.templates.get(p.template);
  const facts = [
    [t('panel.kind'), t(`kindLong.${p.kind}`)],
    [t('panel.status'), statusBadge(p.status)],
    [t('panel.town'), p.town ? `${p.town}${p.town_code ? ` (${p.town_code})` : ''}` : t('common.none')],
    [t('panel.road'), road || t('common.none')],
    [t('panel.hazardLevel'), tCode('level', p.hazard_level)],
    [t('panel.deadline'), p.deadline
      ? h('span', { class: p.overdue ? 'text-danger' : '' }, formatDate(p.deadline), p.overdue ? ` · ${t('panel.overdue')}` : '')
      : t('common.none')],
    [t('panel.supervision'), tCode('supervision', p.supervision_level)],
    [t('panel.source'), tCode('source', p.source)],
    [t('panel.firstObserved'), formatDateTime(p.first_observed_at)],
    [t('panel.observationCount'), String(p.observation_count ?? 0)],
  ];

  const items = p.checklist_items || [];
  const observations = p.observations || [];
  const events = p.events || [];
  const itemNames = new Map(items.map((i) => [i.code, i]));
  const { before, after } = beforeAfter(p);
  const strip = (id, title, photos, none) => h('div', { class: 'before-after-side' },
    h('h4', {}, title),
    photos.length
      ? h('div', { class: 'photos', id }, photos.map(({ photo, alt }) => photoLink(photo, alt)))
      : h('p', { class: 'muted small' }, none));

  fill(elements.body,
    // The site page holds the rest: the actions and every piece of evidence.
    h('a', { class: 'btn btn-small btn-primary panel-open-site', id: 'panel-open-site', href: `/site.html?id=${encodeURIComponent(p.id)}` },
      t('panel.openSite')),
    h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    p.duplicate_of ? h('p', { class: 'muted' }, t('panel.duplicateOf')) : null,

    h('section', { class: 'panel-section before-after' },
      h('h3', {}, t('panel.beforeAfter')),
      strip('panel-before', t('panel.before'), before, t('panel.noPhotos')),
      strip('panel-after', t('panel.after'), after, t('panel.noAfter'))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.hazardTypes')),
      p.hazard_types?.length
        ? h('div', { class: 'chips', id: 'panel-hazards' }, p.hazard_types.map((c) => hazardChip(c, refs)))
        : h('p', { class: 'muted' }, t('common.none'))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.checklist'), ' ',
        h('span', { class: 'muted small' },
          t('panel.checklistSummary', { template: template ? localName(template) : p.template || '', done: p.checklist }))),
      h('ul', { class: 'checklist', id: 'panel-checklist' }, items.map((i) => h('li', { dataset: { item: i.code } },
        h('div', { class: 'checklist-name' }, localName(i),
          i.required ? h('span', { class: 'tag' }, t('panel.required')) : null,
          i.night_evidence ? h('span', { class: 'tag', title: t('panel.nightEvidence') }, t('panel.night')) : null),
        h('div', { class: 'checklist-state' },
          i.quantity != null ? h('span', { class: 'muted small' },
            t('panel.quantity', { q: i.quantity_min != null ? `${i.quantity}/${i.quantity_min}` : i.quantity })) : null,
          itemBadge(i.state)),
        i.reason ? h('div', { class: 'muted small checklist-reason' }, i.reason) : null)))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.observations'), ' ', h('span', { class: 'muted small' }, String(p.observation_count ?? observations.length))),
      (p.observation_count ?? 0) > observations.length
        ? h('p', { class: 'muted small' }, t('panel.observationsMore', { n: p.observation_count, m: observations.length }))
        : null,
      h('ol', { class: 'observations', id: 'panel-observations' }, observations.map((o) => renderObservation(o, itemNames, refs)))),

    h('section', { class: 'panel-section' },
      h('h3', {}, t('panel.events')),
      events.length
        ? h('ol', { class: 'timeline', id: 'panel-events' }, events.map((e) => h('li', { dataset: { kind: e.kind } },
          h('div', { class: 'timeline-head' },
            h('strong', {}, tCode('event', e.kind)), ' ',
            e.from_status ? statusBadge(e.from_status) : null,
            e.from_status && e.to_status ? ' → ' : null,
            e.to_status ? statusBadge(e.to_status) : null),
          h('div', { class: 'muted small' }, formatDateTime(e.at), e.actor ? ` · ${e.actor}` : ''),
          e.reason ? h('div', { class: 'timeline-reason' }, e.reason) : null)))
        : h('p', { class: 'muted' }, t('panel.noEvents'))),
  );
}

function renderObservation(o, itemNames, refs) {
  const checklist = Object.entries(o.checklist || {});
  return h('li', { class: 'observation', dataset: { observationId: o.id } },
    h('div', { class: 'observation-head' },
      h('strong', {}, formatDateTime(o.observed_at)), ' · ', o.inspector || '',
      o.accuracy_m != null ? h('span', { class: 'muted small' }, ` · ${t('panel.accuracy', { m: Math.round(o.accuracy_m) })}`) : null),
    o.hazard_types?.length ? h('div', { class: 'chips' }, o.hazard_types.map((c) => hazardChip(c, refs))) : null,
    checklist.length
      ? h('div', { class: 'small' }, checklist.map(([code, s], i) => [i ? ' · ' : '',
        `${itemNames.has(code) ? localName(itemNames.get(code)) : code}: `, h('span', { style: { color: ITEM_STATE_COLOUR[s] } }, tCode('item', s))]))
      : null,
    o.notes ? h('p', { class: 'observation-notes' }, o.notes) : null,
    o.photos?.length
      ? h('div', { class: 'photos' }, o.photos.map((photo) => photoLink(photo, `${o.inspector || ''} ${formatDateTime(o.observed_at)}`)))
      : h('p', { class: 'muted small' }, t('panel.noPhotos')));
}
