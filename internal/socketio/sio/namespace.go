package sio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// Namespace is a set of sockets with its middlewares and rooms.
type Namespace struct {
	srv  *Server
	name string

	cfgMu       sync.RWMutex
	middlewares []func(h *Handshake) (any, error)
	recoverIf   func(old, new any) bool
	onConn      func(s *Socket)

	// mu guards the membership below and every Socket.rooms. Broadcasts
	// hold it shared while they fan out (Session.Send never blocks).
	mu sync.RWMutex
	// all holds the connected sockets and the saved ones, which still
	// receive broadcasts for recovery.
	all   map[*Socket]struct{}
	live  map[string]*Socket // connected sockets by id
	rooms map[string]*room
	// tallies count classes of rooms (see Tally).
	tallies []*Tally
}

type room struct {
	members map[*Socket]struct{}
	live    int      // connected members; change it with addLive
	tallies []*Tally // those that count this room
}

func newNamespace(srv *Server, name string) *Namespace {
	return &Namespace{
		srv:   srv,
		name:  name,
		all:   make(map[*Socket]struct{}),
		live:  make(map[string]*Socket),
		rooms: make(map[string]*room),
	}
}

// Name is the namespace's name, "/" for the main one.
func (n *Namespace) Name() string { return n.name }

// Use adds a middleware run on every CONNECT (recovered ones too) in
// order; it returns the socket's application data, or an error that
// refuses the connection (a *ConnectError, or any error whose text becomes
// the message). The data of the last middleware is the socket's Data.
// Middlewares run on the connection's reader, one CONNECT at a time.
func (n *Namespace) Use(fn func(h *Handshake) (data any, err error)) {
	n.cfgMu.Lock()
	n.middlewares = append(n.middlewares, fn)
	n.cfgMu.Unlock()
}

// RecoverIf decides whether a recovered session may be restored for a new
// CONNECT whose middlewares produced data; false gives a fresh session.
// Without it any session whose private id and offset the client presents
// is restored (Node's behaviour): set it to compare the user.
func (n *Namespace) RecoverIf(fn func(old, new any) bool) {
	n.cfgMu.Lock()
	n.recoverIf = fn
	n.cfgMu.Unlock()
}

// OnConnection is called for each connected socket, before any of its
// events is delivered.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.cfgMu.Lock()
	n.onConn = fn
	n.cfgMu.Unlock()
}

// To starts a broadcast to the members of rooms (any of them).
func (n *Namespace) To(rooms ...string) *Broadcast {
	return &Broadcast{ns: n, opts: adapter.Options{Rooms: slices.Clone(rooms)}}
}

// Emit broadcasts to every socket of the namespace, on every node.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&Broadcast{ns: n}).Emit(event, args...)
}

// SocketCount is the number of this node's sockets in the namespace.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.live)
}

// RoomSize is the number of this node's sockets in room.
func (n *Namespace) RoomSize(name string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if r := n.rooms[name]; r != nil {
		return r.live
	}
	return 0
}

// FetchSockets lists the sockets in any of rooms (all when none) on every
// node, this one included.
func (n *Namespace) FetchSockets(ctx context.Context, rooms ...string) ([]adapter.SocketInfo, error) {
	opts := adapter.Options{Rooms: rooms}
	local := n.localSockets(opts)
	if n.srv.cluster == nil {
		return local, nil
	}
	remote, err := n.srv.cluster.FetchSockets(ctx, n.name, opts)
	if err != nil {
		return local, fmt.Errorf("fetch sockets of %s: %w", n.name, err)
	}
	return append(local, remote...), nil
}

// Broadcast is a broadcast being built. Methods return new values.
type Broadcast struct {
	ns   *Namespace
	opts adapter.Options
	// remote skips this node's sockets; skip filters them.
	remote bool
	skip   func(id string) bool
}

// Except skips members of rooms.
func (b *Broadcast) Except(rooms ...string) *Broadcast {
	c := *b
	c.opts.Except = append(slices.Clip(b.opts.Except), rooms...)
	return &c
}

// Local keeps the broadcast on this node.
func (b *Broadcast) Local() *Broadcast {
	c := *b
	c.opts.Local = true
	return &c
}

// Remote sends the broadcast to the other nodes only, for a caller that
// delivers to this node's sockets itself (for example in an order of its
// own). Without a cluster it sends nothing.
func (b *Broadcast) Remote() *Broadcast {
	c := *b
	c.remote = true
	return &c
}

// Skip leaves out this node's sockets for which fn, given the socket's
// id, reports true; other nodes do not see it. fn runs once per
// recipient while the namespace's membership is locked: it must be quick
// and must not call into the namespace.
func (b *Broadcast) Skip(fn func(id string) bool) *Broadcast {
	c := *b
	c.skip = fn
	return &c
}

// Volatile marks the broadcast as droppable: it carries no offset and is
// never stored for recovery.
func (b *Broadcast) Volatile() *Broadcast {
	c := *b
	c.opts.Volatile = true
	return &c
}

// Emit encodes the packet once and queues it to every recipient, then
// forwards it to the other nodes unless Local. []byte arguments go as
// binary attachments and must not change afterwards. An error of the
// cluster comes after local delivery.
func (b *Broadcast) Emit(event string, args ...any) error {
	return b.EmitContext(context.Background(), event, args...)
}

// EmitContext is Emit whose hand-over to the cluster ends with ctx (and
// within a few seconds at most); local delivery never waits.
func (b *Broadcast) EmitContext(ctx context.Context, event string, args ...any) error {
	data := make([]any, 0, len(args)+2)
	data = append(data, event)
	data = append(data, args...)
	if !b.remote {
		if err := b.ns.broadcast(data, b.opts, b.skip); err != nil {
			return err
		}
	}
	cl := b.ns.srv.cluster
	if b.opts.Local || cl == nil {
		return nil
	}
	p := adapter.Packet{Type: adapter.PacketEvent, Nsp: b.ns.name, Data: plainArgs(data)}
	if adapter.HasBinary(p.Data) {
		p.Type = adapter.PacketBinaryEvent
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := cl.Publish(ctx, p, b.opts); err != nil {
		return fmt.Errorf("publish %s: %w", event, err)
	}
	return nil
}

// publishTimeout bounds handing one broadcast to the cluster.
const publishTimeout = 5 * time.Second

// broadcast encodes data (event name first) once and delivers it to this
// node's sockets that opts select.
func (n *Namespace) broadcast(data []any, opts adapter.Options, skip func(id string) bool) error {
	var e stored
	if n.srv.recovery && !opts.Volatile {
		e.offset = n.srv.offsets.next()
		data = append(data, e.offset)
	}
	frames, err := encodePacket(packetEvent, n.name, noAck, data)
	if err != nil {
		return err
	}
	e.frames, e.size, e.at = frames, framesLen(frames), nowNano()

	var dropped []*Socket
	n.mu.RLock()
	send := func(s *Socket) {
		if inAny(s, opts.Except) || (skip != nil && skip(s.id)) {
			return
		}
		if ok, _ := s.deliver(&e); !ok {
			dropped = append(dropped, s)
		}
	}
	if len(opts.Rooms) == 0 {
		for s := range n.all {
			send(s)
		}
	}
	for i, name := range opts.Rooms {
		r := n.rooms[name]
		if r == nil {
			continue
		}
		for s := range r.members {
			if !inAny(s, opts.Rooms[:i]) { // reached through an earlier room
				send(s)
			}
		}
	}
	n.mu.RUnlock()
	for _, s := range dropped {
		n.drop(s)
	}
	return nil
}

// inAny reports whether s is in any of rooms. n.mu is held. Checking the
// socket's own few rooms costs no allocation, unlike a set of members.
func inAny(s *Socket, rooms []string) bool {
	for _, r := range rooms {
		if _, in := s.rooms[r]; in {
			return true
		}
	}
	return false
}

// localSockets lists the connected sockets that opts select.
func (n *Namespace) localSockets(opts adapter.Options) []adapter.SocketInfo {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []adapter.SocketInfo
	add := func(s *Socket) {
		if n.live[s.id] != s || inAny(s, opts.Except) {
			return
		}
		rooms := make([]string, 0, len(s.rooms))
		for r := range s.rooms {
			rooms = append(rooms, r)
		}
		slices.Sort(rooms)
		out = append(out, adapter.SocketInfo{ID: s.id, Rooms: rooms, Data: plain(s.data)})
	}
	if len(opts.Rooms) == 0 {
		for _, s := range n.live {
			add(s)
		}
	}
	for i, name := range opts.Rooms {
		if r := n.rooms[name]; r != nil {
			for s := range r.members {
				if !inAny(s, opts.Rooms[:i]) {
					add(s)
				}
			}
		}
	}
	return out
}

func (n *Namespace) join(s *Socket, rooms []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, in := n.all[s]; !in {
		return
	}
	for _, name := range rooms {
		n.joinLocked(s, name)
	}
}

func (n *Namespace) joinLocked(s *Socket, name string) {
	if _, in := s.rooms[name]; in {
		return
	}
	r := n.rooms[name]
	if r == nil {
		r = n.newRoom(name)
	}
	r.members[s] = struct{}{}
	if n.live[s.id] == s {
		r.addLive(name, 1)
	}
	s.rooms[name] = struct{}{}
}

func (n *Namespace) leave(s *Socket, name string) {
	n.mu.Lock()
	n.leaveLocked(s, name)
	n.mu.Unlock()
}

func (n *Namespace) leaveLocked(s *Socket, name string) {
	if _, in := s.rooms[name]; !in {
		return
	}
	delete(s.rooms, name)
	r := n.rooms[name]
	delete(r.members, s)
	if n.live[s.id] == s {
		r.addLive(name, -1)
	}
	if len(r.members) == 0 {
		delete(n.rooms, name)
	}
}

// unlink removes s from the namespace for good. Safe to call twice.
func (n *Namespace) unlink(s *Socket) {
	n.mu.Lock()
	if _, in := n.all[s]; in {
		for name := range s.rooms {
			n.leaveLocked(s, name)
		}
		delete(n.all, s)
		if n.live[s.id] == s {
			delete(n.live, s.id)
		}
	}
	s.mu.Lock()
	s.state, s.ring = stateGone, nil
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.mu.Unlock()
	n.mu.Unlock()
}

// drop forgets a saved session that can no longer be recovered.
func (n *Namespace) drop(s *Socket) {
	n.srv.saved.remove(s)
	n.unlink(s)
}

// detach handles the end of s's connection: a recoverable one keeps the
// session for the recovery window, otherwise s leaves the namespace.
func (n *Namespace) detach(s *Socket, reason string) {
	if !n.srv.recovery || !recoverableReasons[reason] {
		n.unlink(s)
		return
	}
	n.mu.Lock()
	if n.live[s.id] != s {
		n.mu.Unlock()
		return
	}
	delete(n.live, s.id)
	for name := range s.rooms {
		n.rooms[name].addLive(name, -1)
	}
	s.mu.Lock()
	s.state = stateSaved
	s.ring.disconnected = true
	s.expiry = time.AfterFunc(n.srv.cfg.Recovery.Window, func() { n.srv.timers.Run(func() { n.drop(s) }) })
	s.mu.Unlock()
	n.mu.Unlock()
	if !n.srv.saved.put(s) {
		n.unlink(s) // shut down meanwhile
	}
}

// trimRings drops what is older than the recovery window from the rings
// of the namespace's sockets.
func (n *Namespace) trimRings(now int64) {
	n.mu.RLock()
	socks := make([]*Socket, 0, len(n.all))
	for s := range n.all {
		socks = append(socks, s)
	}
	n.mu.RUnlock()
	for _, s := range socks {
		s.mu.Lock()
		if s.ring != nil {
			s.ring.expire(now)
		}
		s.mu.Unlock()
	}
}

// connect makes the socket of a CONNECT that the middlewares accepted
// (data), recovering the saved session the client asks for when it may,
// and sends the CONNECT reply (and the missed packets) before any
// broadcast can reach it.
func (n *Namespace) connect(c *client, hs *Handshake, data any) *Socket {
	s := &Socket{ns: n, client: c, data: data, rooms: make(map[string]struct{}, 1)}
	s.handshake.Store(hs)
	if n.srv.recovery {
		if old := n.takeSaved(hs.Auth, data); old != nil {
			if n.restore(s, old) {
				return s
			}
		}
		s.pid = randomID()
		s.ring = &ring{lim: &n.srv.cfg.Recovery}
	}
	s.id = randomID()
	n.mu.Lock()
	n.all[s] = struct{}{}
	n.live[s.id] = s
	n.joinLocked(s, s.id)
	s.mu.Lock()
	n.sendConnect(s, nil)
	s.mu.Unlock()
	n.mu.Unlock()
	return s
}

// takeSaved returns the saved session the CONNECT asks to recover, if it
// exists for this namespace and RecoverIf allows it.
func (n *Namespace) takeSaved(auth map[string]any, data any) *Socket {
	pid, _, _, ok := recoveryAuth(auth)
	if !ok {
		return nil
	}
	old := n.srv.saved.take(pid, n)
	if old == nil {
		return nil
	}
	n.cfgMu.RLock()
	allow := n.recoverIf
	n.cfgMu.RUnlock()
	if allow != nil && !allow(old.data, data) {
		// Refused to this client, still the owner's to recover: someone
		// presenting another's pid must not be able to destroy it either.
		n.srv.saved.put(old)
		return nil
	}
	return old
}

// restore moves old's session (id, rooms, ring) to s and replays what the
// client missed; false when the ring does not reach back to the client's
// offset (old is then dropped).
func (n *Namespace) restore(s, old *Socket) bool {
	_, offset, hasOffset, _ := recoveryAuth(s.handshake.Load().Auth)
	n.mu.Lock()
	old.mu.Lock()
	var missed []*stored
	ok := old.state == stateSaved
	if ok {
		missed, ok = old.ring.after(offset, hasOffset)
	}
	if !ok {
		old.mu.Unlock()
		n.mu.Unlock()
		n.unlink(old)
		return false
	}
	old.expiry.Stop()
	s.id, s.pid, s.ring, s.rooms, s.recovered = old.id, old.pid, old.ring, old.rooms, true
	s.ring.disconnected, s.ring.missed, s.ring.missedBytes = false, 0, 0
	old.state, old.ring, old.next, old.rooms = stateGone, nil, s, nil
	delete(n.all, old)
	n.all[s] = struct{}{}
	n.live[s.id] = s
	for name := range s.rooms {
		r := n.rooms[name]
		delete(r.members, old)
		r.members[s] = struct{}{}
		r.addLive(name, 1)
	}
	s.mu.Lock()
	n.sendConnect(s, missed)
	s.mu.Unlock()
	old.mu.Unlock()
	n.mu.Unlock()
	return true
}

// sendConnect sends the CONNECT reply and the replayed packets in one go.
// s.mu is held.
func (n *Namespace) sendConnect(s *Socket, replay []*stored) {
	reply := map[string]string{"sid": s.id}
	if s.pid != "" {
		reply["pid"] = s.pid
	}
	frames, err := encodePacket(packetConnect, n.name, noAck, reply)
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	for _, e := range replay {
		frames = append(frames, e.frames...)
	}
	_ = s.client.conn.Send(frames...)
}

func (n *Namespace) runMiddlewares(hs *Handshake) (any, error) {
	n.cfgMu.RLock()
	mws := n.middlewares
	n.cfgMu.RUnlock()
	var data any
	for _, mw := range mws {
		d, err := mw(hs)
		if err != nil {
			return nil, err
		}
		data = d
	}
	return data, nil
}

func (n *Namespace) connected(s *Socket) {
	n.cfgMu.RLock()
	fn := n.onConn
	n.cfgMu.RUnlock()
	if fn != nil {
		fn(s)
	}
}

// connectErrorFrames is the CONNECT_ERROR reply for err.
func connectErrorFrames(nsp string, err error) []*eio.Frame {
	body := map[string]any{"message": err.Error()}
	var ce *ConnectError
	if errors.As(err, &ce) && ce.Data != nil {
		body["data"] = ce.Data
	}
	frames, encErr := encodePacket(packetConnectError, nsp, noAck, body)
	if encErr != nil {
		frames, _ = encodePacket(packetConnectError, nsp, noAck, map[string]any{"message": err.Error()})
	}
	return frames
}
