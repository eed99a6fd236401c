package realtime

import (
	"context"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// feedCluster is the cluster as the Socket.IO server sees it: slot
// updates that other nodes broadcast go through the grids' feeds, like
// this node's own, instead of straight to the room.
type feedCluster struct {
	adapter.Cluster
	h *Hub
}

func (c feedCluster) Run(ctx context.Context, node adapter.Node) error {
	return c.Cluster.Run(ctx, feedNode{Node: node, h: c.h})
}

type feedNode struct {
	adapter.Node
	h *Hub
}

func (n feedNode) DeliverLocal(p adapter.Packet, opts adapter.Options) {
	if k, u, ok := remoteUpdate(p, opts); ok {
		n.h.deliver(k, u)
		return
	}
	n.Node.DeliverLocal(p, opts)
}

// remoteUpdate reads a slot_update another coworkctl node broadcast to a
// space room. Anything else (other events, a Node.js node's updates,
// which carry no version) is delivered as it came.
func remoteUpdate(p adapter.Packet, opts adapter.Options) (gridKey, update, bool) {
	if p.Type != adapter.PacketEvent || p.Nsp != "/" || len(p.Data) != 2 || p.Data[0] != protocol.EventSlotUpdate ||
		len(opts.Rooms) != 1 || len(opts.Except) != 0 || opts.Local {
		return gridKey{}, update{}, false
	}
	if _, _, ok := protocol.ParseSpaceRoom(opts.Rooms[0]); !ok {
		return gridKey{}, update{}, false
	}
	m, _ := p.Data[1].(map[string]any)
	data, _ := m["data"].(map[string]any)
	version, ok1 := number(m["version"])
	slot, ok2 := number(m["slotId"])
	date, ok3 := data["date"].(string)
	if !ok1 || !ok2 || !ok3 || version <= 0 {
		return gridKey{}, update{}, false
	}
	return gridKey{room: opts.Rooms[0], date: date}, update{slot: int(slot), version: version, payload: m}, true
}

// number is a whole JSON-ish number as the cluster decodes it.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int64(n)) {
			return 0, false
		}
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}
