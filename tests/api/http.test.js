// SPDX-License-Identifier: Apache-2.0
//
// Black-box tests of the HTTP layer against the real binary: limits,
// media types, the error model, routing errors, headers, CORS, metrics,
// keep-alive and graceful shutdown.  Raw sockets are used where a client
// library would hide the behaviour (chunked bodies, one socket for
// several requests).

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startServer } = require('./lib/server.js');

// Parse as many complete HTTP/1.1 responses as buf contains (bodies sized by
// Content-Length).  Returns {responses, rest}.
function parseResponses(buf) {
  const responses = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0)
      break;
    const head = buf.slice(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    if (buf.length < end + 4 + len)
      break;
    const body = buf.slice(end + 4, end + 4 + len).toString('utf8');
    responses.push({ status, headers, body });
    buf = buf.slice(end + 4 + len);
  }
  return { responses, rest: buf };
}

// Open a socket to port and run steps: each a string/Buffer to write, or
// {wait: n} to wait for n responses in total.  Resolves to {responses,
// closed} once the last wait is met or the peer closes (5 s at most).
function rawExchange(port, steps) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let responses = [];
    let closed = false;
    let waiting = null;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out with ${responses.length} responses`));
    }, 5000);

    function check() {
      const parsed = parseResponses(buf);
      buf = parsed.rest;
      responses = responses.concat(parsed.responses);
      if (waiting && (responses.length >= waiting.n || closed)) {
        const w = waiting;
        waiting = null;
        w.resolve();
      }
    }
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      check();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      check();
    });

    (async () => {
      for (const step of steps) {
        if (step.wait) {
          await new Promise((res) => {
            waiting = { n: step.wait, resolve: res };
            check();
          });
        } else if (!closed) {
          sock.write(step);
        }
      }
      clearTimeout(timer);
      const result = { responses, closed };
      sock.destroy();
      resolve(result);
    })().catch(reject);
  });
}

function assertErrorBody(res, status, code) {
  assert.equal(res.status, status);
  assert.match(res.headers['content-type'], /^application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(typeof body.error.details, 'object');
  return body;
}

test('http layer', async (t) => {
  const server = await startServer({
    env: {
      PW_CORS_ORIGINS: 'https://app.example',
      PW_SHUTDOWN_GRACE: '10',
      PW_LOG_LEVEL: 'info',
    },
  });
  const { url, port } = server;

  t.after(() => server.stop());

  await t.test('healthz carries the security headers', async () => {
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.match(res.headers.get('content-security-policy'),
      /default-src 'none'/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
  });

  await t.test('request id echoed when sane, replaced otherwise', async () => {
    let res = await fetch(`${url}/healthz`,
      { headers: { 'X-Request-Id': 'abc.DEF-123_x' } });
    assert.equal(res.headers.get('x-request-id'), 'abc.DEF-123_x');
    res = await fetch(`${url}/healthz`,
      { headers: { 'X-Request-Id': 'bad id with spaces' } });
    assert.match(res.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
    res = await fetch(`${url}/healthz`,
      { headers: { 'X-Request-Id': 'a'.repeat(65) } });
    assert.match(res.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
  });

  await t.test('readyz answers ready with the database', async () => {
    const res = await fetch(`${url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
  });

  await t.test('unknown path gives 404 JSON', async () => {
    const res = await fetch(`${url}/no/such/path`);
    assertErrorBody({ status: res.status,
      headers: { 'content-type': res.headers.get('content-type') },
      body: await res.text() }, 404, 'not_found');
  });

  await t.test('trailing slash is another path', async () => {
    const res = await fetch(`${url}/healthz/`);
    assert.equal(res.status, 404);
  });

  await t.test('wrong method gives 405 with Allow', async () => {
    const res = await fetch(`${url}/healthz`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal((await res.json()).error.code, 'method_not_allowed');
  });

  await t.test('GET on a POST-only path is 405, not a user id', async () => {
    const res = await fetch(`${url}/users/register`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  await t.test('wrong Content-Type gives 415', async () => {
    const res = await fetch(`${url}/users/register`, {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}',
    });
    assert.equal(res.status, 415);
    assert.equal((await res.json()).error.code, 'unsupported_media_type');
  });

  await t.test('charset parameter is accepted', async () => {
    const res = await fetch(`${url}/users/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: '{}',
    });
    assert.notEqual(res.status, 415);
    assert.notEqual(res.status, 400);
  });

  await t.test('malformed JSON gives 400', async () => {
    const res = await fetch(`${url}/users/register`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: '{"email": ',
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, 'invalid_json');
  });

  await t.test('body over the limit with Content-Length: 413', async () => {
    const body = 'x'.repeat(20000);
    const { responses } = await rawExchange(port, [
      'POST /users/register HTTP/1.1\r\nHost: t\r\n' +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${body.length}\r\n\r\n`,
      { wait: 1 },
    ]);
    assertErrorBody(responses[0], 413, 'too_large');
  });

  await t.test('chunked body over the limit: 413 mid-stream', async () => {
    const chunk = 'y'.repeat(4096);
    const steps = ['POST /users/register HTTP/1.1\r\nHost: t\r\n' +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'];
    for (let i = 0; i < 6; i++)
      steps.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    steps.push('0\r\n\r\n', { wait: 1 });
    const { responses } = await rawExchange(port, steps);
    assertErrorBody(responses[0], 413, 'too_large');
  });

  await t.test('URL over 8 KiB gives 414 JSON', async () => {
    const res = await fetch(`${url}/healthz?q=${'a'.repeat(9000)}`);
    assert.equal(res.status, 414);
    assert.equal((await res.json()).error.code, 'uri_too_long');
  });

  await t.test('headers over 16 KiB give 431 JSON', async () => {
    const headers = {};
    for (let i = 0; i < 5; i++)
      headers[`X-Filler-${i}`] = 'h'.repeat(4000);
    const res = await fetch(`${url}/healthz`, { headers });
    assert.equal(res.status, 431);
    assert.equal((await res.json()).error.code, 'headers_too_large');
  });

  await t.test('protected route without token: 401 Bearer', async () => {
    const res = await fetch(`${url}/users/me`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    assert.equal((await res.json()).error.code, 'unauthorized');
  });

  await t.test('protected route with a bad token: 401 invalid_token',
    async () => {
      const res = await fetch(`${url}/users/me`,
        { headers: { Authorization: 'Bearer not.a.token' } });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate'), /invalid_token/);
    });

  await t.test('CORS preflight from an allowed origin', async () => {
    const res = await fetch(`${url}/users/register`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'),
      'https://app.example');
    assert.match(res.headers.get('access-control-allow-methods'), /POST/);
    assert.match(res.headers.get('access-control-allow-headers'),
      /Content-Type/);
    assert.match(res.headers.get('vary'), /Origin/);
  });

  await t.test('CORS refuses another origin', async () => {
    let res = await fetch(`${url}/healthz`,
      { headers: { Origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    res = await fetch(`${url}/users/register`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example',
        'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(res.status, 403);
  });

  await t.test('keep-alive serves several requests on one socket',
    async () => {
      const get = 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n';
      const missing = 'GET /missing HTTP/1.1\r\nHost: t\r\n\r\n';
      const badJson = 'POST /users/register HTTP/1.1\r\nHost: t\r\n' +
        'Content-Type: application/json\r\nContent-Length: 3\r\n\r\n{x}';
      const { responses, closed } = await rawExchange(port, [
        get, { wait: 1 }, missing, { wait: 2 }, badJson, { wait: 3 },
        get, { wait: 4 },
      ]);
      assert.deepEqual(responses.map((r) => r.status), [200, 404, 400, 200]);
      assert.equal(closed, false);
    });

  await t.test('metrics are in the Prometheus text format', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'),
      /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of text.trim().split('\n')) {
      if (line.startsWith('#'))
        assert.match(line, /^# (HELP|TYPE) [a-z_]+ /);
      else
        assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/);
    }
    assert.match(text,
      /http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    assert.match(text,
      /http_requests_total\{route="unmatched",method="GET",status="404"\}/);
    assert.match(text,
      /http_request_duration_seconds_bucket\{route="\/healthz",le="\+Inf"\}/);
    assert.match(text, /websocket_connections_open \d+/);
    assert.match(text, /process_start_time_seconds \d+/);
    assert.doesNotMatch(text, /route="\/no\/such\/path"/);
  });

  await t.test('graceful shutdown finishes a slow request', async () => {
    const sock = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    sock.on('data', (d) => { received = Buffer.concat([received, d]); });
    sock.on('error', () => {});
    await new Promise((res) => sock.on('connect', res));
    const body = '{"email": "slow@example.com"}';
    sock.write('POST /users/register HTTP/1.1\r\nHost: t\r\n' +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\n\r\n`);
    sock.write(body.slice(0, 5));
    await new Promise((res) => setTimeout(res, 200));

    const exited = new Promise((res) => server.child.once('exit',
      (code, signal) => res({ code, signal })));
    server.child.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 500));
    // The listener is closed while the request is still in flight.
    await assert.rejects(rawExchange(port, ['GET /healthz HTTP/1.1\r\n' +
      'Host: t\r\n\r\n', { wait: 1 }]).then((r) => {
      if (!r.responses.length)
        throw new Error('refused');
    }));
    sock.write(body.slice(5));

    const exit = await exited;
    const { responses } = parseResponses(received);
    assert.equal(responses.length, 1);
    assert.ok(responses[0].status >= 200 && responses[0].status < 500,
      `status ${responses[0].status}`);
    assert.equal(exit.code, 0);
    assert.match(server.log, /shutting down/);
    sock.destroy();
  });
});
