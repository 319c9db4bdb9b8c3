// The inspector's outbox: observations waiting to be sent, kept in IndexedDB with their photos as Blobs so
// that a dead zone, a closed tab or a flat battery loses nothing. A record is
//   { id (the observation id), observation (the JSON part, frozen), photos: [{name, type, blob}],
//     queued_at, attempts, last_error, next_at (when to try again, ms since the epoch),
//     rejected: null | {status, detail}, conflict: null | {detail, at} (a 409: the server holds other content
//     under this id) }
// and is deleted only once the server has answered 200/201 (or the inspector deletes it). Resending the same
// id and content is safe: the server answers a replay with the original result.
//
// Each record is retried on its own schedule (`backoffMs`: 5 s doubling up to 30 min, ±30 % jitter), so a
// record that always fails never holds back the others. `upload` sends one with XMLHttpRequest, for its
// upload progress and a timeout that grows with its size.
//
// The same database keeps the draft being edited (draft.js, store `draft`).

const DB_NAME = 'roadledger';
const DB_VERSION = 2;
const STORE = 'outbox';
export const DRAFT_STORE = 'draft';

/** The first retry waits about this long, each further one twice as long… */
export const BACKOFF_BASE_MS = 5_000;
/** …up to this. */
export const BACKOFF_MAX_MS = 30 * 60_000;
/** Each wait is spread by up to ±30 %, so that records (and phones) do not retry in step. */
export const BACKOFF_JITTER = 0.3;
/** An upload may take this long, plus its size at TIMEOUT_BYTES_PER_S (a slow 2G link), before it is given up. */
export const TIMEOUT_BASE_MS = 60_000;
export const TIMEOUT_BYTES_PER_S = 8 * 1024;

let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
        if (!db.objectStoreNames.contains(DRAFT_STORE)) db.createObjectStore(DRAFT_STORE);
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer page (another release) needs to upgrade the database: this one lets go, and opens it again
        // when it next needs it.
        db.onversionchange = () => {
          db.close();
          dbPromise = null;
        };
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      // An older page in another tab still has the database open: the upgrade goes on once it lets go.
      request.onblocked = () => console.warn('IndexedDB: waiting for another tab to close the outbox');
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

/** Runs `work(store)` in one transaction on `storeName`; resolves with its request's result once committed. */
export async function runStore(storeName, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const store = tx.objectStore(storeName);
    let result;
    const request = work(store);
    if (request) request.onsuccess = () => { result = request.result; };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

function run(mode, work) {
  return runStore(STORE, mode, work);
}

/** Adds or replaces a record (durable once this resolves: the transaction has committed). */
export function put(record) {
  return run('readwrite', (store) => store.put(record));
}

export function remove(id) {
  return run('readwrite', (store) => store.delete(id));
}

export function get(id) {
  return run('readonly', (store) => store.get(id));
}

/** Every record, oldest first. */
export async function all() {
  const records = (await run('readonly', (store) => store.getAll())) || [];
  return records.sort((a, b) => String(a.queued_at).localeCompare(String(b.queued_at)));
}

export async function count() {
  return (await run('readonly', (store) => store.count())) || 0;
}

/** How long to wait before the next try after `attempts` failed ones (1, 2, …): exponential, capped, jittered. */
export function backoffMs(attempts, random = Math.random) {
  const plain = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(plain * (1 + BACKOFF_JITTER * (2 * random() - 1)));
}

/** The bytes of a record's photos. */
export function recordBytes(record) {
  return (record.photos || []).reduce((n, p) => n + (p.blob?.size || 0), 0);
}

/** How long an upload of `bytes` may take before it is abandoned. */
export function timeoutMs(bytes) {
  return TIMEOUT_BASE_MS + Math.ceil((bytes / TIMEOUT_BYTES_PER_S) * 1000);
}

/**
 * POSTs `form` with XMLHttpRequest: `onProgress(loaded, total)` follows the bytes sent. `bearer` sends
 * `Authorization: Bearer` (which the server reads before any cookie), else `csrf` goes in X-CSRF-Token.
 * Resolves with a Response (any status); rejects with a TypeError on a network failure or after `timeout` ms.
 */
export function upload(url, form, { bearer = null, csrf = null, timeout = TIMEOUT_BASE_MS, onProgress = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.timeout = timeout;
    xhr.setRequestHeader('accept', 'application/json');
    if (bearer) xhr.setRequestHeader('authorization', `Bearer ${bearer}`);
    else if (csrf) xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.onload = () => resolve(new Response(xhr.status === 204 ? null : xhr.responseText, {
      status: xhr.status,
      statusText: xhr.statusText,
      headers: { 'content-type': xhr.getResponseHeader('content-type') || '' },
    }));
    xhr.onerror = () => reject(new TypeError(`network error on POST ${url}`));
    xhr.ontimeout = () => reject(new TypeError(`POST ${url} took longer than ${Math.round(timeout / 1000)} s`));
    xhr.onabort = () => reject(new TypeError(`POST ${url} was aborted`));
    xhr.send(form);
  });
}
