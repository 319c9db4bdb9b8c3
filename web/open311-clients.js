// Open311 client systems (admins): the civic platforms and apps that post requests over Open311 GeoReport v2
// (/open311/v2/). An admin issues one key per system; the key is shown here once, right after it is issued
// (the server keeps only its SHA-256), and can be revoked at once. The list shows each key's first characters
// and when it was last used.

import { apiJson, h, fill } from './common.js';
import { t, onLangChange, formatDateTime } from './i18n.js';
import { confirmDialog } from './dialog.js';

const NAME_CHARS_MAX = 64;

/** Fills `root` with the client list, the form that issues a key, and the key just issued. */
export function mountOpen311Clients(root) {
  const state = { clients: null, error: null, issued: null, busy: false };
  const name = h('input', { id: 'open311-name', name: 'name', maxlength: NAME_CHARS_MAX, autocomplete: 'off', required: true });
  const issue = h('button', { type: 'submit', class: 'btn btn-primary', id: 'open311-issue' });
  const form = h('form', { class: 'token-form', id: 'open311-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); create(); } },
    h('label', { class: 'field' }, h('span', { id: 'open311-name-label' }), name), issue);
  const intro = h('p', { class: 'muted small', id: 'open311-intro' });
  const error = h('p', { class: 'form-error', role: 'alert', id: 'open311-error', hidden: true });
  const issued = h('div', { id: 'open311-issued', hidden: true });
  const list = h('div', { id: 'open311-list' });
  fill(root, intro, form, error, issued, list);

  async function load() {
    try {
      state.clients = await apiJson('/api/v1/open311-clients');
    } catch (e) {
      state.error = e.detail || e.message;
    }
    render();
  }

  async function create() {
    const value = name.value.trim();
    if (!value) {
      state.error = t('open311.nameMissing');
      render();
      name.focus();
      return;
    }
    state.busy = true;
    state.error = null;
    render();
    try {
      state.issued = await apiJson('/api/v1/open311-clients', { method: 'POST', json: { name: value } });
      name.value = '';
      await load();
    } catch (e) {
      state.error = e.detail || e.message;
    } finally {
      state.busy = false;
      render();
    }
  }

  async function revoke(client) {
    const ok = await confirmDialog({
      title: t('open311.revokeTitle'),
      message: t('open311.revokeConfirm', { name: client.name, prefix: client.key_prefix }),
      confirmLabel: t('open311.revoke'),
      danger: true,
      id: 'open311-revoke-dialog',
    });
    if (!ok) return;
    try {
      await apiJson(`/api/v1/open311-clients/${encodeURIComponent(client.id)}/revoke`, { method: 'POST' });
      if (state.issued?.id === client.id) state.issued = null;
    } catch (e) {
      state.error = e.detail || e.message;
    }
    await load();
  }

  function row(client) {
    const status = client.revoked_at
      ? h('span', { class: 'status-pill status-off', title: formatDateTime(client.revoked_at) }, t('open311.revoked'))
      : h('span', { class: 'status-pill status-on' }, t('open311.active'));
    return h('tr', { dataset: { id: client.id, state: client.revoked_at ? 'revoked' : 'active' } },
      h('td', {}, client.name),
      h('td', {}, h('code', {}, `${client.key_prefix}…`)),
      h('td', {}, formatDateTime(client.created_at)),
      h('td', {}, client.last_used_at ? formatDateTime(client.last_used_at) : h('span', { class: 'muted' }, t('open311.neverUsed'))),
      h('td', {}, status),
      h('td', { class: 'actions' }, client.revoked_at ? null
        : h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', onclick: () => revoke(client) }, t('open311.revoke'))));
  }

  function render() {
    intro.textContent = t('open311.intro');
    root.querySelector('#open311-name-label').textContent = t('open311.name');
    name.placeholder = t('open311.namePlaceholder');
    issue.textContent = t('open311.issue');
    issue.disabled = state.busy;
    error.hidden = !state.error;
    error.textContent = state.error || '';
    issued.hidden = !state.issued;
    // Once dismissed, the key leaves the page altogether.
    if (!state.issued) issued.replaceChildren();
    else {
      fill(issued, h('div', { class: 'token-once', role: 'status' },
        h('strong', {}, t('open311.issuedTitle', { name: state.issued.name })),
        h('p', { class: 'token-warning' }, t('open311.onceWarning')),
        h('input', { class: 'token-value mono', id: 'open311-key', readonly: true, value: state.issued.key, onfocus: (e) => e.target.select() }),
        h('button', { type: 'button', class: 'btn btn-small', id: 'open311-dismiss', onclick: () => { state.issued = null; render(); } },
          t('open311.dismiss'))));
    }
    if (!state.clients) {
      fill(list, h('p', { class: 'muted' }, t('common.loading')));
    } else if (!state.clients.length) {
      fill(list, h('p', { class: 'muted', id: 'open311-empty' }, t('open311.empty')));
    } else {
      fill(list, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'open311-table' },
        h('thead', {}, h('tr', {},
          ['name', 'prefix', 'createdAt', 'lastUsed', 'status'].map((k) => h('th', {}, t(`open311.${k}`))),
          h('th', { class: 'actions' }, ''))),
        h('tbody', {}, state.clients.map(row)))));
    }
  }

  onLangChange(render);
  render();
  return load();
}
