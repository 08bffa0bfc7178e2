// SPDX-License-Identifier: Apache-2.0
//
// The /users API against the real binary: registration and its checks,
// login and its limits, the bearer token (including forged ones), who may
// call which route, listing with a cursor and role changes.  The first
// admin is created with `proctorwise user add`, as an operator would.
'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { startServer } = require('./lib/server');

const SECRET = 'api-test-secret-0123456789abcdef-0123456789';
const PASSWORD = 'tulip-Harbor-42';
const MAX_ATTEMPTS = 3;
const WINDOW_S = 600;

let server;
let admin;       // {token, user}
let emailCount = 0;

// A fresh address per call, so tests do not depend on each other.
function newEmail(tag = 'user') {
  emailCount += 1;
  return `${tag}${emailCount}@example.org`;
}

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.error.code, code, res.text);
  assert.equal(typeof res.body.error.message, 'string');
}

before(async () => {
  server = await startServer({
    env: {
      PW_JWT_SECRET: SECRET,
      PW_LOGIN_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      PW_LOGIN_MAX_ATTEMPTS_PER_IP: '1000',
      PW_LOGIN_WINDOW: String(WINDOW_S),
    },
  });
  await server.addUser({ email: 'root@example.org', password: PASSWORD,
                         role: 'admin', fullName: 'Root Admin' });
  admin = await server.login('root@example.org', PASSWORD);
});

after(async () => {
  if (server) await server.stop();
});

describe('POST /users/register', () => {
  test('creates a student with a normalised email', async () => {
    const res = await server.post('/users/register', {
      email: '  Zoe.Martin@Example.ORG ', password: PASSWORD,
      full_name: ' Zoé Martin ',
    });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(res.body.email, 'zoe.martin@example.org');
    assert.equal(res.body.full_name, 'Zoé Martin');
    assert.equal(res.body.role, 'student');
    assert.match(res.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(Object.keys(res.body).sort(),
                     ['created_at', 'email', 'full_name', 'id', 'role']);
  });

  test('rejects a taken email with 409 email_taken', async () => {
    const email = newEmail();
    await server.register({ email, password: PASSWORD });
    const res = await server.post('/users/register', {
      email: email.toUpperCase(), password: PASSWORD, full_name: 'Again',
    });
    assertError(res, 409, 'email_taken');
  });

  const invalid = [
    ['email without @', { email: 'zoe.example.org' }, 'email'],
    ['email with a space', { email: 'zo e@example.org' }, 'email'],
    ['email not a string', { email: 42 }, 'email'],
    ['missing email', { email: undefined }, 'email'],
    ['short password', { password: 'Ab1!short' }, 'password'],
    ['password equal to email', { email: 'jean.dupont@example.org',
      password: 'jean.dupont@example.org' }, 'password'],
    ['single-class password', { password: '1234509876' }, 'password'],
    ['missing password', { password: undefined }, 'password'],
    ['empty full_name', { full_name: '   ' }, 'full_name'],
    ['full_name over 200 characters', { full_name: 'é'.repeat(201) }, 'full_name'],
    ['full_name with a control character', { full_name: 'Zoe\u0007' }, 'full_name'],
    ['unknown field', { role: 'admin' }, 'role'],
  ];
  for (const [name, override, field] of invalid) {
    test(`answers 422 naming ${field} for ${name}`, async () => {
      const body = { email: newEmail(), password: PASSWORD, full_name: 'Zoe',
                     ...override };
      const res = await server.post('/users/register', body);
      assertError(res, 422, 'validation_failed');
      assert.equal(res.body.error.details.field, field, res.text);
    });
  }

  test('answers 400 for malformed JSON', async () => {
    const res = await server.request('POST', '/users/register', {
      body: '{"email": "a@example.org", ', headers: { 'Content-Type': 'application/json' },
    });
    assertError(res, 400, 'invalid_json');
  });

  test('answers 400 for an empty body', async () => {
    const res = await server.request('POST', '/users/register', {
      body: '', headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 400, res.text);
  });

  test('answers 415 for another content type', async () => {
    const res = await server.request('POST', '/users/register', {
      body: JSON.stringify({ email: newEmail(), password: PASSWORD, full_name: 'Z' }),
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(res.status, 415, res.text);
  });

  const oversized = JSON.stringify({
    email: 'big@example.org', password: PASSWORD, full_name: 'x'.repeat(20000),
  });

  test('answers 413 for a body over the limit with Content-Length', async () => {
    const res = await server.request('POST', '/users/register', {
      body: oversized, headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 413, res.text);
  });

  test('answers 413 for a chunked body over the limit', async () => {
    const res = await server.request('POST', '/users/register', {
      body: oversized, chunked: true,
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 413, res.text);
  });
});

describe('POST /users/login', () => {
  test('returns a bearer token and the user', async () => {
    const email = newEmail();
    const user = await server.register({ email, password: PASSWORD });
    const res = await server.post('/users/login', { email, password: PASSWORD });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.token_type, 'bearer');
    assert.equal(typeof res.body.access_token, 'string');
    assert.ok(Number.isInteger(res.body.expires_in), res.text);
    assert.ok(res.body.expires_in > 0, res.text);
    assert.deepEqual(res.body.user, user);
  });

  test('answers wrong password and unknown email with the same 401', async () => {
    const email = newEmail();
    await server.register({ email, password: PASSWORD });
    const wrong = await server.post('/users/login', { email, password: 'tulip-Harbor-43' });
    const unknown = await server.post('/users/login', {
      email: newEmail('nobody'), password: PASSWORD,
    });
    assertError(wrong, 401, 'invalid_credentials');
    assertError(unknown, 401, 'invalid_credentials');
    assert.deepEqual(wrong.body, unknown.body);
  });

  test('answers 422 for a missing password', async () => {
    const res = await server.post('/users/login', { email: newEmail() });
    assertError(res, 422, 'validation_failed');
    assert.equal(res.body.error.details.field, 'password');
  });

  test('limits failed attempts per account with 429 and Retry-After', async () => {
    const email = newEmail();
    await server.register({ email, password: PASSWORD });
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const res = await server.post('/users/login', { email, password: 'wrong-Pass-1' });
      assertError(res, 401, 'invalid_credentials');
    }

    // Even the right password is refused now, without being checked.
    const res = await server.post('/users/login', { email, password: PASSWORD });
    assertError(res, 429, 'rate_limited');
    const retry = Number(res.headers['retry-after']);
    assert.ok(Number.isInteger(retry), `Retry-After: ${res.headers['retry-after']}`);
    assert.ok(retry > 0, `Retry-After: ${retry}`);
    assert.ok(retry <= WINDOW_S, `Retry-After: ${retry}`);

    // Other accounts still log in.
    const other = newEmail();
    await server.register({ email: other, password: PASSWORD });
    await server.login(other, PASSWORD);
  });
});

describe('login limit per client address', () => {
  test('answers 429 once an address used its attempts', async () => {
    const limited = await startServer({
      env: { PW_LOGIN_MAX_ATTEMPTS_PER_IP: '3', PW_LOGIN_WINDOW: '60' },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await limited.post('/users/login', {
          email: `ip${i}@example.org`, password: PASSWORD,
        });
        assertError(res, 401, 'invalid_credentials');
      }
      const res = await limited.post('/users/login', {
        email: 'ip9@example.org', password: PASSWORD,
      });
      assertError(res, 429, 'rate_limited');
      const retry = Number(res.headers['retry-after']);
      assert.ok(retry > 0, `Retry-After: ${res.headers['retry-after']}`);
      assert.ok(retry <= 60, `Retry-After: ${retry}`);
    } finally {
      await limited.stop();
    }
  });
});

function b64url(value) {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  return buf.toString('base64url');
}

// Build a JWT from header and payload, signed with HMAC hash over secret.
function makeToken(header, payload, { secret = SECRET, hash = 'sha256' } = {}) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = crypto.createHmac(hash, secret).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

describe('GET /users/me', () => {
  let student;

  before(async () => {
    student = await server.userWithRole('student', newEmail('me'));
  });

  test('returns the caller', async () => {
    const res = await server.get('/users/me', { token: student.token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, student.user);
  });

  test('answers 401 without a token', async () => {
    const res = await server.get('/users/me');
    assertError(res, 401, 'unauthorized');
  });

  test('accepts a token signed here by the test with the secret', async () => {
    // Shows that makeToken() is right, so each rejection below is the
    // server's doing, not a malformed test token.
    const now = Math.floor(Date.now() / 1000);
    const token = makeToken({ alg: 'HS256', typ: 'JWT' },
      { sub: student.user.id, role: 'student', iat: now, exp: now + 600 });
    const res = await server.get('/users/me', { token });
    assert.equal(res.status, 200, res.text);
  });

  const forged = [
    ['alg none', (claims) => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`],
    ['alg none with a signature', (claims) => {
      const token = makeToken({ alg: 'HS256', typ: 'JWT' }, claims);
      const [, payload, sig] = token.split('.');
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${sig}`;
    }],
    ['HS512 header', (claims) => makeToken({ alg: 'HS512', typ: 'JWT' }, claims,
                                           { hash: 'sha512' })],
    ['RS256 header', (claims) => makeToken({ alg: 'RS256', typ: 'JWT' }, claims)],
    ['missing exp', (claims) => {
      const { exp, ...rest } = claims;
      return makeToken({ alg: 'HS256', typ: 'JWT' }, rest);
    }],
    ['string exp', (claims) => makeToken({ alg: 'HS256', typ: 'JWT' },
                                         { ...claims, exp: String(claims.exp) })],
    ['expired', (claims) => makeToken({ alg: 'HS256', typ: 'JWT' },
                                      { ...claims, exp: claims.iat - 3600 })],
    ['bad signature', (claims) => {
      const token = makeToken({ alg: 'HS256', typ: 'JWT' }, claims);
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      return token.slice(0, -2) + last + token.slice(-1);
    }],
    ['another secret', (claims) => makeToken({ alg: 'HS256', typ: 'JWT' }, claims,
                                             { secret: 'x'.repeat(40) })],
    ['unknown role', (claims) => makeToken({ alg: 'HS256', typ: 'JWT' },
                                           { ...claims, role: 'superuser' })],
    ['garbage', () => 'not-a-token'],
    ['three garbage parts', () => 'abc.def.ghi'],
  ];
  for (const [name, build] of forged) {
    test(`rejects a forged token: ${name}`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: student.user.id, role: 'admin', iat: now - 10,
                       exp: now + 600 };
      const res = await server.get('/users/me', { token: build(claims) });
      assertError(res, 401, 'unauthorized');
    });
  }
});

describe('authorisation matrix', () => {
  const callers = {};
  let target;

  before(async () => {
    callers.student = await server.userWithRole('student', newEmail('student'));
    callers.proctor = await server.userWithRole('proctor', newEmail('proctor'));
    callers.admin = await server.userWithRole('admin', newEmail('admin'));
    target = await server.register({ email: newEmail('target'), password: PASSWORD });
  });

  // Each route, and the status each caller gets (anonymous has no token).
  const routes = [
    {
      name: 'GET /users/me',
      send: (token) => server.get('/users/me', { token }),
      expect: { anonymous: 401, student: 200, proctor: 200, admin: 200 },
    },
    {
      name: 'GET /users',
      send: (token) => server.get('/users', { token }),
      expect: { anonymous: 401, student: 403, proctor: 403, admin: 200 },
    },
    {
      name: 'GET /users/{user_id} of another user',
      send: (token) => server.get(`/users/${target.id}`, { token }),
      expect: { anonymous: 401, student: 403, proctor: 403, admin: 200 },
    },
    {
      name: 'GET /users/{user_id} of oneself',
      send: (token, who) => server.get(`/users/${callers[who] ? callers[who].user.id : target.id}`,
                                       { token }),
      expect: { anonymous: 401, student: 200, proctor: 200, admin: 200 },
    },
    {
      name: 'PATCH /users/{user_id}/role',
      send: (token) => server.patch(`/users/${target.id}/role`, { role: 'student' }, { token }),
      expect: { anonymous: 401, student: 403, proctor: 403, admin: 200 },
    },
    {
      name: 'POST /users/register',
      send: (token) => server.post('/users/register',
        { email: newEmail('matrix'), password: PASSWORD, full_name: 'M' }, { token }),
      expect: { anonymous: 201, student: 201, proctor: 201, admin: 201 },
    },
    {
      name: 'POST /users/login',
      send: (token) => server.post('/users/login',
        { email: target.email, password: PASSWORD }, { token }),
      expect: { anonymous: 200, student: 200, proctor: 200, admin: 200 },
    },
  ];

  for (const route of routes) {
    for (const who of ['anonymous', 'student', 'proctor', 'admin']) {
      test(`${route.name} as ${who} answers ${route.expect[who]}`, async () => {
        const token = who === 'anonymous' ? undefined : callers[who].token;
        const res = await route.send(token, who);
        assert.equal(res.status, route.expect[who], res.text);
      });
    }
  }
});

describe('GET /users/{user_id}', () => {
  test('answers 404 to an admin for an unknown or malformed id', async () => {
    for (const id of ['01HZZZZZZZZZZZZZZZZZZZZZZZ', 'not-an-id']) {
      const res = await server.get(`/users/${id}`, { token: admin.token });
      assertError(res, 404, 'not_found');
    }
  });
});

describe('GET /users', () => {
  test('pages through every user with next_cursor', async () => {
    for (let i = 0; i < 3; i++) {
      await server.register({ email: newEmail('page'), password: PASSWORD });
    }
    const all = await server.get('/users?limit=100', { token: admin.token });
    assert.equal(all.status, 200, all.text);

    const seen = [];
    let cursor = null;
    for (let pages = 0; pages < 100; pages++) {
      const query = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const res = await server.get(`/users${query}`, { token: admin.token });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.items.length <= 2);
      seen.push(...res.body.items.map((u) => u.id));
      cursor = res.body.next_cursor;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, all.body.items.map((u) => u.id));
    assert.deepEqual([...seen].sort(), seen);
    assert.ok(!all.body.items.some((u) => 'password_hash' in u));
  });

  const badQueries = [
    ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'],
    ['limit=-1', 'limit'], ['cursor=bogus', 'cursor'],
  ];
  for (const [query, field] of badQueries) {
    test(`answers 422 naming ${field} for ?${query}`, async () => {
      const res = await server.get(`/users?${query}`, { token: admin.token });
      assertError(res, 422, 'validation_failed');
      assert.equal(res.body.error.details.field, field);
    });
  }
});

describe('PATCH /users/{user_id}/role', () => {
  test('lets an admin promote a student, effective at the next login', async () => {
    const email = newEmail('promoted');
    const user = await server.register({ email, password: PASSWORD });
    const res = await server.patch(`/users/${user.id}/role`, { role: 'proctor' },
                                   { token: admin.token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.role, 'proctor');
    assert.equal(res.body.id, user.id);

    const { user: after } = await server.login(email, PASSWORD);
    assert.equal(after.role, 'proctor');
  });

  test('answers 422 for an unknown role', async () => {
    const user = await server.register({ email: newEmail(), password: PASSWORD });
    for (const role of ['superuser', 'Admin', 7]) {
      const res = await server.patch(`/users/${user.id}/role`, { role },
                                     { token: admin.token });
      assertError(res, 422, 'validation_failed');
      assert.equal(res.body.error.details.field, 'role');
    }
  });

  test('answers 404 for an unknown user', async () => {
    const res = await server.patch('/users/01HZZZZZZZZZZZZZZZZZZZZZZZ/role',
                                   { role: 'proctor' }, { token: admin.token });
    assertError(res, 404, 'not_found');
  });

  test('keeps the last admin: 409, then allowed once another admin exists', async () => {
    const solo = await startServer({ env: { PW_JWT_SECRET: SECRET } });
    try {
      await solo.addUser({ email: 'only@example.org', password: PASSWORD, role: 'admin' });
      const only = await solo.login('only@example.org', PASSWORD);
      let res = await solo.patch(`/users/${only.user.id}/role`, { role: 'student' },
                                 { token: only.token });
      assertError(res, 409, 'last_admin');

      const next = await solo.register({ email: 'next@example.org', password: PASSWORD });
      res = await solo.patch(`/users/${next.id}/role`, { role: 'admin' },
                             { token: only.token });
      assert.equal(res.status, 200, res.text);
      res = await solo.patch(`/users/${only.user.id}/role`, { role: 'student' },
                             { token: only.token });
      assert.equal(res.status, 200, res.text);

      // The old token still claims admin, but the stored role decides.
      res = await solo.get('/users', { token: only.token });
      assertError(res, 403, 'forbidden');
    } finally {
      await solo.stop();
    }
  });
});

describe('proctorwise user add', () => {
  test('rejects a weak password and a taken email', async () => {
    const { runCli } = require('./lib/server');
    const base = ['user', 'add', '--role', 'admin', '--data-dir', server.dataDir];
    let res = await runCli([...base, '--email', 'weak@example.org'],
                           { env: server.env, input: 'short\n' });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /password/);

    res = await runCli([...base, '--email', 'root@example.org'],
                       { env: server.env, input: `${PASSWORD}\n` });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /already exists/);

    res = await runCli([...base, '--email', 'x@example.org', '--password', PASSWORD],
                       { env: server.env });
    assert.equal(res.code, 2);
  });
});
