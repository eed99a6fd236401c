// Command conformance serves the echo servers that the official Engine.IO
// v4 and Socket.IO v5 protocol suites (socket.io repository,
// docs/engine.io-protocol/v4-test-suite and
// docs/socket.io-protocol/v5-test-suite) expect on localhost:3000, on
// coworkctl's production engine (internal/socketio/eio and sio) with
// the engine's own defaults (transports, limits, queue bounds), the
// suites' heartbeat (300 ms / 200 ms) and maximum payload (1 MB).
// Connection state recovery is off, as in the suites' reference server:
// their expected packets carry no session pid or offsets.
//
// It serves until SIGINT or SIGTERM: scripts/conformance-server runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (the suites use localhost:3000)")
	verbose := flag.Bool("v", false, "log sessions at debug level")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

// engineConfig is the engine's defaults with the suites' settings.
func engineConfig(log *slog.Logger) eio.Config {
	return eio.Config{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1_000_000,
		AllowOrigin:  func(string) bool { return true },
		Logger:       log,
	}
}

func run(ctx context.Context, addr string, log *slog.Logger) error {
	ecfg := engineConfig(log)
	ecfg.OnSession = func(s *eio.Session) eio.Handler { return echo{s} }
	engine := eio.NewServer(ecfg)

	// Recovery stays off (the zero Recovery), as in the reference server.
	io := sio.NewServer(engineConfig(log), sio.Config{Logger: log})
	io.Of("/").OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", authOf(s))
		s.On("message", func(e *sio.Event) { _ = s.Emit("message-back", e.Args...) })
		s.On("message-with-ack", func(e *sio.Event) { e.Ack(e.Args...) })
	})
	io.Of("/custom").OnConnection(func(s *sio.Socket) { _ = s.Emit("auth", authOf(s)) })

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", engine)
	mux.Handle("/socket.io/", io)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "conformance echo servers on http://%s (/engine.io/ and /socket.io/); stop with SIGTERM\n", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = engine.Shutdown(sctx)
	_ = io.Shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// authOf is the CONNECT payload, {} when the client sent none.
func authOf(s *sio.Socket) map[string]any {
	if a := s.Handshake().Auth; a != nil {
		return a
	}
	return map[string]any{}
}

// echo sends every Engine.IO message back as it came.
type echo struct{ s *eio.Session }

func (e echo) OnMessage(data []byte, binary bool) {
	b := append([]byte(nil), data...)
	if binary {
		_ = e.s.Send(eio.BinaryFrame(b))
		return
	}
	_ = e.s.Send(eio.TextFrame(b))
}

func (echo) OnClose(string) {}
