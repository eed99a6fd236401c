package realtime

import (
	"sort"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// LocalStats is this node's presence: read from the namespace's room
// membership (sio's one index of who is where), not counted from
// disconnect events, so ghosts and duplicate disconnects do not skew it.
type LocalStats struct {
	Users   map[int64]int // user id → sockets
	Sockets int
	Rooms   map[string]int // space room → members
	Uptime  time.Duration
	NodeID  string
}

// Stats snapshots this node's presence.
func (h *Hub) Stats() LocalStats {
	sockets, users, rooms := h.occupancy.snapshot()
	return LocalStats{Users: users, Sockets: sockets, Rooms: rooms, Uptime: h.clock.Now().Sub(h.started), NodeID: h.cfg.NodeID}
}

// RoomList turns room counts into the sorted wire form.
func RoomList(rooms map[string]int) []protocol.RoomStats {
	out := make([]protocol.RoomStats, 0, len(rooms))
	for r, n := range rooms {
		rs := protocol.RoomStats{Room: r, Members: n}
		if sp, se, ok := protocol.ParseSpaceRoom(r); ok {
			rs.SpazioID, rs.SedeID = sp, se
		}
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SedeID != out[j].SedeID {
			return out[i].SedeID < out[j].SedeID
		}
		if out[i].SpazioID != out[j].SpazioID {
			return out[i].SpazioID < out[j].SpazioID
		}
		return out[i].Room < out[j].Room
	})
	return out
}
