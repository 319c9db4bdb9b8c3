// 点位详情: one site through its close-out lifecycle (DOMAIN.md §2, §6).
//
//  - the facts an office asks first: code, status, kind, town, road and stake, level, responsible unit,
//    deadline with the days left or overdue, supervision;
//  - what this user may do now (derived from their roles and the status; the server has the final word and
//    its refusal is shown: 403/409/422 as said, the unmet items of a refused close-out listed and marked,
//    and a 412 reloads the site and says it changed);
//  - the checklist: per item the before-photo (from the observations) and the latest after-photo (and night
//    photo) side by side, its state, quantity, installer and date, and for the rectifiers while the work is
//    in progress, a form to record evidence with photos (resized and their originals' EXIF sent as evidence,
//    as the phone page does: photos.js), each photo with the server's evidence flags (photoflags.js);
//  - the timeline: every event in order, who, when, from → to, why, with the evidence photos.
//
// For tests: window.roadledger = { site(), reload() }; body[data-state="ready"], body[data-status].

import {
  getJson, apiJson, apiFetch, readResponse, h, fill, hasRole, ITEM_STATE_COLOUR, STATUS_COLOUR, createFlash, distanceM,
} from './common.js';
import { t, tCode, localName, formatDateTime, formatDate, onLangChange } from './i18n.js';
import { boot } from './boot.js';
import { flaggedPhoto, photoFlags } from './photoflags.js';
import { preparePhoto } from './photos.js';
import {
  loadSite, act, isStale, unmetItems, explain, allowedActions, mayRecordEvidence, statusBadge, daysLeftBadge, roadText,
  siteHref, today, confirmAction, reasonAction, dispatchAction, extensionAction, decideExtensionAction, mergeAction,
  superviseAction, openStatuses,
} from './lifecycle.js';
import { foundByData, loadCrashes, crashSection } from './sitecrashes.js';
import { loadPublicReports, publicReportSection } from './sitereports.js';

/** Fields of a template's `evidence_fields` that hold numbers and yes/no answers; the rest are text.
 * `quantity` has its own input. */
const NUMBER_FIELDS = new Set(['distance_m', 'length_m', 'size_cm', 'strips', 'required', 'damaged']);
const BOOLEAN_FIELDS = new Set(['full_width', 'works_day', 'works_night']);
const EVIDENCE_STATES = ['installed', 'damaged', 'missing', 'not_applicable'];
/** Where the merge dialog looks for the surviving site: about a kilometre around this one. */
const MERGE_RADIUS_DEG = 0.01;

const state = {
  user: null,
  id: null,
  feature: null,
  etag: null,
  loadError: null,
  settings: null,
  templates: new Map(),
  hazardTypes: new Map(),
  organisations: new Map(),
  unmet: null, // item codes of a refused close-out
  notice: null, // () => text: why the site was reloaded
  busy: false,
  forms: new Map(), // item code → its evidence form, kept across renders so that typing is never lost
};

const $ = (id) => document.getElementById(id);
const props = () => state.feature?.properties;

window.roadledger = {
  site: () => state.feature,
  reload: () => reload(),
};

boot({
  page: 'work',
  main,
  onError: (message) => fill($('site-root'), h('p', { class: 'error' }, message)),
});

async function main({ user, settings }) {
  state.user = user;
  state.settings = settings;
  onLangChange(() => {
    state.forms.clear(); // rebuilt with labels in the new language
    render();
  });
  state.id = new URLSearchParams(location.search).get('id');
  if (!state.id) {
    state.loadError = t('site.noId');
    render();
    document.body.dataset.state = 'error';
    return;
  }
  const [templates, hazardTypes, organisations] = await Promise.all([
    getJson('/api/v1/checklist-templates').catch(() => []),
    getJson('/api/v1/hazard-types').catch(() => []),
    apiJson('/api/v1/organisations').catch(() => []),
  ]);
  for (const tpl of templates) state.templates.set(tpl.code, tpl);
  for (const ht of hazardTypes) state.hazardTypes.set(ht.code, ht);
  for (const org of organisations) state.organisations.set(org.id, org);
  await reload();
  document.body.dataset.state = state.feature ? 'ready' : 'error';
}

async function reload() {
  try {
    const { feature, etag } = await loadSite(state.id);
    setSite(feature, etag);
    state.loadError = null;
    state.crashes = foundByData(feature.properties) ? await loadCrashes(feature.properties.id).catch(() => null) : null;
    state.publicReports = await loadPublicReports(feature.properties.id).catch(() => null);
  } catch (error) {
    state.loadError = error.status === 404 ? t('site.notFound') : explain(error);
  }
  render();
}

function setSite(feature, etag) {
  state.feature = feature;
  state.etag = etag;
  document.body.dataset.status = feature.properties.status;
  document.body.dataset.version = etag || '';
  // Items now in place drop out of a close-out refusal shown earlier.
  if (state.unmet) {
    const items = new Map((feature.properties.checklist_items || []).map((i) => [i.code, i]));
    state.unmet = state.unmet.filter((code) => !items.has(code) || !inPlace(items.get(code)));
    if (!state.unmet.length) state.unmet = null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Photos and items

/**
 * The before-photo: the first photo of the latest observation made before the remediation began (the
 * first acceptance or evidence), or of the earliest observation when all came later. Observations are not
 * per item, so every item shows the same one.
 */
function beforePhoto(p) {
  const observations = (p.observations || []).filter((o) => o.photos?.length); // newest first
  if (!observations.length) return null;
  const started = (p.events || []).find((e) => ['accept', 'accepted', 'evidence_submitted'].includes(e.kind))?.at;
  const prior = started ? observations.filter((o) => Date.parse(o.observed_at) <= Date.parse(started)) : observations;
  const o = prior[0] || observations[observations.length - 1];
  return { photo: o.photos[0], by: o.inspector, at: o.observed_at, more: o.photos.length - 1 };
}

/** The latest evidence photo of a role (`after` or `night`) for an item. */
function latestPhoto(item, role) {
  for (const e of item.evidence || []) { // newest first
    const photo = e.photos?.find((ph) => ph.role === role);
    if (photo) return { photo, by: e.submitted_by, at: e.submitted_at };
  }
  return null;
}

/** The same rule as the server's close-out check (src/db/lifecycle.rs, unmet_items). */
function inPlace(item) {
  if (item.state === 'not_applicable') return true;
  return ['installed', 'verified'].includes(item.state) && Boolean(latestPhoto(item, 'after'))
    && (!item.night_evidence || Boolean(latestPhoto(item, 'night')));
}

function itemLabel(p, code) {
  const item = (p.checklist_items || []).find((i) => i.code === code);
  return item ? localName(item) : code;
}

function itemBadge(itemState) {
  if (!itemState) return h('span', { class: 'badge badge-outline' }, t('item.unchecked'));
  return h('span', { class: 'badge', dataset: { state: itemState }, style: { background: ITEM_STATE_COLOUR[itemState] || '#555' } },
    tCode('item', itemState));
}

function orgName(id) {
  return state.organisations.get(id)?.name || (id != null ? `#${id}` : t('common.none'));
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render() {
  const p = props();
  document.title = `${p ? p.code : t('site.title')} · RoadLedger`;
  renderCrumbs(p);
  flashLine.render();
  const root = $('site-root');
  if (state.loadError) {
    fill(root, h('div', { class: 'card office-card' }, h('p', { class: 'error', id: 'site-error' }, state.loadError),
      h('a', { class: 'btn', href: workHome().href }, workHome().label)));
    return;
  }
  if (!p) return;
  fill(root,
    renderHead(p),
    h('div', { class: 'site-grid' },
      h('div', { class: 'site-main' }, renderActions(p), renderChecklist(p)),
      h('div', { class: 'site-aside' }, renderFacts(p), crashSection(state.crashes), publicReportSection(state.publicReports), renderTimeline(p), renderObservations(p))));
}

function workHome() {
  const worker = ['dispatcher', 'town_officer', 'unit_officer', 'reviewer'].some((r) => hasRole(r, state.user));
  return worker ? { href: '/work.html', label: t('nav.work') } : { href: '/', label: t('nav.map') };
}

function renderCrumbs(p) {
  const home = workHome();
  fill($('crumbs'), h('a', { href: home.href }, home.label), h('span', { 'aria-hidden': 'true' }, ' / '),
    h('span', { 'aria-current': 'page' }, p?.code || t('site.title')));
}

function renderHead(p) {
  return h('header', { class: 'site-head' },
    h('div', { class: 'site-title' },
      h('h1', { class: 'site-code', id: 'site-code' }, p.code),
      h('span', { id: 'site-status' }, statusBadge(p.status)),
      p.overdue ? h('span', { class: 'badge badge-danger', id: 'site-overdue' }, t('panel.overdue')) : null,
      p.supervision_level && p.supervision_level !== 'none'
        ? h('span', { class: 'level level-major' }, tCode('supervision', p.supervision_level)) : null),
    h('p', { class: 'site-sub muted' }, [tCode('kindLong', p.kind), p.town, roadText(p)].filter(Boolean).join(' · ')),
    // Who has the work and by when: what an officer on a phone needs before scrolling.
    p.deadline || p.responsible_unit
      ? h('p', { class: 'site-duty', id: 'site-duty' },
        p.responsible_unit ? h('span', {}, p.responsible_unit) : null,
        p.deadline ? h('span', { class: 'deadline' }, `${t('panel.deadline')} ${formatDate(p.deadline)}`, daysLeftBadge(p)) : null)
      : null);
}

function renderFacts(p) {
  const units = [p.lead_unit_id != null ? `${t('site.lead')}${t('common.colon')}${orgName(p.lead_unit_id)}` : null,
    p.supporting_unit_ids?.length ? `${t('site.supporting')}${t('common.colon')}${p.supporting_unit_ids.map(orgName).join(t('common.listSep'))}` : null].filter(Boolean);
  const x = p.pending_extension;
  const facts = [
    ['kind', t('panel.kind'), tCode('kindLong', p.kind)],
    ['town', t('panel.town'), p.town || t('common.none')],
    ['road', t('panel.road'), roadText(p) || t('common.none')],
    ['hazards', t('panel.hazardTypes'), p.hazard_types?.length
      ? h('div', { class: 'chips' }, p.hazard_types.map((code) => h('span', { class: 'chip chip-small' },
        state.hazardTypes.has(code) ? localName(state.hazardTypes.get(code)) : code)))
      : t('common.none')],
    ['level', t('panel.hazardLevel'), p.hazard_level ? tCode('level', p.hazard_level) : t('site.notSet')],
    ['mode', t('site.mode'), p.rectification_mode ? tCode('mode', p.rectification_mode) : t('site.notSet')],
    ['unit', t('site.responsibleUnit'), [p.responsible_unit || t('site.notSet'),
      units.length ? h('div', { class: 'muted small' }, units.join('；')) : null]],
    ['deadline', t('panel.deadline'), p.deadline
      ? h('span', { class: 'deadline' }, formatDate(p.deadline), ' ', daysLeftBadge(p))
      : t('site.notSet')],
    x ? ['extension', t('site.pendingExtension'), h('span', {},
      t('work.extensionAsked', { date: x.new_deadline }), h('div', { class: 'muted small' }, x.reason))] : null,
    ['supervision', t('panel.supervision'), tCode('supervision', p.supervision_level)],
    ['source', t('panel.source'), tCode('source', p.source)],
    ['first', t('panel.firstObserved'), formatDateTime(p.first_observed_at)],
    p.return_count ? ['returns', t('site.returns'), String(p.return_count)] : null,
    p.relapse_count ? ['relapses', t('site.relapses'), String(p.relapse_count)] : null,
    p.duplicate_of ? ['duplicate', t('site.duplicateOf'), h('a', { href: siteHref(p.duplicate_of) }, t('site.survivor'))] : null,
  ].filter(Boolean);
  return h('section', { class: 'card office-card site-card', id: 'site-facts' },
    h('h2', {}, t('site.facts')),
    h('dl', { class: 'facts' }, facts.flatMap(([key, k, v]) => [h('dt', {}, k), h('dd', { dataset: { fact: key } }, v)])));
}

function renderActions(p) {
  const actions = allowedActions(state.user, p);
  const me = state.user?.id;
  const ownWork = actions.includes('approve') && p.close_out_requested_by && p.close_out_requested_by === me;
  const primary = new Set(['verify', 'dispatch', 'accept', 'start', 'request_close_out', 'approve', 'look_back']);
  const danger = new Set(['reject', 'cancel']);
  const buttons = actions.map((action) => (action === 'look_back' ? h('a', {
    class: 'btn btn-primary',
    href: `/inspect.html?look_back=${encodeURIComponent(p.id)}`,
    dataset: { action },
  }, t('action.look_back')) : h('button', {
    type: 'button',
    class: `btn ${primary.has(action) ? 'btn-primary' : danger.has(action) ? 'btn-danger-outline' : ''}`.trim(),
    dataset: { action },
    disabled: state.busy || (action === 'approve' && ownWork),
    title: action === 'approve' && ownWork ? t('refusal.ownWork') : null,
    onclick: () => onAction(action),
  }, tCode('action', action))));
  return h('section', { class: 'card office-card site-card', id: 'site-actions' },
    h('h2', {}, t('site.actions')),
    h('p', { class: 'next-step', id: 'site-next' }, t(`next.${p.status}`)),
    state.notice ? h('div', { class: 'alert alert-warn', id: 'site-notice', role: 'alert' }, state.notice()) : null,
    state.unmet ? h('div', { class: 'alert alert-danger', id: 'unmet-items', role: 'alert' },
      h('strong', {}, t('site.unmetTitle')),
      h('ul', {}, state.unmet.map((code) => h('li', { dataset: { item: code } },
        h('a', { href: `#item-${code}` }, itemLabel(p, code))))),
      h('p', { class: 'small' }, t('site.unmetHint'))) : null,
    ownWork ? h('p', { class: 'muted small' }, t('refusal.ownWork')) : null,
    buttons.length
      ? h('div', { class: 'action-buttons', id: 'action-buttons' }, buttons)
      : h('p', { class: 'muted', id: 'no-actions' }, t('site.noActions')));
}

function renderChecklist(p) {
  const items = p.checklist_items || [];
  const template = state.templates.get(p.template);
  const before = beforePhoto(p);
  const evidenceOpen = mayRecordEvidence(state.user, p);
  return h('section', { class: 'card office-card site-card', id: 'site-checklist' },
    h('div', { class: 'card-head' },
      h('h2', {}, t('panel.checklist'), template ? h('span', { class: 'muted count-aside' }, localName(template)) : null),
      h('span', { class: 'muted small' }, t('site.inPlace', { done: p.checklist || '' }))),
    evidenceOpen ? h('p', { class: 'muted small' }, t('site.evidenceHint')) : null,
    items.length
      ? h('div', { class: 'items' }, items.map((item) => renderItem(p, item, before, template, evidenceOpen)))
      : h('p', { class: 'muted' }, t('common.none')));
}

function renderItem(p, item, before, template, evidenceOpen) {
  const after = latestPhoto(item, 'after');
  const night = latestPhoto(item, 'night');
  const latest = item.evidence?.[0];
  const unmet = state.unmet?.includes(item.code);
  const qty = item.quantity != null
    ? (item.quantity_min != null ? t('site.quantityOf', { q: item.quantity, min: item.quantity_min }) : String(item.quantity))
    : null;
  // A quantity among the measured values repeats the item's own (older records keep it there).
  const measured = Object.entries(item.measured || {})
    .filter(([k, v]) => v !== '' && v != null && !(k === 'quantity' && item.quantity != null));
  const facts = [
    qty != null ? [t('site.quantity'), qty] : null,
    item.installed_on ? [t('site.installedOn'), formatDate(item.installed_on)] : null,
    item.installer ? [t('site.installer'), item.installer] : null,
    ...measured.map(([k, v]) => [tCode('measure', k), typeof v === 'boolean' ? t(v ? 'common.yes' : 'common.no') : String(v)]),
    latest ? [t('site.submitted'), `${latest.submitted_by || ''} ${formatDateTime(latest.submitted_at)}`.trim()] : null,
    item.reason ? [t('site.naReason'), item.reason] : null,
  ].filter(Boolean);
  const showNight = item.night_evidence || night;
  return h('article', {
    class: `item-card${unmet ? ' is-unmet' : ''}`, id: `item-${item.code}`, dataset: { item: item.code, state: item.state || '' },
  },
  h('header', { class: 'item-head' },
    h('h3', { class: 'item-name' }, localName(item),
      item.required ? h('span', { class: 'tag' }, t('panel.required')) : null,
      item.night_evidence ? h('span', { class: 'tag tag-night' }, t('site.nightNeeded')) : null),
    h('span', { class: 'item-state' }, itemBadge(item.state))),
  facts.length ? h('dl', { class: 'item-facts' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))) : null,
  h('div', { class: `compare${showNight ? ' compare-3' : ''}` },
    photoCell('before', t('site.before'), before, t('site.noBefore')),
    photoCell('after', t('site.after'), after, t('site.noAfter')),
    showNight ? photoCell('night', t('site.night'), night, t('site.noNight')) : null),
  unmet ? h('p', { class: 'item-unmet small' }, item.night_evidence ? t('site.unmetNight') : t('site.unmetItem')) : null,
  evidenceOpen ? evidenceForm(p, item, template) : null);
}

function photoCell(role, label, found, emptyText) {
  return h('figure', { class: 'compare-cell', dataset: { role } },
    h('figcaption', { class: 'compare-label' }, label),
    found
      ? h('a', { class: 'compare-photo', href: found.photo.url, target: '_blank', rel: 'noopener', title: t('panel.openPhoto') },
        h('img', { src: found.photo.thumbnail_url, alt: `${label} ${found.by || ''}`.trim(), decoding: 'async' }),
        found.more > 0 ? h('span', { class: 'compare-more' }, `+${found.more}`) : null)
      : h('div', { class: 'compare-empty' }, emptyText),
    found ? h('div', { class: 'compare-meta' }, [formatDateTime(found.at), found.by].filter(Boolean).join(' · ')) : null,
    found ? photoFlags(found.photo, 'div') : null);
}

// ---------------------------------------------------------------------------------------------------------
// Evidence

function evidenceForm(p, item, template) {
  let details = state.forms.get(item.code);
  if (!details) {
    details = buildEvidenceForm(item, template);
    state.forms.set(item.code, details);
  }
  // Open where work remains; folded where the item is in place (still there to correct it).
  if (!details.dataset.touched) details.open = !inPlace(item) || Boolean(state.unmet?.includes(item.code));
  return details;
}

function buildEvidenceForm(item, template) {
  const code = item.code;
  const fields = (template?.items?.find((i) => i.code === code)?.evidence_fields || []).filter((f) => f !== 'quantity');
  const id = (name) => `ev-${code}-${name}`;
  // Whoever records evidence has usually just put the item in place; "not applicable" stays as it was.
  const initialState = item.state === 'not_applicable' ? 'not_applicable' : 'installed';
  const stateChoice = h('div', { class: 'choice', role: 'radiogroup', 'aria-label': t('site.state') },
    EVIDENCE_STATES.map((s) => h('label', {},
      h('input', { type: 'radio', name: 'state', value: s, checked: s === initialState }),
      h('span', {}, tCode('item', s)))));
  const quantity = h('input', {
    type: 'number', name: 'quantity', id: id('quantity'), min: 0, max: 10000, step: 1, inputmode: 'numeric',
    value: item.quantity ?? item.quantity_min ?? '',
  });
  const installedOn = h('input', { type: 'date', name: 'installed_on', id: id('installed-on'), max: today(), value: item.installed_on || today() });
  const installer = h('input', { type: 'text', name: 'installer', id: id('installer'), maxlength: 128, value: item.installer || '', placeholder: t('site.installerPlaceholder') });
  const measuredInputs = fields.map((f) => {
    const value = item.measured?.[f];
    if (BOOLEAN_FIELDS.has(f)) {
      return h('label', { class: 'check measure-check' },
        h('input', { type: 'checkbox', name: `measured.${f}`, dataset: { measure: f, kind: 'boolean' }, checked: value === true }),
        h('span', {}, tCode('measure', f)));
    }
    const number = NUMBER_FIELDS.has(f);
    return h('label', { class: 'field' }, h('span', {}, tCode('measure', f)),
      h('input', {
        type: number ? 'number' : 'text', name: `measured.${f}`, min: number ? 0 : null, step: number ? 'any' : null,
        inputmode: number ? 'decimal' : null, maxlength: number ? null : 64, dataset: { measure: f, kind: number ? 'number' : 'text' },
        value: value ?? '',
      }));
  });
  const reason = h('textarea', { name: 'reason', id: id('reason'), maxlength: 1000, rows: 2, placeholder: t('site.naReasonPlaceholder') });
  const reasonField = h('label', { class: 'field', hidden: true }, h('span', {}, t('site.naReason')), reason);
  const after = photoPicker(code, 'photo', t('site.addAfter'));
  const night = item.night_evidence ? photoPicker(code, 'night_photo', t('site.addNight')) : null;
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('site.submitEvidence'));

  const form = h('form', { class: 'evidence-form', id: `evidence-${code}`, dataset: { item: code }, novalidate: true },
    h('div', { class: 'field' }, h('span', {}, t('site.state')), stateChoice),
    h('div', { class: 'form-grid form-grid-3' },
      h('label', { class: 'field' }, h('span', {}, t('site.quantity')), quantity,
        item.quantity_min != null ? h('small', { class: 'hint' }, t('site.quantityMin', { n: item.quantity_min })) : null),
      h('label', { class: 'field' }, h('span', {}, t('site.installedOn')), installedOn),
      h('label', { class: 'field' }, h('span', {}, t('site.installer')), installer)),
    measuredInputs.length ? h('div', { class: 'form-grid form-grid-3 measured' }, measuredInputs) : null,
    reasonField,
    h('div', { class: `photo-pickers${night ? ' photo-pickers-2' : ''}` }, after.element, night?.element),
    error,
    h('div', { class: 'form-actions' }, submit));
  const details = h('details', { class: 'evidence' },
    h('summary', {}, item.evidence?.length ? t('site.updateEvidence') : t('site.recordEvidence')), form);

  const syncReason = () => {
    reasonField.hidden = form.querySelector('input[name="state"]:checked')?.value !== 'not_applicable';
  };
  stateChoice.addEventListener('change', syncReason);
  syncReason();
  // Once the user has typed or folded it, the form stays as they left it across renders.
  form.addEventListener('input', () => { details.dataset.touched = '1'; });
  details.querySelector('summary').addEventListener('click', () => { details.dataset.touched = '1'; });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const evidence = { state: form.querySelector('input[name="state"]:checked')?.value || 'installed' };
    if (quantity.value !== '') evidence.quantity = Number(quantity.value);
    if (installedOn.value) evidence.installed_on = installedOn.value;
    if (installer.value.trim()) evidence.installer = installer.value.trim();
    const measured = {};
    for (const input of form.querySelectorAll('[data-measure]')) {
      const kind = input.dataset.kind;
      if (kind === 'boolean') measured[input.dataset.measure] = input.checked;
      else if (input.value.trim() !== '') {
        measured[input.dataset.measure] = kind === 'number' ? Number(input.value) : input.value.trim();
      }
    }
    if (Object.keys(measured).length) evidence.measured = measured;
    if (evidence.state === 'not_applicable') evidence.reason = reason.value.trim();
    const afterFiles = after.files();
    const nightFiles = night ? night.files() : [];
    const problem = checkEvidence(item, evidence, afterFiles, nightFiles);
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = t('site.sending');
    try {
      // As on the phone page (photos.js): resized unless the county requires originals, and what each
      // original's EXIF said sent as `photo_evidence`, one entry per photo in the order of the parts.
      const requireOriginals = Boolean(state.settings.require_original_photos);
      const parts = [...afterFiles.map((f) => ['photo', f]), ...nightFiles.map((f) => ['night_photo', f])];
      const prepared = await Promise.all(parts.map(([, f]) => preparePhoto(f, { requireOriginals })));
      if (prepared.length) evidence.photo_evidence = prepared.map((p) => p.evidence || {});
      const body = new FormData();
      body.append('evidence', new Blob([JSON.stringify(evidence)], { type: 'application/json' }));
      parts.forEach(([name], i) => body.append(name, prepared[i].blob, prepared[i].name));
      const response = await apiFetch(`/api/v1/sites/${encodeURIComponent(state.id)}/items/${encodeURIComponent(code)}/evidence`,
        { method: 'POST', body, headers: { 'if-match': state.etag || '' } });
      const feature = await readResponse(response);
      after.clear();
      night?.clear();
      state.forms.delete(code);
      setSite(feature, response.headers.get('etag'));
      flash('ok', () => t('site.evidenceSaved', { item: localName(item) }));
      render();
    } catch (err) {
      error.textContent = explain(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = t('site.submitEvidence');
    }
  });
  return details;
}

/** What is wrong with an evidence form before it is sent (the server checks the same and more). */
function checkEvidence(item, evidence, afterFiles, nightFiles) {
  if (evidence.state === 'not_applicable' && !evidence.reason) return t('site.naReasonMissing');
  if (evidence.quantity != null && (!Number.isInteger(evidence.quantity) || evidence.quantity < 0 || evidence.quantity > 10000)) {
    return t('site.quantityBad');
  }
  if (evidence.state === 'installed' && !afterFiles.length && !latestPhoto(item, 'after')) return t('site.afterMissing');
  const all = [...afterFiles, ...nightFiles];
  const max = state.settings.photos_per_observation_max;
  if (all.length > max) return t('inspect.tooManyPhotos', { max });
  // Photos are resized before they are sent (photos.js) unless the county wants them as taken; only an
  // original can be too large for the server.
  const bytesMax = state.settings.require_original_photos ? state.settings.photo_bytes_max : 0;
  for (const f of all) {
    if (!['image/jpeg', 'image/png'].includes(f.type)) return t('inspect.photoType', { name: f.name });
    if (bytesMax && f.size > bytesMax) return t('inspect.photoTooLarge', { name: f.name, mb: Math.floor(bytesMax / 1048576) });
  }
  return null;
}

/** A file input for photos (the camera on a phone) with previews of what was chosen. */
function photoPicker(code, name, label) {
  const input = h('input', {
    type: 'file', name, id: `ev-${code}-${name}`, accept: 'image/jpeg,image/png', capture: 'environment', multiple: true,
  });
  const previews = h('div', { class: 'photo-previews' });
  const count = h('span', { class: 'picker-count muted small' });
  let urls = [];
  const show = () => {
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [...input.files].map((f) => URL.createObjectURL(f));
    fill(previews, urls.map((u) => h('div', { class: 'photo-preview' }, h('img', { src: u, alt: '' }))));
    count.textContent = input.files.length ? t('site.chosen', { n: input.files.length }) : '';
  };
  input.addEventListener('change', show);
  const element = h('div', { class: 'picker', dataset: { picker: name } },
    h('label', { class: 'photo-picker' }, input, h('span', {}, label)), count, previews);
  return {
    element,
    files: () => [...input.files],
    clear: () => { input.value = ''; show(); },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Actions

async function onAction(action) {
  const p = props();
  if (!p || state.busy) return;
  const perform = (body) => act(p.id, state.etag, body);
  const site = p;
  let outcome;
  switch (action) {
    case 'verify':
      outcome = await confirmAction({ site, action, message: t('confirm.verify', { code: p.code }), perform });
      break;
    case 'reject':
      outcome = await reasonAction({ site, action, message: t('confirm.reject'), placeholder: t('reason.rejectPlaceholder'), danger: true, perform });
      break;
    case 'merge':
      outcome = await mergeAction({ site, candidates: await mergeCandidates(p), perform });
      break;
    case 'dispatch':
      outcome = await dispatchAction({ site, organisations: [...state.organisations.values()], perform });
      break;
    case 'accept':
      outcome = await confirmAction({
        site, action, perform,
        message: t('confirm.accept', { unit: p.responsible_unit || t('common.none'), deadline: p.deadline ? formatDate(p.deadline) : t('common.none') }),
      });
      break;
    case 'start':
      outcome = await confirmAction({ site, action, message: t('confirm.start'), perform });
      break;
    case 'request_extension':
      outcome = await extensionAction({ site, perform });
      break;
    case 'decide_extension':
      outcome = await decideExtensionAction({ site, perform });
      break;
    case 'request_close_out':
      outcome = await confirmAction({ site, action, message: t('confirm.closeOut'), perform });
      break;
    case 'approve':
      outcome = await confirmAction({ site, action, message: t('confirm.approve', { code: p.code }), perform });
      break;
    case 'return':
      outcome = await reasonAction({ site, action, message: t('confirm.return'), placeholder: t('reason.returnPlaceholder'), perform });
      break;
    case 'supervise':
      outcome = await superviseAction({ site: p, perform });
      break;
    case 'cancel':
      outcome = await reasonAction({ site, action, message: t('confirm.cancel'), placeholder: t('reason.cancelPlaceholder'), danger: true, perform });
      break;
    default:
      return;
  }
  if (!outcome) return;
  if (outcome.error) {
    await refused(outcome.error);
    return;
  }
  state.notice = null;
  // A refused close-out's list stays while the work goes on (setSite drops the items put in place since).
  if (outcome.feature.properties.status !== p.status) state.unmet = null;
  state.forms.clear();
  setSite(outcome.feature, outcome.etag);
  flash('ok', () => t('act.done', { code: p.code, action: tCode('action', action), status: tCode('status', outcome.feature.properties.status) }));
  render();
}

/** A refusal the page handles itself: a stale ETag reloads the site; unmet items are listed and marked. */
async function refused(error) {
  if (isStale(error)) {
    const before = props()?.status;
    state.forms.clear();
    await reload();
    const now = props()?.status;
    state.notice = () => (before && now && before !== now
      ? t('act.staleMoved', { from: tCode('status', before), to: tCode('status', now) })
      : t('act.stale'));
    render();
    $('site-notice')?.scrollIntoView({ block: 'center', behavior: 'smooth' });
    return;
  }
  const codes = unmetItems(error);
  if (codes) {
    state.unmet = codes;
    render();
    $('unmet-items')?.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
}

/** Open sites of the same kind within about a kilometre, nearest first: where a duplicate may merge. */
async function mergeCandidates(p) {
  const [lon, lat] = centre(state.feature.geometry);
  const bbox = [lon - MERGE_RADIUS_DEG, lat - MERGE_RADIUS_DEG, lon + MERGE_RADIUS_DEG, lat + MERGE_RADIUS_DEG].map((v) => v.toFixed(6)).join(',');
  const query = new URLSearchParams({ bbox, kind: p.kind, status: openStatuses().join(','), limit: '200' });
  try {
    const page = await getJson(`/api/v1/sites?${query}`);
    return page.features.filter((f) => f.properties.id !== p.id).map((f) => {
      const [x, y] = centre(f.geometry);
      return { id: f.properties.id, code: f.properties.code, status: f.properties.status, road: roadText(f.properties), distance_m: distanceM({ lon, lat }, { lon: x, lat: y }) };
    }).sort((a, b) => a.distance_m - b.distance_m).slice(0, 30);
  } catch {
    return [];
  }
}

function centre(geometry) {
  if (geometry.type === 'Point') return geometry.coordinates;
  const c = geometry.coordinates;
  return c[Math.floor(c.length / 2)];
}

// ---------------------------------------------------------------------------------------------------------
// Timeline

function renderTimeline(p) {
  const events = p.events || [];
  return h('section', { class: 'card office-card site-card', id: 'site-timeline' },
    h('h2', {}, t('panel.events')),
    events.length
      ? h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => timelineEntry(p, e)))
      : h('p', { class: 'muted' }, t('panel.noEvents')));
}

function timelineEntry(p, e) {
  const moved = e.to_status && e.to_status !== e.from_status;
  return h('li', { dataset: { kind: e.kind, to: e.to_status || '' }, style: moved ? { '--dot': STATUS_COLOUR[e.to_status] } : null },
    h('div', { class: 'timeline-head' },
      h('strong', { class: 'timeline-label' }, eventLabel(e)),
      moved ? h('span', { class: 'timeline-move' },
        e.from_status ? statusBadge(e.from_status) : null, e.from_status ? h('span', { class: 'arrow' }, '→') : null,
        statusBadge(e.to_status)) : null),
    h('div', { class: 'muted small timeline-meta' }, formatDateTime(e.at), e.actor ? ` · ${e.actor}` : ''),
    e.reason ? h('div', { class: 'timeline-reason' }, `${t('dialog.reason')}${t('common.colon')}${e.reason}`) : null,
    eventDetail(p, e));
}

function eventLabel(e) {
  if (e.kind === 'decide_extension') return t(e.data?.approved ? 'event.extension_approved' : 'event.extension_denied');
  return tCode('event', e.kind);
}

/** The photos of the visit an event records (a look-back), as thumbnails that open the photo. */
function visitPhotos(p, e) {
  const visit = e.observation_id && (p.observations || []).find((o) => o.id === e.observation_id);
  if (!visit?.photos?.length) return null;
  return h('div', { class: 'timeline-photos' }, visit.photos.map((ph) => h('a', {
    class: 'timeline-photo', href: ph.url, target: '_blank', rel: 'noopener', title: t('panel.openPhoto'), dataset: { role: 'before' },
  }, h('img', { src: ph.thumbnail_url, alt: eventLabel(e), loading: 'lazy' }))));
}

/** What an event's data says, for the kinds that carry something a reader needs. */
function eventDetail(p, e) {
  const d = e.data || {};
  const line = (...parts) => h('div', { class: 'timeline-detail small' }, parts);
  switch (e.kind) {
    case 'dispatch':
    case 'dispatched':
      return line([
        d.responsible_unit_id != null ? `${t('site.responsibleUnit')}${t('common.colon')}${orgName(d.responsible_unit_id)}` : null,
        d.hazard_level ? `${t('panel.hazardLevel')}${t('common.colon')}${tCode('level', d.hazard_level)}` : null,
        d.rectification_mode ? `${t('site.mode')}${t('common.colon')}${tCode('mode', d.rectification_mode)}` : null,
        d.deadline ? `${t('panel.deadline')}${t('common.colon')}${formatDate(d.deadline)}` : null,
      ].filter(Boolean).join('；'));
    case 'opened':
    case 'candidate_linked':
      // A site found by data: the candidate a dispatcher confirmed (候选点段), with where it came from.
      return d.candidate_id != null
        ? line(`${t('candidates.layer')} #${d.candidate_id}${d.source ? ` · ${tCode('source', d.source)}` : ''}`) : null;
    case 'public_report_merged':
      // A public report a dispatcher merged into this site (accepted ones arrive as observations).
      return line(`${tCode('publicReports.channel', d.channel)} #${d.public_report_id}${d.ticket_no ? ` · ${t('publicReports.ticket')} ${d.ticket_no}` : ''}`);
    case 'road_changed':
    case 'town_changed':
      // An import of newer road or town data re-derived this: before → after, as the import's report says.
      return d.from != null || d.to != null ? line(`${d.from || t('common.none')} → ${d.to || t('common.none')}`) : null;
    case 'request_extension':
    case 'decide_extension':
      return d.new_deadline ? line(t('site.deadlineChange', { from: d.old_deadline ? formatDate(d.old_deadline) : t('common.none'), to: formatDate(d.new_deadline) })) : null;
    case 'evidence_submitted': {
      const item = (p.checklist_items || []).find((i) => i.code === d.item);
      const evidence = item?.evidence?.find((ev) => ev.id === d.evidence_id);
      const roles = new Map((evidence?.photos || []).map((ph) => [ph.sha256, ph.role]));
      // Events record each photo as {sha256, role}; older events as a bare hash.
      for (const ph of d.photos || []) if (ph && typeof ph === 'object') roles.set(ph.sha256, ph.role);
      const hashes = (d.photos || []).map((ph) => (typeof ph === 'string' ? ph : ph?.sha256)).filter(Boolean);
      return h('div', { class: 'timeline-detail small' },
        `${item ? localName(item) : d.item || ''}${t('common.colon')}${tCode('item', d.state)}`,
        hashes.length ? h('div', { class: 'timeline-photos' }, hashes.map((sha) => h('a', {
          class: 'timeline-photo', href: `/api/v1/photos/${sha}`, target: '_blank', rel: 'noopener', title: t('panel.openPhoto'),
          dataset: { role: roles.get(sha) || '' },
        }, h('img', { src: `/api/v1/photos/${sha}/thumbnail`, alt: roles.get(sha) === 'night' ? t('site.night') : t('site.after'), loading: 'lazy' }),
        roles.get(sha) === 'night' ? h('span', { class: 'timeline-photo-tag' }, t('site.night')) : null))) : null);
    }
    case 'look_back_pass':
    case 'look_back_relapse':
    case 'relapsed':
      return h('div', { class: 'timeline-detail small' },
        d.failed_items?.length ? `${t('relapse.items')}${t('common.colon')}${d.failed_items.map((c) => itemLabel(p, c)).join(t('common.listSep'))}` : null,
        d.deadline ? h('div', {}, t('site.deadlineChange', { from: d.old_deadline ? formatDate(d.old_deadline) : t('common.none'), to: formatDate(d.deadline) })) : null,
        visitPhotos(p, e));
    case 'merge':
    case 'merged':
      return d.into ? line(h('a', { href: siteHref(d.into) }, t('site.survivor'))) : null;
    case 'merged_in':
      return d.from ? line(h('a', { href: siteHref(d.from) }, t('site.mergedFrom')), d.observations?.length ? ` · ${t('site.observationsMoved', { n: d.observations.length })}` : '') : null;
    case 'look_back_due':
      return d.due_on ? line(t('site.lookBackDue', { date: formatDate(d.due_on) })) : null;
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Observations: the before-photos

function renderObservations(p) {
  const observations = p.observations || [];
  return h('section', { class: 'card office-card site-card', id: 'site-observations' },
    h('h2', {}, t('site.visits'), h('span', { class: 'muted count-aside' }, String(p.observation_count ?? observations.length))),
    observations.length
      ? h('ol', { class: 'observations' }, observations.map((o) => h('li', { class: 'observation', dataset: { observationId: o.id } },
        h('div', { class: 'observation-head' }, h('strong', {}, formatDateTime(o.observed_at)), ' · ', o.inspector || '',
          o.look_back_result ? [' ', h('span', { class: `chip chip-small look-back-${o.look_back_result}` }, tCode('event', `look_back_${o.look_back_result}`))] : null,
          o.location_source === 'map' ? [' ', h('span', { class: 'chip chip-small location-map' }, t('place.sourceMap'))] : null,
          o.location_confirmed ? [' ', h('span', { class: 'chip chip-small location-confirmed' }, t('place.confirmed'))] : null),
        o.notes ? h('p', { class: 'observation-notes' }, o.notes) : null,
        o.photos?.length
          ? h('div', { class: 'photos' }, o.photos.map((photo) => flaggedPhoto(photo, h('a', {
            href: photo.url, target: '_blank', rel: 'noopener', title: t('panel.openPhoto'), class: 'photo',
          }, h('img', { src: photo.thumbnail_url, alt: `${o.inspector || ''} ${formatDateTime(o.observed_at)}`, loading: 'lazy' })))))
          : h('p', { class: 'muted small' }, t('panel.noPhotos')))))
      : h('p', { class: 'muted' }, t('common.none')));
}

// ---------------------------------------------------------------------------------------------------------

const flashLine = createFlash('site-flash');
const flash = (kind, text) => flashLine.show(kind, text);
