// "My account": who I am (name, organisation, roles) and my personal API tokens. Open to every signed-in
// user, unlike the admin page.

import { session, h, fill } from './common.js';
import { t, tCode, applyStatic, mountLangSwitch, onLangChange } from './i18n.js';
import { mountHeader, roleLabels } from './header.js';
import { mountTokens } from './tokens.js';

const $ = (id) => document.getElementById(id);

main().catch((error) => {
  console.error(error);
  document.body.dataset.state = 'error';
  fill($('account-facts'), h('p', { class: 'error' }, t('common.error', { detail: error.detail || error.message })));
});

async function main() {
  applyStatic();
  mountLangSwitch($('lang-switch'));
  const { user } = await session();
  mountHeader(user, 'account');
  const render = () => {
    document.title = `${t('account.title')} · RoadLedger`;
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
  await mountTokens($('tokens'));
  document.body.dataset.state = 'ready';
}
