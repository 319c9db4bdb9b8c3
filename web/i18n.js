// UI strings of every page: one file per language in locales/ (zh-CN first, the working language of the
// offices; English second), key for key. `t(key, vars)` looks a key up in the current language and
// fills `{name}` placeholders; a key missing from English falls back to Chinese, then to the key itself.

import zh from './locales/zh-CN.js';
import en from './locales/en.js';

const STORAGE_KEY = 'roadledger.lang';
export const LANGS = ['zh-CN', 'en'];

const DICTIONARIES = { 'zh-CN': zh, en };

let current = (() => {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(stored)) return stored;
  } catch {
    // Storage can be disabled (private mode); the default language still works.
  }
  return 'zh-CN';
})();

const listeners = new Set();

export function lang() {
  return current;
}

export function isEnglish() {
  return current === 'en';
}

/** Switches the language, remembers it, and tells every listener (which re-render their part). */
export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered; still switched for this page.
  }
  document.documentElement.lang = next;
  applyStatic();
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** The string for `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = DICTIONARIES[current][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** A key that may be unknown (codes from the server): the translation, or the code itself. */
export function tCode(prefix, code) {
  if (code == null) return t('common.none');
  const key = `${prefix}.${code}`;
  return DICTIONARIES[current][key] ?? zh[key] ?? code;
}

/** Chinese or English name of a reference row ({name, name_en}). */
export function localName(row) {
  if (!row) return '';
  if (isEnglish() && row.name_en) return row.name_en.charAt(0).toUpperCase() + row.name_en.slice(1);
  return row.name || '';
}

/**
 * Dates and times as `2026-11-30 09:15` in China Standard Time, whatever the device's zone: an office
 * reading an inspector's record must see the time on the inspector's watch.
 */
export function formatDateTime(iso) {
  if (!iso) return t('common.none');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

export function formatDate(isoDate) {
  if (!isoDate) return t('common.none');
  return isoDate.slice(0, 10);
}

/** Fills elements marked with data-i18n (text), data-i18n-placeholder, data-i18n-title, data-i18n-aria. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

/** Wires a button that switches between the two languages. */
export function mountLangSwitch(button) {
  const render = () => {
    button.textContent = t('lang.other');
    button.title = t('lang.otherTitle');
    button.lang = isEnglish() ? 'zh-CN' : 'en';
  };
  button.addEventListener('click', () => setLang(isEnglish() ? 'zh-CN' : 'en'));
  onLangChange(render);
  render();
}

document.documentElement.lang = current;
