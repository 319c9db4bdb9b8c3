// The public report page (随手拍) in a real phone browser (390×844, touch, a fixed GPS position), with no
// account and no cookie:
//  1. the page opens without signing in, lists the public categories and solves its proof of work;
//  2. the citizen takes the location, picks a category, adds two photos (resized on the phone), writes a
//     description and a phone number, and sends; the page shows the tracking link;
//  3. following the link, the tracking page shows the status "已受理，待核实" and its timeline, and nothing of
//     the description or the phone number;
//  4. a second report is placed by a tap on the small map over the server's base map (a GCJ-02 one here).
// Both pages pass axe-core's WCAG 2.1 A/AA rules (no serious or critical violation).
//
//   node tests/e2e/report.mjs <base-url> <path-to-a-jpeg> <path-to-another-jpeg>
//
// Prints one JSON line ({"ok": true, "tracking_url", "status", "timeline", …} or {"ok": false, "step",
// "error"}). The Rust test (tests/it/browser.rs) checks the database and the photo store afterwards.

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, screenshot, check, run, fail, checkAccessible } from './lib.mjs';

const [base, ...photos] = process.argv.slice(2);
if (!base || photos.length !== 2) fail('usage', 'usage: node tests/e2e/report.mjs <base-url> <jpeg> <jpeg>');
for (const p of photos) if (!existsSync(p)) fail('usage', `no such photo: ${p}`);

const HERE = { longitude: 120.5512, latitude: 31.8721, accuracy: 9 };
const TIMEOUT_MS = 60_000;

await run('report', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, HERE);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

    setStep('open');
    const opened = await page.goto(`${base}/report.html`);
    check('open', opened.status() === 200 && new URL(page.url()).pathname === '/report.html',
      `the page must open without an account, got ${opened.status()} at ${page.url()}`);
    await page.waitForSelector('body[data-state="ready"]');
    const categories = await page.locator('input[name=category]').count();
    check('open', categories >= 5, `the public categories are listed (${categories})`);
    check('open', (await page.locator('.topbar, header.topbar').count()) === 0, 'no staff header');

    setStep('fill');
    await page.click('#locate');
    await page.waitForFunction(() => /120\.551/.test(document.getElementById('place').textContent));
    await page.check('input[name=category][value=barrier]');
    await page.setInputFiles('#photos', photos);
    await page.waitForFunction(() => document.querySelectorAll('#previews img').length === 2);
    await page.fill('#description', '村口护栏被撞断，晚上看不清');
    await page.fill('#phone', '139 0000 1111');
    await checkAccessible('fill', page, 'report.html');
    await screenshot(page, 'report-filled', { fullPage: true });

    setStep('send');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/public/reports' && r.request().method() === 'POST'),
      page.click('#submit'),
    ]);
    const sent = await response.request().allHeaders();
    check('send', !sent.cookie && !sent['x-csrf-token'] && !sent.authorization, 'sent without any credentials');
    check('send', response.status() === 201, `the report is stored: ${response.status()} ${await response.text()}`);
    await page.waitForSelector('body[data-state="sent"]');
    const link = await page.locator('#tracking-link').getAttribute('href');
    check('send', /^\/track\.html#[0-9a-f]{32}$/.test(link), `a tracking link: ${link}`);
    await screenshot(page, 'report-sent');

    setStep('track');
    await page.click('#tracking-link');
    await page.waitForSelector('body[data-state="ready"]');
    const status = (await page.locator('#status').textContent()).trim();
    const timeline = await page.locator('#timeline li').allTextContents();
    const text = await page.locator('main').textContent();
    check('track', status === '已受理，待核实', `the public status: ${status}`);
    check('track', timeline.length === 1, `one step so far: ${JSON.stringify(timeline)}`);
    check('track', !text.includes('护栏被撞断') && !text.includes('1111'), 'no description or phone on the tracking page');
    check('track', (await page.locator('#category').textContent()).includes('护栏'), 'the category is named');
    await checkAccessible('track', page, 'track.html');
    await screenshot(page, 'track');

    setStep('map');
    // The small map draws the county's towns and roads from our own tiles, read without an account.
    const tiles = [];
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/tiles/')) tiles.push({ path, search: new URL(r.url()).search, status: r.status() });
    });
    await page.goto(`${base}/report.html`);
    await page.waitForSelector('body[data-state="ready"]');
    // With a fix first, the map opens on it (shifted onto the GCJ-02 map) at street level.
    await page.click('#locate');
    await page.waitForFunction(() => /120\.551/.test(document.getElementById('place').textContent));
    await page.click('#pick');
    await page.waitForSelector('#pick-map[data-state="ready"]');
    // MapLibre fetches tiles from its workers: the page's response events see them, its timeline may not.
    for (let i = 0; i < 100 && !(tiles.some((t) => t.path.startsWith('/tiles/towns/')) && tiles.some((t) => t.path.startsWith('/tiles/roads/'))); i++) {
      await page.waitForTimeout(100);
    }
    check('map', tiles.some((t) => t.path.startsWith('/tiles/towns/')) && tiles.some((t) => t.path.startsWith('/tiles/roads/')),
      `the towns and roads tiles are read: ${JSON.stringify(tiles.slice(0, 4))}`);
    check('map', tiles.every((t) => t.status === 200 && t.search === '?crs=gcj02'),
      `every tile answered without an account, in GCJ-02 over the GCJ-02 base map: ${JSON.stringify(tiles.slice(0, 4))}`);
    const box = await page.locator('#pick-map').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => /地图/.test(document.getElementById('place').textContent));
    await page.check('input[name=category][value=intersection]');
    await page.setInputFiles('#photos', photos[0]);
    await page.waitForFunction(() => document.querySelectorAll('#previews img').length === 1);
    const [second] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/public/reports' && r.request().method() === 'POST'),
      page.click('#submit'),
    ]);
    check('map', second.status() === 201, `the report placed on the map is stored: ${second.status()} ${await second.text()}`);
    await page.waitForSelector('body[data-state="sent"]');
    const mapLink = await page.locator('#tracking-link').getAttribute('href');
    await screenshot(page, 'report-map');
    return { tracking_url: link, map_tracking_url: mapLink, status, timeline, categories };
  } finally {
    await browser.close();
  }
});
