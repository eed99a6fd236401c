package slots_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// sweepStore is an in-memory Store for the sweeper's tests: it keeps the
// occupied holds and records when ExpireDue ran and how often NextExpiry
// was asked. Methods the sweeper and Hold/Cancel do not use are left to
// the embedded nil Store and panic.
type sweepStore struct {
	slots.Store

	mu      sync.Mutex
	nextID  int64
	holds   map[slots.SlotKey]slots.Reservation
	expires []time.Time // the now of every ExpireDue call
	nexts   int         // NextExpiry calls
	// block makes ExpireDue wait for its context to end.
	block bool
}

func newSweepStore() *sweepStore {
	return &sweepStore{holds: map[slots.SlotKey]slots.Reservation{}}
}

func (s *sweepStore) Spazio(_ context.Context, id int64) (slots.Spazio, slots.Sede, error) {
	for _, sede := range slots.DemoCatalog() {
		for _, sp := range sede.Spazi {
			if sp.ID == id {
				return sp, sede, nil
			}
		}
	}
	return slots.Spazio{}, slots.Sede{}, slots.ErrSpazioNotFound
}

func (s *sweepStore) Hold(_ context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, _ int) (slots.HoldResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.holds[key]; ok && r.ExpiresAt.After(now) {
		return slots.HoldResult{}, slots.ErrSlotTaken
	}
	return slots.HoldResult{Reservation: s.insertLocked(key, by.UserID, expiresAt)}, nil
}

// insertLocked adds a hold as if some node had made it.
func (s *sweepStore) insertLocked(key slots.SlotKey, user int64, expiresAt time.Time) slots.Reservation {
	s.nextID++
	r := slots.Reservation{ID: s.nextID, Key: key, UserID: user, State: slots.StateOccupied, ExpiresAt: expiresAt}
	s.holds[key] = r
	return r
}

// holdElsewhere adds a hold behind the service's back: another node's.
func (s *sweepStore) holdElsewhere(key slots.SlotKey, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insertLocked(key, 99, expiresAt)
}

func (s *sweepStore) Cancel(_ context.Context, key slots.SlotKey, _ slots.Actor, _ string, _ int64, _ time.Time) (slots.CancelResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.holds[key]
	if !ok {
		return slots.CancelResult{}, slots.ErrNothingToCancel
	}
	delete(s.holds, key)
	r.State = slots.StateCancelled
	return slots.CancelResult{Reservation: r, From: slots.StateOccupied}, nil
}

func (s *sweepStore) ExpireDue(ctx context.Context, now time.Time) ([]slots.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expires = append(s.expires, now)
	if s.block {
		s.mu.Unlock()
		<-ctx.Done()
		s.mu.Lock()
		return nil, ctx.Err()
	}
	var out []slots.Reservation
	for k, r := range s.holds {
		if !r.ExpiresAt.After(now) {
			r.State = slots.StateExpired
			out = append(out, r)
			delete(s.holds, k)
		}
	}
	return out, nil
}

func (s *sweepStore) NextExpiry(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nexts++
	var next time.Time
	for _, r := range s.holds {
		if next.IsZero() || r.ExpiresAt.Before(next) {
			next = r.ExpiresAt
		}
	}
	return next, !next.IsZero(), nil
}

// sweeps returns the times ExpireDue ran, as offsets from t0, and how
// often NextExpiry was asked.
func (s *sweepStore) sweeps(t0 time.Time) ([]time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Duration, len(s.expires))
	for i, t := range s.expires {
		out[i] = t.Sub(t0)
	}
	return out, s.nexts
}

func (s *sweepStore) setBlock(b bool) {
	s.mu.Lock()
	s.block = b
	s.mu.Unlock()
}

// wantSweeps checks that ExpireDue ran exactly at the offsets from t0 want.
func wantSweeps(t *testing.T, st *sweepStore, t0 time.Time, want ...time.Duration) {
	t.Helper()
	got, _ := st.sweeps(t0)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ExpireDue ran at %v after start, want %v", got, want)
	}
}

// startSweeper runs the sweeper of a service on st in the synctest bubble
// until the test ends; the startup sweep has run when it returns.
func startSweeper(t *testing.T, st *sweepStore, cfg slots.Config) (*slots.Service, *recorder, func() error) {
	t.Helper()
	cfg.Location = time.UTC
	rec := newRecorder()
	svc := slots.NewService(st, rec, nil, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.RunSweeper(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { _ = stop() })
	synctest.Wait()
	return svc, rec, stop
}

// tomorrow is a date whose slots are all in the future of the bubble's clock.
func tomorrow() string { return time.Now().UTC().Add(24 * time.Hour).Format(protocol.DateLayout) }

func holdSlot(t *testing.T, svc *slots.Service, spazio int64, slot int, user int64) slots.Reservation {
	t.Helper()
	sedeID := int64(1)
	if spazio > 4 {
		sedeID = 2
	}
	r, err := svc.Hold(context.Background(), slots.Action{SpazioID: spazio, SedeID: sedeID, Date: tomorrow(), Slot: slot}, asUser(user))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSweeperHoldsDoNotSweep: holds only plan the next sweep. N holds
// (made concurrently) cost no ExpireDue and no NextExpiry; the one sweep at
// their expiry frees them all.
func TestSweeperHoldsDoNotSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := newSweepStore()
		svc, rec, _ := startSweeper(t, st, slots.Config{HoldTTL: 15 * time.Minute, SweepCap: time.Hour})
		wantSweeps(t, st, t0, 0) // the startup sweep

		const n = 40 // 8 spazi × 5 slots
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { holdSlot(t, svc, int64(i%8+1), i/8+1, int64(i+1)) })
		}
		wg.Wait()
		synctest.Wait()
		if _, nexts := st.sweeps(t0); nexts != 1 {
			t.Errorf("NextExpiry asked %d times after %d holds, want 1 (startup only)", nexts, n)
		}
		wantSweeps(t, st, t0, 0)

		time.Sleep(15 * time.Minute)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 15*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 1 || len(expired[0]) != n {
			t.Fatalf("expiries announced: %d batches, want one of %d", len(expired), n)
		}
	})
}

// TestSweeperSweepsAtEarliestExpiry: the sweep runs at the first hold's
// expiry, not a nanosecond before; a later hold leaves the plan as it is
// and gets its own sweep at its expiry, planned from NextExpiry.
func TestSweeperSweepsAtEarliestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := newSweepStore()
		svc, rec, _ := startSweeper(t, st, slots.Config{HoldTTL: 15 * time.Minute, SweepCap: time.Hour})

		a := holdSlot(t, svc, 1, 1, 1) // expires at 15m
		time.Sleep(5 * time.Minute)
		b := holdSlot(t, svc, 2, 1, 2) // expires at 20m: later, the plan stays at 15m
		synctest.Wait()
		wantSweeps(t, st, t0, 0)

		time.Sleep(10*time.Minute - time.Nanosecond)
		synctest.Wait()
		wantSweeps(t, st, t0, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 15*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 1 || len(expired[0]) != 1 || expired[0][0].ReservationID != a.ID {
			t.Fatalf("at 15m announced %+v, want hold %d expired", expired, a.ID)
		}

		time.Sleep(5 * time.Minute)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 15*time.Minute, 20*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 2 || len(expired[1]) != 1 || expired[1][0].ReservationID != b.ID {
			t.Fatalf("at 20m announced %+v, want hold %d expired", expired, b.ID)
		}
	})
}

// TestSweeperEarlierHoldMovesPlan: the sweeper sleeps for SweepCap or for
// a hold it learnt of from the store (here another node's); a hold here
// that expires earlier moves the plan earlier without a store access, and
// after that sweep the plan comes from NextExpiry again. SweepCap bounds
// how late a hold of another node that this one never heard of is freed.
func TestSweeperEarlierHoldMovesPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := newSweepStore()
		svc, rec, _ := startSweeper(t, st, slots.Config{HoldTTL: 15 * time.Minute, SweepCap: time.Hour})
		// Planned: t0+1h (SweepCap). Another node holds a slot until 30m.
		st.holdElsewhere(slots.SlotKey{SpazioID: 5, SedeID: 2, Date: tomorrow(), Slot: 1}, t0.Add(30*time.Minute))

		time.Sleep(5 * time.Minute)
		holdSlot(t, svc, 1, 1, 1) // expires at 20m: before the 1h planned
		synctest.Wait()
		wantSweeps(t, st, t0, 0)
		if _, nexts := st.sweeps(t0); nexts != 1 {
			t.Fatalf("NextExpiry asked %d times, want 1 (a hold plans without the store)", nexts)
		}

		time.Sleep(15 * time.Minute)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 20*time.Minute)
		time.Sleep(10 * time.Minute) // the other node's hold, planned from NextExpiry
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 20*time.Minute, 30*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 2 {
			t.Fatalf("expiries announced: %v, want two", expired)
		}

		// Nothing left: the next sweep is SweepCap later. A hold of another
		// node made meanwhile is freed by it, at most SweepCap late.
		st.holdElsewhere(slots.SlotKey{SpazioID: 6, SedeID: 2, Date: tomorrow(), Slot: 2}, t0.Add(40*time.Minute))
		time.Sleep(time.Hour)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 20*time.Minute, 30*time.Minute, 90*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 3 {
			t.Fatalf("expiries announced: %v, want three", expired)
		}
	})
}

// TestSweeperCancellation: a staff cancel of the hold the sweeper waits
// for touches no sweep (the planned one frees nothing and announces
// nothing); cancelling the context stops the sweeper at once, whether it
// sleeps with holds planned or is inside a sweep, and returns nil.
func TestSweeperCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := newSweepStore()
		svc, rec, stop := startSweeper(t, st, slots.Config{HoldTTL: 15 * time.Minute, SweepCap: time.Hour})

		holdSlot(t, svc, 1, 1, 1)
		time.Sleep(5 * time.Minute)
		a := slots.Action{SpazioID: 1, SedeID: 1, Date: tomorrow(), Slot: 1}
		if _, err := svc.Cancel(context.Background(), a, slots.Actor{UserID: 50, Role: "gestore"}, "Sala chiusa", 0); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantSweeps(t, st, t0, 0)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		wantSweeps(t, st, t0, 0, 15*time.Minute)
		if _, expired := rec.snapshot(); len(expired) != 0 {
			t.Fatalf("expiries announced for a cancelled hold: %v", expired)
		}

		// Stop while sleeping, with holds planned: no sweep, no time passes.
		holdSlot(t, svc, 2, 1, 2)
		holdSlot(t, svc, 3, 1, 3)
		stopped := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("RunSweeper = %v, want nil", err)
		}
		if !time.Now().Equal(stopped) {
			t.Errorf("stop took %v", time.Since(stopped))
		}
		wantSweeps(t, st, t0, 0, 15*time.Minute)

		// Stop inside a sweep: the store's context error is no failure.
		st.setBlock(true)
		_, _, stop = startSweeper(t, st, slots.Config{HoldTTL: 15 * time.Minute, SweepCap: time.Hour})
		wantSweeps(t, st, t0, 0, 15*time.Minute, 15*time.Minute)
		if err := stop(); err != nil {
			t.Fatalf("RunSweeper stopped in a sweep = %v, want nil", err)
		}
	})
}
