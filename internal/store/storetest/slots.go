package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// testCatalog: Catalog reads the layout's catalog, Spazio finds each
// spazio with its sede, and an upsert either shows at once (Spazio's
// cache included) or, on a layout that never writes its catalog, is
// refused and changes nothing.
func (su *suite) testCatalog(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	lookups := func(what string, want []slots.Sede) {
		t.Helper()
		got, err := s.Catalog(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Catalog =\n %+v, %v\nwant\n %+v", what, got, err, want)
		}
		for _, sede := range want {
			for _, want := range sede.Spazi {
				sp, gotSede, err := s.Spazio(ctx, want.ID)
				gotSede.Spazi = nil
				sede.Spazi = nil
				if err != nil || sp != want || !reflect.DeepEqual(gotSede, sede) {
					t.Fatalf("%s: Spazio(%d) = %+v, %+v, %v; want %+v in %+v", what, want.ID, sp, gotSede, err, want, sede)
				}
			}
		}
		_, _, err = s.Spazio(ctx, 99)
		WantErr(t, what+": Spazio(99)", err, slots.ErrSpazioNotFound)
	}
	lookups("fresh", su.l.Catalog)

	renamed := slices.Clone(su.l.Catalog)
	renamed[0].Nome += " (rinominata)"
	err := s.UpsertCatalog(ctx, renamed)
	if !su.l.CatalogWritable {
		if err == nil {
			t.Fatal("UpsertCatalog on a layout that never writes its catalog succeeded")
		}
		lookups("after a refused upsert", su.l.Catalog)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	lookups("after a rename", renamed)
}

func (su *suite) testHoldBookRelease(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	k := Key(2, 3)

	held := MustHold(t, s, k, 10, T0)
	if held.ID == 0 || held.Key != k || held.UserID != 10 || held.State != slots.StateOccupied ||
		!held.ExpiresAt.Equal(T0.Add(TTL)) || !held.UpdatedAt.Equal(T0) {
		t.Fatalf("Hold = %+v", held)
	}
	if su.l.KeepsRowTimes && !held.CreatedAt.Equal(T0) {
		t.Fatalf("Hold created at %v, want %v", held.CreatedAt, T0)
	}

	_, err := s.Hold(ctx, k, As(11), T0, T0.Add(TTL), 0)
	WantErr(t, "hold by another user", err, slots.ErrSlotTaken)
	_, err = s.Hold(ctx, k, As(10), T0, T0.Add(TTL), 0)
	WantErr(t, "hold again by the holder", err, slots.ErrSlotTaken)
	_, err = s.Book(ctx, k, As(11), T0)
	WantErr(t, "book by another user", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, As(11), T0)
	WantErr(t, "release by another user", err, slots.ErrNotHeld)
	_, err = s.Book(ctx, Key(2, 4), As(10), T0)
	WantErr(t, "book of a free slot", err, slots.ErrNotHeld)

	later := T0.Add(time.Minute)
	booked, err := s.Book(ctx, k, As(10), later)
	if err != nil {
		t.Fatal(err)
	}
	if booked.ID != held.ID || booked.State != slots.StateBooked || !booked.ExpiresAt.IsZero() || !booked.UpdatedAt.Equal(later) {
		t.Fatalf("Book = %+v", booked)
	}
	_, err = s.Hold(ctx, k, As(11), later, later.Add(TTL), 0)
	WantErr(t, "hold of a booked slot", err, slots.ErrSlotTaken)
	_, err = s.Book(ctx, k, As(10), later)
	WantErr(t, "book twice", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, As(10), later)
	WantErr(t, "release of a booking", err, slots.ErrNotHeld)

	// The same slot number of another spazio or date is another slot.
	other := MustHold(t, s, Key(3, 3), 11, T0)
	nextDay := k
	nextDay.Date = "2030-03-05"
	MustHold(t, s, nextDay, 11, T0)

	released, err := s.Release(ctx, other.Key, As(11), later)
	if err != nil {
		t.Fatal(err)
	}
	if released.ID != other.ID || released.State != slots.StateReleased || !released.ExpiresAt.IsZero() {
		t.Fatalf("Release = %+v", released)
	}
	again := MustHold(t, s, other.Key, 12, later)
	if again.ID == other.ID {
		t.Fatalf("hold after release reused reservation %d", other.ID)
	}

	active, err := Active(ctx, s, 2, k.Date, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || su.read(active[0]) != su.read(booked) {
		t.Fatalf("ActiveReservations(spazio 2) = %+v, want only %+v", active, booked)
	}
	MustHold(t, s, Key(2, 1), 13, later)
	active, err = Active(ctx, s, 2, k.Date, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].Key.Slot != 1 || active[1].Key.Slot != 3 {
		t.Fatalf("ActiveReservations(spazio 2) = %+v, want slots 1 and 3 in order", active)
	}
}

func (su *suite) testHoldUnknownSpazio(t *testing.T) {
	s := su.seeded(t)
	_, err := s.Hold(context.Background(), Key(99, 1), As(10), T0, T0.Add(TTL), 0)
	WantErr(t, "hold of spazio 99", err, slots.ErrSpazioNotFound)
}

// testHoldLimit: with maxHolds, a user's occupied, unexpired holds are
// capped; bookings, releases and lapsed holds free a place; other users and
// maxHolds 0 are not limited.
func (su *suite) testHoldLimit(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	const limit = 2
	hold := func(k slots.SlotKey, user int64, now time.Time) error {
		_, err := s.Hold(ctx, k, As(user), now, now.Add(TTL), limit)
		return err
	}
	mustHoldLimited := func(k slots.SlotKey, user int64, now time.Time) {
		t.Helper()
		if err := hold(k, user, now); err != nil {
			t.Fatalf("Hold(%+v, user %d) under the limit: %v", k, user, err)
		}
	}
	userHolds := func(user int64, now time.Time) []int {
		t.Helper()
		active, err := Active(ctx, s, 1, Key(1, 1).Date, now)
		if err != nil {
			t.Fatal(err)
		}
		var held []int
		for _, r := range active {
			if r.UserID == user && r.State == slots.StateOccupied {
				held = append(held, r.Key.Slot)
			}
		}
		return held
	}

	mustHoldLimited(Key(1, 1), 10, T0)
	mustHoldLimited(Key(1, 2), 10, T0)
	wantHoldLimit(t, "third hold", hold(Key(1, 3), 10, T0), limit)
	if got := userHolds(10, T0); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("after a refused hold user 10 holds slots %v, want [1 2]", got)
	}
	mustHoldLimited(Key(1, 3), 11, T0) // another user has a cap of their own

	// maxHolds 0 is no cap; a cap counts the holds made before it applied.
	if _, err := s.Hold(ctx, Key(1, 4), As(10), T0, T0.Add(TTL), 0); err != nil {
		t.Fatalf("Hold without a cap: %v", err)
	}
	wantHoldLimit(t, "hold with three held", hold(Key(1, 5), 10, T0), limit)

	// A booking is no hold, but two holds remain; a release frees a place.
	if _, err := s.Book(ctx, Key(1, 1), As(10), T0); err != nil {
		t.Fatal(err)
	}
	wantHoldLimit(t, "hold after booking one of three", hold(Key(1, 5), 10, T0), limit)
	if _, err := s.Release(ctx, Key(1, 4), As(10), T0); err != nil {
		t.Fatal(err)
	}
	mustHoldLimited(Key(1, 5), 10, T0)
	wantHoldLimit(t, "hold after refilling the place", hold(Key(1, 6), 10, T0), limit)

	// Holds that lapsed count no more, swept or not.
	lapse := T0.Add(TTL)
	mustHoldLimited(Key(1, 6), 10, lapse)
	mustHoldLimited(Key(1, 7), 10, lapse)
	wantHoldLimit(t, "hold after lapse", hold(Key(1, 8), 10, lapse), limit)
	if got := userHolds(10, lapse); !reflect.DeepEqual(got, []int{6, 7}) {
		t.Fatalf("after the lapse user 10 holds slots %v, want [6 7]", got)
	}
}

func (su *suite) testLapsedHold(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	k := Key(5, 2)
	held := MustHold(t, s, k, 10, T0)
	lapse := T0.Add(TTL)

	if n, err := s.CountActiveHolds(ctx, lapse.Add(-time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("CountActiveHolds just before expiry = %d, %v; want 1", n, err)
	}
	if n, err := s.CountActiveHolds(ctx, lapse); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds at expiry = %d, %v; want 0", n, err)
	}
	active, err := Active(ctx, s, 5, k.Date, lapse)
	if err != nil || len(active) != 0 {
		t.Fatalf("ActiveReservations at expiry = %+v, %v; want none", active, err)
	}
	_, err = s.Book(ctx, k, As(10), lapse)
	WantErr(t, "book at expiry", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, As(10), lapse)
	WantErr(t, "release at expiry", err, slots.ErrNotHeld)

	// Not yet swept: the next hold expires it and says so, exactly once.
	now := lapse.Add(time.Minute)
	res, err := s.Hold(ctx, k, As(11), now, now.Add(TTL), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Expired == nil || res.Expired.ID != held.ID || res.Expired.State != slots.StateExpired ||
		res.Expired.UserID != 10 || !res.Expired.ExpiresAt.Equal(lapse) || !res.Expired.UpdatedAt.Equal(now) {
		t.Fatalf("Hold after lapse: Expired = %+v, want hold %d expired", res.Expired, held.ID)
	}
	if res.Reservation.UserID != 11 || res.Reservation.State != slots.StateOccupied {
		t.Fatalf("Hold after lapse = %+v", res.Reservation)
	}
	if due, err := s.ExpireDue(ctx, now); err != nil || len(due) != 0 {
		t.Fatalf("ExpireDue after the hold expired the lapsed one = %+v, %v; want none", due, err)
	}

	// A hold that the sweeper already expired is not reported again.
	k2 := Key(5, 3)
	MustHold(t, s, k2, 10, T0)
	if due, err := s.ExpireDue(ctx, now); err != nil || len(due) != 1 {
		t.Fatalf("ExpireDue = %+v, %v; want one", due, err)
	}
	res, err = s.Hold(ctx, k2, As(11), now, now.Add(TTL), 0)
	if err != nil || res.Expired != nil {
		t.Fatalf("Hold after sweep = %+v, %v; want no Expired", res, err)
	}
}

func (su *suite) testExpireDueExactlyOnce(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)

	// 60 holds across spazi and slots expiring over 60 minutes from T0+TTL;
	// sweep at T0+TTL+30m: the first 31 are due.
	due := map[int64]bool{}
	sweep := T0.Add(TTL + 30*time.Minute)
	for i := range 60 {
		k := Key(int64(1+i%8), 1+i/8)
		now := T0.Add(time.Duration(i) * time.Minute)
		r := MustHold(t, s, k, int64(100+i), now)
		if !r.ExpiresAt.After(sweep) {
			due[r.ID] = true
		}
	}
	booked := MustHold(t, s, Key(1, 9), 99, T0)
	if _, err := s.Book(ctx, booked.Key, As(99), T0); err != nil {
		t.Fatal(err)
	}

	const sweepers = 8
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
		errs = make(chan error, sweepers)
	)
	start := make(chan struct{})
	for range sweepers {
		wg.Go(func() {
			<-start
			for range 3 {
				rs, err := s.ExpireDue(ctx, sweep)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rs {
					seen[r.ID]++
					if r.State != slots.StateExpired || r.ExpiresAt.After(sweep) {
						errs <- fmt.Errorf("ExpireDue returned %+v", r)
					}
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(due) != 31 {
		t.Fatalf("test setup: %d holds due, want 31", len(due))
	}
	for id := range due {
		if seen[id] != 1 {
			t.Errorf("hold %d returned %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if !due[id] {
			t.Errorf("hold %d returned %d times but was not due", id, n)
		}
	}
	if n, err := s.CountActiveHolds(ctx, sweep); err != nil || n != 29 {
		t.Errorf("CountActiveHolds after sweep = %d, %v; want 29", n, err)
	}
}

func (su *suite) testNextExpiryAndCount(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	next := func() (time.Time, bool) {
		t.Helper()
		at, ok, err := s.NextExpiry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return at, ok
	}

	if _, ok := next(); ok {
		t.Fatal("NextExpiry of an empty store reported one")
	}
	a := MustHold(t, s, Key(1, 1), 10, T0.Add(5*time.Minute))
	MustHold(t, s, Key(1, 2), 10, T0.Add(7*time.Minute))
	c := MustHold(t, s, Key(1, 3), 10, T0)
	if at, ok := next(); !ok || !at.Equal(c.ExpiresAt) {
		t.Fatalf("NextExpiry = %v, %v; want %v", at, ok, c.ExpiresAt)
	}
	if n, err := s.CountActiveHolds(ctx, T0); err != nil || n != 3 {
		t.Fatalf("CountActiveHolds = %d, %v; want 3", n, err)
	}
	if _, err := s.Book(ctx, c.Key, As(10), T0); err != nil {
		t.Fatal(err)
	}
	if at, ok := next(); !ok || !at.Equal(a.ExpiresAt) {
		t.Fatalf("NextExpiry after booking the first = %v, %v; want %v", at, ok, a.ExpiresAt)
	}
	if n, err := s.CountActiveHolds(ctx, T0); err != nil || n != 2 {
		t.Fatalf("CountActiveHolds after a booking = %d, %v; want 2", n, err)
	}
	// A lapsed hold still counts for NextExpiry: the sweeper must fire now.
	if at, ok := next(); !ok || !at.Equal(a.ExpiresAt) {
		t.Fatalf("NextExpiry = %v, %v; want %v", at, ok, a.ExpiresAt)
	}
	if rs, err := s.ExpireDue(ctx, T0.Add(time.Hour)); err != nil || len(rs) != 2 || rs[0].ID != a.ID {
		t.Fatalf("ExpireDue = %+v, %v; want 2, earliest first", rs, err)
	}
	if _, ok := next(); ok {
		t.Fatal("NextExpiry after everything expired reported one")
	}
}

func (su *suite) testRestart(t *testing.T) {
	ctx := context.Background()
	open := su.l.NewDB(t)
	s := open(t)
	hold := MustHold(t, s, Key(1, 1), 10, T0)
	booking := MustHold(t, s, Key(1, 2), 11, T0)
	booking, err := s.Book(ctx, booking.Key, As(11), T0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t)
	snap, err := s.Snapshot(ctx, 1, hold.Key.Date, T0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []slots.Reservation{su.read(hold), su.read(booking)}; !reflect.DeepEqual(su.readAll(snap.Active), want) {
		t.Fatalf("after restart the snapshot's reservations =\n %+v\nwant\n %+v", snap.Active, want)
	}
	// The grid's version survives too: two holds and a booking.
	if snap.Version != 3 || booking.Version != 3 {
		t.Fatalf("after restart the grid's version = %d (booking's %d), want 3", snap.Version, booking.Version)
	}
	if at, ok, err := s.NextExpiry(ctx); err != nil || !ok || !at.Equal(hold.ExpiresAt) {
		t.Fatalf("after restart NextExpiry = %v, %v, %v; want %v", at, ok, err, hold.ExpiresAt)
	}
	if cat, err := s.Catalog(ctx); err != nil || !reflect.DeepEqual(cat, su.l.Catalog) {
		t.Fatalf("after restart Catalog = %v, %v", cat, err)
	}
	rs, err := s.ExpireDue(ctx, hold.ExpiresAt)
	if err != nil || len(rs) != 1 || rs[0].ID != hold.ID {
		t.Fatalf("after restart ExpireDue = %+v, %v; want hold %d", rs, err, hold.ID)
	}
	if rs[0].Version != 4 {
		t.Fatalf("the first change after restart, an expiry, has version %d, want 4", rs[0].Version)
	}
}

func (su *suite) testCanceledContext(t *testing.T) {
	s := su.seeded(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Hold(ctx, Key(1, 1), As(10), T0, T0.Add(TTL), 0)
	WantErr(t, "Hold with a canceled context", err, context.Canceled)
	_, err = Active(ctx, s, 1, "2030-03-04", T0)
	WantErr(t, "ActiveReservations with a canceled context", err, context.Canceled)
	if n, err := s.CountActiveHolds(context.Background(), T0); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds after a canceled hold = %d, %v; want 0", n, err)
	}
}

func (su *suite) testCloseTwice(t *testing.T) {
	s := su.seeded(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}
