// SPDX-License-Identifier: Apache-2.0
//
// WebSocket behaviour against the real binary, through the test routes that
// PW_TEST_ROUTES=1 turns on: /ws/echo, /ws/topics/{topic} (subscribe, with
// ?after=N to resume) and POST /ws/topics/{topic} (admins publish).  Tokens
// are signed here with the server's PW_JWT_SECRET, so a test can choose the
// expiry.  The server verifies them as it does the tokens it issues.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { startServer, sleep } = require('./lib/server');

const SECRET = 'ws-test-secret-0123456789abcdef-0123456789';
const USER_ID = '01JDQ7ZK3M4N5P6Q7R8S9T0V1W';
const WAIT_MS = 8000;

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

// An HS256 token for role that expires ttlS seconds from now.
function token(role, ttlS = 600) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({
    sub: USER_ID, role, iat: now, exp: now + ttlS,
  }));
  const sig = crypto.createHmac('sha256', SECRET)
    .update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

function wsUrl(server, path) {
  return server.url.replace(/^http/, 'ws') + path;
}

// Open a socket; resolves once open, rejects on an HTTP refusal with the
// status in err.status.
function connect(url, protocols, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const messages = [];
    ws.messages = messages;
    ws.on('message', (data, isBinary) => {
      messages.push(isBinary ? data : JSON.parse(data.toString()));
    });
    ws.closed = new Promise((res) => {
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() }));
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      const err = new Error(`upgrade refused with ${res.statusCode}`);
      err.status = res.statusCode;
      res.resume();
      reject(err);
    });
    ws.once('error', reject);
  });
}

// Wait until pred(ws.messages) holds, or fail after WAIT_MS.
async function waitFor(ws, pred, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!pred(ws.messages)) {
    if (Date.now() > deadline) {
      assert.fail(`timed out waiting for ${what}; got ${JSON.stringify(ws.messages)}`);
    }
    await sleep(20);
  }
}

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    sleep(ms).then(() => assert.fail(`timed out after ${ms} ms: ${what}`)),
  ]);
}

const subscribed = (msgs) => msgs.some((m) => m.type === 'subscribed');
const seqs = (msgs) => msgs.filter((m) => m.seq !== undefined && !m.type)
  .map((m) => m.seq);

async function publish(server, topic, data) {
  const res = await server.post(`/ws/topics/${topic}`, data,
    { token: token('admin') });
  assert.equal(res.status, 202, res.text);
  return res.body.seq;
}

let server;

before(async () => {
  // The users service alone: the WebSocket layer needs no vision models.
  server = await startServer({
    extraArgs: ['--service', 'users'],
    env: {
      PW_TEST_ROUTES: '1',
      PW_JWT_SECRET: SECRET,
      PW_JWT_LEEWAY: '0',
      PW_WS_RING: '8',
      PW_WS_SEND_QUEUE: '65536',
      PW_WS_PING_INTERVAL: '1',
      PW_WS_PONG_TIMEOUT: '1',
    },
  });
});

after(async () => {
  if (server) await server.stop();
});

test('echo returns text and binary messages', async () => {
  const ws = await connect(wsUrl(server, '/ws/echo'));
  ws.send(JSON.stringify({ hello: 'été' }));
  ws.send(Buffer.from([0, 1, 2, 255]));
  await waitFor(ws, (m) => m.length === 2, 'two echoes');
  assert.deepEqual(ws.messages[0], { hello: 'été' });
  assert.deepEqual([...ws.messages[1]], [0, 1, 2, 255]);
  ws.close(1000);
  assert.equal((await ws.closed).code, 1000);
});

test('upgrade without a token is 401', async () => {
  await assert.rejects(connect(wsUrl(server, '/ws/topics/t1')),
    (err) => err.status === 401);
});

test('upgrade with a bad token is 401', async () => {
  const forged = `${token('student').slice(0, -4)}AAAA`;
  await assert.rejects(
    connect(wsUrl(server, `/ws/topics/t1?access_token=${forged}`)),
    (err) => err.status === 401);
});

test('token in the query parameter is accepted', async () => {
  const ws = await connect(
    wsUrl(server, `/ws/topics/q1?access_token=${token('student')}`));
  await waitFor(ws, subscribed, 'subscribed notice');
  ws.close();
  await ws.closed;
});

test('token in Sec-WebSocket-Protocol selects bearer', async () => {
  const ws = await connect(wsUrl(server, '/ws/topics/p1'),
    ['bearer', token('proctor')]);
  assert.equal(ws.protocol, 'bearer');
  await waitFor(ws, subscribed, 'subscribed notice');
  ws.close();
  await ws.closed;
});

test('publish needs the admin role', async () => {
  const res = await server.post('/ws/topics/r1', { x: 1 },
    { token: token('student') });
  assert.equal(res.status, 403);
});

test('subscriber receives live messages in order', async () => {
  const ws = await connect(wsUrl(server, '/ws/topics/live1'),
    ['bearer', token('student')]);
  await waitFor(ws, subscribed, 'subscribed notice');
  for (let i = 1; i <= 3; i++) {
    assert.equal(await publish(server, 'live1', { i }), i);
  }
  await waitFor(ws, (m) => seqs(m).length === 3, 'three messages');
  const live = ws.messages.filter((m) => !m.type);
  assert.deepEqual(live.map((m) => m.data.i), [1, 2, 3]);
  assert.deepEqual(live.map((m) => m.topic), ['live1', 'live1', 'live1']);
  ws.close();
  await ws.closed;
});

test('reconnect with after=N resumes without loss or duplicates', async () => {
  const topic = 'resume1';
  const first = await connect(wsUrl(server, `/ws/topics/${topic}?after=0`),
    ['bearer', token('student')]);
  await waitFor(first, subscribed, 'subscribed notice');
  await publish(server, topic, { n: 1 });
  await publish(server, topic, { n: 2 });
  await waitFor(first, (m) => seqs(m).length === 2, 'two messages');
  first.terminate();
  await first.closed;

  // Published while the client is away.
  await publish(server, topic, { n: 3 });
  await publish(server, topic, { n: 4 });

  const last = Math.max(...seqs(first.messages));
  const again = await connect(
    wsUrl(server, `/ws/topics/${topic}?after=${last}`),
    ['bearer', token('student')]);
  await waitFor(again, subscribed, 'subscribed notice');
  await publish(server, topic, { n: 5 });
  await waitFor(again, (m) => seqs(m).length === 3, 'replay and live');

  assert.equal(again.messages.some((m) => m.type === 'gap'), false);
  assert.deepEqual(seqs(again.messages), [3, 4, 5]);
  assert.deepEqual(again.messages.filter((m) => !m.type).map((m) => m.data.n),
    [3, 4, 5]);
  again.close();
  await again.closed;
});

test('resume older than the ring gets a gap notice', async () => {
  const topic = 'gap1';
  for (let i = 1; i <= 12; i++) await publish(server, topic, { i });
  const ws = await connect(wsUrl(server, `/ws/topics/${topic}?after=2`),
    ['bearer', token('student')]);
  await waitFor(ws, subscribed, 'subscribed notice');
  // PW_WS_RING=8 keeps seq 5..12.
  assert.deepEqual(ws.messages[0], { type: 'gap', topic, from: 5 });
  assert.deepEqual(seqs(ws.messages), [5, 6, 7, 8, 9, 10, 11, 12]);
  ws.close();
  await ws.closed;
});

test('socket closes with 4001 when its token expires', async () => {
  const ws = await connect(wsUrl(server, '/ws/topics/exp1'),
    ['bearer', token('student', 3)]);
  await waitFor(ws, subscribed, 'subscribed notice');
  const started = Date.now();
  const { code, reason } = await withTimeout(ws.closed, WAIT_MS, '4001 close');
  assert.equal(code, 4001);
  assert.equal(reason, 'token expired');
  assert.ok(Date.now() - started < 5000, 'closed within 2 s of exp');
});

test('server pings and a ponging client stays open', async () => {
  const ws = await connect(wsUrl(server, '/ws/echo'));
  let pings = 0;
  ws.on('ping', () => { pings += 1; });
  await sleep(3500);
  assert.ok(pings >= 2, `expected 2 pings or more, got ${pings}`);
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close();
  await ws.closed;
});

test('client that never pongs is dropped', async () => {
  const ws = await connect(wsUrl(server, '/ws/echo'), undefined,
    { autoPong: false });
  const { code } = await withTimeout(ws.closed, WAIT_MS, 'dead-peer close');
  // The server's close frame (1001) may be lost with the socket: 1006.
  assert.ok(code === 1001 || code === 1006, `close code ${code}`);
});

test('slow client is closed with 1008 instead of growing memory', async () => {
  const ws = await connect(wsUrl(server, '/ws/echo'));
  const block = Buffer.alloc(60 * 1024, 7);
  // Stop reading: the echoes pile up in the kernel buffers, then in the
  // server's send queue (PW_WS_SEND_QUEUE=65536) until it gives up.
  ws._socket.pause();
  for (let i = 0; i < 600 && ws.readyState === WebSocket.OPEN; i++) {
    ws.send(block);
    if (i % 20 === 19) await sleep(10);
  }
  await sleep(500);
  ws._socket.resume();
  const { code, reason } = await withTimeout(ws.closed, 20000, 'slow close');
  // 1006 when the close frame is lost behind the unread data.
  assert.ok(code === 1008 || code === 1006, `close code ${code}`);
  if (code === 1008) assert.match(reason, /send queue full/);
});

test('open sockets are counted in /metrics', async () => {
  const ws = await connect(wsUrl(server, '/ws/echo'));
  // The client sees the socket open once the 101 arrives; the server
  // counts it a moment later, when its event thread takes the socket.
  let open = 0;
  for (let i = 0; i < 50 && open < 1; i++) {
    const res = await server.get('/metrics');
    assert.equal(res.status, 200);
    const m = res.text.match(/^websocket_connections_open (\d+)/m);
    assert.ok(m, 'websocket_connections_open present');
    open = Number(m[1]);
    if (open < 1) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(open >= 1, `websocket_connections_open ${open}`);
  ws.close();
  await ws.closed;
});

test('shutdown closes open sockets with 1001', async () => {
  const solo = await startServer({
    extraArgs: ['--service', 'users'],
    env: { PW_TEST_ROUTES: '1', PW_JWT_SECRET: SECRET },
  });
  try {
    const ws = await connect(wsUrl(solo, '/ws/echo'));
    solo.child.kill('SIGTERM');
    const { code, reason } = await withTimeout(ws.closed, WAIT_MS,
      'shutdown close');
    assert.equal(code, 1001);
    assert.equal(reason, 'server shutting down');
    const exit = await withTimeout(
      new Promise((res) => (solo.exited ? res(solo.exited)
        : solo.child.once('exit', (c) => res({ code: c })))),
      WAIT_MS, 'server exit');
    assert.equal(exit.code, 0);
  } finally {
    await solo.stop();
  }
});
