// The inspection page opened with no signal at all, in a real browser (390×844, touch, GPS):
//  1. signed in and online once (one load only: the worker installs during it and has the start-up answers
//     kept afterwards, although it did not control that load), the page installs its service worker, which
//     keeps one release of the page's files;
//  2. offline, an observation recorded waits in the outbox, and a reload still opens the page with it listed:
//     the files, the signed-in inspector, the hazard types and the checklist come from the worker's copies
//     (not "出错了：Failed to fetch"), and the page says it is offline;
//  3. back online, it is sent by itself; another one queued offline is sent by the worker alone, with no
//     page open, when the browser's Background Sync fires;
//  4. signing out drops the kept session, so the next person on the phone does not open the page as this one.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> node tests/e2e/offline.mjs <base-url> <path-to-a-jpeg>
//
// Prints one JSON line ({"ok": true, "sent_codes": "...", ...} or {"ok": false, "step", "error"}) and exits
// non-zero on failure. The Rust test (tests/it/browser.rs) checks the database afterwards.

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, screenshot, check, run, fail, credentials, signIn } from './lib.mjs';

const [base, jpeg] = process.argv.slice(2);
if (!base || !jpeg) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/offline.mjs <base-url> <path-to-a-jpeg>');
if (!existsSync(jpeg)) fail('usage', `no such photo: ${jpeg}`);
const account = credentials();
const TIMEOUT_MS = 30_000;

await run('offline', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, { longitude: 120.56, latitude: 31.88, accuracy: 7 });
    let page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const waitReady = () => page.waitForSelector('body[data-state="ready"]');

    setStep('online once');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await waitReady();
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    // No second online load: the worker keeps the start-up answers itself once it runs.
    const keptAnswers = await page.evaluate(() => window.roadledger.startUpKept);
    check('online once', keptAnswers === 4, `the worker kept ${keptAnswers} of the 4 start-up answers`);
    // (MapLibre's modules, kept when the page imports them, are not part of this check.)
    const kept = await page.evaluate(async () => (await caches.keys()).filter((k) => !k.startsWith('roadledger-vendor-')).sort());
    check('online once', kept.length === 2 && kept[0] === 'roadledger-api-v1' && /^roadledger-shell-[0-9a-f]{16}$/.test(kept[1]),
      `the worker keeps ${kept}`);
    const shell = kept[1];
    const manifestType = await page.evaluate(async () => (await fetch('/manifest.webmanifest')).headers.get('content-type'));
    check('online once', manifestType === 'application/manifest+json', `the manifest is served as ${manifestType}`);

    setStep('record offline');
    await context.setOffline(true);
    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=no_signal]').tap();
    await page.setInputFiles('#photo-input', jpeg);
    await page.waitForSelector('#photo-count[data-count="1"]');
    const id = await page.evaluate(() => window.roadledger.draftId());
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="queued"], #result[data-state="error"], #result[data-state="success"], #result[data-state="signin"]');
    check('record offline', await page.getAttribute('#result', 'data-state') === 'queued', `not queued: ${await page.textContent('#result')}`);

    setStep('offline start');
    await page.reload();
    await waitReady();
    const listed = await page.$$eval('#outbox-list li[data-id]', (els) => els.map((el) => el.dataset.id));
    check('offline start', listed.length === 1 && listed[0] === id, `the queued record is not listed after an offline reload: ${listed}`);
    check('offline start', await page.isVisible('#offline-flag'), 'the page does not say it is offline');
    const groups = await page.$$eval('#hazard-groups .hazard-group', (els) => els.length);
    check('offline start', groups > 0, 'no hazard types offline');
    const items = await page.$$eval('#checklist-items .check-item', (els) => els.length);
    check('offline start', items === 5, `the five must-haves offline: ${items} items`);
    const inspector = (await page.textContent('#inspector-name')).trim();
    check('offline start', inspector.length > 0, 'the page does not name the inspector offline');
    check('offline start', !(await page.isDisabled('#submit')), 'the submit button is disabled offline');
    await screenshot(page, 'inspect-offline-start');

    setStep('back online');
    await context.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForSelector('#outbox-count[data-count="0"]', { timeout: 45_000 });
    const sentCodes = await page.getAttribute('#outbox-log', 'data-sent-codes');
    check('back online', /^YH-\d{6}$/.test(sentCodes || ''), `sent: ${sentCodes}`);

    setStep('background sync');
    // Another observation queued offline, then the page is closed: the browser's Background Sync (dispatched
    // here through DevTools, as Chromium does when the connection returns) has the worker send it alone.
    await context.setOffline(true);
    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=no_signal]').tap();
    const syncedId = await page.evaluate(() => window.roadledger.draftId());
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="queued"]');
    await page.waitForSelector('#outbox-count[data-count="1"]');
    const blank = await context.newPage();
    const cdp = await context.newCDPSession(blank);
    const registration = new Promise((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === new URL('/', base).href && !r.isDeleted);
        if (ours) resolve(ours.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const registrationId = await registration;
    await page.close();
    await context.setOffline(false);
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin: new URL(base).origin, registrationId, tag: 'outbox', lastChance: false });
    const recorded = async () => (await context.request.get(new URL(`/api/v1/observations/${syncedId}`, base).href)).status();
    let status = await recorded();
    for (let i = 0; i < 60 && status !== 200; i += 1) {
      await blank.waitForTimeout(250);
      status = await recorded();
    }
    check('background sync', status === 200, `the worker did not send the record with no page open (${status})`);
    page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    await page.goto(new URL('/inspect.html', base).href);
    await waitReady();
    await page.waitForSelector('#outbox-count[data-count="0"]');
    await blank.close();

    setStep('sign out');
    await page.click('#usermenu-details summary');
    await Promise.all([page.waitForURL((url) => url.pathname === '/login.html'), page.click('#sign-out')]);
    // MapLibre's files and the town's map tiles are public (the public report page draws the same tiles): they
    // stay for whoever signs in next.
    const left = await page.evaluate(async () => (await caches.keys())
      .filter((k) => !k.startsWith('roadledger-vendor-') && !k.startsWith('roadledger-town-tiles-')).sort());
    check('sign out', left.join() === shell, `after signing out the worker still keeps ${left}`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { id, synced_id: syncedId, sent_codes: sentCodes, inspector };
  } finally {
    await browser.close();
  }
});
