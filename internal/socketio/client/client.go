// Package client is a lean Socket.IO v5 client over Engine.IO v4, on the
// packet codec our server uses (internal/socketio/parser). It speaks
// websocket and long-polling, upgrades polling to websocket, sends auth,
// query and headers, emits with and without acknowledgements and reports
// the server's refusal as a *ConnectError, the type our server sends. It
// does not reconnect (a supervisor above it does), answer acknowledgements
// the server asks for, multiplex namespaces (one connection joins one
// namespace) or carry binary attachments.
//
// One connection costs one reader goroutine and a few kilobytes, so a
// load generator can hold thousands of them on a small machine. The
// framing it speaks:
//
//	server → client  0{"sid":…,"pingInterval":…}   Engine.IO open
//	client → server  40{"token":"…"}               Socket.IO CONNECT with auth
//	server → client  40{"sid":…} | 44{"message":…} CONNECT ack | connect_error
//	                 40{"sid":…,"pid":…}            … with connection state recovery
//	server → client  2  → client answers 3          heartbeat
//	both ways        42[name,args…] / 42<id>[…]     EVENT, optionally with ack id
//	server → client  42[name,args…,"offset"]        EVENT of a recoverable session
//	both ways        43<id>[args…]                  ACK
//	client → server  41                             DISCONNECT
//	client → server  2probe, 5 on a new websocket   upgrade from polling
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// Transport names, as Engine.IO spells them.
const (
	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
)

// Options configure one connection.
type Options struct {
	// URL is the server's http(s) or ws(s) base URL.
	URL string
	// Namespace is the Socket.IO namespace the connection joins; empty
	// means the main namespace "/".
	Namespace string
	// Path is the Engine.IO endpoint; empty means "/socket.io/".
	Path string
	// Auth is the CONNECT payload (for example {"token": …}), encoded as
	// JSON; nil sends none.
	Auth any
	// Query is added to every request's query string.
	Query url.Values
	// Header is added to every request (websocket handshake and polling).
	Header http.Header
	// Transports lists the transports in order: the first opens the
	// session; when it is polling and websocket follows, the connection
	// upgrades to websocket once connected and stays on polling if the
	// upgrade fails (see Conn.UpgradeErr). Empty means websocket only.
	Transports []string
	// NetDial opens the TCP connection of a websocket (or to its proxy);
	// nil means a net.Dialer with a 10 s timeout.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy names the proxy a websocket goes through for a request: an
	// http:// one (CONNECT) or a socks5:// or socks5h:// one; it returns
	// nil for none. nil means http.ProxyFromEnvironment (HTTP_PROXY,
	// HTTPS_PROXY, NO_PROXY). Polling requests use HTTPClient's own proxy.
	Proxy func(*http.Request) (*url.URL, error)
	// HTTPClient carries polling requests; nil means http.DefaultClient.
	// Its Timeout, if any, must exceed the server's ping interval.
	HTTPClient *http.Client
	// ConnectTimeout bounds the whole handshake, upgrade included; zero
	// means 10 s.
	ConnectTimeout time.Duration
	// OnConnect is called once, on the goroutine running Dial, when the
	// server accepts the CONNECT: before any event of the connection is
	// delivered and before an upgrade (Transport is still the first one).
	// The connection may already emit. Dial can still fail after it (a
	// broken packet right behind the answer).
	OnConnect func(c *Conn)
	// OnEvent is called on the reader goroutine for every event, decoded.
	// It must not block: the connection reads nothing meanwhile.
	OnEvent func(c *Conn, e Event)
	// OnRawEvent is called on the reader goroutine for every event with
	// its JSON array (["name",args…]), undecoded, and the time it was
	// read; Conn.ParseEvent splits it. It must not block and must not
	// keep payload, whose buffer is reused. It is the load generator's
	// fast path.
	OnRawEvent func(c *Conn, payload []byte, at time.Time)
	// OnClose is called once when the connection ends: err is nil after
	// Close, else why it ended (ErrServerDisconnect, ErrServerClose,
	// ErrPingTimeout or a transport error).
	OnClose func(c *Conn, err error)
}

// Event is one event from the server.
type Event struct {
	Name string
	// Args are the event's arguments; a recovery offset is not one.
	Args []json.RawMessage
	// Offset is the connection state recovery offset the server appended,
	// empty when it keeps no state for this connection.
	Offset string
	// At is when the packet was read.
	At time.Time
}

// Conn is one Socket.IO connection. Its methods are safe for concurrent
// use.
type Conn struct {
	opts Options
	ep   *endpoint
	sid  string // Engine.IO session id
	id   string // Socket.IO socket id, from the CONNECT answer
	pid  string // recovery session id from the CONNECT answer

	// heartbeat is how long the reader waits for any packet.
	heartbeat time.Duration

	sendMu     sync.Mutex // serializes sends; swapping tr holds it
	tr         transport
	upgradeErr error

	ackMu   sync.Mutex
	ackSeq  int64
	pending map[int64]chan []json.RawMessage

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{}
	pongs     sync.WaitGroup // pongs sent off a polling reader

	// Data is free for the caller (load tests keep their per-client state).
	Data any
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
}

// Dial opens a connection and completes the Socket.IO CONNECT, and the
// upgrade if asked. Its error wraps a *ConnectError when the server
// refuses the CONNECT and an *HTTPError when it refuses the handshake.
// The connection then reads until Close, a transport error or the
// server's close; ctx bounds only the dial.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{TransportWebSocket}
	}
	for _, t := range o.Transports {
		if t != TransportWebSocket && t != TransportPolling {
			return nil, fmt.Errorf("unknown transport %q", t)
		}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	ep, err := newEndpoint(&o)
	if err != nil {
		return nil, err
	}
	c := &Conn{opts: o, ep: ep, pending: map[int64]chan []json.RawMessage{}, done: make(chan struct{})}
	deadline, _ := ctx.Deadline()

	var first [][]byte
	switch o.Transports[0] {
	case TransportWebSocket:
		wt, err := dialWebSocket(ctx, &o, ep, "")
		if err != nil {
			return nil, err
		}
		c.tr = wt
		first, _, err = wt.recv(deadline)
		if err != nil {
			wt.close()
			return nil, fmt.Errorf("engine.io open: %w", err)
		}
	case TransportPolling:
		pt := &pollTransport{hc: o.HTTPClient, ep: ep}
		c.tr = pt
		if first, err = pt.get(ctx); err != nil {
			return nil, fmt.Errorf("engine.io open: %w", err)
		}
	}
	op, err := c.open(first[0])
	if err != nil {
		c.tr.close()
		return nil, err
	}
	if err := c.connect(deadline, first[1:]); err != nil {
		c.tr.close()
		return nil, err
	}
	if c.tr.name() == TransportPolling && slices.Contains(o.Transports, TransportWebSocket) && slices.Contains(op.Upgrades, TransportWebSocket) {
		c.upgradeErr = c.upgrade(ctx, deadline)
	}
	go c.readLoop()
	return c, nil
}

// open reads the Engine.IO open packet.
func (c *Conn) open(p []byte) (openPacket, error) {
	var op openPacket
	if len(p) == 0 || p[0] != parser.EngineOpen {
		return op, fmt.Errorf("engine.io open: unexpected packet %.40q", p)
	}
	if err := json.Unmarshal(p[1:], &op); err != nil || op.SID == "" {
		return op, fmt.Errorf("engine.io open: bad handshake %.80q", p)
	}
	c.sid = op.SID
	if pt, ok := c.tr.(*pollTransport); ok {
		pt.setSID(op.SID)
	}
	// A margin over the server's own bound, so its close wins the race.
	c.heartbeat = time.Duration(op.PingInterval+op.PingTimeout)*time.Millisecond + 5*time.Second
	return op, nil
}

// connect sends the CONNECT and waits for its answer, answering pings
// meanwhile. rest are packets that came with the open packet.
func (c *Conn) connect(deadline time.Time, rest [][]byte) error {
	text, _, err := parser.Encode(parser.Connect, c.nsp(), parser.NoAck, c.opts.Auth)
	if err != nil {
		return fmt.Errorf("socket.io connect: %w", err)
	}
	if err := c.send(append([]byte{parser.EngineMessage}, text...)); err != nil {
		return fmt.Errorf("socket.io connect: %w", err)
	}
	pkts, at := rest, time.Now()
	for {
		for i, p := range pkts {
			done, err := c.connectAnswer(p)
			if err != nil {
				return err
			}
			if done {
				// A polling response may carry the first events too.
				for _, p := range pkts[i+1:] {
					if err := c.handle(p, at); err != nil {
						return fmt.Errorf("socket.io connect: %w", err)
					}
				}
				return nil
			}
		}
		if pkts, at, err = c.tr.recv(deadline); err != nil {
			return fmt.Errorf("socket.io connect: %w", err)
		}
	}
}

// connectAnswer handles one packet while connecting: done once connected.
func (c *Conn) connectAnswer(p []byte) (done bool, err error) {
	if len(p) == 0 {
		return false, nil
	}
	switch p[0] {
	case parser.EnginePing:
		if err := c.send([]byte{parser.EnginePong}); err != nil {
			return false, fmt.Errorf("socket.io connect: pong: %w", err)
		}
	case parser.EngineClose:
		return false, fmt.Errorf("socket.io connect: %w", ErrServerClose)
	case parser.EngineMessage:
		h, payload, err := parser.DecodeHeader(p[1:])
		if err != nil {
			return false, fmt.Errorf("socket.io connect: %w", err)
		}
		if h.Nsp != c.nsp() {
			return false, nil
		}
		switch h.Type {
		case parser.Connect:
			var ok struct {
				SID string `json:"sid"`
				PID string `json:"pid"`
			}
			if err := json.Unmarshal(payload, &ok); err != nil {
				return false, fmt.Errorf("socket.io connect: answer %.80q: %w", payload, err)
			}
			c.id, c.pid = ok.SID, ok.PID
			if c.opts.OnConnect != nil {
				c.opts.OnConnect(c)
			}
			return true, nil
		case parser.ConnectErrorType:
			ce := &ConnectError{}
			if err := json.Unmarshal(payload, ce); err != nil {
				ce.Message = string(payload)
			}
			return false, fmt.Errorf("server refused the connection: %w", ce)
		}
	}
	return false, nil
}

// upgrade moves a connected polling session to a websocket: probe, then
// the upgrade packet while no poll or POST is in flight (the reader has
// not started), so no packet is lost or reordered. It returns why it
// failed; the connection then stays on polling.
func (c *Conn) upgrade(ctx context.Context, deadline time.Time) error {
	wt, err := dialWebSocket(ctx, &c.opts, c.ep, c.sid)
	if err != nil {
		return err
	}
	if err := wt.send([]byte("2probe")); err != nil {
		wt.close()
		return fmt.Errorf("upgrade probe: %w", err)
	}
	pkts, _, err := wt.recv(deadline)
	if err != nil || len(pkts) != 1 || string(pkts[0]) != "3probe" {
		wt.close()
		return fmt.Errorf("upgrade probe: answer %q: %w", pkts, errors.Join(err, errors.New("not 3probe")))
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := wt.send([]byte{parser.EngineUpgrade}); err != nil {
		wt.close()
		return fmt.Errorf("upgrade: %w", err)
	}
	old := c.tr
	c.tr = wt
	old.close()
	return nil
}

// SID returns the Engine.IO session id.
func (c *Conn) SID() string { return c.sid }

// ID returns the Socket.IO socket id the server gave this connection.
func (c *Conn) ID() string { return c.id }

// Recoverable reports whether the server keeps connection state for this
// connection: its events then carry an offset (Event.Offset).
func (c *Conn) Recoverable() bool { return c.pid != "" }

// nsp is the namespace the connection joins.
func (c *Conn) nsp() string {
	if c.opts.Namespace == "" {
		return "/"
	}
	return c.opts.Namespace
}

// Transport is the transport in use now.
func (c *Conn) Transport() string {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.tr.name()
}

// UpgradeErr is why the upgrade to websocket failed, or nil.
func (c *Conn) UpgradeErr() error { return c.upgradeErr }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// send writes one Engine.IO text packet on the current transport.
func (c *Conn) send(pkt []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.tr.send(pkt)
}

// sendMessage writes a Socket.IO packet.
func (c *Conn) sendMessage(typ int, id int64, data any) error {
	if c.closed.Load() {
		return ErrClosed
	}
	text, _, err := parser.Encode(typ, c.nsp(), id, data)
	if err != nil {
		return err
	}
	return c.send(append([]byte{parser.EngineMessage}, text...))
}

// Emit sends an event without asking for an acknowledgement.
func (c *Conn) Emit(event string, args ...any) error {
	if err := c.sendMessage(parser.Event, parser.NoAck, eventData(event, args)); err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	return nil
}

func eventData(event string, args []any) []any {
	return append([]any{event}, args...)
}

// EmitWithAck sends an event and waits for the server's acknowledgement,
// returning its arguments. ctx bounds the wait.
func (c *Conn) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("emit %s: %w", event, ErrClosed)
	}
	ch := make(chan []json.RawMessage, 1)
	c.ackMu.Lock()
	id := c.ackSeq
	c.ackSeq++
	c.pending[id] = ch
	c.ackMu.Unlock()
	forget := func() {
		c.ackMu.Lock()
		delete(c.pending, id)
		c.ackMu.Unlock()
	}
	if err := c.sendMessage(parser.Event, id, eventData(event, args)); err != nil {
		forget()
		return nil, fmt.Errorf("emit %s: %w", event, err)
	}
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("ack of %s: %w", event, ctx.Err())
	case <-c.done:
		forget()
		return nil, fmt.Errorf("ack of %s: %w", event, ErrClosed)
	}
}

// Close disconnects politely (a Socket.IO DISCONNECT, and on polling the
// Engine.IO close), then waits for the reader to stop. OnClose may still
// be running when it returns (so OnClose may call Close). It is safe to
// call more than once.
func (c *Conn) Close() error {
	if !c.closed.Swap(true) {
		if text, _, err := parser.Encode(parser.Disconnect, c.nsp(), parser.NoAck, nil); err == nil {
			_ = c.send(append([]byte{parser.EngineMessage}, text...))
		}
		c.sendMu.Lock()
		if pt, ok := c.tr.(*pollTransport); ok {
			_ = pt.send([]byte{parser.EngineClose})
		}
		_ = c.tr.close()
		c.sendMu.Unlock()
	}
	<-c.done
	c.pongs.Wait()
	return nil
}
