// Hold expiry with a short --hold-ttl: slot_update to the room, slots_freed
// to every socket, hold_expired to the holder's sockets only, each exactly
// once.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  client, connected, emitAck, token, uniqueUser, closeAll, dateIn, Recorder, slotAction, grid, hasKeyDeep, sleep,
  ISO_UTC, HOLD_TTL_MS,
} from './lib/e2e.mjs';

// This file owns spazio 5 (sede 2) on its date.
const DATE = dateIn(5);
const SPAZIO = 5;
const SEDE = 2;
const at = (slot) => ({ slot, spazioId: SPAZIO, sedeId: SEDE, date: DATE });
const EVENTS = ['slot_update', 'slots_freed', 'hold_expired'];
// Waiting for an expiry: the TTL plus a generous margin.
const EXPIRY_DEADLINE = HOLD_TTL_MS + 10_000;
// After the expected events, how long to keep listening for duplicates.
const QUIET_MS = 1000;

const sockets = [];
async function open(user, join, transports = ['websocket']) {
  const s = client({ auth: { token: token(user) }, transports });
  sockets.push(s);
  await connected(s);
  if (join) {
    const ack = await emitAck(s, 'join_space', { spazioId: SPAZIO, sedeId: SEDE, date: DATE });
    assert.equal(ack.success, true);
  }
  return { s, rec: new Recorder(s, EVENTS) };
}
after(() => closeAll(sockets));

const freedHas = (slot) => (p) => Array.isArray(p.slots)
  && p.slots.some((x) => x.id_spazio === SPAZIO && x.id_sede === SEDE && x.date === DATE && x.id_slot === slot);

describe('hold expiry', () => {
  const holder = uniqueUser(4);
  const holderTok = token(holder);
  let tab1; let tab2; let roomMate; let outsider; let pollingOutsider;

  before(async () => {
    tab1 = await open(holder, true); // holder, watching the spazio
    tab2 = await open(holder, false); // holder's other tab, elsewhere
    roomMate = await open(uniqueUser(4), true); // another user in the room
    outsider = await open(uniqueUser(4), false); // another user, no room
    pollingOutsider = await open(uniqueUser(4), false, ['polling']);
  });

  it('frees the slot once, tells the room, everyone and the holder', async (t) => {
    const r = await slotAction('hold', holderTok, at(4));
    assert.equal(r.status, 200, r.text);
    const expiresAt = Date.parse(r.body.data.expires_at);

    const freedUpdate = (p) => p.slotId === 4 && p.status === 'available' && p.data.date === DATE && p.data.id_spazio === SPAZIO;
    const [u1, u2, f1] = await Promise.all([
      tab1.rec.wait('slot_update', freedUpdate, EXPIRY_DEADLINE),
      roomMate.rec.wait('slot_update', freedUpdate, EXPIRY_DEADLINE),
      outsider.rec.wait('slots_freed', freedHas(4), EXPIRY_DEADLINE),
      tab1.rec.wait('hold_expired', (p) => p.slotId === 4, EXPIRY_DEADLINE),
      tab2.rec.wait('hold_expired', (p) => p.slotId === 4, EXPIRY_DEADLINE),
      pollingOutsider.rec.wait('slots_freed', freedHas(4), EXPIRY_DEADLINE),
    ]);
    await sleep(QUIET_MS);

    // Not before expires_at (50 ms for clock rounding), and how late.
    for (const rec of [u1, u2, f1]) {
      assert.ok(rec.at >= expiresAt - 50, `${rec.event} at ${new Date(rec.at).toISOString()} before expires_at ${r.body.data.expires_at}`);
    }
    t.diagnostic(`expiry delay after expires_at: slot_update ${u1.at - expiresAt} ms, slots_freed ${f1.at - expiresAt} ms`);

    // slot_update: each room member once, nobody outside the room.
    for (const { rec } of [tab1, roomMate]) {
      assert.equal(rec.all('slot_update', freedUpdate).length, 1);
    }
    for (const { rec } of [tab2, outsider, pollingOutsider]) {
      assert.deepEqual(rec.all('slot_update'), []);
    }
    const upd = u2.payload;
    assert.equal(upd.type, 'slot_update');
    assert.equal(upd.data.status, 'available');
    assert.match(upd.timestamp, ISO_UTC);
    assert.equal(hasKeyDeep(upd, 'id_utente'), false, 'the freed broadcast names no holder');

    // slots_freed: every socket once.
    for (const { rec } of [tab1, tab2, roomMate, outsider, pollingOutsider]) {
      const freed = rec.all('slots_freed', freedHas(4));
      assert.equal(freed.length, 1, 'slots_freed for this slot');
      assert.equal(freed[0].type, 'slots_freed');
      assert.ok(freed[0].count >= 1);
      assert.equal(freed[0].count, freed[0].slots.length);
      assert.match(freed[0].timestamp, ISO_UTC);
      assert.equal(hasKeyDeep(freed[0], 'id_utente'), false);
    }

    // hold_expired: each of the holder's sockets once, nobody else.
    for (const { rec } of [tab1, tab2]) {
      const he = rec.all('hold_expired');
      assert.equal(he.length, 1);
      assert.equal(he[0].type, 'hold_expired');
      assert.equal(he[0].slotId, 4);
      assert.equal(he[0].data.id_spazio, SPAZIO);
      assert.equal(he[0].data.id_sede, SEDE);
      assert.equal(he[0].data.date, DATE);
      assert.match(he[0].timestamp, ISO_UTC);
    }
    for (const { rec } of [roomMate, outsider, pollingOutsider]) {
      assert.deepEqual(rec.all('hold_expired'), []);
    }

    // The slot is free for real: the grid says so, the holder can't book it.
    assert.equal((await grid(SPAZIO, DATE))[3].status, 'available');
    const book = await slotAction('book', holderTok, at(4));
    assert.equal(book.status, 409);
    assert.equal(book.body.error, 'Slot non disponibile per prenotazione');
  });

  it('released or booked holds never expire', async () => {
    const other = token(uniqueUser(4));
    assert.equal((await slotAction('hold', other, at(6))).status, 200);
    assert.equal((await slotAction('release', other, at(6))).status, 200);
    assert.equal((await slotAction('hold', other, at(7))).status, 200);
    assert.equal((await slotAction('book', other, at(7))).status, 200);
    // A later hold as a fence: once it expired, slots 6 and 7 would have too.
    assert.equal((await slotAction('hold', other, at(8))).status, 200);
    await outsider.rec.wait('slots_freed', freedHas(8), EXPIRY_DEADLINE);
    await sleep(QUIET_MS);
    assert.deepEqual(outsider.rec.all('slots_freed', freedHas(6)), []);
    assert.deepEqual(outsider.rec.all('slots_freed', freedHas(7)), []);
    assert.equal((await grid(SPAZIO, DATE))[6].status, 'booked');
  });
});
