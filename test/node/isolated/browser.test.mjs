// Headless Chromium (playwright-core driving the system's browser) opens a
// small page of ours through coworkctl (--upstream serves it from the stub
// backend: one origin). The page loads /socket.io/socket.io.js from
// coworkctl, goes live, and shows another user's hold within moments.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { URL as BASE, token, uniqueUser, dateIn, slotAction, SOON_MS } from '../lib/e2e.mjs';

const executablePath = process.env.COWORK_TEST_CHROMIUM;
if (!executablePath) throw new Error('COWORK_TEST_CHROMIUM is not set: run through go test ./test/e2e -run TestNodeBrowser');

let browser;
after(async () => { if (browser) await browser.close(); });

test('our page loads the bundle from coworkctl and goes live', async () => {
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage();
  const bundle = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/socket.io/socket.io.js')) bundle.push({ url: r.url(), status: r.status(), etag: r.headers().etag });
  });
  const date = dateIn(1);
  const me = uniqueUser(41);
  await page.goto(`${BASE}/live.html?spazio=3&sede=1&date=${date}&token=${encodeURIComponent(token(me))}`);

  await page.waitForFunction(() => window.live && window.live.joined && window.live.loaded, null, { timeout: SOON_MS });
  assert.deepEqual(bundle.map((b) => [b.url, b.status, b.etag]), [[`${BASE}/socket.io/socket.io.js`, 200, '"4.8.4"']]);
  assert.equal(await page.locator('[data-slot-id="4"]').getAttribute('data-status'), 'available');

  const r = await slotAction('hold', token(uniqueUser(41)), { slot: 4, spazioId: 3, sedeId: 1, date });
  assert.equal(r.status, 200);
  await page.waitForSelector('[data-slot-id="4"][data-status="occupied"]', { timeout: SOON_MS });
  await page.waitForFunction(() => window.live.transport === 'websocket', null, { timeout: SOON_MS });
  const live = await page.evaluate(() => window.live);
  assert.deepEqual(live.errors, []);
  assert.ok(live.updates >= 1);
});
