// How every page starts: its static strings in the chosen language and the language switch, then (for the
// signed-in pages) the session with its CSRF token, the top bar, and the server's settings. A page hands its
// own start-up to boot(); a failure anywhere marks the page `data-state="error"` and says why in the page's
// language.

import { session, getJson } from './common.js';
import { t, applyStatic, mountLangSwitch, onLangChange } from './i18n.js';
import { mountHeader } from './header.js';

let settingsPromise = null;
let loaded = null;

/**
 * GET /api/v1/settings once per page: the server's limits (bbox area, page size, photos), its codes (statuses
 * and whether they are open, hazard levels, …) and the default deadlines per rectification mode and hazard
 * level (src/http/settings.rs). The pages read these instead of keeping copies.
 */
export function serverSettings() {
  if (!settingsPromise) {
    settingsPromise = getJson('/api/v1/settings').then((settings) => { loaded = settings; return settings; });
    settingsPromise.catch(() => { settingsPromise = null; });
  }
  return settingsPromise;
}

/** The settings, for code that runs once the page has started (lifecycle.js): boot() has read them. */
export function settings() {
  if (!loaded) throw new Error('the server settings are not loaded yet (boot() reads them)');
  return loaded;
}

/**
 * Starts a page.
 *
 *  - `page`: the page's id in the top bar ('map', 'work', 'inspect', 'admin', 'account'); null for a page
 *    without one (the sign-in page), which then also skips the session and the settings;
 *  - `title`: the i18n key of the document title, kept in the current language;
 *  - `before()`: runs before anything is fetched (wiring that must not wait for the network);
 *  - `main({user, settings})`: the page's own start-up;
 *  - `onError(message)`: shows a failure of `main` (or of the session or settings) in the page.
 *
 * Not signed in, the session sends the browser to the sign-in page, which comes back here. The returned
 * promise settles once the page has started or failed; it never rejects (`onError` has the failure).
 */
export async function boot({ page, title = null, before = () => {}, main, onError = () => {} }) {
  try {
    // The page's module finishes evaluating first, so that everything it declares exists when called.
    await Promise.resolve();
    applyStatic();
    const langSwitch = document.getElementById('lang-switch');
    if (langSwitch) mountLangSwitch(langSwitch);
    if (title) {
      const setTitle = () => { document.title = `${t(title)} · RoadLedger`; };
      setTitle();
      onLangChange(setTitle);
    }
    await before();
    if (page == null) return await main({ user: null, settings: null });
    const [{ user }, settings] = await Promise.all([session(), serverSettings()]);
    mountHeader(user, page);
    return await main({ user, settings });
  } catch (error) {
    console.error(error);
    document.body.dataset.state = 'error';
    onError(t('common.error', { detail: error.detail || error.message }), error);
    return undefined;
  }
}
