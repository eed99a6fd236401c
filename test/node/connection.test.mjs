// Transports, handshake authentication and connection_confirmed, with the
// official socket.io-client.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  client, connected, connectError, once, emitAck, token, sign, uniqueUser, closeAll, sleep, ISO_UTC, SOON_MS,
} from './lib/e2e.mjs';

const sockets = [];
const open = (opts) => {
  const s = client(opts);
  sockets.push(s);
  return s;
};
after(() => closeAll(sockets));

// roundTrip proves the session carries events both ways on its transport.
async function roundTrip(socket) {
  const ack = await emitAck(socket, 'ping_latency', { sent: Date.now() });
  assert.equal(ack.ok, true);
  assert.match(ack.timestamp, ISO_UTC);
}

describe('transports', () => {
  it('websocket only', async () => {
    const s = open({ auth: { token: token(uniqueUser(1)) }, transports: ['websocket'] });
    await connected(s);
    assert.equal(s.io.engine.transport.name, 'websocket');
    await roundTrip(s);
  });

  it('polling only', async () => {
    const s = open({ auth: { token: token(uniqueUser(1)) }, transports: ['polling'] });
    await connected(s);
    assert.equal(s.io.engine.transport.name, 'polling');
    await roundTrip(s);
    // Still polling after a few round trips (no upgrade was allowed).
    await roundTrip(s);
    assert.equal(s.io.engine.transport.name, 'polling');
  });

  it('default: polling upgraded to websocket', async () => {
    const s = open({ auth: { token: token(uniqueUser(1)) } });
    const upgraded = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no upgrade within ${SOON_MS} ms`)), SOON_MS);
      s.io.on('open', () => {
        assert.equal(s.io.engine.transport.name, 'polling', 'the default first transport is polling');
        s.io.engine.once('upgrade', (transport) => { clearTimeout(timer); resolve(transport.name); });
      });
    });
    await connected(s);
    assert.equal(await upgraded, 'websocket');
    assert.equal(s.io.engine.transport.name, 'websocket');
    await roundTrip(s);
  });
});

describe('handshake authentication', () => {
  it('no token → Token di autenticazione richiesto / AUTH_REQUIRED', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const s = open({ transports });
      const err = await connectError(s);
      assert.equal(err.message, 'Token di autenticazione richiesto', `transports ${transports}`);
      assert.deepEqual(err.data, { code: 'AUTH_REQUIRED' });
      assert.equal(s.connected, false);
      s.disconnect();
    }
  });

  it('empty token → AUTH_REQUIRED', async () => {
    const s = open({ auth: { token: '' } });
    const err = await connectError(s);
    assert.equal(err.message, 'Token di autenticazione richiesto');
    assert.equal(err.data?.code, 'AUTH_REQUIRED');
  });

  const now = () => Math.floor(Date.now() / 1000);
  const invalid = {
    'bad signature': () => sign({ id_utente: 5, ruolo: 'cliente', exp: now() + 3600 }, { secret: 'not-the-secret' }),
    'alg none': () => sign({ id_utente: 5, ruolo: 'cliente', exp: now() + 3600 }, { header: { alg: 'none', typ: 'JWT' } }),
    'other algorithm (HS512, right secret)': () => sign({ id_utente: 5, ruolo: 'cliente', exp: now() + 3600 }, { header: { alg: 'HS512', typ: 'JWT' } }),
    expired: () => sign({ id_utente: 5, ruolo: 'cliente', iat: now() - 7200, exp: now() - 3600 }),
    'missing id_utente': () => sign({ ruolo: 'cliente', exp: now() + 3600 }),
    malformed: () => 'not.a.jwt',
    garbage: () => 'x'.repeat(40),
  };
  for (const [name, mk] of Object.entries(invalid)) {
    it(`${name} → Token non valido / AUTH_INVALID`, async () => {
      const s = open({ auth: { token: mk() } });
      const err = await connectError(s);
      assert.equal(err.message, 'Token non valido');
      assert.deepEqual(err.data, { code: 'AUTH_INVALID' });
    });
  }

  it('bad token in the query → AUTH_INVALID', async () => {
    const s = open({ query: { token: invalid['bad signature']() } });
    const err = await connectError(s);
    assert.equal(err.message, 'Token non valido');
    assert.equal(err.data?.code, 'AUTH_INVALID');
  });

  it('token in the query (?token=) connects', async () => {
    const user = uniqueUser(1);
    const s = open({ query: { token: token(user) }, transports: ['websocket'] });
    const confirmed = once(s, 'connection_confirmed');
    await connected(s);
    assert.equal((await confirmed).userId, user);
  });

  it('a rejected client can connect after fixing its token', async () => {
    const user = uniqueUser(1);
    const s = open({});
    await connectError(s);
    s.auth = { token: token(user) };
    const confirmed = once(s, 'connection_confirmed');
    s.connect();
    await connected(s);
    assert.equal((await confirmed).userId, user);
  });
});

describe('connection_confirmed', () => {
  for (const transports of [['websocket'], ['polling']]) {
    it(`payload over ${transports}`, async () => {
      const user = uniqueUser(1);
      const s = open({ auth: { token: token(user, 'gestore') }, transports });
      const confirmed = once(s, 'connection_confirmed');
      await connected(s);
      const c = await confirmed;
      assert.equal(c.message, 'Connesso al sistema real-time');
      assert.equal(c.userId, user);
      assert.equal(typeof c.userId, 'number');
      assert.match(c.timestamp, ISO_UTC);
      assert.ok(Math.abs(Date.parse(c.timestamp) - Date.now()) < 60_000, `timestamp ${c.timestamp} is now`);
      // Additive fields.
      assert.equal(c.ruolo, 'gestore');
      assert.equal(c.socketId, s.id);
      assert.ok(c.recovered === false || c.recovered === undefined, `recovered=${c.recovered}`);
    });
  }

  it('exactly once per connection', async () => {
    const s = open({ auth: { token: token(uniqueUser(1)) }, transports: ['websocket'] });
    let n = 0;
    s.on('connection_confirmed', () => { n += 1; });
    await connected(s);
    await emitAck(s, 'ping_latency', {}); // ordered after the confirmation
    assert.equal(n, 1);
  });
});

describe('token expiry', () => {
  // Like Node's socket.disconnect(true): the DISCONNECT packet reaches the
  // client first, so it sees one 'io server disconnect' and does not retry
  // with its expired token.
  for (const transports of [['websocket'], ['polling']]) {
    it(`session_expired, then one 'io server disconnect' at exp (${transports})`, async () => {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const s = open({ auth: { token: sign({ id_utente: uniqueUser(1), ruolo: 'cliente', exp }) }, transports });
      const reasons = [];
      let attempts = 0;
      s.on('disconnect', (reason) => reasons.push(reason));
      s.io.on('reconnect_attempt', () => { attempts += 1; });
      const expired = once(s, 'session_expired', 10_000);
      const disconnected = once(s, 'disconnect', 10_000);
      await connected(s);
      const e = await expired;
      assert.equal(e.code, 'TOKEN_EXPIRED');
      assert.match(e.timestamp, ISO_UTC);
      await disconnected;
      assert.ok(Date.now() >= (exp - 1) * 1000, 'not disconnected before exp');
      await sleep(1500); // room for a second disconnect or a reconnect attempt to show up
      assert.deepEqual(reasons, ['io server disconnect'], 'disconnect reasons seen by the client');
      assert.equal(attempts, 0, 'reconnect attempts with the expired token');
      assert.equal(s.connected, false);
    });
  }
});
