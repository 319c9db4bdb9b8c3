// The candidates queue (候选点段) in a real browser: a dispatcher opens the queue from the top bar, sees a
// black spot with its crashes and a drone detection with its image, dismisses the detection with a reason,
// confirms the black spot as a new site, and opens the site's page from the queue; the page passes axe-core.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/candidates.mjs <base-url> '<config JSON>'
//
// config: {"black_spot": id, "detection": id, "reason": "…"}. Prints one JSON line and exits non-zero on
// failure. The Rust test (tests/it/browser.rs) checks the database afterwards.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, configText] = process.argv.slice(2);
if (!base || !configText) fail('usage', 'usage: node tests/e2e/candidates.mjs <base-url> <config JSON>');
const config = JSON.parse(configText);

await run('candidates', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);

    setStep('sign-in');
    // Signed out, the queue leads to the sign-in page, and back to the queue after it.
    await page.goto(new URL('/candidates.html', base).href);
    check('sign-in', new URL(page.url()).pathname === '/login.html', `without a session the queue leads to ${page.url()}`);
    const landed = await signIn(page, credentials());
    check('sign-in', landed === '/candidates.html', `landed on ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    const entry = await page.locator('#topnav a[data-page="candidates"]').getAttribute('aria-current');
    check('sign-in', entry === 'page', 'the top bar has the queue, marked as the current page');

    setStep('queue');
    const items = await page.$$eval('.cand-item', (els) => els.map((el) => ({ id: Number(el.dataset.id), source: el.dataset.source, text: el.innerText })));
    check('queue', items.length === 2, `${items.length} candidates listed: ${JSON.stringify(items)}`);
    check('queue', items[0].id === config.black_spot, `the black spot (3 crashes) heads the queue: ${JSON.stringify(items)}`);
    const spot = items.find((i) => i.id === config.black_spot);
    check('queue', spot.text.includes('事故 3 起') && spot.text.includes('死亡 1 人'), `the black spot's crashes: ${spot.text}`);
    check('queue', spot.text.includes('时间分布') && spot.text.includes('分析报告 PDF'), `links to the patterns and the PDF: ${spot.text}`);
    const thumb = await page.$eval(`#cand-${config.detection} img.cand-thumb`, (img) => img.complete && img.naturalWidth);
    check('queue', thumb > 0, 'the detection shows its image');
    await checkAccessible('queue', page, 'candidates page');
    await screenshot(page, 'candidates');

    setStep('filter');
    await page.selectOption('#cand-source', 'drone');
    await page.waitForSelector('body[data-queue="loaded"]');
    await page.waitForFunction(() => document.querySelectorAll('.cand-item').length === 1);
    check('filter', new URL(page.url()).searchParams.get('source') === 'drone', `the filter is in the address: ${page.url()}`);

    setStep('dismiss');
    await page.click(`#cand-${config.detection} button[data-action="dismiss"]`);
    await page.waitForSelector('#dialog-dismiss-candidate');
    await page.click('#dialog-dismiss-candidate button[type="submit"]');
    await page.waitForSelector('#dialog-dismiss-candidate .dialog-error:not([hidden])');
    await page.fill('#cand-reason', config.reason);
    await page.click('#dialog-dismiss-candidate button[type="submit"]');
    await page.waitForSelector(`#cand-${config.detection}[data-status="dismissed"]`);

    setStep('confirm');
    await page.selectOption('#cand-source', '');
    await page.waitForFunction((id) => document.querySelector(`#cand-${id} button[data-action="confirm"]`), config.black_spot);
    await page.click(`#cand-${config.black_spot} button[data-action="confirm"]`);
    await page.waitForSelector('#dialog-confirm-candidate input[value="new"]');
    await page.click('#dialog-confirm-candidate button[type="submit"]');
    await page.waitForSelector(`#cand-site-${config.black_spot}`);
    const code = await page.locator(`#cand-site-${config.black_spot}`).innerText();

    setStep('site');
    await Promise.all([page.waitForURL((url) => url.pathname === '/site.html'), page.click(`#cand-site-${config.black_spot}`)]);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#site-crashes');
    const crashes = await page.locator('#site-crashes li').count();
    check('site', crashes === 3, `the site shows its ${crashes} crashes`);
    const timeline = await page.locator('#timeline').innerText();
    check('site', timeline.includes(`#${config.black_spot}`), `its opening names the candidate: ${timeline}`);

    // The sign-in page's own 401 (no session yet) is logged by the browser as a failed load: not an error.
    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the pages reported errors: ${errors.join('; ')}`);
    return { site_code: code, site_url: page.url() };
  } finally {
    await browser.close();
  }
});
