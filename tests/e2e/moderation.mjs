// The public reports queue (公众上报) in a real browser: a dispatcher finds a waiting report on the map's layer
// and opens the queue after signing in, sees a
// citizen's report with its photo's thumbnail and the reporter's contact in full, accepts it as a new site,
// and opens the site's page from the queue, which lists the report behind it; the queue passes axe-core.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/moderation.mjs <base-url> '<config JSON>'
//
// config: {"report": id, "phone": "…", "at": [lon, lat]}. Prints one JSON line and exits non-zero on failure. The Rust test
// (tests/it/browser.rs) checks the database afterwards.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, configText] = process.argv.slice(2);
if (!base || !configText) fail('usage', 'usage: node tests/e2e/moderation.mjs <base-url> <config JSON>');
const config = JSON.parse(configText);

await run('moderation', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);

    setStep('sign-in');
    await page.goto(new URL('/public-reports.html', base).href);
    const landed = await signIn(page, credentials());
    check('sign-in', landed === '/public-reports.html', `landed on ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    const entry = await page.locator('#topnav a[data-page="public-reports"]').getAttribute('aria-current');
    check('sign-in', entry === 'page', 'the top bar has the queue, marked as the current page');

    setStep('map');
    // The waiting reports are a layer of the map, off until asked for; the report's dot opens a panel that
    // leads to the queue.
    await page.goto(new URL(`/?public_reports=1#16/${config.at[1]}/${config.at[0]}`, base).href);
    await page.waitForFunction(() => window.roadledger && window.roadledger.ready);
    await page.evaluate(() => window.roadledger.ready.then(() => window.roadledger.idle()));
    const toggle = await page.isChecked('#layer-public-reports');
    check('map', toggle, 'the layer switch has the public reports, on');
    const dots = await page.evaluate(() => window.roadledger.map.queryRenderedFeatures({ layers: ['public-reports'] }).map((f) => f.id));
    check('map', dots.includes(config.report), `the waiting report is drawn: ${JSON.stringify(dots)}`);
    const centre = await page.evaluate(() => {
      const p = window.roadledger.map.project(window.roadledger.map.getCenter());
      const box = window.roadledger.map.getCanvas().getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    });
    await page.mouse.click(centre.x, centre.y);
    await page.waitForSelector('#panel-public-report-queue');
    await page.goto(new URL('/public-reports.html', base).href);
    await page.waitForSelector('body[data-state="ready"]');

    setStep('queue');
    const item = page.locator(`#pr-${config.report}`);
    const text = await item.innerText();
    check('queue', text.includes('随手拍') && text.includes(config.phone), `the report with its channel and full contact: ${text}`);
    await item.locator('button.pr-toggle').click();
    await page.waitForSelector(`#pr-${config.report} .pr-photos img`);
    const thumb = await page.$eval(`#pr-${config.report} .pr-photos img`, (img) => img.decode().then(() => img.naturalWidth));
    check('queue', thumb > 0, 'the photo thumbnail loads');
    await checkAccessible('queue', page, 'public reports page');
    await screenshot(page, 'public-reports');

    setStep('accept');
    await item.locator('button[data-action="accept"]').click();
    await page.waitForSelector('#dialog-accept-report input[value="new"]');
    await page.fill('#pr-public', '已受理，转属地整改');
    await page.click('#dialog-accept-report button[type="submit"]');
    await page.waitForSelector(`#pr-site-${config.report}`);
    const code = await page.locator(`#pr-site-${config.report}`).innerText();
    const status = await item.getAttribute('data-status');
    check('accept', status === 'accepted', `the item says accepted: ${status}`);

    setStep('site');
    await Promise.all([page.waitForURL((url) => url.pathname === '/site.html'), page.click(`#pr-site-${config.report}`)]);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#site-public-reports');
    const behind = await page.locator('#site-public-reports').innerText();
    check('site', behind.includes(`#${config.report}`) && behind.includes('随手拍'), `the site lists its report: ${behind}`);

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the pages reported errors: ${errors.join('; ')}`);
    return { site_code: code, site_url: page.url() };
  } finally {
    await browser.close();
  }
});
