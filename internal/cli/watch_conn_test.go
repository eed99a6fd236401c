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

// TestSwapConnCloseLeavesNoGoroutine: once Close returns, none of the
// dashboard connection's goroutines (forwarders, the drain of events
// nobody reads any more) is left running.
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
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if strings.Contains(stacks, "(*swapConn)") {
			t.Fatalf("a goroutine of swapConn outlived Close:\n%s", stacks)
		}
	}
}
