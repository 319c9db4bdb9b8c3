// The public report page (随手拍, issue 13): anyone, without an account, reports a road hazard from their
// phone: where (the Geolocation API, or a tap on a small map of the county's towns and roads, the public
// tile layers, over the server's first base map when it has one), what (a public category), 1–3 photos (resized on the phone by
// photos.js, as the inspectors' page does, with what each original's EXIF said sent beside it as
// evidence for staff), a description and an optional phone number. The server asks a
// small proof of work (pow.js), solved while the form is filled in; a hidden field catches form-filling
// robots. The draft's `submission_id` is kept until the server has answered, so sending again after a lost
// answer is recognised and stores nothing twice. On success the page shows the tracking link.

import { ApiError, h, fill, readResponse } from './common.js';
import { t, isEnglish, applyStatic, mountLangSwitch, onLangChange } from './i18n.js';
import { preparePhoto } from './photos.js';
import { solve } from './pow.js';
import { baseMapChoices, baseMapStyle } from './basemaps.js';
import { countyLayers } from './placemap.js';
import { wgs84ToGcj02 } from './coords.js';

const PHOTOS_MAX = 3;
const DEVICE_KEY = 'roadledger.publicDevice';
const SUBMISSION_KEY = 'roadledger.publicSubmission';

const state = { place: null, photos: [], categories: [], pow: null, map: null, mapInfo: null };

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
  let text = t('public.noPlace');
  if (p && p.accuracy != null) {
    text = t('public.placeAt', { lon: p.lon.toFixed(5), lat: p.lat.toFixed(5), accuracy: Math.round(p.accuracy) });
  } else if (p) {
    text = t('public.placeOnMap', { lon: p.lon.toFixed(5), lat: p.lat.toFixed(5) });
  }
  document.getElementById('place').textContent = text;
}

function locate() {
  if (!navigator.geolocation) {
    showError(t('public.noGeolocation'));
    return;
  }
  document.getElementById('place').textContent = t('public.locating');
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      state.place = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy, crs: 'wgs84' };
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

/**
 * Opens the small map over the first of the server's base maps; a tap (or dragging the marker) places the
 * report, in the base map's coordinate system (GCJ-02 for AMap or Tencent tiles), which the server converts.
 */
async function pickOnMap() {
  const container = document.getElementById('pick-map');
  container.hidden = false;
  if (state.map) return;
  // The first of the server's base maps, else none: the county's towns and roads are drawn over it either way.
  const choices = baseMapChoices({ base_maps: state.mapInfo.base_maps });
  const choice = choices[1] || choices[0];
  if (!document.querySelector('link[data-maplibre]')) {
    const css = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/vendor/maplibre-gl/maplibre-gl.css' });
    css.dataset.maplibre = '';
    document.head.append(css);
  }
  const maplibregl = await import('/vendor/maplibre-gl/maplibre-gl.mjs');
  const base = baseMapStyle(choice);
  const county = countyLayers(choice.crs);
  const sources = { ...base.sources, ...county.sources };
  const layers = [...base.layers, ...county.layers];
  // Where to open: the phone's fix if there is one, else the county's middle.
  let at = state.place && state.place.crs === 'wgs84' ? [state.place.lon, state.place.lat] : state.mapInfo.centre;
  if (at && choice.crs === 'gcj02') at = wgs84ToGcj02(at);
  const map = new maplibregl.Map({
    container,
    style: { version: 8, sources, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1ec' } }, ...layers] },
    center: at || [120.55, 31.87],
    zoom: state.place ? 17 : 12,
    maxPitch: 0,
    dragRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  const marker = new maplibregl.Marker({ draggable: true, color: '#0b2545' });
  marker.getElement().setAttribute('aria-label', t('public.marker'));
  const placed = (lngLat) => {
    marker.setLngLat(lngLat).addTo(map);
    state.place = { lon: lngLat.lng, lat: lngLat.lat, accuracy: null, crs: choice.crs };
    showError('');
    renderPlace();
  };
  map.on('click', (e) => placed(e.lngLat));
  marker.on('dragend', () => placed(marker.getLngLat()));
  state.map = map;
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  container.dataset.state = 'ready';
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
      crs: state.place.crs,
      ...(state.place.accuracy != null ? { accuracy_m: Math.min(state.place.accuracy, 10000) } : {}),
      phone: document.getElementById('phone').value.trim() || null,
      device_id: kept(DEVICE_KEY, () => randomHex(16)),
      website: document.getElementById('website').value,
      challenge: pow.challenge,
      nonce: pow.nonce,
      // Resizing drops each photo's EXIF: what the original said is sent beside it, as evidence for staff.
      photo_evidence: state.photos.map((p) => p.evidence || {}),
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
  document.getElementById('pick').addEventListener('click', () => {
    pickOnMap().catch((error) => showError(t('common.error', { detail: error.message })));
  });
  document.getElementById('photos').addEventListener('change', (e) => {
    addPhotos([...e.target.files]).finally(() => { e.target.value = ''; });
  });
  document.getElementById('report-form').addEventListener('submit', submit);
  document.getElementById('another').addEventListener('click', () => location.reload());
  startPow();
  try {
    [state.categories, state.mapInfo] = await Promise.all([
      publicJson('/api/v1/public/categories'),
      publicJson('/api/v1/public/map'),
    ]);
    renderCategories();
    document.body.dataset.state = 'ready';
  } catch (error) {
    document.body.dataset.state = 'error';
    showError(t('common.error', { detail: error.detail || error.message }));
  }
}

main();
