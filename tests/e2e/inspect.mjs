// The inspector's phone page in a real browser (390×844, touch, fixed GPS position):
//  1. a submission the server refuses (accuracy beyond its limit) shows the server's problem+json detail and
//     keeps the draft and its id;
//  2. fixed up, the same draft is sent and the success message names the new site;
//  3. offline, a second observation goes to the outbox (IndexedDB) and is sent by itself once back online.
//
//   node tests/e2e/inspect.mjs <base-url> <path-to-a-jpeg>
//
// Prints one JSON line ({"ok": true, "first": {...}, "second": {...}} or {"ok": false, "step", "error"}) and
// exits non-zero on failure. The Rust test (tests/browser.rs) checks the database afterwards.

import { existsSync } from 'node:fs';
import { launch, watchConsole, screenshot, check, run, fail } from './lib.mjs';

const [base, jpeg] = process.argv.slice(2);
if (!base || !jpeg) fail('usage', 'usage: node tests/e2e/inspect.mjs <base-url> <path-to-a-jpeg>');
if (!existsSync(jpeg)) fail('usage', `no such photo: ${jpeg}`);

const HERE = { longitude: 120.55, latitude: 31.87, accuracy: 8 };
const TIMEOUT_MS = 30_000;

await run('inspect', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      geolocation: { ...HERE, accuracy: 20_000 },
      permissions: ['geolocation'],
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

    // Radios and checkboxes are styled labels; tap the label as a finger would.
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const resultText = () => page.textContent('#result');

    setStep('open');
    await page.goto(new URL('/inspect.html', base).href);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="20000"]');

    setStep('fill in');
    await labelOf('input[name=kind][value=intersection]').tap();
    check('fill in', await page.isChecked('input[name=kind][value=intersection]'), 'intersection is not chosen');
    const groups = await page.$$eval('#hazard-groups .hazard-group', (els) => els.map((e) => e.dataset.group));
    check('fill in', groups.join() === 'intersection,roadside,stop', `hazard groups for an intersection: ${groups}`);
    await page.tap('#use-location');
    check('fill in', await page.getAttribute('#point-fixed', 'data-state') === 'set', 'the location is not set');
    await labelOf('input[name=hazard][value=no_warning_posts]').tap();
    check('fill in', await page.isChecked('input[name=hazard][value=no_warning_posts]'), 'the hazard type is not ticked');
    await labelOf('input[name=item-warning_post][value=damaged]').tap();
    await labelOf('input[name=item-speed_bump][value=missing]').tap();
    check('fill in', await page.isChecked('input[name=item-warning_post][value=damaged]'), 'warning_post is not set');
    await page.setInputFiles('#photo-input', jpeg);
    await page.waitForSelector('#photo-count[data-count="1"]');
    await page.fill('#road-code', 'x202');
    await page.fill('#stake', 'K3+200');
    await page.fill('#notes', '路口东侧警示桩倒伏两根');
    await page.fill('#inspector', '王芳');
    const draftId = await page.evaluate(() => window.roadledger.draftId());

    setStep('refused');
    // 20 km "accuracy" is beyond the server's limit: a 422 with a problem+json detail naming the field.
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="error"]');
    const refusal = await resultText();
    check('refused', /accuracy_m/.test(refusal), `the error should show the server's detail, shows: ${refusal}`);
    check('refused', await page.evaluate(() => window.roadledger.draftId()) === draftId, 'the draft id changed after a refusal');
    check('refused', await page.isChecked('input[name=hazard][value=no_warning_posts]'), 'the draft was cleared after a refusal');
    check('refused', await page.getAttribute('#outbox-count', 'data-count') === '0', 'a refused draft must not wait in the outbox');
    const shotError = await screenshot(page, 'inspect-refused');

    setStep('first');
    await context.setGeolocation(HERE);
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="8"]');
    await page.tap('#use-location'); // let go of the 20 km fix
    await page.tap('#use-location'); // and take the good one
    check('first', (await page.textContent('#point-fixed')).includes('31.870000, 120.550000'), 'the new fix is not used');
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"]');
    check('first', await page.getAttribute('#result', 'data-state') === 'success', `not sent: ${await resultText()}`);
    const first = {
      id: draftId,
      site_code: await page.getAttribute('#result', 'data-site-code'),
      site_match: await page.getAttribute('#result', 'data-site-match'),
      message: await resultText(),
    };
    check('first', /^YH-\d{6}$/.test(first.site_code), `site code ${first.site_code}`);
    check('first', first.message.includes(first.site_code), `the message should name the site: ${first.message}`);
    check('first', first.site_match === 'opened', `the first observation here should open a site, it ${first.site_match}`);
    check('first', await page.evaluate(() => window.roadledger.draftId()) !== draftId, 'a sent draft must make way for a new one');
    check('first', !(await page.isChecked('input[name=hazard][value=no_warning_posts]')), 'the form was not cleared');
    check('first', await page.inputValue('#inspector') === '王芳', 'the inspector name should be kept');
    const shotSent = await screenshot(page, 'inspect-sent');

    setStep('offline');
    await context.setOffline(true);
    const secondId = await page.evaluate(() => window.roadledger.draftId());
    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=no_signal]').tap();
    await labelOf('input[name=item-signal_light][value=missing]').tap();
    await page.setInputFiles('#photo-input', jpeg);
    await page.waitForSelector('#photo-count[data-count="1"]');
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="queued"], #result[data-state="error"], #result[data-state="success"]');
    check('offline', await page.getAttribute('#result', 'data-state') === 'queued', `not queued: ${await resultText()}`);
    await page.waitForSelector('#outbox-count[data-count="1"]');
    check('offline', await page.evaluate(() => window.roadledger.outboxCount()) === 1, 'the outbox should hold one record');
    const shotQueued = await screenshot(page, 'inspect-queued');

    setStep('back online');
    await context.setOffline(false);
    await page.waitForSelector('#outbox-count[data-count="0"]', { timeout: 45_000 });
    const sentCodes = await page.getAttribute('#outbox-log', 'data-sent-codes');
    check('back online', sentCodes === first.site_code,
      `the queued observation was at the same place, so it should join ${first.site_code}; sent: ${sentCodes}`);

    setStep('language');
    await page.tap('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const submitLabel = await page.textContent('#submit');
    check('language', submitLabel === 'Submit', `the submit button reads ${submitLabel}`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);

    return {
      first,
      second: { id: secondId, site_code: sentCodes },
      refusal,
      screenshots: [shotError, shotSent, shotQueued].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
