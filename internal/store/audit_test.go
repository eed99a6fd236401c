package store

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// Staff cancel and the audit trail: every committed change of a slot
// writes one audit entry in its own transaction.

// staff is the actor of the tests' cancels.
var staff = slots.Actor{UserID: 1, Role: "admin"}

// history reads the whole trail of the grid of k (one slot when slot > 0).
func history(t *testing.T, s *Store, k slots.SlotKey, slot int) []slots.AuditEntry {
	t.Helper()
	es, err := s.History(context.Background(), k.SpazioID, k.Date, slot, 1000)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return es
}

// brief is an entry without its id: what the tests compare.
func brief(e slots.AuditEntry) string {
	return fmt.Sprintf("v%d slot %d %s %s→%s res %d holder %d by %d/%s at %s %q",
		e.Version, e.Key.Slot, e.Action, e.From, e.To, e.ReservationID, e.HolderID, e.Actor.UserID, e.Actor.Role,
		e.At.Format("15:04:05.000"), e.Reason)
}

func briefs(es []slots.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = brief(e)
	}
	return out
}

// testAuditEveryAction: hold, book, release, an expiry by the sweeper, an
// expiry by the hold that takes over a lapsed one, and staff cancels of a
// hold and of a booking each leave one entry with the right fields; the
// trail lists them newest first and filters by slot; refused actions
// leave none.
func testAuditEveryAction(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
	k := func(slot int) slots.SlotKey { return key(1, slot) }
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(ttl+time.Minute)

	h1 := mustHold(t, s, k(1), 10, t0)                       // v1
	h2 := mustHold(t, s, k(2), 11, t0)                       // v2
	if _, err := s.Book(ctx, k(1), as(10), t1); err != nil { // v3
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, k(2), as(11), t1); err != nil { // v4
		t.Fatal(err)
	}
	h3 := mustHold(t, s, k(3), 12, t0) // v5, lapses at t0+ttl
	h4 := mustHold(t, s, k(4), 13, t0) // v6, lapses at t0+ttl
	h5 := mustHold(t, s, k(5), 14, t2) // v7, held at t3
	// Refused changes: none of them writes an entry.
	_, err := s.Hold(ctx, k(1), as(15), t1, t1.Add(ttl), 0)
	wantErr(t, "hold of a booked slot", err, slots.ErrSlotTaken)
	_, err = s.Release(ctx, k(1), as(15), t1)
	wantErr(t, "release of another's booking", err, slots.ErrNotHeld)
	_, err = s.Cancel(ctx, k(2), staff, "niente", 0, t1)
	wantErr(t, "cancel of a free slot", err, slots.ErrNothingToCancel)

	// The sweeper expires slot 3's hold; slot 4's lapsed one is expired by
	// the hold that takes the slot over.
	due, err := s.ExpireDue(ctx, t3.Add(-time.Minute)) // v8: slot 3 (and 4)
	if err != nil || len(due) != 2 {
		t.Fatalf("ExpireDue = %+v, %v; want slots 3 and 4", due, err)
	}
	h6 := mustHold(t, s, k(6), 16, t0.Add(-ttl))              // v10, lapsed at once
	res, err := s.Hold(ctx, k(6), as(17), t3, t3.Add(ttl), 0) // v11 expiry, v12 hold
	if err != nil || res.Expired == nil {
		t.Fatalf("hold over a lapsed hold = %+v, %v", res, err)
	}
	// Staff cancel a hold (slot 5) and a booking (slot 1).
	c5, err := s.Cancel(ctx, k(5), staff, "Sala chiusa", 0, t3) // v13
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.Cancel(ctx, k(1), slots.Actor{UserID: 2, Role: "gestore"}, "Doppia prenotazione", h1.ID, t3) // v14
	if err != nil {
		t.Fatal(err)
	}
	if c5.From != slots.StateOccupied || c5.Reservation.ID != h5.ID || c5.Reservation.State != slots.StateCancelled || c5.Reservation.Version != 13 ||
		c5.Reservation.UserID != 14 || !c5.Reservation.ExpiresAt.IsZero() || !c5.Reservation.UpdatedAt.Equal(t3) {
		t.Fatalf("cancel of the hold = %+v", c5)
	}
	if c1.From != slots.StateBooked || c1.Reservation.ID != h1.ID || c1.Reservation.Version != 14 {
		t.Fatalf("cancel of the booking = %+v", c1)
	}

	e := func(v int64, slot int, action, from, to string, res, holder int64, by slots.Actor, at time.Time, reason string) string {
		return brief(slots.AuditEntry{Version: v, Key: k(slot), Action: action, From: from, To: to, ReservationID: res,
			HolderID: holder, Actor: by, At: at, Reason: reason})
	}
	const free, held, booked = protocol.StatusAvailable, protocol.StatusOccupied, protocol.StatusBooked
	sys := func(user int64) slots.Actor { return slots.Actor{UserID: user, Role: slots.RoleSystem} }
	want := []string{
		e(14, 1, slots.AuditCancel, booked, free, h1.ID, 10, slots.Actor{UserID: 2, Role: "gestore"}, t3, "Doppia prenotazione"),
		e(13, 5, slots.AuditCancel, held, free, h5.ID, 14, staff, t3, "Sala chiusa"),
		e(12, 6, slots.AuditHold, free, held, res.Reservation.ID, 17, as(17), t3, ""),
		e(11, 6, slots.AuditExpire, held, free, h6.ID, 16, sys(16), t3, ""),
		e(10, 6, slots.AuditHold, free, held, h6.ID, 16, as(16), t0.Add(-ttl), ""),
		e(9, 4, slots.AuditExpire, held, free, h4.ID, 13, sys(13), t3.Add(-time.Minute), ""),
		e(8, 3, slots.AuditExpire, held, free, h3.ID, 12, sys(12), t3.Add(-time.Minute), ""),
		e(7, 5, slots.AuditHold, free, held, h5.ID, 14, as(14), t2, ""),
		e(6, 4, slots.AuditHold, free, held, h4.ID, 13, as(13), t0, ""),
		e(5, 3, slots.AuditHold, free, held, h3.ID, 12, as(12), t0, ""),
		e(4, 2, slots.AuditRelease, held, free, h2.ID, 11, as(11), t1, ""),
		e(3, 1, slots.AuditBook, held, booked, h1.ID, 10, as(10), t1, ""),
		e(2, 2, slots.AuditHold, free, held, h2.ID, 11, as(11), t0, ""),
		e(1, 1, slots.AuditHold, free, held, h1.ID, 10, as(10), t0, ""),
	}
	all := history(t, s, k(1), 0)
	if got := briefs(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("history, newest first:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if v := gridVersion(t, s, k(1)); v != 14 {
		t.Fatalf("grid version %d after 14 audited changes", v)
	}
	for _, e := range all {
		if e.ID == 0 || e.Key != k(e.Key.Slot) {
			t.Fatalf("entry %+v lacks its id or key", e)
		}
	}

	// One slot, and a limit.
	var want1 []string
	for _, w := range want {
		if strings.Contains(w, " slot 1 ") {
			want1 = append(want1, w)
		}
	}
	if got := briefs(history(t, s, k(1), 1)); !reflect.DeepEqual(got, want1) {
		t.Fatalf("history of slot 1:\n got %v\nwant %v", got, want1)
	}
	top, err := s.History(ctx, 1, k(1).Date, 0, 3)
	if err != nil || !reflect.DeepEqual(briefs(top), want[:3]) {
		t.Fatalf("history limited to 3 = %v, %v; want %v", briefs(top), err, want[:3])
	}
	// Other grids have trails of their own.
	if es := history(t, s, key(2, 1), 0); len(es) != 0 {
		t.Fatalf("spazio 2 has %d entries, want none", len(es))
	}
	other := k(1)
	other.Date = "2030-03-05"
	if es := history(t, s, other, 0); len(es) != 0 {
		t.Fatalf("the next day has %d entries, want none", len(es))
	}
}

// testCancel: a cancelled hold or booking frees the slot (it can be held
// again, by anyone), counts no more against the holder's cap, and bumps
// the version once; a free slot, a lapsed hold, a cancelled or released
// reservation leave nothing to cancel, and a cancel naming another
// reservation than the slot's is refused; refusals change nothing.
func testCancel(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
	k := key(3, 2)

	held := mustHold(t, s, k, 10, t0) // v1
	_, err := s.Cancel(ctx, k, staff, "x", held.ID+1000, t0)
	wantErr(t, "cancel naming another reservation", err, slots.ErrSlotChanged)
	if v := gridVersion(t, s, k); v != 1 {
		t.Fatalf("a refused cancel moved the version to %d", v)
	}
	if active, _ := activeReservations(ctx, s, 3, k.Date, t0); len(active) != 1 || active[0].ID != held.ID {
		t.Fatalf("after a refused cancel the slot holds %+v, want hold %d", active, held.ID)
	}
	c, err := s.Cancel(ctx, k, staff, "Manutenzione", held.ID, t0) // v2
	if err != nil || c.Reservation.Version != 2 || c.From != slots.StateOccupied {
		t.Fatalf("Cancel = %+v, %v; want the hold cancelled at version 2", c, err)
	}
	if active, _ := activeReservations(ctx, s, 3, k.Date, t0); len(active) != 0 {
		t.Fatalf("after the cancel the slot holds %+v", active)
	}
	if n, err := s.CountActiveHolds(ctx, t0); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds after the cancel = %d, %v", n, err)
	}
	_, err = s.Cancel(ctx, k, staff, "again", 0, t0)
	wantErr(t, "cancel of a cancelled hold", err, slots.ErrNothingToCancel)
	_, err = s.Release(ctx, k, as(10), t0)
	wantErr(t, "release of a cancelled hold", err, slots.ErrNotHeld)
	_, err = s.Book(ctx, k, as(10), t0)
	wantErr(t, "book of a cancelled hold", err, slots.ErrNotHeld)

	// The cancelled hold no longer counts against the holder's cap.
	if _, err := s.Hold(ctx, k, as(10), t0, t0.Add(ttl), 1); err != nil { // v3
		t.Fatalf("hold again after the cancel, cap 1: %v", err)
	}
	if _, err := s.Book(ctx, k, as(10), t0); err != nil { // v4
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, k, staff, "x", held.ID, t0)
	wantErr(t, "cancel naming the earlier, cancelled hold", err, slots.ErrSlotChanged)
	c, err = s.Cancel(ctx, k, staff, "Evento privato", 0, t0) // v5
	if err != nil || c.From != slots.StateBooked || c.Reservation.Version != 5 || c.Reservation.UserID != 10 {
		t.Fatalf("cancel of the booking = %+v, %v", c, err)
	}

	// A lapsed hold is no longer there to cancel, swept or not; a released
	// one neither. None of these refusals changes the version.
	k2 := key(3, 3)
	mustHold(t, s, k2, 11, t0) // v6
	_, err = s.Cancel(ctx, k2, staff, "x", 0, t0.Add(ttl))
	wantErr(t, "cancel of a lapsed hold", err, slots.ErrNothingToCancel)
	k3 := key(3, 4)
	mustHold(t, s, k3, 11, t0)                                // v7
	if _, err := s.Release(ctx, k3, as(11), t0); err != nil { // v8
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, k3, staff, "x", 0, t0)
	wantErr(t, "cancel of a released hold", err, slots.ErrNothingToCancel)
	_, err = s.Cancel(ctx, key(99, 1), staff, "x", 0, t0)
	wantErr(t, "cancel in an unknown spazio", err, slots.ErrNothingToCancel)
	if v := gridVersion(t, s, k); v != 8 {
		t.Fatalf("version %d after 8 changes and refused cancels", v)
	}
	if es := history(t, s, k, 0); len(es) != 8 {
		t.Fatalf("%d audit entries after 8 changes and refused cancels:\n%s", len(es), strings.Join(briefs(es), "\n"))
	}

	// The sweeper leaves a cancelled hold alone.
	mustHold(t, s, key(3, 5), 12, t0)
	if _, err := s.Cancel(ctx, key(3, 5), staff, "x", 0, t0); err != nil {
		t.Fatal(err)
	}
	if due, err := s.ExpireDue(ctx, t0.Add(ttl)); err != nil || len(due) != 1 || due[0].Key != k2 {
		t.Fatalf("ExpireDue = %+v, %v; want only the lapsed hold on slot 3", due, err)
	}
}

// testCancelRaces: a staff cancel racing the holder's release or booking
// of the same hold, through two stores (two nodes), each round: exactly
// one of cancel and release wins; cancel and book both may (the cancel
// then ends the booking) but the cancel must report the state it ended.
// Afterwards the grid's trail has one entry per version, 1…N.
func testCancelRaces(t *testing.T, b backend) {
	ctx := context.Background()
	nodes := versionNodes(t, b)
	const rounds = 25
	for i := range rounds {
		k := key(7, 1+i%9)
		k.Date = fmt.Sprintf("2030-04-%02d", 1+i/9)
		held := mustHold(t, nodes[0], k, 10, t0)
		var (
			wg        sync.WaitGroup
			cancelRes slots.CancelResult
			cancelErr error
			userRes   slots.Reservation
			userErr   error
		)
		book := i%2 == 1
		wg.Go(func() { cancelRes, cancelErr = nodes[i%2].Cancel(ctx, k, staff, "race", 0, t0) })
		wg.Go(func() {
			if book {
				userRes, userErr = nodes[1-i%2].Book(ctx, k, as(10), t0)
			} else {
				userRes, userErr = nodes[1-i%2].Release(ctx, k, as(10), t0)
			}
		})
		wg.Wait()
		switch {
		case cancelErr != nil && userErr != nil:
			t.Fatalf("round %d: both failed: cancel %v, user %v", i, cancelErr, userErr)
		case !book && cancelErr == nil && userErr == nil:
			t.Fatalf("round %d: both the cancel (%+v) and the release (%+v) of hold %d won", i, cancelRes, userRes, held.ID)
		case cancelErr != nil:
			wantErr(t, fmt.Sprintf("round %d: losing cancel", i), cancelErr, slots.ErrNothingToCancel)
		case userErr != nil:
			wantErr(t, fmt.Sprintf("round %d: losing release or book", i), userErr, slots.ErrNotHeld)
			if cancelRes.From != slots.StateOccupied {
				t.Fatalf("round %d: the cancel won first but reports %q", i, cancelRes.From)
			}
		default: // book, then cancel of the booking
			if cancelRes.From != slots.StateBooked || cancelRes.Reservation.Version != userRes.Version+1 {
				t.Fatalf("round %d: cancel after the booking (v%d) = %+v, want it to end the booking next", i, userRes.Version, cancelRes)
			}
		}
		es := history(t, nodes[1], k, 0)
		for j, e := range es {
			if want := int64(len(es) - j); e.Version != want {
				t.Fatalf("round %d: trail versions are not N…1:\n%s", i, strings.Join(briefs(es), "\n"))
			}
		}
		if v := gridVersion(t, nodes[0], k); v != int64(len(es)) {
			t.Fatalf("round %d: grid at version %d with %d entries", i, v, len(es))
		}
		if active, _ := activeReservations(ctx, nodes[0], k.SpazioID, k.Date, t0); len(active) != 0 {
			t.Fatalf("round %d: slot still holds %+v", i, active)
		}
	}
}

// atVersion empties s's database and runs migrations 1 to n on it by hand,
// as a database last opened by a coworkctl of schema version n.
func atVersion(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	ms, err := migrations(s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range []string{`DROP TABLE slot_audit`, `DROP TABLE reservations`, `DROP TABLE grid_versions`,
			`DROP TABLE spazi`, `DROP TABLE sedi`, `DELETE FROM schema_migrations`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		for _, m := range ms[:n] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`), m.version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("set the database back to version %d: %v", n, err)
	}
	s.catalog.clear()
}

// testMigrationKeepsReservations: a database in use at schema version 3
// keeps its reservations, their ids and the one-active-per-slot index
// through migration 4 (SQLite rebuilds the table), and the new state works.
func testMigrationKeepsReservations(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	atVersion(t, s, 3)
	if err := s.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	// Version 3 code wrote reservations without audit entries.
	var ids []int64
	for i, state := range []string{"occupied", "booked", "released", "expired"} {
		var id int64
		if err := s.w.QueryRowContext(ctx, s.q(`
			INSERT INTO reservations (spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at)
			VALUES (1, 1, '2030-03-04', ?, 10, ?, ?, ?, ?) RETURNING id`),
			1+i, state, toMillis(t0.Add(ttl)), toMillis(t0), toMillis(t0)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dsn) // migrates to the newest version
	active, err := activeReservations(ctx, s, 1, "2030-03-04", t0)
	if err != nil || len(active) != 2 || active[0].ID != ids[0] || active[1].ID != ids[1] || active[1].State != slots.StateBooked {
		t.Fatalf("after migration 4 the active reservations are %+v, %v; want ids %v", active, err, ids[:2])
	}
	_, err = s.Hold(ctx, key(1, 1), as(11), t0, t0.Add(ttl), 0)
	wantErr(t, "hold of a held slot after migration 4", err, slots.ErrSlotTaken)
	r := mustHold(t, s, key(1, 5), 11, t0)
	if r.ID <= ids[3] {
		t.Fatalf("a new reservation got id %d, not above the migrated %d", r.ID, ids[3])
	}
	if _, err := s.Cancel(ctx, key(1, 2), staff, "dopo la migrazione", 0, t0); err != nil {
		t.Fatal(err)
	}
	if es := history(t, s, key(1, 1), 0); len(es) != 2 || es[0].Action != slots.AuditCancel || es[1].Action != slots.AuditHold {
		t.Fatalf("history after migration 4 = %v", briefs(es))
	}
}

// testMigrationKeepsAudit: a database in use at schema version 4 keeps its
// reservations and audit entries, with their ids, through migration 5
// (SQLite rebuilds both tables), and new ones get larger ids.
func testMigrationKeepsAudit(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	atVersion(t, s, 4)
	if err := s.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	held := mustHold(t, s, key(1, 1), 10, t0)
	booked := mustHold(t, s, key(1, 2), 10, t0)
	if _, err := s.Book(ctx, key(1, 2), as(10), t0); err != nil {
		t.Fatal(err)
	}
	before := history(t, s, key(1, 1), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dsn)
	if after := history(t, s, key(1, 1), 0); !slices.Equal(briefs(after), briefs(before)) || after[0].ID != before[0].ID {
		t.Fatalf("history after migration 5 = %v (first id %d); before it %v (first id %d)",
			briefs(after), after[0].ID, briefs(before), before[0].ID)
	}
	active, err := activeReservations(ctx, s, 1, "2030-03-04", t0)
	if err != nil || len(active) != 2 || active[0].ID != held.ID || active[1].ID != booked.ID {
		t.Fatalf("active reservations after migration 5 = %+v, %v; want ids %d and %d", active, err, held.ID, booked.ID)
	}
	if next, ok, err := s.NextExpiry(ctx); err != nil || !ok || !next.Equal(held.ExpiresAt) {
		t.Fatalf("NextExpiry after migration 5 = %v, %v, %v; want the hold's %v", next, ok, err, held.ExpiresAt)
	}
	r := mustHold(t, s, key(1, 3), 11, t0)
	if r.ID <= booked.ID {
		t.Fatalf("a new reservation got id %d, not above the migrated %d", r.ID, booked.ID)
	}
	if es := history(t, s, key(1, 3), 3); len(es) != 1 || es[0].ID <= before[0].ID {
		t.Fatalf("new audit entry %v; want one with an id above %d", es, before[0].ID)
	}
	if rs, err := s.ExpireDue(ctx, t0.Add(ttl)); err != nil || len(rs) != 2 {
		t.Fatalf("ExpireDue after migration 5 = %d rows, %v; want the 2 holds", len(rs), err)
	}
}
