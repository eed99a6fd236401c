package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// newSIOServer starts a real Socket.IO server (the product's own core)
// that accepts auth.token "good", acks "echo" with its arguments and on
// "fanout" broadcasts "news" to the room "r".
func newSIOServer(t *testing.T) string {
	t.Helper()
	return newSIOServerWith(t, sio.Config{})
}

// newSIOServerWith is newSIOServer with a Socket.IO configuration.
func newSIOServerWith(t *testing.T, cfg sio.Config) string {
	t.Helper()
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, cfg)
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

// With connection state recovery the server appends an offset to every
// event; the connection's ParseEvent drops it, the package's keeps it.
func TestSIOConnDropsRecoveryOffset(t *testing.T) {
	for _, recovery := range []bool{false, true} {
		cfg := sio.Config{}
		if recovery {
			cfg.Recovery = sio.Recovery{Window: time.Minute}
		}
		url := newSIOServerWith(t, cfg)
		for _, tr := range []string{TransportWebSocket, TransportPolling} {
			t.Run(fmt.Sprintf("recovery=%v/%s", recovery, tr), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				type parsed struct{ args, raw []json.RawMessage }
				got := make(chan parsed, 4)
				c, err := DialSIO(ctx, SIOOptions{Server: url, Token: "good", Transport: tr,
					OnEvent: func(c *SIOConn, pkt []byte, _ time.Time) {
						name, args, err := c.ParseEvent(pkt)
						_, raw, _ := ParseEvent(pkt)
						if err == nil && name == "news" {
							got <- parsed{args, raw}
						}
					},
				})
				if err != nil {
					t.Fatalf("DialSIO: %v", err)
				}
				defer c.Close()
				if c.Recoverable() != recovery {
					t.Fatalf("Recoverable() = %v, want %v", c.Recoverable(), recovery)
				}
				// A string payload must survive: only the appended offset goes.
				if err := c.Emit("fanout", "ciao"); err != nil {
					t.Fatal(err)
				}
				select {
				case p := <-got:
					if len(p.args) != 1 || string(p.args[0]) != `"ciao"` {
						t.Errorf("args = %s, want [\"ciao\"]", p.args)
					}
					wantRaw := 1
					if recovery {
						wantRaw = 2
					}
					if len(p.raw) != wantRaw {
						t.Errorf("package ParseEvent args = %s, want %d", p.raw, wantRaw)
					}
				case <-ctx.Done():
					t.Fatal("no news event")
				}
			})
		}
	}
}

func TestSIOConnParseEvent(t *testing.T) {
	tests := []struct {
		pkt      string
		recovery bool
		want     string
	}{
		{`["a",{"x":1},"off-1"]`, true, `[{"x":1}]`},
		{`["a",{"x":1},"off-1"]`, false, `[{"x":1},"off-1"]`},
		{`["a","ciao","off-1"]`, true, `["ciao"]`},
		{`["a",{"x":1}]`, true, `[{"x":1}]`}, // transient: no offset, object last
		{`["a"]`, true, `[]`},
		{`3["a",1,"off-1"]`, true, `[1]`},
	}
	for _, tt := range tests {
		c := &SIOConn{recovery: tt.recovery}
		_, args, err := c.ParseEvent([]byte(tt.pkt))
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", tt.pkt, err)
		}
		if args == nil {
			args = []json.RawMessage{}
		}
		if b, _ := json.Marshal(args); string(b) != tt.want {
			t.Errorf("ParseEvent(%s), recovery %v = %s, want %s", tt.pkt, tt.recovery, b, tt.want)
		}
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
