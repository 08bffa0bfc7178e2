// SPDX-License-Identifier: Apache-2.0
//
// Monitoring load benchmark: N simulated students each send a 640x480 JPEG
// once a second over their session's WebSocket, alternating a one-face
// frame and a three-face frame, while one proctor follows
// /monitoring/live.  The server runs with PW_MONITOR_MULTI_FACE_FRAMES=1
// and PW_MONITOR_CLEAR_FRAMES=1, so every three-face frame opens a
// multiple_faces anomaly and the next frame closes it.  Printed: sessions
// sustained (a result for every frame), frames dropped (no result), and
// the p50/p99 delay from sending an anomaly's opening frame to the
// proctor receiving anomaly.detected.
//
// --every K sends the three-face frame on every Kth frame only (default 2,
// the worst case above).  With K = 10 the face count changes twice in ten
// frames, so the object detector runs on about one frame in four, nearer
// to a real session where the count rarely changes.
//
// usage: node bench.js [--sessions N] [--seconds S] [--every K]
// needs PW_MODEL_DIR, PW_BIN (or build/proctorwise) and ImageMagick's
// convert; the ws package comes from tests/api/node_modules.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const WebSocket = require(require.resolve('ws',
  { paths: [path.join(root, 'tests', 'api')] }));
const { startServer, sleep } = require(path.join(root, 'tests', 'api', 'lib',
                                                 'server'));

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const SESSIONS = arg('sessions', 20);
const SECONDS = Math.min(arg('seconds', 30), 300);
const EVERY = Math.max(2, Math.floor(arg('every', 2)));
const DRAIN_MS = 5000;

// Pad a fixture photo to exactly 640x480, as a webcam would send it.
function frame640(name, dir) {
  const out = path.join(dir, name);
  execFileSync('convert', [path.join(root, 'tests', 'fixtures', 'photos', name),
    '-resize', '640x480', '-background', 'gray', '-gravity', 'center',
    '-extent', '640x480', '-quality', '85', out]);
  return fs.readFileSync(out);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function openSocket(port, urlPath, token) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`,
                           ['bearer', token]);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-bench-mon-'));
  const one = frame640('webcam_woman.jpg', tmp);
  const three = frame640('three_faces.jpg', tmp);
  const server = await startServer({
    env: {
      PW_MONITOR_MULTI_FACE_FRAMES: '1',
      PW_MONITOR_CLEAR_FRAMES: '1',
      PW_LOGIN_MAX_ATTEMPTS_PER_IP: '100000',
      PW_HTTP_THREADS: '4',
    },
  });
  try {
    const proctor = await server.userWithRole('proctor', 'p@bench.test');
    const live = await openSocket(server.port, '/monitoring/live?exam_id=bench',
                                  proctor.token);
    const sentAt = new Map();  // `${session}/${seq}` -> ms
    const delays = [];
    live.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (!m.data || m.data.type !== 'anomaly.detected') return;
      const a = m.data.anomaly;
      const t = sentAt.get(`${a.session_id}/${a.frame_seq}`);
      if (t !== undefined) delays.push(Date.now() - t);
    });

    const students = [];
    for (let i = 0; i < SESSIONS; i++) {
      const st = await server.userWithRole('student', `s${i}@bench.test`);
      const res = await server.post('/monitoring/sessions', { exam_id: 'bench' },
                                    { token: st.token });
      if (res.status !== 201) throw new Error(res.text);
      const ws = await openSocket(server.port,
        `/monitoring/sessions/${res.body.id}/stream`, st.token);
      const s = { id: res.body.id, ws, sent: 0, answered: 0, errors: 0,
                  closed: false };
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === 'frame.result') s.answered += 1;
        else if (m.type === 'error') s.errors += 1;
      });
      ws.on('close', () => { s.closed = true; });
      students.push(s);
    }

    // Spread the sessions over each second, as real clients would be.
    const start = Date.now();
    const timers = students.map((s, i) => setTimeout(function tick() {
      if (Date.now() - start >= SECONDS * 1000 || s.closed) return;
      s.sent += 1;
      sentAt.set(`${s.id}/${s.sent}`, Date.now());
      s.ws.send(s.sent % EVERY === 0 ? three : one);
      timers[i] = setTimeout(tick, 1000);
    }, Math.floor((i * 1000) / SESSIONS)));
    await sleep(SECONDS * 1000 + DRAIN_MS);
    timers.forEach(clearTimeout);

    const sent = students.reduce((n, s) => n + s.sent, 0);
    const answered = students.reduce((n, s) => n + s.answered, 0);
    const sustained = students.filter((s) => !s.closed && s.errors === 0 &&
                                      s.answered === s.sent).length;
    const expected = students.reduce((n, s) => n + Math.floor(s.sent / EVERY),
                                     0);
    delays.sort((a, b) => a - b);
    console.log(`sessions ${SESSIONS}, ${SECONDS} s at 1 frame/s, ` +
                `three faces every ${EVERY} frames, ${os.cpus().length} cores`);
    console.log(`sessions sustained: ${sustained}/${SESSIONS}`);
    console.log(`frames sent ${sent}, analysed ${answered}, ` +
                `dropped ${sent - answered}`);
    console.log(`anomalies seen by the proctor: ${delays.length}/${expected}`);
    console.log(`frame to proctor delay: p50 ${percentile(delays, 0.5)} ms, ` +
                `p99 ${percentile(delays, 0.99)} ms, max ${delays.at(-1)} ms`);
    for (const s of students) s.ws.close();
    live.close();
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
