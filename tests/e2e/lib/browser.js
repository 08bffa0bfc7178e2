// SPDX-License-Identifier: Apache-2.0
//
// The end-to-end harness: Debian's Chromium driven by playwright-core, and
// tiny static origins on 127.0.0.1 that serve the pages the browser runs
// its scripts from.  The proctorwise binary itself starts through the API
// suite's harness (tests/api/lib/server.js), which this module re-exports.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { startServer, sleep } = require('../../api/lib/server');

const CHROMIUM = process.env.PW_CHROMIUM || '/usr/bin/chromium';
const PAGE_TIMEOUT_MS = 15000;

// Without the background-networking flags Chromium keeps dialling Google's
// hosts, which a closed network rejects.  --no-sandbox is needed as root.
const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A fake camera (Chromium's test pattern) that getUserMedia gets without a
// permission prompt.
const WEBCAM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

// Launch headless Chromium and resolve with the playwright Browser.  Each
// launch gets a new empty profile, because playwright creates a temporary
// --user-data-dir and deletes it at close().
async function launchBrowser({ webcam = false } = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium ` +
                    '(scripts/install-deps.sh) or set PW_CHROMIUM');
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: webcam ? [...BASE_ARGS, ...WEBCAM_ARGS] : BASE_ARGS,
    timeout: PAGE_TIMEOUT_MS,
  });
}

const PAGE_HTML = '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
  '<title>proctorwise e2e</title></head><body></body></html>';

// Start a static HTTP server on a free port of 127.0.0.1 that responds to
// every GET with one empty HTML page.  Its origin is a second origin next to
// the proctorwise server's.  Resolves with {origin, close()}.
function startOrigin() {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE_HTML);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}

// Open a new page of browser at origin's page.  The page's console errors
// are kept in page.consoleErrors for assertion messages.
async function openPage(browser, origin) {
  const page = await browser.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.consoleErrors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.consoleErrors.push(msg.text());
  });
  await page.goto(`${origin}/`);
  return page;
}

// Stop server and throw unless it exited with status 0, so that a crash
// at shutdown or a sanitizer's report (the ASan build) fails the suite.
async function stopServer(server) {
  await server.stop();
  const { code, signal } = server.exited || {};
  if (code !== 0) {
    throw new Error(`proctorwise serve exited with code ${code}, signal ` +
                    `${signal}:\n${server.log}`);
  }
}

module.exports = {
  launchBrowser, startOrigin, openPage, startServer, stopServer, sleep,
  PAGE_TIMEOUT_MS,
};
