// The 12345热线工单 page in a real browser: a hotline operator signs in (and lands on the hotline page, the
// only one the account opens), enters a ticket the caller reports — number, description, address, the place
// picked by a tap on the small map — and reads that it is entered with the caller's tracking link; the same
// ticket sent again is recognised, not entered twice; a different ticket under the same number is refused,
// naming the number. Then the platform's export: a dry run reports one row to store and one refused with its
// row number, and the import stores it. The page passes axe-core.
//
//   E2E_USER=<hotline operator> E2E_PASSWORD=<password> node tests/e2e/hotline.mjs <base-url>
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}) and exits non-zero on failure.
// The Rust test (tests/it/browser.rs, hotline_page_enters_a_ticket) checks the database afterwards.

import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base] = process.argv.slice(2);
if (!base) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/hotline.mjs <base-url>');
const operator = credentials('E2E');

await run('hotline', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    watchConsole(page, log);

    setStep('sign in');
    const landed = await signIn(page, operator, base);
    await page.waitForSelector('body.page-hotline[data-state="ready"]');
    check('landing', new URL(page.url()).pathname === '/hotline.html', `landed on ${landed} then ${page.url()}`);
    const nav = await page.$$eval('#topnav a', (as) => as.map((a) => a.getAttribute('href')));
    check('top bar', JSON.stringify(nav) === JSON.stringify(['/public-reports.html', '/hotline.html']),
      `the bar links the public reports queue and the hotline page only: ${JSON.stringify(nav)}`);

    setStep('enter');
    await page.fill('#ticket-no', 'E2E-20261207-0001');
    await page.fill('#ticket-description', '村口路灯不亮，夜里看不清路口');
    await page.fill('#ticket-address', '杨舍镇东街村村口');
    await page.selectOption('#ticket-category', 'lighting');
    await page.fill('#ticket-phone', '138 1234 5678');
    await page.click('#ticket-pick');
    await page.waitForSelector('#ticket-map[data-state="ready"]');
    const box = await page.locator('#ticket-map').boundingBox();
    await page.mouse.click(box.x + box.width / 2 + 60, box.y + box.height / 2 - 40);
    await page.waitForFunction(() => document.getElementById('ticket-point').textContent.includes('已选位置'));
    const point = await page.textContent('#ticket-point');
    await checkAccessible('accessibility', page, 'hotline.html with the form filled');
    await page.click('#ticket-submit');
    await page.waitForSelector('#ticket-result[data-outcome="created"]');
    const done = await page.textContent('#ticket-done');
    check('entered', done.includes('E2E-20261207-0001') && done.includes('已登记'), done);
    const tracking = await page.getAttribute('#ticket-tracking', 'href');
    check('tracking link', /^\/track\.html#[0-9a-f]{32}$/.test(tracking), tracking);
    check('form reset', (await page.inputValue('#ticket-no')) === '', 'the form is empty for the next call');
    await screenshot(page, 'hotline-entered');

    setStep('again');
    await page.fill('#ticket-no', 'E2E-20261207-0001');
    await page.fill('#ticket-description', '村口路灯不亮，夜里看不清路口');
    await page.fill('#ticket-address', '杨舍镇东街村村口');
    await page.fill('#ticket-called-at', '2026-12-07T09:30');
    await page.click('#ticket-submit');
    await page.waitForSelector('#ticket-result[data-outcome="refused"]');
    const conflict = await page.textContent('#ticket-error');
    check('conflict', conflict.includes('E2E-20261207-0001') && conflict.includes('另一张工单'), conflict);

    setStep('import');
    const dir = mkdtempSync(join(tmpdir(), 'hotline-e2e-'));
    const file = join(dir, '12345工单.csv');
    writeFileSync(file, '\ufeff工单编号,来电时间,诉求内容,事发地址,诉求类别\n'
      + 'E2E-CSV-1,2026-12-06 08:00,学校门口没有减速带,杨舍镇实验小学,交通设施/学校周边\n'
      + ',2026-12-06 09:00,没有工单号,杨舍镇,其他\n');
    check('import disabled', await page.isDisabled('#hotline-run'), 'import waits for a dry run');
    await page.setInputFiles('#hotline-file', file);
    await page.click('#hotline-dry-run');
    await page.waitForSelector('#hotline-report-body[data-dry-run="true"]');
    const dry = {
      would: await page.textContent('[data-count="hotline.rowsWouldStore"]'),
      refused: await page.textContent('[data-count="hotline.rowsRefused"]'),
      row: await page.textContent('#hotline-refused tbody tr'),
    };
    check('dry run', dry.would === '1' && dry.refused === '1' && dry.row.startsWith('3'), JSON.stringify(dry));
    await checkAccessible('accessibility', page, 'hotline.html after a dry run');
    await page.click('#hotline-run');
    await page.waitForSelector('#hotline-report-body[data-dry-run="false"]');
    const stored = await page.textContent('[data-count="hotline.rowsStored"]');
    check('import', stored === '1', `stored ${stored}`);
    await screenshot(page, 'hotline-imported');
    return { point, tracking, dry, stored: Number(stored) };
  } finally {
    await browser.close();
  }
});
