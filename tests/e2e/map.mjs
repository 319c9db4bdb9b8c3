// The map page in a real browser, signed in: opening it without a session leads to the sign-in page and
// back; the top bar names the user and their roles; sites load for the view, the legend counts match the
// database, clicking a site opens its panel with a photo thumbnail that really loaded, the status filter hides
// sites, and the language switch changes the labels (and is remembered); signing out leads to the sign-in
// page, and the map is closed again. axe-core finds no serious or critical WCAG 2.1 A/AA violation on the
// sign-in page nor on the map with a site's panel open.
//
//   E2E_USER=<name> E2E_PASSWORD=<password> node tests/e2e/map.mjs <base-url> '<expectations JSON>'
//   expectations: {"total": 4, "counts": {"reported": 2, ...}, "site": {"code": "YH-000001", "photos": 1},
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

await run('map', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

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
    await page.evaluate(() => window.roadledger.idle());
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

    setStep('sites');
    const loaded = await page.evaluate(() => window.roadledger.loadedSiteCount());
    check('sites', loaded === expected.total, `${loaded} sites loaded in the view, expected ${expected.total}`);

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
    const total = Number(await page.getAttribute('#legend-total', 'data-count'));
    check('legend', total === expected.total, `legend total ${total}, expected ${expected.total}`);
    const zhLabel = legend.find((l) => l.status === 'reported').label;
    check('legend', zhLabel === '已上报', `reported is labelled ${zhLabel}`);

    setStep('click site');
    const site = await page.evaluate((code) => window.roadledger.sites().find((s) => s.code === code), expected.site.code);
    check('click site', site, `site ${expected.site.code} is not among the loaded sites`);
    const coordinates = site.geometry.type === 'Point'
      ? site.geometry.coordinates
      : site.geometry.coordinates[Math.floor(site.geometry.coordinates.length / 2)];
    const [x, y] = await page.evaluate((lngLat) => {
      const { map } = window.roadledger;
      const point = map.project(lngLat);
      const rect = map.getContainer().getBoundingClientRect();
      return [rect.left + point.x, rect.top + point.y];
    }, coordinates);
    await page.mouse.click(x, y);
    await page.waitForSelector('#panel[data-state="ready"]');
    const code = await page.textContent('#panel-code');
    check('click site', code === expected.site.code, `the panel shows ${code}, expected ${expected.site.code}`);
    const facts = await page.$$eval('.facts dt', (dts) => dts.map((d) => d.textContent));
    check('click site', facts[0] === '类型', `the first fact is labelled ${facts[0]}`);
    const siteLink = await page.getAttribute('#panel-open-site', 'href');
    check('click site', siteLink === `/site.html?id=${site.id}`, `the panel links to ${siteLink}, not the site page of ${site.id}`);

    setStep('thumbnail');
    const thumbnails = page.locator('#panel-observations .photo img');
    const count = await thumbnails.count();
    check('thumbnail', count === expected.site.photos, `${count} thumbnails, expected ${expected.site.photos}`);
    let thumbnail = null;
    if (count > 0) {
      await thumbnails.first().scrollIntoViewIfNeeded();
      const handle = await thumbnails.first().elementHandle();
      await page.waitForFunction((img) => img.complete, handle);
      thumbnail = await thumbnails.first().evaluate((img) => ({
        naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, src: img.getAttribute('src'),
        href: img.closest('a').getAttribute('href'), target: img.closest('a').getAttribute('target'),
      }));
      check('thumbnail', thumbnail.naturalWidth > 0, `the thumbnail ${thumbnail.src} did not load`);
      check('thumbnail', thumbnail.target === '_blank', 'the full photo should open in a new tab');
      const full = await page.request.get(new URL(thumbnail.href, base).href);
      check('thumbnail', full.ok() && /^image\//.test(full.headers()['content-type'] || ''),
        `the full photo ${thumbnail.href} answered ${full.status()} ${full.headers()['content-type']}`);
    }
    const shotZh = await screenshot(page, 'map-zh');

    setStep('accessibility');
    accessibility.map = await checkAccessible('accessibility', page, 'the map with a site open');

    setStep('status filter');
    // Hide "reported": no reported site may be drawn any more.
    const drawn = () => page.evaluate(() => window.roadledger.idle().then(() => window.roadledger.map
      .queryRenderedFeatures({ layers: ['sites-point', 'sites-section'] })
      .map((f) => f.properties.status)));
    const before = await drawn();
    await page.click('.legend-item[data-status="reported"]');
    check('status filter', await page.getAttribute('.legend-item[data-status="reported"]', 'aria-pressed') === 'false',
      'the legend item should show it is off');
    const after = await drawn();
    check('status filter', !after.includes('reported') && (expected.counts.reported ? before.includes('reported') : true),
      `drawn statuses before ${before} and after hiding reported ${after}`);
    await page.click('.legend-item[data-status="reported"]');

    setStep('language');
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const enLabel = await page.textContent('.legend-item[data-status="reported"] .legend-label');
    check('language', enLabel === 'Reported', `after switching, reported is labelled ${enLabel}`);
    const enFact = await page.textContent('.facts dt');
    check('language', enFact === 'Kind', `after switching, the panel's first fact is labelled ${enFact}`);
    const shotEn = await screenshot(page, 'map-en');
    accessibility.map_en = await checkAccessible('language', page, 'the map in English, one status hidden');
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
      sites_loaded: loaded,
      legend: Object.fromEntries(legend.map((l) => [l.status, l.count])),
      site_code: code,
      thumbnail,
      labels: { zh: zhLabel, en: enLabel },
      header: { ...header, roles_en: rolesEn },
      screenshots: [shotLogin, shotZh, shotEn, shotMenu].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
