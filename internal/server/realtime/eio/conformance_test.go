//go:build conformance

package eio

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"testing"
	"time"
)

// TestConformanceEchoServer serves the echo server that the official
// Engine.IO v4 suite (socket.io repository,
// docs/engine.io-protocol/v4-test-suite) expects on localhost:3000, until
// interrupted or the test deadline:
//
//	go test -tags conformance -run TestConformanceEchoServer -timeout 30m ./internal/server/realtime/eio &
//	(cd v4-test-suite && npx mocha test-suite.js)
func TestConformanceEchoServer(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if path := os.Getenv("EIO_DEBUG_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := NewServer(Config{
		Logger:       logger,
		PingInterval: 300 * time.Millisecond, // the suite's PING_INTERVAL and PING_TIMEOUT
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1e6,
		AllowOrigin:  func(string) bool { return true },
		OnSession:    func(s *Session) Handler { return echo{s} },
	})
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := &http.Server{Addr: "127.0.0.1:3000", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.ListenAndServe() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Second))
		defer cancel()
	}
	<-ctx.Done()
	_ = hs.Close()
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}

// echo sends every message back.
type echo struct{ s *Session }

func (e echo) OnMessage(data []byte, binary bool) {
	data = append([]byte(nil), data...) // data is only valid during the call
	if binary {
		_ = e.s.Send(BinaryFrame(data))
		return
	}
	_ = e.s.Send(TextFrame(data))
}

func (echo) OnClose(string) {}
