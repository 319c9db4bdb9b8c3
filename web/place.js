// Where the inspector stands, and how far to trust it: the fix's accuracy and age, the rule that a stale or
// coarse fix is confirmed before it is used, and distances from a point to a site's geometry. No DOM here
// beyond the text of a fix; the rules match the server's (`domain::observation::fix_needs_confirmation`).

import { distanceM } from './common.js';
import { t } from './i18n.js';

/** A fix older than this (seconds) is confirmed before it is used. */
export const FIX_AGE_CONFIRM_S = 30;
/** A fix coarser than this (metres) is confirmed before it is used. */
export const FIX_ACCURACY_CONFIRM_M = 50;

/** How old a fix is, in seconds, at `now` (ms since the epoch); a fix carries `t`, its time in ms. */
export function fixAgeS(fix, now = Date.now()) {
  return Math.max(0, (now - fix.t) / 1000);
}

/**
 * Whether a fix must be confirmed before it is used: older than 30 s or worse than 50 m (an unknown
 * accuracy too). `ageS` is the age when it was taken as the place (or now).
 */
export function needsConfirmation(accuracyM, ageS) {
  return ageS > FIX_AGE_CONFIRM_S || !(Number.isFinite(accuracyM) && accuracyM <= FIX_ACCURACY_CONFIRM_M);
}

/** "±8 米 · 3 秒前": the accuracy and the age of a fix, as the inspector reads it. */
export function fixText(fix, now = Date.now()) {
  const age = Math.round(fixAgeS(fix, now));
  const ageText = age < 60 ? t('place.ageSeconds', { s: age }) : t('place.ageMinutes', { m: Math.floor(age / 60) });
  return `${t('inspect.accuracyShort', { m: Math.round(fix.accuracy_m) })} · ${ageText}`;
}

/** Metres from a point to the segment a–b, on a local plane around the point (good to centimetres at 200 m). */
function toSegmentM(p, a, b) {
  const kx = 111_320 * Math.cos((p.lat * Math.PI) / 180);
  const ky = 110_574;
  const ax = (a.lon - p.lon) * kx;
  const ay = (a.lat - p.lat) * ky;
  const bx = (b.lon - p.lon) * kx;
  const by = (b.lat - p.lat) * ky;
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const s = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
  return Math.hypot(ax + s * dx, ay + s * dy);
}

/** Metres from a point {lon, lat} to a GeoJSON Point or LineString (its nearest point). */
export function distanceToGeometryM(p, geometry) {
  if (!geometry) return Infinity;
  const at = ([lon, lat]) => ({ lon, lat });
  if (geometry.type === 'Point') return distanceM(p, at(geometry.coordinates));
  if (geometry.type === 'LineString') {
    const c = geometry.coordinates;
    if (c.length === 1) return distanceM(p, at(c[0]));
    let best = Infinity;
    for (let i = 1; i < c.length; i += 1) best = Math.min(best, toSegmentM(p, at(c[i - 1]), at(c[i])));
    return best;
  }
  return Infinity;
}
