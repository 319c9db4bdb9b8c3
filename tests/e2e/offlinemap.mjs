// The inspector's town kept for the small map ahead of time (web/towntiles.js), on a 390 px phone signed in as
// an inspector of the city office (no town of its own), standing in the south-west of the town:
//  1. online, without ever opening the map, the page keeps the town's towns and roads tiles and says so
//     ("离线底图：已缓存 杨舍镇 n/n"); nothing lands in the cache of tiles drawn while browsing. The tiles come
//     slowly, and the signal goes after ten: the page stops and says so ("…，有信号时继续"), and finishes
//     once the signal is back. Kept again while an observation's upload is held for 3 s, no tile is asked for
//     until the upload has gone;
//  2. offline, after a reload, the map is opened and moved to the town's north-east corner, 9 km away, a part
//     the page never drew: the town's boundary is drawn there (queryRenderedFeatures), from the kept tiles;
//  3. back online, the map browses in and out of the town: the town's tiles stay in their own cache, and the
//     cache of tiles drawn while browsing (which drops its oldest beyond 2 000) holds none of them.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> node tests/e2e/offlinemap.mjs <base-url> <lon> <lat> <far-lon> <far-lat>
//
// Prints one JSON line ({"ok": true, "kept": {...}, "drawn_far": n} or {"ok": false, "step", "error"}).

import { launch, phoneContext, watchConsole, check, run, fail, credentials, signIn, screenshot } from './lib.mjs';

const [base, ...coords] = process.argv.slice(2);
const [lon, lat, farLon, farLat] = coords.map(Number);
if (!base || coords.length !== 4 || coords.map(Number).some(Number.isNaN)) {
  fail('usage', 'usage: node tests/e2e/offlinemap.mjs <base-url> <lon> <lat> <far-lon> <far-lat>');
}
const account = credentials();
const TIMEOUT_MS = 60_000;

/** Moves the open small map to `center` at `zoom` and counts the town outlines and roads drawn once it settles. */
async function drawnAt(page, center, zoom) {
  return page.evaluate(async ({ center, zoom }) => {
    const map = window.roadledger.placeMap();
    const idle = new Promise((resolve) => { map.once('idle', resolve); });
    map.jumpTo({ center, zoom });
    // Bounded: a map that stopped rendering still answers what it drew.
    await Promise.race([idle, new Promise((resolve) => { setTimeout(resolve, 20_000); })]);
    return map.queryRenderedFeatures({ layers: ['towns-outline', 'roads'] }).length;
  }, { center, zoom });
}

await run('offlinemap', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, { longitude: lon, latitude: lat, accuracy: 6 });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

    // The town's tiles come slowly (a weak link), so the signal can go while they are being kept; an upload
    // can be held, to see that no tile is asked for while it is under way.
    const upload = { holding: false, tilesMeanwhile: 0, tiles: 0 };
    await context.route(/\/tiles\/(towns|roads)\//, async (route) => {
      if (route.request().headers()['x-roadledger-precache']) {
        upload.tiles += 1;
        if (upload.holding) upload.tilesMeanwhile += 1;
        await new Promise((resolve) => { setTimeout(resolve, 150); });
      }
      await route.continue().catch(() => {}); // offline meanwhile: the page sees the failure
    });

    setStep('sign in');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await page.waitForSelector('body[data-state="ready"]');

    setStep('signal lost while keeping');
    await page.waitForFunction(() => Number(document.querySelector('#offline-map')?.dataset.done) >= 10);
    await context.setOffline(true);
    await page.waitForSelector('#offline-map[data-state="paused"]');
    const paused = {
      line: (await page.textContent('#offline-map')).trim(),
      done: Number(await page.getAttribute('#offline-map', 'data-done')),
      total: Number(await page.getAttribute('#offline-map', 'data-total')),
    };
    check('signal lost while keeping', paused.done < paused.total && paused.line.endsWith('有信号时继续'),
      `without signal the line reads: ${paused.line}`);
    await context.setOffline(false);

    setStep('kept online');
    await page.waitForSelector('#offline-map[data-state="done"]', { timeout: 120_000 });
    const line = (await page.textContent('#offline-map')).trim();
    const kept = {
      line,
      done: Number(await page.getAttribute('#offline-map', 'data-done')),
      total: Number(await page.getAttribute('#offline-map', 'data-total')),
      ...(await page.evaluate(async () => {
        const town = await caches.open('roadledger-town-tiles-v1');
        const keys = await town.keys();
        let bytes = 0;
        for (const key of keys) bytes += (await (await town.match(key)).arrayBuffer()).byteLength;
        const browsed = (await caches.keys()).includes('roadledger-tiles-v1')
          ? (await (await caches.open('roadledger-tiles-v1')).keys()).length : 0;
        return { cached: keys.length, bytes, browsed };
      })),
    };
    check('kept online', line === `离线底图：已缓存 杨舍镇 ${kept.total}/${kept.total}` && kept.total > 0,
      `the status line reads: ${line}`);
    check('kept online', kept.cached === kept.total && kept.browsed === 0,
      `${kept.cached} tiles kept of ${kept.total}, ${kept.browsed} in the browsing cache`);
    // The worker keeps MapLibre too, though the map was never opened.
    await page.evaluate(() => window.roadledger.startUpKept);

    setStep('the outbox first');
    // The town is kept again (as after a week) while an observation is being sent: its upload is held for
    // 3 s, and no tile is asked for until it has gone.
    let uploadStarted;
    const started = new Promise((resolve) => { uploadStarted = resolve; });
    await context.route('**/api/v1/observations', async (route) => {
      upload.holding = true;
      uploadStarted();
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
      upload.holding = false;
      await route.continue();
    });
    await page.evaluate(() => localStorage.removeItem('roadledger.townTiles'));
    await page.tap('#use-location');
    await page.tap('#submit');
    await started;
    upload.tiles = 0;
    await page.evaluate(() => window.roadledger.keepTownTiles());
    await page.waitForSelector('#result[data-state="success"]');
    await page.waitForSelector('#offline-map[data-state="running"]');
    await page.waitForSelector('#offline-map[data-state="done"]');
    check('the outbox first', upload.tilesMeanwhile === 0 && upload.tiles === kept.total,
      `${upload.tilesMeanwhile} tiles were asked for while the upload was under way, ${upload.tiles} in all`);
    await context.unroute('**/api/v1/observations');

    setStep('offline');
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForFunction((t) => document.querySelector('#loc-coords')?.textContent.startsWith(t), `${lat.toFixed(6)}, ${lon.toFixed(6)}`);
    const offlineLine = (await page.textContent('#offline-map')).trim();
    await page.tap('#map-toggle');
    await page.waitForSelector('#place-map[data-state="ready"]');
    const drawnHere = await drawnAt(page, [lon, lat], 15);
    const drawnFar = await drawnAt(page, [farLon, farLat], 15);
    await screenshot(page, 'inspect-offline-map');
    check('offline', drawnFar > 0, `without signal, the map draws ${drawnFar} town or road features at the far corner (${drawnHere} at the fix)`);

    setStep('browsing online');
    // Back online, the map browses the town and beyond: the town's tiles are refreshed in their own cache, and
    // the cache of tiles drawn while browsing (trimmed to 2 000) holds none of them.
    await context.setOffline(false);
    await drawnAt(page, [farLon, farLat], 12);
    await drawnAt(page, [lon, lat], 16);
    await drawnAt(page, [lon - 0.05, lat], 15); // 5 km west: outside the town
    const browsing = await page.evaluate(async () => {
      const keys = async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
      const town = new Set(await keys('roadledger-town-tiles-v1'));
      const browsed = await keys('roadledger-tiles-v1');
      return { town: town.size, browsed: browsed.length, shared: browsed.filter((p) => town.has(p)).length };
    });
    check('browsing online', browsing.browsed > 0 && browsing.shared === 0 && browsing.town === kept.total,
      `after browsing: ${JSON.stringify(browsing)} (the town kept ${kept.total})`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { paused, tiles_during_upload: upload.tilesMeanwhile, kept, offline_line: offlineLine, drawn_here: drawnHere, drawn_far: drawnFar, browsing };
  } finally {
    await browser.close();
  }
});
