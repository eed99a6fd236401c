package slots_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// wantLimit fails unless err is a fair-use refusal of kind sentinel with
// the given limit.
func wantLimit(t *testing.T, err, sentinel error, limit int) {
	t.Helper()
	var le *slots.LimitError
	if !errors.Is(err, sentinel) || !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("err = %v, want a *slots.LimitError of %v with limit %d", err, sentinel, limit)
	}
}

func TestHoldMaxDaysAhead(t *testing.T) {
	ctx := context.Background()
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	tests := []struct {
		name string
		now  time.Time
		loc  *time.Location
		max  int
		date string
		ok   bool
	}{
		{"today", start, time.UTC, 90, day, true},
		{"tomorrow with a horizon of one day", start, time.UTC, 1, "2026-03-11", true},
		{"two days with a horizon of one day", start, time.UTC, 1, "2026-03-12", false},
		{"day 90", start, time.UTC, 90, "2026-06-08", true},
		{"day 91", start, time.UTC, 90, "2026-06-09", false},
		{"the year 5000", start, time.UTC, 90, "5000-01-01", false},
		{"the year 5000 without a horizon", start, time.UTC, 0, "5000-01-01", true},
		{"a negative horizon is none", start, time.UTC, -1, "5000-01-01", true},
		// 23:30 UTC on the 10th is already the 11th two hours east: today
		// is the sede's, as for past slots.
		{"day 90 counted from the sede's today", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), plus2, 90, "2026-06-09", true},
		{"day 91 counted from the sede's today", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), plus2, 90, "2026-06-10", false},
		{"day 91 counted from UTC's today", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), time.UTC, 90, "2026-06-09", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, rec, _ := newServiceWith(t, &fakeClock{now: tt.now}, slots.Config{Location: tt.loc, MaxDaysAhead: tt.max})
			_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: tt.date, Slot: 9}, asUser(7))
			if tt.ok {
				if err != nil {
					t.Fatalf("hold on %s: %v", tt.date, err)
				}
				return
			}
			wantLimit(t, err, slots.ErrDateTooFar, tt.max)
			if changes, _ := rec.snapshot(); len(changes) != 0 {
				t.Fatalf("a refused hold was announced: %+v", changes)
			}
		})
	}
}

func TestHoldMaxHoldsPerUser(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, rec, _ := newServiceWith(t, clock, slots.Config{HoldTTL: 15 * time.Minute, Location: time.UTC, MaxHoldsPerUser: 2})
	hold := func(slot int, user int64) error {
		_, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: slot}, asUser(user))
		return err
	}
	for _, slot := range []int{1, 2} {
		if err := hold(slot, 10); err != nil {
			t.Fatalf("hold %d under the cap: %v", slot, err)
		}
	}
	before, _ := rec.snapshot()
	wantLimit(t, hold(3, 10), slots.ErrHoldLimit, 2)
	if after, _ := rec.snapshot(); len(after) != len(before) {
		t.Fatalf("a refused hold was announced: %+v", after[len(before):])
	}
	if err := hold(3, 11); err != nil {
		t.Fatalf("another user is limited by user 10's holds: %v", err)
	}
	// Booking a hold makes room for another.
	if _, err := svc.Book(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 1}, asUser(10)); err != nil {
		t.Fatal(err)
	}
	if err := hold(4, 10); err != nil {
		t.Fatalf("hold after booking one: %v", err)
	}
	wantLimit(t, hold(5, 10), slots.ErrHoldLimit, 2)
	// Expired holds make room too, before any sweep.
	clock.Add(15 * time.Minute)
	if err := hold(5, 10); err != nil {
		t.Fatalf("hold after the others lapsed: %v", err)
	}
}

func TestHoldWithoutFairUseLimits(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newServiceWith(t, &fakeClock{now: start}, slots.Config{Location: time.UTC})
	for slot := 1; slot <= 9; slot++ {
		if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: "5000-01-01", Slot: slot}, asUser(10)); err != nil {
			t.Fatalf("zero Config limits: hold %d: %v", slot, err)
		}
	}
}
