// The sign-in page: name and password to POST /api/v1/session, which sets the session cookie; then on to the
// page the user came from (`?next=`, only a path on this site) or the map.
//
// The server's answer is shown as it is: 401 says "name or password is wrong" without saying which (and the
// same for a disabled account), 429 comes with Retry-After, and the button waits that long.

import { ApiError, readResponse, safeNext, fetchSession, h, fill } from './common.js';
import { t, onLangChange } from './i18n.js';
import { boot } from './boot.js';

const $ = (id) => document.getElementById(id);
const target = safeNext(new URLSearchParams(location.search).get('next') || '/');

const state = {
  error: null, // {status, detail}
  retryUntil: 0, // ms since epoch; the button waits until then after a 429
  sending: false,
  signedIn: null, // the user, if this browser is signed in already
};
let countdown = null;

// No session to wait for here: boot() only sets the language up.
boot({ page: null, title: 'login.title', main: start });

function start() {
  onLangChange(render);
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn();
  });
  $('password-toggle').addEventListener('click', () => {
    const input = $('password');
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    $('password-toggle').setAttribute('aria-pressed', String(show));
    render();
  });
  render();
  $('name').focus();
  document.body.dataset.state = 'ready';

  // Already signed in (a bookmark of this page, or the back button): offer to carry on instead.
  fetchSession().then((s) => {
    if (s) {
      state.signedIn = s.user;
      render();
    }
  }).catch(() => {});
}

async function signIn() {
  if (state.sending || Date.now() < state.retryUntil) return;
  const name = $('name').value.trim().toLowerCase();
  const password = $('password').value;
  $('name').value = name;
  if (!name || !password) {
    state.error = { status: 0, detail: t('login.missing') };
    render();
    (name ? $('password') : $('name')).focus();
    return;
  }
  state.sending = true;
  state.error = null;
  render();
  try {
    const response = await fetch('/api/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ name, password }),
    });
    if (response.status === 429) {
      const seconds = retryAfterSeconds(response.headers.get('retry-after'));
      state.retryUntil = Date.now() + seconds * 1000;
      startCountdown();
    }
    await readResponse(response);
    document.body.dataset.state = 'signed-in';
    location.replace(target);
    return;
  } catch (error) {
    state.error = error instanceof ApiError
      ? { status: error.status, detail: error.detail }
      : { status: 0, detail: t('common.networkError') };
    $('password').value = '';
    $('password').focus();
  } finally {
    state.sending = false;
    render();
  }
}

/** Retry-After in seconds (RFC 9110 §10.2.3: a number of seconds or an HTTP date); 60 if unreadable. */
function retryAfterSeconds(value) {
  if (value && /^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value || '');
  if (!Number.isNaN(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  return 60;
}

function startCountdown() {
  clearInterval(countdown);
  countdown = setInterval(() => {
    if (Date.now() >= state.retryUntil) {
      clearInterval(countdown);
      countdown = null;
    }
    render();
  }, 1000);
}

function render() {
  const waitS = Math.max(0, Math.ceil((state.retryUntil - Date.now()) / 1000));
  const error = $('login-error');
  error.hidden = !state.error;
  error.dataset.status = state.error ? String(state.error.status) : '';
  if (state.error) {
    fill(error,
      h('strong', {}, state.error.status === 429 ? t('login.throttled') : t('login.failed')),
      h('span', { class: 'login-error-detail', id: 'login-error-detail' }, state.error.detail),
      waitS > 0 ? h('span', { class: 'login-wait', id: 'login-wait', dataset: { seconds: String(waitS) } }, t('login.wait', { s: waitS })) : null);
  }
  const button = $('login-submit');
  button.disabled = state.sending || waitS > 0;
  button.textContent = state.sending ? t('login.sending') : waitS > 0 ? t('login.waitButton', { s: waitS }) : t('login.submit');
  $('password-toggle').textContent = $('password').type === 'password' ? t('login.show') : t('login.hide');

  const signedIn = $('signed-in');
  signedIn.hidden = !state.signedIn;
  if (state.signedIn) {
    fill(signedIn,
      t('login.already', { name: state.signedIn.display_name }), ' ',
      h('a', { href: target, id: 'continue' }, t('login.continue')));
  }
}
