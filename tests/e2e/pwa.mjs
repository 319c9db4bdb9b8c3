// The inspection page as an installed app that loses nothing, in a real browser (390×844, touch, GPS):
//  1. installable: the page links a web app manifest (served as application/manifest+json) with the name,
//     standalone display, start URL, zh-CN and three PNG icons (192, 512 and a maskable 512) of those sizes;
//  2. the draft survives a reload mid-edit: kind, hazard, checklist, notes, location and photo come back,
//     under the same observation id; once sent, the kept draft goes;
//  3. a 409: a draft kept under the id of an observation already sent, but with other content, is set aside in
//     the outbox; "send as a new record" shows the server's copy beside the phone's, and sends the phone's
//     under a new id (the Rust test finds both in the database);
//  4. MapLibre, once the page has imported it, is kept by the worker and answered without signal;
//  5. with navigator.storage.estimate() stubbed to report little room, the page warns, and refuses to queue a
//     record that would not fit, keeping the draft.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/pwa.mjs <base-url> <path-to-a-jpeg>
//
// Prints one JSON line ({"ok": true, "sent_id": "…", "conflict_id": "…", …} or {"ok": false, "step", "error"}).

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, check, run, fail, credentials, signIn, checkAccessible, screenshot } from './lib.mjs';

const [base, jpeg] = process.argv.slice(2);
if (!base || !jpeg) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… node tests/e2e/pwa.mjs <base-url> <path-to-a-jpeg>');
if (!existsSync(jpeg)) fail('usage', `no such photo: ${jpeg}`);
const account = credentials();
const HERE = { longitude: 120.57, latitude: 31.86, accuracy: 6 };
const PHONE_NOTES = '手机上的另一份记录';

await run('pwa', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, HERE);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const waitReady = () => page.waitForSelector('body[data-state="ready"]');

    setStep('installable');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await waitReady();
    const manifest = await page.evaluate(async () => {
      const link = document.querySelector('link[rel=manifest]');
      const response = await fetch(link.href);
      const body = await response.json();
      const icons = await Promise.all(body.icons.map(async (icon) => {
        const r = await fetch(icon.src);
        const bitmap = await createImageBitmap(await r.blob());
        return { ...icon, type_served: r.headers.get('content-type'), width: bitmap.width, height: bitmap.height };
      }));
      return { type: response.headers.get('content-type'), body, icons };
    });
    check('installable', manifest.type === 'application/manifest+json', `the manifest is served as ${manifest.type}`);
    const m = manifest.body;
    check('installable', m.name.includes('道路隐患巡查') && m.short_name && m.display === 'standalone'
      && m.start_url === '/inspect.html' && m.lang === 'zh-CN' && /^#[0-9a-f]{6}$/i.test(m.theme_color), `manifest: ${JSON.stringify(m)}`);
    for (const icon of manifest.icons) {
      const [w, h] = icon.sizes.split('x').map(Number);
      check('installable', icon.type_served === 'image/png' && icon.width === w && icon.height === h,
        `icon ${icon.src}: ${icon.type_served} ${icon.width}×${icon.height}, declared ${icon.sizes}`);
    }
    const sizes = manifest.icons.map((i) => `${i.sizes}/${i.purpose}`).sort();
    check('installable', sizes.join() === '192x192/any,512x512/any,512x512/maskable', `icons ${sizes}`);
    const persisted = await page.evaluate(() => navigator.storage.persisted());
    await page.waitForSelector('#storage-room[data-photos]:not([hidden])');
    const room = await page.getAttribute('#storage-room', 'data-photos');
    check('installable', Number(room) > 100, `room for ${room} photos shown`);

    setStep('draft survives a reload');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const draftId = await page.evaluate(() => window.roadledger.draftId());
    await labelOf('input[name=kind][value=spot]').tap();
    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=crop_drying]').tap();
    await page.fill('#notes', '桥头右侧护栏缺失');
    await page.setInputFiles('#photo-input', jpeg);
    await page.waitForSelector('#photo-count[data-count="1"]');
    // Kept within moments of the edit (waitForFunction does not wait for a promise: poll).
    const keptPhotos = () => page.evaluate(async () => ((await (await import('/draft.js')).load())?.photos || []).length);
    for (let i = 0; i < 40 && (await keptPhotos()) !== 1; i += 1) await page.waitForTimeout(100);
    await page.reload();
    await waitReady();
    check('draft survives a reload', await page.getAttribute('body', 'data-draft-restored') === 'true',
      `no draft restored: ${JSON.stringify(await page.evaluate(async () => (await import('/draft.js')).load()))}`);
    check('draft survives a reload', await page.evaluate(() => window.roadledger.draftId()) === draftId, 'the draft came back under another id');
    check('draft survives a reload', await page.isChecked('input[name=kind][value=spot]'), 'the kind was lost');
    check('draft survives a reload', await page.isChecked('input[name=hazard][value=crop_drying]'), 'the hazard was lost');
    check('draft survives a reload', await page.inputValue('#notes') === '桥头右侧护栏缺失', 'the notes were lost');
    check('draft survives a reload', await page.getAttribute('#point-fixed', 'data-state') === 'set', 'the location was lost');
    check('draft survives a reload', await page.getAttribute('#photo-count', 'data-count') === '1', 'the photo was lost');
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"]');
    check('draft survives a reload', await page.getAttribute('#result', 'data-state') === 'success', `not sent: ${await page.textContent('#result')}`);
    const draftGone = () => page.evaluate(async () => (await (await import('/draft.js')).load()) === null);
    for (let i = 0; i < 40 && !(await draftGone()); i += 1) await page.waitForTimeout(100);
    check('draft survives a reload', await draftGone(), 'the draft was kept after it was sent');

    setStep('409 as a new observation');
    // The phone kept another version under the id already sent (a draft restored after the answer was lost).
    await page.evaluate(async ({ id, notes, here }) => {
      const draft = await import('/draft.js');
      draft.schedule(() => ({
        id, kind: 'spot', hazards: ['crop_drying'], checklist: [], photos: [], notes, road_code: '', stake: '',
        point: { lon: here.longitude, lat: here.latitude, accuracy_m: here.accuracy, at: new Date().toISOString() },
        start: null, end: null, look_back: null,
      }));
      await draft.flush();
    }, { id: draftId, notes: PHONE_NOTES, here: HERE });
    await page.reload();
    await waitReady();
    check('409 as a new observation', await page.evaluate(() => window.roadledger.draftId()) === draftId, 'the kept draft was not restored');
    await page.tap('#submit');
    await page.waitForSelector(`#outbox-list li[data-id="${draftId}"][data-state="conflict"]`);
    await page.tap(`#outbox-list li[data-id="${draftId}"] .outbox-as-new`);
    await page.waitForSelector('#conflict-dialog .conflict-copy');
    const copies = await page.$$eval('#conflict-dialog .conflict-copy', (tables) => tables.map((t) => t.textContent));
    check('409 as a new observation', copies.length === 2 && copies[0].includes('桥头右侧护栏缺失') && copies[1].includes(PHONE_NOTES),
      `the two copies: ${JSON.stringify(copies)}`);
    await checkAccessible('409 as a new observation', page, 'the conflict dialog');
    await screenshot(page, 'inspect-conflict');
    // The ids of the uploads from here on, read from their bodies.
    const sentIds = [];
    await context.route('**/api/v1/observations', (route) => {
      const body = route.request().postDataBuffer()?.toString('latin1') || '';
      const id = /"id":"([0-9a-f-]{36})"/.exec(body)?.[1];
      if (id) sentIds.push(id);
      return route.continue();
    });
    await page.click('#conflict-dialog button[value="ok"]');
    await page.waitForSelector('#outbox-count[data-count="0"]');
    const conflictId = sentIds[0];
    check('409 as a new observation', sentIds.length === 1, `uploads after the choice: ${sentIds}`);
    check('409 as a new observation', conflictId && conflictId !== draftId, `sent as ${conflictId}`);
    await page.waitForSelector('#outbox-count[data-count="0"]');

    setStep('vendor modules kept');
    // MapLibre imported by the inspection page (as a map on it would) is kept for opening without signal.
    await page.evaluate(() => import('/vendor/maplibre-gl/maplibre-gl.mjs'));
    await page.evaluate(() => (window.roadledger.startUpKept = (async () => {
      const { keepStartUp } = await import('/pwa.js');
      return keepStartUp();
    })()));
    await page.evaluate(() => window.roadledger.startUpKept);
    await context.setOffline(true);
    const vendorOffline = await page.evaluate(async () => {
      const shim = await fetch('/vendor/maplibre-gl/maplibre-gl.mjs');
      const target = /from '([^']+)'/.exec(await shim.text())?.[1];
      const module = target ? await fetch(target) : null;
      return { shim: shim.status, target, module: module?.status, bytes: module ? (await module.arrayBuffer()).byteLength : 0 };
    });
    await context.setOffline(false);
    check('vendor modules kept', vendorOffline.shim === 200 && vendorOffline.module === 200 && vendorOffline.bytes > 100_000,
      `offline, MapLibre is ${JSON.stringify(vendorOffline)}`);

    setStep('storage short');
    const short = await context.newPage();
    short.setDefaultTimeout(30_000);
    watchConsole(short, log);
    // 1 MB left of 100 MB: the warning shows, and a photo plus the margin does not fit.
    await short.addInitScript(() => {
      StorageManager.prototype.estimate = async () => ({ usage: 99 * 1024 * 1024, quota: 100 * 1024 * 1024 });
    });
    await short.goto(new URL('/inspect.html', base).href);
    await short.waitForSelector('body[data-state="ready"]');
    await short.waitForSelector('#storage-warning:not([hidden])');
    const warning = await short.textContent('#storage-warning');
    check('storage short', warning.includes('存储空间即将用完'), `the warning says: ${warning}`);
    await checkAccessible('storage short', short, 'the page warning of short storage');
    await short.tap('#use-location');
    await short.setInputFiles('#photo-input', jpeg);
    await short.waitForSelector('#photo-count[data-count="1"]');
    await short.tap('#submit');
    await short.waitForSelector('#result[data-state="error"]');
    const refusal = await short.textContent('#result');
    check('storage short', refusal.includes('存储空间不足'), `the refusal says: ${refusal}`);
    check('storage short', await short.evaluate(() => window.roadledger.outboxCount()) === 0, 'a record that does not fit was queued');
    check('storage short', await short.getAttribute('#photo-count', 'data-count') === '1', 'the draft lost its photo');
    await screenshot(short, 'inspect-storage-short');

    const errors = log.filter((l) => l.startsWith('pageerror'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { sent_id: draftId, conflict_id: conflictId, phone_notes: PHONE_NOTES, persisted };
  } finally {
    await browser.close();
  }
});
