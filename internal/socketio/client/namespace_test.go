package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// TestNamespace: a connection joins the namespace it names, emits and
// acks travel in it, and events of the main namespace do not reach it.
func TestNamespace(t *testing.T) {
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{})
	main := io.Of("/")
	main.OnConnection(func(s *sio.Socket) { _ = s.Emit("main_only", 1) })
	nsp := io.Of("/personalised")
	nsp.OnConnection(func(s *sio.Socket) {
		s.On("echo", func(e *sio.Event) { _ = s.Emit("echoResponse", e.Args...) })
		s.On("userDetails", func(e *sio.Event) { e.Ack(map[string]string{"name": "Artillery"}) })
		s.On("broadcast_main", func(*sio.Event) { _ = main.Emit("main_only", 2) })
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := make(chan string, 16)
			c, err := Dial(ctx, Options{URL: srv.URL, Namespace: "/personalised", Transports: trs,
				OnEvent: func(_ *Conn, e Event) {
					b, _ := json.Marshal(e.Args)
					got <- e.Name + " " + string(b)
				}})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			ack, err := c.EmitWithAck(ctx, "userDetails")
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(ack); string(b) != `[{"name":"Artillery"}]` {
				t.Fatalf("ack %s", b)
			}
			// A main-namespace broadcast first, then an echo: the echo
			// must be the first event this connection sees.
			if err := c.Emit("broadcast_main"); err != nil {
				t.Fatal(err)
			}
			if err := c.Emit("echo", "Hello from Artillery"); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-got:
				if e != `echoResponse ["Hello from Artillery"]` {
					t.Fatalf("first event %q, want the echo (main namespace events must not arrive)", e)
				}
			case <-ctx.Done():
				t.Fatal("no echoResponse")
			}
		})
	}
}
