// The reports page in a real browser (统计通报: DOMAIN.md §8), over a county with a history:
//  - a leader opens the monthly bulletin of a period: the server's three charts are drawn as SVG with their
//    bars or wedges (and nothing executable), the town table has a row per town, the totals agree with the
//    expectations (read from the API by the Rust test);
//  - a town's overdue number links to the map with `figure=month:<period>:overdue&town=<code>`: the map opens
//    narrowed to those sites, says so in a chip, asks its tiles and counts with the figure, and its legend
//    total is that number; clearing the chip clears the filter;
//  - the leader publishes the bulletin (version 1), and publishes again only as a correction naming version 1,
//    with a note (an empty note is refused by the dialog);
//  - a town officer sees the 已发布 tab only, with both versions listed and the correction marked, and opens
//    the published copy;
//  - the 晴雨榜 tab marks its sunny and rainy rows and shows the weights;
//  - axe-core finds no serious or critical WCAG 2.1 A/AA violation on the bulletin, the board and the list.
//
//   E2E_USER=<leader> E2E_PASSWORD=… E2E_TOWN_USER=<town officer> E2E_TOWN_PASSWORD=… \
//     node tests/e2e/reports.mjs <base-url> '<expectations JSON>'
//   expectations: {"period": "2026-11", "period_title": "2026年11月", "towns": 9,
//                  "totals": {"found": 120, "overdue": 14, ...},
//                  "town": {"code": "320582100", "name": "杨舍镇", "overdue": 5},
//                  "quarter": "2026Q3", "note": "…", "correction": "…"}
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, expectationsText] = process.argv.slice(2);
if (!base || !expectationsText) fail('usage', 'usage: node tests/e2e/reports.mjs <base-url> <expectations-json>');
let expected;
try {
  expected = JSON.parse(expectationsText);
} catch (error) {
  fail('usage', `expectations are not JSON: ${error.message}`);
}
const leaderAccount = credentials('E2E');
const townAccount = credentials('E2E_TOWN');

const TIMEOUT_MS = 30_000;
const DESKTOP = { width: 1366, height: 900 };
/** What a chart draws its data with: bars, wedges, lines, dots. */
const MARKS = 'rect, path, circle, polygon, polyline, line';

await run('reports', async ({ log, setStep }) => {
  const browser = await launch();
  const result = {};
  try {
    const open = async () => {
      const context = await browser.newContext({ viewport: DESKTOP, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT_MS);
      watchConsole(page, log);
      return page;
    };
    const loaded = (page, what) => page.waitForFunction((what) => document.getElementById('reports-panel')?.dataset.loaded === what, what);
    const monthly = `monthly:${expected.period}:county`;

    setStep('leader: sign in');
    const page = await open();
    await page.goto(new URL('/reports.html', base).href);
    check('leader: sign in', new URL(page.url()).pathname === '/login.html', `without a session the reports page should lead to the sign-in page, not ${page.url()}`);
    const landed = await signIn(page, leaderAccount);
    check('leader: sign in', landed === '/reports.html', `the leader landed on ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    const links = await page.$$eval('#topnav a', (as) => as.map((a) => a.getAttribute('href')));
    check('leader: sign in', links.includes('/reports.html'), `the bar links to ${links}`);
    check('leader: sign in', await page.getAttribute('#topnav a[aria-current="page"]', 'href') === '/reports.html', 'the bar should mark 统计通报');
    const tabs = await page.$$eval('#reports-tabs [role="tab"]', (els) => els.map((e) => e.dataset.tab));
    check('leader: sign in', tabs.join() === 'overview,weekly,monthly,ranking,published', `a leader's tabs are ${tabs}`);
    result.leader_tabs = tabs;
    await loaded(page, 'overview');
    result.overview_bands = {
      sunny: await page.$$eval('#overview-sunny li', (lis) => lis.length),
      rainy: await page.$$eval('#overview-rainy li', (lis) => lis.length),
    };
    check('leader: overview', await page.$$eval('#overview-month .figure-card a.figure-value', (as) => as.length) >= 7,
      'the dashboard should show this month\'s numbers, each a link to its sites');

    setStep('leader: monthly bulletin');
    await page.click('#tab-monthly');
    await page.selectOption('#period-select', expected.period);
    await loaded(page, monthly);
    check('leader: monthly bulletin', new URL(page.url()).searchParams.get('period') === expected.period, `the address is ${page.url()}`);
    const title = (await page.textContent('#report-title')).trim();
    check('leader: monthly bulletin', title.includes(expected.period_title) && title.includes('月通报'), `the report is titled ${title}`);
    for (const [figure, value] of Object.entries(expected.totals)) {
      const shown = await page.getAttribute(`#total-${figure}`, 'data-value');
      check('leader: monthly bulletin', shown === String(value), `the total ${figure} reads ${shown}, the API says ${value}`);
    }
    result.totals = expected.totals;

    setStep('leader: charts');
    const charts = await page.$$eval('#report .report-chart', (figures, marks) => figures.map((f) => {
      const svg = f.querySelector('svg');
      return {
        id: f.id,
        svg: Boolean(svg),
        marks: svg ? svg.querySelectorAll(marks).length : 0,
        scripts: svg ? svg.querySelectorAll('script, foreignObject').length : 0,
        name: svg?.getAttribute('aria-label') || '',
        width: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
      };
    }), MARKS);
    check('leader: charts', charts.map((c) => c.id).join() === 'chart-trend,chart-towns,chart-statuses', `the charts are ${JSON.stringify(charts)}`);
    for (const c of charts) {
      check('leader: charts', c.svg && c.marks > 0 && c.width > 100, `${c.id} is not drawn: ${JSON.stringify(c)}`);
      check('leader: charts', c.scripts === 0 && c.name, `${c.id} has scripts or no name: ${JSON.stringify(c)}`);
    }
    result.charts = Object.fromEntries(charts.map((c) => [c.id, c.marks]));

    setStep('leader: towns');
    const rows = await page.$$eval('#report-towns tbody tr', (trs) => trs.map((tr) => tr.dataset.town));
    check('leader: towns', rows.length === expected.towns, `the town table has ${rows.length} rows, expected ${expected.towns}`);
    const cell = `#town-${expected.town.code}-overdue`;
    const overdueText = (await page.textContent(cell)).trim();
    check('leader: towns', overdueText === String(expected.town.overdue), `${expected.town.name}'s overdue reads ${overdueText}, expected ${expected.town.overdue}`);
    const href = await page.getAttribute(cell, 'href');
    const target = new URL(href, base);
    check('leader: towns', target.pathname === '/' && target.searchParams.get('figure') === `month:${expected.period}:overdue`
      && target.searchParams.get('town') === expected.town.code, `the overdue number links to ${href}`);
    // The map's canonical order: town first, the figure last (mapfilter.js, domain::site_filter).
    check('leader: towns', [...target.searchParams.keys()].join() === 'town,figure', `the link's parameters are in the order ${[...target.searchParams.keys()]}`);
    const overdueLinks = await page.$$eval('#report-overdue tbody a', (as) => as.map((a) => a.getAttribute('href')));
    check('leader: towns', overdueLinks.every((l) => /^\/site\.html\?id=[0-9a-f-]{36}$/.test(l)), `the overdue sites link to ${overdueLinks}`);
    result.worst_overdue = overdueLinks.length;
    await screenshot(page, 'reports-monthly', { fullPage: true });
    result.accessibility = { monthly: await checkAccessible('leader: accessibility', page, 'the monthly bulletin') };

    setStep('leader: click through to the map');
    const tileRequests = [];
    page.on('request', (request) => {
      if (request.url().includes('/tiles/sites/') || request.url().includes('/sites/counts')) tileRequests.push(request.url());
    });
    await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.click(cell)]);
    await page.waitForFunction(() => window.roadledger && window.roadledger.ready);
    await page.evaluate(() => window.roadledger.ready.then(() => true));
    await page.waitForFunction((n) => document.getElementById('legend-total')?.dataset.count === String(n), expected.town.overdue)
      .catch(async () => {
        const shown = await page.getAttribute('#legend-total', 'data-count');
        throw new Error(`the map's legend total is ${shown}, the bulletin said ${expected.town.overdue}`);
      });
    const chip = (await page.textContent('#figure-chip-text')).trim();
    check('leader: click through to the map', chip === `报表：${expected.period_title} · 逾期`, `the chip says ${chip}`);
    const filter = await page.evaluate(() => window.roadledger.filter());
    check('leader: click through to the map', filter.figure === `month:${expected.period}:overdue` && filter.town.join() === expected.town.code,
      `the map's filter is ${JSON.stringify(filter)}`);
    const figureParam = `figure=${encodeURIComponent(`month:${expected.period}:overdue`)}`;
    check('leader: click through to the map', tileRequests.some((u) => u.includes('/tiles/sites/') && u.includes(figureParam)),
      `no site tile was asked for with ${figureParam}: ${tileRequests.slice(0, 3)}`);
    check('leader: click through to the map', tileRequests.some((u) => u.includes('/sites/counts') && u.includes(figureParam)),
      `the counts were not asked for with ${figureParam}`);
    result.map_total = Number(await page.getAttribute('#legend-total', 'data-count'));
    await screenshot(page, 'reports-map');
    await page.click('#figure-chip-clear');
    await page.waitForSelector('#figure-chip', { state: 'hidden' });
    check('leader: click through to the map', !new URL(page.url()).searchParams.has('figure'), `after clearing, the address is ${page.url()}`);

    setStep('leader: publish');
    await page.goto(new URL(`/reports.html?tab=monthly&period=${expected.period}`, base).href);
    await loaded(page, monthly);
    check('leader: publish', await page.getAttribute('#published-state', 'data-versions') === '0', 'the period should not be published yet');
    await page.click('#publish');
    await page.waitForSelector('#publish-dialog');
    check('leader: publish', !(await page.$('#publish-corrects')), 'a first publication is not a correction');
    await page.fill('#publish-note', expected.note);
    const [first] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/v1/reports/monthly/publish') && r.request().method() === 'POST'),
      page.click('#publish-dialog button[type="submit"]'),
    ]);
    check('leader: publish', first.status() === 201, `publishing answered ${first.status()}: ${await first.text()}`);
    const v1 = await first.json();
    check('leader: publish', v1.version === 1 && v1.corrects == null && v1.kind === 'monthly', `the publication is ${JSON.stringify(v1)}`);
    await page.waitForFunction(() => document.getElementById('published-state')?.dataset.versions === '1');

    setStep('leader: correction');
    await page.click('#publish');
    await page.waitForSelector('#publish-corrects');
    await page.click('#publish-dialog button[type="submit"]');
    await page.waitForSelector('#publish-dialog .dialog-error:not([hidden])');
    await page.fill('#publish-note', expected.correction);
    const [second] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/v1/reports/monthly/publish') && r.request().method() === 'POST'),
      page.click('#publish-dialog button[type="submit"]'),
    ]);
    check('leader: correction', second.status() === 201, `the correction answered ${second.status()}: ${await second.text()}`);
    const v2 = await second.json();
    check('leader: correction', v2.version === 2 && String(v2.corrects) === String(v1.id), `the correction is ${JSON.stringify(v2)}`);
    await page.waitForFunction(() => document.getElementById('published-state')?.dataset.versions === '2');
    result.publications = [v1.id, v2.id];

    setStep('leader: ranking');
    await page.click('#tab-ranking');
    await page.selectOption('#period-select', expected.quarter);
    await loaded(page, `ranking:${expected.quarter}`);
    const bands = await page.$$eval('#ranking-board tr.band-row', (trs) => trs.map((tr) => tr.dataset.band));
    check('leader: ranking', bands.length === expected.towns_ranked, `the board has ${bands.length} towns, expected ${expected.towns_ranked}`);
    check('leader: ranking', bands[0] === 'sunny' && bands[bands.length - 1] === 'rainy', `the board's bands run ${bands}`);
    const weights = await page.$$eval('#ranking-weights [data-weight]', (els) => els.map((e) => e.dataset.weight));
    check('leader: ranking', weights.length === 5, `the weights shown are ${weights}`);
    result.bands = bands;
    await screenshot(page, 'reports-ranking', { fullPage: true });
    result.accessibility.ranking = await checkAccessible('leader: accessibility', page, 'the town ranking');

    setStep('town officer: published');
    const town = await open();
    await town.goto(new URL('/reports.html', base).href);
    await signIn(town, townAccount);
    await town.waitForSelector('body[data-state="ready"]');
    const townTabs = await town.$$eval('#reports-tabs [role="tab"]', (els) => els.map((e) => e.dataset.tab));
    check('town officer: published', townTabs.join() === 'published', `a town officer's tabs are ${townTabs}`);
    await loaded(town, 'published');
    const listed = await town.$$eval('#published-list tbody tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.publication, kind: tr.dataset.kind, period: tr.dataset.period, version: tr.dataset.version,
      correction: tr.querySelector('.correction')?.textContent.trim() || null,
    })));
    const ours = listed.filter((p) => p.kind === 'monthly' && p.period === expected.period);
    check('town officer: published', ours.length === 2, `the town officer sees ${JSON.stringify(listed)}`);
    const v2Row = ours.find((p) => p.id === String(v2.id));
    check('town officer: published', v2Row && v2Row.correction === '更正第1版', `the correction is listed as ${JSON.stringify(v2Row)}`);
    result.town_list = listed;
    result.accessibility.published = await checkAccessible('town officer: accessibility', town, 'the publications');
    await town.click(`#published-list tr[data-publication="${v2.id}"] td a`);
    await loaded(town, `publication:${v2.id}`);
    const banner = (await town.textContent('#publication-banner')).trim();
    check('town officer: published', banner.includes('第2版') && banner.includes(expected.correction), `the published copy says ${banner}`);
    const copyCharts = await town.$$eval('#report .report-chart svg', (svgs) => svgs.length);
    check('town officer: published', copyCharts === 3, `the published copy draws ${copyCharts} charts`);
    await screenshot(town, 'reports-published', { fullPage: true });
    result.accessibility.publication = await checkAccessible('town officer: accessibility', town, 'a published copy');
    return result;
  } finally {
    await browser.close();
  }
});
