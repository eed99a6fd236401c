package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// A server with connection state recovery appends an offset to every
// event; emit socket must print the payload only.
func TestEmitSocketHidesRecoveryOffset(t *testing.T) {
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{Recovery: sio.Recovery{Window: time.Minute}})
	io.Of("/").OnConnection(func(s *sio.Socket) {
		s.On("probe", func(e *sio.Event) {
			_ = s.Emit("connection_confirmed", map[string]any{"userId": 1})
			_ = s.Emit("notice", "ciao")
			e.Ack(map[string]any{"success": true})
		})
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	for _, tr := range []string{sioclient.TransportWebSocket, sioclient.TransportPolling} {
		t.Run(tr, func(t *testing.T) {
			f, out, _ := testFactory(nil)
			o := &EmitSocketOptions{F: f, Event: "probe", AckTimeout: 5 * time.Second, Transport: tr,
				Conn: ConnFlags{Server: srv.URL, Token: "t"}}
			if err := runEmitSocket(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			want := "connection_confirmed {\"userId\":1}\nnotice \"ciao\"\nack [{\"success\":true}]\n"
			if out.String() != want {
				t.Fatalf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestEmitSocketUnreachable(t *testing.T) {
	f, _, _ := testFactory(nil)
	o := &EmitSocketOptions{F: f, Event: "probe", AckTimeout: time.Second, Transport: sioclient.TransportWebSocket,
		Conn: ConnFlags{Server: "http://127.0.0.1:1", Token: "t"}}
	err := runEmitSocket(context.Background(), o)
	if err == nil || err.Error() != "cannot reach http://127.0.0.1:1: connection refused" {
		t.Fatalf("err = %v, want cannot reach … connection refused", err)
	}
	if strings.Contains(err.Error(), "dial tcp") {
		t.Fatalf("raw Go error leaked: %v", err)
	}
}
