// Graceful shutdown (SIGTERM): clients are told, see a transport close and
// start reconnecting; the Go side checks the exit status. Needs its own
// server: COWORK_E2E_PID is the process to signal.
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  client, connected, emitAck, once, token, uniqueUser, closeAll, dateIn, slotAction, holdMessage, ISO_UTC,
} from '../lib/e2e.mjs';

const PID = Number(process.env.COWORK_E2E_PID);
const sockets = [];
after(() => closeAll(sockets));

it('hold text follows a whole-minute --hold-ttl', async () => {
  const r = await slotAction('hold', token(uniqueUser(6)), { slot: 1, spazioId: 1, sedeId: 1, date: dateIn(2) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.message, holdMessage());
  assert.match(holdMessage(), /^Slot occupato per \d+ minuti$/);
});

it('SIGTERM: server_shutdown, then a transport close and auto-reconnect', async () => {
  assert.ok(PID > 0, 'COWORK_E2E_PID is set');
  const kinds = { websocket: ['websocket'], polling: ['polling'], upgrade: undefined };
  const clients = [];
  for (const [name, transports] of Object.entries(kinds)) {
    const s = client({ auth: { token: token(uniqueUser(6)) }, transports, reconnectionDelay: 500, reconnectionDelayMax: 500 });
    sockets.push(s);
    await connected(s);
    assert.equal((await emitAck(s, 'join_space', { spazioId: 1, sedeId: 1 })).success, true);
    clients.push({
      name,
      shutdown: once(s, 'server_shutdown', 8000),
      disconnect: once(s, 'disconnect', 8000),
      retry: once(s.io, 'reconnect_attempt', 8000),
    });
  }
  process.kill(PID, 'SIGTERM');
  const problems = [];
  for (const c of clients) {
    const [notice, reason, retry] = await Promise.allSettled([c.shutdown, c.disconnect, c.retry]);
    if (notice.status === 'rejected') {
      problems.push(`${c.name}: ${notice.reason.message}`);
    } else {
      assert.equal(typeof notice.value.message, 'string', c.name);
      assert.match(notice.value.timestamp, ISO_UTC);
    }
    if (reason.status === 'rejected') {
      problems.push(`${c.name}: ${reason.reason.message}`);
    } else if (c.name === 'polling') {
      // The long-poll answered with server_shutdown is not re-armed before
      // the session closes, so the next poll fails: a 'transport error' on
      // polling (still an unexpected close the client retries).
      if (!['transport close', 'transport error'].includes(reason.value)) problems.push(`${c.name}: disconnect reason ${reason.value}`);
    } else if (reason.value !== 'transport close') {
      problems.push(`${c.name}: disconnect reason ${reason.value}, want 'transport close'`);
    }
    // The official client reconnects on its own.
    if (retry.status === 'rejected') problems.push(`${c.name}: ${retry.reason.message}`);
  }
  assert.deepEqual(problems, []);
});
