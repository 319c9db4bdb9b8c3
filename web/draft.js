// The observation being edited on the inspection page, kept in IndexedDB (the outbox's database, store
// `draft`) as it is edited, so that Android discarding the tab while the camera app is open, a reload or a
// browser restart loses nothing: the photos picked (as Blobs), the hazards ticked, the checklist, the notes,
// the kind, the location chosen. One draft per phone; it goes once the draft is queued. The photos are kept
// under a key of their own and written only when the list of photos changes, not at every keystroke of the
// notes (a phone's photos are megabytes).

import { runStore, DRAFT_STORE } from './outbox.js';

const KEY = 'current';
const PHOTOS_KEY = 'photos';
/** Edits are written this long after the last one (and at once when the page is hidden). */
const SAVE_DELAY_MS = 300;

let timer = null;
let pending = null; // () => draft, the latest state to write
let writing = Promise.resolve();
let lastPhotos = null; // the photo objects written last, as the page holds them

/** The kept draft ({…fields, photos}), or null. */
export async function load() {
  try {
    let photos = [];
    const fields = await runStore(DRAFT_STORE, 'readonly', (store) => {
      const request = store.get(PHOTOS_KEY);
      request.onsuccess = () => { photos = request.result || []; };
      return store.get(KEY);
    });
    return fields ? { ...fields, photos } : null;
  } catch (error) {
    console.warn('draft', error);
    return null;
  }
}

/** Writes `snapshot()` soon; later calls replace earlier ones. `snapshot().photos` are the page's own photo
 * objects (their `url` and `prepared` are not kept); the same objects in the same order are not written again. */
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
    const { photos = [], ...fields } = snapshot();
    const same = lastPhotos && photos.length === lastPhotos.length && photos.every((p, i) => p === lastPhotos[i]);
    lastPhotos = [...photos];
    writing = writing.then(() => runStore(DRAFT_STORE, 'readwrite', (store) => {
      // Not kept: the page's object URL, and the resizing under way (a promise; the original file is kept,
      // so a restored photo is prepared again, its EXIF read again from the original).
      if (!same) store.put(photos.map(({ url, prepared, ...photo }) => photo), PHOTOS_KEY);
      return store.put(fields, KEY);
    })).catch((error) => {
      lastPhotos = null;
      console.warn('draft', error);
    });
  }
  return writing;
}

/** Forgets the draft (queued or sent). */
export function clear() {
  clearTimeout(timer);
  timer = null;
  pending = null;
  lastPhotos = null;
  writing = writing.then(() => runStore(DRAFT_STORE, 'readwrite', (store) => {
    store.delete(PHOTOS_KEY);
    return store.delete(KEY);
  }))
    .catch((error) => console.warn('draft', error));
  return writing;
}
