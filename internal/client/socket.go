package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
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

// TransportBoth starts with polling and upgrades to websocket (the
// browser's default); the other transport settings are
// sioclient.TransportWebSocket and sioclient.TransportPolling.
const TransportBoth = "both"

// SocketOptions configures Dial. Zero values mean the documented default.
type SocketOptions struct {
	// Server is the base URL, e.g. http://localhost:3000.
	Server string
	// Token is sent as auth.token; empty sends none. Renew replaces it.
	Token string
	// Transports is sioclient.TransportWebSocket (zero value),
	// TransportBoth or sioclient.TransportPolling.
	Transports string
	// Reconnect keeps reconnecting after a lost session. False: the first
	// disconnect is final. Either way a failing initial connection is
	// retried until Dial's context ends (unless the server is unreachable
	// or rejects the token: a *sioclient.ConnectError).
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
		o.Transports = sioclient.TransportWebSocket
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
	opts   SocketOptions
	server string

	q      *eventQueue
	events chan Event
	stop   chan struct{}
	cancel context.CancelFunc
	// done closes when run has returned, pumped when the event pump has:
	// Close waits for both.
	done   chan struct{}
	pumped chan struct{}
	once   sync.Once

	mu        sync.Mutex
	cur       *sioclient.Conn
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
	case sioclient.TransportWebSocket, sioclient.TransportPolling, TransportBoth:
	default:
		return nil, fmt.Errorf("transports %q: want websocket, polling or both", opts.Transports)
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Socket{
		opts:    opts,
		server:  u.String(),
		q:       newEventQueue(opts.QueueLimit),
		events:  make(chan Event, 64),
		stop:    make(chan struct{}),
		cancel:  cancel,
		done:    make(chan struct{}),
		pumped:  make(chan struct{}),
		token:   opts.Token,
		rooms:   map[string]roomJoin{},
		renew:   make(chan struct{}, 1),
		initial: make(chan error, 1),
	}
	go func() {
		defer close(s.pumped)
		s.q.pump(s.events, s.stop)
	}()
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

// Close ends the session and stops reconnecting; it returns once every
// goroutine of the Socket has. Safe to call twice.
func (s *Socket) Close() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		close(s.stop)
		<-s.pumped
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
	return c.Emit(event, args...)
}

// EmitWithAck sends event and waits for the server's ack (bounded by ctx
// and AckTimeout); it returns the ack's arguments as JSON.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	c, err := s.live()
	if err != nil {
		return nil, fmt.Errorf("emit %s: %w", event, err)
	}
	return s.ackOn(ctx, c, event, args)
}

// ackOn emits on c and waits for the ack, at most AckTimeout.
func (s *Socket) ackOn(ctx context.Context, c *sioclient.Conn, event string, args []any) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout)
	defer cancel()
	return c.EmitWithAck(ctx, event, args...)
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
	ack, err := s.joinOn(ctx, c, roomJoin{spazioID, sedeID, date})
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
	raw, err := s.ackOn(ctx, c, protocol.EventLeaveSpace, []any{map[string]any{"spazioId": spazioID, "sedeId": sedeID}})
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

func (s *Socket) live() (*sioclient.Conn, error) {
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

func (s *Socket) joinOn(ctx context.Context, c *sioclient.Conn, j roomJoin) (protocol.Ack, error) {
	req := map[string]any{"spazioId": j.spazioID, "sedeId": j.sedeID}
	if j.date != "" {
		req["date"] = j.date
	}
	room := protocol.SpaceRoom(j.spazioID, j.sedeID)
	raw, err := s.ackOn(ctx, c, protocol.EventJoinSpace, []any{req})
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

func (s *Socket) rejoin(ctx context.Context, c *sioclient.Conn) (int, error) {
	s.mu.Lock()
	joins := make([]roomJoin, 0, len(s.order))
	for _, r := range s.order {
		joins = append(joins, s.rooms[r])
	}
	s.mu.Unlock()
	n := 0
	var errs []error
	for _, j := range joins {
		ack, err := s.joinOn(ctx, c, j)
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
