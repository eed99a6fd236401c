package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Grid versions: every committed change of a slot adds one to the version
// of its grid (spazio and date), in the change's transaction; a snapshot
// reads the version together with the rows.

// testVersionEveryChange: a fresh grid is at 0; hold, book, release and
// the expiry of a lapsed hold by the next hold each add one, and return
// the version they committed, which a snapshot then reads; refused
// actions and changes of other grids (spazio or date) leave it alone.
func (su *suite) testVersionEveryChange(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	k := func(slot int) slots.SlotKey { return Key(1, slot) }
	want := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: version %d, want %d", what, got, want)
		}
		if v := gridVersion(t, s, k(1)); v != want {
			t.Fatalf("%s: snapshot reads version %d, want %d", what, v, want)
		}
	}

	want("fresh grid", 0, 0)
	want("hold", MustHold(t, s, k(1), 10, T0).Version, 1)
	want("second hold", MustHold(t, s, k(2), 11, T0).Version, 2)

	_, err := s.Hold(ctx, k(1), As(12), T0, T0.Add(TTL), 0)
	WantErr(t, "hold of a held slot", err, slots.ErrSlotTaken)
	_, err = s.Hold(ctx, k(3), As(10), T0, T0.Add(TTL), 1)
	wantHoldLimit(t, "hold past the cap", err, 1)
	_, err = s.Book(ctx, k(1), As(12), T0)
	WantErr(t, "book by another user", err, slots.ErrNotHeld)
	_, err = s.Release(ctx, k(3), As(10), T0)
	WantErr(t, "release of a free slot", err, slots.ErrNotHeld)
	want("refused actions", gridVersion(t, s, k(1)), 2)

	booked, err := s.Book(ctx, k(2), As(11), T0)
	if err != nil {
		t.Fatal(err)
	}
	want("book", booked.Version, 3)
	released, err := s.Release(ctx, k(1), As(10), T0)
	if err != nil {
		t.Fatal(err)
	}
	want("release", released.Version, 4)

	otherSpazio, otherDate := Key(2, 1), k(1)
	otherDate.Date = "2030-03-05"
	if v := MustHold(t, s, otherSpazio, 10, T0).Version; v != 1 {
		t.Fatalf("first hold in spazio 2: version %d, want 1 (a grid of its own)", v)
	}
	if v := MustHold(t, s, otherDate, 10, T0).Version; v != 1 {
		t.Fatalf("first hold on the next day: version %d, want 1 (a grid of its own)", v)
	}
	want("changes of other grids", gridVersion(t, s, k(1)), 4)

	// A lapsed, unswept hold expired by the next hold: two changes, the
	// expiry first.
	lapsed := MustHold(t, s, k(3), 10, T0)
	want("hold to lapse", lapsed.Version, 5)
	later := T0.Add(TTL + time.Minute)
	res, err := s.Hold(ctx, k(3), As(11), later, later.Add(TTL), 0)
	if err != nil || res.Expired == nil {
		t.Fatalf("hold after lapse = %+v, %v; want it to expire the lapsed hold", res, err)
	}
	if res.Expired.Version != 6 {
		t.Fatalf("expiry by the next hold: version %d, want 6", res.Expired.Version)
	}
	want("hold after lapse", res.Reservation.Version, 7)
}

// testVersionExpiries: one sweep over two grids bumps each once per
// expired hold, with consecutive versions per grid in the order returned.
func (su *suite) testVersionExpiries(t *testing.T) {
	ctx := context.Background()
	s := su.seeded(t)
	a, c := func(slot int) slots.SlotKey { return Key(3, slot) }, func(slot int) slots.SlotKey { return Key(4, slot) }
	// Interleaved expiry times: a1, c1, a2, c2, a3; a4 is not due.
	for i, k := range []slots.SlotKey{a(1), c(1), a(2), c(2), a(3)} {
		MustHold(t, s, k, int64(10+i), T0.Add(time.Duration(i)*time.Minute))
	}
	MustHold(t, s, a(4), 20, T0.Add(time.Hour))
	if va, vc := gridVersion(t, s, a(1)), gridVersion(t, s, c(1)); va != 4 || vc != 2 {
		t.Fatalf("before the sweep: versions %d and %d, want 4 and 2", va, vc)
	}

	rs, err := s.ExpireDue(ctx, T0.Add(TTL+10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d/%d@%d", r.Key.SpazioID, r.Key.Slot, r.Version))
	}
	if want := []string{"3/1@5", "4/1@3", "3/2@6", "4/2@4", "3/3@7"}; !slices.Equal(got, want) {
		t.Fatalf("ExpireDue returned spazio/slot@version %v, want %v", got, want)
	}
	if va, vc := gridVersion(t, s, a(1)), gridVersion(t, s, c(1)); va != 7 || vc != 4 {
		t.Fatalf("after the sweep: versions %d and %d, want 7 and 4", va, vc)
	}
	if rs, err := s.ExpireDue(ctx, T0.Add(TTL+10*time.Minute)); err != nil || len(rs) != 0 {
		t.Fatalf("second sweep = %+v, %v; want nothing", rs, err)
	}
	if va := gridVersion(t, s, a(1)); va != 7 {
		t.Fatalf("an empty sweep moved the version to %d", va)
	}
}

// change is one committed change of a grid as its caller saw it: the slot,
// the version, and the reservation now active on the slot (ID 0: free).
type change struct {
	slot    int
	version int64
	active  slots.Reservation
}

// churnGrid changes the slots of one grid (spazio 6 on key's date) from
// many goroutines through every store: slots 1–6 are held and released
// rounds times each and then booked, while two sweepers expire the holds
// on slots 7–9, which lapse at T0. It returns every change with the
// version it committed, in no particular order.
func (su *suite) churnGrid(t *testing.T, stores []slots.Store, rounds int, during func()) []change {
	t.Helper()
	ctx := context.Background()
	var (
		mu      sync.Mutex
		changes []change
		errs    []error
		wg      sync.WaitGroup
	)
	record := func(c change, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		changes = append(changes, c)
	}
	for slot := 7; slot <= 9; slot++ {
		r := MustHold(t, stores[0], Key(6, slot), int64(200+slot), T0.Add(-TTL))
		record(change{slot: slot, version: r.Version, active: su.read(r)}, nil)
	}
	start := make(chan struct{})
	for slot := 1; slot <= 6; slot++ {
		user := int64(100 + slot)
		k := Key(6, slot)
		wg.Go(func() {
			<-start
			for i := range rounds + 1 {
				s := stores[(slot+i)%len(stores)]
				res, err := s.Hold(ctx, k, As(user), T0, T0.Add(TTL), 0)
				if err != nil {
					record(change{}, err)
					return
				}
				record(change{slot: slot, version: res.Reservation.Version, active: su.read(res.Reservation)}, nil)
				var r slots.Reservation
				if i == rounds {
					r, err = s.Book(ctx, k, As(user), T0)
				} else {
					r, err = s.Release(ctx, k, As(user), T0)
				}
				if err != nil {
					record(change{}, err)
					return
				}
				c := change{slot: slot, version: r.Version}
				if r.State == slots.StateBooked {
					c.active = su.read(r)
				}
				record(c, nil)
			}
		})
	}
	for i := range 2 {
		wg.Go(func() {
			<-start
			for range 5 {
				rs, err := stores[i%len(stores)].ExpireDue(ctx, T0)
				for _, r := range rs {
					record(change{slot: r.Key.Slot, version: r.Version}, nil)
				}
				if err != nil {
					record(change{}, err)
					return
				}
			}
		})
	}
	close(start)
	if during != nil {
		during()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("churn: %v", err)
	}
	return changes
}

// testVersionConcurrentChanges: concurrent holds, releases, bookings and
// sweeps of one grid through two stores get distinct versions, exactly
// 1…N for N changes (no gaps: a refused change leaves no version behind),
// and a snapshot afterwards reads N.
func (su *suite) testVersionConcurrentChanges(t *testing.T) {
	nodes := su.nodes(t)
	changes := su.churnGrid(t, nodes, 15, nil)
	got := make([]int64, 0, len(changes))
	for _, c := range changes {
		got = append(got, c.version)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("versions of %d concurrent changes are not 1…%d: %v", len(got), len(got), got)
		}
	}
	if v := gridVersion(t, nodes[1], Key(6, 1)); v != int64(len(got)) {
		t.Fatalf("snapshot after the churn reads version %d, want %d", v, len(got))
	}
	// The audit trail has exactly one entry per change, with its version,
	// slot and the reservation it left active (or ended).
	trail, err := nodes[0].History(context.Background(), 6, Key(6, 1).Date, 0, len(changes)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != len(changes) {
		t.Fatalf("%d audit entries for %d changes", len(trail), len(changes))
	}
	byVersion := map[int64]change{}
	for _, c := range changes {
		byVersion[c.version] = c
	}
	for i, e := range trail {
		c := byVersion[e.Version]
		if e.Version != int64(len(trail)-i) || e.Key.Slot != c.slot || (c.active.ID != 0 && e.ReservationID != c.active.ID) {
			t.Fatalf("audit entry %d = %+v, want version %d of change %+v", i, e, len(trail)-i, c)
		}
	}
	t.Logf("%s: %d concurrent changes of one grid through %d stores got versions 1…%d", su.l.Name, len(got), len(nodes), len(got))
}

// testVersionSnapshotMatchesRows: snapshots taken while the grid churns
// show exactly the state that the changes up to their version produce,
// so the version and the rows come from one database snapshot.
func (su *suite) testVersionSnapshotMatchesRows(t *testing.T) {
	ctx := context.Background()
	nodes := su.nodes(t)
	var snaps []slots.Snapshot
	var readErr error
	changes := su.churnGrid(t, nodes, 15, func() {
		// Read until the writers have done most of their work: the
		// snapshots land all over the churn.
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			snap, err := nodes[i%len(nodes)].Snapshot(ctx, 6, Key(6, 1).Date, T0)
			if err != nil {
				readErr = err
				return
			}
			snaps = append(snaps, snap)
			if snap.Version >= 2*15*6 {
				return
			}
		}
	})
	if readErr != nil {
		t.Fatal(readErr)
	}
	byVersion := make(map[int64]change, len(changes))
	for _, c := range changes {
		byVersion[c.version] = c
	}
	// states[v] is the grid after the changes 1…v: slot → active reservation.
	states := make([]map[int]slots.Reservation, len(changes)+1)
	states[0] = map[int]slots.Reservation{}
	for v := 1; v <= len(changes); v++ {
		c, ok := byVersion[int64(v)]
		if !ok {
			t.Fatalf("no change has version %d", v)
		}
		states[v] = maps.Clone(states[v-1])
		if c.active.ID != 0 {
			states[v][c.slot] = c.active
		} else {
			delete(states[v], c.slot)
		}
	}
	versions := map[int64]bool{}
	for _, snap := range snaps {
		if snap.Version < 0 || snap.Version > int64(len(changes)) {
			t.Fatalf("snapshot at version %d, outside 0…%d", snap.Version, len(changes))
		}
		got := map[int]slots.Reservation{}
		for _, r := range snap.Active {
			got[r.Key.Slot] = su.read(r)
		}
		// Holds on slots 7–9 lapsed at T0: a snapshot at T0 shows them free
		// whether or not the sweep has expired them yet.
		want := maps.Clone(states[snap.Version])
		for slot := 7; slot <= 9; slot++ {
			delete(want, slot)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("snapshot at version %d shows\n %+v\nbut the changes up to it make\n %+v", snap.Version, got, want)
		}
		versions[snap.Version] = true
	}
	if len(versions) < 10 {
		t.Fatalf("only %d distinct versions among %d snapshots: the reads did not overlap the churn", len(versions), len(snaps))
	}
	t.Logf("%s: %d snapshots at %d distinct versions during %d changes each matched the changes up to their version",
		su.l.Name, len(snaps), len(versions), len(changes))
}
