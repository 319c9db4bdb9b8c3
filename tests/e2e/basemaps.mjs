// web/basemaps.js in a real browser, imported as the map page imports it: the switcher's choices from the
// server's settings and the user's own XYZ entry, their labels in both languages, the URL check, the MapLibre
// sources and layers of a choice (and that MapLibre, served from /vendor/, draws them: it asks Tianditu for the
// base map and its annotation), and the coordinate system our tiles are asked for.
//
//   node tests/e2e/basemaps.mjs <base-url> '<settings JSON>'
//   settings: the answer of GET /api/v1/settings of a server with a Tianditu key and one GCJ-02 --base-map.
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure.

import { launch, watchConsole, check, run, fail } from './lib.mjs';

const [base, settingsText] = process.argv.slice(2);
if (!base || !settingsText) fail('usage', 'usage: node tests/e2e/basemaps.mjs <base-url> <settings-json>');
const settings = JSON.parse(settingsText);

// A 1×1 PNG, the answer to every tile request that leaves this server.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

await run('basemaps', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 }, locale: 'zh-CN' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    // Tile servers are outside: answer for them, and count what MapLibre asked for.
    const asked = [];
    await context.route((url) => url.hostname.endsWith('.tianditu.gov.cn') || url.hostname.endsWith('.example.org'),
      (route) => {
        asked.push(route.request().url());
        route.fulfill({ status: 200, contentType: 'image/png', body: PNG });
      });
    // A public page of this server, so that /basemaps.js is imported from its own origin.
    await page.goto(new URL('/login.html', base).href);

    setStep('choices');
    const custom = { url: 'https://{s}.tile.example.org/{z}/{x}/{y}.png', crs: 'gcj02' };
    const choices = await page.evaluate(async ([s, c]) => {
      const m = await import('/basemaps.js');
      const labels = (list) => list.map((x) => m.choiceLabel(x));
      const all = m.baseMapChoices(s, c);
      const zh = labels(all);
      (await import('/i18n.js')).setLang('en');
      const en = labels(all);
      (await import('/i18n.js')).setLang('zh-CN');
      return {
        all,
        zh,
        en,
        withoutCustom: m.baseMapChoices(s, null).map((x) => x.id),
        badCustom: m.baseMapChoices(s, { url: 'https://tile.example.org/{z}/{x}.png', crs: 'gcj02' }).map((x) => x.id),
        noSettings: m.baseMapChoices(null, null).map((x) => x.id),
        nothingServed: m.baseMapChoices({ base_maps: [] }, c).map((x) => x.id),
      };
    }, [settings, custom]);
    const ids = choices.all.map((c) => c.id);
    check('choices', same(ids, ['none', 'tianditu_vec', 'tianditu_img', 'xyz1', 'custom']), `ids ${ids}`);
    check('choices', same(choices.withoutCustom, ['none', 'tianditu_vec', 'tianditu_img', 'xyz1']), `${choices.withoutCustom}`);
    check('choices', same(choices.badCustom, choices.withoutCustom), `an invalid custom URL is offered: ${choices.badCustom}`);
    check('choices', same(choices.noSettings, ['none']), `${choices.noSettings}`);
    check('choices', same(choices.nothingServed, ['none', 'custom']), `${choices.nothingServed}`);
    check('choices', same(choices.zh, ['无底图', '天地图矢量', '天地图影像', '高德', '自定义 XYZ']), `zh ${choices.zh}`);
    check('choices', same(choices.en, ['None', 'Tianditu vector', 'Tianditu imagery', '高德', 'Custom XYZ']), `en ${choices.en}`);
    const [, vec, , amap, mine] = choices.all;
    check('choices', same(vec.tiles, settings.base_maps[0].tiles) && same(vec.overlay_tiles, settings.base_maps[0].overlay_tiles),
      'the Tianditu choice must carry the server\'s tile URLs');
    check('choices', same(mine.tiles, ['a', 'b', 'c'].map((s) => `https://${s}.tile.example.org/{z}/{x}/{y}.png`)),
      `custom tiles ${mine.tiles}`);
    check('choices', mine.crs === 'gcj02' && amap.crs === 'gcj02' && vec.crs === 'wgs84', 'crs of the choices');

    setStep('validation');
    const cases = [
      ['https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}', ''],
      ['http://tile.example.org/{z}/{x}/{y}.png', ''],
      ['  https://{s}.tile.example.org/{z}/{x}/{y}.png  ', ''],
      ['https://t{a-d}.example.org/{z}/{x}/{y}', ''],
      ['', 'basemap.url.empty'],
      [`https://tile.example.org/{z}/{x}/{y}.png?pad=${'a'.repeat(2048)}`, 'basemap.url.tooLong'],
      ['ftp://tile.example.org/{z}/{x}/{y}.png', 'basemap.url.scheme'],
      ['javascript:alert(1)//{z}/{x}/{y}', 'basemap.url.scheme'],
      ['tile.example.org/{z}/{x}/{y}.png', 'basemap.url.scheme'],
      ['https:///{z}/{x}/{y}.png', 'basemap.url.scheme'],
      ['https://user:pw@tile.example.org/{z}/{x}/{y}.png', 'basemap.url.scheme'],
      ['https://tile.example.org/{z}/{x}/{y}.png x', 'basemap.url.chars'],
      ['https://tile.example.org/{z}/{x}/"{y}.png', 'basemap.url.chars'],
      ['https://tile.example.org/{z}/{x}.png', 'basemap.url.missing'],
      ['https://tile.example.org/{x}/{y}.png', 'basemap.url.missing'],
      ['https://tile.example.org/{z}/{x}/{y}/{foo}.png', 'basemap.url.placeholder'],
      ['https://{s}{1-4}.example.org/{z}/{x}/{y}.png', 'basemap.url.placeholder'],
      ['https://t{a-z}.example.org/{z}/{x}/{y}.png', 'basemap.url.placeholder'],
      ['https://tile.example.org/{z}/{x}/{y', 'basemap.url.placeholder'],
    ];
    const verdicts = await page.evaluate(async (urls) => {
      const m = await import('/basemaps.js');
      return urls.map((u) => m.validXyzUrl(u));
    }, cases.map(([url]) => url));
    cases.forEach(([url, key], i) => {
      const v = verdicts[i];
      check('validation', v.ok === (key === '') && v.key === key, `${url.slice(0, 80)}: ${JSON.stringify(v)}, expected ${key || 'ok'}`);
      check('validation', v.ok ? v.reason === '' : v.reason.length > 0 && v.reason !== key, `${url.slice(0, 80)}: no reason given`);
    });

    setStep('style');
    const styles = await page.evaluate(async (all) => {
      const m = await import('/basemaps.js');
      return all.map((c) => ({ style: m.baseMapStyle(c), crs: m.tileCrs(c) }));
    }, choices.all);
    const [none, vecStyle, , amapStyle, mineStyle] = styles;
    check('style', same(none.style, { sources: {}, layers: [] }), `none: ${JSON.stringify(none.style)}`);
    check('style', same(vecStyle.style.layers, [
      { id: 'basemap', type: 'raster', source: 'basemap' },
      { id: 'basemap-overlay', type: 'raster', source: 'basemap-overlay' },
    ]), `Tianditu layers ${JSON.stringify(vecStyle.style.layers)}`);
    const raster = (tiles, attribution) => ({ type: 'raster', tiles, tileSize: 256, maxzoom: 18, attribution });
    check('style', same(vecStyle.style.sources, {
      basemap: raster(vec.tiles, '天地图'), 'basemap-overlay': raster(vec.overlay_tiles, '天地图'),
    }), `Tianditu sources ${JSON.stringify(vecStyle.style.sources)}`);
    check('style', same(Object.keys(amapStyle.style.sources), ['basemap']) && amapStyle.style.layers.length === 1,
      `an XYZ service without annotation is one layer: ${JSON.stringify(amapStyle.style)}`);
    check('style', same(mineStyle.style.sources.basemap.tiles, mine.tiles) && !('attribution' in mineStyle.style.sources.basemap),
      `custom ${JSON.stringify(mineStyle.style)}`);
    const crs = styles.map((s) => s.crs);
    check('style', same(crs, ['wgs84', 'wgs84', 'wgs84', 'gcj02', 'gcj02']), `tile crs ${crs}`);
    const escaped = await page.evaluate(async () => {
      const m = await import('/basemaps.js');
      return m.baseMapStyle({ id: 'x', tiles: ['https://a/{z}/{x}/{y}'], attribution: '<img src=x onerror=alert(1)>' })
        .sources.basemap.attribution;
    });
    check('style', !escaped.includes('<'), `attribution is not escaped: ${escaped}`);

    setStep('maplibre');
    // MapLibre from /vendor/ draws the Tianditu style over Zhangjiagang: both the base map and its annotation
    // are asked for.
    const drawn = await page.evaluate(async (style) => {
      const maplibregl = await import('/vendor/maplibre-gl/maplibre-gl.mjs');
      const container = document.createElement('div');
      container.style.cssText = 'position:fixed;left:0;top:0;width:512px;height:512px';
      document.body.append(container);
      const map = new maplibregl.Map({
        container,
        style: { version: 8, sources: style.sources, layers: style.layers },
        center: [120.55, 31.87],
        zoom: 12,
      });
      await new Promise((resolve, reject) => {
        map.once('idle', resolve);
        map.once('error', (e) => reject(new Error(e.error?.message || 'map error')));
      });
      const layers = map.getStyle().layers.map((l) => l.id);
      map.remove();
      return { layers };
    }, vecStyle.style);
    check('maplibre', same(drawn.layers, ['basemap', 'basemap-overlay']), `layers ${drawn.layers}`);
    const layersAsked = new Set(asked.map((u) => new URL(u).searchParams.get('LAYER')));
    check('maplibre', layersAsked.has('vec') && layersAsked.has('cva'), `tiles asked for: ${[...layersAsked]}`);
    return { choices: ids, validated: cases.length, tilesAsked: asked.length };
  } finally {
    await browser.close();
  }
});
