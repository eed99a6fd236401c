package sio

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// connectReply parses a CONNECT reply, checking its prefix.
func connectReply(t *testing.T, prefix, got string) map[string]string {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("reply %q, want prefix %q", got, prefix)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(got[len(prefix):]), &m); err != nil {
		t.Fatalf("reply %q: %v", got, err)
	}
	return m
}

func TestConnect(t *testing.T) {
	s := testServer(t, Config{})
	var hs *Handshake
	s.Of("/").OnConnection(func(sk *Socket) {
		hs = sk.Handshake()
		_ = sk.Emit("auth", sk.Handshake().Auth)
	})
	s.Of("/custom")

	c := dial(s)
	if s.Pending() != 1 || s.Sessions() != 1 {
		t.Fatalf("pending %d sessions %d, want 1 1", s.Pending(), s.Sessions())
	}
	c.recv(`0{"token":"123"}`)
	got := c.take()
	if len(got) != 2 {
		t.Fatalf("sent %q", got)
	}
	m := connectReply(t, "0", got[0])
	if len(m) != 1 || len(m["sid"]) != 16 || m["sid"] == c.id {
		t.Errorf("reply %v: want only a fresh sid", m)
	}
	if got[1] != `2["auth",{"token":"123"}]` {
		t.Errorf("auth event %q", got[1])
	}
	if s.Pending() != 0 || s.Of("/").SocketCount() != 1 {
		t.Errorf("pending %d count %d, want 0 1", s.Pending(), s.Of("/").SocketCount())
	}
	if hs.Query.Get("x") != "1" || hs.Address != "192.0.2.1" || hs.URL != "/socket.io/?EIO=4&transport=websocket&x=1" {
		t.Errorf("handshake %+v", hs)
	}

	c.recv("0/custom,")
	m = connectReply(t, "0/custom,", c.take()[0])
	if m["sid"] == "" {
		t.Error("no sid")
	}

	c.recv("0/random")
	if got := c.take(); !reflect.DeepEqual(got, []string{`4/random,{"message":"Invalid namespace"}`}) {
		t.Errorf("unknown namespace: %q", got)
	}
	if closed, _ := c.isClosed(); closed {
		t.Error("unknown namespace closed the session")
	}
	c.recv("0/custom,") // again: a new socket replaces the old one, as in Node
	if again := connectReply(t, "0/custom,", c.take()[0]); again["sid"] == "" || again["sid"] == m["sid"] {
		t.Errorf("second CONNECT answered sid %q (first %q), want a new one", again["sid"], m["sid"])
	}
	if closed, _ := c.isClosed(); closed {
		t.Error("a second CONNECT closed the session")
	}
	if n := s.Of("/custom").SocketCount(); n != 1 {
		t.Errorf("sockets in /custom after a second CONNECT: %d, want 1", n)
	}
	c.drop(eio.ReasonTransportClose)
	if s.Sessions() != 0 || s.Of("/").SocketCount() != 0 || s.Of("/custom").SocketCount() != 0 {
		t.Errorf("after close: sessions %d", s.Sessions())
	}
}

func TestConnectRefused(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"connect error with data", &ConnectError{Message: "unauthorized", Data: map[string]any{"code": "expired"}}, `4{"data":{"code":"expired"},"message":"unauthorized"}`},
		{"connect error without data", &ConnectError{Message: "unauthorized"}, `4{"message":"unauthorized"}`},
		{"wrapped", errors.Join(&ConnectError{Message: "no", Data: 1}), `4{"data":1,"message":"no"}`},
		{"plain error", errors.New("bad token"), `4{"message":"bad token"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testServer(t, Config{})
			var order []string
			s.Of("/").Use(func(h *Handshake) (any, error) { order = append(order, "1"); return "d1", nil })
			s.Of("/").Use(func(h *Handshake) (any, error) { order = append(order, "2"); return nil, tt.err })
			s.Of("/").Use(func(h *Handshake) (any, error) { order = append(order, "3"); return nil, nil })
			s.Of("/").OnConnection(func(*Socket) { t.Error("connected") })
			c := dial(s)
			c.recv("0")
			if got := c.take(); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(order, []string{"1", "2"}) {
				t.Errorf("middlewares ran %v", order)
			}
			if s.Pending() != 1 {
				t.Errorf("pending %d", s.Pending())
			}
		})
	}
}

func TestMiddlewareData(t *testing.T) {
	s := testServer(t, Config{})
	s.Of("/").Use(func(h *Handshake) (any, error) { return "first", nil })
	s.Of("/").Use(func(h *Handshake) (any, error) { return h.Auth["user"], nil })
	_, sk := connectTo(t, s, "/", `{"user":"ann"}`)
	if sk.Data() != "ann" {
		t.Errorf("data %v", sk.Data())
	}
}

// A connected socket holds no handshake request, query, headers or auth;
// the middlewares and OnConnection still see them all.
func TestConnectedSocketReleasesHandshake(t *testing.T) {
	s := testServer(t, Config{})
	var inMiddleware, onConnection Handshake
	s.Of("/").Use(func(h *Handshake) (any, error) { inMiddleware = *h; return nil, nil })
	s.Of("/").OnConnection(func(sk *Socket) { onConnection = *sk.Handshake() })
	c, sk := connectTo(t, s, "/", `{"token":"t"}`)
	for name, h := range map[string]Handshake{"middleware": inMiddleware, "OnConnection": onConnection} {
		if h.Auth["token"] != "t" || h.Query.Get("x") != "1" || h.Address == "" {
			t.Errorf("%s saw auth %v query %v address %q", name, h.Auth, h.Query, h.Address)
		}
	}
	if hs := sk.Handshake(); hs.Auth != nil || hs.Query != nil || hs.Headers != nil || hs.Address == "" {
		t.Errorf("connected socket keeps %+v", hs)
	}
	if c.Request() != nil {
		t.Error("the session still holds its handshake request")
	}
}

// With a second namespace to connect to, the session keeps its request
// for that CONNECT's middlewares.
func TestRequestKeptForAnotherNamespace(t *testing.T) {
	s := testServer(t, Config{})
	var query string
	s.Of("/admin").Use(func(h *Handshake) (any, error) { query = h.Query.Get("x"); return nil, nil })
	c, _ := connectTo(t, s, "/", `{}`)
	if c.Request() == nil {
		t.Fatal("request released with a namespace left to connect to")
	}
	c.recv("0/admin,{}")
	if query != "1" {
		t.Errorf("/admin middleware saw query x=%q", query)
	}
	if c.Request() != nil {
		t.Error("request kept after every namespace was connected")
	}
}

func TestConnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testServer(t, Config{ConnectTimeout: time.Second})
		idle, late := dial(s), dial(s)
		ok := dial(s)
		ok.recv("0")
		time.Sleep(900 * time.Millisecond)
		late.recv("0")
		time.Sleep(200 * time.Millisecond)
		if closed, reason := idle.isClosed(); !closed || reason != reasonConnectTimeout {
			t.Errorf("idle: closed %v %q", closed, reason)
		}
		for _, c := range []*fakeConn{late, ok} {
			if closed, _ := c.isClosed(); closed {
				t.Errorf("%s closed", c.id)
			}
		}
		if s.Pending() != 0 || s.Sessions() != 2 {
			t.Errorf("pending %d sessions %d", s.Pending(), s.Sessions())
		}
	})
}

func TestInvalidPacketsCloseTheSession(t *testing.T) {
	for _, in := range []string{"abc", "2{}", `2abc["m"]`, `2/custom,["m"]`, `1/custom,`, `3/custom,1[]`, `4{"message":"x"}`, `2["m"`} {
		s := testServer(t, Config{})
		s.Of("/custom")
		var reason string
		s.Of("/").OnConnection(func(sk *Socket) { sk.OnDisconnect(func(r string) { reason = r }) })
		c := dial(s)
		c.recv("0")
		c.recv(in)
		if closed, r := c.isClosed(); !closed || r != eio.ReasonParseError || reason != eio.ReasonParseError {
			t.Errorf("%q: closed %v %q, disconnect %q", in, closed, r, reason)
		}
		c.recv(`2["m"]`) // ignored after the close
	}
}

func TestBinaryEventAndAck(t *testing.T) {
	s := testServer(t, Config{})
	s.Of("/").OnConnection(func(sk *Socket) {
		sk.On("message", func(e *Event) { _ = sk.Emit("message-back", e.Args...) })
		sk.On("message-with-ack", func(e *Event) { e.Ack(e.Args...); e.Ack("twice") })
	})
	c, _ := connectTo(t, s, "/", "")
	c.recv(`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	if got := c.take(); len(got) != 0 {
		t.Fatalf("sent before the attachments: %q", got)
	}
	c.recvBinary([]byte{1, 2, 3})
	c.recvBinary([]byte{4, 5, 6})
	want := []string{`52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "bin:\x01\x02\x03", "bin:\x04\x05\x06"}
	if got := c.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("binary echo %q, want %q", got, want)
	}

	c.recv(`2456["message-with-ack",1,"2",{"3":[false]}]`)
	if got := c.take(); !reflect.DeepEqual(got, []string{`3456[1,"2",{"3":[false]}]`}) {
		t.Errorf("ack %q", got)
	}
	c.recv(`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.recvBinary([]byte{1})
	c.recvBinary([]byte{2})
	want = []string{`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "bin:\x01", "bin:\x02"}
	if got := c.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("binary ack %q, want %q", got, want)
	}
	c.recv(`2["nobody-listens"]`)
	c.recv(`27["message-with-ack"]`)
	if got := c.take(); !reflect.DeepEqual(got, []string{`37[]`}) {
		t.Errorf("empty ack %q", got)
	}

	// A text message while attachments are awaited is a protocol error.
	c.recv(`51-["message",{"_placeholder":true,"num":0}]`)
	c.recv(`2["message"]`)
	if closed, r := c.isClosed(); !closed || r != eio.ReasonParseError {
		t.Errorf("closed %v %q", closed, r)
	}
}

func TestGuardsAndOrder(t *testing.T) {
	s := testServer(t, Config{})
	var seen []string
	s.Of("/").OnConnection(func(sk *Socket) {
		sk.Use(func(e *Event) bool { seen = append(seen, "g1:"+e.Name); return true })
		sk.Use(func(e *Event) bool { return e.Name != "blocked" })
		sk.On("a", func(e *Event) { seen = append(seen, "a") })
		sk.On("blocked", func(e *Event) { seen = append(seen, "blocked") })
	})
	c, _ := connectTo(t, s, "/", "")
	for _, m := range []string{`2["a"]`, `2["blocked"]`, `2["none"]`, `2["a"]`} {
		c.recv(m)
	}
	want := []string{"g1:a", "a", "g1:blocked", "g1:none", "g1:a", "a"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("seen %v, want %v", seen, want)
	}
}

func TestRoomsBroadcastSharesFrames(t *testing.T) {
	s := testServer(t, Config{})
	ns := s.Of("/")
	a, sa := connectTo(t, s, "/", "")
	b, sb := connectTo(t, s, "/", "")
	c, sc := connectTo(t, s, "/", "")
	sa.Join("r1", "r2")
	sb.Join("r1")
	sc.Join("r2", "vip")
	if ns.RoomSize("r1") != 2 || ns.RoomSize("r2") != 2 || ns.RoomSize(sa.ID()) != 1 || ns.RoomSize("none") != 0 {
		t.Errorf("room sizes %d %d", ns.RoomSize("r1"), ns.RoomSize("r2"))
	}
	if got := sa.Rooms(); !reflect.DeepEqual(got, sortedStrings("r1", "r2", sa.ID())) {
		t.Errorf("rooms %v", got)
	}

	if err := ns.To("r1", "r2").Emit("u", 1); err != nil {
		t.Fatal(err)
	}
	fa, fb, fc := a.rawFrames(), b.rawFrames(), c.rawFrames()
	if len(fa) != 1 || len(fb) != 1 || len(fc) != 1 {
		t.Fatalf("frames %d %d %d, want one each (no duplicates)", len(fa), len(fb), len(fc))
	}
	if fa[0] != fb[0] || fb[0] != fc[0] {
		t.Error("recipients got different frames: the packet was encoded more than once")
	}
	if got := contentOf(fa[0]).data; got != `2["u",1]` {
		t.Errorf("frame %q", got)
	}

	_ = ns.To("r2").Except("vip").Emit("x", []byte{7})
	if got := a.take(); !reflect.DeepEqual(got, []string{`51-["x",{"_placeholder":true,"num":0}]`, "bin:\x07"}) {
		t.Errorf("a got %q", got)
	}
	if got := c.take(); len(got) != 0 {
		t.Errorf("excepted c got %q", got)
	}
	_ = ns.Emit("all")
	_ = ns.To(sb.ID()).Emit("private")
	for i, want := range [][]string{{`2["all"]`}, {`2["all"]`, `2["private"]`}, {`2["all"]`}} {
		if got := []*fakeConn{a, b, c}[i].take(); !reflect.DeepEqual(got, want) {
			t.Errorf("%d got %q, want %q", i, got, want)
		}
	}

	sa.Leave("r1")
	_ = ns.To("r1").Emit("y")
	if got := a.take(); len(got) != 0 {
		t.Errorf("a left r1 but got %q", got)
	}
	infos, err := ns.FetchSockets(context.Background(), "r2")
	if err != nil || len(infos) != 2 {
		t.Errorf("fetch r2: %v %v", infos, err)
	}
	all, _ := ns.FetchSockets(context.Background())
	if len(all) != 3 {
		t.Errorf("fetch all: %d", len(all))
	}
	b.drop(eio.ReasonTransportClose)
	if ns.RoomSize("r1") != 0 || ns.SocketCount() != 2 || sb.Connected() {
		t.Errorf("after b left: r1 %d count %d", ns.RoomSize("r1"), ns.SocketCount())
	}
}

func sortedStrings(s ...string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDisconnect(t *testing.T) {
	s := testServer(t, Config{})
	s.Of("/custom")
	var reasons []string
	record := func(sk *Socket) {
		sk.OnDisconnect(func(r string) { reasons = append(reasons, sk.Namespace().Name()+" "+r) })
	}
	s.Of("/").OnConnection(record)
	s.Of("/custom").OnConnection(record)

	// Client DISCONNECT: the socket goes, the session stays.
	c, _ := connectTo(t, s, "/", "")
	c.recv("0/custom,")
	c.take()
	c.recv("1/custom,")
	c.recv(`2["still-here"]`)
	if closed, _ := c.isClosed(); closed {
		t.Fatal("client namespace disconnect closed the session")
	}
	if s.Of("/custom").SocketCount() != 0 {
		t.Error("custom socket still counted")
	}

	// Server disconnect of the last namespace closes the session after
	// the DISCONNECT packet.
	_, sk := s.Of("/").SocketCount(), s.Of("/").live
	var main *Socket
	for _, v := range sk {
		main = v
	}
	main.Disconnect(false)
	main.Disconnect(false)
	if got := c.take(); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("sent %q", got)
	}
	if closed, _ := c.isClosed(); !closed {
		t.Error("session left open")
	}
	want := []string{"/custom client namespace disconnect", "/ server namespace disconnect"}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons %q, want %q", reasons, want)
	}

	// Disconnect(false) with another namespace left keeps the session;
	// Disconnect(true) ends them all.
	reasons = nil
	c2, s2 := connectTo(t, s, "/", "")
	c2.recv("0/custom,")
	c2.take()
	s2.Disconnect(false)
	if got := c2.take(); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("sent %q", got)
	}
	if closed, _ := c2.isClosed(); closed {
		t.Error("closed with a namespace left")
	}
	c2.recv("0")
	c2.take()
	var s3 *Socket
	for _, v := range s.Of("/").live {
		s3 = v
	}
	s3.Disconnect(true)
	if got := c2.take(); len(got) != 2 {
		t.Errorf("sent %q, want two DISCONNECTs", got)
	}
	if closed, _ := c2.isClosed(); !closed {
		t.Error("closeConn left the session open")
	}
	if len(reasons) != 3 || s.Sessions() != 0 {
		t.Errorf("reasons %q sessions %d", reasons, s.Sessions())
	}
	if err := s3.Emit("late"); !errors.Is(err, ErrDisconnected) {
		t.Errorf("emit after disconnect: %v", err)
	}
}

func TestEngineCloseReason(t *testing.T) {
	s := testServer(t, Config{})
	var reason string
	s.Of("/").OnConnection(func(sk *Socket) { sk.OnDisconnect(func(r string) { reason = r }) })
	c, _ := connectTo(t, s, "/", "")
	c.drop(eio.ReasonPingTimeout)
	if reason != eio.ReasonPingTimeout || s.Sessions() != 0 {
		t.Errorf("reason %q sessions %d", reason, s.Sessions())
	}
}

// TestCloseDuringHandler: a close reported while a handler runs (here by
// the handler itself) reaches OnDisconnect only after the handler.
func TestCloseDuringHandler(t *testing.T) {
	s := testServer(t, Config{})
	var log []string
	s.Of("/").OnConnection(func(sk *Socket) {
		sk.OnDisconnect(func(r string) { log = append(log, "disconnect "+r) })
		sk.On("quit", func(e *Event) {
			sk.client.conn.(*fakeConn).drop(eio.ReasonTransportError)
			log = append(log, "handler done")
		})
	})
	c, _ := connectTo(t, s, "/", "")
	c.recv(`2["quit"]`)
	want := []string{"handler done", "disconnect transport error"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("log %q, want %q", log, want)
	}
}
