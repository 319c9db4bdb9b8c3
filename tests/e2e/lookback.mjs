// Look-back (回头看) on the inspector's phone, in a real browser (390×844, touch, GPS at the site):
//  1. on a closed site's page the inspector finds "到现场回头看", which opens the inspection page in look-back
//     mode for that site (no kind or hazard cards; the site, its distance and the result to choose);
//  2. sending with nothing chosen is stopped on the phone, naming the result and the photo;
//  3. a relapse (one item damaged, notes, a photo) sent from 550 m away is refused by the server, and the page
//     says why in Chinese (from the problem's `code`); sent again from the site, it goes through, and the page
//     says the site is reopened;
//  4. the page then lists the open look-back tasks nearest first; at the planned site the inspector starts
//     its task, finds everything in place, and sends a pass; the list is then empty and the card goes away;
//  5. the dispatcher's 工作台 › 回头看 shows the town with one look-back passed and one relapse, and applying
//     the look-back policy there plans nothing new (both sites were just looked at or reopened);
//  6. the dispatcher lists the reopened site for supervision (挂牌督办) from its page: the dialog asks for the
//     issuing body and document number, and the site's facts then show the level.
// axe-core finds no serious or critical WCAG 2.1 A/AA violation on the closed site's page nor on the
// inspection page in look-back mode.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> E2E_DISPATCHER_USER=… E2E_DISPATCHER_PASSWORD=… \
//   node tests/e2e/lookback.mjs <base-url> '<config JSON>'
//   config: {"linked": {"id", "code", "at": [lon, lat]}, "planned": {"id", "code", "at": [lon, lat]},
//            "items": ["line", "sign", "lamp"], "failed_item": "lamp", "photo": "/tmp/…/now.jpg",
//            "notes": "…", "town": "杨舍镇",
//            "supervision": {"body": "…", "doc_no": "…", "due": "YYYY-MM-DD"}}
//
// Prints one JSON line ({"ok": true, "relapse": {...}, "pass": {...}} or {"ok": false, "step", "error"}) and
// exits non-zero on failure. The Rust test (tests/it/browser.rs) checks the database afterwards.

import { launch, phoneContext, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, configText] = process.argv.slice(2);
if (!base || !configText) fail('usage', 'usage: node tests/e2e/lookback.mjs <base-url> <config-json>');
let config;
try {
  config = JSON.parse(configText);
} catch (error) {
  fail('usage', `config is not JSON: ${error.message}`);
}
const account = credentials();
const dispatcherAccount = credentials('E2E_DISPATCHER');
const TIMEOUT_MS = 30_000;
/** About 20 m north of a position. */
const near = ([lon, lat]) => ({ longitude: lon, latitude: lat + 0.00018, accuracy: 6 });

await run('lookback', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, near(config.linked.at));
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const resultText = async () => (await page.textContent('#result')).trim();
    const waitResult = () => page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"], #result[data-state="signin"]');

    setStep('site page');
    await page.goto(new URL(`/site.html?id=${config.linked.id}`, base).href);
    await signIn(page, account);
    const link = page.locator('#action-buttons a[data-action="look_back"]');
    await link.waitFor();
    check('site page', (await link.textContent()).trim() === '到现场回头看', `the link reads ${await link.textContent()}`);
    // WCAG 2.1 A/AA with axe-core, on the phone: a closed site with its evidence, and the look-back card.
    const accessibility = { closed_site: await checkAccessible('site page', page, 'a closed site\'s page on a phone') };
    check('site page', await page.locator('#action-buttons button[data-action^="look_back"]').count() === 0,
      'the site page still offers a desk look-back button');
    await link.tap();
    await page.waitForURL((url) => url.pathname === '/inspect.html');
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#card-look-back[data-mode="active"]');
    const title = (await page.textContent('#card-look-back h2')).trim();
    check('site page', title === `回头看复查 · ${config.linked.code}`, `the look-back card is titled ${title}`);
    check('site page', await page.isHidden('#card-kind') && await page.isHidden('#card-hazards'),
      'the kind and hazard cards are shown in look-back mode');
    await page.waitForSelector('#look-back-where [data-distance-m]');
    const distance = Number(await page.getAttribute('#look-back-where [data-distance-m]', 'data-distance-m'));
    check('site page', distance > 10 && distance < 30, `the site is shown ${distance} m away, about 20 expected`);
    accessibility.look_back = await checkAccessible('site page', page, 'the inspection page in look-back mode');

    setStep('incomplete');
    await page.tap('#use-location');
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="error"]');
    const incomplete = await resultText();
    check('incomplete', incomplete.includes('请选择复查结果') && incomplete.includes('拍照'), `the refusal says: ${incomplete}`);
    check('incomplete', await page.getAttribute('#outbox-count', 'data-count') === '0', 'an incomplete look-back went to the outbox');

    setStep('relapse');
    await labelOf('input[name=look-back-result][value=relapse]').tap();
    await page.waitForSelector('body[data-look-back="relapse"]');
    await labelOf(`input[name=item-${config.failed_item}][value=damaged]`).tap();
    await page.setInputFiles('#photo-input', config.photo);
    await page.waitForSelector('#photo-count[data-count="1"]');
    await page.fill('#notes', config.notes);
    const relapseId = await page.evaluate(() => window.roadledger.draftId());
    await context.setGeolocation({ ...near(config.linked.at), latitude: config.linked.at[1] + 0.005 });
    await page.waitForSelector('#look-back-far');
    await page.tap('#use-location'); // let go of the fix taken at the site
    await page.tap('#use-location'); // and take the one far away
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="error"]');
    const tooFar = await resultText();
    check('relapse', /提交位置距点位 5\d\d 米，须在 100 米以内/.test(tooFar), `a look-back from afar is refused with: ${tooFar}`);
    check('relapse', await page.evaluate(() => window.roadledger.draftId()) === relapseId, 'the refused draft lost its id');
    await context.setGeolocation(near(config.linked.at));
    await page.waitForSelector('#look-back-far', { state: 'detached' });
    await page.tap('#use-location');
    await page.tap('#use-location');
    await screenshot(page, 'lookback-relapse', { fullPage: true });
    await page.tap('#submit');
    await waitResult();
    const relapseText = await resultText();
    check('relapse', await page.getAttribute('#result', 'data-state') === 'success', `not sent: ${relapseText}`);
    check('relapse', await page.getAttribute('#result', 'data-site-match') === 'look_back', 'the answer is not a look-back');
    check('relapse', relapseText.includes(`${config.linked.code} 发现反弹`), `the page says: ${relapseText}`);

    setStep('list');
    await page.waitForSelector('#card-look-back[data-mode="list"]');
    const listed = await page.$$eval('#look-back-list li', (els) => els.map((e) => e.dataset.siteCode));
    check('list', listed.join() === config.planned.code, `open tasks listed: ${listed}`);

    setStep('pass');
    await context.setGeolocation(near(config.planned.at));
    const task = page.locator(`#look-back-list li[data-site-code="${config.planned.code}"]`);
    await task.locator('.look-back-start').tap();
    await page.waitForSelector('#card-look-back[data-mode="active"]');
    await labelOf('input[name=look-back-result][value=pass]').tap();
    for (const item of config.items) await labelOf(`input[name=item-${item}][value=installed]`).tap();
    await page.setInputFiles('#photo-input', config.photo);
    await page.waitForSelector('#photo-count[data-count="1"]');
    await page.tap('#use-location');
    const passId = await page.evaluate(() => window.roadledger.draftId());
    await page.tap('#submit');
    await waitResult();
    const passText = await resultText();
    check('pass', await page.getAttribute('#result', 'data-state') === 'success', `not sent: ${passText}`);
    check('pass', passText.includes(`${config.planned.code} 通过`), `the page says: ${passText}`);
    await page.waitForSelector('#card-look-back', { state: 'hidden' });
    check('pass', await page.isVisible('#card-kind'), 'the page did not come back to ordinary reports');

    setStep('work page');
    const office = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const desk = await office.newPage();
    desk.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(desk, log);
    await signIn(desk, dispatcherAccount, base);
    await desk.goto(new URL('/work.html#lookbacks', base).href);
    const townRow = desk.locator(`#look-back-towns tbody tr[data-town="${config.town}"]`);
    await townRow.waitFor();
    const cells = (await townRow.locator('td').allTextContents()).map((c) => c.trim());
    check('work page', await desk.isVisible('#empty-lookbacks'), 'open look-back tasks are still listed');
    await desk.click('#plan-look-backs');
    await desk.waitForSelector('#work-flash:not([hidden])');
    const planned = (await desk.textContent('#work-flash')).trim();
    check('work page', planned.includes('重大/挂牌 0 处') && planned.includes('抽查 0 处'), `planning says: ${planned}`);
    await screenshot(desk, 'work-lookbacks-desktop');

    setStep('supervise');
    await desk.goto(new URL(`/site.html?id=${config.linked.id}`, base).href);
    await desk.click('#action-buttons button[data-action="supervise"]');
    await desk.waitForSelector('#dialog-supervise[open]');
    await desk.selectOption('#supervise-level', 'county');
    await desk.click('#dialog-supervise button[type=submit]');
    const problem = (await desk.textContent('#dialog-supervise .dialog-error')).trim();
    check('supervise', problem.includes('督办单位'), `an incomplete listing says: ${problem}`);
    await desk.fill('#supervise-body', config.supervision.body);
    await desk.fill('#supervise-doc-no', config.supervision.doc_no);
    await desk.fill('#supervise-due', config.supervision.due);
    await desk.click('#dialog-supervise button[type=submit]');
    await desk.waitForSelector('#dialog-supervise', { state: 'detached' });
    await desk.waitForFunction(() => document.querySelector('[data-fact="supervision"]')?.textContent.includes('市(县)级挂牌'));
    const timeline = await desk.$$eval('#timeline li', (els) => els.map((e) => e.dataset.kind));
    check('supervise', timeline.at(-1) === 'supervise', `the timeline ends with ${timeline.at(-1)}`);
    const relapsePhotos = await desk.locator('#timeline li[data-kind="look_back_relapse"] .timeline-photo img').count();
    check('supervise', relapsePhotos === 1, `the relapse in the timeline shows ${relapsePhotos} photos`);

    return { accessibility, relapse: { id: relapseId, text: relapseText }, pass: { id: passId, text: passText }, town_cells: cells };
  } finally {
    await browser.close();
  }
});
