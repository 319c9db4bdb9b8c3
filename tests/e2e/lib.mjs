// Shared by the browser scripts: find playwright-core in web/node_modules, start Debian's Chromium with the
// flags that make WebGL (MapLibre) work headless, collect the page's console, and report one JSON line.

import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const webPackage = new URL('../../web/package.json', import.meta.url);

/** playwright-core from web/node_modules (there is no package.json at the repository root). */
export function playwright() {
  const require = createRequire(webPackage);
  try {
    return require('playwright-core');
  } catch (error) {
    fail('setup', `playwright-core is not installed in web/node_modules (${error.code || error.message}); run \`npm ci --prefix web\``);
  }
}

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // WebGL through SwiftShader: MapLibre needs WebGL and there is no GPU here.
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
];

export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    fail('setup', `Chromium not found at ${executablePath}; install Debian's chromium or set CHROMIUM`);
  }
  const { chromium } = playwright();
  // launch() gives each run a fresh temporary profile (the --user-data-dir of ECOSYSTEM.md).
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Records console errors and page errors; the GL driver's performance chatter is not an error. */
/** A phone's browser context: 390×844 at 2×, touch, Chinese, China time, the GPS at `geolocation`. */
export function phoneContext(browser, geolocation) {
  return browser.newContext(phoneOptions(geolocation));
}

function phoneOptions(geolocation) {
  return {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation,
    permissions: ['geolocation'],
  };
}

/**
 * A phone's browser with a profile kept in `userDataDir` (cookies, IndexedDB, the service worker and its
 * caches): closing it and launching it again on the same directory is a browser restart.
 */
export async function launchPhone(userDataDir, geolocation) {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    fail('setup', `Chromium not found at ${executablePath}; install Debian's chromium or set CHROMIUM`);
  }
  const { chromium } = playwright();
  return chromium.launchPersistentContext(userDataDir, {
    executablePath, args: CHROMIUM_ARGS, timeout: 60_000, ...phoneOptions(geolocation),
  });
}

export function watchConsole(page, log) {
  page.on('console', (message) => {
    const text = message.text();
    if (/GL Driver Message|GPU stall/.test(text)) return;
    if (message.type() === 'error' || message.type() === 'warning') log.push(`${message.type()}: ${text}`);
  });
  page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 500) log.push(`http ${response.status()}: ${response.url()}`);
  });
}

/** Saves a screenshot when E2E_SCREENSHOT_DIR is set (`fullPage`: the whole page, not the viewport);
 * returns its path or null. */
export async function screenshot(page, name, { fullPage = false } = {}) {
  const dir = process.env.E2E_SCREENSHOT_DIR;
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** A failed check: says which step and what was seen. */
export class Failure extends Error {
  constructor(step, message) {
    super(message);
    this.step = step;
  }
}

export function check(step, condition, message) {
  if (!condition) throw new Failure(step, message);
}

export function fail(step, message, extra = {}) {
  process.stdout.write(`${JSON.stringify({ ok: false, step, error: message, ...extra })}\n`);
  process.stderr.write(`FAILED at ${step}: ${message}\n`);
  process.exit(1);
}

/** Runs `body(step)`; prints one JSON line with its result, or the failure and the page's console. */
export async function run(name, body) {
  const log = [];
  let step = 'start';
  const setStep = (s) => { step = s; };
  try {
    const result = await body({ log, setStep });
    process.stdout.write(`${JSON.stringify({ ok: true, script: name, ...result, console: log })}\n`);
    process.exit(0);
  } catch (error) {
    const at = error instanceof Failure ? error.step : step;
    if (log.length) process.stderr.write(`browser console:\n  ${log.join('\n  ')}\n`);
    fail(at, error.message, { script: name, console: log });
  }
}

/**
 * The account a script signs in with: E2E_USER / E2E_PASSWORD from the environment (prefix `E2E_OTHER_` and
 * so on for a second account). Fails the script if either is missing.
 */
export function credentials(prefix = 'E2E') {
  const name = process.env[`${prefix}_USER`];
  const password = process.env[`${prefix}_PASSWORD`];
  if (!name || !password) fail('usage', `set ${prefix}_USER and ${prefix}_PASSWORD to the account to sign in with`);
  return { name, password };
}

/**
 * Signs in through the sign-in page as a person would: the page must already be on /login.html (the server
 * sends every gated page there), or `base` is given to open it. Waits until the browser has left the sign-in
 * page and returns the path it landed on.
 */
export async function signIn(page, { name, password }, base = null) {
  if (base) await page.goto(new URL('/login.html', base).href);
  await page.waitForSelector('body[data-state="ready"] #login-form');
  await page.fill('#name', name);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL((url) => url.pathname !== '/login.html'),
    page.click('#login-submit'),
  ]);
  return new URL(page.url()).pathname;
}

/** Tries to sign in and expects to stay on the sign-in page; returns the error the page shows. */
export async function failSignIn(page, { name, password }) {
  await page.waitForSelector('body[data-state="ready"] #login-form');
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#login-error:not([hidden])');
  return {
    status: await page.getAttribute('#login-error', 'data-status'),
    detail: await page.textContent('#login-error-detail'),
    text: await page.textContent('#login-error'),
  };
}

/** WCAG 2.1 levels A and AA, as axe-core tags them. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let axeSource = null;

/**
 * Runs axe-core (from web/node_modules, injected by the test, never served by the application) on the page as
 * it is now, with the WCAG 2.1 A and AA rules. Returns the serious and critical violations, each with its
 * rule, impact, number of nodes and the first few of them; `counts` has every impact's number of nodes.
 */
export async function audit(page) {
  if (!axeSource) {
    const require = createRequire(webPackage);
    try {
      axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    } catch (error) {
      fail('setup', `axe-core is not installed in web/node_modules (${error.code || error.message}); run \`npm ci --prefix web\``);
    }
  }
  // Evaluated through the DevTools protocol rather than a <script> tag, so the page's own rules do not apply.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  return page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    const counts = {};
    for (const v of result.violations) counts[v.impact] = (counts[v.impact] || 0) + v.nodes.length;
    const severe = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
      rule: v.id,
      impact: v.impact,
      nodes: v.nodes.length,
      first: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ').slice(0, 240)}`),
    }));
    return { severe, counts };
  }, WCAG_TAGS);
}

/**
 * Fails the step when axe-core finds a serious or critical WCAG 2.1 A/AA violation on the page (colour contrast,
 * names of controls, labels, …); returns the audit's counts of nodes per impact.
 */
export async function checkAccessible(step, page, name) {
  const { severe, counts } = await audit(page);
  const nodes = severe.reduce((n, v) => n + v.nodes, 0);
  check(step, severe.length === 0,
    `${name}: ${nodes} nodes with serious or critical WCAG 2.1 A/AA violations: ${JSON.stringify(severe)}`);
  return counts;
}
