//go:build linux

package eio

import (
	"bytes"
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// dialSmallWindow opens a websocket session whose socket has a small
// receive buffer, so that a reader that stops closes its TCP window after
// a few kilobytes instead of megabytes.
func (h *harness) dialSmallWindow() (net.Conn, string) {
	h.t.Helper()
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
			if err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+"&transport=websocket")
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { _ = conn.Close() })
	var c net.Conn = conn
	if br != nil {
		c = bufConn{conn, br}
	}
	return c, parseOpen(h.t, readText(h.t, c)).SID
}

// A reader that stops reading while it is sent small messages is dropped
// as a slow consumer once its socket makes no progress for the stall
// timeout, although the send queue bound, the heartbeat and the write
// timeout are all far away; a reader that keeps reading the same traffic
// is not. Before the stall check, nothing but the heartbeat (~45 s by
// default) ended such a session.
func TestStalledReaderIsDropped(t *testing.T) {
	const stall = time.Second
	h := newHarness(t, Config{
		StallTimeout: stall, PingInterval: time.Hour, PingTimeout: time.Hour, WriteTimeout: time.Hour,
		MaxQueuedFrames: 1 << 20, MaxQueuedBytes: 1 << 30,
	}, false)
	_, stalledSID := h.dialSmallWindow()
	live, liveSID := h.dialSmallWindow()
	go func() {
		// The live reader drains everything it is sent.
		buf := make([]byte, 32<<10)
		for {
			if _, err := live.Read(buf); err != nil {
				return
			}
		}
	}()
	stalled, healthy := h.session(stalledSID), h.session(liveSID)
	closed := h.rec(stalledSID).closed
	msg := bytes.Repeat([]byte("x"), 100)
	start := time.Now()
	sent := 0
	limit := time.After(30 * time.Second)
send:
	for {
		select {
		case <-closed:
			break send
		case <-limit:
			t.Fatalf("the stalled reader was not dropped within 30 s (%d messages of %d bytes sent)", sent, len(msg))
		case <-time.After(time.Millisecond):
		}
		_ = stalled.Send(TextFrame(msg))
		if err := healthy.Send(TextFrame(msg)); err != nil {
			t.Fatalf("the reading session failed after %d messages: %v", sent, err)
		}
		sent++
	}
	took := time.Since(start)
	if got := h.rec(stalledSID).waitClosed(t); got != ReasonSlowConsumer {
		t.Fatalf("stalled reader closed with %q, want %q", got, ReasonSlowConsumer)
	}
	t.Logf("stalled reader dropped after %v and %d messages of %d bytes (stall timeout %v)", took.Round(time.Millisecond), sent, len(msg), stall)
	// The reader that keeps up sees the same traffic for three more stall
	// timeouts and stays.
	for end := time.Now().Add(3 * stall); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if err := healthy.Send(TextFrame(msg)); err != nil {
			t.Fatalf("the reading session was dropped: %v", err)
		}
	}
	select {
	case <-h.rec(liveSID).closed:
		t.Fatalf("the reading session was closed: %v", h.rec(liveSID).reasons)
	default:
	}
}

// BenchmarkSendProgress is the cost of one stall check (one getsockopt
// TCP_INFO), made at most once per second per busy session.
func BenchmarkSendProgress(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			buf := make([]byte, 1<<16)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	raw := rawConn(conn)
	for b.Loop() {
		if _, _, ok := sendProgress(raw); !ok {
			b.Fatal("no TCP_INFO")
		}
	}
}
