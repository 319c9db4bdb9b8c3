// The crash time patterns page in a real browser (事故时段规律, issue 12), over hand-made crashes (the Rust
// test inserts them, see tests/it/crash_patterns.rs):
//  - a dispatcher opens the county's patterns for 2025: the server's four charts are drawn as SVG (24 hour
//    bars, 7 weekday bars, 12 month bars, the periods against their time), the summary counts the crashes,
//    and the over-represented periods are said in words;
//  - the town filter narrows the crashes and is kept in the address;
//  - the candidate's view (`?candidate=ID`) counts only its crashes, hides the county filter and links the
//    candidate's sheet, which downloads as a PDF;
//  - axe-core finds no serious or critical WCAG 2.1 A/AA violation.
//
//   E2E_USER=<dispatcher> E2E_PASSWORD=… node tests/e2e/patterns.mjs <base-url> <candidate id> <town code>
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure.

import { launch, watchConsole, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, candidate, town] = process.argv.slice(2);
if (!base || !candidate || !town) fail('usage', 'usage: node tests/e2e/patterns.mjs <base-url> <candidate-id> <town-code>');
const account = credentials('E2E');
const TIMEOUT_MS = 30_000;

await run('patterns', async ({ log, setStep }) => {
  const browser = await launch();
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    const loaded = (what) => page.waitForFunction((what) => document.getElementById('patterns-panel')?.dataset.loaded === what, what);
    const text = (selector) => page.$eval(selector, (el) => el.textContent.trim());

    setStep('sign in');
    await page.goto(new URL('/patterns.html?from=2025-01-01&to=2025-12-31', base).href);
    check('sign in', new URL(page.url()).pathname === '/login.html', `without a session the page should lead to the sign-in page, not ${page.url()}`);
    const landed = await signIn(page, account);
    check('sign in', landed === '/patterns.html', `signed in, the page should come back to /patterns.html, not ${landed}`);

    setStep('county');
    await page.waitForSelector('body[data-state="ready"]');
    await loaded('county:2025-01-01:2025-12-31');
    result.county_summary = await text('#patterns-summary');
    result.charts = await page.$$eval('#patterns-panel figure.report-chart', (figures) => figures.map((f) => ({
      id: f.id,
      svg: Boolean(f.querySelector('svg.chart-svg[role="img"]')),
      rects: f.querySelectorAll('svg rect').length,
      scripts: f.querySelectorAll('script').length,
    })));
    result.over = await page.$$eval('#over-represented li', (items) => items.map((li) => li.textContent.trim()));
    result.period_rows = await page.$$eval('#period-table tbody tr', (rows) => rows.length);
    result.filter_visible = await page.isVisible('#patterns-filter');
    result.county_accessibility = await checkAccessible('county: accessibility', page, 'the county patterns');

    setStep('town filter');
    await page.selectOption('#filter-town', town);
    await page.click('#patterns-filter button[type="submit"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.has('town'));
    await loaded('county:2025-01-01:2025-12-31');
    await page.waitForFunction(() => !document.getElementById('patterns-summary')?.textContent.includes('共 7 起'));
    result.town_summary = await text('#patterns-summary');
    result.town_in_address = new URL(page.url()).searchParams.get('town');

    setStep('candidate');
    await page.goto(new URL(`/patterns.html?candidate=${candidate}`, base).href);
    await page.waitForSelector('body[data-state="ready"]');
    await loaded(`candidate:${candidate}`);
    result.candidate_summary = await text('#patterns-summary');
    result.candidate_scope = await text('#patterns-scope');
    result.candidate_filter_visible = await page.isVisible('#patterns-filter');
    result.candidate_charts = await page.$$eval('#patterns-panel svg.chart-svg', (svgs) => svgs.length);
    const href = await page.getAttribute('#candidate-pdf', 'href');
    result.pdf_href = href;
    const pdf = await page.request.get(new URL(href, base).href);
    result.pdf_status = pdf.status();
    result.pdf_type = pdf.headers()['content-type'];
    result.pdf_magic = (await pdf.body()).subarray(0, 5).toString('latin1');
    return result;
  } finally {
    await browser.close();
  }
});
