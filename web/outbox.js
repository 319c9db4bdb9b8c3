// The inspector's outbox: observations waiting to be sent, kept in IndexedDB with their photos as Blobs so
// that a dead zone, a closed tab or a flat battery loses nothing. A record is
//   { id (the observation id), observation (the JSON part, frozen), photos: [{name, type, blob}],
//     queued_at, attempts, last_error, rejected: null | {status, detail} }
// and is deleted only once the server has answered 200/201 (or the inspector deletes it). Resending the same
// id and content is safe: the server answers a replay with the original result.

const DB_NAME = 'roadledger';
const DB_VERSION = 1;
const STORE = 'outbox';

let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

async function run(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const store = tx.objectStore(STORE);
    let result;
    const request = work(store);
    if (request) request.onsuccess = () => { result = request.result; };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
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
