package loadtest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// slotActor is the part of the REST client a churn cycle uses; tests
// stand in for the server with it.
type slotActor interface {
	Hold(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
	Release(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
}

// churn runs hold→release cycles by random virtual users on random slots
// that none of its cycles holds (see churnSlots); as acts for a user's
// token.
func (r *runner) churn(tctx, ctx context.Context, as func(token string) slotActor, start time.Time, sem chan struct{}, wg *sync.WaitGroup) {
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
	total := messagesIn(r.cfg.Churn, r.cfg.Duration)
	for n := 0; n < total; n++ {
		at := scheduled(start, n, r.cfg.Churn)
		if !waitTurn(tctx, at, sem) {
			return
		}
		v := users[rng.IntN(len(users))]
		cs, taken := busy.take(rng)
		sp := r.spaces[cs.room]
		date := first.AddDate(0, 0, cs.day).Format(protocol.DateLayout)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if taken {
				defer busy.give(cs)
			}
			r.churnOne(ctx, as(v.token), sp, cs.room, cs.slot, date, sem)
		}()
	}
}

// churnOne holds a slot, keeps it ChurnHold, then releases it. It is
// called holding a slot of sem for the hold request, and gives it back
// while the hold lasts: sem bounds requests in flight, not cycles, or
// MaxInflight/ChurnHold (128/250 ms: 512 cycles/s) would cap the churn
// whatever the server can do.
func (r *runner) churnOne(ctx context.Context, rest slotActor, sp Space, roomIdx, slot int, date string, sem chan struct{}) {
	req := protocol.SlotActionRequest{IDSpazio: sp.SpazioID, SedeID: sp.SedeID, Date: date}
	hk := updateKey{spazio: sp.SpazioID, date: date, slot: slot, status: protocol.StatusOccupied}
	t0 := time.Now()
	r.pendingUpdates.Store(hk, t0)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := rest.Hold(rctx, slot, req)
	cancel()
	<-sem
	if err != nil {
		if client.IsStatus(err, http.StatusConflict) {
			r.holdsConflict.Add(1)
			return
		}
		if client.IsStatus(err, http.StatusTooManyRequests) {
			r.holdsLimited.Add(1)
			return
		}
		r.fail(errorKind("hold", err))
		return
	}
	r.holdH.Record(time.Since(t0))
	r.holdsOK.Add(1)
	r.timeline.count(countHold, time.Now())
	r.updatesExpected.Add(uint64(r.members[roomIdx].Load()))

	select {
	case <-time.After(r.cfg.ChurnHold):
	case <-ctx.Done():
	}
	// The release is owed even when the test is being cancelled: take a
	// slot of sem regardless.
	sem <- struct{}{}
	defer func() { <-sem }()
	rk := updateKey{spazio: sp.SpazioID, date: date, slot: slot, status: protocol.StatusAvailable}
	t1 := time.Now()
	r.pendingUpdates.Store(rk, t1)
	rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := rest.Release(rctx, slot, req); err != nil {
		r.fail(errorKind("release", err))
		return
	}
	r.releaseH.Record(time.Since(t1))
	r.releasesOK.Add(1)
	r.updatesExpected.Add(uint64(r.members[roomIdx].Load()))
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
