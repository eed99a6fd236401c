package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// fakeSlots is a server's slot API in memory: each request takes latency,
// a hold on a held slot is a 409, and it remembers the most requests it
// had in flight at once.
type fakeSlots struct {
	latency time.Duration

	mu                sync.Mutex
	held              map[string]bool
	inflight, peak    int
	holds, conflicts  int
	releases, notHeld int
}

func slotName(slot int, req protocol.SlotActionRequest) string {
	return fmt.Sprint(req.Date, "/", req.IDSpazio, "/", slot)
}

func (f *fakeSlots) enter() {
	f.mu.Lock()
	f.inflight++
	f.peak = max(f.peak, f.inflight)
	f.mu.Unlock()
	time.Sleep(f.latency)
}

func (f *fakeSlots) leave() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }

func (f *fakeSlots) Hold(_ context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	f.enter()
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := slotName(slot, req)
	if f.held[k] {
		f.conflicts++
		return nil, &client.APIError{Status: http.StatusConflict}
	}
	f.held[k] = true
	f.holds++
	return &protocol.SlotActionResponse{Success: true}, nil
}

func (f *fakeSlots) Release(_ context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	f.enter()
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := slotName(slot, req)
	if !f.held[k] {
		f.notHeld++
		return nil, &client.APIError{Status: http.StatusConflict}
	}
	delete(f.held, k)
	f.releases++
	return &protocol.SlotActionResponse{Success: true}, nil
}

// churnRunner is a runner ready for churn against a fake: one user, rooms
// spazi 1…rooms of 9 slots.
func churnRunner(cfg Config, rooms int) *runner {
	r := &runner{cfg: cfg, members: make([]atomic.Int64, rooms), timeline: newTimeline(time.Now(), time.Minute)}
	for i := range rooms {
		r.spaces = append(r.spaces, Space{SpazioID: int64(i + 1), SedeID: 1, Slots: 9})
	}
	r.vus = []*vu{{token: "t", conn: &sioclient.Conn{}}}
	return r
}

// TestChurnNotCappedByInflight: MaxInflight bounds requests in flight, not
// hold→release cycles. With 2 requests in flight and 250 ms holds, a
// cycle that kept its slot through the hold would cap the churn at 8
// cycles/s; the 100/s asked are all made, without a single conflict.
func TestChurnNotCappedByInflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Churn: 100, ChurnHold: 250 * time.Millisecond, Duration: 2 * time.Second,
			ChurnDate: "2030-01-07", ChurnDays: 1, MaxInflight: 2}
		r := churnRunner(cfg, 2) // 18 slots, about 25 held at once: some cycles must find them all busy
		f := &fakeSlots{latency: time.Millisecond, held: map[string]bool{}}
		r.runTraffic(context.Background(), time.Now(), trafficActors{actAs: func(string) slotActor { return f }})

		f.mu.Lock()
		defer f.mu.Unlock()
		if f.peak > cfg.MaxInflight {
			t.Errorf("%d requests in flight at once, MaxInflight is %d", f.peak, cfg.MaxInflight)
		}
		attempts := f.holds + f.conflicts
		if attempts != 200 {
			t.Errorf("%d holds tried in 2 s at 100/s, want 200", attempts)
		}
		if f.releases != f.holds || f.notHeld != 0 || len(f.held) != 0 {
			t.Errorf("%d holds, %d releases, %d releases of free slots, %d still held", f.holds, f.releases, f.notHeld, len(f.held))
		}
		if got := r.holdsOK.Load(); got != uint64(f.holds) {
			t.Errorf("report counts %d holds, the server made %d", got, f.holds)
		}
	})
}

// TestChurnAvoidsItsOwnHolds: with room for every cycle's hold, the
// generator never asks for a slot one of its cycles holds, so no conflict.
func TestChurnAvoidsItsOwnHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Churn: 400, ChurnHold: 250 * time.Millisecond, Duration: time.Second,
			ChurnDate: "2030-01-07", ChurnDays: 2, MaxInflight: 128}
		r := churnRunner(cfg, 8) // 144 slots, about 100 held at once
		f := &fakeSlots{latency: time.Millisecond, held: map[string]bool{}}
		r.runTraffic(context.Background(), time.Now(), trafficActors{actAs: func(string) slotActor { return f }})
		if f.conflicts != 0 || f.holds != 400 {
			t.Errorf("%d holds, %d conflicts; want 400 holds and none", f.holds, f.conflicts)
		}
	})
}

func TestChurnSlotsTake(t *testing.T) {
	c := newChurnSlots([]int{9, 3}, 2) // 24 slots
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[churnSlot]bool{}
	for range 24 {
		cs, ok := c.take(rng)
		if !ok || seen[cs] {
			t.Fatalf("take = %+v, %v after %d: want a new free slot", cs, ok, len(seen))
		}
		if cs.room < 0 || cs.room > 1 || cs.slot < 1 || cs.slot > []int{9, 3}[cs.room] || cs.day < 0 || cs.day > 1 {
			t.Fatalf("take = %+v: outside the space", cs)
		}
		seen[cs] = true
	}
	if _, ok := c.take(rng); ok {
		t.Fatal("take found a free slot with all 24 busy")
	}
	c.give(churnSlot{room: 1, slot: 2, day: 1})
	if cs, ok := c.take(rng); !ok || cs != (churnSlot{room: 1, slot: 2, day: 1}) {
		t.Fatalf("take = %+v, %v; want the one slot given back", cs, ok)
	}
}

// TestInterruptedTrafficReleasesItsHolds: when the run is interrupted
// mid-traffic, the traffic phase returns only after every hold it made is
// released and no request is in flight, so nothing it started outlives Run.
func TestInterruptedTrafficReleasesItsHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Churn: 100, ChurnHold: time.Second, Duration: 10 * time.Second,
			ChurnDate: "2030-01-07", ChurnDays: 28, MaxInflight: 4}
		r := churnRunner(cfg, 4)
		f := &fakeSlots{latency: 20 * time.Millisecond, held: map[string]bool{}}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		r.runTraffic(ctx, time.Now(), trafficActors{actAs: func(string) slotActor { return f }})

		f.mu.Lock()
		defer f.mu.Unlock()
		if f.holds == 0 {
			t.Fatal("no hold made before the interruption")
		}
		if len(f.held) != 0 || f.inflight != 0 || f.releases != f.holds {
			t.Errorf("after the traffic phase: %d slots still held, %d requests in flight, %d holds, %d releases",
				len(f.held), f.inflight, f.holds, f.releases)
		}
	})
}
