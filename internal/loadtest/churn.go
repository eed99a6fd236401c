package loadtest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"golang.org/x/sync/errgroup"
)

// slotActor is the part of the REST client a churn cycle uses; tests
// stand in for the server with it.
type slotActor interface {
	Hold(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
	Release(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
}

// churn runs hold→release cycles by random virtual users on random slots
// that none of its cycles holds (see churnSlots), Churn per second until
// the schedule window ends; as acts for a user's token. Holds and releases are requests
// for the traffic phase's workers. While a hold lasts its cycle waits in a
// queue, keeping neither a worker nor a goroutine: MaxInflight bounds
// requests in flight, not cycles, or MaxInflight/ChurnHold (128/250 ms:
// 512 cycles/s) would cap the churn whatever the server can do. It returns
// when every cycle it started has ended, released even when the run (ctx)
// is interrupted.
func (r *runner) churn(ctx, window context.Context, as func(token string) slotActor, start time.Time, requests chan<- request) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	first, _ := time.Parse(protocol.DateLayout, r.cfg.ChurnDate)
	var users []*vu
	for _, v := range r.vus {
		if v != nil && v.conn != nil {
			users = append(users, v)
		}
	}
	if len(users) == 0 {
		r.fail("churn_no_users")
		return
	}
	perRoom := make([]int, len(r.spaces))
	for i, sp := range r.spaces {
		perRoom[i] = sp.Slots
	}
	busy := newChurnSlots(perRoom, r.cfg.ChurnDays)
	held := newHeldCycles()
	var releases errgroup.Group
	releases.Go(func() error {
		r.releaseWhenDue(ctx, held, busy, requests)
		return nil
	})
	defer func() { _ = releases.Wait() }()
	defer held.close()

	total := messagesIn(r.cfg.Churn, r.cfg.Duration)
	pace := newPacer()
	for n := 0; n < total; n++ {
		if !pace.until(window, scheduled(start, n, r.cfg.Churn)) {
			return
		}
		v := users[rng.IntN(len(users))]
		cs, taken := busy.take(rng)
		cy := churnCycle{rest: as(v.token), at: cs, taken: taken, date: first.AddDate(0, 0, cs.day).Format(protocol.DateLayout)}
		held.handing()
		if !hand(window, requests, func(ctx context.Context) { r.hold(ctx, cy, held, busy) }) {
			held.done(nil, 0)
			if taken {
				busy.give(cs)
			}
			return
		}
	}
}

// churnCycle is one hold→release cycle.
type churnCycle struct {
	rest  slotActor
	at    churnSlot
	taken bool // at is marked busy in churnSlots until the cycle ends
	date  string
	// release is when the hold has lasted ChurnHold.
	release time.Time
}

func (r *runner) cycleRequest(cy churnCycle) (Space, protocol.SlotActionRequest) {
	sp := r.spaces[cy.at.room]
	return sp, protocol.SlotActionRequest{IDSpazio: sp.SpazioID, SedeID: sp.SedeID, Date: cy.date}
}

// hold makes the hold request of cy and queues its release in held.
func (r *runner) hold(ctx context.Context, cy churnCycle, held *heldCycles, busy *churnSlots) {
	sp, req := r.cycleRequest(cy)
	hk := updateKey{spazio: sp.SpazioID, date: cy.date, slot: cy.at.slot, status: protocol.StatusOccupied}
	t0 := time.Now()
	r.pendingUpdates.Store(hk, t0)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := cy.rest.Hold(rctx, cy.at.slot, req)
	cancel()
	if err != nil {
		switch {
		case client.IsStatus(err, http.StatusConflict):
			r.holdsConflict.Add(1)
		case client.IsStatus(err, http.StatusTooManyRequests):
			r.holdsLimited.Add(1)
		default:
			r.fail(errorKind("hold", err))
		}
		if cy.taken {
			busy.give(cy.at)
		}
		held.done(nil, 0)
		return
	}
	r.holdH.Record(time.Since(t0))
	r.holdsOK.Add(1)
	r.timeline.count(countHold, time.Now())
	r.updatesExpected.Add(uint64(r.members[cy.at.room].Load()))
	held.done(&cy, r.cfg.ChurnHold)
}

// releaseWhenDue hands each held cycle's release to the workers once its
// hold has lasted ChurnHold, at once when ctx ends; it returns when held
// is closed and empty.
func (r *runner) releaseWhenDue(ctx context.Context, held *heldCycles, busy *churnSlots, requests chan<- request) {
	pace := newPacer()
	for {
		cy, ok := held.next()
		if !ok {
			return
		}
		pace.until(ctx, cy.release)
		// The release is owed even when the run is being interrupted, and
		// the workers outlive this loop: wait for one regardless of ctx.
		requests <- func(ctx context.Context) { r.release(ctx, cy, busy) }
	}
}

func (r *runner) release(ctx context.Context, cy churnCycle, busy *churnSlots) {
	if cy.taken {
		defer busy.give(cy.at)
	}
	sp, req := r.cycleRequest(cy)
	rk := updateKey{spazio: sp.SpazioID, date: cy.date, slot: cy.at.slot, status: protocol.StatusAvailable}
	t1 := time.Now()
	r.pendingUpdates.Store(rk, t1)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := cy.rest.Release(rctx, cy.at.slot, req); err != nil {
		r.fail(errorKind("release", err))
		return
	}
	r.releaseH.Record(time.Since(t1))
	r.releasesOK.Add(1)
	r.updatesExpected.Add(uint64(r.members[cy.at.room].Load()))
}

// heldCycles are the churn's cycles between their hold and their release,
// in the order their releases fall due: every hold lasts ChurnHold from
// when it was queued, so a FIFO is in due order.
type heldCycles struct {
	mu      sync.Mutex
	changed sync.Cond
	queue   []churnCycle
	holding int  // hold requests handed over and not yet done
	closed  bool // no more holds will be handed over
}

func newHeldCycles() *heldCycles {
	h := &heldCycles{}
	h.changed.L = &h.mu
	return h
}

// handing counts a hold request about to be handed over; done ends it.
func (h *heldCycles) handing() {
	h.mu.Lock()
	h.holding++
	h.mu.Unlock()
}

// done ends a hold request: a held cycle (non-nil) is queued for its
// release after hold.
func (h *heldCycles) done(cy *churnCycle, hold time.Duration) {
	h.mu.Lock()
	h.holding--
	if cy != nil {
		cy.release = time.Now().Add(hold)
		h.queue = append(h.queue, *cy)
	}
	h.mu.Unlock()
	h.changed.Broadcast()
}

// close says no more holds will be handed over.
func (h *heldCycles) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.changed.Broadcast()
}

// next waits for the next cycle to release; false when closed, with no
// hold in flight and none queued.
func (h *heldCycles) next() (churnCycle, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.queue) == 0 && !(h.closed && h.holding == 0) {
		h.changed.Wait()
	}
	if len(h.queue) == 0 {
		return churnCycle{}, false
	}
	cy := h.queue[0]
	h.queue[0] = churnCycle{}
	h.queue = h.queue[1:]
	return cy, true
}

// churnSlot is one slot of the churn's space: a room (index into the
// runner's spaces), a 1-based slot and a day after ChurnDate.
type churnSlot struct{ room, slot, day int }

// churnSlots picks slots for churn cycles among those no cycle of this
// generator holds. Picking blindly, the generator collides with itself:
// at 2,000 cycles/s of 250 ms holds on 8 rooms × 9 slots × 28 days, a
// quarter of the picks hit a slot the generator holds, and those 409s
// measure the generator, not contention between users. A conflict now
// means someone else holds the slot, or every slot is busy.
type churnSlots struct {
	perRoom []int // slots per room
	days    int
	total   int

	mu   sync.Mutex
	busy map[churnSlot]struct{}
}

func newChurnSlots(perRoom []int, days int) *churnSlots {
	c := &churnSlots{perRoom: perRoom, days: max(days, 1), busy: map[churnSlot]struct{}{}}
	for _, n := range perRoom {
		c.total += n * c.days
	}
	return c
}

// at is the i-th slot of the space (0 <= i < total).
func (c *churnSlots) at(i int) churnSlot {
	for room, n := range c.perRoom {
		if i < n*c.days {
			return churnSlot{room: room, slot: 1 + i%n, day: i / n}
		}
		i -= n * c.days
	}
	panic("churn slot index out of range")
}

// take returns a random free slot and marks it busy until give; when all
// are busy it returns a random one, not taken, whose hold will conflict.
func (c *churnSlots) take(rng *rand.Rand) (cs churnSlot, taken bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := rng.IntN(c.total)
	// A few random picks find a free slot at once unless nearly all are
	// busy; then a scan from the last pick finds one if there is any.
	for range 4 {
		if cs := c.at(start); !c.isBusy(cs) {
			c.busy[cs] = struct{}{}
			return cs, true
		}
		start = rng.IntN(c.total)
	}
	for i := range c.total {
		if cs := c.at((start + i) % c.total); !c.isBusy(cs) {
			c.busy[cs] = struct{}{}
			return cs, true
		}
	}
	return c.at(start), false
}

func (c *churnSlots) isBusy(cs churnSlot) bool {
	_, ok := c.busy[cs]
	return ok
}

// give frees a slot that take returned taken.
func (c *churnSlots) give(cs churnSlot) {
	c.mu.Lock()
	delete(c.busy, cs)
	c.mu.Unlock()
}
