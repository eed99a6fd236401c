//go:build conformance

package realtime

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"testing"
	"time"

	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/config"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// TestConformanceEcho serves the Engine.IO echo server that the official
// protocol suite (socket.io repository, docs/engine.io-protocol/v4-test-suite)
// expects on localhost:3000, with this package's websocket transport; with
// EIO_TRANSPORT=library, with the library's own, for a side-by-side run.
// It serves until interrupted or the test deadline:
//
//	go test -tags conformance -run TestConformanceEcho -timeout 10m ./internal/server/realtime &
//	(cd v4-test-suite && npx mocha test-suite.js)
func TestConformanceEcho(t *testing.T) {
	opts := config.DefaultServerOptions()
	opts.SetPingInterval(300 * time.Millisecond) // the suite's PING_INTERVAL and PING_TIMEOUT
	opts.SetPingTimeout(200 * time.Millisecond)
	opts.SetMaxHttpBufferSize(1e6)
	opts.SetCors(&types.Cors{Origin: "*"})
	var ws transports.TransportCtor = newSharedFrameWS()
	if os.Getenv("EIO_TRANSPORT") == "library" {
		ws = engine.WebSocket
	}
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.Polling, ws))
	eio := engine.NewServer(opts)
	_ = eio.On("connection", func(args ...any) {
		s := args[0].(engine.Socket)
		_ = s.On("message", func(a ...any) { s.Send(a[0].(types.BufferInterface), nil, nil) })
	})
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	serveUntilDone(t, mux)
	eio.Close()
}

// TestConformanceSocketIO serves the Socket.IO echo server that the official
// protocol suite (docs/socket.io-protocol/v5-test-suite) expects, on the
// library's Socket.IO server with this package's websocket transport
// (EIO_TRANSPORT=library: the library's own).
func TestConformanceSocketIO(t *testing.T) {
	opts := sio.DefaultServerOptions()
	opts.SetPingInterval(300 * time.Millisecond)
	opts.SetPingTimeout(200 * time.Millisecond)
	opts.SetMaxHttpBufferSize(1e6)
	opts.SetConnectTimeout(time.Second)
	opts.SetCors(&types.Cors{Origin: "*"})
	var ws transports.TransportCtor = newSharedFrameWS()
	if os.Getenv("EIO_TRANSPORT") == "library" {
		ws = engine.WebSocket
	}
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.Polling, ws))
	io := sio.NewServer(nil, opts)
	_ = io.On("connection", func(args ...any) {
		s := args[0].(*sio.Socket)
		_ = s.Emit("auth", s.Handshake().Auth)
		_ = s.On("message", func(a ...any) { _ = s.Emit("message-back", a...) })
		_ = s.On("message-with-ack", func(a ...any) {
			if payload, ack := splitAck(a); ack != nil {
				ack(payload, nil)
			}
		})
	})
	_ = io.Of("/custom", nil).On("connection", func(args ...any) {
		s := args[0].(*sio.Socket)
		_ = s.Emit("auth", s.Handshake().Auth)
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	serveUntilDone(t, mux)
	io.Close(nil)
}

func serveUntilDone(t *testing.T, h http.Handler) {
	srv := &http.Server{Addr: "127.0.0.1:3000", Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Second))
		defer cancel()
	}
	<-ctx.Done()
	_ = srv.Close()
}
