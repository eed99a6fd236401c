// join_space / leave_space: the room, the snapshot, and every malformed
// join.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  client, connected, emitAck, once, token, uniqueUser, closeAll, dateIn, Recorder, slotAction, sleep, ISO_UTC,
} from './lib/e2e.mjs';

// This file reads spazio 1 (sede 1) and holds in spazio 4 (sede 1) on its own date.
const DATE = dateIn(3);

const sockets = [];
async function open(user = uniqueUser(2), opts = {}) {
  const s = client({ auth: { token: token(user) }, transports: ['websocket'], ...opts });
  sockets.push(s);
  await connected(s);
  return s;
}
after(() => closeAll(sockets));

function assertSlot(slot, n) {
  assert.equal(slot.id_slot, n);
  assert.equal(slot.orario, `${String(8 + n).padStart(2, '0')}:00`);
  assert.ok(['available', 'occupied', 'booked', 'past'].includes(slot.status), `status ${slot.status}`);
}

describe('join_space', () => {
  it('with ack: joined_space, then a 9-slot slots_status_update', async () => {
    const s = await open();
    const rec = new Recorder(s, ['joined_space', 'slots_status_update']);
    const ack = await emitAck(s, 'join_space', { spazioId: 1, sedeId: 1, date: DATE });
    assert.deepEqual(ack, { success: true, room: 'spazio_1_sede_1' });

    const joined = (await rec.wait('joined_space')).payload;
    assert.equal(joined.room, 'spazio_1_sede_1');
    assert.equal(joined.spazioId, 1);
    assert.equal(joined.sedeId, 1);
    assert.match(joined.timestamp, ISO_UTC);

    const snap = (await rec.wait('slots_status_update')).payload;
    assert.equal(snap.type, 'slots_status_update');
    assert.match(snap.timestamp, ISO_UTC);
    assert.equal(snap.slotsStatus.length, 9);
    snap.slotsStatus.forEach((slot, i) => assertSlot(slot, i + 1));
    // Additive fields.
    assert.equal(snap.spazioId, 1);
    assert.equal(snap.sedeId, 1);
    assert.equal(snap.date, DATE);
    // joined_space comes before the snapshot.
    assert.deepEqual(rec.events.map((e) => e.event), ['joined_space', 'slots_status_update']);
  });

  it('without date (the original page): joined_space and no snapshot', async () => {
    const s = await open();
    const rec = new Recorder(s, ['joined_space', 'slots_status_update']);
    const ack = await emitAck(s, 'join_space', { spazioId: 2, sedeId: 1 });
    assert.deepEqual(ack, { success: true, room: 'spazio_2_sede_1' });
    const joined = (await rec.wait('joined_space')).payload;
    assert.equal(joined.room, 'spazio_2_sede_1');
    assert.equal(joined.date, undefined);
    // Events of one socket arrive in order: a snapshot of the dateless
    // join would come before the dated join's snapshot.
    await emitAck(s, 'join_space', { spazioId: 2, sedeId: 1, date: DATE });
    const snap = (await rec.wait('slots_status_update')).payload;
    assert.equal(snap.date, DATE);
    assert.deepEqual(rec.events.map((e) => e.event), ['joined_space', 'joined_space', 'slots_status_update']);
  });

  it('without date and without ack: joined_space only', async () => {
    const s = await open();
    const rec = new Recorder(s, ['joined_space', 'slots_status_update']);
    s.emit('join_space', { spazioId: 2, sedeId: 1 });
    assert.equal((await rec.wait('joined_space')).payload.room, 'spazio_2_sede_1');
    await emitAck(s, 'ping_latency');
    assert.deepEqual(rec.events.map((e) => e.event), ['joined_space']);
  });

  it('without date still refuses an unknown spazio', async () => {
    const s = await open();
    const ack = await emitAck(s, 'join_space', { spazioId: 99, sedeId: 1 });
    assert.equal(ack.success, false);
    assert.equal(ack.code, 'SPACE_NOT_FOUND');
  });

  it('ids as numeric strings', async () => {
    const s = await open();
    const joined = once(s, 'joined_space');
    const ack = await emitAck(s, 'join_space', { spazioId: '6', sedeId: '2', date: DATE });
    assert.deepEqual(ack, { success: true, room: 'spazio_6_sede_2' });
    const j = await joined;
    assert.equal(j.room, 'spazio_6_sede_2');
    assert.equal(j.spazioId, 6);
    assert.equal(j.sedeId, 2);
  });

  it('the snapshot shows a hold made before the join, without the holder id', async () => {
    const holder = uniqueUser(2);
    const r = await slotAction('hold', token(holder), { slot: 2, spazioId: 4, sedeId: 1, date: DATE });
    assert.equal(r.status, 200, r.text);
    const s = await open();
    const snap = once(s, 'slots_status_update');
    await emitAck(s, 'join_space', { spazioId: 4, sedeId: 1, date: DATE });
    const slot2 = (await snap).slotsStatus.find((x) => x.id_slot === 2);
    assert.equal(slot2.status, 'occupied');
    assert.ok(slot2.expires_at, 'occupied slot has expires_at');
    assert.equal(slot2.id_utente, undefined, 'another user sees no holder id');
  });

  it('leave_space with ack, then no more slot_update from that room', async () => {
    const s = await open();
    await emitAck(s, 'join_space', { spazioId: 4, sedeId: 1, date: DATE });
    const left = await emitAck(s, 'leave_space', { spazioId: 4, sedeId: 1 });
    assert.equal(left.success, true);
    const rec = new Recorder(s, ['slot_update']);
    const other = token(uniqueUser(2));
    const r = await slotAction('hold', other, { slot: 5, spazioId: 4, sedeId: 1, date: DATE });
    assert.equal(r.status, 200, r.text);
    // A socket still in the room sees it; this one must not.
    const watcher = await open();
    await emitAck(watcher, 'join_space', { spazioId: 4, sedeId: 1, date: DATE });
    const seen = once(watcher, 'slot_update', undefined, (p) => p.slotId === 5 && p.status === 'available');
    assert.equal((await slotAction('release', other, { slot: 5, spazioId: 4, sedeId: 1, date: DATE })).status, 200);
    await seen;
    await sleep(200);
    assert.deepEqual(rec.all('slot_update'), []);
  });
});

describe('invalid join_space', () => {
  const cases = [
    ['unknown spazio', { spazioId: 999, sedeId: 1, date: DATE }, 'SPACE_NOT_FOUND'],
    ['spazio not in that sede', { spazioId: 5, sedeId: 1, date: DATE }, 'SPACE_NOT_IN_SEDE'],
    ['negative spazioId', { spazioId: -1, sedeId: 1 }, 'INVALID_INPUT'],
    ['zero sedeId', { spazioId: 1, sedeId: 0 }, 'INVALID_INPUT'],
    ['fractional spazioId', { spazioId: 1.5, sedeId: 1 }, 'INVALID_INPUT'],
    ['non-numeric spazioId', { spazioId: 'abc', sedeId: 1 }, 'INVALID_INPUT'],
    ['non-numeric string sedeId', { spazioId: 1, sedeId: '1x' }, 'INVALID_INPUT'],
    ['boolean id', { spazioId: true, sedeId: 1 }, 'INVALID_INPUT'],
    ['missing spazioId', { sedeId: 1 }, 'INVALID_INPUT'],
    ['missing sedeId', { spazioId: 1 }, 'INVALID_INPUT'],
    ['empty object', {}, 'INVALID_INPUT'],
    ['bad date format', { spazioId: 1, sedeId: 1, date: '27/11/2026' }, 'INVALID_INPUT'],
    ['impossible date', { spazioId: 1, sedeId: 1, date: '2026-13-45' }, 'INVALID_INPUT'],
    ['string payload', 'spazio_1_sede_1', 'INVALID_INPUT'],
    ['number payload', 42, 'INVALID_INPUT'],
    ['null payload', null, 'INVALID_INPUT'],
    ['array payload', [1, 1], 'INVALID_INPUT'],
  ];

  for (const [name, payload, code] of cases) {
    it(`${name} → space_error ${code} and a failed ack`, async () => {
      const s = await open();
      const rec = new Recorder(s, ['space_error', 'joined_space', 'slots_status_update']);
      const ack = await emitAck(s, 'join_space', payload);
      assert.equal(ack.success, false);
      assert.equal(typeof ack.error, 'string');
      assert.ok(ack.error.length > 0);

      const err = (await rec.wait('space_error')).payload;
      assert.equal(err.type, 'space_error');
      assert.equal(err.code, code);
      assert.equal(typeof err.message, 'string');
      assert.ok(err.message.length > 0);
      assert.match(err.timestamp, ISO_UTC);
      assert.equal(ack.error, err.message);

      // No join happened: a valid join afterwards is this socket's only one.
      await emitAck(s, 'join_space', { spazioId: 3, sedeId: 1, date: DATE });
      assert.equal(rec.all('joined_space').length, 1);
      assert.equal(rec.all('joined_space')[0].room, 'spazio_3_sede_1');
      assert.equal(rec.all('space_error').length, 1);
    });
  }

  it('no payload at all (only an ack) → space_error', async () => {
    const s = await open();
    const err = once(s, 'space_error');
    const ack = await s.timeout(5000).emitWithAck('join_space');
    assert.equal(ack.success, false);
    assert.equal((await err).code, 'INVALID_INPUT');
  });

  it('without ack: only space_error, and the connection stays usable', async () => {
    const s = await open();
    const err = once(s, 'space_error');
    s.emit('join_space', { spazioId: 'x', sedeId: 'y' });
    assert.equal((await err).code, 'INVALID_INPUT');
    const ack = await emitAck(s, 'join_space', { spazioId: 1, sedeId: 1, date: DATE });
    assert.equal(ack.success, true);
    assert.equal(s.connected, true);
  });

  it('unknown client event is ignored, the connection stays', async () => {
    const s = await open();
    s.emit('no_such_event', { a: 1 });
    const ack = await emitAck(s, 'ping_latency', {});
    assert.equal(ack.ok, true);
    assert.equal(s.connected, true);
  });
});
