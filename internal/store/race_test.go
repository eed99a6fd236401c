package store

import (
	"context"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/storetest"
)

// The conformance suite races holds on every layout (NoDoubleBooking,
// HoldLimitRace); these tests show that its races notice when this
// layout's guards are gone.

// TestNoDoubleBookingCatchesMissingIndex runs one round of the race on a
// database without the partial unique index, to show that the race test
// detects double booking when the database stops preventing it.
func TestNoDoubleBookingCatchesMissingIndex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend func(testing.TB) backend
	}{
		{"sqlite", func(testing.TB) backend { return sqliteBackend() }},
		{"postgres", postgresBackend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.backend(t)
			s := newSeeded(t, b)
			if _, err := s.w.ExecContext(context.Background(), "DROP INDEX "+activeSlotIndex); err != nil {
				t.Fatal(err)
			}
			res := storetest.RaceHolds([]slots.Store{s}, key(1, 1))
			if res.Problem() == "" || res.Wins < 2 {
				t.Fatalf("%s without the unique index: %d wins, %d taken, %d other errors; the race test would not notice",
					b.name, res.Wins, res.Refused, len(res.Other))
			}
			t.Logf("%s without the unique index: %d of %d holds won (%s)", b.name, res.Wins, storetest.RaceHolders, res.Problem())
		})
	}
}

// TestHoldLimitRaceCatchesMissingLock runs the race on PostgreSQL without
// the per-user advisory lock, to show that the race test detects a cap
// that concurrent holds can overrun. (SQLite has no such lock to remove:
// its write transactions are serial.)
func TestHoldLimitRaceCatchesMissingLock(t *testing.T) {
	b := postgresBackend(t)
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	seedDemo(t, s)
	other := openStore(t, dsn)
	s.skipHoldLock, other.skipHoldLock = true, true
	for round := range storetest.LimitRounds {
		res := storetest.RaceLimitedHolds(t, []slots.Store{s, other}, round)
		if res.Wins > 1 {
			t.Logf("without the lock, round %d: %d of %d holds won past the cap of %d", round, res.Wins, storetest.LimitRacers, storetest.LimitCap)
			return
		}
	}
	t.Fatalf("without the per-user lock %d rounds never overran the cap; the race test would not notice", storetest.LimitRounds)
}
