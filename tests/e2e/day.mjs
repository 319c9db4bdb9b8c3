// A day in dead zones, in a real browser (390×844, touch, GPS) with a profile kept on disk. Smaller than the
// issue's day (10 observations with 20 small photos, not 50 with 150 12 MP ones; the photos' resizing is
// another part's test):
//  1. online once, the service worker installs; then offline, 10 observations with 2 photos each are queued;
//  2. the page is reloaded offline, then the browser is closed and started again on the same profile, still
//     offline: every record is listed each time;
//  3. back online over a throttled link (1 Mbit/s, 300 ms round trip, DevTools network conditions), with one
//     request in ten lost before the server and one in ten whose answer is lost after the server stored it,
//     and one "poison" record the server always answers 500: every other record is sent (the Rust test
//     counts them in the database: each exactly once), the poison record does not hold them back and keeps
//     backing off (each wait longer than the one before), and the outbox shows upload progress;
//  4. deleting the poison record asks first: cancelled, it stays; confirmed, it goes, and the outbox is empty.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/day.mjs <base-url> <jpeg> <another-jpeg> <profile-dir>
//
// Prints one JSON line ({"ok": true, "ids": [...], "poison": "…", …} or {"ok": false, "step", "error"}).

import { existsSync } from 'node:fs';
import { launchPhone, watchConsole, check, run, fail, credentials, signIn, screenshot } from './lib.mjs';

const [base, photoA, photoB, profile] = process.argv.slice(2);
if (!base || !photoA || !photoB || !profile) fail('usage', 'usage: node tests/e2e/day.mjs <base-url> <jpeg> <another-jpeg> <profile-dir>');
for (const f of [photoA, photoB]) if (!existsSync(f)) fail('usage', `no such photo: ${f}`);
const account = credentials();
const HERE = { longitude: 120.56, latitude: 31.88, accuracy: 7 };
const RECORDS = 10;
const POISON = 3;

await run('day', async ({ log, setStep }) => {
  let context = await launchPhone(profile, HERE);
  try {
    let page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const waitReady = () => page.waitForSelector('body[data-state="ready"]');
    const listed = () => page.$$eval('#outbox-list li[data-id]', (els) => els.map((el) => el.dataset.id));

    setStep('online once');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await waitReady();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    check('online once', await page.evaluate(() => window.roadledger.startUpKept) === 4, 'the start-up answers were not kept');

    setStep('record offline');
    await context.setOffline(true);
    const ids = [];
    const hazards = ['no_signal', 'no_warning_posts', 'no_lighting_intersection'];
    for (let i = 0; i < RECORDS; i += 1) {
      await page.tap('#use-location');
      await labelOf(`input[name=hazard][value=${hazards[i % hazards.length]}]`).tap();
      await page.setInputFiles('#photo-input', [photoA, photoB]);
      await page.waitForSelector('#photo-count[data-count="2"]');
      ids.push(await page.evaluate(() => window.roadledger.draftId()));
      await page.tap('#submit');
      await page.waitForSelector(`#outbox-count[data-count="${i + 1}"]`);
      await page.waitForSelector('#result[data-state="queued"]');
      await page.waitForSelector('#photo-count[data-count="0"]');
    }
    check('record offline', new Set(ids).size === RECORDS, 'each observation has its own id');

    setStep('reload offline');
    await page.reload();
    await waitReady();
    check('reload offline', (await listed()).sort().join() === [...ids].sort().join(), `listed after reload: ${await listed()}`);

    setStep('browser restart');
    await context.close();
    context = await launchPhone(profile, HERE);
    await context.setOffline(true);
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    await page.goto(new URL('/inspect.html', base).href);
    await waitReady();
    check('browser restart', await page.isVisible('#offline-flag'), 'the page does not say it is offline');
    check('browser restart', (await listed()).sort().join() === [...ids].sort().join(), `listed after a restart: ${await listed()}`);
    await screenshot(page, 'inspect-day-queued', { fullPage: true });

    setStep('back online');
    const poison = ids[POISON];
    const poisonTries = [];
    let forwarded = 0;
    let lostBefore = 0;
    let lostAfter = 0;
    await context.route('**/api/v1/observations', async (route) => {
      const request = route.request();
      if (request.method() !== 'POST') return route.continue();
      const body = request.postDataBuffer()?.toString('latin1') || '';
      if (body.includes(poison)) {
        poisonTries.push(Date.now());
        return route.fulfill({
          status: 500, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Internal Server Error', status: 500 }),
        });
      }
      forwarded += 1;
      if (forwarded % 10 === 3) {
        lostBefore += 1;
        return route.abort('failed');
      }
      if (forwarded % 10 === 7) {
        // The server stores it, the phone never hears: the retry must be recognised as the same observation.
        lostAfter += 1;
        await route.fetch();
        return route.abort('failed');
      }
      return route.continue();
    });
    await context.setOffline(false);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 300, downloadThroughput: 1_000_000 / 8, uploadThroughput: 1_000_000 / 8,
    });
    const onlineAt = Date.now();
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction((id) => {
      const left = [...document.querySelectorAll('#outbox-list li[data-id]')].map((el) => el.dataset.id);
      return left.length === 1 && left[0] === id;
    }, poison, { timeout: 120_000 });
    const sendingTook = Date.now() - onlineAt;
    check('back online', lostBefore > 0 && lostAfter > 0, `no request was lost (${lostBefore} before, ${lostAfter} after)`);
    const progressEvents = await page.evaluate(() => window.roadledger.progressEvents());
    check('back online', progressEvents > 0, 'the outbox showed no upload progress');

    setStep('poison backs off');
    // The poison record is tried again after a backoff wait (not at once), and the wait after that is longer.
    const lastGap = () => (poisonTries.length >= 2 ? poisonTries.at(-1) - poisonTries.at(-2) : 0);
    const deadline = Date.now() + 40_000;
    while (lastGap() < 3_000 && Date.now() < deadline) await page.waitForTimeout(250);
    check('poison backs off', lastGap() >= 3_000, `the poison record was tried at ${poisonTries.map((at) => at - onlineAt)} ms`);
    await page.waitForSelector(`#outbox-list li[data-id="${poison}"][data-state="waiting"]`);
    const li = await page.$eval(`#outbox-list li[data-id="${poison}"]`, (el) => ({ attempts: Number(el.dataset.attempts), nextAt: Number(el.dataset.nextAt) }));
    const gap = lastGap();
    const nextWait = li.nextAt - poisonTries[poisonTries.length - 1];
    check('poison backs off', nextWait > gap, `the next wait (${nextWait} ms) is not longer than the last (${gap} ms)`);
    check('poison backs off', li.attempts >= 3, `attempts ${li.attempts}`);

    setStep('delete asks first');
    await page.tap(`#outbox-list li[data-id="${poison}"] .outbox-delete`);
    await page.waitForSelector('#confirm-delete-queued');
    await page.click('#confirm-delete-queued button[value="cancel"]');
    check('delete asks first', (await listed()).join() === poison, 'cancelled, the record must stay');
    await page.tap(`#outbox-list li[data-id="${poison}"] .outbox-delete`);
    await page.click('#confirm-delete-queued button[value="ok"]');
    await page.waitForSelector('#outbox-count[data-count="0"]');
    check('delete asks first', (await page.evaluate(() => window.roadledger.outboxCount())) === 0, 'the outbox is not empty');

    const errors = log.filter((l) => l.startsWith('pageerror'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return {
      ids, poison, poison_tries: poisonTries.length, poison_gap_ms: gap, next_wait_ms: nextWait, lost_before: lostBefore,
      lost_after: lostAfter, sending_ms: sendingTook, progress_events: progressEvents,
    };
  } finally {
    await context.close();
  }
});
