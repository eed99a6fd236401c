package cli

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// TestSwapConnCloseLeavesNoGoroutine: once Close returns, its events are
// closed and none of the dashboard connection's goroutines (forwarders,
// the drain of events nobody reads any more) is left. A goroutine that
// has signalled its end can still be on its way out for an instant when
// Close returns (CI saw one at its last brace), so their absence is
// awaited briefly, as goleak does; one blocked or still working would
// stay and fail it.
func TestSwapConnCloseLeavesNoGoroutine(t *testing.T) {
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{})
	io.Of("/").OnConnection(func(s *sio.Socket) {
		for i := range 50 {
			_ = s.Emit("notice", i)
		}
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	for range 5 {
		opts := client.SocketOptions{Server: srv.URL, Token: "t"}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sock, err := client.Dial(ctx, opts)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rest := &atomic.Pointer[client.REST]{}
		rest.Store(client.NewREST(srv.URL, "t"))
		c := newSwapConn(sock, opts, rest, "")
		<-c.Events() // events flow; the rest stays unread
		c.Close()
		select {
		case _, open := <-c.Events():
			if open {
				t.Fatal("an event was left in Events after Close")
			}
		default:
			t.Fatal("Events is still open after Close")
		}
		var stacks string
		deadline := time.Now().Add(time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			if !strings.Contains(stacks, "(*swapConn)") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a goroutine of swapConn outlived Close by a second:\n%s", stacks)
			}
			runtime.Gosched()
		}
	}
}
