// Package adapter defines what a Socket.IO server node and a cluster of
// nodes exchange: packets in the form Node's adapters carry them, the
// options of a broadcast, and the view of a socket that another node can
// ask for. The in-memory rooms live in package sio; a Cluster (Redis) only
// forwards to other nodes and answers their questions.
package adapter

import (
	"context"
	"errors"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// Socket.IO packet types carried between nodes.
const (
	PacketEvent       = 2
	PacketBinaryEvent = 5
)

// Packet is a Socket.IO packet as Node's adapters carry it between nodes.
type Packet struct {
	// Type is PacketEvent or PacketBinaryEvent.
	Type int
	// Nsp is the namespace, "/" for the main one.
	Nsp string
	// Data is the event name followed by its arguments, as plain values:
	// string, float64, bool, nil, []byte, []any and map[string]any.
	Data []any
}

// Options select the recipients of a broadcast.
type Options struct {
	// Rooms limits the broadcast to members of any of these rooms; empty
	// means every socket of the namespace.
	Rooms []string
	// Except skips members of any of these rooms.
	Except []string
	// Local keeps the broadcast on this node.
	Local bool
	// Volatile broadcasts may be dropped (never stored for recovery).
	Volatile bool
}

// SocketInfo is what a node tells others of one of its sockets.
type SocketInfo struct {
	ID    string
	Rooms []string
	// Data is the socket's application data as plain values (see Packet.Data).
	Data any
}

// Node is what a Cluster needs from the local server.
type Node interface {
	// DeliverLocal sends a packet that another node broadcast to this
	// node's matching sockets.
	DeliverLocal(p Packet, opts Options)
	// LocalSockets lists this node's sockets of namespace nsp matching opts.
	LocalSockets(nsp string, opts Options) []SocketInfo
}

// Cluster connects this node to the others. Implementations are safe for
// concurrent use.
type Cluster interface {
	// Run subscribes to the other nodes and serves their requests through
	// node until ctx ends. It keeps retrying a lost connection itself and
	// returns only when ctx ends (nil) or on a configuration error.
	Run(ctx context.Context, node Node) error
	// Publish sends a broadcast to every other node (this node has
	// delivered it locally already).
	Publish(ctx context.Context, p Packet, opts Options) error
	// FetchSockets asks every other node for its sockets of namespace nsp
	// matching opts; it fails with ctx or when a node does not answer.
	FetchSockets(ctx context.Context, nsp string, opts Options) ([]SocketInfo, error)
	// Healthy is nil while the cluster connection works.
	Healthy() error
}

// Backlog is implemented by a Cluster that queues broadcasts for the
// other nodes instead of making the caller wait for them.
type Backlog interface {
	// Backlog reports the queue.
	Backlog() BacklogStats
	// OnDrop sets a function called with each broadcast dropped from a
	// full queue, so that the caller can make up for it.
	OnDrop(fn func(p Packet, opts Options))
}

// BacklogStats describe a Backlog's queue.
type BacklogStats struct {
	// Waiting broadcasts are queued now.
	Waiting int
	// Delayed broadcasts (in total) were queued while the cluster was
	// unavailable; Dropped ones were dropped from the full queue.
	Delayed, Dropped uint64
}

// ErrUnavailable is returned (wrapped) while the cluster connection is down.
var ErrUnavailable = errors.New("cluster unavailable")

// HasBinary reports whether v, a plain value (see Packet.Data), holds a
// []byte: such a packet travels as a binary event, its bytes as
// attachments.
func HasBinary(v any) bool { return parser.HasBinary(v) }
