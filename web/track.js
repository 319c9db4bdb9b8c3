// The tracking page of a public report (`/track.html#<token>`): its public status and the changes of it,
// read from GET /api/v1/public/reports/{token}; nothing else of the report is public.

import { h, fill, readResponse } from './common.js';
import { t, isEnglish, applyStatic, mountLangSwitch, onLangChange } from './i18n.js';

let view = null;
let categories = [];

function when(iso) {
  return new Date(iso).toLocaleString(isEnglish() ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}

function categoryName(code) {
  const c = categories.find((x) => x.code === code);
  return c ? (isEnglish() ? c.name_en : c.name) : code;
}

function render() {
  if (!view) return;
  document.getElementById('status').textContent = t(`track.status.${view.public_status}`);
  document.getElementById('status').dataset.status = view.public_status;
  document.getElementById('category').textContent = categoryName(view.category);
  document.getElementById('received').textContent = when(view.received_at);
  document.getElementById('site').textContent = view.site_code || t('common.none');
  document.getElementById('reason').textContent = view.public_reason || t('common.none');
  fill(document.getElementById('timeline'), ...view.updates.map((u) => h('li', {},
    h('strong', {}, t(`track.status.${u.public_status}`)), ' ', h('span', { class: 'muted' }, when(u.at)),
    u.description ? h('div', {}, u.description) : '')));
  document.getElementById('report').hidden = false;
}

async function main() {
  applyStatic();
  mountLangSwitch(document.getElementById('lang-switch'));
  const setTitle = () => { document.title = t('track.title'); };
  setTitle();
  onLangChange(() => { setTitle(); render(); });
  const token = location.hash.slice(1);
  const error = document.getElementById('track-error');
  if (!/^[0-9a-f]{32}$/.test(token)) {
    error.textContent = t('track.badLink');
    error.hidden = false;
    document.body.dataset.state = 'error';
    return;
  }
  try {
    const [report, list] = await Promise.all([
      fetch(`/api/v1/public/reports/${token}`, { credentials: 'omit' }).then(readResponse),
      fetch('/api/v1/public/categories', { credentials: 'omit' }).then(readResponse),
    ]);
    view = report;
    categories = list;
    render();
    document.body.dataset.state = 'ready';
  } catch (e) {
    error.textContent = e.status === 404 ? t('track.notFound') : t('common.error', { detail: e.detail || e.message });
    error.hidden = false;
    document.body.dataset.state = 'error';
  }
}

window.addEventListener('hashchange', () => location.reload());
main();
