package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// No double booking: of N simultaneous holds on one free slot
// exactly one succeeds and the others get ErrSlotTaken, nothing else.

const (
	raceHolders = 100
	raceRounds  = 20
)

func TestNoDoubleBookingSQLite(t *testing.T) {
	testNoDoubleBooking(t, sqliteBackend())
}

func TestNoDoubleBookingPostgres(t *testing.T) {
	testNoDoubleBooking(t, postgresBackend(t))
}

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
			res := raceHolds([]*Store{s}, key(1, 1))
			if res.problem() == "" || res.wins < 2 {
				t.Fatalf("%s without the unique index: %d wins, %d taken, %d other errors; the race test would not notice",
					b.name, res.wins, res.taken, len(res.other))
			}
			t.Logf("%s without the unique index: %d of %d holds won (%s)", b.name, res.wins, raceHolders, res.problem())
		})
	}
}

// testNoDoubleBooking races the holders through two stores on one
// database, as two nodes (PostgreSQL) or two processes sharing the file
// (SQLite: each store has its own writer connection, so BEGIN IMMEDIATE and
// the busy timeout are what keep "database is locked" away).
func testNoDoubleBooking(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	if err := s.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	nodes := []*Store{s, openStore(t, dsn)}
	for round := range raceRounds {
		k := key(int64(1+round%8), 1+round/8)
		res := raceHolds(nodes, k)
		if p := res.problem(); p != "" {
			t.Fatalf("round %d, %+v: %s", round, k, p)
		}
		active, err := activeReservations(ctx, s, k.SpazioID, k.Date, t0)
		if err != nil {
			t.Fatal(err)
		}
		var onSlot []slots.Reservation
		for _, r := range active {
			if r.Key.Slot == k.Slot {
				onSlot = append(onSlot, r)
			}
		}
		if len(onSlot) != 1 || onSlot[0].UserID != res.winner {
			t.Fatalf("round %d: active reservations on the slot = %+v, want only user %d's", round, onSlot, res.winner)
		}
	}
	t.Logf("%s: %d rounds × %d concurrent holds through %d stores: 1 win and %d × ErrSlotTaken each",
		b.name, raceRounds, raceHolders, len(nodes), raceHolders-1)
}

// raceResult counts the outcomes of one round of raceHolds.
type raceResult struct {
	wins, taken int
	winner      int64
	other       []error
}

// problem describes what is wrong with the round, or returns "".
func (r raceResult) problem() string {
	var p []string
	if r.wins != 1 {
		p = append(p, fmt.Sprintf("%d holds succeeded, want 1", r.wins))
	}
	if r.taken != raceHolders-1 {
		p = append(p, fmt.Sprintf("%d × ErrSlotTaken, want %d", r.taken, raceHolders-1))
	}
	if len(r.other) > 0 {
		p = append(p, fmt.Sprintf("%d other errors, first: %v", len(r.other), r.other[0]))
	}
	return strings.Join(p, "; ")
}

// raceHolds has raceHolders users (ids 1000…) hold the slot at once,
// spread over the stores.
func raceHolds(stores []*Store, k slots.SlotKey) raceResult {
	var (
		mu  sync.Mutex
		res raceResult
		wg  sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range raceHolders {
		user := int64(1000 + i)
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			_, err := s.Hold(context.Background(), k, as(user), t0, t0.Add(ttl), 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.wins++
				res.winner = user
			case errors.Is(err, slots.ErrSlotTaken):
				res.taken++
			default:
				res.other = append(res.other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return res
}

// The hold limit: a user one hold below the cap who
// fires many holds of distinct free slots at once gets exactly one.

const (
	limitCap     = 3
	limitRacers  = 20
	limitRounds  = 10
	limitSpazi   = 8 // of the demo catalog, 9 slots each
	limitPerDate = limitSpazi * 9
)

func TestHoldLimitRaceSQLite(t *testing.T) {
	testHoldLimitRace(t, sqliteBackend())
}

func TestHoldLimitRacePostgres(t *testing.T) {
	testHoldLimitRace(t, postgresBackend(t))
}

// TestHoldLimitRaceCatchesMissingLock runs the race on PostgreSQL without
// the per-user advisory lock, to show that the race test detects a cap
// that concurrent holds can overrun. (SQLite has no such lock to remove:
// its write transactions are serial.)
func TestHoldLimitRaceCatchesMissingLock(t *testing.T) {
	b := postgresBackend(t)
	nodes := limitNodes(t, b)
	for _, s := range nodes {
		s.skipHoldLock = true
	}
	for round := range limitRounds {
		res := raceLimitedHolds(t, nodes, round)
		if res.wins > 1 {
			t.Logf("without the lock, round %d: %d of %d holds won past the cap of %d", round, res.wins, limitRacers, limitCap)
			return
		}
	}
	t.Fatalf("without the per-user lock %d rounds never overran the cap; the race test would not notice", limitRounds)
}

// testHoldLimitRace races the holds through two stores on one database,
// as two nodes (PostgreSQL) or two processes sharing the file (SQLite).
func testHoldLimitRace(t *testing.T, b backend) {
	nodes := limitNodes(t, b)
	for round := range limitRounds {
		res := raceLimitedHolds(t, nodes, round)
		if p := res.problem(); p != "" {
			t.Fatalf("round %d: %s", round, p)
		}
		if n := countHolds(t, nodes[0], res.user); n != limitCap {
			t.Fatalf("round %d: user %d has %d active holds, want the cap %d", round, res.user, n, limitCap)
		}
	}
	t.Logf("%s: %d rounds × %d concurrent holds at cap-1 through %d stores: 1 win and %d × ErrHoldLimit each",
		b.name, limitRounds, limitRacers, len(nodes), limitRacers-1)
}

func limitNodes(t *testing.T, b backend) []*Store {
	t.Helper()
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	if err := s.UpsertCatalog(context.Background(), slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	return []*Store{s, openStore(t, dsn)}
}

// limitKey is the i-th free slot of a round: its own date, any spazio.
func limitKey(round, i int) slots.SlotKey {
	k := key(int64(1+i%limitSpazi), 1+i/limitSpazi)
	k.Date = fmt.Sprintf("2030-04-%02d", 1+round)
	return k
}

// limitResult counts the outcomes of one round of raceLimitedHolds.
type limitResult struct {
	user          int64
	wins, limited int
	other         []error
}

func (r limitResult) problem() string {
	var p []string
	if r.wins != 1 {
		p = append(p, fmt.Sprintf("%d holds succeeded, want 1", r.wins))
	}
	if r.limited != limitRacers-1 {
		p = append(p, fmt.Sprintf("%d × ErrHoldLimit, want %d", r.limited, limitRacers-1))
	}
	if len(r.other) > 0 {
		p = append(p, fmt.Sprintf("%d other errors, first: %v", len(r.other), r.other[0]))
	}
	return strings.Join(p, "; ")
}

// raceLimitedHolds gives a fresh user cap-1 holds, then has that user hold
// limitRacers other free slots at once, spread over the stores.
func raceLimitedHolds(t *testing.T, stores []*Store, round int) limitResult {
	t.Helper()
	ctx := context.Background()
	res := limitResult{user: int64(5000 + round)}
	for i := range limitCap - 1 {
		if _, err := stores[0].Hold(ctx, limitKey(round, i), as(res.user), t0, t0.Add(ttl), limitCap); err != nil {
			t.Fatalf("round %d: hold %d below the cap: %v", round, i, err)
		}
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range limitRacers {
		k := limitKey(round, limitCap-1+i)
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			_, err := s.Hold(ctx, k, as(res.user), t0, t0.Add(ttl), limitCap)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.wins++
			case errors.Is(err, slots.ErrHoldLimit):
				res.limited++
			default:
				res.other = append(res.other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return res
}

// countHolds counts the user's active holds straight from the table.
func countHolds(t *testing.T, s *Store, user int64) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), s.q(
		`SELECT COUNT(*) FROM reservations WHERE user_id = ? AND state = 'occupied' AND expires_at > ?`),
		user, toMillis(t0)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
