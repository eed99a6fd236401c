// A client that behaves like the original slot page (our own code, written
// from what the page does): it lists sedi and spazi through coworkctl's
// --upstream (a stub of the original backend), joins its room WITHOUT a
// date, loads its grid over REST, applies every slot_update and
// slots_status_update blindly (no versions, no dates), and holds all its
// selected slots in parallel; the server runs with default flags.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { client, connected, token, uniqueUser, dateIn, api, slotAction, grid, Recorder, closeAll, SOON_MS } from '../lib/e2e.mjs';

const SPAZIO = 2;
const SEDE = 1;

// A token as the original backend's login signs it (same secret): its user
// fields, issuer and audience; the server checks iss and aud.
const pageToken = (id) => token(id, 'cliente', {
  nome: 'Ada', cognome: 'Rossi', email: `u${id}@example.com`, telefono: null,
  iss: 'coworking-mio', aud: 'coworking-mio-users',
});

/** BlindGrid is the page's view: slot number → status, from REST and events. */
class BlindGrid {
  constructor(socket) {
    this.status = new Map();
    socket.on('slot_update', (p) => this.status.set(p.slotId, p.status));
    socket.on('slots_status_update', (p) => {
      this.status.clear();
      for (const s of p.slotsStatus) this.status.set(s.id_slot, s.status);
    });
  }

  load(slots) {
    this.status.clear();
    for (const s of slots) this.status.set(s.id_slot, s.status);
  }

  toString() {
    return [...this.status.entries()].sort((a, b) => a[0] - b[0]).map(([n, s]) => `${n}:${s}`).join(' ');
  }
}

const view = (slots) => slots.map((s) => `${s.id_slot}:${s.status}`).join(' ');

async function settle(g, date) {
  // The page's view converges on the server's: wait for it, bounded.
  const deadline = Date.now() + SOON_MS;
  let want;
  while (Date.now() < deadline) {
    want = view(await grid(SPAZIO, date));
    if (g.toString() === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(g.toString(), want, 'the blind page grid differs from the server\'s');
}

describe('a client like the original slot page, through --upstream, default flags', () => {
  const sockets = [];
  after(() => closeAll(sockets));

  test('sedi and spazi come from the backend, in its bare-array shapes', async () => {
    const sedi = await api('GET', '/api/sedi');
    assert.equal(sedi.status, 200);
    assert.ok(Array.isArray(sedi.body), 'GET /api/sedi must be a bare array');
    const names = [];
    sedi.body.forEach((s) => names.push(s.nome)); // what the page does
    assert.ok(names.includes('Cowork Milano'));
    assert.equal(sedi.body[0].indirizzo, 'Via Stub 1', 'the answer is the backend\'s, not coworkctl\'s catalog');
    const spazi = await api('GET', `/api/spazi?id_sede=${SEDE}`);
    assert.ok(Array.isArray(spazi.body) && spazi.body.some((s) => s.id_spazio === SPAZIO));
  });

  test('dateless join, REST grid, blind events, 5 parallel holds, 300 days ahead', async () => {
    const date = dateIn(1);
    const me = uniqueUser(31);
    const other = uniqueUser(31);
    const tok = pageToken(me);

    const socket = client({ auth: { token: tok }, transports: ['websocket', 'polling'] });
    sockets.push(socket);
    const page = new BlindGrid(socket);
    const rec = new Recorder(socket, ['joined_space', 'slots_status_update', 'slot_update']);
    socket.on('connect', () => socket.emit('join_space', { spazioId: SPAZIO, sedeId: SEDE }));
    await connected(socket);
    await rec.wait('joined_space');

    // The page loads its grid over REST (with ?token=, as it does).
    const first = await api('GET', `/api/slots/${SPAZIO}/${date}?token=${encodeURIComponent(tok)}`);
    assert.equal(first.status, 200);
    page.load(first.body.data.slots);

    // Another user holds 5 slots at once; the page sees them live.
    const theirs = await Promise.all([1, 2, 3, 4, 5].map((slot) =>
      slotAction('hold', pageToken(other), { slot, spazioId: SPAZIO, sedeId: SEDE, date })));
    assert.deepEqual(theirs.map((r) => r.status), [200, 200, 200, 200, 200], JSON.stringify(theirs.map((r) => r.body)));
    await settle(page, date);

    // The page's own selection: the other 4 slots, held in parallel.
    const mine = await Promise.all([6, 7, 8, 9].map((slot) =>
      slotAction('hold', tok, { slot, spazioId: SPAZIO, sedeId: SEDE, date })));
    assert.deepEqual(mine.map((r) => r.status), [200, 200, 200, 200], JSON.stringify(mine.map((r) => r.body)));
    await settle(page, date);

    // A dateless join got no snapshot: nothing for another date reached the page.
    assert.equal(rec.all('slots_status_update').length, 0, 'a dateless join must not get a snapshot');
    assert.ok(rec.all('slot_update').every((u) => u.data.date === date));

    // 5 parallel holds 300 days ahead, as the page's date picker allows.
    const far = dateIn(300);
    const farHolds = await Promise.all([1, 2, 3, 4, 5].map((slot) =>
      slotAction('hold', tok, { slot, spazioId: SPAZIO, sedeId: SEDE, date: far })));
    assert.deepEqual(farHolds.map((r) => r.status), [200, 200, 200, 200, 200], JSON.stringify(farHolds.map((r) => r.body)));

    // The booking call goes to the backend, through the same origin.
    const booking = await api('POST', '/api/prenotazioni', { token: tok, body: { id_spazio: SPAZIO, data_inizio: `${date}T13:00:00.000Z`, data_fine: `${date}T17:00:00.000Z` } });
    assert.equal(booking.status, 201);
    assert.equal(booking.body.id_prenotazione, 901);

    // What an operator watches after the switch: proxied answers by status.
    const metrics = await api('GET', '/metrics');
    assert.match(metrics.text, /coworkctl_http_requests_total\{code="201",route="upstream"\} 1\b/);
    assert.match(metrics.text, /coworkctl_holds_total\{result="ok"\} 14\b/);
  });

  test('a token of another issuer is refused, as the server checks iss and aud', async () => {
    const wrong = token(uniqueUser(31), 'cliente', { iss: 'someone-else', aud: 'coworking-mio-users' });
    const r = await slotAction('hold', wrong, { slot: 1, spazioId: SPAZIO, sedeId: SEDE, date: dateIn(2) });
    assert.equal(r.status, 403);
  });
});
