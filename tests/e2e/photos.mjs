// Light uploads on the inspector's phone page (390×844, touch, GPS fixed), signed in as an inspector: three
// camera photos (12 MP JPEGs with EXIF) are picked and the observation submitted offline with the CPU
// throttled 4× (a mid-range phone, DevTools' `Emulation.setCPUThrottlingRate`); the time from picking the
// photos to "queued" is measured. The queued record is read back from the outbox: what each photo became
// (type, pixels, bytes) and the `photo_evidence` read from the originals. Back online it is sent; the site
// page then shows the flag of the photo taken far away, and passes axe-core. Last, the same module with the
// county's `require_original_photos`: the photo is kept as taken, with its evidence.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> node tests/e2e/photos.mjs <base-url> <jpeg> <jpeg> <jpeg>
//
// Prints one JSON line ({"ok": true, "queue_ms", "queued": {...}, "observation_id", "site_id", "flags"} or
// {"ok": false, "step", "error"}). The Rust test (tests/it/browser.rs) checks what the server stored.

import { existsSync } from 'node:fs';
import { launch, phoneContext, watchConsole, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, ...photos] = process.argv.slice(2);
if (!base || photos.length === 0) fail('usage', 'usage: node tests/e2e/photos.mjs <base-url> <jpeg>…');
for (const p of photos) if (!existsSync(p)) fail('usage', `no such photo: ${p}`);
const account = credentials();

const HERE = { longitude: 120.55, latitude: 31.87, accuracy: 8 };
const TIMEOUT_MS = 120_000;

await run('photos', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await phoneContext(browser, HERE);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);

    setStep('sign in');
    await page.goto(new URL('/inspect.html', base).href);
    const landed = await signIn(page, account);
    check('sign in', landed === '/inspect.html', `after signing in the browser is at ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="8"]');

    setStep('queue offline, CPU 4× slower');
    const cdp = await context.newCDPSession(page);
    await context.setOffline(true);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const started = Date.now();
    await page.setInputFiles('#photo-input', photos);
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="queued"]');
    const queueMs = Date.now() - started;
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });

    // What waits in the outbox: each photo as it will be sent, and the evidence.
    const queued = await page.evaluate(async () => {
      const [record] = await (await import('/outbox.js')).all();
      const photos = await Promise.all(record.photos.map(async (p) => {
        const bitmap = await createImageBitmap(p.blob);
        const size = { type: p.blob.type, bytes: p.blob.size, width: bitmap.width, height: bitmap.height };
        bitmap.close();
        return size;
      }));
      const jsonBytes = new Blob([JSON.stringify(record.observation)]).size;
      return { id: record.id, photos, photo_evidence: record.observation.photo_evidence, json_bytes: jsonBytes };
    });
    check('queue offline, CPU 4× slower', queued.photos.length === photos.length, `queued ${JSON.stringify(queued)}`);

    setStep('send');
    await context.setOffline(false);
    await page.evaluate(() => window.roadledger.flushOutbox());
    await page.waitForFunction(() => window.roadledger.outboxCount() === 0);
    const body = await page.evaluate(async (id) => (await fetch(`/api/v1/observations/${id}`)).json(), queued.id);
    const siteId = body.observation.site_id;

    setStep('site page');
    await page.goto(new URL(`/site.html?id=${siteId}`, base).href);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#site-observations .photo-figure');
    const flags = await page.$$eval('#site-observations .photo-figure', (figures) => figures.map((f) => ({
      codes: f.dataset.flags,
      text: [...f.querySelectorAll('.photo-flag')].map((s) => s.textContent),
    })));
    await checkAccessible('site page', page, 'the site page with a flagged photo');

    // A county that requires originals: the photo is kept as taken, byte for byte, with its evidence.
    setStep('originals');
    await page.evaluate(() => {
      const probe = Object.assign(document.createElement('input'), { type: 'file', id: 'probe', hidden: true });
      document.body.append(probe);
    });
    await page.setInputFiles('#probe', photos[1]);
    const original = await page.evaluate(async () => {
      const { preparePhoto } = await import('/photos.js');
      const file = document.getElementById('probe').files[0];
      const p = await preparePhoto(file, { requireOriginals: true });
      return { same: p.blob === file, type: p.type, evidence: p.evidence };
    });

    return { queue_ms: queueMs, queued, observation_id: queued.id, site_id: siteId, flags, original };
  } finally {
    await browser.close();
  }
});
