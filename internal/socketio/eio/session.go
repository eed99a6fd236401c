package eio

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sessionState moves forward only: open → closing → ended.
type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // a terminal frame is queued; Send refuses
	stateEnded
)

// Session is one Engine.IO connection, whatever its current transport.
type Session struct {
	srv *Server
	id  string
	req atomic.Pointer[http.Request] // nil once released
	h   Handler

	mu        sync.Mutex
	state     sessionState
	websocket bool // the transport in use is conn, not polling
	upgrading bool // a probe websocket answered "3probe"
	writing   bool // a writer goroutine drains q to conn
	posting   bool // a polling POST is being read
	pingSent  bool // waiting for a pong
	// lingerNoop: ended by a close POST before any GET was pending; the
	// next GET gets a noop.
	lingerNoop bool
	// opened: registered, with its handler; before that Abort only
	// records abortReason.
	opened      bool
	abortReason string
	reason      string
	q           []*Frame
	qBytes      int
	conn        net.Conn        // the websocket in use
	raw         syscall.RawConn // conn's socket, for the flusher; nil if it has none
	stall       stallWatch      // owned by the writer (see stall.go)
	probe       net.Conn        // a websocket probing an upgrade
	poll        *pollWaiter     // the pending polling GET
	timer       *time.Timer     // heartbeat, or the polling close deadline
	timerAt     time.Duration
	lingerTimer *time.Timer // guarded by srv.mu; see Server.linger

	// hmu orders handler calls: OnMessage from the reader or a POST,
	// OnClose once after the last of them.
	hmu    sync.Mutex
	closed bool // OnClose was called; guarded by hmu
}

// pollWaiter is a polling GET waiting for packets.
type pollWaiter struct {
	ch chan struct{}
	// answer, when set before ch is closed, is sent instead of the queue.
	answer *Frame
}

// wake hands the waiting GET its answer; only the one who detached w
// from the session calls it.
func (w *pollWaiter) wake(answer *Frame) {
	w.answer = answer
	close(w.ch)
}

func newSession(srv *Server, r *http.Request) *Session {
	s := &Session{srv: srv, id: newSessionID()}
	s.req.Store(trimRequest(r))
	return s
}

// trimRequest keeps what a handler may read of the handshake: method, URL,
// headers, host, remote address, TLS state; not the body or context.
func trimRequest(r *http.Request) *http.Request {
	u := *r.URL
	return &http.Request{
		Method:     r.Method,
		URL:        &u,
		Proto:      r.Proto,
		ProtoMajor: r.ProtoMajor,
		ProtoMinor: r.ProtoMinor,
		Header:     r.Header.Clone(),
		Body:       http.NoBody,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		RequestURI: r.RequestURI,
		TLS:        r.TLS,
	}
}

// ID is the session id (the handshake's sid).
func (s *Session) ID() string { return s.id }

// Transport is "polling" or "websocket", the one in use now.
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.websocket {
		return transportWebsocket
	}
	return transportPolling
}

// Request is the handshake request: URL, headers, RemoteAddr. Its body is
// not readable. nil after ReleaseRequest.
func (s *Session) Request() *http.Request { return s.req.Load() }

// ReleaseRequest drops the handshake request once the handler has read what
// it needs: headers and query are most of what an idle session would hold.
func (s *Session) ReleaseRequest() { s.req.Store(nil) }

// Send queues frames to go out together, in order, after those queued
// before. It never blocks on the network. ErrClosed once the session has
// ended; ErrSlowConsumer when the queue bound is hit (the session is then
// closed with ReasonSlowConsumer).
func (s *Session) Send(frames ...*Frame) error {
	s.mu.Lock()
	err := s.enqueueLocked(frames)
	s.mu.Unlock()
	if err == ErrSlowConsumer {
		s.end(ReasonSlowConsumer, closeFrame)
	}
	return err
}

// Close sends what is queued, then a close packet, and ends the session
// with the given reason (ReasonForcedClose when empty). Safe to call
// twice and from any goroutine, including the handler's.
func (s *Session) Close(reason string) {
	if reason == "" {
		reason = ReasonForcedClose
	}
	s.closeAfter(reason, closeFrame, true)
}

// Abort ends the session now, without sending what is queued: the
// connection closes and a waiting poll gets a close packet. A polling
// session closed with Close waits up to the ping timeout for a GET to
// carry the close; one that is evicted to make room must free its place
// at once.
//
// The handler may call Abort on another session whose handshake is still
// being set up (its OnSession has not returned); that session then ends
// as soon as it is registered.
func (s *Session) Abort(reason string) {
	if reason == "" {
		reason = ReasonForcedClose
	}
	s.mu.Lock()
	if !s.opened {
		s.abortReason = reason
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.end(reason, nil)
}

// markOpened is called once the session is registered with its handler;
// it ends the session and reports false if Abort came first.
func (s *Session) markOpened() bool {
	s.mu.Lock()
	s.opened = true
	reason := s.abortReason
	s.mu.Unlock()
	if reason != "" {
		s.end(reason, nil)
		return false
	}
	return true
}

// enqueueLocked appends frames within the queue bounds and gets them moving.
func (s *Session) enqueueLocked(frames []*Frame) error {
	if s.state != stateOpen {
		return ErrClosed
	}
	n := 0
	for _, f := range frames {
		n += len(f.data)
	}
	cfg := &s.srv.cfg
	if len(s.q)+len(frames) > cfg.MaxQueuedFrames || s.qBytes+n > cfg.MaxQueuedBytes {
		return ErrSlowConsumer
	}
	s.q = append(s.q, frames...)
	s.qBytes += n
	s.kickLocked()
	return nil
}

// kickLocked gets a websocket's queue written (by the server's flusher,
// or a writer goroutine where the socket has no non-blocking write), or
// answers the pending poll.
func (s *Session) kickLocked() {
	if len(s.q) == 0 {
		return
	}
	if s.websocket {
		if !s.writing && s.conn != nil {
			s.writing = true
			if s.raw != nil {
				s.srv.flush.schedule(s, s.conn)
			} else if s.srv.work.Enter() {
				go s.ownedWriteLoop(s.conn, nil, false)
			} else {
				s.writing = false // shut down: the session has ended
			}
		}
		return
	}
	if w := s.poll; w != nil {
		s.poll = nil
		w.wake(nil)
	}
}

// takeLocked empties the queue.
func (s *Session) takeLocked() []*Frame {
	q := s.q
	s.q, s.qBytes = nil, 0
	return q
}

// takePollLocked is takeLocked for a long-poll: a terminal frame goes out
// alone, in the poll after the frames queued before it (as Node's engine
// does). The official client handles the packets of one payload in order
// but defers Socket.IO packets to the next tick, so a DISCONNECT sharing a
// payload with the close would reach the application after the close.
func (s *Session) takePollLocked() []*Frame {
	n := len(s.q)
	if n < 2 || !s.q[n-1].terminal {
		return s.takeLocked()
	}
	batch, terminal := s.q[:n-1:n-1], s.q[n-1]
	s.q, s.qBytes = []*Frame{terminal}, len(terminal.data)
	// Wait a while for the next GET to carry the close packet.
	s.armLocked(s.srv.cfg.PingTimeout)
	return batch
}

// closeAfter queues terminal after what is queued (or instead of it when
// !flush); the session ends once terminal is written.
func (s *Session) closeAfter(reason string, terminal *Frame, flush bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return
	}
	s.state, s.reason = stateClosing, reason
	if !flush {
		clear(s.q)
		s.q, s.qBytes = s.q[:0], 0
	}
	s.q = append(s.q, terminal)
	if !s.websocket && s.poll == nil {
		// Wait a while for the next GET to carry the close packet.
		s.armLocked(s.srv.cfg.PingTimeout)
	}
	s.kickLocked()
}

// finish ends a closing session once its terminal frame is written.
func (s *Session) finish() {
	s.mu.Lock()
	reason := s.reason
	s.mu.Unlock()
	s.end(reason, nil)
}

// end ends the session now: the connections close, a pending poll gets
// pollAnswer (the close packet when nil), the handler's OnClose follows.
// A session that was closing keeps the reason it was closing for.
func (s *Session) end(reason string, pollAnswer *Frame) {
	s.mu.Lock()
	if s.state == stateEnded {
		s.mu.Unlock()
		return
	}
	if s.state == stateClosing {
		reason = s.reason
	}
	s.state, s.reason = stateEnded, reason
	if s.timer != nil {
		s.timer.Stop()
	}
	conn, probe, w := s.conn, s.probe, s.poll
	s.conn, s.probe, s.poll = nil, nil, nil
	clear(s.q)
	s.q, s.qBytes = nil, 0
	// A client's close POST can overtake its own pending GET (two
	// connections): that GET, arriving just after, still gets its noop.
	s.lingerNoop = pollAnswer == noopFrame && w == nil && !s.websocket
	linger := s.lingerNoop
	s.mu.Unlock()

	if w != nil {
		if pollAnswer == nil {
			pollAnswer = closeFrame
		}
		w.wake(pollAnswer)
	}
	if conn != nil {
		_ = conn.Close()
	}
	if probe != nil {
		_ = probe.Close()
	}
	if linger {
		s.srv.linger(s)
	} else {
		s.srv.remove(s)
	}
	s.srv.log.Debug("eio session closed", "sid", s.id, "reason", reason)
	// Its own goroutine, so that end may be called from within a handler;
	// owned by live, which Shutdown waits for.
	go func() {
		defer s.srv.live.Done()
		s.notifyClose(reason)
	}()
}

// notifyClose calls OnClose after any OnMessage in progress.
func (s *Session) notifyClose(reason string) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.closed = true
	s.h.OnClose(reason)
}

// deliver passes one client packet on; it returns false when the session
// is over for this reader. The caller holds hmu.
func (s *Session) deliver(p packet) bool {
	switch p.typ {
	case packetMessage:
		if s.closed {
			return false
		}
		s.h.OnMessage(p.data, p.binary)
	case packetPong:
		s.onPong()
	case packetPing:
		_ = s.Send(pongFrame)
	case packetClose:
		s.mu.Lock()
		ws := s.websocket
		s.mu.Unlock()
		if ws {
			s.closeAfter(ReasonTransportClose, wsCloseFrame, false)
		} else {
			s.end(ReasonTransportClose, noopFrame)
		}
		return false
	}
	return true
}

// Heartbeat: one runtime timer per session, due at timerAt. It fires for
// the next ping, then (pingSent) for the pong deadline. A callback that
// finds timerAt in the future was overtaken by a re-arm and does nothing,
// so a pong can never lose to a stale timer.

// clockBase makes timerAt a monotonic offset.
var clockBase = time.Now()

func (s *Session) startHeartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateEnded {
		return
	}
	s.timerAt = time.Since(clockBase) + s.srv.cfg.PingInterval // before the timer can fire
	s.timer = time.AfterFunc(s.srv.cfg.PingInterval, s.onTimer)
}

func (s *Session) armLocked(d time.Duration) {
	s.timerAt = time.Since(clockBase) + d
	if s.timer != nil {
		s.timer.Reset(d)
	}
}

func (s *Session) onTimer() {
	if !s.srv.work.Enter() {
		return
	}
	defer s.srv.work.Exit()
	s.mu.Lock()
	if s.state == stateEnded {
		s.mu.Unlock()
		return
	}
	if early := s.timerAt - time.Since(clockBase); early > 0 {
		// Overtaken by a re-arm; keep the (new) deadline.
		s.timer.Reset(early)
		s.mu.Unlock()
		return
	}
	if s.state == stateClosing || s.pingSent {
		s.mu.Unlock()
		s.end(ReasonPingTimeout, nil) // a closing session keeps its reason
		return
	}
	s.pingSent = true
	// The pong deadline counts from when the ping was due, so a timer
	// delayed by a busy scheduler does not extend it (but leaves the
	// client at least a quarter of PingTimeout).
	wait := s.timerAt + s.srv.cfg.PingTimeout - time.Since(clockBase)
	wait = max(wait, s.srv.cfg.PingTimeout/4)
	s.armLocked(wait) // before the ping can be answered
	err := s.enqueueLocked(pingBatch)
	s.mu.Unlock()
	if err == ErrSlowConsumer {
		s.end(ReasonSlowConsumer, nil)
	}
}

// pongOverdueLocked is true past the pong deadline even if the timer,
// delayed by a busy scheduler, has not fired yet.
func (s *Session) pongOverdueLocked() bool {
	return s.pingSent && time.Since(clockBase) >= s.timerAt
}

func (s *Session) onPong() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pingSent && s.state == stateOpen {
		s.pingSent = false
		s.armLocked(s.srv.cfg.PingInterval)
	}
}

var pingBatch = []*Frame{pingFrame}
