// Evidence photos from the site page (390×844 phone, touch), signed in as the responsible unit's officer of a
// site in progress: a camera photo (a 12 MP JPEG with EXIF) is picked as the after-photo of one checklist
// item and the evidence sent. The page resizes it through photos.js, as the inspection page does, and sends
// what the original's EXIF said as `photo_evidence`; the after-photo then shows the server's flag for it.
//
//   E2E_USER=<officer> E2E_PASSWORD=<password> node tests/e2e/evidence.mjs <base-url> <site-id> <item-code> <jpeg>
//
// Prints one JSON line ({"ok": true, "flags": [...]} or {"ok": false, "step", "error"}). The Rust
// test (tests/it/browser.rs) checks what the server stored.

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, check, run, fail, credentials, signIn } from './lib.mjs';

const [base, siteId, item, photo] = process.argv.slice(2);
if (!base || !siteId || !item || !photo) fail('usage', 'usage: node tests/e2e/evidence.mjs <base-url> <site-id> <item-code> <jpeg>');
if (!existsSync(photo)) fail('usage', `no such photo: ${photo}`);
const account = credentials();
const TIMEOUT_MS = 60_000;

await run('evidence', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, { longitude: 120.55, latitude: 31.87, accuracy: 8 });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

    setStep('sign in');
    const sitePage = new URL(`/site.html?id=${encodeURIComponent(siteId)}`, base).href;
    await page.goto(sitePage);
    await signIn(page, account);
    if (!page.url().startsWith(sitePage)) await page.goto(sitePage);
    await page.waitForSelector('body[data-state="ready"]');

    setStep('evidence');
    // The form opens by itself for a rectifier while the work is in progress.
    const details = page.locator(`#item-${item} details.evidence`);
    if (!(await details.evaluate((d) => d.open))) await page.tap(`#item-${item} details.evidence > summary`);
    await page.setInputFiles(`#ev-${item}-photo`, photo);
    await page.tap(`#evidence-${item} button[type="submit"]`);
    await page.waitForSelector(`#item-${item}[data-state="installed"] .compare-cell[data-role="after"] img`);
    const flags = await page.$$eval(`#item-${item} .compare-cell[data-role="after"] .photo-flag`, (spans) => spans.map((s) => s.textContent));

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { flags };
  } finally {
    await browser.close();
  }
});
