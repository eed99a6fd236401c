package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// When the cluster's queue overflows during a Redis outage, the other
// nodes miss some slot updates. This node remembers which slots they were
// of and, once Redis is back and the queue has drained, sends the other
// nodes each such slot's current state as a slot_update carrying the
// grid's current version, read from the store. The other nodes' feeds
// deliver it only where it is newer than what their sockets have, so no
// socket goes back, and a client that missed the change gets the slot
// right. A snapshot is never sent: the original page would apply it to
// the date it shows, whatever its date.

// lostSlot names one slot whose update the other nodes missed.
type lostSlot struct {
	grid gridKey
	slot int
}

// lostSlots is the set of slots to resend; bounded by maxLost.
type lostSlots struct {
	mu       sync.Mutex
	set      map[lostSlot]struct{}
	overflow int // slots forgotten past maxLost since the last resend
}

// maxLost bounds the remembered slots (a few bytes each).
const maxLost = 100_000

// resyncEvery is how often the hub checks for slots to resend.
const resyncEvery = 250 * time.Millisecond

// clusterDropped is the cluster queue's OnDrop.
func (h *Hub) clusterDropped(p adapter.Packet, opts adapter.Options) {
	k, u, ok := remoteUpdate(p, opts)
	if !ok {
		return // not a slot update: nothing to make up for
	}
	h.lost.mu.Lock()
	defer h.lost.mu.Unlock()
	if h.lost.set == nil {
		h.lost.set = map[lostSlot]struct{}{}
	}
	if len(h.lost.set) >= maxLost {
		h.lost.overflow++
		return
	}
	h.lost.set[lostSlot{grid: k, slot: u.slot}] = struct{}{}
}

// resendLost sends the current state of the lost slots to the other
// nodes once the cluster is up and its queue is empty.
func (h *Hub) resendLost(ctx context.Context, b adapter.Backlog) {
	h.lost.mu.Lock()
	n := len(h.lost.set)
	h.lost.mu.Unlock()
	if n == 0 || b.Backlog().Waiting > 0 || h.cfg.Socket.Cluster.Healthy() != nil {
		return
	}
	h.lost.mu.Lock()
	set, overflow := h.lost.set, h.lost.overflow
	h.lost.set, h.lost.overflow = nil, 0
	h.lost.mu.Unlock()
	if overflow > 0 {
		h.log.Warn("slots lost in the cluster outage beyond what is remembered; other nodes' clients may show them stale until they reload",
			"forgotten", overflow)
	}
	byGrid := map[gridKey][]int{}
	for l := range set {
		byGrid[l.grid] = append(byGrid[l.grid], l.slot)
	}
	sent := 0
	for k, nums := range byGrid {
		if ctx.Err() != nil {
			return
		}
		spazioID, sedeID, _ := protocol.ParseSpaceRoom(k.room)
		rctx, cancel := context.WithTimeout(ctx, joinTimeout)
		grid, err := h.spaces.Grid(rctx, spazioID, sedeID, k.date, slots.Viewer{})
		cancel()
		if err != nil {
			h.log.Warn("cannot resend slots lost in the cluster outage", "room", k.room, "date", k.date, "err", err)
			continue
		}
		now := h.clock.Now()
		for _, n := range nums {
			if n < 1 || n > len(grid.Slots) {
				continue
			}
			s := grid.Slots[n-1]
			if s.Status == slots.StatusPast {
				continue // the slot's time is over: nobody can take it
			}
			c := slots.Change{
				Key:   slots.SlotKey{SpazioID: spazioID, SedeID: sedeID, Date: k.date, Slot: n},
				Start: s.Start, Status: s.Status, ExpiresAt: s.ExpiresAt, ReservationID: s.ReservationID, Version: grid.Version,
			}
			if err := h.nsp.To(k.room).Remote().EmitContext(ctx, protocol.EventSlotUpdate, wire.SlotUpdate(c, now)); err != nil {
				h.log.Warn("resend of a slot lost in the cluster outage failed", "room", k.room, "err", err)
				continue
			}
			sent++
		}
	}
	h.log.Info("resent the current state of slots whose updates the cluster outage dropped", "slots", sent, "grids", len(byGrid))
}
