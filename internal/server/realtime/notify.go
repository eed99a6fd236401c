package realtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
)

var _ slots.Notifier = (*Hub)(nil)

// SlotChanged broadcasts slot_update, with the change's grid version, to
// the spazio's room. The payload never names the holder: other users must not learn who holds a slot.
func (h *Hub) SlotChanged(_ context.Context, c slots.Change) {
	h.slotUpdate(c, time.Now())
	h.log.Debug("slot changed", "room", protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID), "slot", c.Key.Slot, "status", c.Status)
}

// SlotCancelled announces a staff cancel: slot_update (with the cancel's
// grid version) to the spazio's room, which names no holder, then
// slot_cancelled with staff's reason to the holder's personal room, so
// every tab of theirs, on any node, learns why the slot went.
func (h *Hub) SlotCancelled(_ context.Context, c slots.Change, reason string) {
	c.Status, c.ExpiresAt = slots.StatusAvailable, time.Time{}
	now := time.Now()
	room := protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID)
	h.slotUpdate(c, now)
	if c.UserID != 0 {
		h.Broadcast(protocol.UserRoom(c.UserID), protocol.EventSlotCancelled, wire.SlotCancelled(c, reason, now))
	}
	h.log.Debug("slot cancelled", "room", room, "slot", c.Key.Slot, "holder", c.UserID)
}

// HoldsExpired announces expiries: slot_update (with the expiry's grid
// version) to each room, hold_expired
// to each holder's personal room, then one slots_freed to everyone.
func (h *Hub) HoldsExpired(_ context.Context, freed []slots.Change) {
	if len(freed) == 0 {
		return
	}
	now := time.Now()
	list := make([]protocol.FreedSlot, 0, len(freed))
	for _, c := range freed {
		c.Status = slots.StatusAvailable
		h.slotUpdate(c, now)
		if c.UserID != 0 {
			h.Broadcast(protocol.UserRoom(c.UserID), protocol.EventHoldExpired, wire.HoldExpired(c, now))
		}
		list = append(list, wire.FreedSlot(c))
		h.metrics.Expiries.Inc()
	}
	h.Broadcast("", protocol.EventSlotsFreed, protocol.SlotsFreed{Type: protocol.EventSlotsFreed, Count: len(freed), Slots: list, Timestamp: protocol.Timestamp(now)})
}

// slotUpdate announces one committed change: slot_update to the other
// nodes, and to this node's sockets through the grid's feed, which
// orders it with the updates of other requests and nodes and with joins.
func (h *Hub) slotUpdate(c slots.Change, now time.Time) {
	start := time.Now()
	room := protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID)
	payload := wire.SlotUpdate(c, now)
	if h.cfg.Cluster != nil {
		if err := h.nsp.To(room).Remote().Emit(protocol.EventSlotUpdate, payload); err != nil {
			h.log.Debug("slot update not sent to other nodes", "room", room, "err", err)
		}
	}
	h.deliver(gridKey{room: room, date: c.Key.Date}, update{slot: c.Key.Slot, version: c.Version, payload: payload})
	h.metrics.BroadcastSeconds.WithLabelValues(protocol.EventSlotUpdate).Observe(time.Since(start).Seconds())
}

// deliver sends a slot update to this node's members of its room in the
// grid's feed order (see gridFeed).
func (h *Hub) deliver(k gridKey, u update) {
	g := h.feeds.get(k)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.admit(u, time.Now()) {
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
// With a cluster it reaches every node.
func (h *Hub) Broadcast(room, event string, payload any) {
	start := time.Now()
	var err error
	if room == "" {
		err = h.nsp.Emit(event, payload)
	} else {
		err = h.nsp.To(room).Emit(event, payload)
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
// sockets on this node received it.
func (h *Hub) Emit(t Target, event string, data any) (int, error) {
	if err := protocol.ValidateEventName(event); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrReservedEvent, err)
	}
	room := t.room()
	n := h.localMembers(room)
	h.Broadcast(room, event, data)
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
// (through the cluster's fetchSockets); it fails after timeout.
func (h *Hub) ClusterMembers(room string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
