// The inspection page as an installed app: registers its service worker (sw.js, served with the release it
// installs), offers a new release when one is waiting ("有新版本，点此刷新") and switches to it only when the
// inspector taps it, and has the worker keep the start-up answers (session, settings, hazard types,
// checklists) once the page has started, so that a reload without signal opens the page even after a first
// visit that the worker did not yet control.

import { h, fill } from './common.js';
import { t, onLangChange } from './i18n.js';

let registration = null;
let reloading = false;
/** The release the running worker installed, once it has answered keepStartUp (null before, or without one). */
let runningRelease = null;

export const release = () => runningRelease;

/** Registers the worker (secure contexts only) and wires the update prompt into `#update-banner`. */
export function registerWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  const registering = navigator.serviceWorker.register('/sw.js').then((reg) => {
    registration = reg;
    watch(reg);
    return reg;
  });
  registering.catch((error) => console.warn('service worker', error));
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The inspector accepted the new release (or this is the first worker): a page of the old release must
    // not run on with the new files, so it reloads once, when it had asked for the switch.
    if (reloading) location.reload();
  });
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type === 'flush-outbox') window.dispatchEvent(new Event('roadledger:flush-outbox'));
  });
  onLangChange(render);
  return registering;
}

function watch(reg) {
  if (reg.waiting && navigator.serviceWorker.controller) render();
  reg.addEventListener('updatefound', () => {
    const worker = reg.installing;
    if (!worker) return;
    worker.addEventListener('statechange', () => {
      // "installed" with a controller already there: a new release waits for the inspector's word.
      if (worker.state === 'installed' && navigator.serviceWorker.controller) render();
    });
  });
}

/** Shows the prompt while a new release waits. */
function render() {
  const banner = document.getElementById('update-banner');
  if (!banner) return;
  const waiting = registration?.waiting && navigator.serviceWorker.controller;
  banner.hidden = !waiting;
  if (!waiting) return;
  fill(banner, h('button', { type: 'button', class: 'btn btn-primary', id: 'update-reload', onclick: accept }, t('pwa.update')));
}

function accept() {
  const waiting = registration?.waiting;
  if (!waiting) return;
  reloading = true;
  waiting.postMessage({ type: 'skip-waiting' });
}

/** Asks the running worker to keep the start-up answers, the vendor modules loaded and the vendor files
 * `vendor` names (MapLibre, before the map was first opened); resolves with how many start-up answers it kept
 * (0 offline). */
export async function keepStartUp({ vendor: wanted = [] } = {}) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return 0;
  const reg = await navigator.serviceWorker.ready;
  const worker = reg.active;
  if (!worker) return 0;
  return new Promise((resolve) => {
    const onMessage = (event) => {
      if (event.data?.type !== 'start-up-kept') return;
      navigator.serviceWorker.removeEventListener('message', onMessage);
      runningRelease = event.data.release || null;
      resolve(event.data.kept);
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    // The vendor modules this page loaded (MapLibre, if it draws a map), kept for opening offline too.
    const vendor = [...new Set([...wanted, ...performance.getEntriesByType('resource').map((entry) => new URL(entry.name))
      .filter((url) => url.origin === location.origin && url.pathname.startsWith('/vendor/')).map((url) => url.pathname)])];
    worker.postMessage({ type: 'keep-start-up', vendor });
  });
}

/** Asks for a Background Sync of the outbox where the browser offers it (Chromium); false elsewhere. */
export async function requestSync() {
  try {
    const reg = registration || (await navigator.serviceWorker?.getRegistration());
    if (!reg?.sync) return false;
    await reg.sync.register('outbox');
    return true;
  } catch {
    return false;
  }
}
