package sio

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// conn is what sio needs of an Engine.IO session (*eio.Session).
type conn interface {
	ID() string
	Transport() string
	Request() *http.Request
	ReleaseRequest()
	Send(frames ...*eio.Frame) error
	Close(reason string)
}

var _ conn = (*eio.Session)(nil)

// reasonConnectTimeout closes a session that joined no namespace in time.
const reasonConnectTimeout = "connect timeout"

// client is one Engine.IO session seen by Socket.IO: the packet decoder
// and the session's sockets, one per namespace. It is the session's
// eio.Handler.
type client struct {
	srv     *Server
	conn    conn
	timeout *time.Timer
	addr    string      // the client's address (Config.ClientAddress)
	link    pendingLink // its place in the pending pool

	// Owned by OnMessage, which never runs concurrently for a session.
	partial *packet  // binary packet waiting for attachments
	bins    [][]byte // its attachments so far
	failed  bool

	mu      sync.Mutex
	sockets []*Socket // one per namespace
	pending bool      // counted in Server.pending
	// busy is set while OnMessage runs; a close arriving then is handled
	// when it returns, so a socket's OnDisconnect never overlaps its
	// handler run by OnMessage.
	busy, closed, closeLater bool
	closeReason              string
}

var _ eio.Handler = (*client)(nil)

func (s *Server) newClient(c conn) *client {
	cl := &client{srv: s, conn: c, pending: true, addr: s.cfg.ClientAddress(c.Request())}
	s.sessions.Add(1)
	s.pending.Add(1)
	cl.timeout = time.AfterFunc(s.cfg.ConnectTimeout, func() { s.timers.Run(cl.connectTimeout) })
	for _, old := range s.pool.add(cl) {
		old.evict()
	}
	return cl
}

// aborter is a session that can end without flushing (*eio.Session).
type aborter interface{ Abort(reason string) }

// evict closes a session the pending pool dropped, unless it completed
// its CONNECT meanwhile.
func (c *client) evict() {
	c.mu.Lock()
	still := c.pending && !c.closed
	c.mu.Unlock()
	if !still {
		return
	}
	if f := c.srv.cfg.OnPendingEvicted; f != nil {
		f()
	}
	c.srv.log.Debug("sio: pending session evicted", "session_id", c.conn.ID(), "address", c.addr)
	if a, ok := c.conn.(aborter); ok {
		a.Abort(ReasonPendingEvicted)
		return
	}
	c.conn.Close(ReasonPendingEvicted)
}

func (c *client) connectTimeout() {
	c.mu.Lock()
	late := c.pending && !c.closed
	c.mu.Unlock()
	if late {
		c.conn.Close(reasonConnectTimeout)
	}
}

// OnMessage decodes one Engine.IO message and handles the packet once it
// is complete.
func (c *client) OnMessage(data []byte, binary bool) {
	c.mu.Lock()
	if c.closed || c.failed {
		c.mu.Unlock()
		return
	}
	c.busy = true
	c.mu.Unlock()

	if err := c.message(data, binary); err != nil {
		c.failed = true
		c.srv.log.Debug("sio: closing session on invalid packet", "session_id", c.conn.ID(), "error", err)
		c.conn.Close(eio.ReasonParseError)
	}

	c.mu.Lock()
	c.busy = false
	later, reason := c.closeLater, c.closeReason
	c.mu.Unlock()
	if later {
		c.teardown(reason)
	}
}

// OnClose ends every socket of the session with the engine's reason.
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.busy {
		c.closeLater, c.closeReason = true, reason
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.teardown(reason)
}

func (c *client) teardown(reason string) {
	c.mu.Lock()
	if c.timeout != nil {
		c.timeout.Stop()
	}
	socks := c.sockets
	c.sockets = nil
	if c.pending {
		c.pending = false
		c.srv.pending.Add(-1)
	}
	c.mu.Unlock()
	c.srv.pool.remove(c)
	c.srv.sessions.Add(-1)
	for _, s := range socks {
		s.ns.detach(s, reason)
		s.fireDisconnect(reason)
	}
}

func (c *client) message(data []byte, binary bool) error {
	if binary {
		if c.partial == nil {
			return fmt.Errorf("%w: unexpected binary message", errParse)
		}
		c.bins = append(c.bins, bytes.Clone(data))
		if len(c.bins) < c.partial.attachments {
			return nil
		}
		p, bins := c.partial, c.bins
		c.partial, c.bins = nil, nil
		return c.complete(p, bins)
	}
	if c.partial != nil {
		return fmt.Errorf("%w: text message while waiting for attachments", errParse)
	}
	p, err := decodePacket(data)
	if err != nil {
		return err
	}
	if p.attachments > 0 {
		c.partial, c.bins = p, make([][]byte, 0, p.attachments)
		return nil
	}
	return c.complete(p, nil)
}

// complete puts the attachments of a binary packet in place and handles it.
func (c *client) complete(p *packet, bins [][]byte) error {
	if p.typ == packetBinaryEvent || p.typ == packetBinaryAck {
		d, err := fillPlaceholders(p.data, bins)
		if err != nil {
			return err
		}
		p.data = d
	}
	return c.handle(p)
}

func (c *client) handle(p *packet) error {
	s := c.socket(p.nsp)
	switch p.typ {
	case packetConnect:
		if s != nil {
			// A client may CONNECT again to a namespace it is in (the Go
			// client retries its first connect). Node answers with a new
			// socket; so do we, ending the old one as if it had left.
			if c.removeSocket(s) {
				s.ns.unlink(s)
				s.fireDisconnect(ReasonClientDisconnect)
			}
		}
		c.connect(p)
		return nil
	case packetDisconnect:
		if s == nil {
			return fmt.Errorf("%w: not connected to %s", errParse, p.nsp)
		}
		if c.removeSocket(s) {
			s.ns.unlink(s)
			s.fireDisconnect(ReasonClientDisconnect)
		}
		return nil
	case packetEvent, packetBinaryEvent:
		if s == nil {
			return fmt.Errorf("%w: not connected to %s", errParse, p.nsp)
		}
		s.handleEvent(p)
		return nil
	case packetAck, packetBinaryAck:
		// The server asks for no acknowledgements: nothing to match.
		if s == nil {
			return fmt.Errorf("%w: not connected to %s", errParse, p.nsp)
		}
		return nil
	default:
		return fmt.Errorf("%w: packet type %d from a client", errParse, p.typ)
	}
}

func (c *client) connect(p *packet) {
	ns := c.srv.lookup(p.nsp)
	if ns == nil {
		_ = c.conn.Send(connectErrorFrames(p.nsp, errInvalidNamespace)...)
		return
	}
	auth, _ := p.data.(map[string]any)
	hs := c.handshake(auth)
	data, err := ns.runMiddlewares(hs)
	if err != nil {
		_ = c.conn.Send(connectErrorFrames(p.nsp, err)...)
		return
	}
	// The session stops counting as pending before the CONNECT answer
	// goes out: a client that has its answer must find itself counted
	// among the connected sessions (the connection cap counts them).
	c.leavePending()
	s := ns.connect(c, hs, data)
	c.mu.Lock()
	c.sockets = append(c.sockets, s)
	inAll := len(c.sockets) >= c.srv.namespaceCount()
	c.mu.Unlock()
	ns.connected(s)
	// What a connected socket keeps of its handshake is small; the
	// session's request goes once no namespace is left to connect to.
	s.slimHandshake()
	if inAll {
		c.conn.ReleaseRequest()
	}
}

// leavePending takes the session out of the pending count and pool and
// stops its connect timeout; a no-op once it has connected.
func (c *client) leavePending() {
	c.mu.Lock()
	was := c.pending
	if was {
		c.pending = false
		c.srv.pending.Add(-1)
		c.timeout.Stop()
		c.timeout = nil
	}
	c.mu.Unlock()
	if was {
		c.srv.pool.remove(c)
	}
}

var errInvalidNamespace = &ConnectError{Message: "Invalid namespace"}

func (c *client) handshake(auth map[string]any) *Handshake {
	hs := &Handshake{Auth: auth, Time: time.Now()}
	if r := c.conn.Request(); r != nil {
		hs.Query = r.URL.Query()
		hs.Headers = r.Header
		hs.URL = r.URL.RequestURI()
		hs.Secure = r.TLS != nil
		hs.Address = c.addr
	}
	return hs
}

func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sockets {
		if s.ns.name == nsp {
			return s
		}
	}
	return nil
}

// removeSocket takes s out of the session; false if it was not in it.
func (c *client) removeSocket(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.sockets {
		if o == s {
			c.sockets = append(c.sockets[:i:i], c.sockets[i+1:]...)
			return true
		}
	}
	return false
}

func (c *client) socketCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sockets)
}

func (c *client) socketList() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Socket(nil), c.sockets...)
}
