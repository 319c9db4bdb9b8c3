// The public report page (随手拍, issue 13): anyone, without an account, reports a road hazard from their
// phone: where (the Geolocation API), what (a public category), 1–3 photos (resized on the phone by
// photos.js, as the inspectors' page does), a description and an optional phone number. The server asks a
// small proof of work (pow.js), solved while the form is filled in; a hidden field catches form-filling
// robots. The draft's `submission_id` is kept until the server has answered, so sending again after a lost
// answer is recognised and stores nothing twice. On success the page shows the tracking link.

import { ApiError, h, fill, readResponse } from './common.js';
import { t, isEnglish, applyStatic, mountLangSwitch, onLangChange } from './i18n.js';
import { preparePhoto } from './photos.js';
import { solve } from './pow.js';

const PHOTOS_MAX = 3;
const DEVICE_KEY = 'roadledger.publicDevice';
const SUBMISSION_KEY = 'roadledger.publicSubmission';

const state = { place: null, photos: [], categories: [], pow: null };

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function uuid() {
  const hex = randomHex(16).split('');
  hex[12] = '4';
  hex[16] = ['8', '9', 'a', 'b'][parseInt(hex[16], 16) % 4];
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** A value kept in localStorage (or for this page only when storage is disabled). */
function kept(key, make, storage = localStorage) {
  try {
    let value = storage.getItem(key);
    if (!value) {
      value = make();
      storage.setItem(key, value);
    }
    return value;
  } catch {
    return make();
  }
}

async function publicJson(url, options = {}) {
  return readResponse(await fetch(url, { credentials: 'omit', ...options }));
}

/** Asks a challenge and starts solving it, so the work is done by the time the form is. */
function startPow() {
  state.pow = publicJson('/api/v1/public/challenge').then(async (c) => {
    document.getElementById('description').maxLength = c.description_chars_max;
    const nonce = c.difficulty_bits > 0 ? await solve(c.challenge, c.difficulty_bits) : '';
    return { challenge: c.challenge, nonce };
  });
  state.pow.catch(() => { state.pow = null; });
}

function showError(message) {
  const box = document.getElementById('report-error');
  box.textContent = message;
  box.hidden = !message;
}

function renderCategories() {
  const chosen = document.querySelector('input[name=category]:checked')?.value;
  fill(document.getElementById('categories'), ...state.categories.map((c) => h('label', {},
    h('input', { type: 'radio', name: 'category', value: c.code, ...(c.code === chosen ? { checked: '' } : {}) }),
    h('span', {}, isEnglish() ? c.name_en : c.name, isEnglish() ? '' : h('small', {}, c.description)))));
}

function renderPlace() {
  const p = state.place;
  document.getElementById('place').textContent = p
    ? t('public.placeAt', { lon: p.lon.toFixed(5), lat: p.lat.toFixed(5), accuracy: Math.round(p.accuracy ?? 0) })
    : t('public.noPlace');
}

function locate() {
  if (!navigator.geolocation) {
    showError(t('public.noGeolocation'));
    return;
  }
  document.getElementById('place').textContent = t('public.locating');
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      state.place = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy };
      showError('');
      renderPlace();
    },
    () => {
      renderPlace();
      showError(t('public.locationDenied'));
    },
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 },
  );
}

function renderPreviews() {
  fill(document.getElementById('previews'), ...state.photos.map((p, i) => h('figure', {},
    h('img', { src: p.url, alt: t('public.photoN', { n: i + 1 }) }),
    h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('public.removePhoto'), onclick: () => {
      URL.revokeObjectURL(p.url);
      state.photos.splice(i, 1);
      renderPreviews();
    } }, '×'))));
}

async function addPhotos(files) {
  for (const file of files) {
    if (state.photos.length >= PHOTOS_MAX) {
      showError(t('public.tooManyPhotos', { max: PHOTOS_MAX }));
      break;
    }
    const prepared = await preparePhoto(file);
    state.photos.push({ ...prepared, url: URL.createObjectURL(prepared.blob) });
    renderPreviews();
  }
}

/** Says a refusal in the page's language when the server names its rule; its own words otherwise. */
function refusalMessage(error) {
  const code = error.body?.code;
  const known = { per_address: 1, per_device: 1, per_day: 1, honeypot: 1, proof_of_work: 1, challenge_used: 1 };
  if (code && known[code]) return t(`public.refused.${code}`);
  return t('common.error', { detail: error.detail || error.message });
}

async function submit(event) {
  event.preventDefault();
  showError('');
  const category = document.querySelector('input[name=category]:checked')?.value;
  if (!state.place) return showError(t('public.needPlace'));
  if (!category) return showError(t('public.needCategory'));
  if (state.photos.length === 0) return showError(t('public.needPhoto'));
  const button = document.getElementById('submit');
  button.disabled = true;
  button.textContent = t('public.sending');
  try {
    if (!state.pow) startPow();
    const pow = await state.pow;
    const report = {
      submission_id: kept(SUBMISSION_KEY, uuid, sessionStorage),
      category,
      description: document.getElementById('description').value,
      point: [state.place.lon, state.place.lat],
      crs: 'wgs84',
      ...(state.place.accuracy != null ? { accuracy_m: Math.min(state.place.accuracy, 10000) } : {}),
      phone: document.getElementById('phone').value.trim() || null,
      device_id: kept(DEVICE_KEY, () => randomHex(16)),
      website: document.getElementById('website').value,
      challenge: pow.challenge,
      nonce: pow.nonce,
    };
    const form = new FormData();
    form.append('report', new Blob([JSON.stringify(report)], { type: 'application/json' }));
    state.photos.forEach((p, i) => form.append('photo', p.blob, p.name || `photo${i + 1}.jpg`));
    const stored = await publicJson('/api/v1/public/reports', { method: 'POST', body: form });
    try { sessionStorage.removeItem(SUBMISSION_KEY); } catch { /* not kept */ }
    const link = document.getElementById('tracking-link');
    link.href = stored.tracking_url;
    link.textContent = new URL(stored.tracking_url, location.origin).href;
    document.getElementById('report-form').hidden = true;
    document.getElementById('done').hidden = false;
    document.body.dataset.state = 'sent';
  } catch (error) {
    // A refused or failed submission keeps its draft; a spent or refused challenge is replaced.
    state.pow = null;
    startPow();
    showError(error instanceof ApiError ? refusalMessage(error) : t('common.networkError'));
  } finally {
    button.disabled = false;
    button.textContent = t('public.submit');
  }
}

async function main() {
  applyStatic();
  mountLangSwitch(document.getElementById('lang-switch'));
  const setTitle = () => { document.title = t('public.title'); };
  setTitle();
  onLangChange(() => { setTitle(); renderCategories(); renderPlace(); });
  document.getElementById('locate').addEventListener('click', locate);
  document.getElementById('photos').addEventListener('change', (e) => {
    addPhotos([...e.target.files]).finally(() => { e.target.value = ''; });
  });
  document.getElementById('report-form').addEventListener('submit', submit);
  document.getElementById('another').addEventListener('click', () => location.reload());
  startPow();
  try {
    state.categories = await publicJson('/api/v1/public/categories');
    renderCategories();
    document.body.dataset.state = 'ready';
  } catch (error) {
    document.body.dataset.state = 'error';
    showError(t('common.error', { detail: error.detail || error.message }));
  }
}

main();
