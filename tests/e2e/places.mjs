// The admin page's 区镇与道路 tab in a real browser: a county's own places imported from its files.
//  1. towns.geojson: "预览" shows 3 towns to insert while nothing is stored yet (the lists and the history are
//     still empty), with the upload's progress shown (the upload is slowed down so that the page polls the
//     server's progress); "导入" is enabled only then, and imports them: the list shows the 3 towns;
//  2. the GBK shapefile as its 5 separate parts (.shp .shx .dbf .prj .cpg) with the county code: the preview
//     shows the attributes understood (LXMC → 名称) and the encoding, the import lists the roads with their
//     Chinese names, stake ranges and "无编码" for those without a route code; the search box finds them;
//  3. a broken .geojson is refused with a Chinese title and the server's detail; towns.geojson sent as roads
//     is refused with its problems in a table; nothing is imported either time and "导入" stays disabled.
//
//   E2E_USER=<admin> E2E_PASSWORD=<password> node tests/e2e/places.mjs <base-url> <tests/data/county> <roads expected>
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}) and exits non-zero on failure.
// The Rust test (tests/it/browser.rs, admin_page_imports_a_county) checks the database afterwards.

import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn } from './lib.mjs';

const [base, dataDir, roadsExpectedText] = process.argv.slice(2);
if (!base || !dataDir || !roadsExpectedText) {
  fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/places.mjs <base-url> <tests/data/county> <roads expected>');
}
const admin = credentials('E2E');
const ROADS_EXPECTED = Number(roadsExpectedText);
const TIMEOUT_MS = 30_000;

// The names the county's files hold: the shapefile carries the same roads as roads.geojson, in GBK.
const roadFeatures = JSON.parse(readFileSync(join(dataDir, 'roads.geojson'), 'utf8')).features.map((f) => f.properties);
const townNames = JSON.parse(readFileSync(join(dataDir, 'towns.geojson'), 'utf8')).features.map((f) => f.properties.name);
const Y101 = roadFeatures.find((p) => p.route_code === 'Y101');
const SHAPEFILE = ['shp', 'shx', 'dbf', 'prj', 'cpg'].map((ext) => join(dataDir, 'roads-gbk', `roads.${ext}`));

await run('places', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    const api = async (path) => page.evaluate(async (p) => (await fetch(p, { headers: { accept: 'application/json' } })).json(), path);
    const stat = async (key) => Number((await page.textContent(`#import-report [data-stat="${key}"] .stat-value`)).replace(/,/g, ''));
    const isImport = (r, kind) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/v1/imports/${kind}`;
    const chooseKind = (kind) => page.click(`#import-kinds input[value="${kind}"] + span`);
    const progressPolls = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/v1/imports/progress/')) progressPolls.push(r.status());
    });

    setStep('sign in');
    await page.goto(new URL('/admin.html', base).href);
    const landed = await signIn(page, admin);
    check('sign in', landed === '/admin.html', `after signing in the admin is at ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.click('#tab-places');
    check('sign in', new URL(page.url()).hash === '#places', `the places tab should be #places, the address is ${page.url()}`);
    check('sign in', await page.isHidden('#panel-users') && await page.isHidden('#open-create'), 'the users tab should be hidden behind the places tab');
    await page.waitForSelector('#town-empty');
    await page.waitForSelector('#road-empty');
    await page.waitForSelector('#history-empty');
    check('sign in', (await page.textContent('#page-title')) === '区镇与道路', `the page title reads ${await page.textContent('#page-title')}`);

    setStep('towns: preview');
    check('towns: preview', await page.isDisabled('#import-apply'), '"导入" must wait for a preview');
    await page.setInputFiles('#import-file', join(dataDir, 'towns.geojson'));
    // A slow line (about 8 KB/s up): the progress bar shows the bytes going out and the page polls the server.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: -1, uploadThroughput: 8 * 1024 });
    const phases = [];
    const watching = setInterval(async () => {
      const phase = await page.getAttribute('#import-progress', 'data-phase').catch(() => null);
      const shown = await page.isVisible('#import-progress').catch(() => false);
      if (shown && phase && phases[phases.length - 1] !== phase) phases.push(phase);
    }, 50);
    const [townsPreview] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'towns')),
      page.click('#import-preview'),
    ]);
    clearInterval(watching);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    check('towns: preview', townsPreview.status() === 200, `the towns preview answered ${townsPreview.status()}: ${await townsPreview.text()}`);
    check('towns: preview', new URL(townsPreview.url()).searchParams.get('progress')?.length === 36, `the upload carries no progress id: ${townsPreview.url()}`);
    await page.waitForSelector('#import-report[data-state="preview"]');
    check('towns: preview', await stat('inserted') === 3, `the preview shows ${await stat('inserted')} towns to insert`);
    check('towns: preview', await stat('features_read') === 3, `the preview read ${await stat('features_read')} features`);
    check('towns: preview', phases.includes('uploading'), `the progress bar was not shown while uploading (saw ${phases})`);
    check('towns: preview', progressPolls.length >= 1, 'the page never asked for the import\'s progress');
    check('towns: preview', await page.isHidden('#import-progress'), 'the progress bar should go once the answer is in');
    const headline = await page.textContent('#import-headline');
    check('towns: preview', headline.includes('没有发现问题'), `the preview says ${headline}`);
    // Nothing is stored by a preview.
    check('towns: preview', (await api('/api/v1/places/towns')).length === 0, 'a preview stored towns');
    check('towns: preview', (await api('/api/v1/imports')).length === 0, 'a preview left an import in the history');
    check('towns: preview', await page.isVisible('#town-empty'), 'the towns list changed after a preview');
    check('towns: preview', await page.isEnabled('#import-apply'), '"导入" should be enabled after a clean preview');
    const previewedTowns = { inserted: 3, polls: progressPolls.length, phases };

    setStep('towns: import');
    const [townsImport] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'towns')),
      page.click('#import-apply'),
    ]);
    check('towns: import', townsImport.status() === 201, `the towns import answered ${townsImport.status()}: ${await townsImport.text()}`);
    const townsReport = await townsImport.json();
    check('towns: import', townsReport.dry_run === false && townsReport.inserted === 3, `the import answered ${JSON.stringify(townsReport)}`);
    await page.waitForSelector('#import-report[data-state="applied"]');
    await page.waitForFunction(() => document.querySelectorAll('#town-table tbody tr').length === 3);
    const townsListed = await page.$$eval('#town-table tbody tr .place-name', (tds) => tds.map((td) => td.textContent));
    check('towns: import', townNames.every((n) => townsListed.includes(n)), `the towns list shows ${townsListed}`);
    await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length === 1);
    check('towns: import', await page.isDisabled('#import-apply'), '"导入" must be disabled again after importing');

    setStep('roads: preview');
    await chooseKind('roads');
    check('roads: preview', await page.isVisible('#import-county') && await page.isVisible('#import-stake-unit'), 'the roads options are not shown');
    check('roads: preview', await page.isDisabled('#import-apply'), 'choosing another kind must forget the preview');
    await page.setInputFiles('#import-file', SHAPEFILE);
    await page.fill('#import-county', '320582');
    const [roadsPreview] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'roads')),
      page.click('#import-preview'),
    ]);
    check('roads: preview', roadsPreview.status() === 200, `the roads preview answered ${roadsPreview.status()}: ${await roadsPreview.text()}`);
    const sentParts = await page.$eval('#import-file', (input) => [...input.files].map((f) => f.name));
    check('roads: preview', sentParts.length === 5, `the shapefile went as ${sentParts}`);
    await page.waitForSelector('#import-report[data-state="preview"]');
    check('roads: preview', await stat('inserted') === ROADS_EXPECTED, `the preview shows ${await stat('inserted')} roads to insert, expected ${ROADS_EXPECTED}`);
    check('roads: preview', await stat('features_read') === roadFeatures.length, `the preview read ${await stat('features_read')} features`);
    const fields = await page.$$eval('#report-fields .chip', (chips) => chips.map((c) => c.textContent));
    check('roads: preview', fields.includes('LXMC → 名称') && fields.includes('LXBM → 路线编码'), `the fields understood read ${fields}`);
    const encoding = await page.textContent('#import-report [data-fact="encoding"] dd');
    check('roads: preview', encoding.includes('GBK'), `the encoding reads ${encoding}`);
    const format = await page.textContent('#import-report [data-fact="format"] dd');
    check('roads: preview', format === 'shapefile', `the format reads ${format}`);
    check('roads: preview', (await api('/api/v1/places/roads')).total === 0, 'a preview stored roads');
    await screenshot(page, 'admin-places-preview', { fullPage: true });

    setStep('roads: import');
    const [roadsImport] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'roads')),
      page.click('#import-apply'),
    ]);
    check('roads: import', roadsImport.status() === 201, `the roads import answered ${roadsImport.status()}: ${await roadsImport.text()}`);
    await page.waitForSelector('#import-report[data-state="applied"]');
    await page.waitForFunction((n) => document.querySelectorAll('#road-table tbody tr').length === n, ROADS_EXPECTED);
    const roadRows = await page.$$eval('#road-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    const roadNames = roadRows.map((cells) => cells[1]);
    const expectedNames = [...new Set(roadFeatures.map((p) => p.name))];
    check('roads: import', expectedNames.every((n) => roadNames.includes(n)), `the roads list shows ${roadNames}, expected ${expectedNames}`);
    const y101 = roadRows.find((cells) => cells[0] === 'Y101');
    check('roads: import', y101 && y101[1] === Y101.name && y101[2] === '320582', `the Y101 row reads ${y101}`);
    check('roads: import', y101[4] === `${Y101.start_stake} – ${Y101.end_stake}`, `the Y101 stakes read ${y101[4]}`);
    const uncoded = roadRows.filter((cells) => cells[0] === '无编码').map((cells) => cells[1]);
    check('roads: import', uncoded.length === roadFeatures.filter((p) => !p.route_code).length, `roads without a code read ${uncoded}`);
    const roadCount = await page.textContent('#road-count');
    check('roads: import', roadCount === `共 ${ROADS_EXPECTED} 条`, `the road count reads ${roadCount}`);
    await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length === 2);
    const history = await page.$$eval('#history-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    check('roads: import', history[0][1] === '道路' && history[0][2].startsWith('roads.shp') && history[1][1] === '区镇边界',
      `the history reads ${JSON.stringify(history)}`);
    check('roads: import', history[0][3].length === 12, `the history shows the sha256 as ${history[0][3]}`);
    await screenshot(page, 'admin-places', { fullPage: true });

    setStep('roads: search');
    await page.fill('#road-search', 'X20');
    await page.waitForFunction(() => [...document.querySelectorAll('#road-table tbody tr')].every((tr) => tr.dataset.route.startsWith('X20')));
    const found = await page.$$eval('#road-table tbody tr', (trs) => trs.map((tr) => tr.dataset.route));
    check('roads: search', found.length === new Set(roadFeatures.filter((p) => p.route_code?.startsWith('X20')).map((p) => p.route_code)).size,
      `searching X20 lists ${found}`);
    await page.fill('#road-search', Y101.name.slice(0, 2));
    await page.waitForFunction((name) => {
      const rows = [...document.querySelectorAll('#road-table tbody tr')];
      return rows.length === 1 && rows[0].cells[1].textContent === name;
    }, Y101.name);
    await page.fill('#road-search', '');
    await page.waitForFunction((n) => document.querySelectorAll('#road-table tbody tr').length === n, ROADS_EXPECTED);

    setStep('broken file');
    const dir = mkdtempSync(join(tmpdir(), 'roadledger-e2e-'));
    const broken = join(dir, '区镇边界.geojson');
    writeFileSync(broken, '{"type": "FeatureCollection", "features": [');
    await chooseKind('towns');
    await page.setInputFiles('#import-file', broken);
    const [brokenAnswer] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'towns')),
      page.click('#import-preview'),
    ]);
    check('broken file', brokenAnswer.status() === 422, `a broken file answered ${brokenAnswer.status()}`);
    const brokenProblem = await brokenAnswer.json();
    await page.waitForSelector('#import-report[data-state="error"] #import-error');
    const brokenTitle = await page.textContent('#import-error strong');
    const brokenDetail = await page.textContent('#import-error .import-error-detail');
    check('broken file', brokenTitle.startsWith('无法读取文件，未导入任何数据'), `a broken file is explained as ${brokenTitle}`);
    check('broken file', brokenDetail === brokenProblem.detail, `the page shows ${brokenDetail}, the server said ${brokenProblem.detail}`);
    check('broken file', await page.isDisabled('#import-apply'), '"导入" must stay disabled after a refusal');
    const shotBroken = await screenshot(page, 'admin-places-unreadable');

    setStep('wrong kind');
    await chooseKind('roads');
    await page.setInputFiles('#import-file', join(dataDir, 'towns.geojson'));
    await page.fill('#import-county', '');
    const [wrongKind] = await Promise.all([
      page.waitForResponse((r) => isImport(r, 'roads')),
      page.click('#import-preview'),
    ]);
    check('wrong kind', wrongKind.status() === 422, `towns.geojson as roads answered ${wrongKind.status()}`);
    const wrongProblem = await wrongKind.json();
    await page.waitForSelector('#import-report[data-state="error"] #problem-table');
    const wrongTitle = await page.textContent('#import-error strong');
    check('wrong kind', wrongProblem.code === 'import_problems' && wrongTitle === `文件中有 ${wrongProblem.report.problems_total} 处问题，未导入任何数据`,
      `towns.geojson as roads is explained as ${wrongTitle} (${wrongProblem.code})`);
    const problemRows = await page.$$eval('#problem-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    check('wrong kind', problemRows.length === wrongProblem.report.problems.length && problemRows[0][0] === '1'
      && problemRows[0][2] === wrongProblem.report.problems[0].problem, `the problems table reads ${JSON.stringify(problemRows)}`);
    check('wrong kind', await page.isDisabled('#import-apply'), '"导入" must stay disabled after problems');
    const shotProblems = await screenshot(page, 'admin-places-problems', { fullPage: true });
    check('wrong kind', (await api('/api/v1/imports')).length === 2, 'a refused upload left an import in the history');

    setStep('english');
    await page.click('#lang-switch');
    const tabEn = await page.textContent('#tab-places');
    const titleEn = await page.textContent('#import-error strong');
    check('english', tabEn === 'Towns and roads' && titleEn.startsWith('3 problem(s) in the file'), `in English the tab reads ${tabEn}, the refusal ${titleEn}`);
    await page.click('#lang-switch');

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);

    return {
      towns_preview: previewedTowns,
      roads: { inserted: ROADS_EXPECTED, parts_sent: sentParts, fields, encoding, names: roadNames },
      broken: { title: brokenTitle, detail: brokenDetail, code: brokenProblem.code, read_error: brokenProblem.read_error },
      wrong_kind: { title: wrongTitle, problems: wrongProblem.report.problems_total },
      history: history.map((cells) => cells[1]),
      screenshots: [shotBroken, shotProblems].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
