// "My account": who I am (name, organisation, roles), my password and my personal API tokens. Open to every
// signed-in user, unlike the admin page.

import { h, fill, apiJson } from './common.js';
import { explain } from './lifecycle.js';
import { t, tCode, onLangChange } from './i18n.js';
import { roleLabels } from './header.js';
import { boot } from './boot.js';
import { mountTokens } from './tokens.js';

const $ = (id) => document.getElementById(id);

boot({
  page: 'account',
  title: 'account.title',
  main,
  onError: (message) => fill($('account-facts'), h('p', { class: 'error' }, message)),
});

async function main({ user }) {
  const render = () => {
    const org = user.organisation;
    fill($('account-facts'),
      h('dt', {}, t('account.displayName')), h('dd', { id: 'account-display-name' }, user.display_name),
      h('dt', {}, t('account.name')), h('dd', { class: 'mono' }, user.name),
      h('dt', {}, t('account.organisation')),
      h('dd', {}, org ? [org.name, ' ', h('span', { class: 'muted' }, `（${tCode('orgKind', org.kind)}）`)] : t('common.none')),
      h('dt', {}, t('account.roles')), h('dd', { id: 'account-roles' }, roleLabels(user.roles).join('、')));
  };
  onLangChange(render);
  render();
  $('password-username').value = user.name; // for password managers
  $('password-form').addEventListener('submit', (e) => {
    e.preventDefault();
    changePassword(user);
  });
  await mountTokens($('tokens'));
  document.body.dataset.state = 'ready';
}

/** Minimum password length: the server's rule (domain::auth::PASSWORD_CHARS_MIN), checked here first. */
const PASSWORD_CHARS_MIN = 10;

async function changePassword(user) {
  const status = $('password-status');
  const say = (kind, text) => {
    status.textContent = text;
    status.className = kind === 'ok' ? 'small ok-text' : 'small error';
    status.dataset.state = kind;
  };
  const current = $('current-password').value;
  const next = $('new-password').value;
  if (!current) return say('error', t('account.currentMissing'));
  if ([...next].length < PASSWORD_CHARS_MIN) return say('error', t('admin.passwordShort', { n: PASSWORD_CHARS_MIN }));
  if (next.toLowerCase() === user.name.toLowerCase()) return say('error', t('account.passwordIsName'));
  if (next !== $('confirm-password').value) return say('error', t('account.passwordMismatch'));
  $('password-submit').disabled = true;
  try {
    await apiJson('/api/v1/session/password', { method: 'POST', json: { current_password: current, new_password: next } });
    $('password-form').reset();
    $('password-username').value = user.name;
    say('ok', t('account.passwordChanged'));
  } catch (error) {
    say('error', explain(error));
  } finally {
    $('password-submit').disabled = false;
  }
}
