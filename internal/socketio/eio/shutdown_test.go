package eio

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
)

// engineWork lists the goroutines doing the engine's work: readers (and
// the handler calls they make), writers, flushers, close notifications,
// timer callbacks. A goroutine that has signalled its owner and is only
// exiting shows none of these functions any more.
func engineWork() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	funcs := []string{
		"eio.(*Session).readLoop", "eio.(*Session).writeLoop", "eio.(*Session).writeNow",
		"eio.(*flusher).run", "eio.(*Session).notifyClose", "eio.(*Session).onTimer",
		"eio.(*Server).linger.func1",
	}
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		for _, line := range lines[1:] {
			// Frames only: not file lines, not where it was started.
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "created by ") {
				continue
			}
			if i := slices.IndexFunc(funcs, func(f string) bool { return strings.Contains(line, f) }); i >= 0 {
				found = append(found, lines[0]+" "+funcs[i])
				break
			}
		}
	}
	return found
}

func (r *recorder) hasClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// Once Shutdown returns, nothing of the server runs: readers, writers and
// close notifications have ended, also when the sessions were cut
// because ctx ended while a handler was still running.
func TestShutdownLeavesNothingRunning(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		h := newHarness(t, Config{}, true)
		conns := make([]string, 0, 30)
		for range 30 {
			conn, sid := h.wsSession()
			writeText(t, conn, "4hi")
			if got := readText(t, conn); got != "4hi" {
				t.Fatalf("echo %q", got)
			}
			conns = append(conns, sid)
		}
		psid := h.pollingSession()
		pending := h.asyncGet(psid)
		h.waitPolling(psid)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if left := engineWork(); len(left) > 0 {
			t.Errorf("running after Shutdown returned:\n%s", strings.Join(left, "\n"))
		}
		for _, sid := range conns {
			if !h.rec(sid).hasClosed() {
				t.Errorf("session %s: OnClose not called before Shutdown returned", sid)
			}
		}
		recv(t, pending)
	})

	t.Run("cut", func(t *testing.T) {
		h := newHarness(t, Config{}, false)
		entered := make(chan struct{})
		release := make(chan struct{})
		var once sync.Once
		h.hold = func(data []byte) {
			if string(data) == "hold" {
				once.Do(func() { close(entered) })
				<-release
			}
		}
		busy, bsid := h.wsSession()
		for range 10 {
			h.wsSession()
		}
		// A polling session with no GET to carry its close ends only
		// when ctx ends and Shutdown cuts it.
		idle := h.pollingSession()
		writeText(t, busy, "4hold")
		<-entered

		var released atomic.Bool
		type outcome struct {
			err    error
			early  bool     // returned while the handler was still running
			closed bool     // the busy session's OnClose had returned
			left   []string // engine work still running
		}
		out := make(chan outcome, 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: the sessions are cut at once
		go func() {
			err := h.srv.Shutdown(ctx)
			out <- outcome{err, !released.Load(), h.rec(bsid).hasClosed(), engineWork()}
		}()
		// Once the sessions are cut, the handler may return.
		testkit.Eventually(t, 5*time.Second, "the idle session cut", func() bool { return h.session(idle) == nil })
		readUntilClosed(t, busy)
		released.Store(true)
		close(release)
		var o outcome
		select {
		case o = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown did not return once the handler did")
		}
		if !errors.Is(o.err, context.Canceled) {
			t.Errorf("Shutdown = %v, want context.Canceled", o.err)
		}
		if o.early {
			t.Error("Shutdown returned while a handler was still running")
		}
		if !o.closed {
			t.Error("Shutdown returned before the OnClose of a session whose handler was running")
		}
		if len(o.left) > 0 {
			t.Errorf("running after Shutdown returned:\n%s", strings.Join(o.left, "\n"))
		}
	})
}

// A polling session ended by the client's close POST stays findable for a
// while (for the GET the POST overtook); Shutdown stops that timer.
func TestShutdownStopsLingerTimers(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	if code, _ := h.post(sid, "1"); code != 200 {
		t.Fatalf("close POST: %d", code)
	}
	s := h.session(sid)
	if s == nil {
		t.Fatal("the closed session does not linger")
	}
	if err := h.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.session(sid) != nil {
		t.Error("the session still lingers after Shutdown")
	}
	h.srv.mu.Lock()
	pending := s.lingerTimer.Stop()
	h.srv.mu.Unlock()
	if pending {
		t.Error("its linger timer was still pending after Shutdown")
	}
}
