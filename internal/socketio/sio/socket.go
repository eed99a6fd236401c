package sio

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// ErrDisconnected is returned when emitting to a socket that has left its
// namespace for good.
var ErrDisconnected = errors.New("sio: socket disconnected")

// Reasons given to Socket.OnDisconnect besides the engine's close reasons.
const (
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonServerDisconnect = "server namespace disconnect"
)

type socketState int

const (
	stateConnected socketState = iota
	// stateSaved: the connection is gone, the session waits for the
	// client to recover it and keeps receiving what its rooms get.
	stateSaved
	stateGone
)

// Socket is one client's connection to a namespace.
type Socket struct {
	id        string
	pid       string // private session id, "" without recovery
	ns        *Namespace
	client    *client
	data      any
	handshake atomic.Pointer[Handshake]
	recovered bool

	hmu          sync.Mutex // guards the handlers
	guards       []func(e *Event) bool
	handlers     map[string]func(e *Event)
	onDisconnect func(reason string)
	disconnected atomic.Bool // OnDisconnect was called

	// mu guards what follows and orders the frames sent to the client
	// with the ring of what was sent. Lock order: Namespace.mu, then mu.
	mu    sync.Mutex
	state socketState
	ring  *ring // nil without recovery
	// next is the socket that recovered this session; what is still
	// delivered here goes there.
	next   *Socket
	expiry interface{ Stop() bool }

	// rooms is guarded by Namespace.mu.
	rooms map[string]struct{}
}

// Event is one event from the client.
type Event struct {
	Name string
	// Args are decoded JSON values (float64 numbers, map[string]any,
	// []any); binary attachments are []byte.
	Args []any

	socket *Socket
	ackID  int64
	acked  atomic.Bool
}

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.ackID != noAck }

// Ack answers the client's acknowledgement once; later calls and events
// without one do nothing. Acks are never stored for recovery.
func (e *Event) Ack(args ...any) {
	if e.ackID == noAck || e.acked.Swap(true) {
		return
	}
	if args == nil {
		args = []any{}
	}
	frames, err := encodePacket(packetAck, e.socket.ns.name, e.ackID, args)
	if err != nil {
		e.socket.ns.srv.log.Error("sio: encode ack", "event", e.Name, "error", err)
		return
	}
	_ = e.socket.sendDirect(frames)
}

// ID is the socket id, the same after recovery. It is not the Engine.IO
// session id.
func (s *Socket) ID() string { return s.id }

// Data is what the namespace's last middleware returned.
func (s *Socket) Data() any { return s.data }

// Handshake is what the client sent to connect.
func (s *Socket) Handshake() *Handshake { return s.handshake.Load() }

// slimHandshake drops the handshake's auth, query and headers.
func (s *Socket) slimHandshake() {
	hs := *s.handshake.Load()
	hs.Auth, hs.Query, hs.Headers = nil, nil, nil
	s.handshake.Store(&hs)
}

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Recovered reports whether the socket continues a session whose missed
// packets were replayed to it.
func (s *Socket) Recovered() bool { return s.recovered }

// Transport is the Engine.IO transport in use, "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Rooms lists the socket's rooms, its own id included, sorted.
func (s *Socket) Rooms() []string {
	s = s.latest()
	s.ns.mu.RLock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, r)
	}
	s.ns.mu.RUnlock()
	slices.Sort(out)
	return out
}

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	s = s.latest()
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	_, in := s.rooms[room]
	return in
}

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) { s = s.latest(); s.ns.join(s, rooms) }

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s = s.latest(); s.ns.leave(s, room) }

// Connected reports whether the socket is in its namespace with a live
// connection (this socket, or the one that recovered its session).
func (s *Socket) Connected() bool {
	s = s.latest()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected
}

// latest is the socket that now holds s's session: s, or the one that
// recovered it. Methods called on a socket whose session was recovered
// act on the session.
func (s *Socket) latest() *Socket {
	for {
		s.mu.Lock()
		n := s.next
		s.mu.Unlock()
		if n == nil {
			return s
		}
		s = n
	}
}

// Use adds a guard run before every event's handler, in order; false
// drops the event.
func (s *Socket) Use(fn func(e *Event) bool) {
	s.hmu.Lock()
	s.guards = append(s.guards, fn)
	s.hmu.Unlock()
}

// On handles an event. Handlers run one at a time per session, in order:
// a slow handler delays the session's next events, not other sessions.
func (s *Socket) On(event string, fn func(e *Event)) {
	s.hmu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string]func(e *Event))
	}
	s.handlers[event] = fn
	s.hmu.Unlock()
}

// OnDisconnect is called once when the socket leaves the namespace, with
// the reason (ReasonClientDisconnect, ReasonServerDisconnect, or the
// engine's close reason, e.g. eio.ReasonTransportClose).
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.hmu.Lock()
	s.onDisconnect = fn
	s.hmu.Unlock()
}

// Emit sends an event to this socket; with recovery on it carries an
// offset as its last argument and is stored for recovery. []byte
// arguments (also inside []any and map[string]any) go as binary
// attachments and must not change afterwards.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, s.ns.srv.recovery)
}

// EmitTransient sends an event that is never stored for recovery and
// carries no offset (replies to rejected client events). The official
// client takes a string last argument of any event for an offset, so give
// transient events a non-string last argument (an object) when recovery
// is on; otherwise the client's next recovery fails (it gets a fresh
// session, not an error).
func (s *Socket) EmitTransient(event string, args ...any) error {
	return s.emit(event, args, false)
}

func (s *Socket) emit(event string, args []any, store bool) error {
	data := make([]any, 0, len(args)+2)
	data = append(data, event)
	data = append(data, args...)
	var offset string
	if store {
		offset = s.ns.srv.offsets.next()
		data = append(data, offset)
	}
	frames, err := encodePacket(packetEvent, s.ns.name, noAck, data)
	if err != nil {
		return err
	}
	if !store {
		return s.sendDirect(frames)
	}
	e := &stored{offset: offset, frames: frames, size: framesLen(frames), at: nowNano()}
	ok, live := s.deliver(e)
	if !ok {
		s.ns.drop(s)
	}
	if !live {
		return ErrDisconnected
	}
	return nil
}

// lockLatest follows a recovered socket to the one that replaced it and
// returns that one, locked.
func (s *Socket) lockLatest() *Socket {
	s.mu.Lock()
	for s.next != nil {
		n := s.next
		s.mu.Unlock()
		s = n
		s.mu.Lock()
	}
	return s
}

// sendDirect sends frames now if the socket is connected, unstored.
func (s *Socket) sendDirect(frames []*eio.Frame) error {
	s = s.lockLatest()
	defer s.mu.Unlock()
	if s.state != stateConnected {
		return ErrDisconnected
	}
	return s.client.conn.Send(frames...)
}

// deliver sends e to the socket (connected) or keeps it for recovery
// (saved). ok is false when the saved session just passed its bounds:
// the caller drops it (see Namespace.drop) once it holds no lock of the
// namespace. live reports whether the socket is connected or saved.
func (s *Socket) deliver(e *stored) (ok, live bool) {
	s = s.lockLatest()
	defer s.mu.Unlock()
	switch s.state {
	case stateConnected:
		if s.ring != nil && e.offset != "" {
			s.ring.push(e, e.at)
		}
		// ErrClosed: the engine reports the close to OnClose; the packet
		// stays in the ring for recovery. ErrSlowConsumer: the engine
		// closes the session itself.
		_ = s.client.conn.Send(e.frames...)
		return true, true
	case stateSaved:
		if e.offset == "" {
			return true, true // volatile
		}
		if !s.ring.push(e, e.at) {
			s.state, s.ring = stateGone, nil
			return false, false
		}
		return true, true
	default:
		return true, false
	}
}

// fireDisconnect calls the OnDisconnect handler once.
func (s *Socket) fireDisconnect(reason string) {
	if s.disconnected.Swap(true) {
		return
	}
	s.hmu.Lock()
	fn := s.onDisconnect
	s.hmu.Unlock()
	if fn != nil {
		fn(reason)
	}
}

// handleEvent runs the guards and the handler of one client event.
func (s *Socket) handleEvent(p *packet) {
	args := p.data.([]any)
	e := &Event{Name: args[0].(string), Args: args[1:], socket: s, ackID: p.id}
	s.hmu.Lock()
	guards, h := s.guards, s.handlers[e.Name]
	s.hmu.Unlock()
	for _, g := range guards {
		if !g(e) {
			return
		}
	}
	if h != nil {
		h(e)
	}
}

// Disconnect sends the client a DISCONNECT (so the official client does
// not reconnect) and removes the socket; with closeConn, or when it was
// the connection's last namespace, the Engine.IO session is closed too,
// after what is queued for it. Its sockets of other namespaces then get
// ReasonServerDisconnect too. A session saved for recovery is dropped.
// Safe to call twice.
func (s *Socket) Disconnect(closeConn bool) {
	s = s.latest()
	c := s.client
	if !c.removeSocket(s) {
		s.ns.drop(s) // saved for recovery, or gone already
		return
	}
	s.serverDisconnectRemoved()
	left := c.socketCount()
	if closeConn {
		for _, o := range c.socketList() {
			o.serverDisconnect()
		}
		left = 0
	}
	if left == 0 {
		c.conn.Close(eio.ReasonForcedClose)
	}
}

func (s *Socket) serverDisconnect() {
	if s.client.removeSocket(s) {
		s.serverDisconnectRemoved()
	}
}

// serverDisconnectRemoved ends s, already taken out of its client.
func (s *Socket) serverDisconnectRemoved() {
	// Unlinked first, so that no broadcast follows the DISCONNECT.
	s.ns.unlink(s)
	if frames, err := encodePacket(packetDisconnect, s.ns.name, noAck, nil); err == nil {
		_ = s.client.conn.Send(frames...)
	}
	s.fireDisconnect(ReasonServerDisconnect)
}
