// Heartbeat soak: many official clients on a short
// --ping-interval; no healthy session may be dropped. Needs its own server
// started with a short ping interval. COWORK_E2E_SOAK_MS (default 12000)
// and COWORK_E2E_SOAK_CLIENTS (default 50) size it.
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { client, connected, token, closeAll, sleep } from '../lib/e2e.mjs';

const DURATION = Number(process.env.COWORK_E2E_SOAK_MS || 12_000);
const N = Number(process.env.COWORK_E2E_SOAK_CLIENTS || 50);
const sockets = [];
after(() => closeAll(sockets));

it(`${N} clients × ${DURATION} ms: no spurious disconnect`, async (t) => {
  const reasons = {};
  let pings = 0;
  for (let i = 0; i < N; i++) {
    // A third each: websocket, polling, and the default upgrade.
    const transports = [['websocket'], ['polling'], undefined][i % 3];
    const s = client({ auth: { token: token(900_000 + i) }, transports });
    s.on('disconnect', (reason) => { reasons[reason] = (reasons[reason] || 0) + 1; });
    sockets.push(s);
  }
  await Promise.all(sockets.map((s) => connected(s, 15_000)));
  for (const s of sockets) s.io.engine.on('ping', () => { pings += 1; });
  await sleep(DURATION);
  const total = Object.values(reasons).reduce((a, b) => a + b, 0);
  t.diagnostic(`heartbeat soak: ${N} clients, ${DURATION} ms, ${pings} pings, disconnects ${JSON.stringify(reasons)}`);
  assert.ok(pings > 0, 'heartbeats happened');
  assert.equal(reasons['ping timeout'] ?? 0, 0, 'ping timeout disconnects');
  assert.equal(total, 0, `disconnects: ${JSON.stringify(reasons)}`);
  assert.ok(sockets.every((s) => s.connected));
});
