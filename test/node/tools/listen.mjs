// listen.mjs: a socket.io-client that joins one spazio and prints every
// server event as a JSON line {event, at, payload} on stdout, starting with
// {"event":"ready"} once joined. Used by Go tests (serve_restart_test.go).
// Env: COWORK_E2E_URL, COWORK_E2E_SECRET, LISTEN_SPAZIO, LISTEN_SEDE,
// LISTEN_DATE, LISTEN_USER (default 424242). Exits when stdin closes.
import { client, connected, emitAck, token } from '../lib/e2e.mjs';

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const s = client({ auth: { token: token(Number(process.env.LISTEN_USER || 424242)) }, transports: ['websocket'] });
s.onAny((event, payload) => out({ event, at: Date.now(), payload }));
s.on('disconnect', (reason) => out({ event: 'disconnect', at: Date.now(), payload: reason }));
await connected(s, 10_000);
const ack = await emitAck(s, 'join_space', {
  spazioId: Number(process.env.LISTEN_SPAZIO), sedeId: Number(process.env.LISTEN_SEDE), date: process.env.LISTEN_DATE,
});
if (!ack.success) {
  console.error(`join failed: ${JSON.stringify(ack)}`);
  process.exit(1);
}
out({ event: 'ready', at: Date.now(), payload: ack });
process.stdin.resume();
process.stdin.on('end', () => { s.disconnect(); process.exit(0); });
