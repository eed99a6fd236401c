// Package sio is coworkctl's Socket.IO v5 server on package eio:
// namespaces, the CONNECT handshake with auth middleware, events and acks
// (binary attachments included), rooms, broadcasts encoded once for all
// recipients, connection state recovery bounded per session, and an
// optional cluster (adapter.Cluster) for scale-out.
package sio

// API CONTRACT (stub written first so sio and its users can be built in
// parallel; the implementation replaces the bodies, keeps the signatures).

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/coworkctl/coworkctl/internal/server/realtime/adapter"
	"github.com/coworkctl/coworkctl/internal/server/realtime/eio"
)

// Config tunes the Socket.IO layer. Zero values take the defaults in brackets.
type Config struct {
	// ConnectTimeout closes an Engine.IO session that has not joined any
	// namespace in time. [10s]
	ConnectTimeout time.Duration
	// Recovery is connection state recovery; a zero Window turns it off.
	Recovery Recovery
	// Cluster forwards broadcasts to other nodes; nil is a single node.
	Cluster adapter.Cluster
	// Logger [slog.Default()]
	Logger *slog.Logger
}

// Recovery bounds connection state recovery. A session whose missed
// packets exceed MaxPackets or MaxBytes cannot be recovered: the client
// gets a fresh session.
type Recovery struct {
	Window     time.Duration
	MaxPackets int // [1000]
	MaxBytes   int // [1 MiB]
}

// Server is a Socket.IO server.
type Server struct{}

// NewServer builds a server on an Engine.IO server made from engine
// (whose OnSession it sets).
func NewServer(engine eio.Config, cfg Config) *Server { panic("unimplemented") }

// ServeHTTP serves the Engine.IO endpoint (mount it on /socket.io/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// Of returns the namespace of that name ("/" is the main one), creating it.
// Clients connecting to a namespace that was never created get
// CONNECT_ERROR "Invalid namespace".
func (s *Server) Of(name string) *Namespace { panic("unimplemented") }

// Sessions is the number of open Engine.IO sessions; Pending, of those,
// the ones not yet connected to any namespace.
func (s *Server) Sessions() int { panic("unimplemented") }
func (s *Server) Pending() int  { panic("unimplemented") }

// Run serves the cluster, if any, until ctx ends.
func (s *Server) Run(ctx context.Context) error { panic("unimplemented") }

// Shutdown closes every session after what is queued for it (see
// eio.Server.Shutdown). Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error { panic("unimplemented") }

// ConnectError refuses a namespace CONNECT; the client sees a
// connect_error with err.message = Message and err.data = Data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// Handshake is what a client sent to connect.
type Handshake struct {
	Auth    map[string]any // the CONNECT payload; nil when absent
	Query   url.Values
	Headers http.Header
	Address string // remote IP
	Time    time.Time
	URL     string
	Secure  bool
}

// Namespace is a set of sockets with its middlewares and rooms.
type Namespace struct{}

// Use adds a middleware run on every CONNECT (recovered ones too) in
// order; it returns the socket's application data, or an error that
// refuses the connection (a *ConnectError, or any error whose text becomes
// the message). The data of the last middleware is the socket's Data.
func (n *Namespace) Use(fn func(h *Handshake) (data any, err error)) { panic("unimplemented") }

// RecoverIf decides whether a recovered session may be restored for a new
// CONNECT whose middlewares produced data; false gives a fresh session.
func (n *Namespace) RecoverIf(fn func(old, new any) bool) { panic("unimplemented") }

// OnConnection is called for each connected socket, before any of its
// events is delivered.
func (n *Namespace) OnConnection(fn func(s *Socket)) { panic("unimplemented") }

// To starts a broadcast to the members of rooms (any of them).
func (n *Namespace) To(rooms ...string) *Broadcast { panic("unimplemented") }

// Emit broadcasts to every socket of the namespace, on every node.
func (n *Namespace) Emit(event string, args ...any) error { panic("unimplemented") }

// SocketCount is the number of this node's sockets in the namespace.
func (n *Namespace) SocketCount() int { panic("unimplemented") }

// RoomSize is the number of this node's sockets in room.
func (n *Namespace) RoomSize(room string) int { panic("unimplemented") }

// FetchSockets lists the sockets in any of rooms (all when none) on every
// node, this one included.
func (n *Namespace) FetchSockets(ctx context.Context, rooms ...string) ([]adapter.SocketInfo, error) {
	panic("unimplemented")
}

// Broadcast is a broadcast being built. Methods return new values.
type Broadcast struct{}

// Except skips members of rooms.
func (b *Broadcast) Except(rooms ...string) *Broadcast { panic("unimplemented") }

// Local keeps the broadcast on this node.
func (b *Broadcast) Local() *Broadcast { panic("unimplemented") }

// Emit encodes the packet once and queues it to every recipient.
func (b *Broadcast) Emit(event string, args ...any) error { panic("unimplemented") }

// Socket is one client's connection to a namespace.
type Socket struct{}

// Event is one event from the client.
type Event struct {
	Name string
	// Args are decoded JSON values (float64 numbers, map[string]any,
	// []any); binary attachments are []byte.
	Args []any
}

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { panic("unimplemented") }

// Ack answers the client's acknowledgement once; later calls and events
// without one do nothing. Acks are never stored for recovery.
func (e *Event) Ack(args ...any) { panic("unimplemented") }

func (s *Socket) ID() string             { panic("unimplemented") }
func (s *Socket) Data() any              { panic("unimplemented") }
func (s *Socket) Handshake() *Handshake  { panic("unimplemented") }
func (s *Socket) Namespace() *Namespace  { panic("unimplemented") }
func (s *Socket) Recovered() bool        { panic("unimplemented") }
func (s *Socket) Transport() string      { panic("unimplemented") }
func (s *Socket) Rooms() []string        { panic("unimplemented") }
func (s *Socket) Join(rooms ...string)   { panic("unimplemented") }
func (s *Socket) Leave(room string)      { panic("unimplemented") }
func (s *Socket) Connected() bool        { panic("unimplemented") }

// Use adds a guard run before every event's handler, in order; false
// drops the event.
func (s *Socket) Use(fn func(e *Event) bool) { panic("unimplemented") }

// On handles an event. Handlers run one at a time per socket, in order.
func (s *Socket) On(event string, fn func(e *Event)) { panic("unimplemented") }

// OnDisconnect is called once when the socket leaves the namespace, with
// the reason ("client namespace disconnect", "server namespace
// disconnect", or the engine's close reason).
func (s *Socket) OnDisconnect(fn func(reason string)) { panic("unimplemented") }

// Emit sends an event to this socket; it is stored for recovery.
func (s *Socket) Emit(event string, args ...any) error { panic("unimplemented") }

// EmitTransient sends an event that is never stored for recovery
// (replies to rejected client events).
func (s *Socket) EmitTransient(event string, args ...any) error { panic("unimplemented") }

// Disconnect sends the client a DISCONNECT (so the official client does
// not reconnect) and removes the socket; with closeConn the whole
// Engine.IO session is closed too.
func (s *Socket) Disconnect(closeConn bool) { panic("unimplemented") }
