// A new release of the inspection page reaches an installed phone only when the inspector says so, in a real
// browser:
//  1. signed in, the service worker installs the page's release (one cache named after it);
//  2. a file of the page changes on the server (this script edits the served copy of web/, as a deploy
//     would): the browser's update check finds a changed /sw.js, the new worker installs beside the running one
//     and waits, and the page shows "有新版本，点此刷新" while it still runs the old release;
//  3. tapped, the new worker takes over, the page reloads on the new files, and the old release's cache goes.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/update.mjs <base-url> <served-web-dir>
//
// Prints one JSON line ({"ok": true, "old": "…", "new": "…"} or {"ok": false, "step", "error"}).

import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, phoneContext, watchConsole, check, run, fail, credentials, signIn, checkAccessible, screenshot } from './lib.mjs';

const [base, webDir] = process.argv.slice(2);
if (!base || !webDir || !existsSync(join(webDir, 'inspect.html'))) fail('usage', 'usage: node tests/e2e/update.mjs <base-url> <served-web-dir>');
const account = credentials();
const MARK = '/* the next release */';

await run('update', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, { longitude: 120.56, latitude: 31.88, accuracy: 7 });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    const shells = () => page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('roadledger-shell-')).sort());

    setStep('installed');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const [old] = await shells();
    check('installed', Boolean(old), 'no release cache');
    check('installed', await page.isHidden('#update-banner'), 'an update is offered with nothing new');

    setStep('new release waits');
    appendFileSync(join(webDir, 'app.css'), `\n${MARK}\n`);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.waitForSelector('#update-banner:not([hidden]) #update-reload');
    const label = (await page.textContent('#update-reload')).trim();
    check('new release waits', label === '有新版本，点此刷新', `the prompt says ${label}`);
    const both = await shells();
    check('new release waits', both.length === 2 && both.includes(old), `caches while waiting: ${both}`);
    const cssNow = await page.evaluate(async () => (await fetch('/app.css')).text());
    check('new release waits', !cssNow.includes('the next release'), 'the page already gets the new files before the inspector accepted');
    await checkAccessible('new release waits', page, 'the page offering an update');
    await screenshot(page, 'inspect-update');

    setStep('accepted');
    await Promise.all([page.waitForEvent('load'), page.tap('#update-reload')]);
    await page.waitForSelector('body[data-state="ready"]');
    const after = await shells();
    check('accepted', after.length === 1 && after[0] !== old, `caches after the switch: ${after} (old ${old})`);
    const cssAfter = await page.evaluate(async () => (await fetch('/app.css')).text());
    check('accepted', cssAfter.includes('the next release'), 'the page still gets the old files');
    check('accepted', await page.isHidden('#update-banner'), 'the prompt is still shown');

    const errors = log.filter((l) => l.startsWith('pageerror'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { old: old.replace('roadledger-shell-', ''), new: after[0].replace('roadledger-shell-', '') };
  } finally {
    await browser.close();
  }
});
