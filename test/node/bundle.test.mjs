// The client bundle coworkctl serves at /socket.io/socket.io.js (like
// Node's socket.io serveClient) is the pinned socket.io-client package's
// dist, byte for byte, with Node's ETag / 304 / cache headers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { URL as BASE } from './lib/e2e.mjs';

const require = createRequire(import.meta.url);
const pkgJSON = require.resolve('socket.io-client/package.json');
const { version } = JSON.parse(await readFile(pkgJSON, 'utf8'));
const dist = path.join(path.dirname(pkgJSON), 'dist');

const FILES = [
  'socket.io.js', 'socket.io.js.map',
  'socket.io.min.js', 'socket.io.min.js.map',
  'socket.io.esm.min.js', 'socket.io.esm.min.js.map',
];

describe('client bundle', () => {
  for (const name of FILES) {
    test(`${name} is the npm package's file`, async () => {
      // identity: compare the bytes as served.
      const res = await fetch(`${BASE}/socket.io/${name}`, { headers: { 'Accept-Encoding': 'identity' } });
      assert.equal(res.status, 200);
      const served = Buffer.from(await res.arrayBuffer());
      const want = await readFile(path.join(dist, name));
      assert.ok(served.equals(want), `${name}: ${served.length} bytes served, npm has ${want.length}`);
      assert.equal(res.headers.get('etag'), `"${version}"`);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=0');
      assert.equal(res.headers.get('content-type'),
        name.endsWith('.map') ? 'application/json; charset=utf-8' : 'application/javascript; charset=utf-8');

      const again = await fetch(`${BASE}/socket.io/${name}`, { headers: { 'If-None-Match': `"${version}"` } });
      assert.equal(again.status, 304);
      assert.equal((await again.arrayBuffer()).byteLength, 0);
    });
  }

  test('compressed answers decode to the same bytes', async () => {
    // fetch decodes gzip itself; the bytes must still be the package's.
    const res = await fetch(`${BASE}/socket.io/socket.io.min.js`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    const served = Buffer.from(await res.arrayBuffer());
    assert.ok(served.equals(await readFile(path.join(dist, 'socket.io.min.js'))));
  });

  test('the bundle carries its version and licence banner', async () => {
    const src = await (await fetch(`${BASE}/socket.io/socket.io.js`)).text();
    assert.match(src, new RegExp(`Socket\\.IO v${version.replace(/\./g, '\\.')}`));
    assert.match(src, /Released under the MIT License/);
  });
});
