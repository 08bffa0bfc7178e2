// SPDX-License-Identifier: Apache-2.0
//
// Cross-origin fetch from a real browser: a page served by a second origin
// that PW_CORS_ORIGINS lists registers, logs in and reads /users/me with
// fetch, through Chromium's own CORS preflight and response checks.  A page
// from an origin that the list lacks is blocked by the browser.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launchBrowser, startOrigin, openPage, startServer, stopServer } =
  require('./lib/browser');

let server;
let browser;
let allowed;
let other;

before(async () => {
  allowed = await startOrigin();
  other = await startOrigin();
  // The users service alone: these routes need no vision models.
  server = await startServer({
    extraArgs: ['--service', 'users'],
    env: { PW_CORS_ORIGINS: allowed.origin },
  });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (allowed) await allowed.close();
  if (other) await other.close();
  if (server) await stopServer(server);
});

// The server's count of handled requests for route, method and status,
// from /metrics.  Preflights never reach the page's scripts, so this is
// how a test sees that the browser sent them.
async function requestCount(route, method, status) {
  const res = await server.get('/metrics');
  assert.equal(res.status, 200, res.text);
  const line = `http_requests_total{route="${route}",method="${method}",` +
               `status="${status}"} `;
  const found = res.text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length)) : 0;
}

// Runs in the page: register, log in and read /users/me with fetch, the way
// the exam page will.  Returns what a script of that origin can see.
async function signUpInPage({ api, email, password }) {
  const json = { 'Content-Type': 'application/json' };
  const register = await fetch(`${api}/users/register`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password, full_name: 'Zoé Browser' }),
  });
  const login = await fetch(`${api}/users/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  const { access_token: token } = await login.json();
  const me = await fetch(`${api}/users/me`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return {
    registerStatus: register.status,
    loginStatus: login.status,
    meStatus: me.status,
    me: await me.json(),
    requestId: me.headers.get('X-Request-Id'),
  };
}

// Runs in the page: a fetch that CORS blocks rejects with a TypeError
// without showing the response.
async function fetchOutcome({ url, init }) {
  try {
    const res = await fetch(url, init);
    return { status: res.status };
  } catch (err) {
    return { error: err.name };
  }
}

test('allowed origin registers, logs in, reads /users/me', async () => {
  const page = await openPage(browser, allowed.origin);

  const seen = await page.evaluate(signUpInPage, {
    api: server.url,
    email: 'zoe@example.org',
    password: 'tulip-Harbor-42',
  });

  assert.equal(seen.registerStatus, 201, page.consoleErrors.join('\n'));
  assert.equal(seen.loginStatus, 200);
  assert.equal(seen.meStatus, 200);
  assert.equal(seen.me.email, 'zoe@example.org');
  assert.equal(seen.me.full_name, 'Zoé Browser');
  assert.equal(seen.me.role, 'student');
  // Readable only because Access-Control-Expose-Headers names it.
  assert.match(seen.requestId || '', /^[0-9A-Z]{26}$/);
  assert.deepEqual(page.consoleErrors, []);
  await page.close();

  // Chromium sent its own preflights (JSON body, Authorization header) and
  // the server allowed them.
  assert.equal(await requestCount('/users/register', 'OPTIONS', 204), 1);
  assert.equal(await requestCount('/users/me', 'OPTIONS', 204), 1);
});

test('unlisted origin is blocked by the browser', async () => {
  const page = await openPage(browser, other.origin);

  // JSON needs a preflight, which the server rejects with 403.
  const posted = await page.evaluate(fetchOutcome, {
    url: `${server.url}/users/register`,
    init: {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'eve@example.org',
                             password: 'tulip-Harbor-42',
                             full_name: 'Eve' }),
    },
  });
  assert.deepEqual(posted, { error: 'TypeError' });
  assert.equal(await requestCount('/users/register', 'OPTIONS', 403), 1);

  // A simple GET goes out without a preflight, and the browser hides the
  // response because it lacks Access-Control-Allow-Origin.
  const read = await page.evaluate(fetchOutcome, {
    url: `${server.url}/healthz`,
    init: {},
  });
  assert.deepEqual(read, { error: 'TypeError' });

  assert.ok(page.consoleErrors.some((e) => /CORS policy/.test(e)),
            page.consoleErrors.join('\n'));
  await page.close();

  // The rejected preflight stopped the registration itself.
  const login = await server.post('/users/login',
    { email: 'eve@example.org', password: 'tulip-Harbor-42' });
  assert.equal(login.status, 401, login.text);
});
