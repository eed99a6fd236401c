package sio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// A session that ends at Shutdown ends for a recoverable reason, but a
// server that is shut down keeps nothing for recovery: once Shutdown
// returns no saved session is left and no expiry timer is pending.
func TestShutdownKeepsNoSession(t *testing.T) {
	s := NewServer(eio.Config{}, Config{Recovery: Recovery{Window: time.Minute}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ns := s.Of("/")
	socks := make(chan *Socket, 2)
	gone := make(chan string, 2)
	ns.OnConnection(func(sk *Socket) {
		sk.OnDisconnect(func(reason string) { gone <- reason })
		socks <- sk
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dropped, live := dialWS(t, srv), dialWS(t, srv)
	for _, c := range []*wsClient{dropped, live} {
		c.send("40")
		c.read()
	}
	all := []*Socket{<-socks, <-socks}
	_ = dropped.ws.UnderlyingConn().Close()
	if reason := <-gone; !recoverableReasons[reason] {
		t.Fatalf("disconnect reason %q", reason)
	}
	if n := s.saved.len(); n != 1 {
		t.Fatalf("%d sessions saved after a drop, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if reason := <-gone; reason != eio.ReasonServerClose {
		t.Errorf("disconnect reason at Shutdown %q", reason)
	}
	if n := s.saved.len(); n != 0 {
		t.Errorf("%d sessions saved after Shutdown", n)
	}
	ns.mu.RLock()
	held := len(ns.all)
	ns.mu.RUnlock()
	if held != 0 {
		t.Errorf("the namespace holds %d sockets after Shutdown", held)
	}
	for _, sk := range all {
		sk.mu.Lock()
		pending := sk.expiry != nil && sk.expiry.Stop()
		sk.mu.Unlock()
		if pending {
			t.Errorf("socket %s: expiry timer pending after Shutdown", sk.ID())
		}
	}
}

// Timer callbacks scheduled before Shutdown that would fire after it do
// not run: a pending session's connect timeout, a saved session's expiry.
// (The server has no engine here, so Shutdown ends no session itself.)
func TestNoCallbackAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testServer(t, Config{ConnectTimeout: time.Second, Recovery: Recovery{Window: time.Second}})
		pending := dial(s)
		saved, _ := connectTo(t, s, "/", "")
		saved.drop(eio.ReasonTransportClose)
		if s.saved.len() != 1 {
			t.Fatal("session not saved")
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if closed, reason := pending.isClosed(); closed {
			t.Errorf("pending session closed after Shutdown (%s)", reason)
		}
		// A session that ends after Shutdown is not saved either.
		late, _ := connectTo(t, s, "/", "")
		late.drop(eio.ReasonTransportClose)
		if n := s.saved.len(); n != 0 {
			t.Errorf("%d sessions saved after Shutdown", n)
		}
	})
}
