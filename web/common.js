// Shared by the pages: the API client, the colours of site statuses and item states, and a small DOM builder
// (text is always set as text, never as HTML: notes and names come from users).

/**
 * The colour of each site status (DOMAIN.md §6), on the map and as the background of white badge text: each
 * is dark enough for 4.5:1 against white (WCAG 2.1 AA 1.4.3), so a badge stays legible on a phone in the sun. The statuses themselves, their order and which are open
 * come from /api/v1/settings (boot.js); a code missing here is drawn grey.
 */
export const STATUS_COLOUR = {
  reported: '#d7301f',
  verified: '#b85a0e',
  assigned: '#946f00',
  in_progress: '#1f78b4',
  pending_review: '#7b52c7',
  closed: '#23804a',
  reopened: '#c2187a',
  rejected: '#707070',
  duplicate: '#8b5e3c',
  cancelled: '#4a4a4a',
};

/** Checklist item states and the colour of their badge (4.5:1 with white text, as above). */
export const ITEM_STATE_COLOUR = {
  missing: '#d7301f',
  damaged: '#b85a0e',
  installed: '#23804a',
  verified: '#1b6e3c',
  not_applicable: '#707070',
};

/** Metres between two WGS-84 positions {lon, lat} (haversine on the mean Earth radius; ample for "how far"). */
export function distanceM(a, b) {
  const rad = Math.PI / 180;
  const s = Math.sin(((b.lat - a.lat) * rad) / 2) ** 2
    + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** An API answer that is not 2xx; `detail` is the server's explanation (problem+json) when it sent one. */
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

/** Reads a response: JSON on success, ApiError with the problem+json `detail` otherwise. */
export async function readResponse(response) {
  const type = response.headers.get('content-type') || '';
  const text = await response.text();
  let body = null;
  if (/json/.test(type) && text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const detail = (body && (body.detail || body.title)) || `${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, detail, body);
  }
  return body;
}

/** GET a JSON resource of the API (signed in: a 401 goes to the sign-in page). Network failures reject with a
 * TypeError, as fetch does. */
export async function getJson(path, { signal } = {}) {
  return readResponse(await apiFetch(path, { signal }));
}

// ---------------------------------------------------------------------------------------------------------
// Session: who is signed in, the CSRF token, and fetch with both.
//
// The session itself is an HttpOnly cookie (`rl_session`) that scripts never see. What a page holds is the
// synchroniser token for CSRF, from GET /api/v1/session, which every state-changing request made with the
// cookie sends back in X-CSRF-Token. A request with `Authorization: Bearer` (a personal API token) sends no
// cookie and needs no CSRF token.

const SESSION_URL = '/api/v1/session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

let current = null; // {user, csrfToken}
let sessionPromise = null;

/** The sign-in page, coming back to `next` (by default this page) afterwards. */
export function loginUrl(next = location.pathname + location.search + location.hash) {
  const path = safeNext(next);
  return path === '/' ? '/login.html' : `/login.html?next=${encodeURIComponent(path)}`;
}

/**
 * `next` if it is a path on this site, else "/". Only "/…" is allowed, never "//host" or "/\host" (browsers
 * read a backslash as a slash), so that a link to the sign-in page cannot send a user to another site.
 */
export function safeNext(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== location.origin || url.pathname === '/login.html') return '/';
  return url.pathname + url.search + url.hash;
}

/** Leaves for the sign-in page; the returned promise never settles, so nothing runs on behind it. */
export function goToLogin(next) {
  location.assign(loginUrl(next));
  return new Promise(() => {});
}

/**
 * The signed-in user ({id, name, display_name, roles, organisation}) and the CSRF token, fetched once per
 * page. Not signed in (401): goes to the sign-in page, which comes back here.
 */
export function session() {
  if (!sessionPromise) {
    sessionPromise = fetchSession().then((s) => s || goToLogin());
    sessionPromise.catch(() => { sessionPromise = null; });
  }
  return sessionPromise;
}

/** GET /api/v1/session: the session, or null when not signed in. */
export async function fetchSession() {
  const response = await fetch(SESSION_URL, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (response.status === 401) return null;
  const body = await readResponse(response);
  current = { user: body.user, csrfToken: body.csrf_token };
  return current;
}

/** The signed-in user, once session() has resolved. */
export function currentUser() {
  return current?.user ?? null;
}

export function hasRole(role, user = currentUser()) {
  return Boolean(user?.roles?.includes(role));
}

/**
 * fetch() for the API. Adds X-CSRF-Token to state-changing requests made with the session cookie.
 *
 *  - `bearer`: a personal API token; sent as `Authorization: Bearer …` with no cookie (and so no CSRF).
 *  - `loginRedirect` (default true): a 401 goes to the sign-in page. The outbox sets it false: its records
 *    stay queued until the inspector signs in again.
 *
 * A 403 on a request made with the cookie may be a stale CSRF token (the user signed in again in another
 * tab): the token is fetched again and the request repeated once if it changed.
 */
export async function apiFetch(url, { bearer = null, loginRedirect = true, ...options } = {}) {
  const method = (options.method || 'GET').toUpperCase();
  const build = () => {
    const headers = new Headers(options.headers || {});
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const init = { ...options, method, headers };
    if (bearer) {
      headers.set('authorization', `Bearer ${bearer}`);
      init.credentials = 'omit';
    } else if (!SAFE_METHODS.has(method) && current?.csrfToken) {
      headers.set('x-csrf-token', current.csrfToken);
    }
    return init;
  };
  let response = await fetch(url, build());
  if (response.status === 403 && !bearer && !SAFE_METHODS.has(method)) {
    const used = current?.csrfToken;
    const fresh = await fetchSession().catch(() => null);
    if (fresh && fresh.csrfToken !== used) response = await fetch(url, build());
  }
  if (response.status === 401 && loginRedirect && !bearer) return goToLogin();
  return response;
}

/**
 * POSTs a FormData with XMLHttpRequest, because fetch() reports no upload progress: `onUploadProgress(loaded,
 * total)` follows the bytes sent, `onUploaded()` runs once the last byte is out (the server is then at work).
 * Same rules as apiFetch: X-CSRF-Token with the cookie, one retry after a 403 if the token changed, a 401
 * goes to the sign-in page. Resolves with the JSON answer, rejects with ApiError (problem+json `detail`, and
 * the whole problem in `body`) or, when the network fails, with a TypeError as fetch does.
 */
export async function apiUpload(url, formData, { onUploadProgress = () => {}, onUploaded = () => {} } = {}) {
  const send = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('accept', 'application/json');
    if (current?.csrfToken) xhr.setRequestHeader('x-csrf-token', current.csrfToken);
    xhr.upload.onprogress = (e) => onUploadProgress(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.upload.onload = () => onUploaded();
    xhr.onload = () => resolve(new Response(xhr.status === 204 ? null : xhr.responseText, {
      status: xhr.status,
      statusText: xhr.statusText,
      headers: { 'content-type': xhr.getResponseHeader('content-type') || '' },
    }));
    xhr.onerror = () => reject(new TypeError(`network error on POST ${url}`));
    xhr.onabort = () => reject(new TypeError(`POST ${url} was aborted`));
    xhr.send(formData);
  });
  let response = await send();
  if (response.status === 403) {
    const used = current?.csrfToken;
    const fresh = await fetchSession().catch(() => null);
    if (fresh && fresh.csrfToken !== used) response = await send();
  }
  if (response.status === 401) return goToLogin();
  return readResponse(response);
}

/** apiFetch + readResponse, with a JSON body when `json` is given. */
export async function apiJson(url, { json, ...options } = {}) {
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers = { 'content-type': 'application/json', ...(options.headers || {}) };
  }
  return readResponse(await apiFetch(url, options));
}

/** Signs out (the cookie goes with it) and opens the sign-in page. */
export async function signOut() {
  try {
    await apiFetch(SESSION_URL, { method: 'DELETE', loginRedirect: false });
  } catch {
    // Offline: the page still leaves; the session ends by itself when it expires.
  }
  current = null;
  // The inspection page's service worker (sw.js) keeps the session's answers for opening the page offline:
  // they go with the session, even when the sign-out could not reach the server.
  try {
    for (const name of await caches.keys()) if (name.startsWith('roadledger-api-')) await caches.delete(name);
  } catch {
    // No Cache API here (not a secure context): nothing was kept.
  }
  // A personal API token kept on this device for the outbox belongs to whoever signed out: the next person
  // to use this phone must not send under it.
  setDeviceToken(null);
  location.assign('/login.html');
  return new Promise(() => {});
}

/**
 * Builds an element: h('a', {href, class: 'x', dataset: {id}, onclick}, 'text', child, [more]).
 * Strings become text nodes; null/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'style' && typeof value === 'object') {
      // Custom properties (`--name`) only take effect through setProperty.
      for (const [k, v] of Object.entries(value)) {
        if (k.startsWith('--')) el.style.setProperty(k, v);
        else el.style[k] = v;
      }
    }
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Replaces an element's children, skipping null/false as h() does. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Runs `fn` once calls have stopped for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------------------------------------------------
// The personal API token an inspector may keep on a phone (inspect page, "Settings"), with the account it
// belongs to, so that the outbox uses it only for that account's records.

const DEVICE_TOKEN_KEY = 'roadledger.apiToken';

/** {token, user_id, user_name} or null. */
export function deviceToken() {
  try {
    const stored = JSON.parse(localStorage.getItem(DEVICE_TOKEN_KEY) || 'null');
    return stored && typeof stored.token === 'string' && stored.token ? stored : null;
  } catch {
    return null;
  }
}

export function setDeviceToken(value) {
  try {
    if (value) localStorage.setItem(DEVICE_TOKEN_KEY, JSON.stringify(value));
    else localStorage.removeItem(DEVICE_TOKEN_KEY);
  } catch {
    // Storage disabled: the token is not kept, and the cookie is used.
  }
}

/**
 * A message line that clears itself after 8 s. `text` is a function so the message follows a language switch:
 * call `render()` again after re-rendering the page.
 */
export function createFlash(elementId) {
  let current = null;
  let timer = null;
  const render = () => {
    const el = document.getElementById(elementId);
    if (!el) return;
    el.hidden = !current;
    el.dataset.kind = current?.kind || '';
    el.textContent = current ? current.text() : '';
  };
  return {
    show(kind, text) {
      current = { kind, text };
      render();
      clearTimeout(timer);
      timer = setTimeout(() => { current = null; render(); }, 8000);
    },
    render,
  };
}

