//go:build conformance

package sio

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/server/realtime/eio"
)

// TestConformanceEchoServer serves the echo server that the official
// Socket.IO v5 protocol suite (socket.io repository,
// docs/socket.io-protocol/v5-test-suite) expects on localhost:3000, until
// interrupted or the test deadline (SIO_CONFORMANCE_ADDR serves elsewhere):
//
//	go test -tags conformance -run TestConformanceEchoServer -timeout 30m ./internal/server/realtime/sio &
//	(cd v5-test-suite && npx mocha test-suite.js)
func TestConformanceEchoServer(t *testing.T) {
	engine := eio.Config{
		PingInterval: 300 * time.Millisecond, // the suite's PING_INTERVAL and PING_TIMEOUT
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1e6,
		AllowOrigin:  func(string) bool { return true },
	}
	s := NewServer(engine, Config{ConnectTimeout: time.Second})
	echo := func(sk *Socket) {
		auth := sk.Handshake().Auth
		if auth == nil {
			auth = map[string]any{} // Node's default
		}
		_ = sk.Emit("auth", auth)
	}
	s.Of("/").OnConnection(func(sk *Socket) {
		echo(sk)
		sk.On("message", func(e *Event) { _ = sk.Emit("message-back", e.Args...) })
		sk.On("message-with-ack", func(e *Event) { e.Ack(e.Args...) })
	})
	s.Of("/custom").OnConnection(echo)

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s)
	addr := os.Getenv("SIO_CONFORMANCE_ADDR") // for a suite copy pointed elsewhere
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Second))
		defer cancel()
	}
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(shutdownCtx)
	_ = srv.Close()
}

// TestConformanceRecoveryServer serves, for a script with the official
// socket.io-client, a server with recovery on: "join" joins a room (and
// acks), "send" broadcasts "news" to a room (and acks), "bad" gets a
// transient "refused" reply.
func TestConformanceRecoveryServer(t *testing.T) {
	engine := eio.Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}
	s := NewServer(engine, Config{Recovery: Recovery{Window: time.Minute}})
	ns := s.Of("/")
	ns.OnConnection(func(sk *Socket) {
		sk.On("join", func(e *Event) {
			room, _ := e.Args[0].(string)
			sk.Join(room)
			e.Ack(sk.Recovered())
		})
		sk.On("send", func(e *Event) {
			room, _ := e.Args[0].(string)
			_ = ns.To(room).Emit("news", e.Args[1])
			e.Ack()
		})
		sk.On("bad", func(e *Event) { _ = sk.EmitTransient("refused", map[string]any{"code": "bad"}) })
	})
	addr := os.Getenv("SIO_CONFORMANCE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	_ = srv.Close()
}
