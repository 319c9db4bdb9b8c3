// Accounts, for admins: the list of users (organisation, roles, status, last sign-in), a dialog to create one,
// disable / enable, and a password reset (which signs that user out everywhere). The server allows all of
// this to the `admin` role only and redirects anyone else away from this page; the page trusts it.
//
// The same rules as the server's are checked here first so that a mistake is explained before a round trip:
// name `^[a-z0-9][a-z0-9._-]{1,31}$` (app_user_name_format), display name 1–64 characters, at least one role,
// a password of at least 10 characters. Whatever the server still refuses (a name taken: 409) is shown with
// its own detail.
//
// A second tab, 区镇与道路 (`#places`), lists the county's towns and roads and imports them from its files:
// see places.js.

import { apiJson, apiFetch, readResponse, h, fill, debounce, createFlash } from './common.js';
import { t, tCode, onLangChange, formatDateTime } from './i18n.js';
import { ROLES, roleLabels } from './header.js';
import { boot } from './boot.js';
import { mountTokens } from './tokens.js';
import { mountOpen311Clients } from './open311-clients.js';
import { openDialog, confirmDialog } from './dialog.js';
import { mountPlaces, loadPlaces, renderPlaces } from './places.js';

const NAME = /^[a-z0-9][a-z0-9._-]{1,31}$/;
const DISPLAY_NAME_CHARS_MAX = 64;
const PASSWORD_CHARS_MIN = 10;
/** Generated passwords: no 0/O, 1/l/I, so that they can be read out over the phone. */
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GENERATED_PASSWORD_CHARS = 14;

const state = {
  me: null,
  users: null,
  loadError: null,
  organisations: [],
  filter: '',
  createError: null,
  creating: false,
  highlight: null, // id of the user just created
  tab: 'users', // 'users' | 'places'
};

const TABS = ['users', 'places'];

const $ = (id) => document.getElementById(id);

window.roadledger = { reloadUsers: () => loadUsers(), tab: (id) => selectTab(id) };

boot({
  page: 'admin',
  main,
  onError: (message) => fill($('user-list'), h('p', { class: 'error' }, message)),
});

async function main({ user }) {
  state.me = user;
  onLangChange(renderAll);

  $('user-search').addEventListener('input', debounce((e) => {
    state.filter = e.target.value.trim().toLowerCase();
    renderUsers();
  }, 120));
  $('open-create').addEventListener('click', openCreate);
  $('create-cancel').addEventListener('click', () => $('create-dialog').close());
  $('create-form').addEventListener('submit', (e) => {
    e.preventDefault();
    createUser();
  });
  $('new-password-generate').addEventListener('click', () => {
    $('new-password').value = generatePassword();
    $('new-password').type = 'text';
  });
  $('new-name').addEventListener('input', (e) => { e.target.value = e.target.value.toLowerCase(); });

  mountPlaces();
  for (const button of document.querySelectorAll('#admin-tabs [role="tab"]')) {
    button.addEventListener('click', () => selectTab(button.dataset.tab));
    button.addEventListener('keydown', (e) => {
      const i = TABS.indexOf(button.dataset.tab);
      if (e.key === 'ArrowRight') selectTab(TABS[(i + 1) % TABS.length], { focus: true });
      if (e.key === 'ArrowLeft') selectTab(TABS[(i + TABS.length - 1) % TABS.length], { focus: true });
    });
  }
  window.addEventListener('hashchange', () => selectTab(location.hash.slice(1) || 'users', { fromHash: true }));
  state.tab = TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'users';

  renderAll();
  const places = state.tab === 'places' ? loadPlaces() : null;
  const tokens = mountTokens($('tokens'));
  const open311 = mountOpen311Clients($('open311-clients'));
  const [organisations] = await Promise.all([
    apiJson('/api/v1/organisations'),
    loadUsers(),
    tokens,
    open311,
    places,
  ]);
  state.organisations = organisations;
  renderOrganisations();
  document.body.dataset.state = 'ready';
}

async function loadUsers() {
  try {
    state.users = await apiJson('/api/v1/users');
    state.loadError = null;
  } catch (error) {
    state.loadError = error.detail || error.message;
  }
  renderUsers();
}

function renderAll() {
  renderTabs();
  renderUsers();
  renderRoleChecks();
  renderOrganisations();
  renderCreate();
  renderPlaces();
  flashLine.render();
}

// ---------------------------------------------------------------------------------------------------------
// The tabs: 用户与令牌 and 区镇与道路 (#places), the second loading its lists when first opened.

function selectTab(id, { fromHash = false, focus = false } = {}) {
  if (!TABS.includes(id)) return;
  state.tab = id;
  if (!fromHash) history.replaceState(null, '', id === 'users' ? location.pathname + location.search : `#${id}`);
  renderTabs();
  if (id === 'places') loadPlaces();
  if (focus) $(`tab-${id}`).focus();
}

function renderTabs() {
  const title = state.tab === 'places' ? t('places.title') : t('admin.title');
  document.title = `${title} · RoadLedger`;
  $('page-title').textContent = title;
  $('open-create').hidden = state.tab !== 'users';
  for (const id of TABS) {
    const selected = id === state.tab;
    const tab = $(`tab-${id}`);
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`panel-${id}`).hidden = !selected;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The list

function matches(user) {
  if (!state.filter) return true;
  return [user.name, user.display_name, user.organisation?.name]
    .some((text) => (text || '').toLowerCase().includes(state.filter));
}

function renderUsers() {
  const container = $('user-list');
  if (state.loadError) {
    fill(container, h('p', { class: 'error' }, t('common.error', { detail: state.loadError })));
    return;
  }
  if (!state.users) {
    fill(container, h('p', { class: 'muted' }, t('common.loading')));
    return;
  }
  const shown = state.users.filter(matches);
  const disabled = state.users.filter((u) => u.disabled).length;
  $('user-count').textContent = disabled
    ? t('admin.countWithDisabled', { n: state.users.length, d: disabled })
    : t('admin.count', { n: state.users.length });
  if (!shown.length) {
    fill(container, h('p', { class: 'muted', id: 'user-empty' }, state.users.length ? t('admin.noMatch') : t('admin.noUsers')));
    return;
  }
  fill(container, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'user-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('admin.name')), h('th', {}, t('admin.displayName')), h('th', {}, t('admin.organisation')),
      h('th', {}, t('admin.roles')), h('th', {}, t('admin.status')), h('th', {}, t('admin.lastLogin')),
      h('th', { class: 'actions' }, h('span', { class: 'visually-hidden' }, t('admin.actions'))))),
    h('tbody', {}, shown.map(userRow)))));
}

function userRow(user) {
  const isMe = user.id === state.me?.id;
  return h('tr', {
    dataset: { id: user.id, name: user.name, state: user.disabled ? 'disabled' : 'active' },
    class: [user.disabled ? 'is-disabled' : '', user.id === state.highlight ? 'is-new' : ''].join(' ').trim() || null,
  },
  h('td', { class: 'mono' }, user.name, isMe ? h('span', { class: 'tag' }, t('admin.you')) : null),
  h('td', { class: 'user-display-name' }, user.display_name),
  h('td', { class: 'user-org' }, user.organisation?.name || t('common.none')),
  h('td', {}, h('div', { class: 'chips' }, roleLabels(user.roles).map((label, i) => h('span', {
    class: 'chip chip-small', dataset: { role: sortedRoles(user.roles)[i] },
  }, label)))),
  h('td', { class: 'user-status' }, user.disabled
    ? h('span', { class: 'status-pill status-off' }, t('admin.disabled'))
    : h('span', { class: 'status-pill status-on' }, t('admin.active'))),
  h('td', { class: 'nowrap' }, user.last_login_at ? formatDateTime(user.last_login_at) : h('span', { class: 'muted' }, t('admin.never'))),
  h('td', { class: 'actions' },
    user.disabled
      ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'enable' }, onclick: () => setDisabled(user, false) }, t('admin.enable'))
      : h('button', {
        type: 'button', class: 'btn btn-small btn-danger-outline', dataset: { action: 'disable' }, disabled: isMe,
        title: isMe ? t('admin.cannotDisableSelf') : null, onclick: () => setDisabled(user, true),
      }, t('admin.disable')),
    h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'password' }, onclick: () => resetPassword(user) }, t('admin.resetPassword')),
    // A detection system cannot sign in to make its own token: the admin makes it here.
    isDetector(user) ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'detector-token' }, onclick: () => detectorToken(user) }, t('admin.detectorToken')) : null));
}

function isDetector(user) {
  return user.roles.length > 0 && user.roles.every((r) => r === 'detector');
}

/** A new API token for a detection system's account, shown once. */
async function detectorToken(user) {
  const name = h('input', { id: 'detector-token-name', name: 'name', maxlength: 64, value: t('admin.detectorTokenName') });
  const token = await openDialog({
    id: 'detector-token-dialog',
    title: t('admin.detectorTokenTitle', { name: user.display_name }),
    content: [h('p', {}, t('admin.detectorTokenExplain')),
      h('label', { class: 'field' }, h('span', {}, t('admin.detectorTokenLabel')), name)],
    submitLabel: t('admin.detectorToken'),
    onSubmit: async () => apiJson(`/api/v1/users/${encodeURIComponent(user.id)}/tokens`, {
      method: 'POST', json: { name: name.value.trim() },
    }),
  });
  if (!token) return;
  await openDialog({
    id: 'detector-token-shown',
    title: t('admin.detectorTokenTitle', { name: user.display_name }),
    content: [h('p', {}, t('admin.detectorTokenOnce')), h('code', { class: 'token-secret', id: 'detector-token-secret' }, token.token)],
    submitLabel: t('common.ok'),
    onSubmit: () => true,
  });
}

/** Role codes in display order, matching roleLabels(). */
function sortedRoles(roles) {
  return ROLES.filter((r) => roles.includes(r)).concat(roles.filter((r) => !ROLES.includes(r)));
}

function replaceUser(updated) {
  state.users = state.users.map((u) => (u.id === updated.id ? updated : u));
  renderUsers();
}

async function setDisabled(user, disable) {
  if (disable) {
    const ok = await confirmDialog({
      title: t('admin.disableTitle'),
      message: t('admin.disableConfirm', { name: user.display_name, login: user.name }),
      confirmLabel: t('admin.disable'),
      danger: true,
      id: 'disable-dialog',
    });
    if (!ok) return;
  }
  try {
    const updated = await apiJson(`/api/v1/users/${encodeURIComponent(user.id)}/${disable ? 'disable' : 'enable'}`, { method: 'POST' });
    replaceUser(updated);
    flash('ok', () => t(disable ? 'admin.disabledOk' : 'admin.enabledOk', { name: user.display_name }));
  } catch (error) {
    flash('error', () => t('common.error', { detail: error.detail || error.message }));
  }
}

async function resetPassword(user) {
  const input = h('input', {
    id: 'reset-password', name: 'password', type: 'text', maxlength: 256, autocomplete: 'new-password', spellcheck: 'false',
  });
  const done = await openDialog({
    id: 'password-dialog',
    title: t('admin.resetTitle', { name: user.display_name }),
    content: [
      h('p', {}, t('admin.resetExplain', { login: user.name })),
      h('div', { class: 'field' },
        h('label', { for: 'reset-password' }, h('span', {}, t('admin.newPassword'))),
        h('div', { class: 'password-field' }, input,
          h('button', { type: 'button', class: 'password-toggle', onclick: () => { input.value = generatePassword(); input.focus(); } }, t('admin.generate'))),
        h('small', { class: 'hint' }, t('admin.passwordHint'))),
    ],
    submitLabel: t('admin.resetSubmit'),
    onSubmit: async () => {
      const password = input.value;
      if ([...password].length < PASSWORD_CHARS_MIN) throw new Error(t('admin.passwordShort', { n: PASSWORD_CHARS_MIN }));
      await readResponse(await apiFetch(`/api/v1/users/${encodeURIComponent(user.id)}/password`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }),
      }));
      return true;
    },
  });
  if (done) flash('ok', () => t('admin.resetOk', { name: user.display_name }));
}

// ---------------------------------------------------------------------------------------------------------
// The form

function renderRoleChecks() {
  const container = $('new-roles');
  const checked = new Set([...container.querySelectorAll('input:checked')].map((i) => i.value));
  fill(container, ROLES.map((role) => h('label', { class: 'role-check' },
    h('input', { type: 'checkbox', name: 'roles', value: role, checked: checked.has(role) }),
    h('span', {},
      h('span', { class: 'role-name' }, tCode('role', role)),
      h('span', { class: 'role-hint' }, t(`roleHint.${role}`))))));
}

function renderOrganisations() {
  const select = $('new-organisation');
  const chosen = select.value;
  const byKind = new Map();
  for (const org of state.organisations) {
    if (!byKind.has(org.kind)) byKind.set(org.kind, []);
    byKind.get(org.kind).push(org);
  }
  fill(select,
    h('option', { value: '' }, state.organisations.length ? t('admin.chooseOrganisation') : t('common.loading')),
    [...byKind].map(([kind, orgs]) => h('optgroup', { label: tCode('orgKind', kind) },
      orgs.map((org) => h('option', { value: String(org.id) }, org.name)))));
  select.value = chosen;
}

function renderCreate() {
  const error = $('create-error');
  error.hidden = !state.createError;
  error.textContent = state.createError || '';
  $('create-submit').disabled = state.creating;
  $('create-submit').textContent = state.creating ? t('admin.creating') : t('admin.create');
}

function openCreate() {
  state.createError = null;
  renderCreate();
  $('create-dialog').showModal();
  $('new-name').focus();
}

function formProblems(input) {
  const problems = [];
  if (!NAME.test(input.name)) problems.push(t('admin.badName'));
  const displayChars = [...input.display_name].length;
  if (displayChars < 1 || displayChars > DISPLAY_NAME_CHARS_MAX) problems.push(t('admin.badDisplayName', { n: DISPLAY_NAME_CHARS_MAX }));
  if (!input.organisation_id) problems.push(t('admin.noOrganisation'));
  if (!input.roles.length) problems.push(t('admin.noRoles'));
  if ([...input.password].length < PASSWORD_CHARS_MIN) problems.push(t('admin.passwordShort', { n: PASSWORD_CHARS_MIN }));
  return problems;
}

async function createUser() {
  if (state.creating) return;
  const input = {
    name: $('new-name').value.trim().toLowerCase(),
    display_name: $('new-display-name').value.trim(),
    organisation_id: Number($('new-organisation').value) || null,
    roles: [...document.querySelectorAll('#new-roles input:checked')].map((i) => i.value),
    password: $('new-password').value,
  };
  const problems = formProblems(input);
  if (problems.length) {
    state.createError = problems.join('；');
    renderCreate();
    return;
  }
  state.creating = true;
  state.createError = null;
  renderCreate();
  try {
    const created = await apiJson('/api/v1/users', { method: 'POST', json: input });
    state.highlight = created.id;
    $('create-dialog').close();
    $('create-form').reset();
    $('new-password').type = 'password';
    renderRoleChecks();
    flash('ok', () => t('admin.createdOk', { name: created.display_name, login: created.name }));
    await loadUsers();
  } catch (error) {
    state.createError = error.detail || error.message;
  } finally {
    state.creating = false;
    renderCreate();
  }
}

function generatePassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(GENERATED_PASSWORD_CHARS * 2));
  let out = '';
  // Rejection sampling: only bytes below the largest multiple of the alphabet's size, so no letter is likelier.
  const limit = 256 - (256 % PASSWORD_ALPHABET.length);
  for (const b of bytes) {
    if (b < limit) out += PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length];
    if (out.length === GENERATED_PASSWORD_CHARS) break;
  }
  return out.length === GENERATED_PASSWORD_CHARS ? out : generatePassword();
}

// ---------------------------------------------------------------------------------------------------------

const flashLine = createFlash('admin-flash');
const flash = (kind, text) => flashLine.show(kind, text);
