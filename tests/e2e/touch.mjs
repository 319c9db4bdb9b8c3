// Touch targets on a small phone, one-handed (issue 10): Chromium with mobile emulation at 360 × 740 CSS px,
// touch, 3× pixels. In every state of the inspection page we can reach (the empty draft, the settings open,
// the user menu open, a section's track buttons, a draft with photos and hazards ticked, the small map open,
// the location-confirm question, the outbox with a queued record and its delete question, a repeat visit
// offered and asked about, a 409 record and its dialog) and of the citizen's report page (empty, filled with its map open, sent), every visible
// interactive element (links, buttons, inputs, selects, textareas, summaries, the labels of checkboxes,
// radios and file inputs, the map's marker and controls) must take a tap over at least 44 × 44 CSS px
// (WCAG 2.5.5 and Apple's HIG; Android's 48 dp is not required), unless it is a text link inside a sentence
// (exempt, as WCAG says). And nothing may stick out sideways: the page never scrolls horizontally at 360 px.
//
// A target's hit box is measured as a finger finds it, not read from its box: from the target's centre, the
// browser's hit testing (elementFromPoint) is followed left, right, up and down to where the target stops
// answering. So a hit area enlarged beyond the drawing (padding, a pseudo-element) counts, and a target
// covered by a neighbour loses what is covered.
//
// Last, the audit checks itself: with one target shrunk (the submit button at 30 px), it must fail.
//
//   E2E_USER=… E2E_PASSWORD=… node tests/e2e/touch.mjs <base-url> <jpeg> <another-jpeg>
//
// Prints one JSON line ({"ok": true, "states": {name: targets checked}, …} or {"ok": false, "step", "error"}).

import { existsSync } from 'node:fs';
import { launch, watchConsole, check, run, fail, credentials, signIn, screenshot } from './lib.mjs';

const [base, photoA, photoB] = process.argv.slice(2);
if (!base || !photoA || !photoB) fail('usage', 'usage: node tests/e2e/touch.mjs <base-url> <jpeg> <another-jpeg>');
for (const f of [photoA, photoB]) if (!existsSync(f)) fail('usage', `no such photo: ${f}`);
const account = credentials();
const HERE = { longitude: 120.57, latitude: 31.86, accuracy: 6 };
/** The smallest hit box, both ways, in CSS px. */
const MIN_PX = 44;
const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
  permissions: ['geolocation'],
};

/**
 * Every visible interactive element of the page, each with its hit box as hit testing finds it; the ones
 * under `min` px either way (text links inside a sentence exempt), and whether the page scrolls sideways and
 * what sticks out. Only the open modal dialog's elements when one is open, or those under `scope` (an open
 * menu, drawn over the page).
 */
function measure({ min, scope }) {
  const root = document.querySelector('dialog[open]') || (scope && document.querySelector(scope)) || document.body;
  const describe = (el) => {
    const id = el.id ? `#${el.id}` : '';
    const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
    const text = (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 24);
    return `${el.tagName.toLowerCase()}${id}${cls}${text ? ` "${text}"` : ''}`;
  };
  const visible = (el) => {
    if (el.closest('[aria-hidden="true"], [inert]')) return false;
    if (!el.checkVisibility({ visibilityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  // What a tap lands on: a checkbox, radio or file input is tapped through its label when it has one.
  const targetOf = (el) => {
    if (el.tagName === 'INPUT' && ['checkbox', 'radio', 'file'].includes(el.type)) {
      return el.closest('label') || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el;
    }
    return el;
  };
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=link], '
    + '[role=checkbox], [role=radio], [tabindex]:not([tabindex="-1"]), .maplibregl-marker, .maplibregl-ctrl button';
  const targets = [...new Set([...root.querySelectorAll(selector)].map(targetOf))].filter(visible);

  // A link inside a sentence: drawn inline, in a block that says more than the link.
  const inSentence = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    const others = (block?.textContent || '').replace(el.textContent, '').replace(/[\s\p{P}]/gu, '');
    return others.length >= 2;
  };

  const hits = (el, x, y) => {
    const at = document.elementFromPoint(x, y);
    return Boolean(at) && (el === at || el.contains(at));
  };
  // From (x, y) on the target, the distance along (dx, dy) to the last point it still answers (to 1/8 px).
  const reach = (el, x, y, dx, dy) => {
    let inside = 0;
    let step = 1;
    while (step <= 400 && hits(el, x + dx * step, y + dy * step)) {
      inside = step;
      step += 1;
    }
    let outside = step;
    while (outside - inside > 0.125) {
      const mid = (inside + outside) / 2;
      if (hits(el, x + dx * mid, y + dy * mid)) inside = mid;
      else outside = mid;
    }
    return inside;
  };

  const small = [];
  const covered = [];
  let exempt = 0;
  for (const el of targets) {
    if (inSentence(el)) {
      exempt += 1;
      continue;
    }
    el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
    const r = el.getBoundingClientRect();
    // The centre of its box (of the part in view, for a box cut by the viewport), or where a part of it is
    // covered there (a map under its marker), another point of a 3 × 3 grid over it.
    const [left, right] = [Math.max(r.left, 0), Math.min(r.right, innerWidth)];
    const [top, bottom] = [Math.max(r.top, 0), Math.min(r.bottom, innerHeight)];
    const points = [[0.5, 0.5], ...[0.25, 0.5, 0.75].flatMap((fx) => [0.25, 0.5, 0.75].map((fy) => [fx, fy]))]
      .map(([fx, fy]) => [left + fx * (right - left), top + fy * (bottom - top)]);
    const point = points.find(([px, py]) => hits(el, px, py));
    if (!point) {
      const over = document.elementFromPoint(points[0][0], points[0][1]);
      covered.push(`${describe(el)} is covered by ${over ? describe(over) : 'nothing'}`);
      continue;
    }
    const [x, y] = point;
    // Hit testing rounds the point to whole pixels, so the reach misses an edge by up to half a pixel each
    // side: within that of the drawn box, the box is the hit area; beyond it (an enlarged hit area), the
    // possible overshoot is taken off; short of it (partly covered), the reach stands.
    const hitSize = (reached, drawn) => {
      if (Math.abs(reached - drawn) <= 1) return drawn;
      return reached > drawn ? reached - 1 : reached;
    };
    const width = hitSize(reach(el, x, y, -1, 0) + reach(el, x, y, 1, 0), r.width);
    const height = hitSize(reach(el, x, y, 0, -1) + reach(el, x, y, 0, 1), r.height);
    if (width < min - 0.01 || height < min - 0.01) {
      small.push(`${describe(el)}: ${width.toFixed(1)} × ${height.toFixed(1)} (drawn ${r.width.toFixed(1)} × ${r.height.toFixed(1)})`);
    }
  }

  // Sideways: the page scrolls, or something is drawn past the right edge (inside no box that clips it).
  const html = document.documentElement;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== html; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  window.scrollTo({ left: 0, behavior: 'instant' });
  const sticking = [...root.querySelectorAll('*')].filter((el) => visible(el) && !clipped(el)
    && el.getBoundingClientRect().right > html.clientWidth + 0.5).map((el) => `${describe(el)} reaches ${el.getBoundingClientRect().right.toFixed(1)}`);
  const overflow = html.scrollWidth > html.clientWidth || document.body.scrollWidth > html.clientWidth;
  return { checked: targets.length - exempt, exempt, small, covered, overflow, width: html.scrollWidth, sticking: sticking.slice(0, 8) };
}

await run('touch', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ ...PHONE, geolocation: HERE });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);
    const labelOf = (selector) => page.locator('label', { has: page.locator(selector) });
    const waitReady = () => page.waitForSelector('body[data-state="ready"]');
    const states = {};
    const audit = async (name, scope = null) => {
      setStep(name);
      const found = await page.evaluate(measure, { min: MIN_PX, scope });
      await screenshot(page, `touch-${name.replace(/\W+/g, '-')}`);
      check(name, found.small.length === 0 && found.covered.length === 0,
        `targets under ${MIN_PX} × ${MIN_PX} px: ${[...found.small, ...found.covered].join('; ')}`);
      check(name, !found.overflow && found.sticking.length === 0,
        `the page is ${found.width} px wide at 360 px: ${found.sticking.join('; ')}`);
      check(name, found.checked > 0, 'no target found');
      states[name] = found.checked;
      return found;
    };

    // The inspection page.
    setStep('sign in');
    await page.goto(new URL('/inspect.html', base).href);
    await signIn(page, account);
    await waitReady();
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="6"]');
    await audit('empty draft');

    await page.tap('#card-settings summary');
    await page.waitForSelector('#api-token', { state: 'visible' });
    await audit('settings open');
    await page.tap('#card-settings summary');

    await page.tap('.usermenu-button');
    await page.waitForSelector('#sign-out', { state: 'visible' });
    await audit('user menu open', '.usermenu[open]');
    await page.tap('.usermenu-button');
    await page.waitForSelector('#sign-out', { state: 'hidden' });

    await labelOf('input[name=kind][value=section]').tap();
    await page.waitForSelector('#track-start', { state: 'visible' });
    await audit('section');
    await labelOf('input[name=kind][value=intersection]').tap();

    await page.tap('#use-location');
    await labelOf('input[name=hazard][value=no_signal]').tap();
    await labelOf('input[name=hazard][value=no_warning_posts]').tap();
    await page.setInputFiles('#photo-input', [photoA, photoB]);
    await page.waitForSelector('#photo-count[data-count="2"]');
    await page.fill('#notes', '路口东侧无警示桩');
    await audit('draft with photos and hazards');

    await page.tap('#map-toggle');
    await page.waitForSelector('#place-map[data-state="ready"]');
    await audit('small map open');
    await page.tap('#map-toggle');
    await page.waitForSelector('#place-map', { state: 'hidden' });

    // A coarse fix (80 m): submitting asks whether this is the place.
    await context.setGeolocation({ ...HERE, accuracy: 80 });
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="80"]');
    await page.tap('#use-location');
    await page.tap('#submit');
    await page.waitForSelector('#confirm-fix');
    await audit('location confirm');
    await page.tap('#confirm-fix button[value="cancel"]');
    await context.setGeolocation(HERE);
    await page.waitForSelector('#loc-accuracy[data-accuracy-m="6"]');
    await page.tap('#use-location');

    // Offline, the record waits in the outbox.
    await context.setOffline(true);
    const queuedId = await page.evaluate(() => window.roadledger.draftId());
    await page.tap('#submit');
    await page.waitForSelector('#result[data-state="queued"]');
    await page.waitForSelector(`#outbox-list li[data-id="${queuedId}"]`);
    await audit('outbox with a queued record');
    await page.tap(`#outbox-list li[data-id="${queuedId}"] .outbox-delete`);
    await page.waitForSelector('#confirm-delete-queued');
    await audit('delete asks first');
    await page.tap('#confirm-delete-queued button[value="cancel"]');

    // Back online it is sent; then a draft under the same id with other content meets a 409.
    await context.setOffline(false);
    await page.evaluate(() => window.roadledger.flushOutbox());
    await page.waitForFunction(() => window.roadledger.outboxCount() === 0);

    // 40 m from the site it opened: the site is offered as a repeat visit, and asked about before queueing.
    await context.setGeolocation({ ...HERE, latitude: HERE.latitude + 40 / 111_195 });
    await page.waitForSelector('#nearby-offer[data-count="1"]');
    await page.tap('#use-location');
    await audit('repeat visit offered');
    await page.tap('#submit');
    await page.waitForSelector('#nearby-dialog');
    await audit('repeat visit dialog');
    await page.tap('#nearby-dialog button[value="cancel"]');
    await context.setGeolocation(HERE);

    await page.evaluate(async ({ id, here }) => {
      const draft = await import('/draft.js');
      draft.schedule(() => ({
        id, kind: 'spot', hazards: ['crop_drying'], checklist: [], photos: [], notes: '手机上的另一份记录', road_code: '', stake: '',
        point: { lon: here.longitude, lat: here.latitude, accuracy_m: here.accuracy, at: new Date().toISOString() },
        start: null, end: null, look_back: null,
      }));
      await draft.flush();
    }, { id: queuedId, here: HERE });
    await page.reload();
    await waitReady();
    await page.tap('#submit');
    await page.waitForSelector(`#outbox-list li[data-id="${queuedId}"][data-state="conflict"]`);
    await audit('outbox with a 409');
    await page.tap(`#outbox-list li[data-id="${queuedId}"] .outbox-as-new`);
    await page.waitForSelector('#conflict-dialog .conflict-copy');
    await audit('409 dialog');

    // The audit fails when a target shrinks.
    setStep('a shrunk target fails');
    await page.tap('#conflict-dialog button[value="cancel"]');
    await page.addStyleTag({ content: '#submit { min-height: 30px; height: 30px; padding: 0 }' });
    const shrunk = await page.evaluate(measure, { min: MIN_PX });
    check('a shrunk target fails', shrunk.small.length === 1 && shrunk.small[0].startsWith('button#submit') && / × 30\.0 /.test(shrunk.small[0]),
      `with the submit button at 30 px the audit found: ${JSON.stringify(shrunk.small)}`);

    // The citizen's page.
    setStep('report page');
    await page.goto(new URL('/report.html', base).href);
    await waitReady();
    await audit('report empty');
    await page.tap('#locate');
    await page.waitForFunction(() => /120\.57/.test(document.getElementById('place').textContent));
    await page.check('input[name=category][value=barrier]');
    await page.setInputFiles('#photos', [photoA, photoB]);
    await page.waitForFunction(() => document.querySelectorAll('#previews img').length === 2);
    await page.fill('#description', '村口护栏被撞断');
    await page.tap('#pick');
    await page.waitForSelector('#pick-map[data-state="ready"]');
    await page.tap('#pick-map canvas', { position: { x: 120, y: 100 } });
    await page.waitForSelector('#pick-map .maplibregl-marker');
    await audit('report filled, map open');
    await page.tap('#submit');
    await page.waitForSelector('#done:not([hidden])', { timeout: 60_000 });
    await audit('report sent');

    const errors = log.filter((l) => l.startsWith('pageerror'));
    check('console', errors.length === 0, `the page reported errors: ${errors.join('; ')}`);
    return { min_px: MIN_PX, states, shrunk: shrunk.small };
  } finally {
    await browser.close();
  }
});
