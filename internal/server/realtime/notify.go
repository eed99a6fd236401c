package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/slots"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
)

var _ slots.Notifier = (*Hub)(nil)

func slotData(c slots.Change) protocol.SlotData {
	d := protocol.SlotData{
		ID: c.Key.Slot, IDSlot: c.Key.Slot, IDSpazio: c.Key.SpazioID, IDSede: c.Key.SedeID,
		Date: c.Key.Date, Orario: c.Orario, Status: c.Status,
	}
	if !c.ExpiresAt.IsZero() {
		exp := protocol.Timestamp(c.ExpiresAt)
		d.ExpiresAt = &exp
	}
	if c.ReservationID != 0 {
		id := c.ReservationID
		d.PrenotazioneID = &id
	}
	return d
}

// SlotChanged broadcasts slot_update to the spazio's room. The payload
// never names the holder (SPEC §2 privacy).
func (h *Hub) SlotChanged(_ context.Context, c slots.Change) {
	h.Broadcast(protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID), protocol.EventSlotUpdate, protocol.SlotUpdate{
		Type: protocol.EventSlotUpdate, SlotID: c.Key.Slot, Status: c.Status, Data: slotData(c), Timestamp: protocol.Timestamp(time.Now()),
	})
	h.log.Debug("slot changed", "room", protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID), "slot", c.Key.Slot, "status", c.Status)
}

// HoldsExpired announces expiries: slot_update to each room, hold_expired
// to each holder's personal room, then one slots_freed to everyone.
func (h *Hub) HoldsExpired(_ context.Context, freed []slots.Change) {
	if len(freed) == 0 {
		return
	}
	now := protocol.Timestamp(time.Now())
	list := make([]protocol.FreedSlot, 0, len(freed))
	for _, c := range freed {
		c.Status = protocol.StatusAvailable
		data := slotData(c)
		h.Broadcast(protocol.SpaceRoom(c.Key.SpazioID, c.Key.SedeID), protocol.EventSlotUpdate, protocol.SlotUpdate{
			Type: protocol.EventSlotUpdate, SlotID: c.Key.Slot, Status: c.Status, Data: data, Timestamp: now,
		})
		if c.UserID != 0 {
			h.Broadcast(protocol.UserRoom(c.UserID), protocol.EventHoldExpired, protocol.HoldExpired{
				Type: protocol.EventHoldExpired, SlotID: c.Key.Slot, Data: data, Timestamp: now,
			})
		}
		list = append(list, protocol.FreedSlot{IDSpazio: c.Key.SpazioID, IDSede: c.Key.SedeID, Date: c.Key.Date, IDSlot: c.Key.Slot})
		h.metrics.Expiries.Inc()
	}
	h.Broadcast("", protocol.EventSlotsFreed, protocol.SlotsFreed{Type: protocol.EventSlotsFreed, Count: len(freed), Slots: list, Timestamp: now})
}

// Broadcast emits event to a room, or to every socket when room is "".
// With a cluster adapter it reaches every node.
func (h *Hub) Broadcast(room, event string, payload any) {
	start := time.Now()
	payload, err := wireValue(payload)
	if err != nil {
		h.log.Error("broadcast payload not encodable", "event", event, "err", err)
		return
	}
	if room == "" {
		room = everyoneRoom
	}
	err = h.io.To(sio.Room(room)).Emit(event, payload)
	h.metrics.BroadcastSeconds.WithLabelValues(metricEvent(event)).Observe(time.Since(start).Seconds())
	if err != nil {
		h.log.Warn("broadcast failed", "room", room, "event", event, "err", err)
		return
	}
	h.metrics.EventsOut.WithLabelValues(metricEvent(event)).Inc()
}

// everyoneRoom is joined by every socket. Broadcasts "to all" go to it
// instead of to the whole namespace because the Go Redis adapter (v3.0.2)
// drops namespace-wide broadcasts from other nodes (its onMessage skips a
// channel that carries no room), so slots_freed would reach only the
// sweeping node's clients. A one-room broadcast crosses nodes.
const everyoneRoom = "coworkctl_everyone"

// wireValue turns a payload into plain JSON values (maps, slices,
// float64s). The Redis adapter forwards broadcasts to other nodes in
// msgpack, which encodes Go structs by field name ("SlotID") and ignores
// json tags: clients on other nodes would get renamed fields. Converting
// once per broadcast keeps the wire names on every node.
func wireValue(v any) (any, error) {
	switch v.(type) {
	case nil, string, float64, bool, map[string]any, []any:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	return out, nil
}

func metricEvent(e string) string {
	switch e {
	case protocol.EventSlotUpdate, protocol.EventSlotsFreed, protocol.EventHoldExpired, protocol.EventSlotsStatusUpdate:
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

// ErrReservedEvent rejects admin emits of Socket.IO's reserved names.
var ErrReservedEvent = errors.New("reserved event name")

// Emit sends a staff-chosen event to a target and returns how many
// sockets on this node received it.
func (h *Hub) Emit(t Target, event string, data any) (int, error) {
	if event == "" || protocol.ReservedEvents[event] {
		return 0, fmt.Errorf("%w: %q", ErrReservedEvent, event)
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
		return h.io.Sockets().Sockets().Len()
	}
	if set, ok := h.io.Sockets().Adapter().Rooms().Load(sio.Room(room)); ok {
		return set.Len()
	}
	return 0
}

// ClusterMembers counts the sockets in room ("" = everyone) across every
// node through the cluster adapter's fetchSockets; it fails after timeout.
func (h *Hub) ClusterMembers(room string, timeout time.Duration) (int, error) {
	if room == "" {
		room = everyoneRoom
	}
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	h.io.In(sio.Room(room)).FetchSockets()(func(s []*sio.RemoteSocket, err error) { ch <- result{len(s), err} })
	select {
	case r := <-ch:
		return r.n, r.err
	case <-time.After(timeout):
		return 0, fmt.Errorf("count members of %q: no answer within %s", room, timeout)
	}
}
