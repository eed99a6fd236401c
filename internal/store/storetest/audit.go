package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// testAuditEveryAction: hold, book, release, an expiry by the sweeper, an
// expiry by the hold that takes over a lapsed one, and Staff cancels of a
// hold and of a booking each leave one entry with the right fields; the
// trail lists them newest first and filters by slot; refused actions
// leave none.
func (su *suite) testAuditEveryAction(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	k := func(slot int) slots.SlotKey { return Key(1, slot) }
	t1, t2, t3 := T0.Add(time.Minute), T0.Add(2*time.Minute), T0.Add(TTL+time.Minute)

	h1 := MustHold(t, s, k(1), 10, T0)                       // v1
	h2 := MustHold(t, s, k(2), 11, T0)                       // v2
	if _, err := s.Book(ctx, k(1), As(10), t1); err != nil { // v3
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, k(2), As(11), t1); err != nil { // v4
		t.Fatal(err)
	}
	h3 := MustHold(t, s, k(3), 12, T0) // v5, lapses at T0+TTL
	h4 := MustHold(t, s, k(4), 13, T0) // v6, lapses at T0+TTL
	h5 := MustHold(t, s, k(5), 14, t2) // v7, held at t3
	// Refused changes: none of them writes an entry.
	_, err := s.Hold(ctx, k(1), As(15), t1, t1.Add(TTL), 0)
	WantErr(t, "hold of a booked slot", err, slots.ErrSlotTaken)
	_, err = s.Release(ctx, k(1), As(15), t1)
	WantErr(t, "release of another's booking", err, slots.ErrNotHeld)
	_, err = s.Cancel(ctx, k(2), Staff, "niente", 0, t1)
	WantErr(t, "cancel of a free slot", err, slots.ErrNothingToCancel)

	// The sweeper expires slot 3's hold; slot 4's lapsed one is expired by
	// the hold that takes the slot over.
	due, err := s.ExpireDue(ctx, t3.Add(-time.Minute)) // v8: slot 3 (and 4)
	if err != nil || len(due) != 2 {
		t.Fatalf("ExpireDue = %+v, %v; want slots 3 and 4", due, err)
	}
	h6 := MustHold(t, s, k(6), 16, T0.Add(-TTL))              // v10, lapsed at once
	res, err := s.Hold(ctx, k(6), As(17), t3, t3.Add(TTL), 0) // v11 expiry, v12 hold
	if err != nil || res.Expired == nil {
		t.Fatalf("hold over a lapsed hold = %+v, %v", res, err)
	}
	// Staff cancel a hold (slot 5) and a booking (slot 1).
	c5, err := s.Cancel(ctx, k(5), Staff, "Sala chiusa", 0, t3) // v13
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
		return Brief(slots.AuditEntry{Version: v, Key: k(slot), Action: action, From: from, To: to, ReservationID: res,
			HolderID: holder, Actor: by, At: at, Reason: reason})
	}
	const free, held, booked = protocol.StatusAvailable, protocol.StatusOccupied, protocol.StatusBooked
	sys := func(user int64) slots.Actor { return slots.Actor{UserID: user, Role: slots.RoleSystem} }
	want := []string{
		e(14, 1, slots.AuditCancel, booked, free, h1.ID, 10, slots.Actor{UserID: 2, Role: "gestore"}, t3, "Doppia prenotazione"),
		e(13, 5, slots.AuditCancel, held, free, h5.ID, 14, Staff, t3, "Sala chiusa"),
		e(12, 6, slots.AuditHold, free, held, res.Reservation.ID, 17, As(17), t3, ""),
		e(11, 6, slots.AuditExpire, held, free, h6.ID, 16, sys(16), t3, ""),
		e(10, 6, slots.AuditHold, free, held, h6.ID, 16, As(16), T0.Add(-TTL), ""),
		e(9, 4, slots.AuditExpire, held, free, h4.ID, 13, sys(13), t3.Add(-time.Minute), ""),
		e(8, 3, slots.AuditExpire, held, free, h3.ID, 12, sys(12), t3.Add(-time.Minute), ""),
		e(7, 5, slots.AuditHold, free, held, h5.ID, 14, As(14), t2, ""),
		e(6, 4, slots.AuditHold, free, held, h4.ID, 13, As(13), T0, ""),
		e(5, 3, slots.AuditHold, free, held, h3.ID, 12, As(12), T0, ""),
		e(4, 2, slots.AuditRelease, held, free, h2.ID, 11, As(11), t1, ""),
		e(3, 1, slots.AuditBook, held, booked, h1.ID, 10, As(10), t1, ""),
		e(2, 2, slots.AuditHold, free, held, h2.ID, 11, As(11), T0, ""),
		e(1, 1, slots.AuditHold, free, held, h1.ID, 10, As(10), T0, ""),
	}
	all := History(t, s, k(1), 0)
	if got := Briefs(all); !reflect.DeepEqual(got, want) {
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
	if got := Briefs(History(t, s, k(1), 1)); !reflect.DeepEqual(got, want1) {
		t.Fatalf("history of slot 1:\n got %v\nwant %v", got, want1)
	}
	top, err := s.History(ctx, 1, k(1).Date, 0, 3)
	if err != nil || !reflect.DeepEqual(Briefs(top), want[:3]) {
		t.Fatalf("history limited to 3 = %v, %v; want %v", Briefs(top), err, want[:3])
	}
	// Other grids have trails of their own.
	if es := History(t, s, Key(2, 1), 0); len(es) != 0 {
		t.Fatalf("spazio 2 has %d entries, want none", len(es))
	}
	other := k(1)
	other.Date = "2030-03-05"
	if es := History(t, s, other, 0); len(es) != 0 {
		t.Fatalf("the next day has %d entries, want none", len(es))
	}
}

// testCancel: a cancelled hold or booking frees the slot (it can be held
// again, by anyone), counts no more against the holder's cap, and bumps
// the version once; a free slot, a lapsed hold, a cancelled or released
// reservation leave nothing to cancel, and a cancel naming another
// reservation than the slot's is refused; refusals change nothing.
func (su *suite) testCancel(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	k := Key(3, 2)

	held := MustHold(t, s, k, 10, T0) // v1
	_, err := s.Cancel(ctx, k, Staff, "x", held.ID+1000, T0)
	WantErr(t, "cancel naming another reservation", err, slots.ErrSlotChanged)
	if v := gridVersion(t, s, k); v != 1 {
		t.Fatalf("a refused cancel moved the version to %d", v)
	}
	if active, _ := Active(ctx, s, 3, k.Date, T0); len(active) != 1 || active[0].ID != held.ID {
		t.Fatalf("after a refused cancel the slot holds %+v, want hold %d", active, held.ID)
	}
	c, err := s.Cancel(ctx, k, Staff, "Manutenzione", held.ID, T0) // v2
	if err != nil || c.Reservation.Version != 2 || c.From != slots.StateOccupied {
		t.Fatalf("Cancel = %+v, %v; want the hold cancelled at version 2", c, err)
	}
	if active, _ := Active(ctx, s, 3, k.Date, T0); len(active) != 0 {
		t.Fatalf("after the cancel the slot holds %+v", active)
	}
	if n, err := s.CountActiveHolds(ctx, T0); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds after the cancel = %d, %v", n, err)
	}
	_, err = s.Cancel(ctx, k, Staff, "again", 0, T0)
	WantErr(t, "cancel of a cancelled hold", err, slots.ErrNothingToCancel)
	_, err = s.Release(ctx, k, As(10), T0)
	WantErr(t, "release of a cancelled hold", err, slots.ErrNotHeld)
	_, err = s.Book(ctx, k, As(10), T0)
	WantErr(t, "book of a cancelled hold", err, slots.ErrNotHeld)

	// The cancelled hold no longer counts against the holder's cap.
	if _, err := s.Hold(ctx, k, As(10), T0, T0.Add(TTL), 1); err != nil { // v3
		t.Fatalf("hold again after the cancel, cap 1: %v", err)
	}
	if _, err := s.Book(ctx, k, As(10), T0); err != nil { // v4
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, k, Staff, "x", held.ID, T0)
	WantErr(t, "cancel naming the earlier, cancelled hold", err, slots.ErrSlotChanged)
	c, err = s.Cancel(ctx, k, Staff, "Evento privato", 0, T0) // v5
	if err != nil || c.From != slots.StateBooked || c.Reservation.Version != 5 || c.Reservation.UserID != 10 {
		t.Fatalf("cancel of the booking = %+v, %v", c, err)
	}

	// A lapsed hold is no longer there to cancel, swept or not; a released
	// one neither. None of these refusals changes the version.
	k2 := Key(3, 3)
	MustHold(t, s, k2, 11, T0) // v6
	_, err = s.Cancel(ctx, k2, Staff, "x", 0, T0.Add(TTL))
	WantErr(t, "cancel of a lapsed hold", err, slots.ErrNothingToCancel)
	k3 := Key(3, 4)
	MustHold(t, s, k3, 11, T0)                                // v7
	if _, err := s.Release(ctx, k3, As(11), T0); err != nil { // v8
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, k3, Staff, "x", 0, T0)
	WantErr(t, "cancel of a released hold", err, slots.ErrNothingToCancel)
	_, err = s.Cancel(ctx, Key(99, 1), Staff, "x", 0, T0)
	WantErr(t, "cancel in an unknown spazio", err, slots.ErrNothingToCancel)
	if v := gridVersion(t, s, k); v != 8 {
		t.Fatalf("version %d after 8 changes and refused cancels", v)
	}
	if es := History(t, s, k, 0); len(es) != 8 {
		t.Fatalf("%d audit entries after 8 changes and refused cancels:\n%s", len(es), strings.Join(Briefs(es), "\n"))
	}

	// The sweeper leaves a cancelled hold alone.
	MustHold(t, s, Key(3, 5), 12, T0)
	if _, err := s.Cancel(ctx, Key(3, 5), Staff, "x", 0, T0); err != nil {
		t.Fatal(err)
	}
	if due, err := s.ExpireDue(ctx, T0.Add(TTL)); err != nil || len(due) != 1 || due[0].Key != k2 {
		t.Fatalf("ExpireDue = %+v, %v; want only the lapsed hold on slot 3", due, err)
	}
}

// testCancelRaces: a Staff cancel racing the holder's release or booking
// of the same hold, through two stores (two nodes), each round: exactly
// one of cancel and release wins; cancel and book both may (the cancel
// then ends the booking) but the cancel must report the state it ended.
// Afterwards the grid's trail has one entry per version, 1…N.
func (su *suite) testCancelRaces(t *testing.T) {
	ctx := context.Background()
	nodes := su.nodes(t)
	const rounds = 25
	for i := range rounds {
		k := Key(7, 1+i%9)
		k.Date = fmt.Sprintf("2030-04-%02d", 1+i/9)
		held := MustHold(t, nodes[0], k, 10, T0)
		var (
			wg        sync.WaitGroup
			cancelRes slots.CancelResult
			cancelErr error
			userRes   slots.Reservation
			userErr   error
		)
		book := i%2 == 1
		wg.Go(func() { cancelRes, cancelErr = nodes[i%2].Cancel(ctx, k, Staff, "race", 0, T0) })
		wg.Go(func() {
			if book {
				userRes, userErr = nodes[1-i%2].Book(ctx, k, As(10), T0)
			} else {
				userRes, userErr = nodes[1-i%2].Release(ctx, k, As(10), T0)
			}
		})
		wg.Wait()
		switch {
		case cancelErr != nil && userErr != nil:
			t.Fatalf("round %d: both failed: cancel %v, user %v", i, cancelErr, userErr)
		case !book && cancelErr == nil && userErr == nil:
			t.Fatalf("round %d: both the cancel (%+v) and the release (%+v) of hold %d won", i, cancelRes, userRes, held.ID)
		case cancelErr != nil:
			WantErr(t, fmt.Sprintf("round %d: losing cancel", i), cancelErr, slots.ErrNothingToCancel)
		case userErr != nil:
			WantErr(t, fmt.Sprintf("round %d: losing release or book", i), userErr, slots.ErrNotHeld)
			if cancelRes.From != slots.StateOccupied {
				t.Fatalf("round %d: the cancel won first but reports %q", i, cancelRes.From)
			}
		default: // book, then cancel of the booking
			if cancelRes.From != slots.StateBooked || cancelRes.Reservation.Version != userRes.Version+1 {
				t.Fatalf("round %d: cancel after the booking (v%d) = %+v, want it to end the booking next", i, userRes.Version, cancelRes)
			}
		}
		es := History(t, nodes[1], k, 0)
		for j, e := range es {
			if want := int64(len(es) - j); e.Version != want {
				t.Fatalf("round %d: trail versions are not N…1:\n%s", i, strings.Join(Briefs(es), "\n"))
			}
		}
		if v := gridVersion(t, nodes[0], k); v != int64(len(es)) {
			t.Fatalf("round %d: grid at version %d with %d entries", i, v, len(es))
		}
		if active, _ := Active(ctx, nodes[0], k.SpazioID, k.Date, T0); len(active) != 0 {
			t.Fatalf("round %d: slot still holds %+v", i, active)
		}
	}
}
