// The inspector's phone page in a real browser (390×844, touch, fixed GPS position), signed in as an
// inspector:
//  1. opening the page without a session leads to the sign-in page, and back to the page after signing in;
//     the page names the signed-in inspector (there is no name field any more);
//  2. a submission the server refuses (accuracy beyond its limit) shows the server's problem+json detail and
//     keeps the draft and its id;
//  3. fixed up, the same draft is sent and the success message names the new site;
//  4. offline, a second observation goes to the outbox (IndexedDB); back online but signed out (the cookie
//     is gone), the send is answered 401: the record stays queued and the page asks to sign in again; after
//     signing in through its link, the record is sent by itself;
//  5. with a personal API token (made on /account.html, saved under "Settings"), a third observation is sent
//     with `Authorization: Bearer` and no cookie at all.
//
// With the form filled in, axe-core finds no serious or critical WCAG 2.1 A/AA violation on the page.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> node tests/e2e/inspect.mjs <base-url> <path-to-a-jpeg>
//
// The account must have the `inspector` role. Prints one JSON line ({"ok": true, "first": {...},
// "second": {...}, "third": {...}, "inspector_line": "…"} or {"ok": false, "step", "error"}) and exits
// non-zero on failure. The Rust test (tests/it/browser.rs) checks the database afterwards.

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, jpeg] = process.argv.slice(2);
if (!base || !jpeg) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/inspect.mjs <base-url> <path-to-a-jpeg>');
if (!existsSync(jpeg)) fail('usage', `no such photo: ${jpeg}`);
const account = credentials();

const HERE = { longitude: 120.55, latitude: 31.87, accuracy: 8 };
const TIMEOUT_MS = 30_000;

await run('inspect', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, { ...HERE, accuracy: 20_000 });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    // Every upload, with how it was authenticated.
    const uploads = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/observations') {
        uploads.push(request.allHeaders().then((headers) => ({
          authorization: headers.authorization ? headers.authorization.split(' ')[0] : null,
          cookie: Boolean(headers.cookie),
          csrf: Boolean(headers['x-csrf-token']),
        })));
      }
    });

    // Radios and checkboxes are styled labels; tap the label as a finger would.
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const resultText = () => page.textContent('#result');
    const waitReady = () => page.waitForSelector('body[data-state="ready"]');

    setStep('sign in');
    await page.goto(new URL('/inspect.html', base).href);
    const loginUrl = new URL(page.url());
    check('sign in', loginUrl.pathname === '/login.html' && loginUrl.searchParams.get('next') === '/inspect.html',
      `without a session the page should lead to /login.html?next=/inspect.html, it is at ${page.url()}`);
    const landed = await signIn(page, account);
    check('sign in', landed === '/inspect.html', `after signing in the browser is at ${landed}`);
    await waitReady();
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="20000"]');
    const user = await page.evaluate(() => window.roadledger.user());
    const inspectorLine = (await page.textContent('#inspector')).trim();
    check('sign in', inspectorLine.startsWith(`巡查员：${user.display_name}`), `the page names the inspector as: ${inspectorLine}`);
    check('sign in', await page.locator('input#inspector, input[name=inspector]').count() === 0, 'the inspector name field is still there');

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
    const draftId = await page.evaluate(() => window.roadledger.draftId());
    // WCAG 2.1 A/AA with axe-core, on a phone, with the form filled in: no serious or critical violation.
    const accessibility = { filled_in: await checkAccessible('fill in', page, 'the inspection page') };

    setStep('refused');
    // 20 km "accuracy" is beyond the server's limit: a 422 with a problem+json detail naming the field. The
    // page asks first to confirm so coarse a fix (web/place.js); confirmed, it goes to the server.
    await page.tap('#submit');
    await page.waitForSelector('#confirm-fix');
    await page.tap('#confirm-fix button[value=ok]');
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
    // Where the fix is on the road network, live from /api/v1/roads/locate.
    await page.waitForSelector('#loc-road[data-route="X202"]', { timeout: TIMEOUT_MS });
    const onRoad = (await page.textContent('#loc-road')).trim();
    await page.tap('#use-location'); // let go of the 20 km fix
    await page.tap('#use-location'); // and take the good one
    check('first', (await page.textContent('#point-fixed')).includes('31.870000, 120.550000'), 'the new fix is not used');
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"], #result[data-state="signin"]');
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
    await page.waitForSelector('#result[data-state="queued"], #result[data-state="error"], #result[data-state="success"], #result[data-state="signin"]');
    check('offline', await page.getAttribute('#result', 'data-state') === 'queued', `not queued: ${await resultText()}`);
    await page.waitForSelector('#outbox-count[data-count="1"]');
    check('offline', await page.evaluate(() => window.roadledger.outboxCount()) === 1, 'the outbox should hold one record');
    const shotQueued = await screenshot(page, 'inspect-queued');

    setStep('signed out while queued');
    // The session is gone (expired, or signed out elsewhere) while the record waits.
    await context.clearCookies();
    await context.setOffline(false);
    await page.waitForSelector('#outbox-signin:not([hidden])', { timeout: 45_000 });
    const signinBanner = (await page.textContent('#outbox-signin')).trim();
    check('signed out while queued', signinBanner.includes('请重新登录'), `the outbox should ask to sign in again: ${signinBanner}`);
    check('signed out while queued', await page.getAttribute('#outbox-count', 'data-count') === '1', 'a 401 must keep the record queued');
    const waiting = await page.getAttribute('#outbox-list li', 'data-state');
    check('signed out while queued', waiting === 'waiting', `a record answered 401 must wait, not be refused (it is ${waiting})`);
    const shotSignIn = await screenshot(page, 'inspect-sign-in-again');

    setStep('signed in again');
    await Promise.all([page.waitForURL((url) => url.pathname === '/login.html'), page.click('#outbox-signin a')]);
    check('signed in again', new URL(page.url()).searchParams.get('next') === '/inspect.html', `the link leads to ${page.url()}`);
    const back = await signIn(page, account);
    check('signed in again', back === '/inspect.html', `after signing in again the browser is at ${back}`);
    await waitReady();
    await page.waitForSelector('#outbox-count[data-count="0"]', { timeout: 45_000 });
    const sentCodes = await page.getAttribute('#outbox-log', 'data-sent-codes');
    check('signed in again', sentCodes === first.site_code,
      `the queued observation was at the same place, so it should join ${first.site_code}; sent: ${sentCodes}`);

    setStep('api token');
    await page.goto(new URL('/account.html', base).href);
    await waitReady();
    await page.fill('#token-name', '巡查手机');
    await page.click('#token-create');
    await page.waitForSelector('#token-value');
    const token = await page.inputValue('#token-value');
    check('api token', token.length >= 16, `the new token is only shown as "${token}"`);
    await page.goto(new URL('/inspect.html', base).href);
    await waitReady();
    await page.click('#card-settings summary');
    await page.fill('#api-token', token);
    await page.click('#api-token-save');
    await page.waitForSelector('#api-token-status[data-kind="ok"], #api-token-status[data-kind="error"]');
    check('api token', await page.getAttribute('#api-token-status', 'data-kind') === 'ok',
      `the token was not accepted: ${await page.textContent('#api-token-status')}`);
    check('api token', await page.getAttribute('#card-settings', 'data-token') === 'set', 'the settings should show a token is set');
    const shotToken = await screenshot(page, 'inspect-token');

    setStep('third, with the token only');
    await context.clearCookies();
    const thirdId = await page.evaluate(() => window.roadledger.draftId());
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="8"]');
    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=no_lighting_intersection]').tap();
    const uploadsBefore = uploads.length;
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"], #result[data-state="signin"]');
    check('third, with the token only', await page.getAttribute('#result', 'data-state') === 'success', `not sent: ${await resultText()}`);
    const third = { id: thirdId, site_code: await page.getAttribute('#result', 'data-site-code') };
    const seen = await Promise.all(uploads);
    const tokenUpload = seen[uploadsBefore];
    check('third, with the token only', tokenUpload && tokenUpload.authorization === 'Bearer' && !tokenUpload.cookie && !tokenUpload.csrf,
      `the upload should carry the token and no cookie: ${JSON.stringify(tokenUpload)}`);
    const cookieUpload = seen[0];
    check('third, with the token only', cookieUpload && !cookieUpload.authorization && cookieUpload.cookie && cookieUpload.csrf,
      `the first upload should carry the cookie and the CSRF token: ${JSON.stringify(cookieUpload)}`);

    setStep('language');
    await page.tap('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const submitLabel = await page.textContent('#submit');
    check('language', submitLabel === 'Submit', `the submit button reads ${submitLabel}`);
    const inspectorEn = (await page.textContent('#inspector')).trim();
    check('language', inspectorEn.startsWith(`Inspector: ${user.display_name}`),
      `the inspector line in English reads ${inspectorEn}`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);

    return {
      accessibility,
      on_road: onRoad,
      user: { id: user.id, name: user.name, display_name: user.display_name },
      inspector_line: inspectorLine,
      first,
      second: { id: secondId, site_code: sentCodes },
      third,
      sign_in_banner: signinBanner,
      uploads: seen,
      refusal,
      screenshots: [shotError, shotSent, shotQueued, shotSignIn, shotToken].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
