// The close-out lifecycle (建账销号, DOMAIN.md §6) as the pages use it: reading a site with its ETag, taking
// an action with If-Match, what the signed-in user may do in a status, deadlines in days, the server's
// refusals explained, and the dialogs that ask for an action's reason or parameters.
//
// Which buttons a page shows is derived here from the user's roles and the site's status; the server decides
// (src/domain/lifecycle.rs) and its refusal is shown as it comes.

import { apiFetch, readResponse, h, ApiError, STATUS_COLOUR, hasRole } from './common.js';
import { t, tCode, isEnglish } from './i18n.js';
import { openDialog } from './dialog.js';
import { settings } from './boot.js';

/** Statuses in which a site is still open (may still be cancelled), as the server says. */
export function openStatuses() {
  return settings().statuses.filter((s) => s.open).map((s) => s.code);
}

/**
 * Default remediation deadline in days for a hazard level and a rectification mode (DOMAIN.md §6), from the
 * server's `DeadlinePolicy` (/api/v1/settings); null when the deadline must be given (a major hazard). The
 * dialog prefills it and always sends the date it shows.
 */
function defaultDeadlineDays(level, mode) {
  return settings().default_deadline_days[mode]?.[level] ?? null;
}

/** Organisation kinds that may be made responsible for a site, in the order the dispatch dialog lists them. */
const UNIT_KINDS = ['responsible_unit', 'town', 'transport_bureau', 'highway_centre', 'contractor', 'education_bureau',
  'village_committee', 'police_brigade', 'police_squadron'];

// ---------------------------------------------------------------------------------------------------------
// Reading and acting

/** GET /api/v1/sites/{id}: {feature, etag}. */
export async function loadSite(id) {
  const response = await apiFetch(`/api/v1/sites/${encodeURIComponent(id)}`, { cache: 'no-store' });
  const feature = await readResponse(response);
  return { feature, etag: response.headers.get('etag') };
}

/** POST /api/v1/sites/{id}/actions with If-Match: {feature, etag} of the site after the move. */
export async function act(id, etag, body) {
  const response = await apiFetch(`/api/v1/sites/${encodeURIComponent(id)}/actions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'if-match': etag || '' },
    body: JSON.stringify(body),
  });
  const feature = await readResponse(response);
  return { feature, etag: response.headers.get('etag') };
}

/** Reads the site for its current ETag, then acts: for lists, which hold no ETag of their own. */
export async function actFresh(id, body) {
  const { etag } = await loadSite(id);
  return act(id, etag, body);
}

/** The site changed since it was read (412): the page reloads it rather than explain. */
export function isStale(error) {
  return error instanceof ApiError && error.status === 412;
}

/** A close-out refused for items not yet in place: their codes, or null. */
export function unmetItems(error) {
  return error instanceof ApiError && error.status === 409 && Array.isArray(error.body?.unmet_items)
    ? error.body.unmet_items : null;
}

/**
 * The server's refusals by their stable `code` (problem+json), said in the page's language from the facts
 * the problem carries. A refusal without a code is shown with the server's own detail.
 */
const REFUSALS = {
  own_work: () => t('refusal.ownWork'),
  not_your_move: (p) => (p.party === 'rectifier'
    ? t('refusal.rectifier', { action: tCode('action', p.action) })
    : t('refusal.role', { action: tCode('action', p.action), role: tCode('role', p.party) })),
  not_rectifier: () => t('refusal.evidenceRectifier'),
  wrong_status: (p) => t('refusal.status', { action: tCode('action', p.action), status: tCode('status', p.site_status) }),
  evidence_status: (p) => t('refusal.evidenceStatus', { status: tCode('status', p.site_status) }),
  extension_pending: () => t('refusal.extensionWaiting'),
  no_extension: () => t('refusal.noExtension'),
  reason_required: (p) => t('refusal.reason', { action: tCode('action', p.action) }),
  deadline_required: () => t('refusal.majorDeadline'),
  deadline_past: (p) => t('refusal.pastDeadline', { date: p.deadline }),
  deadline_not_later: (p) => t('refusal.laterDeadline', { date: p.deadline }),
  look_back_too_far: (p) => t('refusal.lookBackTooFar', { m: Math.round(p.distance_m), radius: p.radius_m }),
  look_back_on_site: () => t('refusal.lookBackOnSite'),
  site_too_far: (p) => t('refusal.siteTooFar', { m: Math.round(p.distance_m), radius: p.radius_m }),
  site_other_kind: (p) => t('refusal.siteOtherKind', { kind: tCode('kind', p.site_kind) }),
  site_not_open: (p) => t('refusal.siteNotOpen', { status: tCode('status', p.status) }),
  wrong_password: () => t('account.wrongPassword'),
};

/** A refusal or failure as a sentence for the user, in the page's language. */
export function explain(error) {
  if (!(error instanceof ApiError)) {
    return error instanceof TypeError ? t('common.networkError') : (error?.message || String(error));
  }
  const detail = error.detail || '';
  const say = REFUSALS[error.body?.code];
  if (say && !isEnglish()) return say(error.body);
  const lead = { 403: 'refusal.forbidden', 404: 'refusal.notFound', 409: 'refusal.conflict', 422: 'refusal.invalid' }[error.status];
  return lead ? t(lead, { detail }) : t('common.error', { detail });
}

// ---------------------------------------------------------------------------------------------------------
// Who may do what

/** The user's part on this site: dispatcher, rectifier (town or unit officer), reviewer, inspector. */
export function parts(user, props) {
  const org = user?.organisation?.id;
  const units = [props.responsible_unit_id, props.lead_unit_id, ...(props.supporting_unit_ids || [])].filter((u) => u != null);
  return {
    dispatcher: hasRole('dispatcher', user),
    // A town officer sees only their own town's sites (the server's scope), so seeing the site is enough.
    rectifier: hasRole('town_officer', user) || (hasRole('unit_officer', user) && units.includes(org)),
    reviewer: hasRole('reviewer', user),
    inspector: hasRole('inspector', user),
  };
}

/** The actions this user may take on the site in its current status, in the order the page offers them. */
export function allowedActions(user, props) {
  const p = parts(user, props);
  const s = props.status;
  const out = [];
  if (p.dispatcher && s === 'reported') out.push('verify', 'reject');
  if (p.dispatcher && s === 'verified') out.push('dispatch');
  if (p.dispatcher && ['reported', 'verified'].includes(s)) out.push('merge');
  if (p.rectifier && s === 'assigned') out.push('accept');
  if (p.rectifier && s === 'reopened') out.push('start');
  if (p.rectifier && s === 'in_progress') {
    out.push('request_close_out');
    if (!props.pending_extension) out.push('request_extension');
  }
  if (p.dispatcher && s === 'in_progress' && props.pending_extension) out.push('decide_extension');
  if (p.reviewer && s === 'pending_review') out.push('approve', 'return');
  // A look-back is recorded on site, from the inspection page: the site page links there.
  if (p.inspector && s === 'closed') out.push('look_back');
  if (p.dispatcher && openStatuses().includes(s)) out.push('supervise', 'cancel');
  return out;
}

/** May this user record evidence on the site now? */
export function mayRecordEvidence(user, props) {
  return props.status === 'in_progress' && parts(user, props).rectifier;
}

// ---------------------------------------------------------------------------------------------------------
// Dates

/** Today's date in China Standard Time (YYYY-MM-DD), where the deadlines are kept. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date());
}

export function addDays(isoDate, days) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Whole days from today to `deadline` (negative: overdue), or null without a deadline. */
export function daysLeft(deadline) {
  if (!deadline) return null;
  const ms = Date.parse(`${deadline.slice(0, 10)}T00:00:00Z`) - Date.parse(`${today()}T00:00:00Z`);
  return Math.round(ms / 86_400_000);
}

/** The deadline's days left as a small element: red when overdue, amber within three days. */
export function daysLeftBadge(props) {
  const days = daysLeft(props.deadline);
  if (days == null) return null;
  const closed = ['closed', 'cancelled', 'rejected', 'duplicate'].includes(props.status);
  if (closed) return null;
  if (days < 0 || props.overdue) {
    return h('span', { class: 'days days-overdue', dataset: { days: String(days) } }, t('days.overdue', { n: Math.max(1, -days) }));
  }
  if (days === 0) return h('span', { class: 'days days-soon', dataset: { days: '0' } }, t('days.today'));
  return h('span', { class: `days${days <= 3 ? ' days-soon' : ''}`, dataset: { days: String(days) } }, t('days.left', { n: days }));
}

export function defaultDeadline(level, mode) {
  const days = defaultDeadlineDays(level, mode);
  return days == null ? null : addDays(today(), days);
}

// ---------------------------------------------------------------------------------------------------------
// Small pieces shared by the pages

export function statusBadge(status) {
  return h('span', { class: 'badge', dataset: { status }, style: { background: STATUS_COLOUR[status] || '#555' } },
    tCode('status', status));
}

export function roadText(props) {
  const stake = props.stake && (props.end_stake ? `${props.stake} – ${props.end_stake}` : props.stake);
  // A road without a route code (most village roads) is known by its name.
  return [props.road_code || props.road_name, stake].filter(Boolean).join(' ');
}

export function siteHref(id) {
  return `/site.html?id=${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Dialogs. Each resolves with {feature, etag} after the move, with {error} when the page must handle the
// refusal itself (a stale ETag, unmet items), or null when cancelled. Other refusals stay in the dialog.

async function runInDialog(options, makeBody, perform) {
  return openDialog({
    ...options,
    onSubmit: async (form) => {
      const body = makeBody(form);
      if (!body) return false; // the form said what is missing
      try {
        return await perform(body);
      } catch (error) {
        if (isStale(error) || unmetItems(error)) return { error };
        throw new Error(explain(error));
      }
    },
  });
}

function field(label, control, hint = null) {
  return h('label', { class: 'field' }, h('span', {}, label), control, hint ? h('small', { class: 'hint' }, hint) : null);
}

function showProblem(form, text) {
  const error = form.querySelector('.dialog-error');
  error.textContent = text;
  error.hidden = false;
  return null;
}

/** A yes/no move with nothing to ask (verify, accept, start, request close-out, approve). */
export function confirmAction({ site, action, message, perform }) {
  return runInDialog({
    id: `dialog-${action}`,
    title: `${tCode('action', action)} · ${site.code}`,
    content: [h('p', {}, message)],
    submitLabel: tCode('action', action),
  }, () => ({ action }), perform);
}

/** A move that must say why (reject, return, cancel). */
export function reasonAction({ site, action, message, placeholder, danger = false, perform }) {
  const reason = h('textarea', { name: 'reason', id: 'action-reason', maxlength: 1000, rows: 4, placeholder: placeholder || '' });
  return runInDialog({
    id: `dialog-${action}`,
    title: `${tCode('action', action)} · ${site.code}`,
    content: [message ? h('p', {}, message) : null, field(t('dialog.reason'), reason)],
    submitLabel: tCode('action', action),
    danger,
  }, (form) => {
    const text = reason.value.trim();
    if (!text) return showProblem(form, t('dialog.reasonMissing'));
    return { action, reason: text };
  }, perform);
}

/**
 * Dispatch (派单): the responsible unit, the hazard level, the mode of rectification and the deadline,
 * prefilled with the default for the level and mode until the user sets one; optionally a lead unit and
 * supporting units.
 */
export function dispatchAction({ site, organisations, perform }) {
  const units = organisations.filter((o) => UNIT_KINDS.includes(o.kind))
    .sort((a, b) => UNIT_KINDS.indexOf(a.kind) - UNIT_KINDS.indexOf(b.kind) || a.name.localeCompare(b.name, 'zh-CN'));
  const grouped = (placeholder) => [h('option', { value: '' }, placeholder),
    UNIT_KINDS.filter((k) => units.some((u) => u.kind === k)).map((kind) => h('optgroup', { label: tCode('orgKind', kind) },
      units.filter((u) => u.kind === kind).map((u) => h('option', { value: String(u.id) }, u.name))))];

  const unit = h('select', { name: 'responsible_unit_id', id: 'dispatch-unit', required: true }, grouped(t('dispatch.chooseUnit')));
  const level = h('select', { name: 'hazard_level', id: 'dispatch-level' },
    settings().hazard_levels.map((l) => h('option', { value: l, selected: l === (site.hazard_level || 'general') }, tCode('level', l))));
  const mode = h('select', { name: 'rectification_mode', id: 'dispatch-mode' },
    settings().rectification_modes.map((m) => h('option', { value: m, selected: m === (site.rectification_mode || 'deadline') }, tCode('mode', m))));
  const deadline = h('input', { type: 'date', name: 'deadline', id: 'dispatch-deadline', min: today() });
  const deadlineHint = h('small', { class: 'hint', id: 'dispatch-deadline-hint' });
  const lead = h('select', { name: 'lead_unit_id', id: 'dispatch-lead' }, grouped(t('dispatch.noLead')));
  const supporting = h('div', { class: 'check-list', id: 'dispatch-supporting' }, units.map((u) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'supporting_unit_ids', value: String(u.id) }), h('span', {}, u.name))));

  let touched = false;
  const prefill = () => {
    const days = defaultDeadlineDays(level.value, mode.value);
    if (!touched) deadline.value = defaultDeadline(level.value, mode.value) || '';
    deadline.required = days == null;
    deadlineHint.textContent = days == null ? t('dispatch.majorHint') : t('dispatch.defaultHint', { n: days });
  };
  deadline.addEventListener('input', () => { touched = Boolean(deadline.value); });
  level.addEventListener('change', prefill);
  mode.addEventListener('change', prefill);
  prefill();

  return runInDialog({
    id: 'dialog-dispatch',
    title: `${tCode('action', 'dispatch')} · ${site.code}`,
    content: [
      field(t('dispatch.unit'), unit),
      h('div', { class: 'form-grid' }, field(t('dispatch.level'), level), field(t('dispatch.mode'), mode)),
      h('label', { class: 'field' }, h('span', {}, t('dispatch.deadline')), deadline, deadlineHint),
      h('details', { class: 'dialog-more' }, h('summary', {}, t('dispatch.more')),
        field(t('dispatch.lead'), lead),
        h('div', { class: 'field' }, h('span', {}, t('dispatch.supporting')), supporting)),
    ],
    submitLabel: tCode('action', 'dispatch'),
    wide: true,
  }, (form) => {
    if (!unit.value) return showProblem(form, t('dispatch.unitMissing'));
    if (!deadline.value && deadline.required) return showProblem(form, t('dispatch.majorHint'));
    if (deadline.value && deadline.value < today()) return showProblem(form, t('dispatch.pastDeadline'));
    const body = {
      action: 'dispatch',
      responsible_unit_id: Number(unit.value),
      hazard_level: level.value,
      rectification_mode: mode.value,
    };
    if (deadline.value) body.deadline = deadline.value;
    if (lead.value) body.lead_unit_id = Number(lead.value);
    const chosen = [...supporting.querySelectorAll('input:checked')].map((i) => Number(i.value))
      .filter((id) => id !== body.responsible_unit_id);
    if (chosen.length) body.supporting_unit_ids = chosen;
    return body;
  }, perform);
}

/** 申请延期: a later deadline and why. */
export function extensionAction({ site, perform }) {
  const current = site.deadline ? site.deadline.slice(0, 10) : null;
  const min = current && current >= today() ? addDays(current, 1) : today();
  const deadline = h('input', { type: 'date', name: 'deadline', id: 'extension-deadline', min, value: addDays(min, 14) });
  const reason = h('textarea', { name: 'reason', id: 'action-reason', maxlength: 1000, rows: 3, placeholder: t('extension.reasonPlaceholder') });
  return runInDialog({
    id: 'dialog-request_extension',
    title: `${tCode('action', 'request_extension')} · ${site.code}`,
    content: [
      h('p', {}, t('extension.current', { date: current || t('common.none') })),
      field(t('extension.newDeadline'), deadline),
      field(t('dialog.reason'), reason),
    ],
    submitLabel: tCode('action', 'request_extension'),
  }, (form) => {
    if (!deadline.value) return showProblem(form, t('extension.deadlineMissing'));
    if (current && deadline.value <= current) return showProblem(form, t('extension.notLater', { date: current }));
    if (!reason.value.trim()) return showProblem(form, t('dialog.reasonMissing'));
    return { action: 'request_extension', deadline: deadline.value, reason: reason.value.trim() };
  }, perform);
}

/** 审批延期: approve or deny the pending request, with an optional reason. */
export function decideExtensionAction({ site, approve = null, perform }) {
  const x = site.pending_extension || {};
  const choice = (value, label) => h('label', { class: 'radio-card' },
    h('input', { type: 'radio', name: 'approve', value, checked: approve === (value === 'yes') }), h('span', {}, label));
  const reason = h('textarea', { name: 'reason', id: 'action-reason', maxlength: 1000, rows: 3 });
  return runInDialog({
    id: 'dialog-decide_extension',
    title: `${tCode('action', 'decide_extension')} · ${site.code}`,
    content: [
      h('dl', { class: 'facts' },
        h('dt', {}, t('extension.currentShort')), h('dd', {}, site.deadline ? site.deadline.slice(0, 10) : t('common.none')),
        h('dt', {}, t('extension.asked')), h('dd', { class: 'strong' }, x.new_deadline || t('common.none')),
        h('dt', {}, t('dialog.reason')), h('dd', {}, x.reason || t('common.none'))),
      h('div', { class: 'radio-row' }, choice('yes', t('extension.approve')), choice('no', t('extension.deny'))),
      field(t('extension.decisionReason'), reason),
    ],
    submitLabel: t('extension.decide'),
  }, (form) => {
    const picked = form.querySelector('input[name="approve"]:checked');
    if (!picked) return showProblem(form, t('extension.chooseDecision'));
    const body = { action: 'decide_extension', approve: picked.value === 'yes' };
    if (reason.value.trim()) body.reason = reason.value.trim();
    else if (!body.approve) return showProblem(form, t('extension.denyReason'));
    return body;
  }, perform);
}

/** 挂牌督办: list the site for supervision (level, issuing body, document number, required date), or lift it. */
export function superviseAction({ site, perform }) {
  // The listing levels first, 'none' (lift the listing) last.
  const levels = settings().supervision_levels.filter((l) => l !== 'none').concat('none');
  const current = site.supervision_level && site.supervision_level !== 'none' ? site.supervision_level : 'county';
  const level = h('select', { name: 'supervision_level', id: 'supervise-level' },
    levels.map((l) => h('option', { value: l, selected: l === current }, l === 'none' ? t('supervise.lift') : tCode('supervision', l))));
  const body = h('input', { name: 'supervision_body', id: 'supervise-body', maxlength: 128, value: site.supervision_body || '', placeholder: t('supervise.bodyPlaceholder') });
  const docNo = h('input', { name: 'supervision_doc_no', id: 'supervise-doc-no', maxlength: 128, value: site.supervision_doc_no || '', placeholder: t('supervise.docNoPlaceholder') });
  const due = h('input', { type: 'date', name: 'supervision_due', id: 'supervise-due', value: site.supervision_due || '' });
  const listed = h('div', { id: 'supervise-details' },
    field(t('supervise.body'), body), h('div', { class: 'form-grid' }, field(t('supervise.docNo'), docNo), field(t('supervise.due'), due)));
  const sync = () => { listed.hidden = level.value === 'none'; };
  level.addEventListener('change', sync);
  sync();
  return runInDialog({
    id: 'dialog-supervise',
    title: `${tCode('action', 'supervise')} · ${site.code}`,
    content: [h('p', {}, t('supervise.explain')), field(t('supervise.level'), level), listed],
    submitLabel: tCode('action', 'supervise'),
    wide: true,
  }, (form) => {
    if (level.value === 'none') return { action: 'supervise', supervision_level: 'none' };
    if (!body.value.trim() || !docNo.value.trim()) return showProblem(form, t('supervise.missing'));
    const out = { action: 'supervise', supervision_level: level.value, supervision_body: body.value.trim(), supervision_doc_no: docNo.value.trim() };
    if (due.value) out.supervision_due = due.value;
    return out;
  }, perform);
}

/** 合并重复: pick the surviving site among open sites of the same kind nearby. */
export function mergeAction({ site, candidates, perform }) {
  const select = h('select', { name: 'into', id: 'merge-into' },
    h('option', { value: '' }, candidates.length ? t('merge.choose') : t('merge.none')),
    candidates.map((c) => h('option', { value: c.id },
      `${c.code} · ${tCode('status', c.status)} · ${t('merge.distance', { m: Math.round(c.distance_m) })}${c.road ? ` · ${c.road}` : ''}`)));
  return runInDialog({
    id: 'dialog-merge',
    title: `${tCode('action', 'merge')} · ${site.code}`,
    content: [h('p', {}, t('merge.explain')), field(t('merge.into'), select)],
    submitLabel: tCode('action', 'merge'),
  }, (form) => {
    if (!select.value) return showProblem(form, t('merge.missing'));
    return { action: 'merge', into: select.value };
  }, perform);
}
