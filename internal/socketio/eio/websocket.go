package eio

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// hijack upgrades r to a websocket and keeps only the net.Conn: bytes the
// client sent early are read before it, the bufio buffers are dropped.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request) (net.Conn, io.Reader, bool) {
	conn, rw, _, err := s.upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		s.log.Debug("eio websocket upgrade failed", "remote_addr", r.RemoteAddr, "err", err)
		return nil, nil, false
	}
	return conn, connReader(conn, rw), true
}

func connReader(conn net.Conn, rw *bufio.ReadWriter) io.Reader {
	n := rw.Reader.Buffered()
	if n == 0 {
		return conn
	}
	early, _ := rw.Reader.Peek(n)
	return io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
}

// handshakeWebsocket opens a websocket-only session.
func (s *Server) handshakeWebsocket(w http.ResponseWriter, r *http.Request) {
	sess := newSession(s, r)
	conn, rd, ok := s.hijack(w, r)
	if !ok {
		return
	}
	sess.websocket, sess.conn, sess.raw = true, conn, rawConn(conn)
	sess.q = append(sess.q, newTextFrame(packetOpen, s.openPacket(sess.id, false)[1:]))
	sess.h = s.handlerFor(sess)
	if !s.register(sess) {
		sess.h.OnClose(ReasonServerClose)
		_ = conn.Close()
		return
	}
	if !sess.markOpened() {
		return
	}
	sess.mu.Lock()
	sess.kickLocked()
	sess.mu.Unlock()
	sess.startHeartbeat()
	s.log.Debug("eio session open", "sid", sess.id, "transport", transportWebsocket, "remote_addr", r.RemoteAddr)
	if !s.work.Go(func() { sess.readLoop(conn, rd, false) }) {
		_ = conn.Close() // shut down meanwhile: the session has ended
	}
}

// serveUpgrade takes a websocket that probes an upgrade of a polling session.
func (s *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	conn, rd, ok := s.srv.hijack(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	busy := s.state != stateOpen || s.websocket || s.probe != nil
	if !busy {
		s.probe = conn
	}
	s.mu.Unlock()
	if busy {
		// One websocket per session: accept, then close this one, as
		// clients expect a close rather than a failed handshake.
		s.writeDirect(conn, wsCloseFrame.ws)
		_ = conn.Close()
		return
	}
	if !s.srv.work.Go(func() { s.readLoop(conn, rd, true) }) {
		s.dropProbe(conn)
	}
}

// Payload buffers exist only while a frame is being read.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledPayload = 64 << 10

// readLoop reads conn until it fails. A probing loop handles the upgrade
// handshake, then becomes the session's reader. The upgrade timeout is a
// read deadline: a probe that misses it fails its read and is dropped
// like any failing probe, with no timer to outlive the loop.
func (s *Session) readLoop(conn net.Conn, rd io.Reader, probing bool) {
	if probing {
		_ = conn.SetReadDeadline(time.Now().Add(s.srv.cfg.UpgradeTimeout))
	}
	hb := make([]byte, ws.MaxHeaderSize-2)
	limit := s.srv.cfg.MaxPayload
	var (
		msg   *[]byte // payload being read, from payloadPool
		msgOp ws.OpCode
	)
	release := func() {
		if msg != nil {
			if cap(*msg) <= maxPooledPayload {
				*msg = (*msg)[:0]
				payloadPool.Put(msg)
			}
			msg = nil
		}
	}
	defer release()
	fail := func(reason string, terminal *Frame) {
		if probing {
			s.dropProbe(conn)
			return
		}
		if terminal != nil {
			s.closeAfter(reason, terminal, false)
			return
		}
		s.end(reason, nil)
	}
	for {
		h, err := ws.ReadHeaderBuffer(rd, hb)
		if err != nil {
			fail(ReasonTransportClose, nil)
			return
		}
		if !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved() ||
			(h.OpCode.IsControl() && (!h.Fin || h.Length > 125)) ||
			(h.OpCode == ws.OpContinuation) != (msg != nil) && !h.OpCode.IsControl() {
			fail(ReasonTransportError, protocolErrorFrame)
			return
		}
		if h.OpCode.IsControl() {
			if !s.control(conn, rd, h, probing) {
				if probing {
					s.dropProbe(conn)
				}
				return
			}
			continue
		}
		if msg == nil {
			msg, msgOp = payloadPool.Get().(*[]byte), h.OpCode
		}
		off := len(*msg)
		if int64(off)+h.Length > limit {
			fail(ReasonTransportError, tooBigFrame)
			return
		}
		buf := append(*msg, make([]byte, h.Length)...)
		*msg = buf
		if _, err := io.ReadFull(rd, buf[off:]); err != nil {
			fail(ReasonTransportClose, nil)
			return
		}
		ws.Cipher(buf[off:], h.Mask, 0)
		if !h.Fin {
			continue
		}
		var p packet
		if msgOp == ws.OpBinary {
			p = packet{typ: packetMessage, binary: true, data: buf}
		} else if p, err = parseTextPacket(buf); err != nil {
			fail(ReasonParseError, wsCloseFrame)
			return
		}
		if probing {
			if !s.probePacket(conn, p) {
				s.dropProbe(conn)
				return
			}
			if p.typ == packetUpgrade {
				_ = conn.SetReadDeadline(time.Time{})
				probing = false
			}
		} else {
			var ok bool
			onFreshStack(func() {
				s.hmu.Lock()
				ok = s.deliver(p)
				s.hmu.Unlock()
			})
			if !ok {
				return
			}
		}
		release()
	}
}

// onFreshStack runs fn on a new goroutine and waits for it. A goroutine
// keeps the peak size of its stack, and handlers run deep (token checks,
// database reads); the reader lives as long as its connection, so it stays
// at the minimum stack by never running them itself.
func onFreshStack(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// control handles a control frame; false ends the loop.
func (s *Session) control(conn net.Conn, rd io.Reader, h ws.Header, probing bool) bool {
	var p [125]byte
	payload := p[:h.Length]
	if _, err := io.ReadFull(rd, payload); err != nil {
		if !probing {
			s.end(ReasonTransportClose, nil)
		}
		return false
	}
	ws.Cipher(payload, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		pong := controlFrame(ws.OpPong, payload)
		if probing {
			return s.writeDirect(conn, pong)
		}
		s.mu.Lock()
		if s.state == stateOpen {
			s.q = append(s.q, &Frame{ws: pong})
			s.kickLocked()
		}
		s.mu.Unlock()
	case ws.OpClose:
		if !probing {
			s.closeAfter(ReasonTransportClose, wsCloseFrame, false)
		}
		return false
	}
	return true
}

// probePacket runs the upgrade handshake on a probing websocket; false
// drops the probe.
func (s *Session) probePacket(conn net.Conn, p packet) bool {
	switch {
	case p.typ == packetPing && string(p.data) == "probe":
		s.mu.Lock()
		if s.probe != conn {
			s.mu.Unlock()
			return false
		}
		s.upgrading = true
		w := s.poll
		s.poll = nil
		s.mu.Unlock()
		if w != nil {
			w.wake(noopFrame)
		}
		return s.writeDirect(conn, probeFrame.ws)
	case p.typ == packetUpgrade:
		s.mu.Lock()
		// A closing session upgrades too: what it queued before its close
		// (a shutdown notice) then reaches the client on the websocket,
		// which the client, having paused polling, is waiting on.
		if s.probe != conn || s.state == stateEnded {
			s.mu.Unlock()
			return false
		}
		s.probe, s.upgrading = nil, false
		s.websocket, s.conn, s.raw = true, conn, rawConn(conn)
		w := s.poll
		s.poll = nil
		s.kickLocked()
		s.mu.Unlock()
		if w != nil {
			w.wake(upgradedAnswer)
		}
		s.srv.log.Debug("eio session upgraded", "sid", s.id)
		return true
	}
	return false
}

// writeDirect writes on a probing websocket, which no writer goroutine uses.
// The deadline is cleared after: the probe may become the session's
// websocket, whose non-blocking writes must not meet it.
func (s *Session) writeDirect(conn net.Conn, b []byte) bool {
	_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	_, err := conn.Write(b)
	_ = conn.SetWriteDeadline(time.Time{})
	return err == nil
}

// dropProbe abandons an upgrade; the session stays on polling.
func (s *Session) dropProbe(conn net.Conn) {
	s.mu.Lock()
	if s.probe == conn {
		s.probe, s.upgrading = nil, false
	}
	upgraded := s.conn == conn
	s.mu.Unlock()
	if !upgraded {
		_ = conn.Close()
	}
}

var buffersPool = sync.Pool{New: func() any { b := make(net.Buffers, 0, 16); return &b }}

// batchBuffers appends the websocket bytes of batch to bufs, up to and
// including a terminal frame.
func batchBuffers(bufs net.Buffers, batch []*Frame) (net.Buffers, bool) {
	for _, f := range batch {
		bufs = append(bufs, f.ws)
		if f.terminal {
			return bufs, true
		}
	}
	return bufs, false
}

// recycleBatch gives the queue its backing array back when it is unused.
func (s *Session) recycleBatchLocked(batch []*Frame) {
	clear(batch)
	if s.q == nil && cap(batch) <= 256 {
		s.q = batch[:0]
	}
}

// ownedWriteLoop is writeLoop for the server's owner, whose enter the
// caller made.
func (s *Session) ownedWriteLoop(conn net.Conn, pending net.Buffers, terminal bool) {
	defer s.srv.work.Exit()
	s.writeLoop(conn, pending, terminal)
}

// writeLoop writes pending (what a non-blocking write left, ending the
// session after it when terminal), then drains the queue to conn, all
// queued frames in one writev per round, and exits when the queue is empty.
func (s *Session) writeLoop(conn net.Conn, pending net.Buffers, terminal bool) {
	s.srv.writers.Add(1)
	if len(pending) > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		if _, err := pending.WriteTo(conn); err != nil {
			s.end(ReasonTransportError, nil)
			return
		}
		if terminal {
			s.finish()
			return
		}
	}
	bp := buffersPool.Get().(*net.Buffers)
	defer buffersPool.Put(bp)
	for {
		s.mu.Lock()
		if s.state == stateEnded || s.conn != conn || len(s.q) == 0 {
			// writeNow's non-blocking writes must not meet this
			// loop's expired deadline.
			_ = conn.SetWriteDeadline(time.Time{})
			s.writing = false
			s.mu.Unlock()
			return
		}
		batch := s.takeLocked()
		s.mu.Unlock()

		bufs, terminal := batchBuffers((*bp)[:0], batch)
		if hook := s.srv.beforeWrite; hook != nil {
			hook(len(bufs))
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		wb := bufs // WriteTo consumes its receiver
		_, err := wb.WriteTo(conn)
		clear(bufs)
		*bp = bufs[:0]
		s.mu.Lock()
		s.recycleBatchLocked(batch)
		s.mu.Unlock()
		switch {
		case err != nil:
			s.end(ReasonTransportError, nil)
			return
		case terminal:
			s.finish()
			return
		}
	}
}
