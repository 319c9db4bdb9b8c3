// The phone page's small map, to check the place and move it by hand: MapLibre over our own town and road
// tiles (no glyphs, no sprite, nothing from the internet), the open sites near the inspector, and the
// observation's point as a marker that can be dragged, or moved by tapping the map. A point moved by hand
// is the observation's place with `location_source: "map"`.
//
// MapLibre is loaded only when the map is opened, so the page stays light on a weak link. The tiles are not
// kept for offline use by this module (the service worker keeps what the map drew; towntiles.js the
// inspector's town ahead of time), nor are MapLibre's files (`mapFiles` names them for the worker to keep).

const CSS = '/vendor/maplibre-gl/maplibre-gl.css';
const MODULE = '/vendor/maplibre-gl/maplibre-gl.mjs';

/**
 * MapLibre's files the map loads, for the service worker to keep before the map was ever opened (a page
 * first opened without signal must draw it too): the unversioned module and CSS, and the versioned module
 * and its web worker the unversioned one leads to (`settings.vendor.maplibre`, src/http/vendor.rs).
 */
export function mapFiles(settings) {
  const versioned = settings?.vendor?.maplibre;
  return [CSS, MODULE, ...(versioned ? [`${versioned}/maplibre-gl.mjs`, `${versioned}/maplibre-gl-worker.mjs`] : [])];
}

const ROAD_COLOUR = ['match', ['get', 'class'], 'G', '#e0533d', 'S', '#f39c3c', 'X', '#f0c93a', '#a9a9a9'];
const EMPTY = { type: 'FeatureCollection', features: [] };

/**
 * The county's towns and roads from our own tiles, as MapLibre sources and layers, drawn in `crs` (`gcj02`
 * over a GCJ-02 base map). Towns and roads are the public layers: the public report page draws them too.
 */
export function countyLayers(crs = 'wgs84') {
  const query = crs === 'gcj02' ? '?crs=gcj02' : '';
  const tiles = (layer) => [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt${query}`];
  return {
    sources: {
      towns: { type: 'vector', tiles: tiles('towns'), maxzoom: 14 },
      roads: { type: 'vector', tiles: tiles('roads'), maxzoom: 14 },
    },
    layers: [
      { id: 'towns-outline', type: 'line', source: 'towns', 'source-layer': 'towns', paint: { 'line-color': '#7d8f7b', 'line-width': 1.2, 'line-dasharray': [3, 2] } },
      { id: 'roads-casing', type: 'line', source: 'roads', 'source-layer': 'roads', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#ffffff', 'line-width': 9 } },
      { id: 'roads', type: 'line', source: 'roads', 'source-layer': 'roads', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': ROAD_COLOUR, 'line-width': 5 } },
    ],
  };
}

function style() {
  const county = countyLayers();
  return {
    version: 8,
    sources: { ...county.sources, nearby: { type: 'geojson', data: EMPTY } },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef1ec' } },
      ...county.layers,
      { id: 'nearby-line', type: 'line', source: 'nearby', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#b45309', 'line-width': 4 } },
      { id: 'nearby-point', type: 'circle', source: 'nearby', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#b45309', 'circle-radius': 7, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 } },
    ],
  };
}

/**
 * Opens the map in `container` centred on `at` ({lon, lat}); `onMove({lon, lat})` is called when the point
 * is dragged or the map tapped. Returns {setPoint, setSites, remove, map}.
 */
export async function openPlaceMap(container, at, { onMove, label }) {
  if (!document.querySelector('link[data-maplibre]')) {
    document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: CSS }));
    document.head.lastElementChild.dataset.maplibre = '';
  }
  const maplibregl = await import(MODULE);
  const map = new maplibregl.Map({
    container,
    style: style(),
    center: [at.lon, at.lat],
    zoom: 17,
    maxPitch: 0,
    dragRotate: false,
    attributionControl: false,
  });
  map.touchZoomRotate.disableRotation();
  const marker = new maplibregl.Marker({ draggable: true, color: '#0b2545' }).setLngLat([at.lon, at.lat]).addTo(map);
  marker.getElement().setAttribute('aria-label', label);
  marker.getElement().setAttribute('role', 'img');
  const moved = () => {
    const p = marker.getLngLat();
    onMove({ lon: p.lng, lat: p.lat });
  };
  marker.on('dragend', moved);
  map.on('click', (e) => {
    marker.setLngLat(e.lngLat);
    moved();
  });
  // How many town and road features are drawn (for tests: the map without signal draws from kept tiles).
  map.on('idle', () => {
    container.dataset.drawn = String(map.queryRenderedFeatures({ layers: ['towns-outline', 'roads'] }).length);
  });
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  container.dataset.state = 'ready';
  return {
    map,
    setPoint(p) {
      marker.setLngLat([p.lon, p.lat]);
      map.easeTo({ center: [p.lon, p.lat], duration: 0 });
    },
    setSites(sites) {
      const source = map.getSource('nearby');
      if (source) source.setData({ type: 'FeatureCollection', features: sites.map((s) => ({ type: 'Feature', geometry: s.geometry, properties: { code: s.code } })) });
    },
    remove() {
      map.remove();
      delete container.dataset.state;
    },
  };
}
