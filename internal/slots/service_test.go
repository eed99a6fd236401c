package slots_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder is a Notifier that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	changes []slots.Change
	expired [][]slots.Change
	// cancelled are the staff cancels announced, in order.
	cancelled []cancelNote
	signal    chan struct{}
}

type cancelNote struct {
	change slots.Change
	reason string
}

// asUser is a user acting with the cliente role.
func asUser(id int64) slots.Actor { return slots.Actor{UserID: id, Role: "cliente"} }

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 100)} }

func (r *recorder) SlotChanged(_ context.Context, c slots.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *recorder) HoldsExpired(_ context.Context, c []slots.Change) {
	r.mu.Lock()
	r.expired = append(r.expired, c)
	r.mu.Unlock()
	r.signal <- struct{}{}
}

func (r *recorder) SlotCancelled(_ context.Context, c slots.Change, reason string) {
	r.mu.Lock()
	r.cancelled = append(r.cancelled, cancelNote{c, reason})
	r.mu.Unlock()
}

func (r *recorder) cancels() []cancelNote {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cancelNote(nil), r.cancelled...)
}

func (r *recorder) snapshot() ([]slots.Change, [][]slots.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slots.Change(nil), r.changes...), append([][]slots.Change(nil), r.expired...)
}

// Tomorrow 00:00 UTC is the fixture's "now" day; slots are tomorrow+1.
var (
	start = time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC) // before opening
	day   = "2026-03-10"
)

func newService(t *testing.T, clock slots.Clock, ttl time.Duration) (*slots.Service, *recorder, *store.Store) {
	t.Helper()
	return newServiceWith(t, clock, slots.Config{HoldTTL: ttl, Location: time.UTC})
}

func newServiceWith(t *testing.T, clock slots.Clock, cfg slots.Config) (*slots.Service, *recorder, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	svc := slots.NewService(st, rec, clock, cfg, nil)
	return svc, rec, st
}

func TestGridStatusesAndPrivacy(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, _, _ := newService(t, clock, 2*time.Hour)

	if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 3}, asUser(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 5}, asUser(11)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Book(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 5}, asUser(11)); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour) // 09:30: slot 1 (09:00) is past

	tests := []struct {
		name       string
		viewer     slots.Viewer
		seeHolder3 bool
		seeHolder5 bool
	}{
		{"anonymous", slots.Viewer{}, false, false},
		{"holder of 3", slots.Viewer{UserID: 10}, true, false},
		{"staff", slots.Viewer{UserID: 99, Staff: true}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := svc.Grid(ctx, 1, 1, day, tt.viewer)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Slots) != 9 {
				t.Fatalf("got %d slots, want 9 (09:00-18:00)", len(g.Slots))
			}
			want := map[int]slots.Status{1: slots.StatusPast, 2: slots.StatusAvailable, 3: slots.StatusOccupied, 5: slots.StatusBooked, 9: slots.StatusAvailable}
			for n, status := range want {
				if got := g.Slots[n-1].Status; got != status {
					t.Errorf("slot %d status = %s, want %s", n, got, status)
				}
			}
			for i, s := range g.Slots {
				if s.Number != i+1 {
					t.Errorf("slot %d has number %d", i+1, s.Number)
				}
			}
			at := func(h int) time.Time { return time.Date(2026, 3, 10, h, 0, 0, 0, time.UTC) }
			if !g.Slots[0].Start.Equal(at(9)) || !g.Slots[8].Start.Equal(at(17)) || !g.Slots[2].Start.Equal(at(11)) || !g.Slots[2].End.Equal(at(12)) {
				t.Errorf("times wrong: %v %v %v-%v", g.Slots[0].Start, g.Slots[8].Start, g.Slots[2].Start, g.Slots[2].End)
			}
			if !g.At.Equal(clock.Now()) {
				t.Errorf("grid read at %v, want %v", g.At, clock.Now())
			}
			s3 := g.Slots[2]
			// Held at 08:30 for two hours, read at 09:30: one hour left.
			if !s3.ExpiresAt.Equal(time.Date(2026, 3, 10, 10, 30, 0, 0, time.UTC)) || s3.ExpiresAt.Sub(g.At) != time.Hour {
				t.Errorf("slot 3 expires at %v, %v after the read; want 10:30Z, 1h", s3.ExpiresAt, s3.ExpiresAt.Sub(g.At))
			}
			if !g.Slots[0].ExpiresAt.IsZero() || !g.Slots[4].ExpiresAt.IsZero() {
				t.Error("past or booked slot carries an expiry")
			}
			visible := func(see bool, id int64) int64 {
				if see {
					return id
				}
				return 0
			}
			if s3.HolderID != visible(tt.seeHolder3, 10) || g.Slots[4].HolderID != visible(tt.seeHolder5, 11) {
				t.Errorf("privacy: holders %d of 3 and %d of 5, want %d and %d",
					s3.HolderID, g.Slots[4].HolderID, visible(tt.seeHolder3, 10), visible(tt.seeHolder5, 11))
			}
		})
	}
}

func TestLapsedHoldReadsFreeBeforeSweep(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, rec, _ := newService(t, clock, 15*time.Minute)
	a := slots.Action{SpazioID: 2, SedeID: 1, Date: day, Slot: 4}
	if _, err := svc.Hold(ctx, a, asUser(1)); err != nil {
		t.Fatal(err)
	}
	g, _ := svc.Grid(ctx, 2, 1, day, slots.Viewer{})
	if g.Slots[3].Status != slots.StatusOccupied || g.Slots[3].ExpiresAt.Sub(g.At) != 15*time.Minute {
		t.Fatalf("fresh hold: %+v", g.Slots[3])
	}
	clock.Add(15 * time.Minute)
	g, _ = svc.Grid(ctx, 2, 1, day, slots.Viewer{})
	if g.Slots[3].Status != slots.StatusAvailable {
		t.Fatalf("lapsed hold reads %s, want available", g.Slots[3].Status)
	}
	// Another user takes it before the sweeper ran: the lapsed hold is
	// announced as expired exactly once, by the hold itself.
	if _, err := svc.Hold(ctx, a, asUser(2)); err != nil {
		t.Fatalf("hold of a lapsed slot: %v", err)
	}
	if n, err := svc.SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("SweepOnce after takeover = %d, %v; want 0 (already expired by the hold)", n, err)
	}
	_, expired := rec.snapshot()
	if len(expired) != 1 || len(expired[0]) != 1 || expired[0][0].UserID != 1 || !expired[0][0].Start.Equal(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("expired announcements = %+v, want one for user 1 at 12:00", expired)
	}
	// Hold (1), its expiry (2), the new hold (3): announced in that order.
	changes, _ := rec.snapshot()
	if expired[0][0].Version != 2 || len(changes) != 2 || changes[0].Version != 1 || changes[1].Version != 3 {
		t.Fatalf("versions: expiry %d, changes %+v; want expiry 2 between holds 1 and 3", expired[0][0].Version, changes)
	}
}

func TestActionErrors(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start.Add(2 * time.Hour)} // 10:30
	svc, _, _ := newService(t, clock, 15*time.Minute)
	if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 6}, asUser(1)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"taken", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 6}, asUser(2))
			return err
		}, slots.ErrSlotTaken},
		{"past", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 2}, asUser(2))
			return err
		}, slots.ErrSlotPast},
		{"slot 0", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 0}, asUser(2))
			return err
		}, slots.ErrSlotOutOfRange},
		{"slot 10", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 10}, asUser(2))
			return err
		}, slots.ErrSlotOutOfRange},
		{"bad date", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: "2026-02-30", Slot: 7}, asUser(2))
			return err
		}, slots.ErrBadDate},
		{"unknown spazio", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 99, SedeID: 1, Date: day, Slot: 7}, asUser(2))
			return err
		}, slots.ErrSpazioNotFound},
		{"wrong sede", func() error {
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 5, SedeID: 1, Date: day, Slot: 7}, asUser(2))
			return err
		}, slots.ErrSpazioNotInSede},
		{"book others' hold", func() error {
			_, err := svc.Book(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 6}, asUser(2))
			return err
		}, slots.ErrNotHeld},
		{"release others' hold", func() error {
			_, err := svc.Release(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 6}, asUser(2))
			return err
		}, slots.ErrNotHeld},
		{"book free slot", func() error {
			_, err := svc.Book(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 8}, asUser(1))
			return err
		}, slots.ErrNotHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// Wrapped once: no part of the message is said twice.
			seen := map[string]bool{}
			for _, part := range strings.Split(err.Error(), ": ") {
				if seen[part] {
					t.Errorf("%q says %q twice", err, part)
				}
				seen[part] = true
			}
		})
	}
}

func TestNotificationsFollowActions(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, rec, _ := newService(t, clock, 15*time.Minute)
	a := slots.Action{SpazioID: 3, SedeID: 1, Date: day, Slot: 2}
	r, err := svc.Hold(ctx, a, asUser(7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Release(ctx, a, asUser(7)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(ctx, a, asUser(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Book(ctx, a, asUser(8)); err != nil {
		t.Fatal(err)
	}
	changes, _ := rec.snapshot()
	want := []slots.Status{slots.StatusOccupied, slots.StatusAvailable, slots.StatusOccupied, slots.StatusBooked}
	if len(changes) != len(want) {
		t.Fatalf("got %d changes, want %d", len(changes), len(want))
	}
	for i, c := range changes {
		if c.Status != want[i] || c.Key.Slot != 2 || c.Key.SpazioID != 3 || !c.Start.Equal(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("change %d = %+v, want status %s for slot 2 of spazio 3 at 10:00", i, c, want[i])
		}
		if c.Version != int64(i+1) {
			t.Errorf("change %d has version %d, want %d", i, c.Version, i+1)
		}
	}
	if g, err := svc.Grid(ctx, 3, 1, day, slots.Viewer{}); err != nil || g.Version != 4 {
		t.Errorf("grid after four changes: version %d, %v; want 4", g.Version, err)
	}
	if !changes[0].ExpiresAt.Equal(r.ExpiresAt) || !changes[0].ExpiresAt.Equal(start.Add(15*time.Minute)) {
		t.Errorf("hold change expires at %v, want %v", changes[0].ExpiresAt, start.Add(15*time.Minute))
	}
}

func TestSweepExpiresExactlyOnceAtExpiry(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, rec, _ := newService(t, clock, 15*time.Minute)
	for slot := 1; slot <= 3; slot++ {
		if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: slot}, asUser(int64(slot))); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(15*time.Minute - time.Millisecond)
	if n, err := svc.SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("sweep 1ms before expiry freed %d (%v), want 0", n, err)
	}
	clock.Add(time.Millisecond)
	if n, err := svc.SweepOnce(ctx); err != nil || n != 3 {
		t.Fatalf("sweep at expiry freed %d (%v), want 3", n, err)
	}
	if n, err := svc.SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep freed %d (%v), want 0", n, err)
	}
	_, expired := rec.snapshot()
	if len(expired) != 1 || len(expired[0]) != 3 {
		t.Fatalf("expiry announcements = %v, want one batch of 3", expired)
	}
	for i, c := range expired[0] {
		if c.Version != int64(4+i) {
			t.Errorf("expiry %d has version %d, want %d (after the three holds)", i, c.Version, 4+i)
		}
	}
}

func TestSedeHoursAndValidate(t *testing.T) {
	if n, err := (slots.Sede{}).SlotCount(); err != nil || n != 9 {
		t.Fatalf("default SlotCount = %d, %v; want 9", n, err)
	}
	bad := []slots.Sede{
		{ID: 0, Nome: "x"},
		{ID: 1},
		{ID: 1, Nome: "x", Timezone: "Mars/Base"},
		{ID: 1, Nome: "x", Apertura: "18:00", Chiusura: "09:00"},
		{ID: 1, Nome: "x", Apertura: "9am"},
		{ID: 1, Nome: "x", Spazi: []slots.Spazio{{ID: -1, Nome: "s"}}},
		{ID: 1, Nome: "x", Spazi: []slots.Spazio{{ID: 2, SedeID: 3, Nome: "s"}}},
	}
	for i, s := range bad {
		if err := s.Validate(); !errors.Is(err, slots.ErrBadInput) {
			t.Errorf("case %d: Validate = %v, want ErrBadInput", i, err)
		}
	}
	for _, s := range slots.DemoCatalog() {
		if err := s.Validate(); err != nil {
			t.Errorf("demo sede %d invalid: %v", s.ID, err)
		}
	}
}
