package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/server/realtime/eio"
	"github.com/coworkctl/coworkctl/internal/server/realtime/sio"
)

// newSIOServer starts a real Socket.IO server (the product's own core)
// that accepts auth.token "good", acks "echo" with its arguments and on
// "fanout" broadcasts "news" to the room "r".
func newSIOServer(t *testing.T) string {
	t.Helper()
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{})
	nsp := io.Of("/")
	nsp.Use(func(h *sio.Handshake) (any, error) {
		if tok, _ := h.Auth["token"].(string); tok != "good" {
			return nil, &sio.ConnectError{Message: "Token non valido", Data: map[string]any{"code": "AUTH_INVALID"}}
		}
		return nil, nil
	})
	nsp.OnConnection(func(s *sio.Socket) {
		s.Join("r")
		s.On("echo", func(e *sio.Event) { e.Ack(e.Args...) })
		s.On("fanout", func(e *sio.Event) {
			if len(e.Args) > 0 {
				_ = nsp.To("r").Emit("news", e.Args[0])
			}
		})
		_ = s.Emit("hello", map[string]any{"id": s.ID()})
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

func TestSIOConnRoundTrip(t *testing.T) {
	url := newSIOServer(t)
	for _, tr := range []string{TransportWebSocket, TransportPolling} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var mu sync.Mutex
			events := map[string][]json.RawMessage{}
			got := make(chan string, 16)
			closed := make(chan error, 1)
			c, err := DialSIO(ctx, SIOOptions{Server: url, Token: "good", Transport: tr,
				OnEvent: func(_ *SIOConn, pkt []byte, at time.Time) {
					if at.IsZero() {
						t.Errorf("zero receive time")
					}
					name, args, err := ParseEvent(pkt)
					if err != nil {
						t.Errorf("ParseEvent(%q): %v", pkt, err)
						return
					}
					mu.Lock()
					events[name] = args
					mu.Unlock()
					got <- name
				},
				OnClose: func(_ *SIOConn, err error) { closed <- err },
			})
			if err != nil {
				t.Fatalf("DialSIO: %v", err)
			}
			waitEvent(t, got, "hello")

			ack, err := c.EmitWithAck(ctx, "echo", map[string]int{"n": 7}, "x")
			if err != nil {
				t.Fatalf("EmitWithAck: %v", err)
			}
			if string(ack) != `[{"n":7},"x"]` {
				t.Fatalf("ack = %s", ack)
			}
			if err := c.Emit("fanout", map[string]string{"k": "v"}); err != nil {
				t.Fatalf("Emit: %v", err)
			}
			waitEvent(t, got, "news")
			mu.Lock()
			news := events["news"]
			mu.Unlock()
			if len(news) != 1 || string(news[0]) != `{"k":"v"}` {
				t.Fatalf("news args = %s", news)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-closed; err != nil {
				t.Fatalf("OnClose after Close got %v, want nil", err)
			}
			if err := c.Emit("echo"); !errors.Is(err, ErrClosed) {
				t.Fatalf("Emit after Close = %v, want ErrClosed", err)
			}
			_ = c.Close() // idempotent
		})
	}
}

func waitEvent(t *testing.T, got <-chan string, want string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case name := <-got:
			if name == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q event within 5s", want)
		}
	}
}

func TestSIOConnRefused(t *testing.T) {
	url := newSIOServer(t)
	for _, tr := range []string{TransportWebSocket, TransportPolling} {
		t.Run(tr, func(t *testing.T) {
			_, err := DialSIO(context.Background(), SIOOptions{Server: url, Token: "bad", Transport: tr})
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Message != "Token non valido" || !strings.Contains(string(ce.Data), "AUTH_INVALID") {
				t.Fatalf("DialSIO with a bad token = %v, want connect_error Token non valido", err)
			}
		})
	}
}

func TestSIOConnServerGone(t *testing.T) {
	_, err := DialSIO(context.Background(), SIOOptions{Server: "http://127.0.0.1:1", Token: "good", ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("DialSIO to a closed port succeeded")
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		pkt, name string
		nargs     int
		wantErr   bool
	}{
		{`["a",1,{"b":2}]`, "a", 2, false},
		{`12["with_ack"]`, "with_ack", 0, false},
		{`[]`, "", 0, true},
		{`[1]`, "", 0, true},
		{`not json`, "", 0, true},
	}
	for _, tt := range tests {
		name, args, err := ParseEvent([]byte(tt.pkt))
		if (err != nil) != tt.wantErr || name != tt.name || len(args) != tt.nargs {
			t.Errorf("ParseEvent(%q) = %q, %d args, %v", tt.pkt, name, len(args), err)
		}
	}
}
