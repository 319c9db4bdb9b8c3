// Shared by the pages: the API client, the site statuses with their colours, and a small DOM builder
// (text is always set as text, never as HTML: notes and names come from users).

/** Every site status in lifecycle order (DOMAIN.md §6) with its map colour. */
export const STATUSES = [
  { code: 'reported', colour: '#d7301f' },
  { code: 'verified', colour: '#f07c1b' },
  { code: 'assigned', colour: '#d9a400' },
  { code: 'in_progress', colour: '#1f78b4' },
  { code: 'pending_review', colour: '#7b52c7' },
  { code: 'closed', colour: '#2e9e57' },
  { code: 'reopened', colour: '#c2187a' },
  { code: 'rejected', colour: '#8d8d8d' },
  { code: 'duplicate', colour: '#9c7a4d' },
  { code: 'cancelled', colour: '#4a4a4a' },
];

export const STATUS_COLOUR = Object.fromEntries(STATUSES.map((s) => [s.code, s.colour]));

/** Checklist item states and the colour of their badge. */
export const ITEM_STATE_COLOUR = {
  missing: '#d7301f',
  damaged: '#f07c1b',
  installed: '#2e9e57',
  verified: '#1b6e3c',
  not_applicable: '#8d8d8d',
};

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

/** GET a JSON resource of the API. Network failures reject with a TypeError, as fetch does. */
export async function getJson(path, { signal } = {}) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, signal });
  return readResponse(response);
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
    else if (name === 'style' && typeof value === 'object') Object.assign(el.style, value);
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
