package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// No double booking: of N simultaneous holds on one free slot exactly one
// succeeds and the others get ErrSlotTaken, nothing else.

// RaceHolders is how many users RaceHolds has hold one slot at once.
const RaceHolders = 100

const raceRounds = 20

// RaceResult counts the outcomes of one race of holds.
type RaceResult struct {
	// Wins counts the holds that succeeded, Refused those refused as the
	// race's losers must be; Winner is the user of the last win.
	Wins, Refused int
	Winner        int64
	// Other holds every other error.
	Other []error

	racers  int
	refusal error
}

// Problem describes what is wrong with the race, or returns "": one win,
// and every other hold refused with the race's error.
func (r RaceResult) Problem() string {
	var p []string
	if r.Wins != 1 {
		p = append(p, fmt.Sprintf("%d holds succeeded, want 1", r.Wins))
	}
	if r.Refused != r.racers-1 {
		p = append(p, fmt.Sprintf("%d × %v, want %d", r.Refused, r.refusal, r.racers-1))
	}
	if len(r.Other) > 0 {
		p = append(p, fmt.Sprintf("%d other errors, first: %v", len(r.Other), r.Other[0]))
	}
	return strings.Join(p, "; ")
}

// race runs n holds at once, spread over the stores: hold i is user(i)'s
// of key(i), under a cap of maxHolds; refusal is what losers must get.
func race(stores []slots.Store, n, maxHolds int, refusal error, key func(i int) slots.SlotKey, user func(i int) int64) RaceResult {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		res = RaceResult{racers: n, refusal: refusal}
	)
	start := make(chan struct{})
	for i := range n {
		s, k, u := stores[i%len(stores)], key(i), user(i)
		wg.Go(func() {
			<-start
			_, err := s.Hold(context.Background(), k, As(u), T0, T0.Add(TTL), maxHolds)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.Wins++
				res.Winner = u
			case errors.Is(err, refusal):
				res.Refused++
			default:
				res.Other = append(res.Other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return res
}

// RaceHolds has RaceHolders users (ids 200…) hold the slot at once,
// spread over the stores; the losers must get ErrSlotTaken.
func RaceHolds(stores []slots.Store, k slots.SlotKey) RaceResult {
	return race(stores, RaceHolders, 0, slots.ErrSlotTaken,
		func(int) slots.SlotKey { return k }, func(i int) int64 { return int64(200 + i) })
}

// testNoDoubleBooking races the holders through two stores on one
// database, as two nodes or two processes sharing a file.
func (su *suite) testNoDoubleBooking(t *testing.T) {
	ctx := context.Background()
	nodes := su.nodes(t)
	for round := range raceRounds {
		k := Key(int64(1+round%8), 1+round/8)
		res := RaceHolds(nodes, k)
		if p := res.Problem(); p != "" {
			t.Fatalf("round %d, %+v: %s", round, k, p)
		}
		active, err := Active(ctx, nodes[0], k.SpazioID, k.Date, T0)
		if err != nil {
			t.Fatal(err)
		}
		var onSlot []slots.Reservation
		for _, r := range active {
			if r.Key.Slot == k.Slot {
				onSlot = append(onSlot, r)
			}
		}
		if len(onSlot) != 1 || onSlot[0].UserID != res.Winner {
			t.Fatalf("round %d: active reservations on the slot = %+v, want only user %d's", round, onSlot, res.Winner)
		}
	}
	t.Logf("%s: %d rounds × %d concurrent holds through %d stores: 1 win and %d × ErrSlotTaken each",
		su.l.Name, raceRounds, RaceHolders, len(nodes), RaceHolders-1)
}

// The hold limit: a user one hold below the cap who fires many holds of
// distinct free slots at once gets exactly one.

// Parameters of RaceLimitedHolds.
const (
	LimitCap    = 3
	LimitRacers = 20
	LimitRounds = 10
	limitSpazi  = 8 // of the catalog, 9 slots each
)

// limitKey is the i-th free slot of a round: its own date, any spazio.
func limitKey(round, i int) slots.SlotKey {
	k := Key(int64(1+i%limitSpazi), 1+i/limitSpazi)
	k.Date = fmt.Sprintf("2030-04-%02d", 1+round)
	return k
}

// RaceLimitedHolds gives a fresh user (id 300+round) LimitCap-1 holds,
// then has that user hold LimitRacers other free slots at once, spread
// over the stores, all under a cap of LimitCap; the losers must get
// ErrHoldLimit.
func RaceLimitedHolds(t testing.TB, stores []slots.Store, round int) RaceResult {
	t.Helper()
	user := int64(300 + round)
	for i := range LimitCap - 1 {
		if _, err := stores[0].Hold(context.Background(), limitKey(round, i), As(user), T0, T0.Add(TTL), LimitCap); err != nil {
			t.Fatalf("round %d: hold %d below the cap: %v", round, i, err)
		}
	}
	return race(stores, LimitRacers, LimitCap, slots.ErrHoldLimit,
		func(i int) slots.SlotKey { return limitKey(round, LimitCap-1+i) }, func(int) int64 { return user })
}

// testHoldLimitRace races the capped holds through two stores on one
// database, and counts the user's holds in the round's grids afterwards.
func (su *suite) testHoldLimitRace(t *testing.T) {
	nodes := su.nodes(t)
	for round := range LimitRounds {
		res := RaceLimitedHolds(t, nodes, round)
		if p := res.Problem(); p != "" {
			t.Fatalf("round %d: %s", round, p)
		}
		var n int
		for spazio := int64(1); spazio <= limitSpazi; spazio++ {
			active, err := Active(context.Background(), nodes[1], spazio, limitKey(round, 0).Date, T0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range active {
				if r.UserID == res.Winner && r.State == slots.StateOccupied {
					n++
				}
			}
		}
		if n != LimitCap {
			t.Fatalf("round %d: user %d has %d active holds, want the cap %d", round, res.Winner, n, LimitCap)
		}
	}
	t.Logf("%s: %d rounds × %d concurrent holds at cap-1 through %d stores: 1 win and %d × ErrHoldLimit each",
		su.l.Name, LimitRounds, LimitRacers, len(nodes), LimitRacers-1)
}
