package client

// Our Engine.IO long-polling transport for the zishang520 client, used in
// place of the library's own (see newLibConn). Like socket_adapter.go it
// is library glue; nothing outside this package sees it.
//
// Why: the library's polling transport (clients/engine/v3 v3.0.6,
// polling.go) runs the long-poll GET (polling._poll enqueues doPoll) and
// every POST (polling.Write enqueues write) on one serial queue,
// polling.writeQueue. While the GET is parked on the server, which is
// most of the time, a POST waits behind it until the server's next ping
// (25 s by default) ends the GET; join_space's ack times out first. Here,
// as in the JS client, the GET runs on its own goroutine and only POSTs
// are serialised: one GET and one POST may be in flight at once, which
// Engine.IO servers allow.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	engine "github.com/zishang520/socket.io/clients/engine/v3"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	eioparser "github.com/zishang520/socket.io/parsers/engine/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/queue"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

const (
	// maxPollBytes bounds one polling response; a server sends far less
	// (its max payload is 1 MB by default).
	maxPollBytes = 32 << 20
	// closeGrace bounds the CLOSE packet's POST when the transport closes;
	// after it the pending requests are cancelled regardless.
	closeGrace = 2 * time.Second
)

// pollingCtor builds pollingTransports; it takes the library's "polling"
// slot in the transport set.
var pollingCtor engine.TransportCtor = &pollingBuilder{}

type pollingBuilder struct{}

func (*pollingBuilder) Name() string { return TransportPolling }

func (*pollingBuilder) New(sock engine.Socket, opts engine.SocketOptionsInterface) engine.Transport {
	p := &pollingTransport{Transport: engine.MakeTransport()}
	p.Prototype(p)
	p.Construct(sock, opts)
	return p
}

// pollingTransport is HTTP long-polling with the GET and the POSTs on
// separate goroutines.
type pollingTransport struct {
	engine.Transport

	hc     *http.Client
	tr     *http.Transport
	ctx    context.Context
	cancel context.CancelFunc
	stop   sync.Once
	// writes serialises POSTs; polls never enter it.
	writes *queue.Queue
	// polling is true while a GET is in flight.
	polling atomic.Bool
}

// Construct sets up the HTTP client; the engine calls it through New.
func (p *pollingTransport) Construct(sock engine.Socket, opts engine.SocketOptionsInterface) {
	p.Transport.Construct(sock, opts)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.writes = queue.New()
	p.tr = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: opts.TLSClientConfig(),
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	p.hc = &http.Client{Transport: p.tr, Jar: sock.CookieJar(), Timeout: opts.RequestTimeout()}
}

// Name is the transport's wire name.
func (p *pollingTransport) Name() string { return TransportPolling }

// DoOpen sends the handshake GET.
func (p *pollingTransport) DoOpen() {
	p.polling.Store(true)
	p.Emit("poll")
	go func() {
		awaitListener(p.Socket(), "open", engine.SocketStateOpening) // see websocketCtor
		p.doPoll()
	}()
}

// poll starts one GET on its own goroutine.
func (p *pollingTransport) poll() {
	p.polling.Store(true)
	p.Emit("poll")
	go p.doPoll()
}

func (p *pollingTransport) doPoll() {
	data, err := p.fetch(http.MethodGet, nil)
	if err != nil {
		p.fail("fetch read error", err)
		return
	}
	p.OnData(types.NewStringBuffer(data))
}

// OnData decodes a payload, hands its packets to the socket and polls
// again while the transport is open.
func (p *pollingTransport) OnData(data types.BufferInterface) {
	packets, _ := eioparser.Parserv4().DecodePayload(data)
	for _, pk := range packets {
		if p.ReadyState() == engine.TransportStateOpening && pk.Type == packet.OPEN {
			p.OnOpen()
		}
		if pk.Type == packet.CLOSE {
			p.OnClose(errors.New("transport closed by the server"))
			return
		}
		p.OnPacket(pk)
	}
	state := p.ReadyState()
	if state == engine.TransportStateClosed {
		return
	}
	p.polling.Store(false)
	p.Emit("pollComplete")
	if state == engine.TransportStateOpen {
		p.poll()
		return
	}
	// Paused for an upgrade: no more polls, so keep no connection.
	p.tr.CloseIdleConnections()
}

// Write sends packets in one POST, after the POSTs before it.
func (p *pollingTransport) Write(packets []*packet.Packet) {
	p.SetWritable(false)
	p.writes.Enqueue(func() {
		payload, err := eioparser.Parserv4().EncodePayload(packets)
		if err != nil {
			p.fail("encode error", err)
			return
		}
		body, err := io.ReadAll(payload)
		if err != nil {
			p.fail("encode error", err)
			return
		}
		if _, err := p.fetch(http.MethodPost, body); err != nil {
			p.fail("fetch write error", err)
			return
		}
		p.SetWritable(true)
		p.Emit("drain")
	})
}

// DoClose sends CLOSE when open, then cancels whatever is in flight.
func (p *pollingTransport) DoClose() {
	if p.ReadyState() != engine.TransportStateOpen {
		p.shutdown()
		return
	}
	p.Write([]*packet.Packet{{Type: packet.CLOSE}})
	p.writes.Enqueue(p.shutdown)
	p.writes.TryClose()
	time.AfterFunc(closeGrace, p.shutdown)
}

func (p *pollingTransport) shutdown() {
	p.stop.Do(func() {
		p.cancel()
		p.tr.CloseIdleConnections()
	})
}

// Pause stops polling for an upgrade: onPause runs once the GET and the
// POST in flight, if any, are done.
func (p *pollingTransport) Pause(onPause func()) {
	p.SetReadyState(engine.TransportStatePausing)
	var pending atomic.Int32
	finish := func() {
		if pending.Add(-1) == 0 {
			p.SetReadyState(engine.TransportStatePaused)
			onPause()
		}
	}
	wait := func(event types.EventName, busy func() bool) {
		pending.Add(1)
		var once sync.Once
		done := func(...any) { once.Do(finish) }
		_ = p.Once(event, done)
		if !busy() { // it ended before we listened
			done()
		}
	}
	pending.Add(1) // until both waits are registered
	if p.polling.Load() {
		wait("pollComplete", p.polling.Load)
	}
	if !p.Writable() {
		wait("drain", func() bool { return !p.Writable() })
	}
	finish()
}

// fail reports an error unless the transport was closed on purpose.
func (p *pollingTransport) fail(reason string, err error) {
	if p.ctx.Err() != nil || p.ReadyState() == engine.TransportStateClosed {
		return
	}
	p.OnError(reason, err, nil)
}

// fetch makes one request: a GET (body nil) returns the payload, a POST
// sends body.
func (p *pollingTransport) fetch(method string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(p.ctx, method, p.uri(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range p.Opts().ExtraHeaders() {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPollBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	if len(data) > maxPollBytes {
		return nil, fmt.Errorf("%s %s: response over %d bytes", method, req.URL.Path, maxPollBytes)
	}
	return data, nil
}

// uri is the request URL: the engine's query (EIO, transport, sid) plus
// the cache buster and b64 flag the library's transport adds.
func (p *pollingTransport) uri() string {
	scheme := "http"
	if p.Opts().Secure() {
		scheme = "https"
	}
	q := url.Values{}
	for k, vs := range p.Query() {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	if p.Opts().TimestampRequests() {
		q.Set(p.Opts().TimestampParam(), strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	if !p.SupportsBinary() && !q.Has("sid") {
		q.Set("b64", "1")
	}
	return p.CreateUri(scheme, q).String()
}

// websocketCtor is the library's websocket transport with a race of the
// library closed (the polling transport above has the same guard):
// Manager.Open (clients/socket/v3 v3.0.6, manager.go) builds the engine
// with engine.NewSocket, whose Construct already opens the transport, and
// only then subscribes to the engine's "open". The websocket transport
// dials synchronously and starts its reader at once, so the handshake can
// complete, and "open" be emitted, before anyone listens: the Manager
// never sends the namespace CONNECT and the attempt ends in the library's
// "timeout". Open here dials on a goroutine once the Manager listens.
//
// And a second one: websocket.addEventListeners (clients/engine/v3
// v3.0.6, websocket.go) starts the reader (go w.message()) before
// w.OnOpen() makes the transport writable; when the reader handshakes
// first, the namespace CONNECT is queued in the engine's write buffer and
// nothing flushes it until the server's next ping. The engine is flushed
// when the transport opens.
var websocketCtor engine.TransportCtor = &websocketBuilder{}

type websocketBuilder struct{}

func (*websocketBuilder) Name() string { return TransportWebSocket }

func (*websocketBuilder) New(sock engine.Socket, opts engine.SocketOptionsInterface) engine.Transport {
	t := engine.NewWebSocket(sock, opts)
	_ = t.On("open", func(...any) { sock.Flush() })
	return &websocketTransport{Transport: t, sock: sock}
}

// websocketTransport wraps the library's websocket transport.
type websocketTransport struct {
	engine.Transport
	sock engine.Socket

	mu      sync.Mutex
	opening bool // the library's Open (the dial) runs
	closed  bool
}

// Open starts the dial in the background; the engine learns the outcome
// from the transport's events as before.
func (w *websocketTransport) Open() engine.Transport {
	go func() {
		awaitListener(w.sock, "open", engine.SocketStateOpening)
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		w.opening = true
		w.mu.Unlock()
		w.Transport.Open()
		w.mu.Lock()
		w.opening = false
		closed := w.closed
		w.mu.Unlock()
		if closed { // Close came during the dial and left it to us
			w.Transport.Close()
		}
	}()
	return w
}

// Close closes the transport; during the dial it leaves that to Open, as
// the library's Close must not run alongside its Open.
func (w *websocketTransport) Close() engine.Transport {
	w.mu.Lock()
	w.closed = true
	busy := w.opening
	w.mu.Unlock()
	if !busy {
		w.Transport.Close()
	}
	return w
}

// listenerWait bounds awaitListener; the Manager subscribes microseconds
// after the moment it races with.
const listenerWait = 500 * time.Millisecond

// awaitListener waits, while the engine is in state, until something
// listens for its event ev (see websocketCtor).
func awaitListener(sock engine.Socket, ev types.EventName, state engine.SocketState) {
	deadline := time.Now().Add(listenerWait)
	for sock.ReadyState() == state && sock.ListenerCount(ev) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond)
	}
}
