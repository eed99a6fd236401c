package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// newServer starts a real Socket.IO server (our own sio) that accepts
// auth.token "good", acks "echo" with its arguments, on "fanout"
// broadcasts "news" to the room "r", acks "whoami" with the transport,
// query and header it saw, and on "kick" disconnects the socket.
func newServer(t testing.TB, cfg sio.Config) string {
	t.Helper()
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, cfg)
	nsp := io.Of("/")
	nsp.Use(func(h *sio.Handshake) (any, error) {
		if tok, _ := h.Auth["token"].(string); tok != "good" {
			return nil, &sio.ConnectError{Message: "Token non valido", Data: map[string]any{"code": "AUTH_INVALID"}}
		}
		// The socket keeps no query or headers after the handshake.
		return []string{h.Query.Get("room"), h.Headers.Get("X-Probe")}, nil
	})
	nsp.OnConnection(func(s *sio.Socket) {
		s.Join("r")
		s.On("echo", func(e *sio.Event) { e.Ack(e.Args...) })
		s.On("fanout", func(e *sio.Event) {
			if len(e.Args) > 0 {
				_ = nsp.To("r").Emit("news", e.Args[0])
			}
		})
		s.On("whoami", func(e *sio.Event) {
			seen := s.Data().([]string)
			e.Ack(s.Transport(), seen[0], seen[1])
		})
		s.On("kick", func(*sio.Event) { s.Disconnect(false) })
		_ = s.Emit("hello", map[string]any{"id": s.ID()})
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
	return srv.URL
}

var transportSets = map[string][]string{
	"websocket": {TransportWebSocket},
	"polling":   {TransportPolling},
	"upgrade":   {TransportPolling, TransportWebSocket},
}

func TestRoundTrip(t *testing.T) {
	url := newServer(t, sio.Config{})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var mu sync.Mutex
			events := map[string][]json.RawMessage{}
			got := make(chan string, 16)
			closed := make(chan error, 1)
			c, err := Dial(ctx, Options{URL: url, Auth: map[string]string{"token": "good"}, Transports: trs,
				OnEvent: func(_ *Conn, e Event) {
					if e.At.IsZero() {
						t.Errorf("zero receive time")
					}
					mu.Lock()
					events[e.Name] = e.Args
					mu.Unlock()
					got <- e.Name
				},
				OnClose: func(_ *Conn, err error) { closed <- err },
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			// hello is sent right after the CONNECT answer: during an
			// upgrade it must reach us on one transport or the other.
			waitEvent(t, got, "hello")
			if want := trs[len(trs)-1]; c.Transport() != want {
				t.Fatalf("Transport() = %s, want %s (upgrade error %v)", c.Transport(), want, c.UpgradeErr())
			}

			ack, err := c.EmitWithAck(ctx, "echo", map[string]int{"n": 7}, "x")
			if err != nil {
				t.Fatalf("EmitWithAck: %v", err)
			}
			if b, _ := json.Marshal(ack); string(b) != `[{"n":7},"x"]` {
				t.Fatalf("ack = %s", b)
			}
			ack, err = c.EmitWithAck(ctx, "whoami")
			if err != nil {
				t.Fatalf("EmitWithAck: %v", err)
			}
			if want := `"` + trs[len(trs)-1] + `"`; len(ack) == 0 || string(ack[0]) != want {
				t.Fatalf("server sees transport %s, want %s", ack, want)
			}
			if err := c.Emit("fanout", map[string]string{"k": "<&>"}); err != nil {
				t.Fatalf("Emit: %v", err)
			}
			waitEvent(t, got, "news")
			mu.Lock()
			news := events["news"]
			mu.Unlock()
			if len(news) != 1 || string(news[0]) != `{"k":"<&>"}` {
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
			if _, err := c.EmitWithAck(ctx, "echo"); !errors.Is(err, ErrClosed) {
				t.Fatalf("EmitWithAck after Close = %v, want ErrClosed", err)
			}
			_ = c.Close() // idempotent
		})
	}
}

// Query and headers reach the server on every transport, the websocket
// of an upgrade included.
func TestQueryAndHeader(t *testing.T) {
	url := newServer(t, sio.Config{})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, Options{URL: url, Auth: map[string]string{"token": "good"}, Transports: trs,
				Query: map[string][]string{"room": {"a b"}}, Header: http.Header{"X-Probe": {"yes"}}})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			ack, err := c.EmitWithAck(ctx, "whoami")
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(ack); string(b) != fmt.Sprintf(`[%q,"a b","yes"]`, trs[len(trs)-1]) {
				t.Fatalf("server saw %s", b)
			}
		})
	}
}

// With connection state recovery the server appends an offset to every
// event: Event.Args and ParseEvent drop it, Event.Offset keeps it.
func TestRecoveryOffset(t *testing.T) {
	for _, recovery := range []bool{false, true} {
		cfg := sio.Config{}
		if recovery {
			cfg.Recovery = sio.Recovery{Window: time.Minute}
		}
		url := newServer(t, cfg)
		for name, trs := range transportSets {
			t.Run(fmt.Sprintf("recovery=%v/%s", recovery, name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				events := make(chan Event, 4)
				raws := make(chan []json.RawMessage, 4)
				c, err := Dial(ctx, Options{URL: url, Auth: map[string]string{"token": "good"}, Transports: trs,
					OnEvent: func(_ *Conn, e Event) {
						if e.Name == "news" {
							events <- e
						}
					},
					OnRawEvent: func(c *Conn, payload []byte, _ time.Time) {
						if name, args, err := c.ParseEvent(payload); err == nil && name == "news" {
							raws <- args
						}
					},
				})
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if c.Recoverable() != recovery {
					t.Fatalf("Recoverable() = %v, want %v", c.Recoverable(), recovery)
				}
				// A string payload must survive: only the appended offset goes.
				if err := c.Emit("fanout", "ciao"); err != nil {
					t.Fatal(err)
				}
				var e Event
				select {
				case e = <-events:
				case <-ctx.Done():
					t.Fatal("no news event")
				}
				if len(e.Args) != 1 || string(e.Args[0]) != `"ciao"` {
					t.Errorf("args = %s, want [\"ciao\"]", e.Args)
				}
				if (e.Offset != "") != recovery {
					t.Errorf("offset = %q with recovery %v", e.Offset, recovery)
				}
				if args := <-raws; len(args) != 1 || string(args[0]) != `"ciao"` {
					t.Errorf("ParseEvent args = %s, want [\"ciao\"]", args)
				}
			})
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		pkt      string
		recovery bool
		want     string
		wantErr  bool
	}{
		{`["a",{"x":1},"off-1"]`, true, `[{"x":1}]`, false},
		{`["a",{"x":1},"off-1"]`, false, `[{"x":1},"off-1"]`, false},
		{`["a","ciao","off-1"]`, true, `["ciao"]`, false},
		{`["a",{"x":1}]`, true, `[{"x":1}]`, false}, // transient: no offset, object last
		{`["a"]`, true, `[]`, false},
		{`[]`, false, ``, true},
		{`[1]`, false, ``, true},
		{`not json`, false, ``, true},
	}
	for _, tt := range tests {
		c := &Conn{}
		if tt.recovery {
			c.pid = "p"
		}
		name, args, err := c.ParseEvent([]byte(tt.pkt))
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseEvent(%s): err %v, want error %v", tt.pkt, err, tt.wantErr)
		}
		if err != nil {
			continue
		}
		if args == nil {
			args = []json.RawMessage{}
		}
		if b, _ := json.Marshal(args); name != "a" || string(b) != tt.want {
			t.Errorf("ParseEvent(%s), recovery %v = %q %s, want a %s", tt.pkt, tt.recovery, name, b, tt.want)
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

func TestRefused(t *testing.T) {
	url := newServer(t, sio.Config{})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			_, err := Dial(context.Background(), Options{URL: url, Auth: map[string]string{"token": "bad"}, Transports: trs})
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Message != "Token non valido" || ce.Code() != "AUTH_INVALID" {
				t.Fatalf("Dial with a bad token = %v, want connect_error Token non valido", err)
			}
			_, err = Dial(context.Background(), Options{URL: url, Transports: trs})
			if !errors.As(err, &ce) || ce.Message != "Token non valido" {
				t.Fatalf("Dial without auth = %v, want connect_error", err)
			}
		})
	}
}

// A handshake the server refuses comes back as an *HTTPError.
func TestHandshakeRefused(t *testing.T) {
	base := newServer(t, sio.Config{})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			_, err := Dial(context.Background(), Options{URL: base, Path: "/socket.io/", Auth: map[string]string{"token": "good"},
				Transports: trs, Query: url.Values{"EIO": {"3"}}})
			// Our query cannot override the protocol version.
			if err != nil {
				t.Fatalf("Dial with EIO=3 in Query: %v", err)
			}
			_, err = Dial(context.Background(), Options{URL: base, Path: "/elsewhere/", Auth: map[string]string{"token": "good"}, Transports: trs})
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
				t.Fatalf("Dial on a wrong path = %v, want an HTTPError 404", err)
			}
		})
	}
}

func TestServerDisconnect(t *testing.T) {
	url := newServer(t, sio.Config{})
	for name, trs := range transportSets {
		t.Run(name, func(t *testing.T) {
			closed := make(chan error, 1)
			c, err := Dial(context.Background(), Options{URL: url, Auth: map[string]string{"token": "good"}, Transports: trs,
				OnClose: func(_ *Conn, err error) { closed <- err }})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Emit("kick"); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-closed:
				if !errors.Is(err, ErrServerDisconnect) {
					t.Fatalf("OnClose(%v), want ErrServerDisconnect", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no close after the server's disconnect")
			}
			<-c.Done()
			if _, err := c.EmitWithAck(context.Background(), "echo"); !errors.Is(err, ErrClosed) {
				t.Fatalf("EmitWithAck after the server's disconnect = %v, want ErrClosed", err)
			}
			_ = c.Close()
		})
	}
}

func TestServerGone(t *testing.T) {
	_, err := Dial(context.Background(), Options{URL: "http://127.0.0.1:1", ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	if _, err := Dial(context.Background(), Options{URL: "ftp://x"}); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("Dial ftp:// = %v, want a scheme error", err)
	}
	if _, err := Dial(context.Background(), Options{URL: "http://x", Transports: []string{"carrier-pigeon"}}); err == nil {
		t.Fatal("Dial with an unknown transport succeeded")
	}
}
