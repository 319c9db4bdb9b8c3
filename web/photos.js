// Photos as the inspector's phone sends them: light, with the original's EXIF kept as evidence.
//
// A 12 MP camera photo is 3–5 MB; a day's 600 of them would fill the outbox (IndexedDB) and take minutes per
// observation on a 2G/3G link. So before a photo is queued it is decoded with `createImageBitmap`
// (`imageOrientation: 'from-image'`: the EXIF orientation is applied, the result stands upright), drawn to
// an `OffscreenCanvas` (a plain canvas where there is none) no larger than PHOTO_SIDE_MAX_PX on its longest
// side, and encoded as JPEG at quality 0.82; if that is over PHOTO_BYTES_TARGET, the quality steps down by
// 0.08 (0.74, 0.66) to no lower than 0.6, and the smallest result is kept even if still over (the server
// takes up to its own limit). A JPEG already within both limits and upright is sent as it is.
//
// Re-encoding drops the EXIF, which is the photo's evidence (when, where, which way, which camera). So the
// original's first 128 KB are read first with a small JPEG APP1/TIFF reader, and what it says goes with the
// observation as fields (`photo_evidence`, one entry per photo; src/domain/photo_evidence.rs), which the
// server checks against the record. Android browsers often strip GPS from photos picked in a page
// (DOMAIN.md §5): then there is simply no position in the evidence.
//
// A county may require originals (`require_original_photos` in /api/v1/settings): the photo is then sent as
// taken, still with its evidence fields.

export const PHOTO_SIDE_MAX_PX = 2048;
export const PHOTO_BYTES_TARGET = 500 * 1024;
const QUALITY_START = 0.82;
const QUALITY_STEP = 0.08;
const QUALITY_MIN = 0.6;
/** Only the start of the file is read for EXIF: APP1 comes first and is at most 64 KB. */
export const EXIF_READ_BYTES = 128 * 1024;
const DEVICE_CHARS_MAX = 64;

/** Photos are prepared one at a time: a decoded 12 MP photo is 48 MB, and a phone may have little memory. */
let queue = Promise.resolve();

/**
 * Makes a picked photo ready to queue: `{blob, name, type, evidence}`, where `blob` is the photo to send and
 * `evidence` what its original said (fields absent when unknown). Never fails: a photo that cannot be decoded
 * or encoded here is sent as it is (the server says what is wrong with it).
 */
export function preparePhoto(file, options = {}) {
  const prepared = queue.then(() => prepare(file, options));
  queue = prepared.catch(() => {});
  return prepared;
}

async function prepare(file, { requireOriginals = false }) {
  const exif = await file.slice(0, EXIF_READ_BYTES).arrayBuffer().then(readExif).catch(() => ({ fields: {} }));
  const evidence = { ...exif.fields, original_bytes: file.size };
  delete evidence.orientation;
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    // Not decodable here (the server will say why): send it as it is.
  }
  if (bitmap) {
    evidence.original_width = bitmap.width;
    evidence.original_height = bitmap.height;
  }
  const asIs = { blob: file, name: file.name, type: file.type, evidence };
  if (!bitmap) return asIs;
  try {
    const longest = Math.max(bitmap.width, bitmap.height);
    const upright = !exif.fields.orientation || exif.fields.orientation === 1;
    const small = file.type === 'image/jpeg' && longest <= PHOTO_SIDE_MAX_PX && file.size <= PHOTO_BYTES_TARGET && upright;
    if (requireOriginals || small) return asIs;
    const scale = Math.min(1, PHOTO_SIDE_MAX_PX / longest);
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const blob = await encode(bitmap, width, height);
    return { blob, name: jpegName(file.name), type: 'image/jpeg', evidence };
  } catch (error) {
    console.warn('photo kept as taken', error);
    return asIs;
  } finally {
    bitmap.close();
  }
}

/** Draws the bitmap at width × height and encodes JPEG, stepping the quality down until it fits. */
async function encode(bitmap, width, height) {
  let canvas;
  let toBlob;
  if (typeof OffscreenCanvas !== 'undefined') {
    canvas = new OffscreenCanvas(width, height);
    toBlob = (quality) => canvas.convertToBlob({ type: 'image/jpeg', quality });
  } else {
    canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    toBlob = (quality) => new Promise((resolve, reject) => canvas.toBlob(
      (b) => (b ? resolve(b) : reject(new Error('canvas.toBlob gave nothing'))), 'image/jpeg', quality));
  }
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, width, height);
  let best = null;
  for (let quality = QUALITY_START; quality >= QUALITY_MIN - 1e-9; quality -= QUALITY_STEP) {
    const blob = await toBlob(Math.max(quality, QUALITY_MIN));
    if (!best || blob.size < best.size) best = blob;
    if (blob.size <= PHOTO_BYTES_TARGET) break;
  }
  // Free the canvas' pixels now rather than at the next collection (a 2048 px canvas is 16 MB).
  canvas.width = 0;
  canvas.height = 0;
  return best;
}

function jpegName(name) {
  const base = (name || 'photo').replace(/\.[^.]*$/, '');
  return `${base}.jpg`;
}

// ---------------------------------------------------------------------------------------------------------
// EXIF (CIPA DC-008, TIFF 6.0): APP1 "Exif\0\0", then a TIFF header and IFDs. Bounded and forgiving: anything
// out of bounds or malformed is skipped, never thrown past readExif.

const TAG = {
  make: 0x010f,
  model: 0x0110,
  orientation: 0x0112,
  dateTime: 0x0132,
  exifIfd: 0x8769,
  gpsIfd: 0x8825,
  dateTimeOriginal: 0x9003,
  offsetTimeOriginal: 0x9011,
  gpsLatitudeRef: 1,
  gpsLatitude: 2,
  gpsLongitudeRef: 3,
  gpsLongitude: 4,
  gpsImgDirection: 0x11,
};
const TYPE_SIZE = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };
const IFD_ENTRIES_MAX = 512;

/**
 * Reads the EXIF of a JPEG's first bytes: `{fields: {taken_at, utc_offset, lon, lat, direction_deg, device,
 * orientation}}`, each present only when the file says something sensible.
 */
export async function readExif(buffer) {
  const tiff = findTiff(new DataView(buffer));
  if (!tiff) return { fields: {} };
  const fields = {};
  try {
    Object.assign(fields, parseTiff(tiff));
  } catch {
    // A malformed directory: keep what was read before it.
  }
  return { fields };
}

/** The TIFF block inside the APP1 Exif segment, as a DataView, or null. */
function findTiff(view) {
  if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;
  let at = 2;
  while (at + 4 <= view.byteLength) {
    if (view.getUint8(at) !== 0xff) return null;
    const marker = view.getUint8(at + 1);
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0xda || marker === 0xd9) return null; // image data: no EXIF before it
    const length = view.getUint16(at + 2);
    if (length < 2) return null;
    if (marker === 0xe1 && length >= 14 && at + 10 <= view.byteLength
      && view.getUint32(at + 4) === 0x45786966 && view.getUint16(at + 8) === 0) { // "Exif\0\0"
      const start = at + 10;
      const end = Math.min(at + 2 + length, view.byteLength);
      return new DataView(view.buffer, view.byteOffset + start, end - start);
    }
    at += 2 + length;
  }
  return null;
}

function parseTiff(v) {
  const order = v.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return {};
  const little = order === 0x4949;
  const u16 = (o) => v.getUint16(o, little);
  const u32 = (o) => v.getUint32(o, little);
  if (u16(2) !== 42) return {};

  /** One IFD: tag → {type, count, at}, where `at` is where the value lies. */
  const ifd = (offset) => {
    const entries = new Map();
    if (!offset || offset + 2 > v.byteLength) return entries;
    const n = Math.min(u16(offset), IFD_ENTRIES_MAX);
    for (let i = 0; i < n; i++) {
      const e = offset + 2 + i * 12;
      if (e + 12 > v.byteLength) break;
      const type = u16(e + 2);
      const count = u32(e + 4);
      const size = (TYPE_SIZE[type] || 0) * count;
      if (!size) continue;
      const at = size <= 4 ? e + 8 : u32(e + 8);
      if (at + size > v.byteLength) continue;
      entries.set(u16(e), { type, count, at });
    }
    return entries;
  };
  const ascii = (entry) => {
    if (!entry || entry.type !== 2) return null;
    let s = '';
    for (let i = 0; i < Math.min(entry.count, 256); i++) {
      const c = v.getUint8(entry.at + i);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s.trim();
  };
  const rationals = (entry) => {
    if (!entry || (entry.type !== 5 && entry.type !== 10)) return null;
    const out = [];
    for (let i = 0; i < Math.min(entry.count, 8); i++) {
      const num = entry.type === 5 ? u32(entry.at + i * 8) : v.getInt32(entry.at + i * 8, little);
      const den = entry.type === 5 ? u32(entry.at + i * 8 + 4) : v.getInt32(entry.at + i * 8 + 4, little);
      out.push(den === 0 ? NaN : num / den);
    }
    return out;
  };
  const short = (entry) => (entry && entry.type === 3 ? u16(entry.at) : entry && entry.type === 4 ? u32(entry.at) : null);
  const pointer = (entry) => (entry && (entry.type === 4 || entry.type === 13) ? u32(entry.at) : null);

  const out = {};
  const ifd0 = ifd(u32(4));
  const orientation = short(ifd0.get(TAG.orientation));
  if (orientation >= 1 && orientation <= 8) out.orientation = orientation;
  const device = cleanText([ascii(ifd0.get(TAG.make)), ascii(ifd0.get(TAG.model))]);
  if (device) out.device = device;

  const exif = ifd(pointer(ifd0.get(TAG.exifIfd)));
  const taken = exifTime(ascii(exif.get(TAG.dateTimeOriginal))) || exifTime(ascii(ifd0.get(TAG.dateTime)));
  if (taken) out.taken_at = taken;
  const offset = ascii(exif.get(TAG.offsetTimeOriginal));
  if (taken && offset && /^[+-](0\d|1[0-4]):[0-5]\d$/.test(offset)) out.utc_offset = offset;

  const gps = ifd(pointer(ifd0.get(TAG.gpsIfd)));
  const dms = (entry) => {
    const r = rationals(entry);
    if (!r || !r.length) return null;
    const deg = r[0] + (r[1] || 0) / 60 + (r[2] || 0) / 3600;
    return Number.isFinite(deg) ? deg : null;
  };
  let lat = dms(gps.get(TAG.gpsLatitude));
  let lon = dms(gps.get(TAG.gpsLongitude));
  if (lat != null && lon != null) {
    if (ascii(gps.get(TAG.gpsLatitudeRef)) === 'S') lat = -lat;
    if (ascii(gps.get(TAG.gpsLongitudeRef)) === 'W') lon = -lon;
    // (0, 0) is what a camera without a fix writes.
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && (lat !== 0 || lon !== 0)) {
      out.lon = round(lon, 7);
      out.lat = round(lat, 7);
    }
  }
  const direction = rationals(gps.get(TAG.gpsImgDirection))?.[0];
  if (Number.isFinite(direction) && direction >= 0 && direction <= 360) out.direction_deg = round(direction, 2);
  return out;
}

/** "2026:11:30 09:14:52" → "2026-11-30T09:14:52"; null when it is not a real time. */
function exifTime(text) {
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text || '');
  if (!m) return null;
  const [, y, mo, d, hh, mi, ss] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, hh, mi, ss));
  if (y < 2000 || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || hh > 23 || mi > 59 || ss > 59) return null;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
}

/** Make and model, joined, without control characters, the model not repeating the make. */
function cleanText([make, model]) {
  const clean = (s) => (s || '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const mk = clean(make);
  const md = clean(model);
  const joined = md.toLowerCase().startsWith(mk.toLowerCase()) ? md : `${mk} ${md}`.trim();
  return [...joined].slice(0, DEVICE_CHARS_MAX).join('').trim() || null;
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;
