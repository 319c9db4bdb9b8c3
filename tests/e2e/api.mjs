// The API reference page (api.html) in a real browser, without signing in: it reads the server's OpenAPI
// document and shows every operation once, with who may call it, and every schema; the language switch
// redraws it in English.
//
//   node tests/e2e/api.mjs <base-url>
//
// Prints one JSON line ({"ok": true, ...} or {"ok": false, "step", "error"}) and exits non-zero on failure.
// The Rust test (tests/it/browser.rs, api_page_shows_every_operation) compares the counts with the document.

import { launch, watchConsole, screenshot, check, run, fail } from './lib.mjs';

const [base] = process.argv.slice(2);
if (!base) fail('usage', 'usage: node tests/e2e/api.mjs <base-url>');

await run('api', async ({ log, setStep }) => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    watchConsole(page, log);

    setStep('open');
    await page.goto(`${base}/api.html`);
    check('open', new URL(page.url()).pathname === '/api.html', `sent to ${page.url()} instead of the page`);
    await page.waitForSelector('body[data-state="ready"]');
    const title = await page.title();
    check('open', title.startsWith('接口文档'), `title ${title}`);

    setStep('operations');
    const operations = await page.$$eval('.api-op', (ops) => ops.map((op) => `${op.dataset.method} ${op.dataset.path}`));
    const show = page.locator('.api-op[data-method="GET"][data-path="/sites/{id}"]');
    const showText = await show.innerText();
    check('operations', showText.includes('/api/v1/sites/{id}') && showText.includes('SiteDetail'), showText);
    const login = await page.locator('.api-op[data-method="POST"][data-path="/session"] .api-security').innerText();
    check('operations', login === '公开，无需登录', `sign-in is shown as ${login}`);
    const act = await page.locator('.api-op[data-method="POST"][data-path="/sites/{id}/actions"] .api-security').innerText();
    check('operations', act === 'API 令牌（Bearer），或 登录会话 Cookie + X-CSRF-Token 请求头', `actions are shown as ${act}`);

    setStep('schemas');
    const schemas = await page.$$eval('.api-schema', (s) => s.map((x) => x.id.replace('schema-', '')));
    check('schemas', schemas.includes('SiteDetail') && schemas.includes('ActionRequest') && schemas.includes('Problem'), schemas.join(', '));
    await page.click('.api-op[data-path="/sites/{id}"] a.api-ref');
    check('schemas', new URL(page.url()).hash === '#schema-SiteDetail', `the link went to ${page.url()}`);
    await screenshot(page, 'api', { fullPage: false });

    setStep('english');
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.title.startsWith('API reference'));
    const heading = await page.locator('h1').innerText();
    check('english', heading === 'API reference', `heading ${heading}`);
    const loginEn = await page.locator('.api-op[data-method="POST"][data-path="/session"] .api-security').innerText();
    check('english', loginEn === 'public, no sign-in', `sign-in is shown as ${loginEn}`);
    const again = await page.$$eval('.api-op', (ops) => ops.length);
    check('english', again === operations.length, `${again} operations after the switch, ${operations.length} before`);

    check('console', log.length === 0, `the page logged: ${log.join('; ')}`);
    return { operations, schemas };
  } finally {
    await browser.close();
  }
});
