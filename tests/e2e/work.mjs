// The close-out lifecycle in a real browser, by three people in their own browsers (contexts):
//  1. the dispatcher finds the reported site in 工作台 › 待核实 / 派单, verifies it and dispatches it to the
//     responsible unit through the dialog (deadline prefilled with the 30-day default);
//  2. the unit officer finds it in 我的整改 (an overdue site above it, days left shown), opens the site page
//     and accepts it; meanwhile the dispatcher, still looking at the old version, tries to cancel it: the
//     server answers 412 and the page reloads the site and says it changed;
//  3. the officer requests close-out too early and sees the unmet items listed, asks for an extension, which
//     the dispatcher approves from 工作台 › 延期申请; the officer records evidence with
//     after-photos for every item (and a night photo for the lamp) and requests close-out;
//  4. the reviewer finds it in 待验收, sees the before- and after-photos side by side (all loaded), and
//     returns it with a reason; the officer re-does the lamp and requests close-out again; the reviewer
//     approves it;
//  5. the timeline lists every step in order, in Chinese, with the evidence photos.
// On the way, axe-core finds no serious or critical WCAG 2.1 A/AA violation on the work bench (both queues),
// the dispatch dialog and the site page (assigned, and under review).
// Screenshots of work.html and site.html, desktop and 390×844, when E2E_SCREENSHOT_DIR is set.
//
//   E2E_DISPATCHER_USER=… E2E_DISPATCHER_PASSWORD=… E2E_OFFICER_USER=… E2E_OFFICER_PASSWORD=… \
//   E2E_REVIEWER_USER=… E2E_REVIEWER_PASSWORD=… node tests/e2e/work.mjs <base-url> '<config JSON>'
//   config: {"site": {"id": "…", "code": "YH-000001"}, "dispatch_queue": 3, "overdue_code": "YH-000004",
//            "unit": "农村公路管理处",
//            "items": ["line", "sign", "lamp"], "night_items": ["lamp"],
//            "photos": {"after": "/tmp/…/after.jpg", "night": "/tmp/…/night.jpg"}, "return_reason": "…",
//            "extension_reason": "…"}
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}); exits non-zero on failure. The
// Rust test (tests/it/browser.rs) checks the database afterwards.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, configText] = process.argv.slice(2);
if (!base || !configText) fail('usage', 'usage: node tests/e2e/work.mjs <base-url> <config-json>');
let config;
try {
  config = JSON.parse(configText);
} catch (error) {
  fail('usage', `config is not JSON: ${error.message}`);
}
const dispatcherAccount = credentials('E2E_DISPATCHER');
const officerAccount = credentials('E2E_OFFICER');
const reviewerAccount = credentials('E2E_REVIEWER');

const TIMEOUT_MS = 30_000;
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
const { site } = config;

/** Today in China Standard Time, plus `days`, as the pages compute deadlines. */
function chinaDate(days = 0) {
  const todayText = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const d = new Date(`${todayText}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

await run('work', async ({ log, setStep }) => {
  const browser = await launch();
  const open = async (viewport = DESKTOP, extra = {}) => {
    const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...extra });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    return page;
  };
  /** Opens `path` signed out, signs in on the page the server sends to, and lands back on `path`. */
  const signInAt = async (page, path, account) => {
    await page.goto(new URL(path, base).href);
    check('sign in', new URL(page.url()).pathname === '/login.html', `without a session ${path} should lead to the sign-in page, not ${page.url()}`);
    const landed = await signIn(page, account);
    check('sign in', landed === new URL(path, base).pathname, `${account.name} landed on ${landed}, not ${path}`);
    await page.waitForSelector('body[data-state="ready"]');
  };
  const sitePath = `/site.html?id=${site.id}`;
  const status = (page) => page.getAttribute('body', 'data-status');
  const waitStatus = (page, s) => page.waitForSelector(`body[data-status="${s}"]`);
  const clickAction = (page, action) => page.click(`#action-buttons [data-action="${action}"]`);
  const submitDialog = (page, id) => page.click(`#${id} button[type="submit"]`);
  const texts = (page, selector) => page.$$eval(selector, (els) => els.map((e) => e.textContent.trim()));
  const result = {};

  try {
    // ---------------------------------------------------------------------------------------------
    setStep('dispatcher: queue');
    const dispatcher = await open();
    await signInAt(dispatcher, '/work.html', dispatcherAccount);
    await dispatcher.waitForSelector('body[data-queues="loaded"]');
    const tabs = await dispatcher.$$eval('#work-tabs [role="tab"]', (els) => els.map((e) => e.dataset.tab));
    check('dispatcher: queue', tabs.join() === 'dispatch,extensions,lookbacks', `a dispatcher's tabs are ${tabs}`);
    const links = await dispatcher.$$eval('#topnav a', (as) => as.map((a) => a.getAttribute('href')));
    check('dispatcher: queue', links.includes('/work.html'), `the bar links to ${links}`);
    check('dispatcher: queue', await dispatcher.getAttribute('#topnav a[aria-current="page"]', 'href') === '/work.html', 'the bar should mark 工作台');
    const queue = await dispatcher.$$eval('#list-dispatch li', (lis) => lis.map((li) => li.dataset.code));
    check('dispatcher: queue', queue[0] === site.code, `the oldest report ${site.code} should head the queue: ${queue}`);
    check('dispatcher: queue', queue.length === config.dispatch_queue, `the queue holds ${queue}, expected ${config.dispatch_queue} sites`);
    result.dispatch_queue = queue;
    const row = (page, list, code) => page.locator(`#list-${list} li[data-code="${code}"]`);
    await screenshot(dispatcher, 'work-dispatch-desktop');
    // WCAG 2.1 A/AA with axe-core: no serious or critical violation on the work bench, the dialogs and the site page.
    result.accessibility = { dispatch_queue: await checkAccessible('dispatcher: queue', dispatcher, 'the dispatcher\'s work bench') };

    setStep('dispatcher: verify');
    await row(dispatcher, 'dispatch', site.code).locator('[data-action="verify"]').click();
    await dispatcher.waitForSelector('#dialog-verify');
    await submitDialog(dispatcher, 'dialog-verify');
    await dispatcher.waitForSelector(`#list-dispatch li[data-code="${site.code}"][data-status="verified"]`);
    const verifiedFlash = (await dispatcher.textContent('#work-flash')).trim();
    check('dispatcher: verify', verifiedFlash.includes('已核实'), `the flash says ${verifiedFlash}`);

    setStep('dispatcher: dispatch');
    await row(dispatcher, 'dispatch', site.code).locator('[data-action="dispatch"]').click();
    await dispatcher.waitForSelector('#dialog-dispatch');
    const prefilled = await dispatcher.inputValue('#dispatch-deadline');
    check('dispatcher: dispatch', prefilled === chinaDate(30), `the deadline is prefilled with ${prefilled}, expected ${chinaDate(30)} (30 days for a general hazard)`);
    await dispatcher.selectOption('#dispatch-mode', 'immediate');
    const immediate = await dispatcher.inputValue('#dispatch-deadline');
    check('dispatcher: dispatch', immediate === chinaDate(3), `immediate rectification prefills ${immediate}, expected ${chinaDate(3)}`);
    await dispatcher.selectOption('#dispatch-mode', 'deadline');
    // Without a unit the dialog says so and stays open.
    await submitDialog(dispatcher, 'dialog-dispatch');
    await dispatcher.waitForSelector('#dialog-dispatch .dialog-error:not([hidden])');
    await dispatcher.selectOption('#dispatch-unit', { label: config.unit });
    await screenshot(dispatcher, 'work-dispatch-dialog');
    result.accessibility.dispatch_dialog = await checkAccessible('dispatcher: dispatch', dispatcher, 'the dispatch dialog');
    await submitDialog(dispatcher, 'dialog-dispatch');
    await dispatcher.waitForSelector('#dialog-dispatch', { state: 'detached' });
    await dispatcher.waitForSelector(`#list-dispatch li[data-code="${site.code}"]`, { state: 'detached' });
    result.dispatch = { deadline: prefilled, flash: (await dispatcher.textContent('#work-flash')).trim() };

    setStep('dispatcher: site page');
    await dispatcher.goto(new URL(sitePath, base).href);
    await dispatcher.waitForSelector('body[data-state="ready"]');
    check('dispatcher: site page', await status(dispatcher) === 'assigned', `the site is ${await status(dispatcher)}`);
    const unitFact = (await dispatcher.textContent('[data-fact="unit"]')).trim();
    check('dispatcher: site page', unitFact.startsWith(config.unit), `the responsible unit reads ${unitFact}`);
    result.accessibility.site_assigned = await checkAccessible('dispatcher: site page', dispatcher, 'the site page (assigned)');

    // ---------------------------------------------------------------------------------------------
    setStep('officer: work list');
    const officer = await open();
    await signInAt(officer, '/work.html', officerAccount);
    await officer.waitForSelector('body[data-queues="loaded"]');
    const officerTabs = await officer.$$eval('#work-tabs [role="tab"]', (els) => els.map((e) => e.dataset.tab));
    check('officer: work list', officerTabs.join() === 'rectify', `a unit officer's tabs are ${officerTabs}`);
    const mine = await officer.$$eval('#list-rectify li', (lis) => lis.map((li) => ({
      code: li.dataset.code, days: li.querySelector('.days')?.dataset.days, text: li.querySelector('.days')?.textContent,
      overdue: li.classList.contains('is-overdue'), colour: li.querySelector('.days') && getComputedStyle(li.querySelector('.days')).backgroundColor,
    })));
    result.rectify = mine;
    const ours = mine.find((m) => m.code === site.code);
    check('officer: work list', ours, `${site.code} is not in 我的整改: ${JSON.stringify(mine)}`);
    check('officer: work list', ours.days === '30' && ours.text === '剩 30 天', `days left shown as ${ours.text}`);
    if (config.overdue_code) {
      check('officer: work list', mine[0].code === config.overdue_code && mine[0].overdue, `the overdue site should come first: ${JSON.stringify(mine)}`);
      check('officer: work list', /^超期 \d+ 天$/.test(mine[0].text) && mine[0].colour === 'rgb(198, 40, 40)', `overdue shown as ${mine[0].text} on ${mine[0].colour}`);
    }
    await screenshot(officer, 'work-rectify-desktop');
    result.accessibility.rectify_queue = await checkAccessible('officer: work list', officer, 'the officer\'s work bench');
    await row(officer, 'rectify', site.code).locator('a.work-code').click();
    await officer.waitForURL((url) => url.pathname === '/site.html');
    await officer.waitForSelector('body[data-state="ready"]');

    setStep('officer: accept');
    await screenshot(officer, 'site-assigned-desktop', { fullPage: true });
    const officerActions = await officer.$$eval('#action-buttons [data-action]', (bs) => bs.map((b) => b.dataset.action));
    check('officer: accept', officerActions.join() === 'accept', `an officer may ${officerActions} on an assigned site`);
    await clickAction(officer, 'accept');
    await submitDialog(officer, 'dialog-accept');
    await waitStatus(officer, 'in_progress');

    setStep('dispatcher: stale cancel');
    await clickAction(dispatcher, 'cancel');
    await dispatcher.fill('#action-reason', '误报');
    await submitDialog(dispatcher, 'dialog-cancel');
    await dispatcher.waitForSelector('#site-notice');
    await waitStatus(dispatcher, 'in_progress');
    check('dispatcher: stale cancel', await dispatcher.locator('#dialog-cancel').count() === 0, 'the dialog should close on a stale version');
    result.stale_notice = (await dispatcher.textContent('#site-notice')).trim();
    check('dispatcher: stale cancel', result.stale_notice.includes('刚被他人更新') && result.stale_notice.includes('整改中'),
      `the page says ${result.stale_notice}`);

    setStep('officer: early close-out');
    await clickAction(officer, 'request_close_out');
    await submitDialog(officer, 'dialog-request_close_out');
    await officer.waitForSelector('#unmet-items li');
    result.unmet = await officer.$$eval('#unmet-items li', (lis) => lis.map((li) => li.dataset.item));
    result.unmet_labels = await texts(officer, '#unmet-items li');
    check('officer: early close-out', result.unmet.join() === config.items.join(), `unmet items listed: ${result.unmet}`);
    check('officer: early close-out', await status(officer) === 'in_progress', 'a refused close-out leaves the site in progress');
    const marked = await officer.$$eval('.item-card.is-unmet', (els) => els.map((e) => e.dataset.item));
    check('officer: early close-out', marked.join() === config.items.join(), `items marked: ${marked}`);

    setStep('officer: extension');
    const extendTo = chinaDate(50);
    await clickAction(officer, 'request_extension');
    await officer.fill('#extension-deadline', extendTo);
    await officer.fill('#action-reason', config.extension_reason);
    await submitDialog(officer, 'dialog-request_extension');
    await officer.waitForSelector('[data-fact="extension"]');
    const whileWaiting = await officer.$$eval('#action-buttons [data-action]', (bs) => bs.map((b) => b.dataset.action));
    check('officer: extension', whileWaiting.join() === 'request_close_out', `while the request waits the officer may ${whileWaiting}`);

    setStep('dispatcher: extension');
    await dispatcher.goto(new URL('/work.html#extensions', base).href);
    await dispatcher.waitForSelector('body[data-queues="loaded"]');
    check('dispatcher: extension', await dispatcher.getAttribute('#tab-extensions', 'aria-selected') === 'true', 'the link to #extensions should open that tab');
    const asked = (await row(dispatcher, 'extensions', site.code).locator('.work-extension').textContent()).trim();
    check('dispatcher: extension', asked.includes(extendTo) && asked.includes(config.extension_reason), `the request reads ${asked}`);
    await screenshot(dispatcher, 'work-extensions-desktop');
    await row(dispatcher, 'extensions', site.code).locator('[data-action="approve-extension"]').click();
    await dispatcher.waitForSelector('#dialog-decide_extension');
    check('dispatcher: extension', await dispatcher.isChecked('#dialog-decide_extension input[value="yes"]'), '同意延期 should come preselected');
    await submitDialog(dispatcher, 'dialog-decide_extension');
    await dispatcher.waitForSelector(`#list-extensions li[data-code="${site.code}"]`, { state: 'detached' });
    await officer.evaluate(() => window.roadledger.reload());
    await officer.waitForSelector('[data-fact="extension"]', { state: 'detached' });
    const newDeadline = (await officer.textContent('[data-fact="deadline"]')).trim();
    check('officer: extension', newDeadline.startsWith(extendTo) && newDeadline.includes('剩 50 天'), `the deadline now reads ${newDeadline}`);
    result.extension = { deadline: extendTo };

    setStep('officer: evidence');
    for (const item of config.items) {
      const form = `#evidence-${item}`;
      const installed = officer.locator(`${form} input[name="state"][value="installed"]`);
      check('officer: evidence', await installed.isChecked(), `${item}: the form should start at 已设置`);
      await officer.fill(`${form} input[name="quantity"]`, '2');
      await officer.fill(`${form} input[name="installer"]`, '张家港交通工程公司');
      if (await officer.locator(`${form} input[name="measured.length_m"]`).count()) await officer.fill(`${form} input[name="measured.length_m"]`, '30');
      await officer.setInputFiles(`#ev-${item}-photo`, config.photos.after);
      if (config.night_items.includes(item)) await officer.setInputFiles(`#ev-${item}-night_photo`, config.photos.night);
      if (item === config.items[0]) await screenshot(officer, 'site-evidence-form-desktop', { fullPage: true });
      await officer.click(`${form} button[type="submit"]`);
      await officer.waitForSelector(`#item-${item}[data-state="installed"] .compare-cell[data-role="after"] img`);
      if (config.night_items.includes(item)) await officer.waitForSelector(`#item-${item} .compare-cell[data-role="night"] img`);
    }
    check('officer: evidence', await officer.locator('#unmet-items').count() === 0, 'the unmet list should clear once every item is in place');

    setStep('officer: close-out');
    await clickAction(officer, 'request_close_out');
    await submitDialog(officer, 'dialog-request_close_out');
    await waitStatus(officer, 'pending_review');
    const afterRequest = await officer.$$eval('#action-buttons [data-action]', (bs) => bs.map((b) => b.dataset.action));
    check('officer: close-out', afterRequest.length === 0, `an officer may still ${afterRequest} while it waits for review`);

    // ---------------------------------------------------------------------------------------------
    setStep('reviewer: queue');
    const reviewer = await open();
    await signInAt(reviewer, '/work.html', reviewerAccount);
    await reviewer.waitForSelector('body[data-queues="loaded"]');
    const reviewQueue = await reviewer.$$eval('#list-review li', (lis) => lis.map((li) => li.dataset.code));
    check('reviewer: queue', reviewQueue.includes(site.code), `待验收 lists ${reviewQueue}`);
    await row(reviewer, 'review', site.code).locator('a.work-code').click();
    await reviewer.waitForURL((url) => url.pathname === '/site.html');
    await reviewer.waitForSelector('body[data-state="ready"]');

    setStep('reviewer: photos side by side');
    const photos = await comparePhotos(reviewer);
    result.photos = photos;
    for (const item of config.items) {
      const p = photos[item];
      check('reviewer: photos side by side', p?.before?.naturalWidth > 0 && p?.after?.naturalWidth > 0,
        `${item}: before ${p?.before?.naturalWidth}px, after ${p?.after?.naturalWidth}px wide`);
      check('reviewer: photos side by side', Math.abs(p.before.top - p.after.top) < 2 && p.after.left >= p.before.right - 1,
        `${item}: the after-photo is not beside the before-photo (${JSON.stringify(p)})`);
      if (config.night_items.includes(item)) {
        check('reviewer: photos side by side', p.night?.naturalWidth > 0 && p.night.left >= p.after.right - 1, `${item}: night photo ${JSON.stringify(p.night)}`);
      }
    }
    await screenshot(reviewer, 'site-review-desktop', { fullPage: true });
    result.accessibility.site_review = await checkAccessible('reviewer: photos side by side', reviewer, 'the site page under review');
    const reviewerActions = await reviewer.$$eval('#action-buttons [data-action]', (bs) => bs.map((b) => b.dataset.action));
    check('reviewer: photos side by side', reviewerActions.join() === 'approve,return', `a reviewer may ${reviewerActions}`);

    setStep('reviewer: return');
    await clickAction(reviewer, 'return');
    await submitDialog(reviewer, 'dialog-return');
    await reviewer.waitForSelector('#dialog-return .dialog-error:not([hidden])'); // a return needs its reason
    await reviewer.fill('#action-reason', config.return_reason);
    await submitDialog(reviewer, 'dialog-return');
    await waitStatus(reviewer, 'in_progress');
    check('reviewer: return', (await reviewer.textContent('[data-fact="returns"]')).trim() === '1', 'the return is counted');

    setStep('officer: rework');
    await officer.evaluate(() => window.roadledger.reload());
    await waitStatus(officer, 'in_progress');
    if (process.env.E2E_SCREENSHOT_DIR) {
      // The officer's phone at the site, with the work returned: the checklist and the evidence forms.
      const phone = await open(PHONE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      await signInAt(phone, sitePath, officerAccount);
      await phone.click('#item-lamp details.evidence > summary');
      await phone.waitForFunction(() => [...document.querySelectorAll('.compare img')].every((i) => i.complete));
      await screenshot(phone, 'site-rework-phone', { fullPage: true });
      await phone.context().close();
    }
    await officer.click('#item-lamp details.evidence > summary');
    await officer.setInputFiles('#ev-lamp-photo', config.photos.after);
    await officer.setInputFiles('#ev-lamp-night_photo', config.photos.night);
    const version = await officer.getAttribute('body', 'data-version');
    await officer.click('#evidence-lamp button[type="submit"]');
    await officer.waitForFunction((before) => document.body.dataset.version !== before, version);
    await clickAction(officer, 'request_close_out');
    await submitDialog(officer, 'dialog-request_close_out');
    await waitStatus(officer, 'pending_review');

    setStep('reviewer: approve');
    await reviewer.evaluate(() => window.roadledger.reload());
    await waitStatus(reviewer, 'pending_review');
    await clickAction(reviewer, 'approve');
    await submitDialog(reviewer, 'dialog-approve');
    await waitStatus(reviewer, 'closed');
    const states = await reviewer.$$eval('.item-card', (els) => els.map((e) => e.dataset.state));
    check('reviewer: approve', states.every((s) => s === 'verified'), `item states after approval: ${states}`);
    result.final_status = await status(reviewer);

    setStep('timeline');
    const timeline = await reviewer.$$eval('#timeline > li', (lis) => lis.map((li) => ({
      kind: li.dataset.kind,
      label: li.querySelector('.timeline-label').textContent.trim(),
      move: li.querySelector('.timeline-move')?.textContent.replace(/\s+/g, '') || null,
      reason: li.querySelector('.timeline-reason')?.textContent.trim() || null,
      photos: li.querySelectorAll('.timeline-photo img').length,
    })));
    result.timeline = timeline;
    const steps = timeline.filter((e) => e.kind !== 'evidence_submitted');
    const expected = [
      ['建账（首次上报）', '已上报'], ['核实', '已上报→已核实'], ['派单', '已核实→已派单'], ['接单整改', '已派单→整改中'],
      ['申请延期', null], ['同意延期', null],
      ['申请销号', '整改中→待审核'], ['退回整改', '待审核→整改中'], ['申请销号', '整改中→待审核'], ['审核通过，销号', '待审核→已销号'],
    ];
    check('timeline', steps.length === expected.length, `the timeline has ${steps.length} steps: ${JSON.stringify(steps)}`);
    expected.forEach(([label, move], i) => {
      check('timeline', steps[i].label === label && steps[i].move === move, `step ${i + 1} reads ${steps[i].label} ${steps[i].move}, expected ${label} ${move}`);
    });
    const returned = steps.find((e) => e.kind === 'return');
    check('timeline', returned.reason === `原因：${config.return_reason}`, `the return reads ${returned.reason}`);
    const evidence = timeline.filter((e) => e.kind === 'evidence_submitted');
    check('timeline', evidence.length === config.items.length + 1 && evidence.every((e) => e.label === '上传整改佐证' && e.photos > 0),
      `evidence entries: ${JSON.stringify(evidence)}`);
    await reviewer.waitForFunction(() => [...document.querySelectorAll('#timeline .timeline-photo img')].every((i) => i.complete && i.naturalWidth > 0));
    await screenshot(reviewer, 'site-closed-desktop', { fullPage: true });

    setStep('english');
    await reviewer.click('#lang-switch');
    const english = {
      status: (await reviewer.textContent('#site-status')).trim(),
      last: (await reviewer.locator('#timeline > li .timeline-label').last().textContent()).trim(),
    };
    check('english', english.status === 'Closed out' && english.last === 'Approved, closed out', `in English: ${JSON.stringify(english)}`);
    await screenshot(reviewer, 'site-closed-desktop-en', { fullPage: true });
    result.accessibility.site_closed_en = await checkAccessible('english', reviewer, 'a closed site\'s page in English');
    await reviewer.click('#lang-switch');

    // ---------------------------------------------------------------------------------------------
    setStep('phone screenshots');
    if (process.env.E2E_SCREENSHOT_DIR) {
      const phone = await open(PHONE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      await signInAt(phone, '/work.html', officerAccount);
      await phone.waitForSelector('body[data-queues="loaded"]');
      await screenshot(phone, 'work-rectify-phone', { fullPage: true });
      await phone.goto(new URL(sitePath, base).href);
      await phone.waitForSelector('body[data-state="ready"]');
      await phone.waitForFunction(() => [...document.querySelectorAll('.compare img')].every((i) => i.complete));
      await screenshot(phone, 'site-closed-phone', { fullPage: true });
      const dispatcherPhone = await open(PHONE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      await signInAt(dispatcherPhone, '/work.html', dispatcherAccount);
      await dispatcherPhone.waitForSelector('body[data-queues="loaded"]');
      await screenshot(dispatcherPhone, 'work-dispatch-phone', { fullPage: true });
    }

    return result;
  } finally {
    await browser.close();
  }
});

/** Per item, where the before-, after- and night-photos are drawn and whether they decoded. */
async function comparePhotos(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('.compare img')].every((i) => i.complete));
  return page.$$eval('.item-card', (cards) => Object.fromEntries(cards.map((card) => {
    const cell = (role) => {
      const img = card.querySelector(`.compare-cell[data-role="${role}"] img`);
      if (!img) return null;
      const r = img.getBoundingClientRect();
      return { naturalWidth: img.naturalWidth, left: Math.round(r.left), right: Math.round(r.right), top: Math.round(r.top), src: img.getAttribute('src') };
    };
    return [card.dataset.item, { before: cell('before'), after: cell('after'), night: cell('night') }];
  })));
}
