// The map page in a real browser, signed in, drawn from vector tiles:
//  - opening it without a session leads to the sign-in page and back; the top bar names the user;
//  - the legend counts match the database; zoomed out, the grid cells add up to the total; zoomed in, the
//    sites are drawn one by one and clicking one opens its panel (facts, before/after photos that really
//    loaded, link to the site page);
//  - a filter (kind) changes the legend counts, the cells and the drawn sites, and goes into the address; the
//    address opened in a new tab gives the same filter, view and layers (a shared link);
//  - a status hidden in the legend is no longer drawn; the layer switcher hides the roads;
//  - the export links carry the filter and answer GeoJSON and KML with the filtered sites;
//  - over a GCJ-02 base map (a custom XYZ URL, served here by the test), the tiles are asked for in GCJ-02 and a
//    site is drawn where the GCJ-02 formula puts it (computed by the Rust test), and the page's own formula
//    (coords.js, for town labels) agrees with the Rust one;
//  - the language switch changes the labels (and is remembered); axe-core finds no serious or critical WCAG
//    2.1 A/AA violation; signing out closes the map.
//
//   E2E_USER=<name> E2E_PASSWORD=<password> node tests/e2e/map.mjs <base-url> '<expectations JSON>'
//   expectations: {"total": 4, "counts": {"reported": 2, ...}, "overdue": 1,
//                  "site": {"code": "YH-000001", "id": "<uuid>", "photos": 1, "lnglat": [lon, lat], "gcj02": [lon, lat]},
//                  "filter": {"kind": "spot", "total": 1, "code": "YH-000002", "lnglat": [lon, lat]},
//                  "gcj02_points": [[lon, lat, gcj_lon, gcj_lat], ...],
//                  "user": {"display_name": "李强", "roles": "领导", "admin": false}}
//
// The account must see every site of the expectations (a city-wide role such as leader or dispatcher).
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, expectationsText] = process.argv.slice(2);
if (!base || !expectationsText) fail('usage', 'usage: node tests/e2e/map.mjs <base-url> <expectations-json>');
let expected;
try {
  expected = JSON.parse(expectationsText);
} catch (error) {
  fail('usage', `expectations are not JSON: ${error.message}`);
}
const account = credentials();

const STATUSES = ['reported', 'verified', 'assigned', 'in_progress', 'pending_review', 'closed', 'reopened', 'rejected',
  'duplicate', 'cancelled'];
const TIMEOUT_MS = 30_000;
/** A 1×1 PNG for the test's own base map tiles. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

await run('map', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    const tileRequests = [];
    page.on('request', (request) => {
      if (request.url().includes('/tiles/sites/')) tileRequests.push(request.url());
    });
    await context.route('http://basemap.test/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PNG }));

    // page.evaluate has no timeout of its own: a map that never settles fails the step, not the whole run.
    const bounded = (promise, what) => Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: the map did not go idle within ${TIMEOUT_MS} ms`)), TIMEOUT_MS)),
    ]);
    const settle = () => bounded(page.evaluate(() => window.roadledger.idle()), 'settle');
    const jump = (center, zoom) => bounded(page.evaluate(({ center, zoom }) => {
      window.roadledger.map.jumpTo({ center, zoom });
      return window.roadledger.idle();
    }, { center, zoom }), `jump to ${center} z${zoom}`);
    const legendTotal = () => page.getAttribute('#legend-total', 'data-count').then(Number);
    const waitTotal = (n) => page.waitForFunction((n) => document.getElementById('legend-total')?.dataset.count === String(n), n);
    const cellSum = () => page.evaluate(() => window.roadledger.renderedCells().reduce((sum, c) => sum + c.n, 0));

    setStep('sign in');
    await page.goto(new URL('/', base).href);
    check('sign in', new URL(page.url()).pathname === '/login.html', `without a session / should lead to the sign-in page, it is at ${page.url()}`);
    const shotLogin = await screenshot(page, 'login');
    // WCAG 2.1 A/AA with axe-core: no serious or critical violation on any page audited here.
    const accessibility = { login: await checkAccessible('sign in', page, 'the sign-in page') };
    const landed = await signIn(page, account);
    check('sign in', landed === '/', `after signing in the browser is at ${landed}`);

    setStep('open');
    await page.waitForFunction(() => window.roadledger && window.roadledger.ready);
    await page.evaluate(() => window.roadledger.ready.then(() => true));
    await settle();
    check('open', await page.evaluate(() => document.documentElement.lang) === 'zh-CN', 'the page should start in Chinese');

    setStep('header');
    const header = {
      display_name: (await page.textContent('#user-display-name')).trim(),
      roles: (await page.textContent('#user-roles')).trim(),
      links: await page.$$eval('#topnav a', (as) => as.map((a) => a.getAttribute('href'))),
      current: await page.getAttribute('#topnav a[aria-current="page"]', 'href'),
    };
    if (expected.user) {
      check('header', header.display_name === expected.user.display_name, `the bar names ${header.display_name}`);
      check('header', header.roles === expected.user.roles, `the bar lists the roles ${header.roles}`);
      check('header', header.links.includes('/admin.html') === Boolean(expected.user.admin),
        `the bar links to ${header.links} (admin: ${expected.user.admin})`);
    }
    check('header', header.current === '/', `the current page in the bar is ${header.current}`);

    setStep('legend');
    await page.waitForFunction(() => document.getElementById('legend-total')?.dataset.count);
    const legend = await page.$$eval('.legend-item', (items) => items.map((item) => ({
      status: item.dataset.status,
      label: item.querySelector('.legend-label').textContent,
      count: Number(item.querySelector('.count').textContent),
    })));
    check('legend', legend.map((l) => l.status).join() === STATUSES.join(), `legend lists ${legend.map((l) => l.status)}`);
    for (const { status, count } of legend) {
      const want = expected.counts[status] ?? 0;
      check('legend', count === want, `legend count of ${status} is ${count}, expected ${want}`);
    }
    check('legend', await legendTotal() === expected.total, `legend total ${await legendTotal()}, expected ${expected.total}`);
    const overdue = Number(await page.getAttribute('#legend-overdue', 'data-count'));
    check('legend', overdue === expected.overdue, `legend overdue ${overdue}, expected ${expected.overdue}`);
    const zhLabel = legend.find((l) => l.status === 'reported').label;
    check('legend', zhLabel === '已上报', `reported is labelled ${zhLabel}`);

    setStep('cells');
    // Zoomed out, the sites come as grid cells whose counts add up to the total.
    await jump(expected.site.lnglat, 9);
    const cells = await cellSum();
    check('cells', cells === expected.total, `the cells drawn at z9 hold ${cells} sites, expected ${expected.total}`);
    const sitesAtZ9 = await page.evaluate(() => window.roadledger.renderedSites().length);
    check('cells', sitesAtZ9 === 0, `${sitesAtZ9} single sites drawn at z9, where only cells belong`);

    setStep('sites');
    await jump(expected.site.lnglat, 15);
    const drawnSites = await page.evaluate(() => window.roadledger.renderedSites());
    const drawn = drawnSites.find((s) => s.code === expected.site.code);
    check('sites', drawn, `site ${expected.site.code} is not drawn at z15 (drawn: ${drawnSites.map((s) => s.code)})`);
    const drawnAt = drawn.geometry.coordinates;
    check('sites', Math.abs(drawnAt[0] - expected.site.lnglat[0]) < 1e-5 && Math.abs(drawnAt[1] - expected.site.lnglat[1]) < 1e-5,
      `site drawn at ${drawnAt}, expected ${expected.site.lnglat}`);

    setStep('click site');
    const [x, y] = await page.evaluate((lngLat) => {
      const { map } = window.roadledger;
      const point = map.project(lngLat);
      const rect = map.getContainer().getBoundingClientRect();
      return [rect.left + point.x, rect.top + point.y];
    }, expected.site.lnglat);
    await page.mouse.click(x, y);
    await page.waitForSelector('#panel[data-state="ready"]');
    const code = await page.textContent('#panel-code');
    check('click site', code === expected.site.code, `the panel shows ${code}, expected ${expected.site.code}`);
    const facts = await page.$$eval('.facts dt', (dts) => dts.map((d) => d.textContent));
    check('click site', facts[0] === '类型', `the first fact is labelled ${facts[0]}`);
    const siteLink = await page.getAttribute('#panel-open-site', 'href');
    check('click site', siteLink === `/site.html?id=${expected.site.id}`, `the panel links to ${siteLink}, not the site page of ${expected.site.id}`);

    setStep('thumbnail');
    const thumbnails = page.locator('#panel-observations .photo img');
    const count = await thumbnails.count();
    check('thumbnail', count === expected.site.photos, `${count} thumbnails, expected ${expected.site.photos}`);
    const before = page.locator('#panel-before .photo img');
    check('thumbnail', await before.count() === expected.site.photos, `${await before.count()} photos before the work`);
    let thumbnail = null;
    if (count > 0) {
      await before.first().scrollIntoViewIfNeeded();
      const handle = await before.first().elementHandle();
      await page.waitForFunction((img) => img.complete, handle);
      thumbnail = await before.first().evaluate((img) => ({
        naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, src: img.getAttribute('src'),
        href: img.closest('a').getAttribute('href'), target: img.closest('a').getAttribute('target'),
      }));
      check('thumbnail', thumbnail.naturalWidth > 0, `the thumbnail ${thumbnail.src} did not load`);
      check('thumbnail', thumbnail.target === '_blank', 'the full photo should open in a new tab');
      const full = await page.request.get(new URL(thumbnail.href, base).href);
      check('thumbnail', full.ok() && /^image\//.test(full.headers()['content-type'] || ''),
        `the full photo ${thumbnail.href} answered ${full.status()} ${full.headers()['content-type']}`);
    }
    // The photo's evidence flag, in the site page's words (photoflags.js), under the photo in the before/after
    // strip and in the observations.
    const panelFlags = await page.$$eval('#panel-before .photo-flag, #panel-observations .photo-flag', (spans) => spans.map((s) => s.textContent));
    check('thumbnail', panelFlags.length === 2 && panelFlags.every((f) => f === expected.site.flag),
      `the panel's photo flags read ${JSON.stringify(panelFlags)}, expected ${expected.site.flag} twice`);
    const shotZh = await screenshot(page, 'map-zh');

    setStep('accessibility');
    accessibility.map = await checkAccessible('accessibility', page, 'the map with a site open');
    await page.click('#panel-close');

    setStep('filter');
    await page.click('#filters summary');
    await page.check(`#f-kind input[value="${expected.filter.kind}"]`);
    await waitTotal(expected.filter.total);
    const address = new URL(page.url());
    check('filter', address.searchParams.get('kind') === expected.filter.kind, `the address does not carry the filter: ${page.url()}`);
    const filterCount = await page.getAttribute('#filter-count', 'data-count');
    check('filter', filterCount === '1', `the filters card counts ${filterCount} filters`);
    await jump(expected.filter.lnglat, 15);
    const filtered = await page.evaluate(() => window.roadledger.renderedSites());
    check('filter', filtered.length > 0 && filtered.every((s) => s.kind === expected.filter.kind),
      `with kind=${expected.filter.kind} the map draws ${JSON.stringify(filtered.map((s) => [s.code, s.kind]))}`);
    check('filter', filtered.some((s) => s.code === expected.filter.code), `${expected.filter.code} is not drawn`);
    await jump(expected.site.lnglat, 9);
    const filteredCells = await cellSum();
    check('filter', filteredCells === expected.filter.total, `with the filter the cells hold ${filteredCells} sites`);
    check('filter', tileRequests.some((u) => new URL(u).searchParams.get('kind') === expected.filter.kind),
      'no site tile was asked for with the filter');

    setStep('export');
    const exports = {};
    for (const format of ['geojson', 'kml']) {
      const href = await page.getAttribute(`#export-${format}`, 'href');
      check('export', new URL(href, base).searchParams.get('kind') === expected.filter.kind, `the ${format} export link ${href} lacks the filter`);
      const answer = await page.request.get(new URL(href, base).href);
      check('export', answer.ok(), `the ${format} export answered ${answer.status()}`);
      const text = await answer.text();
      exports[format] = format === 'geojson' ? JSON.parse(text).features.length : (text.match(/<Placemark[\s>]/g) || []).length;
      check('export', exports[format] === expected.filter.total, `the ${format} export holds ${exports[format]} sites`);
    }

    setStep('layers');
    await page.click('#layers summary');
    await page.uncheck('#layer-switch input[value="roads"]');
    const roadsVisibility = await page.evaluate(() => window.roadledger.map.getLayoutProperty('roads', 'visibility'));
    check('layers', roadsVisibility === 'none', `after unchecking roads their layer is ${roadsVisibility}`);
    check('layers', new URL(page.url()).searchParams.get('layers') === 'towns,sites', `the address says layers=${new URL(page.url()).searchParams.get('layers')}`);

    setStep('shared link');
    await jump(expected.filter.lnglat, 14);
    const shared = page.url();
    const other = await context.newPage();
    watchConsole(other, log);
    await other.goto(shared);
    await other.waitForFunction(() => window.roadledger && window.roadledger.ready);
    await other.evaluate(() => window.roadledger.ready.then(() => window.roadledger.idle()));
    const reopened = await other.evaluate(() => ({
      filter: window.roadledger.filter(),
      zoom: window.roadledger.map.getZoom(),
      center: window.roadledger.map.getCenter().toArray(),
      roads: window.roadledger.map.getLayoutProperty('roads', 'visibility'),
      checked: document.querySelector(`#f-kind input:checked`)?.value,
      total: document.getElementById('legend-total').dataset.count,
    }));
    check('shared link', reopened.filter.kind.join() === expected.filter.kind && reopened.checked === expected.filter.kind,
      `the shared link opened with kind ${reopened.filter.kind} (checked ${reopened.checked})`);
    check('shared link', Math.abs(reopened.zoom - 14) < 0.01 && Math.abs(reopened.center[0] - expected.filter.lnglat[0]) < 1e-3,
      `the shared link opened at z${reopened.zoom} ${reopened.center}`);
    check('shared link', reopened.roads === 'none', `the shared link shows the roads (${reopened.roads})`);
    await other.waitForFunction((n) => document.getElementById('legend-total')?.dataset.count === String(n), expected.filter.total);
    await other.close();
    await page.check('#layer-switch input[value="roads"]');
    await page.click('#filter-reset');
    await waitTotal(expected.total);
    check('filter', !new URL(page.url()).searchParams.has('kind'), `after clearing, the address is ${page.url()}`);

    setStep('status filter');
    // Hide "reported": no reported site may be drawn any more, and the total drops by their number.
    await jump(expected.site.lnglat, 13.5);
    const statuses = () => page.evaluate(() => window.roadledger.idle().then(() => window.roadledger.renderedSites().map((s) => s.status)));
    const shownBefore = await statuses();
    await page.click('.legend-item[data-status="reported"]');
    check('status filter', await page.getAttribute('.legend-item[data-status="reported"]', 'aria-pressed') === 'false',
      'the legend item should show it is off');
    await waitTotal(expected.total - (expected.counts.reported ?? 0));
    await settle();
    const shownAfter = await statuses();
    check('status filter', !shownAfter.includes('reported') && (expected.counts.reported ? shownBefore.includes('reported') : true),
      `drawn statuses before ${shownBefore} and after hiding reported ${shownAfter}`);
    await page.click('.legend-item[data-status="reported"]');
    await waitTotal(expected.total);

    setStep('gcj02');
    // The page's formula (town labels) agrees with the server's Rust one.
    const gcjErrors = await page.evaluate(async (points) => {
      const { wgs84ToGcj02 } = await import('/coords.js');
      return points.map(([lon, lat, glon, glat]) => {
        const [x, y] = wgs84ToGcj02([lon, lat]);
        return Math.max(Math.abs(x - glon), Math.abs(y - glat));
      });
    }, expected.gcj02_points);
    check('gcj02', gcjErrors.every((e) => e < 1e-9), `coords.js differs from the Rust formula by ${gcjErrors}`);
    await page.fill('#custom-base-url', 'http://basemap.test/{z}/{x}/{y}.png');
    await page.selectOption('#custom-base-crs', 'gcj02');
    await page.click('#custom-base-form button[type="submit"]');
    check('gcj02', new URL(page.url()).searchParams.get('base') === 'custom', `the address says base=${new URL(page.url()).searchParams.get('base')}`);
    await jump(expected.site.gcj02, 15);
    const shifted = (await page.evaluate(() => window.roadledger.renderedSites())).find((s) => s.code === expected.site.code);
    check('gcj02', shifted, `site ${expected.site.code} is not drawn over the GCJ-02 base map`);
    const [sx, sy] = shifted.geometry.coordinates;
    check('gcj02', Math.abs(sx - expected.site.gcj02[0]) < 1e-5 && Math.abs(sy - expected.site.gcj02[1]) < 1e-5,
      `over a GCJ-02 base map the site is drawn at ${sx},${sy}; the GCJ-02 formula puts it at ${expected.site.gcj02}`);
    check('gcj02', tileRequests.some((u) => new URL(u).searchParams.get('crs') === 'gcj02'), 'no site tile was asked for in GCJ-02');
    const shotGcj = await screenshot(page, 'map-gcj02');
    await page.selectOption('#base-map', 'none');
    await settle();

    setStep('language');
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const enLabel = await page.textContent('.legend-item[data-status="reported"] .legend-label');
    check('language', enLabel === 'Reported', `after switching, reported is labelled ${enLabel}`);
    const enFilter = await page.textContent('#filters summary');
    check('language', enFilter.includes('Filters'), `after switching, the filters card is headed ${enFilter}`);
    const shotEn = await screenshot(page, 'map-en');
    accessibility.map_en = await checkAccessible('language', page, 'the map in English, filters and layers open');
    await page.reload();
    await page.waitForFunction(() => window.roadledger && window.roadledger.ready);
    await page.evaluate(() => window.roadledger.ready.then(() => true));
    const remembered = await page.textContent('.legend-item[data-status="reported"] .legend-label');
    check('language', remembered === 'Reported', `after a reload, reported is labelled ${remembered}`);
    const rolesEn = (await page.textContent('#user-roles')).trim();

    setStep('sign out');
    await page.click('#usermenu summary');
    const shotMenu = await screenshot(page, 'map-user-menu');
    await Promise.all([page.waitForURL((url) => url.pathname === '/login.html'), page.click('#sign-out')]);
    await page.goto(new URL('/', base).href);
    check('sign out', new URL(page.url()).pathname === '/login.html', `after signing out / should lead to the sign-in page, it is at ${page.url()}`);
    const api = await page.request.get(new URL('/api/v1/sites/counts', base).href);
    check('sign out', api.status() === 401, `after signing out the API answers ${api.status()}`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);

    return {
      accessibility,
      cells_at_z9: cells,
      legend: Object.fromEntries(legend.map((l) => [l.status, l.count])),
      overdue,
      site_code: code,
      panel_flags: panelFlags,
      filtered_total: expected.filter.total,
      exports,
      gcj02_drawn_at: [sx, sy],
      thumbnail,
      labels: { zh: zhLabel, en: enLabel },
      header: { ...header, roles_en: rolesEn },
      screenshots: [shotLogin, shotZh, shotGcj, shotEn, shotMenu].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
