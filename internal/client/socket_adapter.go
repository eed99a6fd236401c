package client

// This file (with socket_polling.go, our polling transport) is the only
// place that touches the zishang520 Socket.IO client: its options, its
// func(...any) handlers and every type assertion on their arguments. The
// rest of the package sees libConn callbacks with plain Go types.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sio "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/log"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Transport names as the engine reports them.
const (
	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
	// TransportBoth starts with polling and upgrades to websocket (the
	// browser's default). The library keeps transports in a map, so the
	// first one is random; TryAllTransports makes a failing first pick fall
	// through to the other.
	TransportBoth = "both"
)

// SilenceLibraryLogs turns off the library's debug logging. Its error
// lines (recovered handler panics) go to the process's stderr regardless;
// a terminal UI must redirect file descriptor 2 as well.
func SilenceLibraryLogs() { log.DEBUG.Store(false) }

// libHandlers are the callbacks of one libConn. They run on the library's
// goroutines and must not block for long.
type libHandlers struct {
	// event is a server event with its arguments as JSON.
	event func(name string, args []json.RawMessage)
	// connect is the namespace CONNECT answer.
	connect func(socketID, transport string, recovered bool)
	// connectError is a failed attempt: a rejection from the server's
	// middleware (*ConnectError) or a transport failure.
	connectError func(err error)
	// disconnect ends a live session.
	disconnect func(reason string)
	// upgrade reports a transport change of a live session.
	upgrade func(transport string)
	// panicked reports a panic in our handling of a library callback,
	// recovered so that it does not reach the library.
	panicked func(callback string, v any)
}

// libConn is one attempt (and, once connected, one session) of the
// library: a fresh Manager with one Socket on namespace "/". A libConn is
// never reused; the supervisor in socket.go makes a new one per attempt,
// which is how it switches transports and keeps its own backoff.
type libConn struct {
	mgr  *sio.Manager
	sock *sio.Socket
	h    libHandlers
	dead atomic.Bool
	once sync.Once
	// recovery is set when the server's CONNECT carried a pid, i.e.
	// connection state recovery is on and every event ends with an offset.
	recovery atomic.Bool
}

// newLibConn builds (but does not open) a session to server.
func newLibConn(server, token, transports string, connectTimeout, ackTimeout time.Duration, h libHandlers) *libConn {
	opts := sio.DefaultOptions()
	// pollingCtor and websocketCtor replace the library's transports,
	// whose writes can wait for the server's next ping (socket_polling.go).
	switch transports {
	case TransportPolling:
		opts.SetTransports(types.NewSet(pollingCtor))
	case TransportBoth:
		opts.SetTransports(types.NewSet(pollingCtor, websocketCtor))
		opts.SetTryAllTransports(true)
	default:
		opts.SetTransports(types.NewSet(websocketCtor))
	}
	// The supervisor reconnects; the library's own loop would keep the
	// transports it started with and hide attempts from us.
	opts.SetReconnection(false)
	opts.SetAutoConnect(false)
	opts.SetForceNew(true)
	opts.SetMultiplex(false)
	// Pitfall 3: without a short timeout a missed websocket dial error
	// costs the 20 s default.
	opts.SetTimeout(connectTimeout)
	// Pitfall 5: Timeout() per emit is not goroutine-safe; set it once here.
	opts.SetAckTimeout(ackTimeout)
	if token != "" {
		opts.SetAuth(map[string]any{"token": token})
	}
	c := &libConn{h: h}
	c.mgr = sio.NewManager(server, opts)
	c.sock = c.mgr.Socket("/", opts)

	// The CONNECT answer tells whether the server appends recovery offsets;
	// the library keeps that private, so read it off the packet stream.
	_ = c.mgr.On("packet", c.guard("packet", func(args ...any) {
		if len(args) == 0 {
			return
		}
		if p, ok := args[0].(*parser.Packet); ok && p != nil && p.Type == parser.CONNECT {
			if d, ok := p.Data.(map[string]any); ok {
				pid, _ := d["pid"].(string)
				c.recovery.Store(pid != "")
			}
		}
	}))
	c.sock.On("connect", c.guard("connect", func(...any) {
		c.watchUpgrades()
		c.h.connect(c.sock.Id(), c.transport(), c.sock.Recovered())
	}))
	c.sock.On("connect_error", c.guard("connect_error", func(args ...any) {
		c.h.connectError(connectErrorOf(args))
	}))
	c.sock.On("disconnect", c.guard("disconnect", func(args ...any) {
		reason := "unknown"
		if len(args) > 0 {
			if r, ok := args[0].(string); ok && r != "" {
				reason = r
			}
		}
		if len(args) > 1 {
			if err, ok := args[1].(error); ok && err != nil {
				reason += ": " + err.Error()
			}
		}
		c.h.disconnect(reason)
	}))
	c.sock.OnAny(c.guard("event", func(args ...any) {
		if len(args) == 0 {
			return
		}
		name, ok := args[0].(string)
		if !ok {
			return
		}
		rest := args[1:]
		// A server event that expects an ack ends with the ack function;
		// answer it empty so the server's callback does not hang.
		if n := len(rest); n > 0 {
			if ack, ok := rest[n-1].(func([]any, error)); ok {
				rest = rest[:n-1]
				ack(nil, nil)
			}
		}
		// With connection state recovery the server appends the packet's
		// offset as a last string argument; it is bookkeeping, not payload
		// (the library strips it the same way for its own use).
		if n := len(rest); n > 0 && c.recovery.Load() {
			if _, ok := rest[n-1].(string); ok {
				rest = rest[:n-1]
			}
		}
		c.h.event(name, toRaw(rest))
	}))
	return c
}

// open starts the attempt. With the websocket transport the library dials
// synchronously inside Connect, so callers run open on its own goroutine.
func (c *libConn) open() {
	c.sock.Connect()
	if c.dead.Load() {
		// close ran while we were dialling; make sure nothing stays open.
		c.sock.Disconnect()
	}
}

// close ends the session and silences every further callback.
func (c *libConn) close() {
	c.once.Do(func() {
		c.dead.Store(true)
		c.sock.Disconnect()
	})
}

// emit sends an event without an ack.
func (c *libConn) emit(event string, args []any) error {
	if err := c.sock.Emit(event, args...); err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	return nil
}

// emitAck sends an event and calls done once with the ack's arguments or
// an error (timeout, disconnect).
func (c *libConn) emitAck(event string, args []any, done func([]json.RawMessage, error)) error {
	var once sync.Once
	ack := func(data []any, err error) {
		once.Do(func() {
			if err != nil {
				done(nil, err)
				return
			}
			done(toRaw(data), nil)
		})
	}
	// The library recognises the ack by its type func([]any, error).
	if err := c.sock.Emit(event, append(args, ack)...); err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	return nil
}

// transport returns the engine's current transport name, or "".
func (c *libConn) transport() string {
	eng := c.mgr.Engine()
	if eng == nil {
		return ""
	}
	t := eng.Transport()
	if t == nil {
		return ""
	}
	return t.Name()
}

// watchUpgrades reports the engine's polling → websocket upgrade.
func (c *libConn) watchUpgrades() {
	eng := c.mgr.Engine()
	if eng == nil {
		return
	}
	_ = eng.On("upgrade", c.guard("upgrade", func(args ...any) {
		name := ""
		if len(args) > 0 {
			if t, ok := args[0].(interface{ Name() string }); ok {
				name = t.Name()
			}
		}
		if name == "" {
			name = c.transport()
		}
		c.h.upgrade(name)
	}))
}

// guard drops callbacks of a closed libConn and keeps a panic in our code
// from reaching the library, which would print a stack trace to stderr
// (under the terminal UI).
// A recovered panic is reported (logged and counted by the Socket): a bug
// must not show only as a dashboard that silently stops updating.
func (c *libConn) guard(callback string, fn func(...any)) func(...any) {
	return func(args ...any) {
		if c.dead.Load() {
			return
		}
		defer func() {
			if v := recover(); v != nil && c.h.panicked != nil {
				c.h.panicked(callback, v)
			}
		}()
		fn(args...)
	}
}

// connectErrorOf turns connect_error's arguments into an error; a
// rejection by the server's middleware becomes *ConnectError with its
// message and data.code.
func connectErrorOf(args []any) error {
	if len(args) == 0 {
		return errors.New("connect error")
	}
	switch e := args[0].(type) {
	case *types.ExtendedError:
		ce := &ConnectError{Message: e.Message}
		if m, ok := e.Data.(map[string]any); ok {
			if code, ok := m["code"].(string); ok {
				ce.Code = code
			}
		}
		if ce.Message == "" {
			ce.Message = "rejected"
		}
		return ce
	case error:
		// Pitfall 2: a rejection whose data is null reaches us as the
		// library's own parse error instead of the server's message.
		if msg := e.Error(); strings.Contains(msg, "'data' field") {
			return &ConnectError{Message: "rejected by the server (reason lost by the client library: " + msg + ")"}
		}
		return e
	case string:
		return errors.New(e)
	default:
		return fmt.Errorf("connect error: %v", e)
	}
}

// toRaw re-encodes decoded arguments as JSON.
func toRaw(args []any) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(args))
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			b = []byte("null")
		}
		out = append(out, b)
	}
	return out
}
