package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// This file is a deliberately small Socket.IO v5 client over Engine.IO v4,
// websocket or long-polling, without upgrades, reconnection or binary
// attachments. A load generator needs thousands of connections on a small
// machine: the general-purpose Go client spends two goroutines, timers and
// an event emitter per connection, this one a single reader goroutine and a
// few kilobytes. The framing it speaks:
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

// Transport names accepted by SIOOptions.
const (
	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
)

// SIOOptions configure one connection.
type SIOOptions struct {
	// Server is the http(s) base URL; the path /socket.io/ is appended.
	Server string
	// Token goes into the CONNECT packet's auth.token; empty sends no auth.
	Token string
	// Transport is TransportWebSocket (the zero value) or TransportPolling
	// (long-polling only, never upgraded).
	Transport string
	// Dialer dials websockets; nil means a lean default (small buffers,
	// pooled write buffers).
	Dialer *websocket.Dialer
	// HTTPClient carries polling requests; nil means http.DefaultClient.
	// Its Timeout must exceed the server's ping interval.
	HTTPClient *http.Client
	// ConnectTimeout bounds the whole handshake; zero means 10 s.
	ConnectTimeout time.Duration
	// OnEvent is called on the connection's reader goroutine for every
	// EVENT packet, with the packet text after "42" (an optional ack id,
	// then the JSON array) and the time it was read. It must not block and
	// must not keep pkt, whose buffer is reused.
	OnEvent func(c *SIOConn, pkt []byte, at time.Time)
	// OnClose is called once when the connection ends; err is nil when it
	// was closed by Close.
	OnClose func(c *SIOConn, err error)
}

// ConnectError is the server's refusal of the CONNECT packet.
type ConnectError struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *ConnectError) Error() string {
	if len(e.Data) > 0 && string(e.Data) != "null" {
		return "connect_error: " + e.Message + " " + string(e.Data)
	}
	return "connect_error: " + e.Message
}

// ErrClosed is returned by writes on a closed connection.
var ErrClosed = errors.New("socket.io connection closed")

// SIOConn is one Socket.IO connection. Its methods are safe for concurrent
// use.
type SIOConn struct {
	opts SIOOptions
	sid  string
	tr   transport
	// recovery: the CONNECT answer carried a pid, so the server appends
	// an offset to every stored event. Set before the reader starts.
	recovery bool

	pingTimeout time.Duration

	ackMu   sync.Mutex
	ackSeq  int
	pending map[int]chan json.RawMessage

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{}

	// Data is free for the caller (load tests keep their per-client state).
	Data any
}

// transport moves Engine.IO packets.
type transport interface {
	// send writes one packet.
	send(pkt string) error
	// recv returns the next packets; buffer contents are valid until the
	// next call.
	recv(deadline time.Time) ([][]byte, time.Time, error)
	close() error
}

type openPacket struct {
	SID          string `json:"sid"`
	PingInterval int    `json:"pingInterval"`
	PingTimeout  int    `json:"pingTimeout"`
	MaxPayload   int    `json:"maxPayload"`
}

var defaultDialer = &websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   2048,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
}

// DialSIO opens a connection and completes the Socket.IO CONNECT; it
// returns a *ConnectError when the server refuses it. The reader goroutine
// runs until Close or a transport error.
func DialSIO(ctx context.Context, o SIOOptions) (*SIOConn, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	base, err := url.Parse(strings.TrimRight(o.Server, "/") + "/socket.io/")
	if err != nil {
		return nil, fmt.Errorf("server url: %w", err)
	}
	q := url.Values{"EIO": {"4"}}
	var tr transport
	var first []byte
	deadline, _ := ctx.Deadline()
	switch o.Transport {
	case "", TransportWebSocket:
		q.Set("transport", "websocket")
		u := *base
		u.Scheme = map[string]string{"https": "wss"}[base.Scheme]
		if u.Scheme == "" {
			u.Scheme = "ws"
		}
		u.RawQuery = q.Encode()
		d := o.Dialer
		if d == nil {
			d = defaultDialer
		}
		ws, resp, err := d.DialContext(ctx, u.String(), nil)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("websocket dial: %w", err)
		}
		wt := &wsTransport{ws: ws}
		tr = wt
		pkts, _, err := wt.recv(deadline)
		if err != nil || len(pkts) == 0 {
			ws.Close()
			return nil, fmt.Errorf("engine.io open: %w", errOr(err, "no packet"))
		}
		first = bytes.Clone(pkts[0])
	case TransportPolling:
		q.Set("transport", "polling")
		hc := o.HTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		pt := &pollTransport{hc: hc, base: base, query: q}
		pkts, err := pt.get(ctx)
		if err != nil || len(pkts) == 0 {
			return nil, fmt.Errorf("engine.io open: %w", errOr(err, "no packet"))
		}
		first = bytes.Clone(pkts[0])
		tr = pt
	default:
		return nil, fmt.Errorf("unknown transport %q", o.Transport)
	}

	if len(first) == 0 || first[0] != '0' {
		tr.close()
		return nil, fmt.Errorf("engine.io open: unexpected packet %.40q", first)
	}
	var op openPacket
	if err := json.Unmarshal(first[1:], &op); err != nil || op.SID == "" {
		tr.close()
		return nil, fmt.Errorf("engine.io open: bad handshake %.80q", first)
	}
	if pt, ok := tr.(*pollTransport); ok {
		pt.query.Set("sid", op.SID)
		pt.ctx = context.Background()
	}
	c := &SIOConn{opts: o, sid: op.SID, tr: tr, pending: map[int]chan json.RawMessage{}, done: make(chan struct{})}
	c.pingTimeout = time.Duration(op.PingInterval+op.PingTimeout)*time.Millisecond + 5*time.Second

	connect := "40"
	if o.Token != "" {
		b, _ := json.Marshal(map[string]string{"token": o.Token})
		connect += string(b)
	}
	if err := tr.send(connect); err != nil {
		tr.close()
		return nil, fmt.Errorf("socket.io connect: %w", err)
	}
	// Wait for the CONNECT answer, answering pings meanwhile.
	for {
		if ctx.Err() != nil {
			tr.close()
			return nil, fmt.Errorf("socket.io connect: %w", ctx.Err())
		}
		pkts, at, err := tr.recv(deadline)
		if err != nil {
			tr.close()
			return nil, fmt.Errorf("socket.io connect: %w", err)
		}
		for i, p := range pkts {
			switch {
			case len(p) >= 2 && p[0] == '4' && p[1] == '0':
				var ok struct {
					PID string `json:"pid"`
				}
				c.recovery = json.Unmarshal(p[2:], &ok) == nil && ok.PID != ""
				// A polling response may carry the first events too.
				for _, rest := range pkts[i+1:] {
					if err := c.handle(rest, at); err != nil {
						tr.close()
						return nil, fmt.Errorf("socket.io connect: %w", err)
					}
				}
				go c.readLoop()
				return c, nil
			case len(p) >= 2 && p[0] == '4' && p[1] == '4':
				ce := &ConnectError{}
				if err := json.Unmarshal(p[2:], ce); err != nil {
					ce.Message = string(p[2:])
				}
				tr.close()
				return nil, ce
			case len(p) == 1 && p[0] == '2':
				if err := tr.send("3"); err != nil {
					tr.close()
					return nil, fmt.Errorf("socket.io connect: pong: %w", err)
				}
			case len(p) >= 1 && p[0] == '1':
				tr.close()
				return nil, errors.New("socket.io connect: server closed the session")
			}
		}
	}
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// Recoverable reports whether the server offered connection state
// recovery: its events then end with an offset (see ParseEvent).
func (c *SIOConn) Recoverable() bool { return c.recovery }

// ParseEvent is the package's ParseEvent for an event of this connection:
// on a recoverable session it drops the offset the server appends as the
// last string argument, which is bookkeeping, not payload.
func (c *SIOConn) ParseEvent(pkt []byte) (name string, args []json.RawMessage, err error) {
	name, args, err = ParseEvent(pkt)
	if err == nil && c.recovery && len(args) > 0 && len(args[len(args)-1]) > 0 && args[len(args)-1][0] == '"' {
		args = args[:len(args)-1]
	}
	return name, args, err
}

// SID returns the Engine.IO session id.
func (c *SIOConn) SID() string { return c.sid }

// Done is closed when the connection has ended.
func (c *SIOConn) Done() <-chan struct{} { return c.done }

func (c *SIOConn) readLoop() {
	var err error
	defer func() { c.finish(err) }()
	for {
		var pkts [][]byte
		var at time.Time
		pkts, at, err = c.tr.recv(time.Now().Add(c.pingTimeout))
		if err != nil {
			return
		}
		for _, p := range pkts {
			if err = c.handle(p, at); err != nil {
				return
			}
		}
	}
}

var errServerClosed = errors.New("server closed the connection")

func (c *SIOConn) handle(p []byte, at time.Time) error {
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case '2': // ping
		if pt, ok := c.tr.(*pollTransport); ok {
			// Answer off the polling loop so the next GET is not delayed.
			go func() { _ = pt.send("3") }()
			return nil
		}
		return c.tr.send("3")
	case '1': // engine close
		return errServerClosed
	case '4':
		if len(p) < 2 {
			return nil
		}
		switch p[1] {
		case '2':
			if c.opts.OnEvent != nil {
				c.opts.OnEvent(c, p[2:], at)
			}
		case '3':
			c.resolveAck(p[2:])
		case '1':
			return errors.New("server disconnected the socket")
		}
	}
	return nil
}

func (c *SIOConn) resolveAck(body []byte) {
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	id, err := strconv.Atoi(string(body[:i]))
	if err != nil {
		return
	}
	c.ackMu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.ackMu.Unlock()
	if ch != nil {
		ch <- json.RawMessage(bytes.Clone(body[i:]))
	}
}

func (c *SIOConn) finish(err error) {
	c.closeOnce.Do(func() {
		if c.closed.Load() {
			err = nil
		}
		c.closed.Store(true)
		_ = c.tr.close()
		close(c.done)
		if c.opts.OnClose != nil {
			c.opts.OnClose(c, err)
		}
	})
}

// eventPacket encodes 42[<id>][event, args…].
func eventPacket(id int, event string, args []any) (string, error) {
	arr := make([]any, 0, 1+len(args))
	arr = append(arr, event)
	arr = append(arr, args...)
	b, err := json.Marshal(arr)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", event, err)
	}
	if id < 0 {
		return "42" + string(b), nil
	}
	return "42" + strconv.Itoa(id) + string(b), nil
}

// Emit sends an event without asking for an acknowledgement.
func (c *SIOConn) Emit(event string, args ...any) error {
	if c.closed.Load() {
		return ErrClosed
	}
	pkt, err := eventPacket(-1, event, args)
	if err != nil {
		return err
	}
	return c.tr.send(pkt)
}

// EmitWithAck sends an event and waits for the server's acknowledgement,
// returning its arguments as a JSON array.
func (c *SIOConn) EmitWithAck(ctx context.Context, event string, args ...any) (json.RawMessage, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ch := make(chan json.RawMessage, 1)
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
	pkt, err := eventPacket(id, event, args)
	if err != nil {
		forget()
		return nil, err
	}
	if err := c.tr.send(pkt); err != nil {
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

// Close disconnects politely (a Socket.IO DISCONNECT, then the transport)
// and waits for the reader to stop. It is safe to call more than once.
func (c *SIOConn) Close() error {
	if c.closed.Swap(true) {
		<-c.done
		return nil
	}
	_ = c.tr.send("41")
	if pt, ok := c.tr.(*pollTransport); ok {
		_ = pt.send("1")
	}
	_ = c.tr.close()
	<-c.done
	return nil
}

// ParseEvent splits an EVENT packet body (as OnEvent receives it) into the
// event name and its JSON arguments, a recovery offset included (the
// method SIOConn.ParseEvent drops it).
func ParseEvent(pkt []byte) (name string, args []json.RawMessage, err error) {
	i := 0
	for i < len(pkt) && pkt[i] >= '0' && pkt[i] <= '9' {
		i++
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(pkt[i:], &arr); err != nil {
		return "", nil, fmt.Errorf("event packet: %w", err)
	}
	if len(arr) == 0 {
		return "", nil, errors.New("event packet: empty array")
	}
	if err := json.Unmarshal(arr[0], &name); err != nil {
		return "", nil, fmt.Errorf("event packet: name: %w", err)
	}
	return name, arr[1:], nil
}

// wsTransport carries one Engine.IO packet per websocket text frame.
type wsTransport struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	buf bytes.Buffer
	one [1][]byte
}

func (t *wsTransport) send(pkt string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_ = t.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return t.ws.WriteMessage(websocket.TextMessage, []byte(pkt))
}

func (t *wsTransport) recv(deadline time.Time) ([][]byte, time.Time, error) {
	_ = t.ws.SetReadDeadline(deadline)
	for {
		mt, r, err := t.ws.NextReader()
		if err != nil {
			return nil, time.Time{}, err
		}
		at := time.Now()
		if mt != websocket.TextMessage {
			_, _ = io.Copy(io.Discard, r) // binary attachments are not used
			continue
		}
		t.buf.Reset()
		if _, err := t.buf.ReadFrom(r); err != nil {
			return nil, time.Time{}, err
		}
		if t.buf.Cap() > 64<<10 {
			// Do not keep a large buffer per idle connection.
			b := bytes.Clone(t.buf.Bytes())
			t.buf = bytes.Buffer{}
			t.one[0] = b
		} else {
			t.one[0] = t.buf.Bytes()
		}
		return t.one[:], at, nil
	}
}

func (t *wsTransport) close() error { return t.ws.Close() }

// pollTransport is Engine.IO long-polling: GETs return packets separated
// by 0x1e, POSTs carry ours. Engine.IO forbids overlapping POSTs of one
// session, so sends are serialized.
type pollTransport struct {
	hc    *http.Client
	base  *url.URL
	query url.Values
	ctx   context.Context

	wmu    sync.Mutex
	cancel atomic.Pointer[context.CancelFunc]
	closed atomic.Bool
	body   []byte
}

func (t *pollTransport) url() string {
	u := *t.base
	u.RawQuery = t.query.Encode()
	return u.String()
}

func (t *pollTransport) get(ctx context.Context) ([][]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	t.body, err = readAllInto(t.body[:0], resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("polling GET: %s: %.200s", resp.Status, t.body)
	}
	return bytes.Split(t.body, []byte{0x1e}), nil
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func (t *pollTransport) send(pkt string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(), strings.NewReader(pkt))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("polling POST: %s", resp.Status)
	}
	return nil
}

func (t *pollTransport) recv(deadline time.Time) ([][]byte, time.Time, error) {
	ctx, cancel := context.WithDeadline(t.ctx, deadline)
	t.cancel.Store(&cancel)
	defer cancel()
	if t.closed.Load() {
		return nil, time.Time{}, net.ErrClosed
	}
	pkts, err := t.get(ctx)
	return pkts, time.Now(), err
}

func (t *pollTransport) close() error {
	t.closed.Store(true)
	if c := t.cancel.Load(); c != nil {
		(*c)()
	}
	return nil
}
