package eio

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// upgradePollHold is how long a GET that arrives mid-upgrade waits for
// the upgrade to complete before it gets a noop.
const upgradePollHold = 100 * time.Millisecond

// upgradedAnswer answers a GET that was overtaken by the upgrade: 400.
var upgradedAnswer = &Frame{}

// servePoll answers a polling GET with what is queued, waiting for it
// when nothing is.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.state == stateEnded && s.lingerNoop:
		s.lingerNoop = false
		s.mu.Unlock()
		s.srv.remove(s)
		s.writePoll(w, []*Frame{noopFrame})
		return
	case s.state == stateEnded:
		s.mu.Unlock()
		writeError(w, errSessionUnknown)
		return
	case s.websocket:
		s.mu.Unlock()
		writeError(w, errBadRequest)
		return
	case s.pongOverdueLocked():
		s.mu.Unlock()
		s.end(ReasonPingTimeout, nil)
		writeError(w, errSessionUnknown)
		return
	case s.poll != nil:
		// A second GET: the first gets the close packet, this one 400.
		s.mu.Unlock()
		s.srv.log.Debug("eio poll overlap", "sid", s.id)
		s.end(ReasonTransportError, closeFrame)
		writeError(w, errBadRequest)
		return
	case len(s.q) > 0:
		batch := s.takePollLocked()
		s.mu.Unlock()
		s.writePoll(w, batch)
		return
	}
	waiter := &pollWaiter{ch: make(chan struct{})}
	s.poll = waiter
	var hold <-chan time.Time
	if s.upgrading {
		// The client is switching to the websocket: answer a noop soon,
		// or 400 if the switch completes first.
		t := time.NewTimer(upgradePollHold)
		defer t.Stop()
		hold = t.C
	}
	s.mu.Unlock()

	select {
	case <-waiter.ch:
	case <-hold:
		s.mu.Lock()
		mine := s.poll == waiter
		if mine {
			s.poll = nil
		}
		s.mu.Unlock()
		if mine {
			s.writePoll(w, []*Frame{noopFrame})
			return
		}
		<-waiter.ch
	case <-r.Context().Done():
		s.mu.Lock()
		mine := s.poll == waiter
		if mine {
			s.poll = nil
		}
		s.mu.Unlock()
		if mine {
			// The client went away mid-poll: it can no longer receive.
			s.end(ReasonTransportClose, nil)
			return
		}
		<-waiter.ch
	}
	if waiter.answer == upgradedAnswer {
		writeError(w, errBadRequest)
		return
	}
	if waiter.answer != nil {
		s.writePoll(w, []*Frame{waiter.answer})
		return
	}
	s.mu.Lock()
	batch := s.takePollLocked()
	s.mu.Unlock()
	if len(batch) == 0 {
		batch = append(batch, noopFrame)
	}
	s.writePoll(w, batch)
}

// writePoll sends frames as one payload; a terminal frame is the last
// and ends the session.
func (s *Session) writePoll(w http.ResponseWriter, frames []*Frame) {
	n, terminal := 0, false
	for i, f := range frames {
		if f.terminal {
			frames, terminal = frames[:i+1], true
			break
		}
	}
	for _, f := range frames {
		n += 1 + len(f.pollingBytes())
	}
	n-- // separators go between packets
	setPollingHeaders(w.Header(), n)
	sep := []byte{recordSeparator}
	for i, f := range frames {
		if i > 0 {
			_, _ = w.Write(sep)
		}
		_, _ = w.Write(f.pollingBytes())
	}
	if terminal {
		s.finish()
	}
}

func setPollingHeaders(h http.Header, n int) {
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Cache-Control", "no-store")
}

// postState holds one POST's body and packets; pooled.
type postState struct {
	body bytes.Buffer
	pkts []packet
}

var postPool = sync.Pool{New: func() any { return new(postState) }}

// servePost reads a polling POST and delivers its packets.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.state == stateEnded:
		s.mu.Unlock()
		writeError(w, errSessionUnknown)
		return
	case s.websocket:
		s.mu.Unlock()
		writeError(w, errBadRequest)
		return
	case s.posting:
		s.mu.Unlock()
		s.srv.log.Debug("eio post overlap", "sid", s.id)
		s.end(ReasonTransportError, nil)
		writeError(w, errBadRequest)
		return
	}
	s.posting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
	}()

	if r.Header.Get("Content-Type") == "application/octet-stream" {
		// v4 clients send binary as base64 text; v3's binary payloads are not spoken here.
		s.end(ReasonParseError, nil)
		writeError(w, errBadRequest)
		return
	}
	limit := s.srv.cfg.MaxPayload
	if r.ContentLength > limit {
		s.end(ReasonTransportError, nil)
		writeError(w, errPayloadTooLarge)
		return
	}
	ps := postPool.Get().(*postState)
	defer func() {
		if ps.body.Cap() <= 64<<10 {
			ps.body.Reset()
			clear(ps.pkts)
			ps.pkts = ps.pkts[:0]
			postPool.Put(ps)
		}
	}()
	if _, err := ps.body.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		s.end(ReasonTransportError, nil)
		writeError(w, errBadRequest)
		return
	}
	if int64(ps.body.Len()) > limit {
		s.end(ReasonTransportError, nil)
		writeError(w, errPayloadTooLarge)
		return
	}
	var err error
	ps.pkts, err = decodePayload(ps.pkts[:0], ps.body.Bytes(), s.srv.cfg.MaxPollingPackets)
	if err != nil {
		s.srv.log.Debug("eio invalid payload", "sid", s.id, "err", err)
		s.end(ReasonParseError, nil)
		writeError(w, errBadRequest)
		return
	}
	s.hmu.Lock()
	for _, p := range ps.pkts {
		if !s.deliver(p) {
			break
		}
	}
	s.hmu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok")
}
