package realtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
)

var _ slots.Notifier = (*Hub)(nil)

// The notifier announces changes already committed: the caller's context
// goes along for its values, but its end (a requester gone, a sweeper
// stopping) must not keep a change from the other nodes, so it is
// dropped; publishing still gives up after sio's publish timeout.

// SlotChanged broadcasts slot_update, with the change's grid version, to
// the spazio's room. The payload never names the holder: other users must not learn who holds a slot.
func (h *Hub) SlotChanged(ctx context.Context, c slots.Change) {
	h.slotUpdate(context.WithoutCancel(ctx), c, h.clock.Now())
	h.log.Debug("slot changed", "room", protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID), "slot", c.Key.Slot, "status", c.Status)
}

// SlotCancelled announces a staff cancel: slot_update (with the cancel's
// grid version) to the spazio's room, which names no holder, then
// slot_cancelled with staff's reason to the holder's personal room, so
// every tab of theirs, on any node, learns why the slot went.
func (h *Hub) SlotCancelled(ctx context.Context, c slots.Change, reason string) {
	ctx = context.WithoutCancel(ctx)
	c.Status, c.ExpiresAt = slots.StatusAvailable, time.Time{}
	now := h.clock.Now()
	room := protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID)
	h.slotUpdate(ctx, c, now)
	if c.UserID != 0 {
		h.Broadcast(ctx, protocol.UserRoom(c.UserID), protocol.EventSlotCancelled, wire.SlotCancelled(c, reason, now))
	}
	h.log.Debug("slot cancelled", "room", room, "slot", c.Key.Slot, "holder", c.UserID)
}

// HoldsExpired announces expiries: slot_update (with the expiry's grid
// version) to each room, hold_expired
// to each holder's personal room, then one slots_freed to everyone.
func (h *Hub) HoldsExpired(ctx context.Context, freed []slots.Change) {
	if len(freed) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	now := h.clock.Now()
	list := make([]protocol.FreedSlot, 0, len(freed))
	for _, c := range freed {
		c.Status = slots.StatusAvailable
		h.slotUpdate(ctx, c, now)
		if c.UserID != 0 {
			h.Broadcast(ctx, protocol.UserRoom(c.UserID), protocol.EventHoldExpired, wire.HoldExpired(c, now))
		}
		list = append(list, wire.FreedSlot(c))
		h.metrics.Expiries.Inc()
	}
	h.Broadcast(ctx, "", protocol.EventSlotsFreed, protocol.SlotsFreed{Type: protocol.EventSlotsFreed, Count: len(freed), Slots: list, Timestamp: protocol.Timestamp(now)})
}

// slotUpdate announces one committed change: slot_update to the other
// nodes, and to this node's sockets through the grid's feed, which
// orders it with the updates of other requests and nodes and with joins.
func (h *Hub) slotUpdate(ctx context.Context, c slots.Change, now time.Time) {
	start := time.Now()
	room := protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID)
	payload := wire.SlotUpdate(c, now)
	if h.cfg.Socket.Cluster != nil {
		if err := h.nsp.To(room).Remote().EmitContext(ctx, protocol.EventSlotUpdate, payload); err != nil {
			h.log.Debug("slot update not sent to other nodes", "room", room, "err", err)
		}
	}
	h.deliver(gridKey{room: room, date: c.Key.Date}, update{slot: c.Key.Slot, version: c.Version, payload: payload})
	h.metrics.BroadcastSeconds.WithLabelValues(protocol.EventSlotUpdate).Observe(time.Since(start).Seconds())
}

// deliver hands a slot update to its grid's feed, which sends it to this
// node's members of its room in version order (see gridFeed).
func (h *Hub) deliver(k gridKey, u update) {
	g := h.feeds.get(k)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.used = h.clock.Now()
	switch {
	case g.next == 0 || u.version == g.next:
		h.send(k, g, u)
		g.next = u.version + 1
		h.sendEarly(k, g)
	case u.version > g.next:
		g.early[u.version] = u
		if len(g.early) > maxEarly {
			h.giveUpWaiting(k, g)
			return
		}
		if g.wait == nil {
			g.wait = h.afterFunc(reorderWait, func() { h.waitedTooLong(k, g) })
		}
	default:
		// Older than the versions already sent: one the feed stopped
		// waiting for, or a duplicate.
		h.send(k, g, u)
	}
}

// sendEarly sends the waiting updates that are next in line; g.mu is held.
func (h *Hub) sendEarly(k gridKey, g *gridFeed) {
	for {
		u, ok := g.early[g.next]
		if !ok {
			break
		}
		delete(g.early, g.next)
		h.send(k, g, u)
		g.next++
	}
	if len(g.early) == 0 && g.wait != nil {
		g.wait.Stop()
		g.wait = nil
	}
}

// waitedTooLong runs when a grid's missing version has not come within
// reorderWait: the waiting updates go out without it.
func (h *Hub) waitedTooLong(k gridKey, g *gridFeed) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wait = nil
	if len(g.early) == 0 || h.closing.Load() {
		return
	}
	h.giveUpWaiting(k, g)
}

// giveUpWaiting sends every waiting update in version order, past the
// versions still missing; g.mu is held.
func (h *Hub) giveUpWaiting(k gridKey, g *gridFeed) {
	versions := slices.Sorted(maps.Keys(g.early))
	h.metrics.UpdateGaps.Add(float64(versions[len(versions)-1] - g.next + 1 - int64(len(versions))))
	h.log.Debug("slot updates sent without the versions before them", "room", k.room, "date", k.date, "missing_from", g.next, "up_to", versions[len(versions)-1])
	for _, v := range versions {
		h.send(k, g, g.early[v])
		delete(g.early, v)
	}
	g.next = versions[len(versions)-1] + 1
	if g.wait != nil {
		g.wait.Stop()
		g.wait = nil
	}
}

// send delivers u to this node's members of the room, unless its slot
// already got a newer version; g.mu is held.
func (h *Hub) send(k gridKey, g *gridFeed, u update) {
	if !g.admit(u) {
		h.metrics.StaleUpdates.Inc()
		return
	}
	err := h.nsp.To(k.room).Local().Skip(func(id string) bool { return g.skip(id, u) }).Emit(protocol.EventSlotUpdate, u.payload)
	if err != nil {
		h.log.Warn("slot update not delivered", "room", k.room, "err", err)
		return
	}
	h.metrics.EventsOut.WithLabelValues(protocol.EventSlotUpdate).Inc()
}

// Broadcast emits event to a room, or to every socket when room is "".
// With a cluster it reaches every node; ctx bounds handing it to them.
func (h *Hub) Broadcast(ctx context.Context, room, event string, payload any) {
	start := time.Now()
	var err error
	if room == "" {
		err = h.nsp.To().EmitContext(ctx, event, payload)
	} else {
		err = h.nsp.To(room).EmitContext(ctx, event, payload)
	}
	h.metrics.BroadcastSeconds.WithLabelValues(metricEvent(event)).Observe(time.Since(start).Seconds())
	if err != nil {
		h.log.Warn("broadcast failed", "room", room, "event", event, "err", err)
		return
	}
	h.metrics.EventsOut.WithLabelValues(metricEvent(event)).Inc()
}

func metricEvent(e string) string {
	switch e {
	case protocol.EventSlotUpdate, protocol.EventSlotsFreed, protocol.EventHoldExpired, protocol.EventSlotCancelled, protocol.EventSlotsStatusUpdate:
		return e
	}
	return "custom"
}

// Target is where an admin emit goes: exactly one of its fields is set.
type Target struct {
	Room   string
	UserID int64
	All    bool
}

// RoomName is the room the target names; "" means every socket.
func (t Target) RoomName() string { return t.room() }

func (t Target) room() string {
	switch {
	case t.All:
		return ""
	case t.UserID != 0:
		return protocol.UserRoom(t.UserID)
	}
	return t.Room
}

// String names the target for logs and responses.
func (t Target) String() string {
	if t.All {
		return "all"
	}
	return t.room()
}

// ErrReservedEvent rejects admin emits of Socket.IO's reserved names and
// of names protocol.ValidateEventName refuses.
var ErrReservedEvent = errors.New("reserved or invalid event name")

// Emit sends a staff-chosen event to a target and returns how many
// sockets on this node received it; ctx is the staff's request.
func (h *Hub) Emit(ctx context.Context, t Target, event string, data any) (int, error) {
	if err := protocol.ValidateEventName(event); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrReservedEvent, err)
	}
	room := t.room()
	n := h.localMembers(room)
	h.Broadcast(ctx, room, event, data)
	h.log.Info("admin emit", "event", event, "target", t.String(), "recipients", n)
	return n, nil
}

// localMembers counts this node's sockets in room ("" = all).
func (h *Hub) localMembers(room string) int {
	if room == "" {
		return h.nsp.SocketCount()
	}
	return h.nsp.RoomSize(room)
}

// ClusterMembers counts the sockets in room ("" = everyone) on every node
// (through the cluster's fetchSockets); it fails after timeout or when
// ctx ends.
func (h *Hub) ClusterMembers(ctx context.Context, room string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rooms []string
	if room != "" {
		rooms = []string{room}
	}
	socks, err := h.nsp.FetchSockets(ctx, rooms...)
	if err != nil {
		return 0, fmt.Errorf("count members of %q: %w", room, err)
	}
	return len(socks), nil
}

// ClusterPresence lists every node's sockets: distinct users and members
// per space room, for cluster-wide stats.
func (h *Hub) ClusterPresence(ctx context.Context) (sockets, users int, rooms map[string]int, err error) {
	socks, err := h.nsp.FetchSockets(ctx)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("fetch cluster sockets: %w", err)
	}
	userRooms := map[string]bool{}
	rooms = map[string]int{}
	for _, s := range socks {
		for _, r := range s.Rooms {
			switch {
			case protocol.IsUserRoom(r):
				userRooms[r] = true
			default:
				if _, _, ok := protocol.ParseSpaceRoom(r); ok {
					rooms[r]++
				}
			}
		}
	}
	return len(socks), len(userRooms), rooms, nil
}
