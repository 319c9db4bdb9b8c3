// The black-spot screening page in a real browser (事故多发点段筛查, issue 12): a dispatcher opens it, finds the
// form filled in with the county's defaults, runs a density clustering with ε changed, and sees the ranked
// candidates (each linked to the map centred on it) and the run in the list of past runs.
//
//   E2E_USER=<dispatcher> E2E_PASSWORD=… node tests/e2e/screenings.mjs <base-url> '<expectations JSON>'
//   expectations: {"eps_m": 50, "candidates": 1, "crash_count": 4, "centre": [120.5251, 31.9051]}
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure.

import { launch, watchConsole, check, run, fail, credentials, signIn } from './lib.mjs';

const [base, expectationsText] = process.argv.slice(2);
if (!base || !expectationsText) fail('usage', 'usage: node tests/e2e/screenings.mjs <base-url> <expectations-json>');
const expected = JSON.parse(expectationsText);
const account = credentials('E2E');

await run('screenings', async ({ log, setStep }) => {
  const browser = await launch();
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);

    setStep('sign in');
    await page.goto(new URL('/screenings.html', base).href);
    const landed = await signIn(page, account);
    check('sign in', landed === '/screenings.html', `the dispatcher landed on ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');

    setStep('defaults');
    check('defaults', await page.isVisible('#screenings-form'), 'a dispatcher should see the form');
    check('defaults', await page.inputValue('#screenings-params input[name="window_m"]') === '500', 'the window should default to 500 m');
    await page.selectOption('#screenings-method', 'dbscan');
    check('defaults', await page.inputValue('#screenings-params input[name="eps_m"]') === '100', 'ε should default to 100 m');
    check('defaults', await page.inputValue('#screenings-params input[name="w.fatal"]') === '12', 'the fatal EPDO weight should default to 12');

    setStep('run');
    await page.fill('#screenings-params input[name="eps_m"]', String(expected.eps_m));
    await page.fill('#screenings-start', '2024-01-01');
    await page.fill('#screenings-end', '2026-01-01');
    await page.click('#screenings-run');
    await page.waitForSelector('#screenings-result tbody tr');
    const rows = await page.$$eval('#screenings-result tbody tr', (trs) => trs.map((tr) => ({
      cells: [...tr.cells].map((td) => td.textContent.trim()),
      map: tr.querySelector('a')?.getAttribute('href'),
    })));
    result.rows = rows;
    check('run', rows.length === expected.candidates, `the run should list ${expected.candidates} candidates, not ${rows.length}`);
    check('run', rows[0].cells[0] === '1' && rows[0].cells[3] === String(expected.crash_count), `the first row reads ${rows[0].cells}`);
    const [lon, lat] = expected.centre;
    check('run', rows[0].map === `/#17/${lat}/${lon}`, `the map link is ${rows[0].map}`);
    const pastRuns = await page.$$eval('#screenings-runs tbody tr', (trs) => trs.length);
    check('run', pastRuns === 1, `the past runs list ${pastRuns} runs`);
  } finally {
    await browser.close();
  }
  return result;
});
