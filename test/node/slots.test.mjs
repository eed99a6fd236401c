// Slot actions over REST and their slot_update broadcasts.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, client, connected, emitAck, token, uniqueUser, closeAll, dateIn, Recorder, slotAction, grid, holdMessage,
  hasKeyDeep, sign, ISO_UTC, HOLD_TTL_MS,
} from './lib/e2e.mjs';

// This file owns spazi 2 and 3 (sede 1) and spazio 7 (sede 2) on its date.
const DATE = dateIn(4);
const at = (slot, spazioId = 2, sedeId = 1) => ({ slot, spazioId, sedeId, date: DATE });

const sockets = [];
async function open(user, room) {
  const s = client({ auth: { token: token(user) }, transports: ['websocket'] });
  sockets.push(s);
  await connected(s);
  if (room) {
    const ack = await emitAck(s, 'join_space', { ...room, date: DATE });
    assert.equal(ack.success, true, JSON.stringify(ack));
  }
  return s;
}
after(() => closeAll(sockets));

describe('slot_update broadcasts', () => {
  let watcher; let stranger; let holderSock; let staff;
  let watch; let strange; let holderRec; let staffRec;
  const holder = uniqueUser(3);
  const holderTok = token(holder);

  before(async () => {
    watcher = await open(uniqueUser(3), { spazioId: 2, sedeId: 1 });
    stranger = await open(uniqueUser(3), { spazioId: 3, sedeId: 1 });
    holderSock = await open(holder, { spazioId: 2, sedeId: 1 });
    staff = await open(uniqueUser(3), null);
    await emitAck(staff, 'join_space', { spazioId: 2, sedeId: 1, date: DATE });
    watch = new Recorder(watcher, ['slot_update']);
    strange = new Recorder(stranger, ['slot_update']);
    holderRec = new Recorder(holderSock, ['slot_update']);
    staffRec = new Recorder(staff, ['slot_update']);
  });

  function assertUpdate(p, slot, status) {
    assert.equal(p.type, 'slot_update');
    assert.equal(p.slotId, slot);
    assert.equal(p.status, status);
    assert.match(p.timestamp, ISO_UTC);
    const d = p.data;
    assert.equal(d.id, slot);
    assert.equal(d.id_slot, slot);
    assert.equal(d.id_spazio, 2);
    assert.equal(d.id_sede, 1);
    assert.equal(d.date, DATE);
    assert.equal(d.orario, `${String(8 + slot).padStart(2, '0')}:00`);
    assert.equal(d.status, status);
    // Privacy: a broadcast never names the holder.
    assert.equal(hasKeyDeep(p, 'id_utente'), false, `id_utente in ${JSON.stringify(p)}`);
    assert.equal(hasKeyDeep(p, 'userId'), false, `userId in ${JSON.stringify(p)}`);
  }

  it('hold → occupied with expires_at', async () => {
    const waiting = watch.wait('slot_update', (p) => p.slotId === 3 && p.status === 'occupied');
    const r = await slotAction('hold', holderTok, at(3));
    assert.equal(r.status, 200, r.text);
    const p = (await waiting).payload;
    assertUpdate(p, 3, 'occupied');
    assert.match(p.data.expires_at, ISO_UTC);
    assert.equal(p.data.expires_at, r.body.data.expires_at);
    // The holder's own socket and a staff socket in the room get the same broadcast.
    assertUpdate((await holderRec.wait('slot_update', (x) => x.slotId === 3)).payload, 3, 'occupied');
    assertUpdate((await staffRec.wait('slot_update', (x) => x.slotId === 3)).payload, 3, 'occupied');
  });

  it('book → booked', async () => {
    const waiting = watch.wait('slot_update', (p) => p.slotId === 3 && p.status === 'booked');
    const r = await slotAction('book', holderTok, at(3));
    assert.equal(r.status, 200, r.text);
    const p = (await waiting).payload;
    assertUpdate(p, 3, 'booked');
    assert.equal(p.data.expires_at, undefined, 'a booking does not expire');
  });

  it('hold then release → occupied, available', async () => {
    const occ = watch.wait('slot_update', (p) => p.slotId === 4 && p.status === 'occupied');
    assert.equal((await slotAction('hold', holderTok, at(4))).status, 200);
    assertUpdate((await occ).payload, 4, 'occupied');
    const avail = watch.wait('slot_update', (p) => p.slotId === 4 && p.status === 'available');
    const r = await slotAction('release', holderTok, at(4));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.message, 'Slot liberato con successo');
    assertUpdate((await avail).payload, 4, 'available');
  });

  it('a socket in another room got none of it; one update per change', async () => {
    // A change in the stranger's own room, as a fence: once it has arrived,
    // anything from spazio 2 would have arrived too.
    const fence = strange.wait('slot_update', (p) => p.slotId === 1);
    assert.equal((await slotAction('hold', holderTok, at(1, 3, 1))).status, 200);
    await fence;
    assert.deepEqual(strange.all('slot_update', (p) => p.data.id_spazio !== 3), []);
    // The watcher saw each change exactly once, in order.
    const seen = watch.all('slot_update').filter((p) => [3, 4].includes(p.slotId)).map((p) => `${p.slotId}:${p.status}`);
    assert.deepEqual(seen, ['3:occupied', '3:booked', '4:occupied', '4:available']);
  });
});

describe('REST texts and codes', () => {
  const u1 = token(uniqueUser(3));
  const u2 = token(uniqueUser(3));
  const body = { idSpazio: 2, sedeId: 1, date: DATE };

  it('401 without token, 403 with a bad one', async () => {
    for (const action of ['hold', 'book', 'release']) {
      let r = await api('POST', `/api/slots/5/${action}`, { body });
      assert.equal(r.status, 401, action);
      assert.deepEqual({ success: r.body.success, error: r.body.error }, { success: false, error: 'Token di accesso richiesto' });
      r = await api('POST', `/api/slots/5/${action}`, { body, token: 'not-a-jwt' });
      assert.equal(r.status, 403, action);
      assert.deepEqual({ success: r.body.success, error: r.body.error }, { success: false, error: 'Token non valido o scaduto' });
      r = await api('POST', `/api/slots/5/${action}`, { body, headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
      assert.equal(r.status, 401, `${action} with a Basic header`);
    }
  });

  it('expired token → 403', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await slotAction('hold', sign({ id_utente: 9, ruolo: 'cliente', exp: now - 10 }), at(5));
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'Token non valido o scaduto');
  });

  it('hold 200, other user 409, book by other 409, release by other 404, own book 200', async () => {
    let r = await slotAction('hold', u1, at(5));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.success, true);
    assert.equal(r.body.message, holdMessage());
    assert.equal(r.body.data.slotId, 5);
    assert.equal(typeof r.body.data.prenotazione_id, 'number');
    assert.match(r.body.data.expires_at, ISO_UTC);
    const exp = Date.parse(r.body.data.expires_at);
    assert.ok(exp > Date.now() - 1000 && exp <= Date.now() + HOLD_TTL_MS + 5000, `expires_at ${r.body.data.expires_at} ≈ now + TTL`);

    r = await slotAction('hold', u2, at(5));
    assert.equal(r.status, 409);
    assert.deepEqual({ success: r.body.success, error: r.body.error }, { success: false, error: 'Slot non disponibile' });

    r = await slotAction('hold', u1, at(5));
    assert.equal(r.status, 409, 'holding one\'s own held slot again');

    r = await slotAction('book', u2, at(5));
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'Slot non disponibile per prenotazione');

    r = await slotAction('release', u2, at(5));
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'Slot non trovato o non occupato da questo utente');

    r = await slotAction('book', u1, at(5));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.success, true);
    assert.equal(r.body.message, 'Slot prenotato con successo');

    // Booked: nobody can hold, book or release it.
    assert.equal((await slotAction('hold', u2, at(5))).status, 409);
    assert.equal((await slotAction('book', u1, at(5))).status, 409);
    r = await slotAction('release', u1, at(5));
    assert.equal(r.status, 404, 'a booking is not released as a hold');
  });

  it('book or release without a hold', async () => {
    let r = await slotAction('book', u1, at(6));
    assert.equal(r.status, 409);
    assert.equal(r.body.success, false);
    assert.equal(r.body.error, 'Slot non disponibile per prenotazione');
    r = await slotAction('release', u1, at(6));
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'Slot non trovato o non occupato da questo utente');
  });

  it('GET /api/slots: shape, and what others see of a hold', async () => {
    assert.equal((await slotAction('hold', u1, at(7))).status, 200);
    const r = await api('GET', `/api/slots/2/${DATE}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.success, true);
    const d = r.body.data;
    assert.equal(d.count, 9);
    assert.equal(d.slots.length, 9);
    assert.equal(d.date, DATE);
    assert.equal(Number(d.idSpazio), 2);
    for (const [i, s] of d.slots.entries()) {
      assert.equal(s.id_slot, i + 1);
      assert.equal(s.orario, `${String(9 + i).padStart(2, '0')}:00`);
      assert.equal(typeof s.title, 'string');
    }
    const s7 = d.slots[6];
    assert.equal(s7.status, 'occupied');
    assert.match(s7.expires_at, ISO_UTC);
    assert.equal(hasKeyDeep(r.body, 'id_utente'), false, 'the public grid names no holder');
    assert.equal(d.slots[4].status, 'booked');
  });

  it('400 bad date, 404 unknown spazio', async () => {
    for (const bad of ['2026-1-1', '27-11-2026', 'tomorrow', '2026-02-30']) {
      const r = await api('GET', `/api/slots/2/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.success, false);
      assert.equal(r.body.error, 'Formato data non valido. Usa YYYY-MM-DD', bad);
    }
    const r = await api('GET', `/api/slots/999/${DATE}`);
    assert.equal(r.status, 404);
    assert.equal(r.body.success, false);
    assert.equal(typeof r.body.error, 'string');
  });

  it('bad hold bodies: 400/404, never 5xx', async () => {
    const cases = [
      [{ idSpazio: 2, sedeId: 1, date: 'domani' }, 400],
      [{ idSpazio: 2, sedeId: 1, date: dateIn(-2) }, 400], // past
      [{ idSpazio: 999, sedeId: 1, date: DATE }, 404],
      [{ idSpazio: 7, sedeId: 1, date: DATE }, null], // spazio 7 is in sede 2
    ];
    for (const [b, want] of cases) {
      const r = await api('POST', '/api/slots/8/hold', { token: u1, body: b });
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} → ${r.status}`);
      if (want) assert.equal(r.status, want, JSON.stringify(b));
      assert.equal(r.body.success, false);
    }
    for (const slot of ['0', '10', '-1', 'x', '1.5']) {
      const r = await api('POST', `/api/slots/${slot}/hold`, { token: u1, body });
      assert.equal(r.status, 400, `slot ${slot}`);
    }
    for (const raw of ['{', '[]', '"x"', '']) {
      const r = await api('POST', '/api/slots/8/hold', { token: u1, body: raw, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400, `body ${JSON.stringify(raw)}`);
    }
    // Nothing was held by any of that.
    const slots = await grid(2, DATE);
    assert.equal(slots[7].status, 'available');
  });

  it('ids as numeric strings in the body', async () => {
    const r = await api('POST', '/api/slots/9/hold', { token: u1, body: { idSpazio: '2', sedeId: '1', date: DATE } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await slotAction('release', u1, at(9))).status, 200);
  });
});

describe('past slots', () => {
  it('yesterday reads as past', async () => {
    const slots = await grid(2, dateIn(-1));
    assert.deepEqual([...new Set(slots.map((s) => s.status))], ['past']);
  });
});
