// The 事故数据 page in a real browser: a dispatcher picks a small police export (CSV, Chinese headers, a
// personal column, one row that cannot be placed), runs the dry run and reads its report in Chinese (counts,
// the dropped column, the refused row with its number) while nothing is stored; "正式导入" is enabled only
// then, and imports: the report, the recent imports and the crash table follow. The page passes axe-core.
//
//   E2E_USER=<dispatcher> E2E_PASSWORD=<password> node tests/e2e/crashes.mjs <base-url>
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}) and exits non-zero on failure.
// The Rust test (tests/it/browser.rs, crashes_page_imports_a_police_export) checks the database afterwards.

import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base] = process.argv.slice(2);
if (!base) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/crashes.mjs <base-url>');
const dispatcher = credentials('E2E');

const CSV = [
  '事故编号,事故时间,经度,纬度,当事人姓名,死亡人数,重伤人数,轻伤人数,事故形态,车辆类型,天气,照明',
  'B1,2025-05-01 08:10,120.55,31.87,张三,0,1,0,追尾,小型轿车,晴,白天',
  'B2,2025-05-02 19:40,120.56,31.87,李四,1,0,0,碰撞行人,货车,雨,夜间无路灯照明',
  'B3,2025-05-03 12:00,,,王五,0,0,0,刮擦,小型轿车,阴,白天',
].join('\n');

await run('crashes', async ({ log, setStep }) => {
  const dir = mkdtempSync(join(tmpdir(), 'crashes-e2e-'));
  const file = join(dir, '事故数据.csv');
  writeFileSync(file, `\ufeff${CSV}\n`);
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);

    setStep('sign in');
    await page.goto(new URL('/crashes.html', base).href);
    await signIn(page, dispatcher);
    await page.waitForSelector('body[data-state="ready"]');
    check('top bar', (await page.textContent('#topnav')).includes('事故数据'), 'the top bar links the page');
    check('nav area', await page.$('nav#crash-links') !== null, 'the page keeps a <nav> for the analysis pages');
    check('import disabled', await page.isDisabled('#crash-import'), 'import waits for a dry run');

    setStep('dry run');
    await page.setInputFiles('#crash-file', file);
    await page.click('#crash-dry-run');
    await page.waitForSelector('#crash-report-body[data-dry-run="true"]');
    const dry = {
      title: await page.textContent('#crash-report-body h3'),
      read: await page.textContent('[data-count="crashes.rowsRead"]'),
      would: await page.textContent('[data-count="crashes.rowsWouldImport"]'),
      refused: await page.textContent('[data-count="crashes.rowsRefused"]'),
      dropped: await page.textContent('#crash-dropped'),
      refusedRow: await page.textContent('#crash-refused tbody tr'),
    };
    check('dry run', dry.title.includes('试导入报告'), `title: ${dry.title}`);
    check('dry run', dry.read === '3' && dry.would === '2' && dry.refused === '1', JSON.stringify(dry));
    check('dry run', dry.dropped.includes('个人信息列') && dry.dropped.includes('当事人姓名'), dry.dropped);
    check('dry run', dry.refusedRow.includes('4') && dry.refusedRow.includes('B3') && dry.refusedRow.includes('无法定位'), dry.refusedRow);
    const stored = await page.evaluate(async () => (await (await fetch('/api/v1/crashes', { headers: { accept: 'application/json' } })).json()).features.length);
    check('dry run', stored === 0, `the dry run stored ${stored} crashes`);
    await checkAccessible('accessibility', page, 'crashes.html after a dry run');
    await screenshot(page, 'crashes-dry-run');

    setStep('import');
    check('import enabled', !(await page.isDisabled('#crash-import')), 'import is enabled after the dry run');
    await page.click('#crash-import');
    await page.waitForSelector('#crash-report-body[data-dry-run="false"]');
    const imported = await page.textContent('[data-count="crashes.rowsImported"]');
    check('import', imported === '2', `imported ${imported}`);
    await page.waitForSelector('#crash-table tbody tr');
    const rows = await page.$$eval('#crash-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    check('table', rows.length === 2, JSON.stringify(rows));
    check('table', rows[0].includes('2025-05-02 19:40') && rows[0].includes('死亡事故') && rows[0].includes('碰撞行人')
      && rows[0].includes('夜间无路灯照明'), rows[0]);
    const history = await page.textContent('#crash-import-table tbody');
    check('history', history.includes('事故数据.csv') && history.includes('当事人姓名'), history);
    check('import disabled again', await page.isDisabled('#crash-import'), 'a second import needs another dry run');

    setStep('filter');
    await page.selectOption('#crash-severity', 'fatal');
    await page.click('#crash-filter button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('#crash-table tbody tr').length === 1);
    await screenshot(page, 'crashes-imported');
    return { dry, imported: Number(imported), rows: rows.length };
  } finally {
    await browser.close();
  }
});
