// Where the observation is, on a 360 px phone (touch, Chinese, GPS set by Playwright), signed in as an
// inspector, with one open intersection site already recorded at <site-lon>,<site-lat>:
//  1. standing 40 m from it (beyond the server's 30 m matching, within the 50 m offer), the page offers it
//     live ("这是点位 YH-… 的复查？"); on submit it asks, and the site chosen, the observation names it
//     (`site_id`) and joins it;
//  2. offline, the same site is still offered, from the list kept on the phone;
//  3. far from any site, with a fix 40 s old (the page's clock moved on, no new fix came), the page asks to
//     confirm the location before queueing, and the observation says it was confirmed;
//  4. elsewhere, the point is moved on the small map (a tap 80 px east of it): the observation is placed by
//     hand (`location_source: "map"`), with no confirmation asked;
//  5. a section recorded as a track (start, pause, resume, stop): a coarse fix and the fixes while paused are
//     left out, and the track is simplified to its corners.
// axe-core finds no serious or critical WCAG 2.1 A/AA violation with the offer and with the dialog open.
//
//   E2E_USER=<inspector> E2E_PASSWORD=<password> node tests/e2e/place.mjs <base-url> <site-lon> <site-lat> <site-code>
//
// Prints one JSON line ({"ok": true, "repeat": {...}, "stale": {...}} or {"ok": false, "step", "error"}); the
// Rust test (tests/it/browser.rs) checks the database afterwards.

import { launch, watchConsole, check, run, fail, credentials, signIn, checkAccessible } from './lib.mjs';

const [base, lonText, latText, siteCode] = process.argv.slice(2);
if (!base || !lonText || !latText || !siteCode) fail('usage', 'usage: node tests/e2e/place.mjs <base-url> <site-lon> <site-lat> <site-code>');
const account = credentials();
const SITE = { longitude: Number(lonText), latitude: Number(latText) };
const north = (p, m) => ({ ...p, latitude: p.latitude + (m / 6_371_008.8) * (180 / Math.PI) });
const TIMEOUT_MS = 30_000;

await run('place', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({
      viewport: { width: 360, height: 780 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      geolocation: { ...north(SITE, 40), accuracy: 6 },
      permissions: ['geolocation'],
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    // The page's clock is Playwright's, so a fix can grow old without waiting.
    await page.clock.install();
    const resultState = async () => {
      await page.waitForSelector('#result[data-state="success"], #result[data-state="error"], #result[data-state="queued"], #result[data-state="signin"]');
      return page.getAttribute('#result', 'data-state');
    };

    setStep('sign in');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="6"]');

    setStep('offered');
    await page.waitForSelector('#nearby-offer[data-count="1"]');
    const offer = (await page.textContent('#nearby-offer')).trim();
    check('offered', offer.includes(`这是点位 ${siteCode} 的复查？`) && /40 米/.test(offer), `the offer reads: ${offer}`);
    const accessibility = { offer: await checkAccessible('offered', page, 'the inspection page with an offer') };
    await page.tap('#use-location');
    await page.tap('#submit');
    await page.waitForSelector('#nearby-dialog');
    const dialog = (await page.textContent('#nearby-dialog')).trim();
    check('offered', dialog.includes(siteCode) && dialog.includes('不是，这是一个新点位'), `the question reads: ${dialog}`);
    accessibility.dialog = await checkAccessible('offered', page, 'the repeat-visit question');
    const chosen = await page.inputValue('#nearby-dialog input[name=nearby-site]:checked');
    await page.tap('#nearby-dialog button[value=ok]');
    check('offered', await resultState() === 'success', `not sent: ${await page.textContent('#result')}`);
    const repeat = {
      chosen,
      site_code: await page.getAttribute('#result', 'data-site-code'),
      site_match: await page.getAttribute('#result', 'data-site-match'),
    };
    check('offered', repeat.site_code === siteCode && repeat.site_match === 'joined', `sent as ${JSON.stringify(repeat)}`);

    setStep('offline');
    await context.setOffline(true);
    // A kind change asks again: without signal, the list kept on the phone answers.
    await page.locator('label', { has: page.locator('input[name=kind][value=spot]') }).tap();
    await page.waitForSelector('#nearby-offer[hidden]', { state: 'attached' });
    await page.locator('label', { has: page.locator('input[name=kind][value=intersection]') }).tap();
    await page.waitForSelector('#nearby-offer[data-count="1"]');
    const keptOffer = (await page.textContent('#nearby-offer')).trim();
    check('offline', keptOffer.includes(siteCode) && keptOffer.includes('离线'), `offline, the offer reads: ${keptOffer}`);
    await context.setOffline(false);

    setStep('stale fix');
    // 2 km away: no site near. The fix is fresh, then 40 s pass without a new one.
    await context.setGeolocation({ ...north(SITE, 2000), accuracy: 6 });
    await page.waitForSelector('#nearby-offer[hidden]', { state: 'attached' });
    await page.waitForFunction(() => Number(document.querySelector('#loc-fix')?.dataset.ageS) < 5);
    check('stale fix', await page.getAttribute('#loc-fix', 'data-doubtful') === 'false', 'a fresh 6 m fix is doubted');
    await page.clock.fastForward(40_000);
    await page.waitForSelector('#loc-fix[data-doubtful="true"]');
    const fixLine = (await page.textContent('#loc-fix')).trim();
    check('stale fix', /4\d 秒前/.test(fixLine), `the fix's age reads: ${fixLine}`);
    await page.tap('#submit');
    await page.waitForSelector('#confirm-fix');
    const question = (await page.textContent('#confirm-fix')).trim();
    check('stale fix', question.includes('±6 米') && question.includes('确认'), `the confirmation reads: ${question}`);
    accessibility.confirm = await checkAccessible('stale fix', page, 'the location confirmation');
    await page.tap('#confirm-fix button[value=ok]');
    check('stale fix', await resultState() === 'success', `not sent: ${await page.textContent('#result')}`);
    const stale = {
      site_code: await page.getAttribute('#result', 'data-site-code'),
      site_match: await page.getAttribute('#result', 'data-site-match'),
    };

    setStep('placed on the map');
    // 3 km away; the point is moved on the small map by tapping east of it (a point placed by hand is no
    // fix, so however old the last fix, nothing is asked).
    const far = north(SITE, 3000);
    await context.setGeolocation({ ...far, accuracy: 6 });
    await page.waitForFunction((lat) => document.querySelector('#loc-coords')?.textContent.startsWith(lat), far.latitude.toFixed(6));
    await page.tap('#map-toggle');
    await page.waitForSelector('#place-map[data-state="ready"]');
    accessibility.map = await checkAccessible('placed on the map', page, 'the inspection page with its map');
    const canvas = page.locator('#place-map canvas');
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    await canvas.tap({ position: { x: box.width / 2 + 80, y: box.height / 2 } });
    await page.waitForSelector('#point-fixed[data-source="map"]');
    const placed = (await page.textContent('#point-fixed')).trim();
    check('placed on the map', placed.includes('地图上手动放置'), `the chosen place reads: ${placed}`);
    await page.tap('#submit');
    check('placed on the map', await resultState() === 'success', `not sent: ${await page.textContent('#result')}`);
    const mapped = { site_match: await page.getAttribute('#result', 'data-site-match'), placed };

    setStep('map without signal');
    // The small map drew the town's boundary online; without signal, after a reload, it draws it again from
    // the tiles the service worker kept.
    await page.waitForSelector('#place-map[data-drawn]:not([data-drawn="0"])', { state: 'attached' });
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForFunction((lat) => document.querySelector('#loc-coords')?.textContent.startsWith(lat), far.latitude.toFixed(6));
    await page.tap('#map-toggle');
    await page.waitForSelector('#place-map[data-state="ready"]');
    await page.waitForSelector('#place-map[data-drawn]:not([data-drawn="0"])');
    mapped.drawn_offline = Number(await page.getAttribute('#place-map', 'data-drawn'));
    await page.tap('#map-toggle');
    await context.setOffline(false);

    setStep('track');
    // A section recorded as a track, 5 km north: 60 m north, a coarse fix (200 m) beside the road, 60 m east;
    // paused, a fix 100 m off; resumed, 10 m further east. Kept: 14 fixes; simplified: start, corner, end.
    const fixAt = async (p, accuracy = 5) => {
      await context.setGeolocation({ ...p, accuracy });
      const text = `${p.latitude.toFixed(6)}, ${p.longitude.toFixed(6)}`;
      await page.waitForFunction((t) => document.querySelector('#loc-coords')?.textContent.startsWith(t), text);
    };
    const east = (p, m) => ({ ...p, longitude: p.longitude + (m / (6_371_008.8 * Math.cos((p.latitude * Math.PI) / 180))) * (180 / Math.PI) });
    const trackStart = north(SITE, 5000);
    await page.locator('label', { has: page.locator('input[name=kind][value=section]') }).tap();
    await fixAt(trackStart);
    await page.tap('#track-start');
    for (let m = 10; m <= 60; m += 10) await fixAt(north(trackStart, m));
    const corner = north(trackStart, 60);
    await fixAt(east(north(trackStart, 30), 40), 200);
    for (let m = 10; m <= 60; m += 10) await fixAt(east(corner, m));
    await page.tap('#track-pause');
    await fixAt(east(corner, -100));
    await page.tap('#track-pause');
    await fixAt(east(corner, 70));
    const kept = Number(await page.getAttribute('#track', 'data-points'));
    await page.tap('#track-stop');
    const line = Number(await page.getAttribute('#track', 'data-line'));
    check('track', kept === 14 && line === 3, `the track kept ${kept} fixes and ${line} after simplifying`);
    const simplified = await page.evaluate(async () => {
      const m = await import('/place.js');
      const straight = Array.from({ length: 2000 }, (_, i) => ({ lon: 120 + i * 1e-5, lat: 31 + Math.sin(i / 3) * 1e-6 }));
      const zigzag = Array.from({ length: 2000 }, (_, i) => ({ lon: 120 + i * 1e-5, lat: 31 + (i % 2) * 5e-4 }));
      return { straight: m.simplifyTrack(straight).length, zigzag: m.simplifyTrack(zigzag).length };
    });
    check('track', simplified.straight === 2 && simplified.zigzag <= 500 && simplified.zigzag >= 2,
      `simplified: ${JSON.stringify(simplified)}`);
    await page.tap('#submit');
    check('track', await resultState() === 'success', `not sent: ${await page.textContent('#result')}`);
    const track = { kept, line, simplified, site_match: await page.getAttribute('#result', 'data-site-match') };

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { accessibility, repeat, stale, mapped, track, fix_line: fixLine, offer, kept_offer: keptOffer };
  } finally {
    await browser.close();
  }
});
