// Base maps of the map page (issue 9): what its switcher offers, how a choice becomes MapLibre sources and
// layers, and which coordinate system our own tiles must be drawn in to sit on it.
//
// The choices are: none (towns and roads from our own tiles are the background), the server's base maps
// (`base_maps` of GET /api/v1/settings: Tianditu's vector and imagery maps with their annotation, the operator's
// XYZ services), and the user's own XYZ service, which the page keeps in localStorage as `{url, crs}`.
//
// A base map is drawn in WGS-84 (Tianditu's CGCS2000 is WGS-84 at map scale) or in GCJ-02 (AMap, Tencent). Our
// geometries are WGS-84; over a GCJ-02 map the page asks for our tiles with `?crs=gcj02`
// (`/tiles/{sites,towns,roads}/{z}/{x}/{y}.mvt?crs=gcj02`), and the server shifts every vertex by the public
// formula (migrations/0007_gcj02.sql, the same as src/domain/coords.rs), so a site lands on its road.
//
// Pure functions apart from the language of the labels; tests/e2e/basemaps.mjs checks them in Chromium.

import { localName, t } from './i18n.js';

/** The id of the "no base map" choice, and of the user's own XYZ entry. */
export const NONE = 'none';
export const CUSTOM = 'custom';
/** Source and layer ids of the base map in the style (the annotation is the second). */
export const BASE_ID = 'basemap';
export const OVERLAY_ID = 'basemap-overlay';
/** A user's URL is at most this many bytes (the server's limit for --base-map too). */
export const URL_BYTES_MAX = 2048;
/** An XYZ service is assumed to reach this zoom; MapLibre over-zooms its tiles past it. */
const XYZ_MAX_ZOOM = 18;
/** At most this many subdomains in one `{a-d}` / `{1-4}` list. */
const SUBDOMAINS_MAX = 10;
const CRS = ['wgs84', 'gcj02'];

/**
 * The switcher's list: `none` first, then the server's base maps, then the user's own XYZ entry if it is valid.
 * Every choice has `{id, name, name_en, tiles, overlay_tiles, crs, attribution, max_zoom}`.
 * `settings`: the answer of GET /api/v1/settings (or null); `custom`: `{url, crs}` or null.
 */
export function baseMapChoices(settings, custom = null) {
  const choices = [{
    id: NONE, name: '', name_en: '', tiles: [], overlay_tiles: [], crs: 'wgs84', attribution: '', max_zoom: 24,
  }];
  const served = Array.isArray(settings?.base_maps) ? settings.base_maps : [];
  for (const map of served) {
    const tiles = Array.isArray(map?.tiles) ? map.tiles.filter((u) => typeof u === 'string') : [];
    if (typeof map?.id !== 'string' || !tiles.length || map.id === NONE || map.id === CUSTOM) continue;
    choices.push({
      id: map.id,
      name: String(map.name ?? map.id),
      name_en: String(map.name_en ?? map.name ?? map.id),
      tiles,
      overlay_tiles: Array.isArray(map.overlay_tiles) ? map.overlay_tiles.filter((u) => typeof u === 'string') : [],
      crs: CRS.includes(map.crs) ? map.crs : 'wgs84',
      attribution: typeof map.attribution === 'string' ? map.attribution : '',
      max_zoom: Number.isInteger(map.max_zoom) ? map.max_zoom : XYZ_MAX_ZOOM,
    });
  }
  const url = typeof custom?.url === 'string' ? custom.url.trim() : '';
  if (url && validXyzUrl(url).ok) {
    choices.push({
      id: CUSTOM,
      name: '',
      name_en: '',
      tiles: expandSubdomains(url),
      overlay_tiles: [],
      crs: custom.crs === 'gcj02' ? 'gcj02' : 'wgs84',
      attribution: '',
      max_zoom: XYZ_MAX_ZOOM,
    });
  }
  return choices;
}

/** A choice's name in the current language: ours from the locale files, the server's from name/name_en. */
export function choiceLabel(choice) {
  if (!choice) return '';
  const key = `basemap.${choice.id}`;
  const known = t(key);
  if (known !== key) return known;
  return localName(choice) || choice.id;
}

/**
 * Whether `text` is an XYZ tile URL the page can use: http(s) with a host, at most 2 KB, with `{x}`, `{y}` and
 * `{z}`, and no placeholder but those and one subdomain list (`{s}`, `{1-4}`, `{a-d}`). `reason` is the problem
 * in the current language (`key`: its locale key), or '' when ok.
 */
export function validXyzUrl(text) {
  const no = (key) => ({ ok: false, key, reason: t(key) });
  const url = typeof text === 'string' ? text.trim() : '';
  if (!url) return no('basemap.url.empty');
  if (new TextEncoder().encode(url).length > URL_BYTES_MAX) return no('basemap.url.tooLong');
  if (!/^https?:\/\//i.test(url)) return no('basemap.url.scheme');
  if (/[\s\u0000-\u001f\u007f"<>\\^`|]/.test(url)) return no('basemap.url.chars');
  // A host, and no user name or password (the URL parser would take `https:///…` as a URL of host `…`).
  const authority = url.replace(/^https?:\/\//i, '').split(/[/?#]/)[0];
  if (!authority || authority.includes('@')) return no('basemap.url.scheme');
  let lists = 0;
  for (const [placeholder] of url.matchAll(/\{[^}]*\}/g)) {
    if (['{x}', '{y}', '{z}'].includes(placeholder)) continue;
    if (!subdomains(placeholder)) return no('basemap.url.placeholder');
    lists += 1;
  }
  if (lists > 1 || /\{[^}]*$/.test(url)) return no('basemap.url.placeholder');
  if (!['{x}', '{y}', '{z}'].every((p) => url.includes(p))) return no('basemap.url.missing');
  // The URL parser sees a URL with every placeholder filled in: a host, and no user name or password.
  let parsed;
  try {
    parsed = new URL(expandSubdomains(url)[0].replace(/\{[xyz]\}/g, '0'));
  } catch {
    return no('basemap.url.scheme');
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || !parsed.hostname || parsed.username || parsed.password) {
    return no('basemap.url.scheme');
  }
  return { ok: true, key: '', reason: '' };
}

/**
 * The MapLibre sources and layers of a choice, to put beneath everything else in the style: the base map as a
 * raster layer, and its annotation (Tianditu's labels) as a second raster layer above it. None: nothing.
 */
export function baseMapStyle(choice) {
  if (!choice || choice.id === NONE || !choice.tiles?.length) return { sources: {}, layers: [] };
  const source = (tiles) => ({
    type: 'raster',
    tiles,
    tileSize: 256,
    maxzoom: choice.max_zoom ?? XYZ_MAX_ZOOM,
    ...(choice.attribution ? { attribution: escapeHtml(choice.attribution) } : {}),
  });
  const sources = { [BASE_ID]: source(choice.tiles) };
  const layers = [{ id: BASE_ID, type: 'raster', source: BASE_ID }];
  if (choice.overlay_tiles?.length) {
    sources[OVERLAY_ID] = source(choice.overlay_tiles);
    layers.push({ id: OVERLAY_ID, type: 'raster', source: OVERLAY_ID });
  }
  return { sources, layers };
}

/** The coordinate system our own tiles must be drawn in over this choice: `gcj02` or `wgs84`. */
export function tileCrs(choice) {
  return choice?.crs === 'gcj02' ? 'gcj02' : 'wgs84';
}

/** `{s}` (a, b, c) or a `{1-4}` / `{a-d}` range as its values; null for anything else. */
function subdomains(placeholder) {
  if (placeholder === '{s}') return ['a', 'b', 'c'];
  const range = /^\{([0-9])-([0-9])\}$|^\{([a-z])-([a-z])\}$/.exec(placeholder);
  if (!range) return null;
  const [first, last] = (range[1] ? [range[1], range[2]] : [range[3], range[4]]).map((c) => c.charCodeAt(0));
  if (first > last || last - first >= SUBDOMAINS_MAX) return null;
  return Array.from({ length: last - first + 1 }, (_, i) => String.fromCharCode(first + i));
}

/** One URL per subdomain (MapLibre has no `{s}`); the URL itself when it has no list. */
function expandSubdomains(url) {
  for (const [placeholder] of url.matchAll(/\{[^}]*\}/g)) {
    const values = subdomains(placeholder);
    if (values) return values.map((value) => url.replace(placeholder, value));
  }
  return [url];
}

/** MapLibre shows attribution as HTML: a name is text. */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

