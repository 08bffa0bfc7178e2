// SPDX-License-Identifier: Apache-2.0
//
// The /monitoring API against the real binary and the real vision models
// (PW_MODEL_DIR): sessions and who may touch them, frames over HTTP and
// WebSocket, browser events, and the anomalies the photos of
// tests/fixtures/photos raise (labels.tsv lists their faces and objects).
// face_absent runs with the default 5 s rule; only the silence before
// webcam_disabled is shortened (PW_MONITOR_SILENCE) to keep the suite fast.
'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');

const os = require('node:os');

const { startServer, runCli, sleep } = require('./lib/server');

const PHOTOS = path.resolve(__dirname, '..', 'fixtures', 'photos');
const photo = (name) => fs.readFileSync(path.join(PHOTOS, name));
const FACE = photo('webcam_woman.jpg');        // one face
const EMPTY = photo('building_home.jpg');      // no face, no object
const PHONE = photo('phone_on_table.jpg');     // a cell phone, no face
const THREE = photo('three_faces.jpg');        // three faces

const SILENCE_S = 3;

let server;
let proctor;
let studentCount = 0;
let examCount = 0;

function newExam() {
  examCount += 1;
  return `exam-${examCount}`;
}

async function newStudent() {
  studentCount += 1;
  return server.userWithRole('student', `student${studentCount}@example.org`);
}

async function startSession(student, examId = newExam()) {
  const res = await server.post('/monitoring/sessions', { exam_id: examId },
                                { token: student.token });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

function postFrame(student, sessionId, jpeg, contentType = 'image/jpeg',
                   query = '') {
  return server.request('POST',
                        `/monitoring/sessions/${sessionId}/frame${query}`, {
    token: student.token,
    body: jpeg,
    headers: { 'Content-Type': contentType },
  });
}

// Post jpeg every intervalMs for durationMs (bounded), checking each 202.
async function sendFor(student, sessionId, jpeg, durationMs, intervalMs) {
  const end = Date.now() + durationMs;
  let sent = 0;
  while (Date.now() < end && sent < 200) {
    const started = Date.now();
    const res = await postFrame(student, sessionId, jpeg);
    assert.equal(res.status, 202, res.text);
    sent += 1;
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  return sent;
}

async function anomalies(token, sessionId) {
  const res = await server.get(`/monitoring/sessions/${sessionId}/anomalies`,
                               { token });
  assert.equal(res.status, 200, res.text);
  return res.body.items;
}

function ofType(list, type) {
  return list.filter((a) => a.type === type);
}

// Poll the anomalies of a session until pred is true (at most timeoutMs).
async function waitForAnomalies(token, sessionId, pred, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  let list = [];
  while (Date.now() < end) {
    list = await anomalies(token, sessionId);
    if (pred(list)) return list;
    await sleep(200);
  }
  return list;
}

function wsUrl(urlPath) {
  return `ws://127.0.0.1:${server.port}${urlPath}`;
}

// Open a WebSocket with the token as subprotocol and collect its messages.
function openSocket(urlPath, token) {
  const ws = new WebSocket(wsUrl(urlPath), ['bearer', token]);
  const messages = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(data.toString()));
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) =>
      reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  return { ws, messages, opened };
}

async function waitFor(pred, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const found = pred();
    if (found) return found;
    await sleep(50);
  }
  return pred();
}

before(async () => {
  assert.ok(process.env.PW_MODEL_DIR,
            'PW_MODEL_DIR must name the model directory (scripts/test.sh ' +
            'sets it after scripts/fetch-models.sh)');
  server = await startServer({
    env: {
      PW_MONITOR_SILENCE: String(SILENCE_S),
      PW_MONITOR_WORKERS: '2',
      PW_LOGIN_MAX_ATTEMPTS_PER_IP: '1000',
      PW_HTTP_THREADS: '8',
    },
  });
  proctor = await server.userWithRole('proctor', 'proctor@example.org');
});

after(async () => {
  if (server) await server.stop();
});

describe('sessions', () => {
  test('a student starts a session', async () => {
    const student = await newStudent();
    const res = await server.post('/monitoring/sessions',
                                  { exam_id: 'exam-a', reservation_id: 'r-1' },
                                  { token: student.token });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(res.body.exam_id, 'exam-a');
    assert.equal(res.body.reservation_id, 'r-1');
    assert.equal(res.body.user_id, student.user.id);
    assert.equal(res.body.status, 'active');
    assert.match(res.body.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('second active session of one exam is 409', async () => {
    const student = await newStudent();
    const exam = newExam();
    await startSession(student, exam);
    const res = await server.post('/monitoring/sessions', { exam_id: exam },
                                  { token: student.token });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.body.error.code, 'session_active');
  });

  test('ending frees the exam for a new session', async () => {
    const student = await newStudent();
    const exam = newExam();
    const s = await startSession(student, exam);
    const end = await server.post(`/monitoring/sessions/${s.id}/end`, {},
                                  { token: student.token });
    assert.equal(end.status, 200, end.text);
    assert.equal(end.body.status, 'ended');
    assert.ok(end.body.ended_at);
    const again = await server.post(`/monitoring/sessions/${s.id}/end`, {},
                                    { token: student.token });
    assert.equal(again.status, 409, again.text);
    await startSession(student, exam);
  });

  test('a proctor may end a session', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const res = await server.post(`/monitoring/sessions/${s.id}/end`, {},
                                  { token: proctor.token });
    assert.equal(res.status, 200, res.text);
  });

  test('a proctor may not start a session', async () => {
    const res = await server.post('/monitoring/sessions', { exam_id: 'x' },
                                  { token: proctor.token });
    assert.equal(res.status, 403, res.text);
  });

  test('missing exam_id is 422', async () => {
    const student = await newStudent();
    const res = await server.post('/monitoring/sessions', {},
                                  { token: student.token });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.error.details.field, 'exam_id');
  });

  test('an exam_id with a slash is 422', async () => {
    const student = await newStudent();
    const res = await server.post('/monitoring/sessions',
                                  { exam_id: 'a/b', reservation_id: 'r-2' },
                                  { token: student.token });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.error.details.field, 'exam_id');
  });

  test('another student gets 403', async () => {
    const owner = await newStudent();
    const other = await newStudent();
    const s = await startSession(owner);
    for (const [method, p, body] of [
      ['GET', `/monitoring/sessions/${s.id}`],
      ['GET', `/monitoring/sessions/${s.id}/anomalies`],
      ['POST', `/monitoring/sessions/${s.id}/end`, {}],
      ['POST', `/monitoring/sessions/${s.id}/events`, { type: 'copy' }],
    ]) {
      const res = await server.request(method, p,
                                       { token: other.token, json: body });
      assert.equal(res.status, 403, `${method} ${p}: ${res.text}`);
    }
    const frame = await postFrame(other, s.id, FACE);
    assert.equal(frame.status, 403, frame.text);
  });

  test('proctors list sessions by exam and status', async () => {
    const exam = newExam();
    const a = await startSession(await newStudent(), exam);
    const b = await startSession(await newStudent(), exam);
    await server.post(`/monitoring/sessions/${b.id}/end`, {},
                      { token: proctor.token });
    let res = await server.get(`/monitoring/sessions?exam_id=${exam}`,
                               { token: proctor.token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.items.map((s) => s.id).sort(),
                     [a.id, b.id].sort());
    res = await server.get(`/monitoring/sessions?exam_id=${exam}&status=active`,
                           { token: proctor.token });
    assert.deepEqual(res.body.items.map((s) => s.id), [a.id]);
    const student = await newStudent();
    res = await server.get('/monitoring/sessions', { token: student.token });
    assert.equal(res.status, 403, res.text);
  });
});

describe('frames', () => {
  test('a JPEG frame is analysed', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const res = await postFrame(student, s.id, FACE);
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.seq, 1);
    if (res.body.status === 'analysed') {
      assert.equal(res.body.detection.face_count, 1);
    } else {
      assert.equal(res.body.status, 'queued');
    }
  });

  test('multipart form data is accepted', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const boundary = 'pwBoundary7MA4YWxk';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; ` +
                  'name="frame"; filename="f.jpg"\r\n' +
                  'Content-Type: image/jpeg\r\n\r\n'),
      THREE,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await postFrame(student, s.id, body,
                                `multipart/form-data; boundary=${boundary}`);
    assert.equal(res.status, 202, res.text);
    if (res.body.status === 'analysed')
      assert.equal(res.body.detection.face_count, 3);
  });

  test('non-JPEG bodies are 415', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    let res = await postFrame(student, s.id, Buffer.from('not a jpeg at all'));
    assert.equal(res.status, 415, res.text);
    res = await postFrame(student, s.id, FACE, 'image/png');
    assert.equal(res.status, 415, res.text);
  });

  test('a frame over 2 MB is 413', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    // Within the route's multipart allowance, so the frame cap decides.
    const big = Buffer.alloc(2 * 1024 * 1024 + 1000, 0);
    FACE.copy(big);
    const res = await postFrame(student, s.id, big);
    assert.equal(res.status, 413, res.text);
  });

  test('a frame on an ended session is 409', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await server.post(`/monitoring/sessions/${s.id}/end`, {},
                      { token: student.token });
    const res = await postFrame(student, s.id, FACE);
    assert.equal(res.status, 409, res.text);
  });

  test('5 frames a second are all accepted', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const sent = await sendFor(student, s.id, FACE, 2000, 200);
    assert.ok(sent >= 8, `only ${sent} frames sent in 2 s`);
  });

  test('a flood is 429 with Retry-After', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    // wait=0 answers each frame at once, so the 40 frames arrive faster
    // than any rate the server would sustain, however loaded the machine.
    const results = await Promise.all(Array.from({ length: 40 }, () =>
      postFrame(student, s.id, FACE, 'image/jpeg', '?wait=0')));
    const limited = results.filter((r) => r.status === 429);
    assert.ok(limited.length > 0,
              `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.match(limited[0].headers['retry-after'], /^\d+$/);
    for (const r of results)
      assert.ok([202, 429].includes(r.status), r.text);
  });
});

test('wait must be a number of milliseconds', async () => {
  const student = await newStudent();
  const s = await startSession(student);
  for (const bad of ['-1', 'soon', '10001', '']) {
    const res = await postFrame(student, s.id, FACE, 'image/jpeg',
                                `?wait=${bad}`);
    assert.equal(res.status, 422, `wait=${bad}: ${res.text}`);
    assert.equal(res.body.error.details.field, 'wait');
  }
  const quick = await postFrame(student, s.id, FACE, 'image/jpeg', '?wait=0');
  assert.equal(quick.status, 202, quick.text);
  assert.equal(typeof quick.body.seq, 'number');
});

describe('anomalies', () => {
  test('a 6 s gap raises face_absent once (default 5 s rule)', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 1000, 250);
    await sendFor(student, s.id, EMPTY, 6000, 250);
    await sendFor(student, s.id, FACE, 1500, 250);
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'face_absent').some((a) => a.ended_at));
    const absent = ofType(list, 'face_absent');
    assert.equal(absent.length, 1, JSON.stringify(list));
    assert.equal(absent[0].severity, 'high');
    assert.ok(absent[0].ended_at, 'face_absent ends when the face is back');
    assert.ok(absent[0].confidence > 0, `confidence ${absent[0].confidence}`);
    assert.ok(absent[0].confidence <= 1, `confidence ${absent[0].confidence}`);
    assert.ok(absent[0].frame_count >= 1);
    assert.ok(absent[0].evidence.length >= 1);
    const span = Date.parse(absent[0].ended_at) - Date.parse(absent[0].started_at);
    assert.ok(span >= 5000, `episode lasted ${span} ms`);
    assert.ok(span <= 8000, `episode lasted ${span} ms`);

    // The opening frame is kept as sent.
    const ev = await server.get(`/monitoring/anomalies/${absent[0].id}/evidence`,
                                { token: proctor.token });
    assert.equal(ev.status, 200, ev.text);
    assert.equal(ev.headers['content-type'], 'image/jpeg');
    assert.equal(Number(ev.headers['content-length']), EMPTY.length);
  });

  test('a 3 s gap raises no face_absent', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 1000, 250);
    await sendFor(student, s.id, EMPTY, 3000, 250);
    await sendFor(student, s.id, FACE, 1500, 250);
    await sleep(500);
    const list = await anomalies(student.token, s.id);
    assert.deepEqual(ofType(list, 'face_absent'), [], JSON.stringify(list));
  });

  test('a sustained second face raises multiple_faces', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 500, 250);
    await sendFor(student, s.id, THREE, 2000, 250);
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'multiple_faces').length > 0);
    const multi = ofType(list, 'multiple_faces');
    assert.equal(multi.length, 1, JSON.stringify(list));
    assert.equal(multi[0].severity, 'critical');
  });

  test('one frame of three faces raises nothing', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 500, 250);
    await sendFor(student, s.id, THREE, 200, 250);
    await sendFor(student, s.id, FACE, 1000, 250);
    await sleep(500);
    const list = await anomalies(student.token, s.id);
    assert.deepEqual(ofType(list, 'multiple_faces'), []);
  });

  test('a phone raises forbidden_object', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 500, 250);
    await sendFor(student, s.id, PHONE, 3500, 250);
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'forbidden_object').length > 0);
    const objects = ofType(list, 'forbidden_object');
    assert.equal(objects.length, 1, JSON.stringify(list));
    assert.equal(objects[0].label, 'cell phone');
    assert.equal(objects[0].severity, 'high');
    const ev = await server.request('GET',
      `/monitoring/anomalies/${objects[0].id}/evidence`, { token: proctor.token });
    assert.equal(ev.status, 200);
    assert.equal(Number(ev.headers['content-length']), PHONE.length);
  });

  test('a silent session raises webcam_disabled', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await postFrame(student, s.id, FACE);
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'webcam_disabled').length > 0, (SILENCE_S + 4) * 1000);
    const off = ofType(list, 'webcam_disabled');
    assert.equal(off.length, 1, JSON.stringify(list));
    assert.equal(off[0].severity, 'critical');
    assert.equal(off[0].ended_at, null);
  });

  test('browser events raise tab_change', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    let res = await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'tab_hidden', at: new Date().toISOString() },
      { token: student.token });
    assert.equal(res.status, 202, res.text);
    res = await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'tab_visible', at: Date.now() }, { token: student.token });
    assert.equal(res.status, 202, res.text);
    const list = await anomalies(student.token, s.id);
    const tab = ofType(list, 'tab_change');
    assert.equal(tab.length, 1, JSON.stringify(list));
    assert.equal(tab[0].severity, 'medium');
    assert.ok(tab[0].ended_at);
    assert.equal(tab[0].evidence[0].event, 'tab_hidden');
  });

  test('an unknown event type is 422', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const res = await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'teleport' }, { token: student.token });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.error.details.field, 'type');
  });

  test('a proctor confirms or dismisses an anomaly', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'window_blur' }, { token: student.token });
    const [a] = await anomalies(proctor.token, s.id);
    let res = await server.patch(`/monitoring/anomalies/${a.id}`,
      { review: 'dismissed', comment: 'the fire alarm rang' },
      { token: proctor.token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.review, 'dismissed');
    assert.equal(res.body.review_comment, 'the fire alarm rang');
    assert.equal(res.body.reviewed_by, proctor.user.id);
    res = await server.patch(`/monitoring/anomalies/${a.id}`,
      { review: 'pending' }, { token: proctor.token });
    assert.equal(res.status, 422, res.text);
    res = await server.patch(`/monitoring/anomalies/${a.id}`,
      { review: 'confirmed' }, { token: student.token });
    assert.equal(res.status, 403, res.text);
  });

  test('the session summary counts frames and scores', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 1000, 250);
    await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'tab_hidden' }, { token: student.token });
    await sleep(400);
    const res = await server.get(`/monitoring/sessions/${s.id}`,
                                 { token: proctor.token });
    assert.equal(res.status, 200, res.text);
    const sum = res.body.summary;
    assert.ok(sum.frames_received >= 3, res.text);
    assert.ok(sum.frames_analysed >= 1, res.text);
    assert.ok(sum.one_face_share > 0.5, res.text);
    assert.equal(sum.anomalies.tab_change, 1);
    assert.ok(sum.suspicion.score > 0);
    assert.ok(sum.suspicion.parts.tab_change.points > 0);
    assert.equal(typeof sum.suspicion.parts.face_absent.weight, 'number');
  });
});

describe('WebSockets', () => {
  test('the stream analyses binary frames and takes events', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const { ws, messages, opened } =
      openSocket(`/monitoring/sessions/${s.id}/stream`, student.token);
    await opened;
    ws.send(FACE);
    const result = await waitFor(() =>
      messages.find((m) => m.type === 'frame.result'));
    assert.ok(result, JSON.stringify(messages));
    assert.equal(result.status, 'analysed');
    assert.equal(result.detection.face_count, 1);

    ws.send(JSON.stringify({ type: 'paste', at: Date.now() }));
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'clipboard').length > 0, 3000);
    assert.equal(ofType(list, 'clipboard').length, 1, JSON.stringify(list));

    ws.send(JSON.stringify({ type: 'nonsense' }));
    const err = await waitFor(() => messages.find((m) => m.type === 'error'));
    assert.equal(err.code, 'validation_failed');
    assert.equal(err.field, 'type');

    ws.send('{"type": ');
    const bad = await waitFor(() => messages.filter(
      (m) => m.type === 'error')[1]);
    assert.equal(bad.code, 'invalid_json');
    ws.close();
  });

  test('stream events are applied in the order sent', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    const { ws, messages, opened } =
      openSocket(`/monitoring/sessions/${s.id}/stream`, student.token);
    await opened;
    for (let i = 0; i < 10; i += 1) {
      ws.send(JSON.stringify({ type: i % 2 ? 'tab_visible' : 'tab_hidden',
                               at: i + 1 }));
    }
    const list = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'tab_change').filter((a) => a.ended_at).length === 5,
      3000);
    const tabs = ofType(list, 'tab_change');
    assert.equal(tabs.length, 5, JSON.stringify(list));
    tabs.forEach((a, i) => {
      assert.ok(a.ended_at, JSON.stringify(a));
      assert.equal(a.evidence[0].event, 'tab_hidden');
      assert.equal(a.evidence[0].client_ms, 2 * i + 1);
      assert.equal(a.evidence[1].event, 'tab_visible');
      assert.equal(a.evidence[1].client_ms, 2 * i + 2);
    });
    assert.ok(!messages.some((m) => m.type === 'error'),
              JSON.stringify(messages));
    ws.close();
  });

  test('another student cannot open the stream', async () => {
    const owner = await newStudent();
    const other = await newStudent();
    const s = await startSession(owner);
    const { opened } = openSocket(`/monitoring/sessions/${s.id}/stream`,
                                  other.token);
    await assert.rejects(opened, /403/);
  });

  test('a proctor on /monitoring/live sees the anomaly', async () => {
    const student = await newStudent();
    const exam = newExam();
    const { ws, messages, opened } =
      openSocket(`/monitoring/live?exam_id=${exam}`, proctor.token);
    await opened;
    await waitFor(() => messages.find((m) => m.type === 'subscribed'));
    const s = await startSession(student, exam);
    await server.post(`/monitoring/sessions/${s.id}/events`,
      { type: 'tab_hidden' }, { token: student.token });
    const seen = await waitFor(() => messages.find((m) =>
      m.data && m.data.type === 'anomaly.detected'));
    assert.ok(seen, JSON.stringify(messages));
    assert.equal(seen.topic, `monitoring/exam/${exam}`);
    assert.equal(seen.data.anomaly.type, 'tab_change');
    assert.equal(seen.data.anomaly.session_id, s.id);
    const started = messages.find((m) => m.data &&
      m.data.type === 'session.started');
    assert.ok(started, JSON.stringify(messages));
    assert.ok(started.seq < seen.seq, `${started.seq} >= ${seen.seq}`);
    ws.close();

    // Resuming after the first message replays the rest, in order.
    const again = openSocket(
      `/monitoring/live?exam_id=${exam}&after=${started.seq}`, proctor.token);
    await again.opened;
    const replayed = await waitFor(() => again.messages.find((m) =>
      m.data && m.data.type === 'anomaly.detected'));
    assert.equal(replayed.seq, seen.seq);
    assert.ok(!again.messages.some((m) => m.seq === started.seq));
    again.ws.close();
  });

  test('students may not open /monitoring/live', async () => {
    const student = await newStudent();
    const { opened } = openSocket('/monitoring/live', student.token);
    await assert.rejects(opened, /403/);
  });
});

describe('restart', () => {
  test('a restart closes the open anomalies', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-api-restart-'));
    const env = { PW_MONITOR_SILENCE: String(SILENCE_S),
                  PW_MONITOR_WORKERS: '1' };
    const exam = newExam();
    let first = null;
    let second = null;
    let live = null;

    try {
      first = await startServer({ env, dataDir });
      const student = await first.userWithRole('student',
                                               'restart@example.org');
      const staff = await first.userWithRole('proctor',
                                             'restart-proctor@example.org');
      let res = await first.post('/monitoring/sessions', { exam_id: exam },
                                 { token: student.token });
      assert.equal(res.status, 201, res.text);
      const s = res.body;
      res = await first.post(`/monitoring/sessions/${s.id}/events`,
        { type: 'tab_hidden' }, { token: student.token });
      assert.equal(res.status, 202, res.text);
      await sleep(300);
      const stopping = Date.now();
      await first.stop();
      const stopped = Date.now();

      // A clean stop records that the tab was still hidden as it stopped.
      second = await startServer({ env, dataDir });
      res = await second.get(`/monitoring/sessions/${s.id}/anomalies`,
                             { token: staff.token });
      assert.equal(res.status, 200, res.text);
      let tabs = ofType(res.body.items, 'tab_change');
      assert.equal(tabs.length, 1, res.text);
      assert.equal(tabs[0].closed_by, 'restart');
      const endedAt = Date.parse(tabs[0].ended_at);
      assert.ok(endedAt >= stopping, `${tabs[0].ended_at} < ${stopping}`);
      assert.ok(endedAt <= stopped, `${tabs[0].ended_at} > ${stopped}`);

      // The hub keeps the restart's anomaly.ended for a proctor catching up.
      const messages = [];
      live = new WebSocket(`ws://127.0.0.1:${second.port}/monitoring/live` +
                           `?exam_id=${exam}&after=0`, ['bearer', staff.token]);
      live.on('message', (data) => messages.push(JSON.parse(data.toString())));
      const ended = await waitFor(() => messages.find((m) =>
        m.data && m.data.type === 'anomaly.ended'));
      assert.ok(ended, JSON.stringify(messages));
      assert.equal(ended.data.anomaly.session_id, s.id);
      assert.equal(ended.data.anomaly.closed_by, 'restart');
      assert.equal(ended.data.anomaly.ended_at, tabs[0].ended_at);

      // The session goes on: a new hidden tab opens a new episode.
      res = await second.post(`/monitoring/sessions/${s.id}/events`,
        { type: 'tab_hidden' }, { token: student.token });
      assert.equal(res.status, 202, res.text);
      res = await second.get(`/monitoring/sessions/${s.id}/anomalies`,
                             { token: staff.token });
      tabs = ofType(res.body.items, 'tab_change');
      assert.equal(tabs.length, 2, res.text);
      assert.equal(tabs[1].ended_at, null);
      assert.equal(tabs[1].closed_by, undefined);
    } finally {
      if (live) live.close();
      if (first) await first.stop();
      if (second) await second.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('command line', () => {
  test('replay streams a folder and prints anomalies', async () => {
    const email = 'replayer@example.org';
    await server.register({ email, password: 'tulip-Harbor-42' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-replay-'));
    try {
      // Name order is send order: one face, three faces, one face.
      const frames = [...Array(3).fill(FACE), ...Array(5).fill(THREE),
                      ...Array(3).fill(FACE)];
      frames.forEach((jpeg, i) =>
        fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.jpg`),
                         jpeg));
      const res = await runCli(['replay', '--url', server.url, '--email', email,
                                '--exam', newExam(), '--fps', '8', dir],
                               { input: 'tulip-Harbor-42\n' });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /11 frames accepted, 0 refused/);
      assert.match(res.stdout, /^multiple_faces +critical /m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('purge-evidence keeps fresh snapshots', async () => {
    const student = await newStudent();
    const s = await startSession(student);
    await sendFor(student, s.id, FACE, 300, 100);
    await sendFor(student, s.id, THREE, 1200, 200);
    const [multi] = await waitForAnomalies(student.token, s.id,
      (l) => ofType(l, 'multiple_faces').length > 0);
    const res = await runCli(['jobs', 'run', 'purge-evidence', '--data-dir',
                              server.dataDir], { env: server.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /deleted 0 snapshots older than 30 days/);
    const ev = await server.get(`/monitoring/anomalies/${multi.id}/evidence`,
                                { token: proctor.token });
    assert.equal(ev.status, 200, ev.text);
  });
});
