// The admin page in a real browser, and the sign-in page around it:
//  1. /admin.html without a session leads to the sign-in page and back after signing in as an admin;
//  2. the form explains a short password itself and shows the server's detail for a name that is taken;
//  3. a user created through the form appears in the list; disabled, they cannot sign in and the sign-in
//     page shows "name or password is wrong"; a password reset through the dialog and enabling them again
//     lets them sign in with the new password;
//  4. "My API tokens": a token is shown once, copies to the clipboard, works as a Bearer token, is listed by
//     its first characters and, revoked, stops working;
//  4b. "Open311 接入密钥": a client key is shown once, posts a request over Open311, is listed by its first
//     characters and, revoked, is refused (403);
//  5. the sign-in page shows a 429 with its Retry-After wait (the answer is faked in the browser: the
//     server's threshold is its own business), and never follows `next` off the site;
//  6. a signed-in non-admin is sent away from /admin.html, sees no link to it, and the users API answers 403;
//     on "My account" they change their own password (a wrong current one is refused in Chinese); without
//     the inspector role, the survey page says so and offers no submit button.
//
// axe-core finds no serious or critical WCAG 2.1 A/AA violation on the admin page nor on the account page.
//
//   E2E_USER=<admin> E2E_PASSWORD=<password> E2E_OTHER_USER=<non-admin> E2E_OTHER_PASSWORD=<password> \
//     node tests/e2e/admin.mjs <base-url> [<organisation name for the new user>]
//
// E2E_USER is an admin; E2E_OTHER_USER has neither the admin nor the inspector role (a leader, say). The
// script creates the user `zhao.lei`, which must not exist yet.
//
// Prints one JSON line ({"ok": true, "created": {...}, ...} or {"ok": false, "step", "error"}) and exits
// non-zero on failure. The Rust test (tests/it/browser.rs) checks the database afterwards.

import { launch, watchConsole, screenshot, check, run, fail, credentials, signIn, failSignIn, checkAccessible } from './lib.mjs';

const [base, organisationName] = process.argv.slice(2);
if (!base) fail('usage', 'usage: E2E_USER=… E2E_PASSWORD=… E2E_OTHER_USER=… E2E_OTHER_PASSWORD=… node tests/e2e/admin.mjs <base-url> [<organisation>]');
const admin = credentials('E2E');
const other = credentials('E2E_OTHER');

/** The non-admin's own new password, set on the account page. */
const OTHER_NEW_PASSWORD = 'Hui-tou-kan 2026 relapse';
const NEW_USER = { name: 'zhao.lei', display_name: '赵磊', roles: ['inspector', 'town_officer'], password: 'Qiao-lu-2026-first' };
const NEW_PASSWORD = 'Huang-tu-2026-reset';
const TIMEOUT_MS = 30_000;

await run('admin', async ({ log, setStep }) => {
  const browser = await launch();
  const newContext = async (options = {}) => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...options,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    watchConsole(page, log);
    return { context, page };
  };
  try {
    const { page } = await newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const row = (name) => page.locator(`#user-table tr[data-name="${name}"]`);
    const flash = async () => (await page.textContent('#admin-flash')).trim();

    setStep('sign in');
    await page.goto(new URL('/admin.html', base).href);
    const loginUrl = new URL(page.url());
    check('sign in', loginUrl.pathname === '/login.html' && loginUrl.searchParams.get('next') === '/admin.html',
      `without a session /admin.html should lead to /login.html?next=/admin.html, it is at ${page.url()}`);
    const landed = await signIn(page, admin);
    check('sign in', landed === '/admin.html', `after signing in the admin is at ${landed}`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForSelector('#user-table');
    check('sign in', await page.getAttribute('#topnav a[aria-current="page"]', 'href') === '/admin.html', 'the bar should mark 用户管理 as the current page');
    const me = await row(admin.name).count();
    check('sign in', me === 1, `the admin's own account ${admin.name} is not listed`);
    check('sign in', await row(admin.name).locator('[data-action="disable"]').isDisabled(), 'an admin must not be offered to disable themselves');
    const usersBefore = await page.locator('#user-table tbody tr').count();
    const organisations = await page.$$eval('#new-organisation option', (os) => os.filter((o) => o.value).map((o) => ({ id: o.value, name: o.textContent })));
    check('sign in', organisations.length > 0, 'the organisation list is empty');
    const organisation = organisationName ? organisations.find((o) => o.name === organisationName) : organisations[0];
    check('sign in', organisation, `no organisation named ${organisationName} among ${organisations.map((o) => o.name)}`);
    // WCAG 2.1 A/AA with axe-core: no serious or critical violation on the admin and account pages.
    const accessibility = { admin: await checkAccessible('sign in', page, 'the admin page') };

    const fillForm = async (user) => {
      await page.fill('#new-name', user.name);
      await page.fill('#new-display-name', user.display_name);
      await page.selectOption('#new-organisation', organisation.id);
      for (const box of await page.$$('#new-roles input')) {
        const want = user.roles.includes(await box.getAttribute('value'));
        if ((await box.isChecked()) !== want) await box.click();
      }
      await page.fill('#new-password', user.password);
    };

    setStep('create: refused');
    await page.click('#open-create');
    await page.waitForSelector('#create-dialog[open]');
    await fillForm({ ...NEW_USER, password: 'short' });
    await page.click('#create-submit');
    await page.waitForSelector('#create-error:not([hidden])');
    const shortError = await page.textContent('#create-error');
    check('create: refused', shortError.includes('密码至少 10 个字符'), `a short password is explained as: ${shortError}`);
    await fillForm({ ...NEW_USER, name: admin.name });
    const [taken] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/users'),
      page.click('#create-submit'),
    ]);
    check('create: refused', taken.status() === 409, `creating a user named ${admin.name} again answered ${taken.status()}`);
    const takenDetail = (await taken.json()).detail;
    await page.waitForFunction((d) => document.getElementById('create-error').textContent === d, takenDetail);
    check('create: refused', await page.locator('#user-table tbody tr').count() === usersBefore, 'a refused user was listed');

    setStep('create');
    await fillForm(NEW_USER);
    const [createdResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/users'),
      page.click('#create-submit'),
    ]);
    check('create', createdResponse.status() === 201, `creating ${NEW_USER.name} answered ${createdResponse.status()}: ${await createdResponse.text()}`);
    const created = await createdResponse.json();
    await row(NEW_USER.name).waitFor();
    const cells = await row(NEW_USER.name).locator('td').allTextContents();
    check('create', cells[1] === NEW_USER.display_name, `the new row shows the name ${cells[1]}`);
    check('create', cells[2] === organisation.name, `the new row shows the organisation ${cells[2]}`);
    const roleChips = await row(NEW_USER.name).locator('.chip').allTextContents();
    check('create', roleChips.join() === '巡查员,区镇交安办', `the new row shows the roles ${roleChips}`);
    check('create', await row(NEW_USER.name).getAttribute('data-state') === 'active', 'the new user should be active');
    check('create', cells[5] === '从未登录', `the new user's last sign-in reads ${cells[5]}`);
    check('create', (await flash()).includes(NEW_USER.display_name), `the page says ${await flash()}`);
    check('create', !(await page.isVisible('#create-dialog')), 'the dialog should close once the user is created');
    check('create', await page.inputValue('#new-name') === '', 'the form should be cleared after creating a user');
    const shotCreated = await screenshot(page, 'admin', { fullPage: true });
    await page.click('#open-create');
    await page.fill('#new-name', 'example.name');
    const shotForm = await screenshot(page, 'admin-create-dialog');
    await page.click('#create-cancel');
    await page.waitForSelector('#create-dialog', { state: 'hidden' });

    setStep('disable');
    await row(NEW_USER.name).locator('[data-action="disable"]').click();
    await page.waitForSelector('#disable-dialog');
    const shotDialog = await screenshot(page, 'admin-disable-dialog');
    await page.click('#disable-dialog button[type="submit"]');
    await page.waitForSelector(`#user-table tr[data-name="${NEW_USER.name}"][data-state="disabled"]`);
    const status = (await row(NEW_USER.name).locator('.user-status').textContent()).trim();
    check('disable', status === '已停用', `a disabled user's status reads ${status}`);
    check('disable', await row(NEW_USER.name).locator('[data-action="enable"]').count() === 1, 'a disabled user should be offered "enable"');

    setStep('reset password');
    await row(NEW_USER.name).locator('[data-action="password"]').click();
    await page.waitForSelector('#password-dialog');
    await page.fill('#reset-password', 'short');
    await page.click('#password-dialog button[type="submit"]');
    await page.waitForSelector('#password-dialog .dialog-error:not([hidden])');
    await page.fill('#reset-password', NEW_PASSWORD);
    const [reset] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/users/${created.id}/password`),
      page.click('#password-dialog button[type="submit"]'),
    ]);
    check('reset password', reset.status() === 204, `the password reset answered ${reset.status()}`);
    await page.waitForSelector('#password-dialog', { state: 'detached' });
    check('reset password', (await flash()).includes(NEW_USER.display_name), `after the reset the page says ${await flash()}`);

    setStep('disabled user signs in');
    const disabled = await newContext();
    await disabled.page.goto(new URL('/login.html', base).href);
    const refusedSignIn = await failSignIn(disabled.page, { name: NEW_USER.name, password: NEW_PASSWORD });
    check('disabled user signs in', refusedSignIn.status === '401', `a disabled user's sign-in answered ${refusedSignIn.status}`);
    check('disabled user signs in', refusedSignIn.detail === 'name or password is wrong', `the sign-in page shows: ${refusedSignIn.text}`);
    check('disabled user signs in', new URL(disabled.page.url()).pathname === '/login.html', 'a refused sign-in left the sign-in page');
    check('disabled user signs in', await disabled.page.inputValue('#password') === '', 'the password should be cleared after a refusal');
    const shotRefused = await screenshot(disabled.page, 'login-refused');

    setStep('throttled');
    await disabled.page.route('**/api/v1/session', (route) => (route.request().method() === 'POST'
      ? route.fulfill({
        status: 429,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '30' },
        body: JSON.stringify({ status: 429, title: 'Too Many Requests', detail: 'too many failed sign-ins; try again later' }),
      })
      : route.continue()));
    const throttled = await failSignIn(disabled.page, { name: NEW_USER.name, password: 'whatever-it-is' });
    check('throttled', throttled.status === '429', `the faked 429 is shown as ${throttled.status}`);
    check('throttled', throttled.detail === 'too many failed sign-ins; try again later', `the 429 detail reads ${throttled.detail}`);
    const wait = Number(await disabled.page.getAttribute('#login-wait', 'data-seconds'));
    check('throttled', wait > 25 && wait <= 30, `the page waits ${wait} s after Retry-After: 30`);
    check('throttled', await disabled.page.isDisabled('#login-submit'), 'the button must wait out Retry-After');
    const shotThrottled = await screenshot(disabled.page, 'login-throttled');
    await disabled.context.close();

    setStep('enable');
    await row(NEW_USER.name).locator('[data-action="enable"]').click();
    await page.waitForSelector(`#user-table tr[data-name="${NEW_USER.name}"][data-state="active"]`);
    const enabled = await newContext();
    const enabledLanded = await signIn(enabled.page, { name: NEW_USER.name, password: NEW_PASSWORD }, base);
    check('enable', enabledLanded === '/', `once enabled, ${NEW_USER.name} signs in with the new password and lands on ${enabledLanded}`);
    await enabled.context.close();

    setStep('tokens');
    await page.fill('#token-name', '对接脚本');
    await page.click('#token-create');
    await page.waitForSelector('#token-value');
    const token = await page.inputValue('#token-value');
    const once = await page.textContent('#token-created');
    check('tokens', once.includes('只显示这一次'), `the new token should come with a warning: ${once}`);
    await page.click('#token-copy');
    await page.waitForFunction(() => document.getElementById('token-copy').textContent === '已复制');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check('tokens', copied === token, 'the copy button should put the token on the clipboard');
    const tokenRow = page.locator('#token-table tbody tr').first();
    const prefix = (await tokenRow.locator('.token-prefix').textContent()).replace(/…$/, '');
    check('tokens', token.startsWith(prefix) && prefix.length < token.length, `the list shows "${prefix}" for the token`);
    const shotToken = await screenshot(page, 'admin-token');
    const asBearer = () => fetch(new URL('/api/v1/settings', base), { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    const bearerBefore = await asBearer();
    check('tokens', bearerBefore === 200, `a request with the new token answered ${bearerBefore}`);
    await page.click('#token-dismiss');
    check('tokens', await page.locator('#token-value').count() === 0, 'the token must be gone once dismissed');
    await tokenRow.locator('button').click();
    await page.click('#token-revoke-dialog button[type="submit"]');
    await page.waitForSelector('#token-table tbody tr[data-state="revoked"]');
    const bearerAfter = await asBearer();
    check('tokens', bearerAfter === 401, `a request with the revoked token answered ${bearerAfter}`);

    setStep('open311');
    await page.fill('#open311-name', '城市服务平台');
    await page.click('#open311-issue');
    await page.waitForSelector('#open311-key');
    const key = await page.inputValue('#open311-key');
    const issuedText = await page.textContent('#open311-issued');
    check('open311', key.startsWith('o311_') && issuedText.includes('只显示这一次'), `the new key should come with a warning: ${issuedText}`);
    const post311 = () => fetch(new URL('/open311/v2/requests.json', base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ api_key: key, service_code: 'pavement', lat: '31.87', long: '120.55', description: '管理页签发的密钥' }),
    }).then((r) => r.status);
    const postedBefore = await post311();
    check('open311', postedBefore === 201, `a request posted with the new key answered ${postedBefore}`);
    const clientRow = page.locator('#open311-table tbody tr').first();
    const keyPrefix = (await clientRow.locator('code').textContent()).replace(/…$/, '');
    check('open311', key.startsWith(keyPrefix) && keyPrefix.length < key.length, `the list shows "${keyPrefix}" for the key`);
    await page.click('#open311-dismiss');
    check('open311', await page.locator('#open311-key').count() === 0, 'the key must be gone once dismissed');
    check('open311', !(await page.content()).includes(key), 'the key must not stay anywhere in the page');
    await clientRow.locator('button').click();
    await page.click('#open311-revoke-dialog button[type="submit"]');
    await page.waitForSelector('#open311-table tbody tr[data-state="revoked"]');
    const postedAfter = await post311();
    check('open311', postedAfter === 403, `a request posted with the revoked key answered ${postedAfter}`);

    setStep('non-admin');
    const plain = await newContext();
    // `next` pointing off the site is ignored: the sign-in page goes to the map instead.
    await plain.page.goto(new URL('/login.html?next=//evil.example/steal', base).href);
    const plainLanded = await signIn(plain.page, other);
    check('non-admin', plainLanded === '/' && new URL(plain.page.url()).host === new URL(base).host,
      `with next=//evil.example the browser went to ${plain.page.url()}`);
    await plain.page.goto(new URL('/admin.html', base).href);
    const away = new URL(plain.page.url()).pathname;
    check('non-admin', away === '/', `a non-admin opening /admin.html should be sent to /, is at ${away}`);
    await plain.page.waitForSelector('#topnav a[href="/"]');
    await plain.page.waitForSelector('#user-display-name');
    const plainLinks = await plain.page.$$eval('#topnav a', (as) => as.map((a) => a.getAttribute('href')));
    check('non-admin', !plainLinks.includes('/admin.html'), `a non-admin's bar links to ${plainLinks}`);
    const usersApi = await plain.page.request.get(new URL('/api/v1/users', base).href);
    check('non-admin', usersApi.status() === 403, `GET /api/v1/users as a non-admin answered ${usersApi.status()}`);
    await plain.page.goto(new URL('/account.html', base).href);
    await plain.page.waitForSelector('body[data-state="ready"]');
    const accountName = await plain.page.textContent('#account-display-name');
    accessibility.account = await checkAccessible('non-admin', plain.page, 'the account page');
    // They change their own password there: a wrong current password is said in Chinese, then it works.
    await plain.page.fill('#current-password', 'not-my-password');
    await plain.page.fill('#new-password', OTHER_NEW_PASSWORD);
    await plain.page.fill('#confirm-password', OTHER_NEW_PASSWORD);
    await plain.page.click('#password-submit');
    await plain.page.waitForSelector('#password-status[data-state="error"]');
    const wrongCurrent = (await plain.page.textContent('#password-status')).trim();
    check('non-admin', wrongCurrent === '当前密码不正确。', `a wrong current password is answered: ${wrongCurrent}`);
    await plain.page.fill('#current-password', other.password);
    await plain.page.click('#password-submit');
    await plain.page.waitForSelector('#password-status[data-state="ok"]');
    check('non-admin', await plain.page.inputValue('#new-password') === '', 'the form keeps the new password after the change');
    // Without the inspector role the survey page opens but says why it cannot submit.
    await plain.page.goto(new URL('/inspect.html', base).href);
    await plain.page.waitForSelector('body[data-state="ready"] #not-inspector');
    check('non-admin', await plain.page.isDisabled('#submit'), 'a non-inspector should not be offered to submit');
    await plain.context.close();

    const errors = log.filter((l) => l.startsWith('pageerror') || l.startsWith('http 5'));
    check('console', errors.length === 0, `the pages reported errors: ${errors.join('; ')}`);

    return {
      created: { id: created.id, name: created.name, display_name: created.display_name, roles: created.roles, organisation: organisation.name },
      new_password: NEW_PASSWORD,
      taken_detail: takenDetail,
      refused_sign_in: refusedSignIn.detail,
      throttled_wait_s: wait,
      token_prefix: prefix,
      open311_key_prefix: keyPrefix,
      non_admin: { landed: plainLanded, admin_page: away, users_api: usersApi.status(), account: accountName },
      other_new_password: OTHER_NEW_PASSWORD,
      accessibility,
      screenshots: [shotCreated, shotForm, shotDialog, shotRefused, shotThrottled, shotToken].filter(Boolean),
    };
  } finally {
    await browser.close();
  }
});
