package eio

import (
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/lifecycle"
)

// A websocket's queue is written by the server's flusher: a few
// goroutines, existing only while there is work, that make one
// non-blocking writev per session. A broadcast to healthy clients then
// costs a system call per recipient and no goroutine per recipient; when
// the flusher lags behind (a busy server), what each session queued
// meanwhile goes out in the same writev. What a socket does not take at
// once goes to a writer goroutine of its own, which waits for the socket
// under the write timeout.

// flusher runs writeNow for the sessions scheduled on it, on at most max
// goroutines at a time.
type flusher struct {
	max  int
	work *lifecycle.Group

	mu      sync.Mutex
	queue   []flushJob
	head    int
	workers int
}

type flushJob struct {
	s    *Session
	conn net.Conn
}

// schedule queues s for writing; the caller set s.writing.
func (f *flusher) schedule(s *Session, conn net.Conn) {
	f.mu.Lock()
	f.queue = append(f.queue, flushJob{s, conn})
	start := f.workers < f.max
	if start {
		f.workers++
	}
	f.mu.Unlock()
	if !start {
		return
	}
	if !f.work.Enter() {
		// Shut down: every session has ended, nothing is left to write.
		f.mu.Lock()
		f.workers--
		f.mu.Unlock()
		return
	}
	go f.ownedRun()
}

// ownedRun is run for the server's owner, whose enter the caller made.
func (f *flusher) ownedRun() {
	defer f.work.Exit()
	f.run()
}

// yieldEvery is how many sessions a flusher goroutine writes between
// yields. A busy server's other goroutines (more broadcasts) then run in
// between, and sessions still waiting collect their frames into one
// writev instead of one system call each.
const yieldEvery = 16

func (f *flusher) run() {
	for n := 1; ; n++ {
		if n%yieldEvery == 0 {
			runtime.Gosched()
		}
		f.mu.Lock()
		if f.head == len(f.queue) {
			clear(f.queue)
			f.queue, f.head = f.queue[:0], 0
			if cap(f.queue) > 4096 {
				f.queue = nil
			}
			f.workers--
			f.mu.Unlock()
			return
		}
		j := f.queue[f.head]
		f.queue[f.head] = flushJob{}
		f.head++
		f.mu.Unlock()
		j.s.writeNow(j.conn)
	}
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// writeNow writes the queue without blocking; the caller set s.writing.
func (s *Session) writeNow(conn net.Conn) {
	s.mu.Lock()
	if s.state == stateEnded || s.conn != conn || len(s.q) == 0 {
		s.writing = false
		s.mu.Unlock()
		return
	}
	if s.stalled(time.Now()) {
		s.writing = false
		s.mu.Unlock()
		s.srv.log.Debug("eio session stalled: the peer acknowledged nothing", "sid", s.id, "stall_timeout", s.srv.cfg.StallTimeout)
		s.end(ReasonSlowConsumer, nil)
		return
	}
	batch, raw := s.takeLocked(), s.raw
	s.mu.Unlock()

	bp := buffersPool.Get().(*net.Buffers)
	bufs, terminal := batchBuffers((*bp)[:0], batch)
	if hook := s.srv.beforeWrite; hook != nil {
		hook(len(bufs))
	}
	first := bufs[:min(len(bufs), maxIovecs)]
	n, err := writevNonblocking(raw, first)
	var rest net.Buffers
	if err == nil {
		rest = unwritten(bufs, n)
	}
	clear(bufs)
	*bp = bufs[:0]
	buffersPool.Put(bp)
	s.mu.Lock()
	s.recycleBatchLocked(batch)
	more := len(s.q) > 0 && s.state != stateEnded && s.conn == conn
	if err == nil && len(rest) == 0 && !terminal && !more {
		s.writing = false
	}
	s.mu.Unlock()

	switch {
	case err != nil:
		s.end(ReasonTransportError, nil)
	case len(rest) > 0:
		// Refused only once shut down, when the session has ended.
		if s.srv.work.Enter() {
			go s.ownedWriteLoop(conn, rest, terminal)
		}
	case terminal:
		s.finish()
	case more:
		s.srv.flush.schedule(s, conn)
	}
}

// unwritten is what of bufs is left after n bytes were written, copied
// out of bufs (whose array goes back to its pool); the bytes themselves
// are frames', shared and never changed.
func unwritten(bufs net.Buffers, n int) net.Buffers {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		return nil
	}
	rest := make(net.Buffers, len(bufs))
	copy(rest, bufs)
	rest[0] = rest[0][n:]
	return rest
}
