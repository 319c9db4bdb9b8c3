// The translations are one file per language (web/locales/*.js): every key must exist in each of them, with the
// same {placeholders}, or a page shows Chinese in English (or a bare key) and a filled-in value goes missing.
//
//   node tests/e2e/locales.mjs
//
// Prints one JSON line ({"ok": true, "keys": {"zh-CN": n, "en": n}} or {"ok": false, "step", "error"}) and exits
// non-zero on failure. Run by tests/it/browser.rs.

import { readdirSync } from 'node:fs';
import { check, run } from './lib.mjs';

const dir = new URL('../../web/locales/', import.meta.url);

/** `{name}` placeholders of a string, sorted. */
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

await run('locales', async ({ setStep }) => {
  setStep('load');
  const files = readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  const locales = {};
  for (const file of files) locales[file.replace(/\.js$/, '')] = (await import(new URL(file, dir).href)).default;
  check('load', 'zh-CN' in locales && 'en' in locales, `web/locales has ${files.join(', ')}; zh-CN.js and en.js expected`);

  setStep('keys');
  const all = new Set(Object.values(locales).flatMap((d) => Object.keys(d)));
  const problems = [];
  for (const [lang, dict] of Object.entries(locales)) {
    const missing = [...all].filter((key) => !(key in dict));
    if (missing.length) problems.push(`${lang}.js lacks ${missing.join(', ')}`);
    const empty = Object.entries(dict).filter(([, text]) => typeof text !== 'string' || !text.trim()).map(([k]) => k);
    if (empty.length) problems.push(`${lang}.js has empty strings for ${empty.join(', ')}`);
  }
  for (const key of all) {
    const seen = new Set(Object.values(locales).filter((d) => typeof d[key] === 'string').map((d) => placeholders(d[key])));
    if (seen.size > 1) problems.push(`${key} has different placeholders: ${[...seen].map((p) => `{${p}}`).join(' vs ')}`);
  }
  check('keys', problems.length === 0, problems.join('; '));
  return { keys: Object.fromEntries(Object.entries(locales).map(([lang, d]) => [lang, Object.keys(d).length])) };
});
