package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

func TestConformanceSQLite(t *testing.T) {
	runConformance(t, sqliteBackend())
}

func TestConformancePostgres(t *testing.T) {
	runConformance(t, postgresBackend(t))
}

// t0 is the tests' "now": whole milliseconds, as the store keeps them.
var t0 = time.Date(2030, 3, 4, 9, 30, 0, 0, time.UTC)

const ttl = 15 * time.Minute

// runConformance checks every slots.Store promise against one backend.
func runConformance(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend)
	}{
		{"Catalog", testCatalog},
		{"CatalogRejectsBadInput", testCatalogRejectsBadInput},
		{"HoldBookRelease", testHoldBookRelease},
		{"HoldUnknownSpazio", testHoldUnknownSpazio},
		{"HoldLimit", testHoldLimit},
		{"LapsedHold", testLapsedHold},
		{"ExpireDueExactlyOnce", testExpireDueExactlyOnce},
		{"NextExpiryAndCount", testNextExpiryAndCount},
		{"Restart", testRestart},
		{"MigrationsIdempotent", testMigrationsIdempotent},
		{"CanceledContext", testCanceledContext},
		{"CloseTwice", testCloseTwice},
		{"VersionEveryChange", testVersionEveryChange},
		{"VersionExpiries", testVersionExpiries},
		{"VersionConcurrentChanges", testVersionConcurrentChanges},
		{"VersionSnapshotMatchesRows", testVersionSnapshotMatchesRows},
		{"AuditEveryAction", testAuditEveryAction},
		{"Cancel", testCancel},
		{"CancelRaces", testCancelRaces},
		{"MigrationKeepsReservations", testMigrationKeepsReservations},
		{"MigrationKeepsAudit", testMigrationKeepsAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// newSeeded opens a fresh database holding the demo catalog.
func newSeeded(t *testing.T, b backend) *Store {
	t.Helper()
	s := openStore(t, b.newDSN(t))
	if err := s.UpsertCatalog(context.Background(), slots.DemoCatalog()); err != nil {
		t.Fatalf("UpsertCatalog: %v", err)
	}
	return s
}

func key(spazio int64, slot int) slots.SlotKey {
	sede := int64(1)
	if spazio > 4 {
		sede = 2
	}
	return slots.SlotKey{SpazioID: spazio, SedeID: sede, Date: "2030-03-04", Slot: slot}
}

func mustHold(t *testing.T, s *Store, k slots.SlotKey, user int64, now time.Time) slots.Reservation {
	t.Helper()
	res, err := s.Hold(context.Background(), k, as(user), now, now.Add(ttl), 0)
	if err != nil {
		t.Fatalf("Hold(%+v, user %d): %v", k, user, err)
	}
	return res.Reservation
}

// activeReservations is the reservations of a Snapshot.
func activeReservations(ctx context.Context, s *Store, spazioID int64, date string, now time.Time) ([]slots.Reservation, error) {
	snap, err := s.Snapshot(ctx, spazioID, date, now)
	return snap.Active, err
}

// unversioned is r as a Snapshot lists it: without the version of the
// change that returned it.
func unversioned(r slots.Reservation) slots.Reservation {
	r.Version = 0
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func testCatalog(t *testing.T, b backend) {
	ctx := context.Background()
	s := openStore(t, b.newDSN(t))

	got, err := s.Catalog(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty Catalog = %v, %v; want nothing", got, err)
	}

	want := slots.DemoCatalog()
	want[1].Timezone = "Europe/Rome"
	want[1].Spazi[0].SedeID = 0 // filled in from the sede it is listed under
	if err := s.UpsertCatalog(ctx, want); err != nil {
		t.Fatal(err)
	}
	want[1].Spazi[0].SedeID = 2
	want = append(want, slots.Sede{ID: 3, Nome: "Empty", Apertura: "08:00", Chiusura: "20:00"})
	if err := s.UpsertCatalog(ctx, want[2:]); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Catalog(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Catalog:\n got %+v\nwant %+v", got, want)
	}

	// Spazio is cached: this lookup must not hide the upsert below.
	if sp, sede, err := s.Spazio(ctx, 4); err != nil || sp.SedeID != 1 || sede.ID != 1 {
		t.Fatalf("Spazio(4) before the move = %+v, %+v, %v", sp, sede, err)
	}
	// Upsert again: rename, move spazio 4 to sede 2, add spazio 9.
	sede1, sede2 := want[0], want[1]
	sede1.Nome = "Cowork Milano Centrale"
	moved := sede1.Spazi[3]
	moved.SedeID = 2
	sede1.Spazi = sede1.Spazi[:3]
	sede2.Spazi = append([]slots.Spazio{moved}, append(sede2.Spazi, slots.Spazio{ID: 9, SedeID: 2, Nome: "Terrazza", Capacita: 30})...)
	if err := s.UpsertCatalog(ctx, []slots.Sede{sede1, sede2}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Catalog(ctx); err != nil {
		t.Fatal(err)
	}
	if got[0].Nome != "Cowork Milano Centrale" || len(got[0].Spazi) != 3 {
		t.Errorf("sede 1 after upsert = %+v", got[0])
	}
	var ids []int64
	for _, sp := range got[1].Spazi {
		ids = append(ids, sp.ID)
	}
	if !reflect.DeepEqual(ids, []int64{4, 5, 6, 7, 8, 9}) {
		t.Errorf("sede 2 spazi after upsert = %v, want ordered 4..9", ids)
	}

	sp, sede, err := s.Spazio(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if sp != moved || sede.ID != 2 || sede.Timezone != "Europe/Rome" || sede.Nome != sede2.Nome {
		t.Errorf("Spazio(4) = %+v, %+v", sp, sede)
	}
	_, _, err = s.Spazio(ctx, 99)
	wantErr(t, "Spazio(99)", err, slots.ErrSpazioNotFound)
}

func testCatalogRejectsBadInput(t *testing.T, b backend) {
	ctx := context.Background()
	s := openStore(t, b.newDSN(t))
	ok := slots.Sede{ID: 1, Nome: "A", Spazi: []slots.Spazio{{ID: 1, Nome: "x"}}}
	tests := []struct {
		name string
		sedi []slots.Sede
	}{
		{"no nome", []slots.Sede{{ID: 1}}},
		{"sede listed twice", []slots.Sede{ok, {ID: 1, Nome: "B"}}},
		{"spazio listed twice", []slots.Sede{ok, {ID: 2, Nome: "B", Spazi: []slots.Spazio{{ID: 1, Nome: "y"}}}}},
		{"spazio of another sede", []slots.Sede{{ID: 2, Nome: "B", Spazi: []slots.Spazio{{ID: 1, SedeID: 1, Nome: "y"}}}}},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, s.UpsertCatalog(ctx, tc.sedi), slots.ErrBadInput)
	}
	if got, err := s.Catalog(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Catalog after rejected upserts = %v, %v; want nothing", got, err)
	}
}

func testHoldBookRelease(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
	k := key(2, 3)

	held := mustHold(t, s, k, 10, t0)
	if held.ID == 0 || held.Key != k || held.UserID != 10 || held.State != slots.StateOccupied ||
		!held.ExpiresAt.Equal(t0.Add(ttl)) || !held.CreatedAt.Equal(t0) || !held.UpdatedAt.Equal(t0) {
		t.Fatalf("Hold = %+v", held)
	}

	_, err := s.Hold(ctx, k, as(11), t0, t0.Add(ttl), 0)
	wantErr(t, "hold by another user", err, slots.ErrSlotTaken)
	_, err = s.Hold(ctx, k, as(10), t0, t0.Add(ttl), 0)
	wantErr(t, "hold again by the holder", err, slots.ErrSlotTaken)
	_, err = s.Book(ctx, k, as(11), t0)
	wantErr(t, "book by another user", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, as(11), t0)
	wantErr(t, "release by another user", err, slots.ErrNotHeld)
	_, err = s.Book(ctx, key(2, 4), as(10), t0)
	wantErr(t, "book of a free slot", err, slots.ErrNotHeld)

	later := t0.Add(time.Minute)
	booked, err := s.Book(ctx, k, as(10), later)
	if err != nil {
		t.Fatal(err)
	}
	if booked.ID != held.ID || booked.State != slots.StateBooked || !booked.ExpiresAt.IsZero() || !booked.UpdatedAt.Equal(later) {
		t.Fatalf("Book = %+v", booked)
	}
	_, err = s.Hold(ctx, k, as(11), later, later.Add(ttl), 0)
	wantErr(t, "hold of a booked slot", err, slots.ErrSlotTaken)
	_, err = s.Book(ctx, k, as(10), later)
	wantErr(t, "book twice", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, as(10), later)
	wantErr(t, "release of a booking", err, slots.ErrNotHeld)

	// The same slot number of another spazio or date is another slot.
	other := mustHold(t, s, key(3, 3), 11, t0)
	nextDay := k
	nextDay.Date = "2030-03-05"
	mustHold(t, s, nextDay, 11, t0)

	released, err := s.Release(ctx, other.Key, as(11), later)
	if err != nil {
		t.Fatal(err)
	}
	if released.ID != other.ID || released.State != slots.StateReleased || !released.ExpiresAt.IsZero() {
		t.Fatalf("Release = %+v", released)
	}
	again := mustHold(t, s, other.Key, 12, later)
	if again.ID == other.ID {
		t.Fatalf("hold after release reused reservation %d", other.ID)
	}

	active, err := activeReservations(ctx, s, 2, k.Date, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0] != unversioned(booked) {
		t.Fatalf("ActiveReservations(spazio 2) = %+v, want only %+v", active, booked)
	}
	mustHold(t, s, key(2, 1), 13, later)
	active, err = activeReservations(ctx, s, 2, k.Date, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].Key.Slot != 1 || active[1].Key.Slot != 3 {
		t.Fatalf("ActiveReservations(spazio 2) = %+v, want slots 1 and 3 in order", active)
	}
}

func testHoldUnknownSpazio(t *testing.T, b backend) {
	s := newSeeded(t, b)
	_, err := s.Hold(context.Background(), key(99, 1), as(10), t0, t0.Add(ttl), 0)
	wantErr(t, "hold of spazio 99", err, slots.ErrSpazioNotFound)
}

// wantHoldLimit fails unless err is the refusal of a hold past limit.
func wantHoldLimit(t *testing.T, what string, err error, limit int) {
	t.Helper()
	var le *slots.LimitError
	if !errors.Is(err, slots.ErrHoldLimit) || !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("%s: got error %v, want a *slots.LimitError of ErrHoldLimit with limit %d", what, err, limit)
	}
}

// testHoldLimit: with maxHolds, a user's occupied, unexpired holds are
// capped; bookings, releases and lapsed holds free a place; other users and
// maxHolds 0 are not limited.
func testHoldLimit(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
	const limit = 2
	hold := func(k slots.SlotKey, user int64, now time.Time) error {
		_, err := s.Hold(ctx, k, as(user), now, now.Add(ttl), limit)
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
		active, err := activeReservations(ctx, s, 1, key(1, 1).Date, now)
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

	mustHoldLimited(key(1, 1), 10, t0)
	mustHoldLimited(key(1, 2), 10, t0)
	wantHoldLimit(t, "third hold", hold(key(1, 3), 10, t0), limit)
	if got := userHolds(10, t0); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("after a refused hold user 10 holds slots %v, want [1 2]", got)
	}
	mustHoldLimited(key(1, 3), 11, t0) // another user has a cap of their own

	// maxHolds 0 is no cap; a cap counts the holds made before it applied.
	if _, err := s.Hold(ctx, key(1, 4), as(10), t0, t0.Add(ttl), 0); err != nil {
		t.Fatalf("Hold without a cap: %v", err)
	}
	wantHoldLimit(t, "hold with three held", hold(key(1, 5), 10, t0), limit)

	// A booking is no hold, but two holds remain; a release frees a place.
	if _, err := s.Book(ctx, key(1, 1), as(10), t0); err != nil {
		t.Fatal(err)
	}
	wantHoldLimit(t, "hold after booking one of three", hold(key(1, 5), 10, t0), limit)
	if _, err := s.Release(ctx, key(1, 4), as(10), t0); err != nil {
		t.Fatal(err)
	}
	mustHoldLimited(key(1, 5), 10, t0)
	wantHoldLimit(t, "hold after refilling the place", hold(key(1, 6), 10, t0), limit)

	// Holds that lapsed count no more, swept or not.
	lapse := t0.Add(ttl)
	mustHoldLimited(key(1, 6), 10, lapse)
	mustHoldLimited(key(1, 7), 10, lapse)
	wantHoldLimit(t, "hold after lapse", hold(key(1, 8), 10, lapse), limit)
	if got := userHolds(10, lapse); !reflect.DeepEqual(got, []int{6, 7}) {
		t.Fatalf("after the lapse user 10 holds slots %v, want [6 7]", got)
	}
}

func testLapsedHold(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
	k := key(5, 2)
	held := mustHold(t, s, k, 10, t0)
	lapse := t0.Add(ttl)

	if n, err := s.CountActiveHolds(ctx, lapse.Add(-time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("CountActiveHolds just before expiry = %d, %v; want 1", n, err)
	}
	if n, err := s.CountActiveHolds(ctx, lapse); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds at expiry = %d, %v; want 0", n, err)
	}
	active, err := activeReservations(ctx, s, 5, k.Date, lapse)
	if err != nil || len(active) != 0 {
		t.Fatalf("ActiveReservations at expiry = %+v, %v; want none", active, err)
	}
	_, err = s.Book(ctx, k, as(10), lapse)
	wantErr(t, "book at expiry", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k, as(10), lapse)
	wantErr(t, "release at expiry", err, slots.ErrNotHeld)

	// Not yet swept: the next hold expires it and says so, exactly once.
	now := lapse.Add(time.Minute)
	res, err := s.Hold(ctx, k, as(11), now, now.Add(ttl), 0)
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
	k2 := key(5, 3)
	mustHold(t, s, k2, 10, t0)
	if due, err := s.ExpireDue(ctx, now); err != nil || len(due) != 1 {
		t.Fatalf("ExpireDue = %+v, %v; want one", due, err)
	}
	res, err = s.Hold(ctx, k2, as(11), now, now.Add(ttl), 0)
	if err != nil || res.Expired != nil {
		t.Fatalf("Hold after sweep = %+v, %v; want no Expired", res, err)
	}
}

func testExpireDueExactlyOnce(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)

	// 60 holds across spazi and slots expiring over 60 minutes from t0+ttl;
	// sweep at t0+ttl+30m: the first 31 are due.
	due := map[int64]bool{}
	sweep := t0.Add(ttl + 30*time.Minute)
	for i := range 60 {
		k := key(int64(1+i%8), 1+i/8)
		now := t0.Add(time.Duration(i) * time.Minute)
		r := mustHold(t, s, k, int64(100+i), now)
		if !r.ExpiresAt.After(sweep) {
			due[r.ID] = true
		}
	}
	booked := mustHold(t, s, key(1, 9), 99, t0)
	if _, err := s.Book(ctx, booked.Key, as(99), t0); err != nil {
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

func testNextExpiryAndCount(t *testing.T, b backend) {
	ctx := context.Background()
	s := newSeeded(t, b)
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
	a := mustHold(t, s, key(1, 1), 10, t0.Add(5*time.Minute))
	mustHold(t, s, key(1, 2), 10, t0.Add(7*time.Minute))
	c := mustHold(t, s, key(1, 3), 10, t0)
	if at, ok := next(); !ok || !at.Equal(c.ExpiresAt) {
		t.Fatalf("NextExpiry = %v, %v; want %v", at, ok, c.ExpiresAt)
	}
	if n, err := s.CountActiveHolds(ctx, t0); err != nil || n != 3 {
		t.Fatalf("CountActiveHolds = %d, %v; want 3", n, err)
	}
	if _, err := s.Book(ctx, c.Key, as(10), t0); err != nil {
		t.Fatal(err)
	}
	if at, ok := next(); !ok || !at.Equal(a.ExpiresAt) {
		t.Fatalf("NextExpiry after booking the first = %v, %v; want %v", at, ok, a.ExpiresAt)
	}
	if n, err := s.CountActiveHolds(ctx, t0); err != nil || n != 2 {
		t.Fatalf("CountActiveHolds after a booking = %d, %v; want 2", n, err)
	}
	// A lapsed hold still counts for NextExpiry: the sweeper must fire now.
	if at, ok := next(); !ok || !at.Equal(a.ExpiresAt) {
		t.Fatalf("NextExpiry = %v, %v; want %v", at, ok, a.ExpiresAt)
	}
	if rs, err := s.ExpireDue(ctx, t0.Add(time.Hour)); err != nil || len(rs) != 2 || rs[0].ID != a.ID {
		t.Fatalf("ExpireDue = %+v, %v; want 2, earliest first", rs, err)
	}
	if _, ok := next(); ok {
		t.Fatal("NextExpiry after everything expired reported one")
	}
}

func testRestart(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	hold := mustHold(t, s, key(1, 1), 10, t0)
	booking := mustHold(t, s, key(1, 2), 11, t0)
	if booking, err = s.Book(ctx, booking.Key, as(11), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dsn)
	snap, err := s.Snapshot(ctx, 1, hold.Key.Date, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []slots.Reservation{unversioned(hold), unversioned(booking)}; !reflect.DeepEqual(snap.Active, want) {
		t.Fatalf("after restart the snapshot's reservations =\n %+v\nwant\n %+v", snap.Active, want)
	}
	// The grid's version survives too: two holds and a booking.
	if snap.Version != 3 || booking.Version != 3 {
		t.Fatalf("after restart the grid's version = %d (booking's %d), want 3", snap.Version, booking.Version)
	}
	if at, ok, err := s.NextExpiry(ctx); err != nil || !ok || !at.Equal(hold.ExpiresAt) {
		t.Fatalf("after restart NextExpiry = %v, %v, %v; want %v", at, ok, err, hold.ExpiresAt)
	}
	if cat, err := s.Catalog(ctx); err != nil || len(cat) != 2 {
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

func testMigrationsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s1 := openStore(t, dsn)
	applied, err := s1.migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrate again = %v, %v; want nothing applied", applied, err)
	}
	s2 := openStore(t, dsn) // a second node, or a restart while one runs
	ms, err := migrations(s2.dialect)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s2.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || n == 0 {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}

	// A database migrated by a newer coworkctl is refused, not damaged.
	if _, err := s2.w.ExecContext(ctx, s2.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`), 9999); err != nil {
		t.Fatal(err)
	}
	if s3, err := Open(ctx, dsn, nil); err == nil {
		_ = s3.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded")
	}
}

func testCanceledContext(t *testing.T, b backend) {
	s := newSeeded(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Hold(ctx, key(1, 1), as(10), t0, t0.Add(ttl), 0)
	wantErr(t, "Hold with a canceled context", err, context.Canceled)
	_, err = activeReservations(ctx, s, 1, "2030-03-04", t0)
	wantErr(t, "ActiveReservations with a canceled context", err, context.Canceled)
	if n, err := s.CountActiveHolds(context.Background(), t0); err != nil || n != 0 {
		t.Fatalf("CountActiveHolds after a canceled hold = %d, %v; want 0", n, err)
	}
}

func testCloseTwice(t *testing.T, b backend) {
	s, err := Open(context.Background(), b.newDSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
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

// as is a user acting with the cliente role.
func as(user int64) slots.Actor { return slots.Actor{UserID: user, Role: "cliente"} }
