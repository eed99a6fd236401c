// Ghost sockets and duplicate disconnects: 200 clients that
// connect and vanish at once; the server's presence must come back to the
// baseline (the ghost sweep runs every 10 s). Needs its own quiet server.
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, client, connected, token, closeAll, sleep, URL } from '../lib/e2e.mjs';

const N = 200;
const DEADLINE_MS = 30_000; // sweep interval (10 s) plus a generous margin
const staff = token(999_999, 'amministratore');
const keep = [];
const vanished = [];
after(() => closeAll(keep, vanished));

async function stats() {
  const r = await api('GET', '/api/stats', { token: staff });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function metrics() {
  const text = await (await fetch(`${URL}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^(coworkctl_(?:disconnects_total|ghost_sockets_swept_total|sockets))(\{[^}]*\})? (\S+)$/);
    if (m) out[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return out;
}

it(`${N} connect-then-vanish clients: totalSockets back to baseline`, async (t) => {
  // One long-lived client, so the baseline is not just zero.
  const anchor = client({ auth: { token: token(1) }, transports: ['websocket'] });
  keep.push(anchor);
  await connected(anchor);
  const base = (await stats()).totalSockets;
  assert.equal(base, 1);
  const before = await metrics();

  const started = Date.now();
  const kinds = ['terminate-on-connect', 'disconnect-on-connect', 'terminate-on-open', 'polling-abort'];
  await Promise.all(Array.from({ length: N }, (_, i) => new Promise((resolve) => {
    const kind = kinds[i % kinds.length];
    const s = client({ auth: { token: token(10_000 + i) }, transports: kind === 'polling-abort' ? ['polling'] : ['websocket'], reconnection: false });
    vanished.push(s);
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { s.close(); resolve(); }, 10_000);
    s.on('connect_error', () => { s.close(); done(); });
    if (kind === 'terminate-on-open') {
      // Gone right after sending CONNECT, before the server's answer.
      s.io.on('open', () => setImmediate(() => { s.io.engine.transport.ws?.terminate(); s.io.reconnection(false); done(); }));
      return;
    }
    s.on('connect', () => {
      if (kind === 'disconnect-on-connect') s.disconnect();
      else if (kind === 'terminate-on-connect') s.io.engine.transport.ws.terminate();
      else s.io.engine.close();
      done();
    });
  })));

  let last;
  let seenMax = 0;
  while (Date.now() - started < DEADLINE_MS) {
    last = await stats();
    seenMax = Math.max(seenMax, last.totalSockets);
    if (last.totalSockets === base) break;
    await sleep(250);
  }
  const after = await metrics();
  const delta = {};
  for (const [k, v] of Object.entries(after)) {
    if (k.startsWith('coworkctl_sockets')) continue;
    const d = v - (before[k] || 0);
    if (d) delta[k] = d;
  }
  t.diagnostic(`ghosts: back to baseline ${last.totalSockets === base ? 'yes' : 'NO'} after ${Date.now() - started} ms; totalSockets now ${last.totalSockets} (baseline ${base}); metric deltas ${JSON.stringify(delta)}`);
  assert.equal(last.totalSockets, base, `totalSockets ${last.totalSockets} after ${DEADLINE_MS} ms, baseline ${base}`);
  assert.equal(last.connectedUsers, 1);
  assert.ok(anchor.connected, 'the long-lived client was not swept');
});
