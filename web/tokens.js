// "My API tokens": personal tokens for the phone page and for scripts. A new token is shown once, right after
// it is made (the server keeps only its hash), with a copy button and a warning; afterwards the list shows
// its first characters only. Used on the admin page and the account page.

import { apiJson, apiFetch, readResponse, h, fill } from './common.js';
import { t, onLangChange, formatDateTime } from './i18n.js';
import { confirmDialog } from './dialog.js';

/** Fills `root` with the token list and the form to make one. */
export function mountTokens(root) {
  const state = { tokens: null, loadError: null, created: null, formError: null, busy: false, copied: false };

  const nameInput = h('input', {
    id: 'token-name', name: 'name', maxlength: 64, autocomplete: 'off', required: true, placeholder: t('tokens.namePlaceholder'),
  });
  const createButton = h('button', { type: 'submit', class: 'btn btn-primary', id: 'token-create' }, t('tokens.create'));
  const form = h('form', { class: 'token-form', id: 'token-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); create(); } },
    h('label', { class: 'field' }, h('span', { id: 'token-name-label' }, t('tokens.name')), nameInput),
    createButton);
  const formError = h('p', { class: 'form-error', role: 'alert', id: 'token-form-error', hidden: true });
  const created = h('div', { id: 'token-created', hidden: true });
  const list = h('div', { id: 'token-list' });
  fill(root,
    h('p', { class: 'muted small', id: 'tokens-intro' }, t('tokens.intro')),
    form, formError, created, list);

  async function load() {
    try {
      state.tokens = await apiJson('/api/v1/tokens');
      state.loadError = null;
    } catch (error) {
      state.loadError = error.detail || error.message;
    }
    render();
  }

  async function create() {
    const name = nameInput.value.trim();
    if (!name) {
      state.formError = t('tokens.nameMissing');
      render();
      nameInput.focus();
      return;
    }
    state.busy = true;
    state.formError = null;
    render();
    try {
      state.created = await apiJson('/api/v1/tokens', { method: 'POST', json: { name } });
      state.copied = false;
      nameInput.value = '';
      await load();
    } catch (error) {
      state.formError = error.detail || error.message;
    } finally {
      state.busy = false;
      render();
    }
  }

  async function revoke(token) {
    const ok = await confirmDialog({
      title: t('tokens.revokeTitle'),
      message: t('tokens.revokeConfirm', { name: token.name, prefix: token.prefix }),
      confirmLabel: t('tokens.revoke'),
      danger: true,
      id: 'token-revoke-dialog',
    });
    if (!ok) return;
    try {
      await readResponse(await apiFetch(`/api/v1/tokens/${encodeURIComponent(token.id)}`, { method: 'DELETE' }));
      if (state.created?.id === token.id) state.created = null;
    } catch (error) {
      state.formError = error.detail || error.message;
    }
    await load();
  }

  async function copy(text, input) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API (plain HTTP on a LAN address): select the text and use the old command.
      input.select();
      document.execCommand('copy');
    }
    state.copied = true;
    render();
  }

  function render() {
    root.querySelector('#tokens-intro').textContent = t('tokens.intro');
    root.querySelector('#token-name-label').textContent = t('tokens.name');
    nameInput.placeholder = t('tokens.namePlaceholder');
    createButton.textContent = t('tokens.create');
    createButton.disabled = state.busy;
    formError.hidden = !state.formError;
    formError.textContent = state.formError || '';

    created.hidden = !state.created;
    // Once dismissed, the token leaves the page altogether.
    if (!state.created) created.replaceChildren();
    if (state.created) {
      const value = h('input', {
        class: 'token-value mono', id: 'token-value', readonly: true, value: state.created.token, 'aria-label': t('tokens.newToken'),
        onfocus: (e) => e.target.select(),
      });
      fill(created, h('div', { class: 'token-once', role: 'status' },
        h('strong', {}, t('tokens.createdTitle', { name: state.created.name })),
        h('p', { class: 'token-warning' }, t('tokens.onceWarning')),
        h('div', { class: 'token-copy-row' },
          value,
          h('button', { type: 'button', class: 'btn', id: 'token-copy', onclick: () => copy(state.created.token, value) },
            state.copied ? t('tokens.copied') : t('tokens.copy'))),
        h('button', { type: 'button', class: 'btn btn-small', id: 'token-dismiss', onclick: () => { state.created = null; render(); } },
          t('tokens.dismiss'))));
    }

    if (state.loadError) {
      fill(list, h('p', { class: 'error' }, t('common.error', { detail: state.loadError })));
    } else if (!state.tokens) {
      fill(list, h('p', { class: 'muted' }, t('common.loading')));
    } else if (!state.tokens.length) {
      fill(list, h('p', { class: 'muted', id: 'token-empty' }, t('tokens.empty')));
    } else {
      fill(list, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'token-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('tokens.name')), h('th', {}, t('tokens.prefix')), h('th', {}, t('tokens.createdAt')),
          h('th', {}, t('tokens.lastUsed')), h('th', {}, t('tokens.expiresAt')), h('th', {}, t('tokens.status')),
          h('th', { class: 'actions' }, ''))),
        h('tbody', {}, state.tokens.map((tok) => h('tr', { dataset: { id: tok.id, state: tok.revoked_at ? 'revoked' : 'active' } },
          h('td', {}, tok.name),
          h('td', {}, h('code', { class: 'token-prefix' }, `${tok.prefix}…`)),
          h('td', {}, formatDateTime(tok.created_at)),
          h('td', {}, tok.last_used_at ? formatDateTime(tok.last_used_at) : h('span', { class: 'muted' }, t('tokens.neverUsed'))),
          // A token may be made with an end (`expires_at`, see POST /api/v1/tokens); past it the server refuses it.
          h('td', {}, tok.expires_at ? formatDateTime(tok.expires_at) : h('span', { class: 'muted' }, t('tokens.noExpiry'))),
          h('td', {}, tok.revoked_at
            ? h('span', { class: 'status-pill status-off', title: formatDateTime(tok.revoked_at) }, t('tokens.revoked'))
            : tok.expires_at && new Date(tok.expires_at) <= new Date()
              ? h('span', { class: 'status-pill status-off' }, t('tokens.expired'))
              : h('span', { class: 'status-pill status-on' }, t('tokens.active'))),
          h('td', { class: 'actions' }, tok.revoked_at ? null
            : h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', onclick: () => revoke(tok) }, t('tokens.revoke')))))))));
    }
  }

  onLangChange(render);
  render();
  return load();
}
