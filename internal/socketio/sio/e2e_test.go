package sio

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// wsClient is a raw Engine.IO/Socket.IO client over a real websocket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialWS(t *testing.T, srv *httptest.Server) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = resp.Body.Close()
	// Closed at the end of the test, which also keeps the connection
	// reachable until then: a client connection the garbage collector
	// finalizes is closed, and the server sees a transport close.
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{t: t, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// read returns the next message that is not a ping (answered).
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if typ == websocket.TextMessage && string(b) == "2" {
			c.send("3")
			continue
		}
		if typ == websocket.BinaryMessage {
			return "bin:" + string(b)
		}
		return string(b)
	}
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// TestEndToEnd runs the server on the real Engine.IO server: connect,
// rooms, a broadcast, an ack, then a dropped connection recovered with
// the packet it missed.
func TestEndToEnd(t *testing.T) {
	s := NewServer(eio.Config{PingInterval: time.Second, PingTimeout: time.Second},
		Config{Recovery: Recovery{Window: time.Minute}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ns := s.Of("/")
	gone := make(chan string, 4)
	ns.OnConnection(func(sk *Socket) {
		sk.On("join", func(e *Event) {
			room, _ := e.Args[0].(string)
			sk.Join(room)
			e.Ack("joined", room)
		})
		sk.OnDisconnect(func(reason string) { gone <- reason })
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	a := dialWS(t, srv)
	a.send("40")
	var reply map[string]string
	if msg := a.read(); json.Unmarshal([]byte(strings.TrimPrefix(msg, "40")), &reply) != nil || reply["pid"] == "" {
		t.Fatalf("connect reply %q", msg)
	}
	a.send(`421["join","r"]`)
	if msg := a.read(); msg != `431["joined","r"]` {
		t.Fatalf("ack %q", msg)
	}
	b := dialWS(t, srv)
	b.send("40")
	b.read()
	b.send(`427["join","r"]`)
	b.read()

	if err := ns.To("r").Emit("u", 1, []byte{9}); err != nil {
		t.Fatal(err)
	}
	var offset string
	for _, c := range []*wsClient{a, b} {
		msg := c.read()
		if !strings.HasPrefix(msg, `451-["u",1,{"_placeholder":true,"num":0},"`) {
			t.Fatalf("broadcast %q", msg)
		}
		if bin := c.read(); bin != "bin:\x09" {
			t.Fatalf("attachment %q", bin)
		}
		var args []any
		_ = json.Unmarshal([]byte(msg[4:]), &args)
		offset = args[len(args)-1].(string)
	}

	_ = a.ws.UnderlyingConn().Close() // the network goes away
	select {
	case reason := <-gone:
		if !recoverableReasons[reason] {
			t.Fatalf("disconnect reason %q", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	_ = ns.To("r").Emit("missed")
	if msg := b.read(); !strings.HasPrefix(msg, `42["missed",`) {
		t.Fatalf("b got %q", msg)
	}

	a2 := dialWS(t, srv)
	auth, _ := json.Marshal(map[string]string{"pid": reply["pid"], "offset": offset})
	a2.send("40" + string(auth))
	var reply2 map[string]string
	if msg := a2.read(); json.Unmarshal([]byte(strings.TrimPrefix(msg, "40")), &reply2) != nil || reply2["sid"] != reply["sid"] {
		t.Fatalf("recovery reply %q, want sid %s", msg, reply["sid"])
	}
	if msg := a2.read(); !strings.HasPrefix(msg, `42["missed",`) {
		t.Fatalf("replay %q", msg)
	}
	// The pending count drops just after the CONNECT reply and the replay
	// are queued, so a fast client can read them first.
	testkit.Eventually(t, 2*time.Second, "2 sockets in room r, 2 sessions, none pending", func() bool {
		return ns.RoomSize("r") == 2 && s.Sessions() == 2 && s.Pending() == 0
	})
}
