// SPDX-License-Identifier: Apache-2.0
//
// Monitoring WebSockets from a real browser, against the real vision models
// in PW_MODEL_DIR.  A proctor's page follows /monitoring/live while a
// student's frames raise an anomaly.  A student's page sends frames from
// Chromium's fake webcam and browser events on its session stream.  The
// browser opens both sockets as the exam page will, with the token as
// subprotocol: new WebSocket(url, ['bearer', token]).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {
  launchBrowser, startOrigin, openPage, startServer, stopServer, sleep,
} = require('./lib/browser');

const PHOTOS = path.resolve(__dirname, '..', 'fixtures', 'photos');
const THREE_FACES = fs.readFileSync(path.join(PHOTOS, 'three_faces.jpg'));
const WAIT_MS = 10000;
// The server closes the stream right after session.ended, so a close that
// takes longer is taken as missing.
const CLOSE_WAIT_MS = 3000;

let server;
let browser;
let site;
let proctor;
let studentCount = 0;

before(async () => {
  assert.ok(process.env.PW_MODEL_DIR,
            'PW_MODEL_DIR must name the model directory (scripts/test.sh ' +
            'sets it after scripts/fetch-models.sh)');
  site = await startOrigin();
  server = await startServer({ env: { PW_CORS_ORIGINS: site.origin } });
  proctor = await server.userWithRole('proctor', 'proctor@example.org');
  browser = await launchBrowser({ webcam: true });
});

after(async () => {
  if (browser) await browser.close();
  if (site) await site.close();
  if (server) await stopServer(server);
});

async function newStudent() {
  studentCount += 1;
  return server.userWithRole('student', `student${studentCount}@example.org`);
}

async function startSession(student, examId) {
  const res = await server.post('/monitoring/sessions', { exam_id: examId },
                                { token: student.token });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

function wsUrl(urlPath) {
  return server.url.replace(/^http/, 'ws') + urlPath;
}

// Runs in the page: open a WebSocket with the token as subprotocol and keep
// every message in window.received (text parsed as JSON).  Resolves with
// the subprotocol the browser accepted, or rejects with the close code when
// the browser fails the connection.
function openSocketInPage({ url, token }) {
  window.received = [];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['bearer', token]);
    window.socket = ws;
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      window.received.push(typeof ev.data === 'string'
        ? JSON.parse(ev.data) : { binary: ev.data.byteLength });
    };
    ws.onopen = () => resolve(ws.protocol);
    ws.onclose = (ev) => reject(new Error(`closed with ${ev.code}`));
  });
}

// Wait until the page has received a message of type (a stream message's
// own type, or the data.type of a live message), and return the first one.
async function waitForType(page, type) {
  let handle;
  try {
    handle = await page.waitForFunction(
      (expected) => window.received.find((m) =>
        m.type === expected || (m.data && m.data.type === expected)),
      type, { timeout: WAIT_MS, polling: 50 });
  } catch (err) {
    const seen = await page.evaluate(() => ({
      received: window.received,
      readyState: window.socket.readyState,
      closes: window.closes,
    }));
    throw new Error(`no ${type} message: ${err.message}\n` +
                    `page saw ${JSON.stringify(seen)}`);
  }
  return handle.jsonValue();
}

test('proctor page receives live anomalies', async () => {
  const exam = 'exam-live';
  const page = await openPage(browser, site.origin);

  const protocol = await page.evaluate(openSocketInPage, {
    url: wsUrl(`/monitoring/live?exam_id=${exam}`),
    token: proctor.token,
  });
  assert.equal(protocol, 'bearer');
  await waitForType(page, 'subscribed');

  // Node posts the student's frames: three faces in a row, at most 40.
  const student = await newStudent();
  const session = await startSession(student, exam);
  const deadline = Date.now() + WAIT_MS;
  let raised = null;
  for (let i = 0; i < 40 && !raised && Date.now() < deadline; i++) {
    const res = await server.request('POST',
      `/monitoring/sessions/${session.id}/frame`, {
        token: student.token,
        body: THREE_FACES,
        headers: { 'Content-Type': 'image/jpeg' },
      });
    assert.equal(res.status, 202, res.text);
    raised = await page.evaluate(() => window.received.find((m) =>
      m.data && m.data.type === 'anomaly.detected'));
    await sleep(200);
  }

  assert.ok(raised, JSON.stringify(
    await page.evaluate(() => window.received)));
  assert.equal(raised.topic, `monitoring/exam/${exam}`);
  assert.equal(raised.data.anomaly.type, 'multiple_faces');
  assert.equal(raised.data.anomaly.severity, 'critical');
  assert.equal(raised.data.anomaly.session_id, session.id);
  const started = await waitForType(page, 'session.started');
  assert.equal(started.data.session.id, session.id);
  assert.ok(started.seq < raised.seq, `${started.seq} >= ${raised.seq}`);
  await page.close();
});

test('browser fails live socket with bad token', async () => {
  const page = await openPage(browser, site.origin);
  const forged = `${proctor.token.slice(0, -4)}AAAA`;
  await assert.rejects(page.evaluate(openSocketInPage, {
    url: wsUrl('/monitoring/live'),
    token: forged,
  }), /closed with 1006/);
  await page.close();
});

// Runs in the page: take the webcam with getUserMedia, open the session's
// stream, and send `count` frames drawn on a canvas and encoded as JPEG,
// one every intervalMs.  Resolves with what the page saw of its camera and
// of the frames it sent.
async function streamWebcamInPage({ url, token, count, intervalMs }) {
  const media = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480 },
  });
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = media;
  await video.play();

  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');

  window.received = [];
  const ws = new WebSocket(url, ['bearer', token]);
  window.socket = ws;
  ws.onmessage = (ev) => {
    window.received.push(typeof ev.data === 'string'
      ? JSON.parse(ev.data) : { binary: true });
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onclose = (ev) => reject(new Error(`closed with ${ev.code}`));
  });
  window.closes = [];
  ws.onclose = (ev) => {
    window.closes.push({ code: ev.code, reason: ev.reason, clean: ev.wasClean });
  };

  const frames = [];
  for (let i = 0; i < count; i++) {
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) =>
      canvas.toBlob(resolve, 'image/jpeg', 0.8));
    const head = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
    frames.push({ type: blob.type, size: blob.size, head: [...head] });
    ws.send(blob);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return {
    protocol: ws.protocol,
    camera: media.getVideoTracks()[0].label,
    width: canvas.width,
    height: canvas.height,
    frames,
  };
}

async function anomaliesOfType(token, sessionId, type) {
  const res = await server.get(`/monitoring/sessions/${sessionId}/anomalies`,
                               { token });
  assert.equal(res.status, 200, res.text);
  return res.body.items.filter((a) => a.type === type);
}

test('webcam frames from canvas get frame.result', async () => {
  const student = await newStudent();
  const session = await startSession(student, 'exam-webcam');
  const page = await openPage(browser, site.origin);

  const sent = await page.evaluate(streamWebcamInPage, {
    url: wsUrl(`/monitoring/sessions/${session.id}/stream`),
    token: student.token,
    count: 5,
    intervalMs: 250,
  });

  assert.equal(sent.protocol, 'bearer');
  assert.match(sent.camera, /fake/i);
  assert.equal(sent.width, 640);
  assert.equal(sent.height, 480);
  assert.equal(sent.frames.length, 5);
  for (const frame of sent.frames) {
    assert.equal(frame.type, 'image/jpeg');
    assert.deepEqual(frame.head, [0xff, 0xd8]);
    assert.ok(frame.size > 1000, `JPEG of ${frame.size} bytes`);
  }

  const result = await waitForType(page, 'frame.result');
  assert.equal(result.status, 'analysed', JSON.stringify(result));
  assert.ok(Number.isInteger(result.seq), JSON.stringify(result));
  assert.ok(result.seq >= 1, JSON.stringify(result));
  // Chromium's fake camera shows a test pattern, so no face is expected.
  // The test checks the shape of the detection, not what it found.
  assert.equal(typeof result.detection.face_count, 'number');
  assert.ok(Array.isArray(result.detection.faces));
  assert.equal(result.detection.faces.length, result.detection.face_count);
  assert.equal(typeof result.detection.brightness, 'number');
  assert.ok(Array.isArray(result.anomalies));

  const errors = await page.evaluate(() =>
    window.received.filter((m) => m.type === 'error'));
  assert.deepEqual(errors, []);

  const res = await server.get(`/monitoring/sessions/${session.id}`,
                               { token: student.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.summary.frames_received, 5);
  await page.close();
});

test('tab events sent as text raise tab_change', async () => {
  const student = await newStudent();
  const session = await startSession(student, 'exam-tab');
  const page = await openPage(browser, site.origin);
  await page.evaluate(streamWebcamInPage, {
    url: wsUrl(`/monitoring/sessions/${session.id}/stream`),
    token: student.token,
    count: 1,
    intervalMs: 0,
  });

  await page.evaluate(async () => {
    const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    window.socket.send(JSON.stringify({ type: 'tab_hidden', at: Date.now() }));
    await pause(300);
    window.socket.send(JSON.stringify({ type: 'tab_visible', at: Date.now() }));
  });

  const deadline = Date.now() + WAIT_MS;
  let changes = [];
  while (Date.now() < deadline) {
    changes = await anomaliesOfType(student.token, session.id, 'tab_change');
    if (changes.length && changes[0].ended_at) break;
    await sleep(100);
  }
  assert.equal(changes.length, 1, JSON.stringify(changes));
  assert.equal(changes[0].severity, 'medium');
  assert.ok(changes[0].ended_at, JSON.stringify(changes[0]));
  assert.ok(Date.parse(changes[0].ended_at) >= Date.parse(changes[0].started_at));

  const errors = await page.evaluate(() =>
    window.received.filter((m) => m.type === 'error'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('ending the session closes the page socket', async () => {
  const student = await newStudent();
  const session = await startSession(student, 'exam-end');
  const page = await openPage(browser, site.origin);
  await page.evaluate(streamWebcamInPage, {
    url: wsUrl(`/monitoring/sessions/${session.id}/stream`),
    token: student.token,
    count: 1,
    intervalMs: 0,
  });
  // The browser's open event can come before the server has attached the
  // socket to the session; a frame's result shows that it has.
  await waitForType(page, 'frame.result');
  const res = await server.post(`/monitoring/sessions/${session.id}/end`, {},
                                { token: student.token });
  assert.equal(res.status, 200, res.text);

  const ended = await waitForType(page, 'session.ended');
  assert.equal(ended.session.id, session.id);
  assert.equal(ended.session.status, 'ended');
  const closed = await page.waitForFunction(() => window.closes[0], null,
    { timeout: CLOSE_WAIT_MS, polling: 50 }).catch(async (err) => {
    const state = await page.evaluate(() => window.socket.readyState);
    throw new Error(`${err.message}; readyState ${state}`);
  });
  const { code, clean } = await closed.jsonValue();
  assert.equal(clean, true);
  assert.equal(code, 1000);
  await page.close();
});
