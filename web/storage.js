// The phone's storage for the outbox and the draft: asks once for persistent storage (so the browser does not
// evict a waiting queue when space runs short), and says how much room is left, in photos, from
// navigator.storage.estimate(). The inspection page warns before the quota is reached and refuses to queue a
// record that would not fit, rather than finding out after the fact.

const PERSIST_ASKED_KEY = 'roadledger.persistAsked';
/** A photo as queued, when nothing queued yet says better. */
export const PHOTO_BYTES_TYPICAL = 500 * 1024;
/** Warn when fewer than this many photos still fit… */
export const WARN_PHOTOS = 30;
/** …or less than this share of the quota is left. */
export const WARN_SHARE = 0.1;
/** Room kept free beyond a record's own bytes (IndexedDB's overhead, the draft). */
export const MARGIN_BYTES = 2 * 1024 * 1024;

/** Asks for persistent storage once per phone; resolves whether storage is persistent. */
export async function askPersist() {
  const storage = navigator.storage;
  if (!storage?.persist) return false;
  try {
    if (await storage.persisted?.()) return true;
    let asked = false;
    try {
      asked = localStorage.getItem(PERSIST_ASKED_KEY) === '1';
      localStorage.setItem(PERSIST_ASKED_KEY, '1');
    } catch {
      // Storage disabled: asking again is harmless.
    }
    return asked ? false : await storage.persist();
  } catch {
    return false;
  }
}

/**
 * {usage, quota, free, photos (how many more of `photoBytes` fit), warn} or null where the browser does not
 * say.
 */
export async function room(photoBytes = PHOTO_BYTES_TYPICAL) {
  if (!navigator.storage?.estimate) return null;
  try {
    const { usage = 0, quota = 0 } = await navigator.storage.estimate();
    if (!quota) return null;
    const free = Math.max(0, quota - usage);
    const photos = Math.max(0, Math.floor(Math.max(0, free - MARGIN_BYTES) / Math.max(1, photoBytes)));
    return { usage, quota, free, photos, warn: photos < WARN_PHOTOS || free < quota * WARN_SHARE };
  } catch {
    return null;
  }
}

/** Whether `bytes` more fit in `space` (from room()); unknown space lets it through (IndexedDB will say). */
export function fits(space, bytes) {
  return !space || bytes + MARGIN_BYTES <= space.free;
}
