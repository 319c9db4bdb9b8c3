// The top bar shared by the signed-in pages: links to the pages this user may use, who is signed in (name,
// organisation, roles) and signing out. Each page's HTML holds the bar's frame (brand, an empty
// <nav id="topnav">, an empty <div id="usermenu">, the language switch) so that it paints at once; this fills
// in the parts that depend on the user.

import { h, fill, hasRole, signOut } from './common.js';
import { t, tCode, onLangChange } from './i18n.js';
import { confirmDialog } from './dialog.js';
import * as outbox from './outbox.js';

/**
 * The pages, in the order of the bar. `admin` marks a page only admins can open (the server enforces it);
 * `roles` a page listed only for those roles (anyone may open it, but it has nothing for the others).
 */
const PAGES = [
  { id: 'map', href: '/', key: 'nav.map' },
  { id: 'work', href: '/work.html', key: 'nav.work', roles: ['dispatcher', 'town_officer', 'unit_officer', 'reviewer'] },
  { id: 'candidates', href: '/candidates.html', key: 'nav.candidates', roles: ['dispatcher', 'reviewer', 'leader', 'admin', 'town_officer'] },
  { id: 'public-reports', href: '/public-reports.html', key: 'nav.publicReports', roles: ['dispatcher', 'hotline', 'reviewer', 'leader', 'admin'] },
  { id: 'reports', href: '/reports.html', key: 'nav.reports' },
  { id: 'crashes', href: '/crashes.html', key: 'nav.crashes', roles: ['dispatcher', 'reviewer', 'leader', 'admin'] },
  { id: 'hotline', href: '/hotline.html', key: 'nav.hotline', roles: ['hotline', 'dispatcher'] },
  { id: 'inspect', href: '/inspect.html', key: 'nav.inspect' },
  { id: 'admin', href: '/admin.html', key: 'nav.admin', admin: true },
];

/** Role codes in the order they are listed (DOMAIN.md §6). */
export const ROLES = ['inspector', 'town_officer', 'unit_officer', 'dispatcher', 'reviewer', 'leader', 'admin', 'detector', 'hotline'];

/** The user's roles as labels in the current language, in the order of ROLES. */
export function roleLabels(roles = []) {
  return ROLES.filter((r) => roles.includes(r)).concat(roles.filter((r) => !ROLES.includes(r)))
    .map((r) => tCode('role', r));
}

/**
 * Fills the top bar for `user` on the page `pageId` ('map', 'work', 'inspect', 'admin', 'account').
 * Returns a function that renders it again (the language switch calls it by itself).
 */
export function mountHeader(user, pageId) {
  const nav = document.getElementById('topnav');
  const slot = document.getElementById('usermenu');
  const render = () => {
    // A hotline operator's account opens its own page only (the server sends it there from any other).
    const hotlineOnly = (user.roles || []).length > 0 && user.roles.every((r) => r === 'hotline');
    const links = PAGES.filter((p) => (!p.admin || hasRole('admin', user))
      && (!p.roles || p.roles.some((r) => hasRole(r, user)))
      && (!hotlineOnly || p.roles?.includes('hotline')));
    const link = (p) => h('a', {
      href: p.href, 'aria-current': p.id === pageId ? 'page' : null, dataset: { page: p.id },
    }, t(p.key));
    if (nav) fill(nav, links.map(link));
    if (slot) fill(slot, userMenu(user, pageId, links.map(link)));
  };
  render();
  onLangChange(render);
  // A click elsewhere or Escape folds the menu.
  document.addEventListener('click', (e) => {
    const menu = slot?.querySelector('details');
    if (menu?.open && !menu.contains(e.target)) menu.open = false;
  });
  document.addEventListener('keydown', (e) => {
    const menu = slot?.querySelector('details');
    if (e.key === 'Escape' && menu?.open) {
      menu.open = false;
      menu.querySelector('summary').focus();
    }
  });
  return render;
}

function userMenu(user, pageId, navLinks) {
  const roles = roleLabels(user.roles);
  const initial = [...(user.display_name || user.name || '?')][0];
  return h('details', { class: 'usermenu', id: 'usermenu-details' },
    // The button's name is what it shows, after a word for screen readers (WCAG 2.5.3, label in name).
    h('summary', { class: 'usermenu-button' },
      h('span', { class: 'visually-hidden' }, t('header.account')),
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initial),
      h('span', { class: 'usermenu-text' },
        h('span', { class: 'usermenu-name', id: 'user-display-name' }, user.display_name),
        h('span', { class: 'usermenu-roles', id: 'user-roles' }, roles.join('、'))),
      h('span', { class: 'caret', 'aria-hidden': 'true' })),
    h('div', { class: 'usermenu-panel' },
      h('div', { class: 'usermenu-who' },
        h('strong', {}, user.display_name), ' ', h('span', { class: 'muted mono' }, user.name),
        user.organisation ? h('div', { class: 'muted small', id: 'user-organisation' }, user.organisation.name) : null,
        h('div', { class: 'chips' }, user.roles.map((r) => h('span', { class: 'chip', dataset: { role: r } }, tCode('role', r))))),
      // On a phone the bar has no room for the page links: they are here instead.
      h('nav', { class: 'usermenu-nav' }, navLinks.map((a) => a.cloneNode(true))),
      h('a', { class: 'usermenu-item', href: '/account.html', 'aria-current': pageId === 'account' ? 'page' : null, id: 'link-account' },
        t('nav.account')),
      h('button', { type: 'button', class: 'usermenu-item usermenu-signout', id: 'sign-out', onclick: onSignOut }, t('header.signOut'))));

  async function onSignOut() {
    const waiting = await waitingInOutbox(user);
    if (waiting > 0) {
      const ok = await confirmDialog({
        title: t('header.signOutTitle'),
        message: t('header.signOutOutbox', { n: waiting }),
        confirmLabel: t('header.signOut'),
        danger: true,
        id: 'sign-out-dialog',
      });
      if (!ok) return;
    }
    await signOut();
  }
}

/** How many of this user's observations still wait in this browser's outbox (0 if it cannot tell). */
async function waitingInOutbox(user) {
  try {
    const records = await outbox.all();
    return records.filter((r) => !r.user_id || r.user_id === user.id).length;
  } catch {
    return 0;
  }
}
