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

// ---------------------------------------------------------------------------------------------------------
// A road section as a track: fixes while recording, poor ones dropped, simplified before sending.

/** A fix coarser than this is not put on a track. */
export const TRACK_ACCURACY_MAX_M = 30;
/** A fix closer than this to the last point kept adds nothing to a track. */
export const TRACK_STEP_M = 5;
/** The server's limit on a LineString's positions (`domain::observation::LINE_POINTS_MAX`). */
export const LINE_POINTS_MAX = 500;

/** Whether a fix goes on a track whose last point is `last`: accurate enough and far enough from it. */
export function trackAccepts(last, fix) {
  if (!(Number.isFinite(fix.accuracy_m) && fix.accuracy_m <= TRACK_ACCURACY_MAX_M)) return false;
  return !last || distanceM(last, fix) >= TRACK_STEP_M;
}

/** Douglas–Peucker on {lon, lat} points with a tolerance in metres (distances on a local plane). */
export function douglasPeucker(points, toleranceM) {
  if (points.length <= 2) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [first, last] = stack.pop();
    let worst = -1;
    let worstM = 0;
    for (let i = first + 1; i < last; i += 1) {
      const d = toSegmentM(points[i], points[first], points[last]);
      if (d > worstM) {
        worstM = d;
        worst = i;
      }
    }
    if (worst >= 0 && worstM > toleranceM) {
      keep[worst] = 1;
      stack.push([first, worst], [worst, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

/**
 * A track simplified for sending: Douglas–Peucker at 2 m, the tolerance doubled until it has at most
 * `max` points (the server's limit).
 */
export function simplifyTrack(points, max = LINE_POINTS_MAX) {
  let tolerance = 2;
  let line = douglasPeucker(points, tolerance);
  while (line.length > max) {
    tolerance *= 2;
    line = douglasPeucker(points, tolerance);
  }
  return line;
}
