// The observation being edited on the inspection page, kept in IndexedDB (the outbox's database, store
// `draft`) as it is edited, so that Android discarding the tab while the camera app is open, a reload or a
// browser restart loses nothing: the photos picked (as Blobs), the hazards ticked, the checklist, the notes,
// the kind, the location chosen. One draft per phone, under one key; it goes once the draft is queued.

import { runStore, DRAFT_STORE } from './outbox.js';

const KEY = 'current';
/** Edits are written this long after the last one (and at once when the page is hidden). */
const SAVE_DELAY_MS = 300;

let timer = null;
let pending = null; // () => draft, the latest state to write
let writing = Promise.resolve();

/** The kept draft, or null. */
export async function load() {
  try {
    return (await runStore(DRAFT_STORE, 'readonly', (store) => store.get(KEY))) || null;
  } catch (error) {
    console.warn('draft', error);
    return null;
  }
}

/** Writes `snapshot()` soon; later calls replace earlier ones. */
export function schedule(snapshot) {
  pending = snapshot;
  clearTimeout(timer);
  timer = setTimeout(flush, SAVE_DELAY_MS);
}

/** Writes the scheduled draft now (page hidden or closing); resolves once it has committed. */
export function flush() {
  clearTimeout(timer);
  timer = null;
  const snapshot = pending;
  pending = null;
  if (snapshot) {
    writing = writing.then(() => runStore(DRAFT_STORE, 'readwrite', (store) => store.put(snapshot(), KEY)))
      .catch((error) => console.warn('draft', error));
  }
  return writing;
}

/** Forgets the draft (queued or sent). */
export function clear() {
  clearTimeout(timer);
  timer = null;
  pending = null;
  writing = writing.then(() => runStore(DRAFT_STORE, 'readwrite', (store) => store.delete(KEY)))
    .catch((error) => console.warn('draft', error));
  return writing;
}
