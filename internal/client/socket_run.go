package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// state publishes a connection-state change and logs it.
func (s *Socket) state(cs ConnState) {
	if cs.Delay > 0 {
		cs.DelayMS = cs.Delay.Milliseconds()
	}
	s.q.push(Event{Name: EventConnection, At: s.opts.Now(), State: &cs})
	s.logState(cs)
}

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
	conn      *sioclient.Conn
	closed    <-chan string
	socketID  string
	token     string // the token the session was opened with
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
				_ = res.conn.Close()
			}
			s.finish(established, ErrClosed, "closed")
			return
		}
		if res.err != nil {
			s.mu.Lock()
			s.lastErr = res.err
			s.mu.Unlock()
			cs := ConnState{State: StateConnectError, Attempt: attempt, Message: res.err.Error()}
			var ce *sioclient.ConnectError
			rejected := errors.As(res.err, &ce)
			if rejected {
				cs.Code, cs.Message = ce.Code(), ce.Message
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
			if transports == sioclient.TransportWebSocket && !unreachable && s.opts.FallbackAfter > 0 {
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
		reason := s.serve(ctx, &res, transports)
		s.mu.Lock()
		s.cur, s.transport = nil, ""
		s.mu.Unlock()
		_ = res.conn.Close()
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
			if s.currentToken() == res.token {
				// Renewed before this session opened: it has the token.
				continue
			}
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
func (s *Socket) renewSession(ctx context.Context, old *sioclient.Conn, transports string) (attemptResult, bool) {
	res := s.attempt(ctx, transports, true)
	for try := 1; try < renewTries && res.err != nil && ctx.Err() == nil && !errors.As(res.err, new(*sioclient.ConnectError)); try++ {
		res = s.attempt(ctx, transports, true) // a network hiccup, not a refusal
	}
	if res.err != nil {
		cs := ConnState{State: StateRenewFailed, Message: res.err.Error()}
		var ce *sioclient.ConnectError
		if errors.As(res.err, &ce) {
			cs.Code, cs.Message = ce.Code(), ce.Message
		}
		s.state(cs)
		return attemptResult{}, false
	}
	n, err := s.rejoin(ctx, res.conn)
	if err != nil && n == 0 && len(s.Rooms()) > 0 {
		_ = res.conn.Close()
		s.state(ConnState{State: StateRenewFailed, Message: err.Error()})
		return attemptResult{}, false
	}
	tr := res.conn.Transport()
	s.mu.Lock()
	s.cur, s.transport = res.conn, tr
	s.mu.Unlock()
	_ = old.Close()
	cs := ConnState{State: StateRenewed, Transport: tr, SocketID: res.socketID, Rooms: n}
	if err != nil {
		cs.Message = err.Error()
	}
	s.state(cs)
	return res, true
}

// attempt makes one connection attempt with the current token; on success
// the returned conn is live and, unless it renews a live session (quiet),
// installed as s.cur with StateConnected published before its first
// event (and StateUpgraded after, when it moved to websocket).
func (s *Socket) attempt(ctx context.Context, transports string, quiet bool) attemptResult {
	closed := make(chan string, 1)
	var opened string             // the transport the session opened on
	var installed *sioclient.Conn // s.cur set by OnConnect
	opts := sioclient.Options{
		URL:            s.server,
		Transports:     transportList(transports),
		ConnectTimeout: s.opts.ConnectTimeout,
		OnConnect: func(c *sioclient.Conn) {
			opened = c.Transport()
			if quiet {
				return
			}
			// Install before publishing so a reader reacting to
			// "connected" can emit at once.
			installed = c
			s.mu.Lock()
			s.cur, s.transport = c, opened
			s.mu.Unlock()
			s.state(ConnState{State: StateConnected, Transport: opened, SocketID: c.ID()})
		},
		OnEvent: func(_ *sioclient.Conn, e sioclient.Event) { s.q.push(serverEvent(e, s.opts.Now())) },
		OnClose: func(_ *sioclient.Conn, err error) { closed <- sioclient.Reason(err) },
	}
	tok := s.currentToken()
	if tok != "" {
		opts.Auth = map[string]string{"token": tok}
	}
	c, err := sioclient.Dial(ctx, opts)
	if err != nil {
		s.mu.Lock()
		if installed != nil && s.cur == installed {
			s.cur, s.transport = nil, ""
		}
		s.mu.Unlock()
		if isDialError(err) {
			err = &unreachableError{err}
		}
		return attemptResult{err: err}
	}
	tr := c.Transport()
	if !quiet && tr != opened {
		s.mu.Lock()
		current := s.cur == c
		if current {
			s.transport = tr
		}
		s.mu.Unlock()
		if current {
			s.state(ConnState{State: StateUpgraded, Transport: tr})
		}
	}
	return attemptResult{conn: c, closed: closed, socketID: c.ID(), transport: tr, token: tok}
}

// serverEvent is the Event of a server event received at.
func serverEvent(e sioclient.Event, at time.Time) Event {
	ev := Event{Name: e.Name, At: at, Raw: json.RawMessage("null")}
	if len(e.Args) > 0 {
		ev.Raw = e.Args[0]
		ev.Room = RoomOf(e.Args[0])
	}
	ev.Args = e.Args
	return ev
}

// transportList is the client's transport order for a setting.
func transportList(t string) []string {
	switch t {
	case TransportBoth:
		return []string{sioclient.TransportPolling, sioclient.TransportWebSocket}
	default:
		return []string{t}
	}
}

// unreachableError marks a failed TCP dial: nothing listens there (yet).
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// isDialError reports whether err is a failed TCP connect (refused, no
// route, timed out), not an answer from a server.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
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
