package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Defaults of SocketOptions.
const (
	DefaultConnectTimeout    = 2 * time.Second
	DefaultAckTimeout        = 5 * time.Second
	DefaultReconnectDelay    = 500 * time.Millisecond
	DefaultReconnectDelayMax = 10 * time.Second
	DefaultFallbackAfter     = 3
	DefaultQueueLimit        = 10000
)

// Errors of Socket.
var (
	// ErrNotConnected: there is no live session right now (the Socket may
	// be reconnecting).
	ErrNotConnected = errors.New("not connected")
	// ErrClosed: Close was called or the Socket gave up.
	ErrClosed = errors.New("socket closed")
)

// ConnectError is a handshake the server rejected (its middleware's
// connect_error), e.g. a missing or invalid token.
type ConnectError struct {
	Message string
	// Code is data.code of the rejection: AUTH_REQUIRED or AUTH_INVALID.
	Code string
}

func (e *ConnectError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("server rejected the connection: %s (%s)", e.Message, e.Code)
	}
	return "server rejected the connection: " + e.Message
}

// SocketOptions configures Dial. Zero values mean the documented default.
type SocketOptions struct {
	// Server is the base URL, e.g. http://localhost:3000.
	Server string
	// Token is sent as auth.token; empty sends none. Renew replaces it.
	Token string
	// Transports is TransportWebSocket (zero value), TransportBoth or
	// TransportPolling. Polling uses our own transport (socket_polling.go):
	// the library's made every write wait for the server's next ping.
	Transports string
	// Reconnect keeps reconnecting after a lost session. False: the first
	// disconnect is final. Either way a failing initial connection is
	// retried until Dial's context ends (unless the server is unreachable
	// or rejects the token).
	Reconnect bool
	// ConnectTimeout bounds each attempt; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// AckTimeout bounds every ack; zero means DefaultAckTimeout.
	AckTimeout time.Duration
	// ReconnectDelay and ReconnectDelayMax bound the exponential backoff
	// (with ±50% jitter); zero means the defaults.
	ReconnectDelay, ReconnectDelayMax time.Duration
	// FallbackAfter is how many websocket-only attempts may fail (with the
	// server reachable) before switching to polling+websocket; zero means
	// DefaultFallbackAfter, negative never.
	FallbackAfter int
	// QueueLimit caps undelivered server events; beyond it new ones are
	// dropped and counted (state changes are always kept). Zero means
	// DefaultQueueLimit.
	QueueLimit int
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// Rand returns jitter in [0,1); nil means math/rand/v2.
	Rand func() float64
	// Logger receives every connection-state change (reconnects, refused
	// tokens, renewals); nil discards them.
	Logger *slog.Logger
}

func (o *SocketOptions) defaults() {
	if o.Transports == "" {
		o.Transports = TransportWebSocket
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = DefaultReconnectDelay
	}
	if o.ReconnectDelayMax <= 0 {
		o.ReconnectDelayMax = DefaultReconnectDelayMax
	}
	if o.FallbackAfter == 0 {
		o.FallbackAfter = DefaultFallbackAfter
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = DefaultQueueLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// roomJoin remembers a join so it can be repeated after a reconnect.
type roomJoin struct {
	spazioID, sedeID int64
	date             string
}

// Socket is a supervised Socket.IO session: it reconnects with backoff and
// jitter, falls back to polling+websocket, re-joins its rooms and reports
// all of it as Events. Its methods are safe for concurrent use.
type Socket struct {
	opts    SocketOptions
	server  string
	address string // host:port for the reachability probe

	q      *eventQueue
	events chan Event
	stop   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	// panics counts recovered panics in the handling of library callbacks.
	panics atomic.Int64

	mu        sync.Mutex
	cur       *libConn
	transport string
	token     string
	rooms     map[string]roomJoin
	order     []string
	lastErr   error

	// renew asks the supervisor to replace the live session (Renew).
	renew chan struct{}

	// initial carries the outcome of the first connection to Dial.
	initial chan error
}

// Dial connects to opts.Server and returns once the namespace is joined.
// ctx bounds only this initial connection (with Reconnect, failing attempts
// are retried until it ends); the session then lives until Close. An
// unreachable server or a rejected token fail at once.
func Dial(ctx context.Context, opts SocketOptions) (*Socket, error) {
	opts.defaults()
	u, err := url.Parse(opts.Server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server %q is not a URL like http://localhost:3000", opts.Server)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("server %q: scheme must be http or https", opts.Server)
	}
	switch opts.Transports {
	case TransportWebSocket, TransportPolling, TransportBoth:
	default:
		return nil, fmt.Errorf("transports %q: want websocket, polling or both", opts.Transports)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Socket{
		opts:    opts,
		server:  u.String(),
		address: addr,
		q:       newEventQueue(opts.QueueLimit),
		events:  make(chan Event, 64),
		stop:    make(chan struct{}),
		cancel:  cancel,
		done:    make(chan struct{}),
		token:   opts.Token,
		rooms:   map[string]roomJoin{},
		renew:   make(chan struct{}, 1),
		initial: make(chan error, 1),
	}
	go s.q.pump(s.events, s.stop)
	go s.run(runCtx)
	select {
	case err := <-s.initial:
		if err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		s.mu.Lock()
		last := s.lastErr
		s.mu.Unlock()
		s.Close()
		if last != nil {
			return nil, fmt.Errorf("connect to %s: gave up after %w: %w", s.server, context.Cause(ctx), last)
		}
		return nil, fmt.Errorf("connect to %s: %w", s.server, context.Cause(ctx))
	}
}

// Events returns the stream of server events and connection-state changes.
// It is closed after Close or after the Socket gives up (the last event is
// then a StateOffline change). Undelivered events beyond QueueLimit are
// dropped; see Dropped.
func (s *Socket) Events() <-chan Event { return s.events }

// Dropped counts server events dropped because the reader fell behind.
func (s *Socket) Dropped() uint64 { return s.q.droppedCount() }

// Server returns the normalised base URL.
func (s *Socket) Server() string { return s.server }

// Transport returns the transport of the live session, or "" when offline.
func (s *Socket) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Connected reports whether a session is live.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// Close ends the session and stops reconnecting. Safe to call twice.
func (s *Socket) Close() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		close(s.stop)
	})
}

// Renew makes token the one every later connection sends and replaces
// the live session by one authenticated with it: the new session joins
// the rooms before the old one closes, so no event is missed and the
// state stays connected. The outcome arrives on Events as StateRenewed or
// StateRenewFailed. Without a live session the token just waits for the
// next reconnect.
func (s *Socket) Renew(token string) {
	s.mu.Lock()
	s.token = token
	live := s.cur != nil
	s.mu.Unlock()
	if !live {
		return
	}
	select {
	case s.renew <- struct{}{}:
	default:
	}
}

func (s *Socket) currentToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Emit sends event without waiting for an ack.
func (s *Socket) Emit(event string, args ...any) error {
	c, err := s.live()
	if err != nil {
		return fmt.Errorf("emit %s: %w", event, err)
	}
	return c.emit(event, args)
}

// EmitWithAck sends event and waits for the server's ack (bounded by ctx
// and AckTimeout); it returns the ack's arguments as JSON.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	c, err := s.live()
	if err != nil {
		return nil, fmt.Errorf("emit %s: %w", event, err)
	}
	return ackOn(ctx, c, event, args)
}

func ackOn(ctx context.Context, c *libConn, event string, args []any) ([]json.RawMessage, error) {
	type result struct {
		args []json.RawMessage
		err  error
	}
	ch := make(chan result, 1)
	if err := c.emitAck(event, args, func(a []json.RawMessage, err error) { ch <- result{a, err} }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("ack of %s: %w", event, r.err)
		}
		return r.args, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("ack of %s: %w", event, ctx.Err())
	}
}

// JoinSpace joins the room of a spazio and asks for the snapshot of date
// ("" means the server's today); the server answers joined_space and
// slots_status_update, which arrive on Events. The join is remembered and
// repeated after every reconnect; joining again with another date changes
// the remembered date.
func (s *Socket) JoinSpace(ctx context.Context, spazioID, sedeID int64, date string) (protocol.Ack, error) {
	room := protocol.SpaceRoom(spazioID, sedeID)
	s.mu.Lock()
	if _, ok := s.rooms[room]; !ok {
		s.order = append(s.order, room)
	}
	s.rooms[room] = roomJoin{spazioID, sedeID, date}
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		return protocol.Ack{}, fmt.Errorf("join %s: %w (it will be joined on reconnect)", room, ErrNotConnected)
	}
	ack, err := joinOn(ctx, c, roomJoin{spazioID, sedeID, date})
	if err == nil && !ack.Success {
		s.forget(room)
		return ack, fmt.Errorf("join %s: %s", room, ackError(ack))
	}
	return ack, err
}

// LeaveSpace leaves a room and forgets it.
func (s *Socket) LeaveSpace(ctx context.Context, spazioID, sedeID int64) (protocol.Ack, error) {
	room := protocol.SpaceRoom(spazioID, sedeID)
	s.forget(room)
	c, err := s.live()
	if err != nil {
		return protocol.Ack{}, fmt.Errorf("leave %s: %w", room, err)
	}
	raw, err := ackOn(ctx, c, protocol.EventLeaveSpace, []any{map[string]any{"spazioId": spazioID, "sedeId": sedeID}})
	if err != nil {
		return protocol.Ack{}, fmt.Errorf("leave %s: %w", room, err)
	}
	return decodeAck(raw)
}

// Rooms lists the remembered rooms in join order.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Resync joins every remembered room again so the server sends a fresh
// snapshot of each; it returns how many joins succeeded.
func (s *Socket) Resync(ctx context.Context) (int, error) {
	c, err := s.live()
	if err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	return s.rejoin(ctx, c)
}

// Latency measures one round trip: the server acks protocol.EventPing.
func (s *Socket) Latency(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := s.EmitWithAck(ctx, protocol.EventPing, map[string]any{"ts": start.UnixMilli()}); err != nil {
		return 0, fmt.Errorf("latency: %w", err)
	}
	return time.Since(start), nil
}

func (s *Socket) live() (*libConn, error) {
	select {
	case <-s.done:
		return nil, ErrClosed
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil, ErrNotConnected
	}
	return s.cur, nil
}

func (s *Socket) forget(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms, room)
	for i, r := range s.order {
		if r == room {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

func joinOn(ctx context.Context, c *libConn, j roomJoin) (protocol.Ack, error) {
	req := map[string]any{"spazioId": j.spazioID, "sedeId": j.sedeID}
	if j.date != "" {
		req["date"] = j.date
	}
	room := protocol.SpaceRoom(j.spazioID, j.sedeID)
	raw, err := ackOn(ctx, c, protocol.EventJoinSpace, []any{req})
	if err != nil {
		return protocol.Ack{}, fmt.Errorf("join %s: %w", room, err)
	}
	ack, err := decodeAck(raw)
	if err != nil {
		return ack, fmt.Errorf("join %s: %w", room, err)
	}
	return ack, nil
}

func decodeAck(raw []json.RawMessage) (protocol.Ack, error) {
	var ack protocol.Ack
	if len(raw) == 0 {
		return ack, errors.New("empty ack")
	}
	if err := json.Unmarshal(raw[0], &ack); err != nil {
		return ack, fmt.Errorf("decode ack: %w", err)
	}
	return ack, nil
}

func ackError(a protocol.Ack) string {
	switch {
	case a.Error != "" && a.Code != "":
		return a.Error + " (" + a.Code + ")"
	case a.Error != "":
		return a.Error
	default:
		return "refused"
	}
}

func (s *Socket) rejoin(ctx context.Context, c *libConn) (int, error) {
	s.mu.Lock()
	joins := make([]roomJoin, 0, len(s.order))
	for _, r := range s.order {
		joins = append(joins, s.rooms[r])
	}
	s.mu.Unlock()
	n := 0
	var errs []error
	for _, j := range joins {
		ack, err := joinOn(ctx, c, j)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !ack.Success:
			errs = append(errs, fmt.Errorf("join %s: %s", protocol.SpaceRoom(j.spazioID, j.sedeID), ackError(ack)))
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// state publishes a connection-state change and logs it.
func (s *Socket) state(cs ConnState) {
	if cs.Delay > 0 {
		cs.DelayMS = cs.Delay.Milliseconds()
	}
	s.q.push(Event{Name: EventConnection, At: s.opts.Now(), State: &cs})
	s.logState(cs)
}

// RecoveredPanics is how many panics in the handling of the socket
// library's callbacks were recovered (and logged) so far.
func (s *Socket) RecoveredPanics() int64 { return s.panics.Load() }

// logState writes cs to the Logger, warnings for whatever went wrong.
func (s *Socket) logState(cs ConnState) {
	level := slog.LevelInfo
	switch cs.State {
	case StateConnectError, StateDisconnected, StateRenewFailed, StateOffline:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("server", s.server), slog.String("state", string(cs.State))}
	add := func(key, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(key, v))
		}
	}
	add("transport", cs.Transport)
	add("socket_id", cs.SocketID)
	add("reason", cs.Reason)
	add("message", cs.Message)
	add("code", cs.Code)
	if cs.Attempt > 0 {
		attrs = append(attrs, slog.Int("attempt", cs.Attempt))
	}
	if cs.Delay > 0 {
		attrs = append(attrs, slog.Duration("delay", cs.Delay))
	}
	if cs.Rooms > 0 {
		attrs = append(attrs, slog.Int("rooms", cs.Rooms))
	}
	s.opts.Logger.LogAttrs(context.Background(), level, "socket "+string(cs.State), attrs...)
}

// attemptResult is how one attempt ended: a live conn, the channel that
// carries the reason its session ends and what the server said on
// connect, or an error.
type attemptResult struct {
	conn      *libConn
	closed    <-chan string
	socketID  string
	transport string
	err       error
}

// run is the supervisor: one attempt at a time, backoff between them,
// fallback to polling+websocket, rejoin after reconnects.
func (s *Socket) run(ctx context.Context) {
	defer close(s.done)
	defer s.q.close()
	transports := s.opts.Transports
	established := false
	attempt := 0
	wsFailures := 0
	var delay time.Duration
	for {
		if delay > 0 {
			s.state(ConnState{State: StateReconnecting, Attempt: attempt + 1, Delay: delay})
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				s.finish(established, ErrClosed, "closed")
				return
			case <-t.C:
			}
		}
		attempt++
		s.state(ConnState{State: StateConnecting, Attempt: attempt, Transport: transportLabel(transports)})
		res := s.attempt(ctx, transports, false)
		if ctx.Err() != nil {
			if res.conn != nil {
				res.conn.close()
			}
			s.finish(established, ErrClosed, "closed")
			return
		}
		if res.err != nil {
			s.mu.Lock()
			s.lastErr = res.err
			s.mu.Unlock()
			cs := ConnState{State: StateConnectError, Attempt: attempt, Message: res.err.Error()}
			var ce *ConnectError
			rejected := errors.As(res.err, &ce)
			if rejected {
				cs.Code, cs.Message = ce.Code, ce.Message
			}
			s.state(cs)
			unreachable := isUnreachable(res.err)
			switch {
			case rejected:
				s.finish(established, res.err, "rejected: "+ce.Message)
				return
			case !established && unreachable:
				s.finish(established, fmt.Errorf("cannot reach %s: %w", s.server, res.err), "unreachable")
				return
			case !s.opts.Reconnect && established:
				// Before the first session Dial's context decides: a
				// timeout deserves another attempt.
				s.finish(established, res.err, "connect failed")
				return
			}
			if transports == TransportWebSocket && !unreachable && s.opts.FallbackAfter > 0 {
				wsFailures++
				if wsFailures >= s.opts.FallbackAfter {
					transports = TransportBoth
					s.state(ConnState{State: StateFallback, Transport: transportLabel(transports), Message: fmt.Sprintf("websocket failed %d times", wsFailures)})
				}
			}
			delay = backoff(attempt, s.opts.ReconnectDelay, s.opts.ReconnectDelayMax, s.opts.Rand())
			continue
		}

		// Live session.
		if established {
			if n, err := s.rejoin(ctx, res.conn); n > 0 || err != nil {
				cs := ConnState{State: StateRejoined, Rooms: n}
				if err != nil {
					cs.Message = err.Error()
				}
				s.state(cs)
			}
		} else {
			established = true
			s.initial <- nil
		}
		attempt, wsFailures = 0, 0
		// A Renew made before this session opened is served by it.
		select {
		case <-s.renew:
		default:
		}
		reason := s.serve(ctx, &res, transports)
		s.mu.Lock()
		s.cur, s.transport = nil, ""
		s.mu.Unlock()
		res.conn.close()
		if ctx.Err() != nil {
			s.finish(established, ErrClosed, "closed")
			return
		}
		s.state(ConnState{State: StateDisconnected, Reason: reason})
		if !s.opts.Reconnect {
			s.finish(established, fmt.Errorf("disconnected: %s", reason), "disconnected: "+reason)
			return
		}
		delay = backoff(1, s.opts.ReconnectDelay, s.opts.ReconnectDelayMax, s.opts.Rand())
	}
}

// finish publishes StateOffline and, if Dial is still waiting, its error.
func (s *Socket) finish(established bool, err error, reason string) {
	s.state(ConnState{State: StateOffline, Reason: reason})
	if !established {
		s.initial <- err
	}
}

// serve waits until the live session of res ends (its reason) or ctx is
// done. A Renew meanwhile replaces the session, and res, by a new one.
func (s *Socket) serve(ctx context.Context, res *attemptResult, transports string) string {
	for {
		select {
		case r := <-res.closed:
			return r
		case <-ctx.Done():
			return "closed"
		case <-s.renew:
			if next, ok := s.renewSession(ctx, res.conn, transports); ok {
				*res = next
			}
		}
	}
}

// renewTries bounds the attempts of one renewal that fail without a
// refusal from the server.
const renewTries = 3

// renewSession opens a session with the current token next to old, joins
// the rooms on it, makes it current and only then closes old (make before
// break: during the overlap an event may arrive twice, never not at all).
// If the new session fails, old carries on.
func (s *Socket) renewSession(ctx context.Context, old *libConn, transports string) (attemptResult, bool) {
	res := s.attempt(ctx, transports, true)
	for try := 1; try < renewTries && res.err != nil && ctx.Err() == nil && !errors.As(res.err, new(*ConnectError)); try++ {
		res = s.attempt(ctx, transports, true) // a network hiccup, not a refusal
	}
	if res.err != nil {
		cs := ConnState{State: StateRenewFailed, Message: res.err.Error()}
		var ce *ConnectError
		if errors.As(res.err, &ce) {
			cs.Code, cs.Message = ce.Code, ce.Message
		}
		s.state(cs)
		return attemptResult{}, false
	}
	n, err := s.rejoin(ctx, res.conn)
	if err != nil && n == 0 && len(s.Rooms()) > 0 {
		res.conn.close()
		s.state(ConnState{State: StateRenewFailed, Message: err.Error()})
		return attemptResult{}, false
	}
	tr := res.conn.transport() // it may have upgraded meanwhile
	if tr == "" {
		tr = res.transport
	}
	s.mu.Lock()
	s.cur, s.transport = res.conn, tr
	s.mu.Unlock()
	old.close()
	cs := ConnState{State: StateRenewed, Transport: tr, SocketID: res.socketID, Rooms: n}
	if err != nil {
		cs.Message = err.Error()
	}
	s.state(cs)
	return res, true
}

// attempt makes one connection attempt with the current token; on success
// the returned conn is live and, unless it renews a live session (quiet),
// installed as s.cur with StateConnected published.
func (s *Socket) attempt(ctx context.Context, transports string, quiet bool) attemptResult {
	// Pitfall 3: with websocket only, the library misses the dial error
	// and waits for its timeout; a plain TCP dial tells "refused" at once
	// and also bounds a black-holed address.
	d := net.Dialer{Timeout: s.opts.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", s.address)
	if err != nil {
		return attemptResult{err: &unreachableError{err}}
	}
	_ = nc.Close()

	// outcome carries the first answer: an error, or the connect's
	// socket id and transport.
	type answer struct {
		err                 error
		socketID, transport string
	}
	outcome := make(chan answer, 1)
	closed := make(chan string, 1)
	var c *libConn
	report := func(a answer) {
		select {
		case outcome <- a:
		default:
		}
	}
	c = newLibConn(s.server, s.currentToken(), transports, s.opts.ConnectTimeout, s.opts.AckTimeout, libHandlers{
		event: func(name string, args []json.RawMessage) {
			ev := Event{Name: name, At: s.opts.Now(), Raw: json.RawMessage("null")}
			if len(args) > 0 {
				ev.Raw = args[0]
				ev.Room = RoomOf(args[0])
			}
			if len(args) > 1 {
				ev.Args = args
			}
			s.q.push(ev)
		},
		connect: func(id, tr string, recovered bool) {
			if !quiet {
				// Install before publishing so a reader reacting to
				// "connected" can emit at once.
				s.mu.Lock()
				s.cur, s.transport = c, tr
				s.mu.Unlock()
				s.state(ConnState{State: StateConnected, Transport: tr, SocketID: id, Recovered: recovered})
			}
			report(answer{socketID: id, transport: tr})
		},
		connectError: func(err error) { report(answer{err: err}) },
		panicked: func(callback string, v any) {
			s.panics.Add(1)
			s.opts.Logger.Error("socket callback panicked (recovered)", "callback", callback, "panic", fmt.Sprint(v),
				"stack", string(debug.Stack()))
		},
		disconnect: func(reason string) {
			report(answer{err: fmt.Errorf("disconnected before connecting: %s", reason)})
			select {
			case closed <- reason:
			default:
			}
		},
		upgrade: func(tr string) {
			s.mu.Lock()
			current := s.cur == c
			if current {
				s.transport = tr
			}
			s.mu.Unlock()
			if current {
				s.state(ConnState{State: StateUpgraded, Transport: tr})
			}
		},
	})
	go c.open()

	// The library's own timeout covers the engine handshake only; this
	// one also covers a namespace CONNECT that never gets an answer.
	t := time.NewTimer(s.opts.ConnectTimeout + 500*time.Millisecond)
	defer t.Stop()
	var fail error
	select {
	case a := <-outcome:
		if a.err == nil {
			return attemptResult{conn: c, closed: closed, socketID: a.socketID, transport: a.transport}
		}
		fail = a.err
	case <-t.C:
		fail = fmt.Errorf("no answer within %s", s.opts.ConnectTimeout)
	case <-ctx.Done():
		fail = ctx.Err()
	}
	c.close()
	s.mu.Lock()
	if s.cur == c {
		s.cur, s.transport = nil, ""
	}
	s.mu.Unlock()
	return attemptResult{err: fail}
}

// unreachableError marks a failed TCP dial: nothing listens there (yet).
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// transportLabel names a transport setting for state events.
func transportLabel(t string) string {
	if t == TransportBoth {
		return "polling+websocket"
	}
	return t
}

// backoff is the wait before attempt n+1 after n failures: min·2^(n-1)
// capped at max, scaled by a jitter factor in [0.5, 1.5) from r in [0,1).
func backoff(n int, minD, maxD time.Duration, r float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(minD) * math.Pow(2, float64(n-1))
	if d > float64(maxD) {
		d = float64(maxD)
	}
	d *= 0.5 + r
	return time.Duration(d)
}
