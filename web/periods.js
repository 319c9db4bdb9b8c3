// Reporting periods as the server names them (domain::report::Period): ISO weeks `2026-W48`, months `2026-11`
// and quarters `2026Q4`, in county dates (China time, whatever the device's zone). The reports page steps
// through them and the map names the period of a report's figure filter; the server parses the codes again
// and is the judge of what a period holds.
//
// Pure functions of their arguments, apart from `todayInChina()`: dates are handled as UTC midnights, so no
// daylight-saving rule of the device can move a day.

import { t, isEnglish } from './i18n.js';

export const KINDS = ['week', 'month', 'quarter'];

const DAY_MS = 86_400_000;
const QUARTER_ZH = ['一', '二', '三', '四'];

/** Today's county date (Asia/Shanghai) as a UTC midnight. */
export function todayInChina(now = new Date()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(now).map((p) => [p.type, p.value]));
  return new Date(Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)));
}

/** The ISO week of a date: {year, week} (ISO 8601: the week with the year's first Thursday is week 1). */
function isoWeek(date) {
  const thursday = new Date(date.getTime() + (3 - ((date.getUTCDay() + 6) % 7)) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week = 1 + Math.round(((thursday - jan4) / DAY_MS - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return { year, week };
}

/** Monday of ISO week `week` of `year`. */
function isoWeekStart(year, week) {
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday = new Date(jan4.getTime() - ((jan4.getUTCDay() + 6) % 7) * DAY_MS);
  return new Date(monday.getTime() + (week - 1) * 7 * DAY_MS);
}

const pad = (n) => String(n).padStart(2, '0');

/** The code of the period of `kind` that holds the date (a UTC midnight). */
export function periodOf(kind, date) {
  if (kind === 'week') {
    const { year, week } = isoWeek(date);
    return `${year}-W${pad(week)}`;
  }
  if (kind === 'month') return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}`;
  return `${date.getUTCFullYear()}Q${Math.floor(date.getUTCMonth() / 3) + 1}`;
}

/** Reads a code: {kind, code, start} (start a UTC midnight), or null when it is not a code of that kind. */
export function parsePeriod(kind, code) {
  const text = String(code || '');
  let match;
  if (kind === 'week' && (match = /^(\d{4})-W(\d{2})$/.exec(text))) {
    const year = Number(match[1]);
    const week = Number(match[2]);
    const start = isoWeekStart(year, week);
    if (week < 1 || isoWeek(start).year !== year) return null;
    return { kind, code: text, start, year, week };
  }
  if (kind === 'month' && (match = /^(\d{4})-(\d{2})$/.exec(text))) {
    const year = Number(match[1]);
    const month = Number(match[2]);
    if (month < 1 || month > 12) return null;
    return { kind, code: text, start: new Date(Date.UTC(year, month - 1, 1)), year, month };
  }
  if (kind === 'quarter' && (match = /^(\d{4})-?Q([1-4])$/.exec(text))) {
    const year = Number(match[1]);
    const quarter = Number(match[2]);
    return { kind, code: `${year}Q${quarter}`, start: new Date(Date.UTC(year, 3 * quarter - 3, 1)), year, quarter };
  }
  return null;
}

/** The code `n` periods after `code` (before it for a negative `n`). */
export function shiftPeriod(kind, code, n) {
  const p = parsePeriod(kind, code);
  if (!p) return null;
  if (kind === 'week') return periodOf(kind, new Date(p.start.getTime() + n * 7 * DAY_MS));
  const months = kind === 'month' ? n : 3 * n;
  return periodOf(kind, new Date(Date.UTC(p.start.getUTCFullYear(), p.start.getUTCMonth() + months, 1)));
}

/** The period of `kind` running now (not over yet). */
export function currentPeriod(kind, now = new Date()) {
  return periodOf(kind, todayInChina(now));
}

/** The last period of `kind` that has ended: what the server reports when no period is asked for. */
export function lastCompletePeriod(kind, now = new Date()) {
  return shiftPeriod(kind, currentPeriod(kind, now), -1);
}

/** `count` codes ending with `last`, newest first (a period select's options). */
export function periodsBack(kind, last, count) {
  const out = [];
  for (let i = 0; i < count; i += 1) out.push(shiftPeriod(kind, last, -i));
  return out;
}

/** How a period is named in the current language: 2026年11月 / November 2026, 2026年第48周 / Week 48, 2026. */
export function periodTitle(kind, code) {
  const p = parsePeriod(kind, code);
  if (!p) return code || '';
  if (kind === 'week') return t('period.week', { year: p.year, week: p.week });
  if (kind === 'month') {
    // The month by its English name, or its number in Chinese (2026年11月).
    const month = isEnglish()
      ? new Intl.DateTimeFormat('en', { month: 'long', timeZone: 'UTC' }).format(p.start) : String(p.month);
    return t('period.month', { year: p.year, month });
  }
  return t('period.quarter', { year: p.year, quarter: isEnglish() ? String(p.quarter) : QUARTER_ZH[p.quarter - 1] });
}
