// SPDX-License-Identifier: Apache-2.0
//
// The black-box test harness: start the real proctorwise binary (PW_BIN) on
// a free port of 127.0.0.1 with a fresh data directory, wait until /healthz
// responds, send requests, and stop the process and remove the directory at
// the end.  Every test file starts its own server, so files do not share
// state.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 15000;
const LOG_KEEP_BYTES = 64 * 1024;

function binaryPath() {
  const bin = process.env.PW_BIN;
  if (!bin) {
    throw new Error('PW_BIN is not set: point it at the proctorwise binary, ' +
                    'e.g. PW_BIN=../../build/proctorwise');
  }
  return path.resolve(bin);
}

// Ask the kernel for a port that is free now.  Another process could take it
// before the server binds; the start then fails loudly rather than flakily.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Send one HTTP request and resolve with {status, headers, text, body}; body
// is the parsed JSON when the response is JSON, else null.
//
// options: json (sent as application/json), body (string or Buffer, sent as
// is), headers, token (Authorization: Bearer), chunked (send the body with
// chunked transfer encoding, so without Content-Length).
function request(baseUrl, method, urlPath, options = {}) {
  const { json, token, chunked = false } = options;
  const headers = { ...(options.headers || {}) };
  let payload = options.body;

  if (json !== undefined) {
    payload = JSON.stringify(json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
  }
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (payload !== undefined && !chunked) {
    headers['Content-Length'] = Buffer.byteLength(payload);
  }

  return new Promise((resolve, reject) => {
    const req = http.request(new URL(urlPath, baseUrl), {
      method,
      headers,
      timeout: REQUEST_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        if ((res.headers['content-type'] || '').startsWith('application/json')) {
          body = JSON.parse(text);
        }
        resolve({ status: res.statusCode, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    // The server may respond (413, 415) and close before it reads the whole
    // body; the response has then arrived and the write error is expected.
    req.on('error', (err) => {
      if (!req.res) reject(err);
    });

    if (payload !== undefined && chunked) {
      const buf = Buffer.from(payload);
      const step = 4096;
      for (let off = 0; off < buf.length; off += step) {
        req.write(buf.subarray(off, off + step));
      }
    } else if (payload !== undefined) {
      req.write(payload);
    }
    req.end();
  });
}

// Run `proctorwise ARGS...` to completion with input on stdin; resolve with
// {code, stdout, stderr}.
function runCli(args, { env = {}, input = '' } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(binaryPath(), args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

class TestServer {
  constructor(child, port, dataDir, env, ownsDataDir = true) {
    this.child = child;
    this.port = port;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.env = env;
    this.url = `http://127.0.0.1:${port}`;
    this.log = '';
    this.exited = null;
    child.stdout.on('data', (d) => this.keepLog(d));
    child.stderr.on('data', (d) => this.keepLog(d));
    child.on('exit', (code, signal) => { this.exited = { code, signal }; });
  }

  keepLog(data) {
    this.log = (this.log + data).slice(-LOG_KEEP_BYTES);
  }

  request(method, urlPath, options) {
    return request(this.url, method, urlPath, options);
  }

  get(urlPath, options) { return this.request('GET', urlPath, options); }

  post(urlPath, json, options = {}) {
    return this.request('POST', urlPath, { ...options, json });
  }

  patch(urlPath, json, options = {}) {
    return this.request('PATCH', urlPath, { ...options, json });
  }

  // Register a student; resolves with the created user, or throws.
  async register({ email, password, full_name = 'Test User' }) {
    const res = await this.post('/users/register', { email, password, full_name });
    if (res.status !== 201) {
      throw new Error(`register ${email}: ${res.status} ${res.text}`);
    }
    return res.body;
  }

  // Log in; resolves with {token, user}, or throws.
  async login(email, password) {
    const res = await this.post('/users/login', { email, password });
    if (res.status !== 200) {
      throw new Error(`login ${email}: ${res.status} ${res.text}`);
    }
    return { token: res.body.access_token, user: res.body.user };
  }

  // Create an account the way an operator does: `proctorwise user add` with
  // the password on stdin, against this server's data directory.
  async addUser({ email, password, role, fullName }) {
    const args = ['user', 'add', '--email', email, '--role', role,
                  '--data-dir', this.dataDir];
    if (fullName) args.push('--full-name', fullName);
    const res = await runCli(args, { env: this.env, input: `${password}\n` });
    if (res.code !== 0) {
      throw new Error(`user add ${email}: exit ${res.code}: ${res.stderr}`);
    }
    return res;
  }

  // Add a user with role and log in; resolves with {token, user}.
  async userWithRole(role, email, password = 'tulip-Harbor-42') {
    if (role === 'student') {
      await this.register({ email, password });
    } else {
      await this.addUser({ email, password, role });
    }
    return this.login(email, password);
  }

  async stop() {
    if (!this.exited) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    if (this.ownsDataDir) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

// Start `proctorwise serve` with extra env vars (merged over process.env)
// and resolve once /healthz responds with 200.  extraArgs go after the defaults.
// dataDir reuses an existing data directory, e.g. to restart a server on the
// data of a stopped one; the caller then removes it, as stop() keeps it.
async function startServer({ env = {}, extraArgs = [], dataDir: reuseDir } = {}) {
  const port = await freePort();
  const dataDir = reuseDir || fs.mkdtempSync(path.join(os.tmpdir(), 'pw-api-'));
  const fullEnv = { PW_LOG_LEVEL: 'warn', ...env };
  const child = spawn(binaryPath(),
    ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs],
    { env: { ...process.env, ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new TestServer(child, port, dataDir, fullEnv, !reuseDir);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (server.exited) {
      await server.stop();
      throw new Error(`proctorwise serve exited (${JSON.stringify(server.exited)}):\n${server.log}`);
    }
    try {
      const res = await server.get('/healthz');
      if (res.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`proctorwise serve did not answer /healthz within ` +
                      `${START_TIMEOUT_MS} ms:\n${server.log}`);
    }
    await sleep(50);
  }
}

module.exports = { startServer, request, runCli, sleep };
