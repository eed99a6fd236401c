package sio

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// eventArgs parses an event frame of the main namespace.
func eventArgs(t *testing.T, frame string) []any {
	t.Helper()
	if !strings.HasPrefix(frame, "2") {
		t.Fatalf("not an event: %q", frame)
	}
	var args []any
	if err := json.Unmarshal([]byte(frame[1:]), &args); err != nil {
		t.Fatalf("event %q: %v", frame, err)
	}
	return args
}

// offsetOf is the offset an event frame carries as its last argument.
func offsetOf(t *testing.T, frame string) string {
	t.Helper()
	args := eventArgs(t, frame)
	off, ok := args[len(args)-1].(string)
	if !ok {
		t.Fatalf("no offset in %q", frame)
	}
	return off
}

type recoveryEnv struct {
	t    *testing.T
	s    *Server
	ns   *Namespace
	last *Socket
	// disconnects records OnDisconnect reasons by socket id.
	disconnects map[string][]string
	// lastAuth is the handshake auth the OnConnection handler saw.
	lastAuth map[string]any
}

func newRecoveryEnv(t *testing.T, rec Recovery) *recoveryEnv {
	e := &recoveryEnv{t: t, s: testServer(t, Config{Recovery: rec}), disconnects: map[string][]string{}}
	e.ns = e.s.Of("/")
	e.ns.OnConnection(func(sk *Socket) {
		e.last, e.lastAuth = sk, sk.Handshake().Auth
		sk.OnDisconnect(func(r string) { e.disconnects[sk.ID()] = append(e.disconnects[sk.ID()], r) })
		sk.On("ping", func(ev *Event) { _ = sk.EmitTransient("pong", map[string]any{"ok": true}) })
	})
	return e
}

// connect dials and connects with auth, returning the conn, the socket
// and the CONNECT reply followed by what else was sent at once.
func (e *recoveryEnv) connect(auth map[string]any) (*fakeConn, *Socket, map[string]string, []string) {
	e.t.Helper()
	c := dial(e.s)
	b, _ := json.Marshal(auth)
	if auth == nil {
		b = nil
	}
	e.last = nil
	c.recv("0" + string(b))
	if e.last == nil {
		e.t.Fatalf("not connected: %q", c.take())
	}
	got := c.take()
	return c, e.last, connectReply(e.t, "0", got[0]), got[1:]
}

func TestRecoveryReplaysMissedPackets(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	c, sk, reply, _ := e.connect(nil)
	if reply["pid"] == "" || reply["sid"] != sk.ID() {
		t.Fatalf("reply %v", reply)
	}
	sk.Join("r")
	other, _, _, _ := e.connect(nil)

	_ = sk.Emit("a", 1)
	_ = e.ns.To("r").Emit("b")
	sent := c.take()
	if len(sent) != 2 {
		t.Fatalf("sent %q", sent)
	}
	if args := eventArgs(t, sent[0]); len(args) != 3 || args[0] != "a" {
		t.Errorf("emit %q: want the offset as a third argument", sent[0])
	}
	off1, off2 := offsetOf(t, sent[0]), offsetOf(t, sent[1])
	if off1 == off2 {
		t.Error("two packets share an offset")
	}

	c.drop(eio.ReasonTransportClose)
	if sk.Connected() || e.ns.SocketCount() != 1 || e.ns.RoomSize("r") != 0 {
		t.Errorf("after drop: connected %v count %d room %d", sk.Connected(), e.ns.SocketCount(), e.ns.RoomSize("r"))
	}
	_ = e.ns.To("r").Emit("c")
	_ = e.ns.Emit("d")
	_ = e.ns.To("r").Volatile().Emit("volatile")
	_ = e.ns.To("elsewhere").Emit("z")
	_ = sk.Emit("direct")
	if got := other.take(); len(got) != 1 || eventArgs(t, got[0])[0] != "d" {
		t.Errorf("other got %q", got)
	}

	_, sk2, reply2, replay := e.connect(map[string]any{"pid": reply["pid"], "offset": off1, "token": "x"})
	if !sk2.Recovered() || sk2.ID() != sk.ID() || reply2["sid"] != sk.ID() || reply2["pid"] != reply["pid"] {
		t.Fatalf("not recovered: reply %v recovered %v", reply2, sk2.Recovered())
	}
	var names []any
	for _, f := range replay {
		names = append(names, eventArgs(t, f)[0])
	}
	if want := []any{"b", "c", "d", "direct"}; !reflect.DeepEqual(names, want) {
		t.Errorf("replayed %v, want %v", names, want)
	}
	if got := sk2.Rooms(); !reflect.DeepEqual(got, sortedStrings("r", sk.ID())) {
		t.Errorf("rooms %v", got)
	}
	if e.ns.RoomSize("r") != 1 || e.ns.SocketCount() != 2 || e.lastAuth["token"] != "x" {
		t.Errorf("room %d count %d auth seen on connection %v", e.ns.RoomSize("r"), e.ns.SocketCount(), e.lastAuth)
	}
	if hs := sk2.Handshake(); hs.Auth != nil || hs.Query != nil || hs.Headers != nil {
		t.Errorf("a connected socket keeps its handshake's auth, query or headers: %+v", hs)
	}
	if got := e.disconnects[sk.ID()]; !reflect.DeepEqual(got, []string{eio.ReasonTransportClose}) {
		t.Errorf("disconnects %q", got)
	}
	// The old socket forwards to the recovered one.
	_ = sk.Emit("via-old")
	_ = e.ns.To("r").Emit("after")
	if e.s.saved.len() != 0 {
		t.Error("session still saved")
	}
	_ = other
}

func TestRecoveryFromNewestAndWithoutOffset(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	// A client that got nothing sends no offset: it gets everything.
	c, sk, reply, _ := e.connect(nil)
	c.drop(eio.ReasonPingTimeout)
	_ = e.ns.To(sk.ID()).Emit("missed")
	c2, sk2, _, replay := e.connect(map[string]any{"pid": reply["pid"]})
	if !sk2.Recovered() || len(replay) != 1 {
		t.Fatalf("recovered %v replay %q", sk2.Recovered(), replay)
	}
	// Offset of the newest packet: nothing to replay.
	off := offsetOf(t, replay[0])
	c2.drop(eio.ReasonServerClose)
	_, sk3, _, replay := e.connect(map[string]any{"pid": reply["pid"], "offset": off})
	if !sk3.Recovered() || len(replay) != 0 {
		t.Errorf("recovered %v replay %q", sk3.Recovered(), replay)
	}
}

func TestRecoveryBoundExceededGivesFreshSession(t *testing.T) {
	for _, rec := range []Recovery{
		{Window: time.Minute, MaxPackets: 3},
		{Window: time.Minute, MaxBytes: 40},
	} {
		t.Run(fmt.Sprintf("%+v", rec), func(t *testing.T) {
			e := newRecoveryEnv(t, rec)
			c, sk, reply, _ := e.connect(nil)
			sk.Join("r")
			for i := range 5 { // more than the bound while connected: the oldest go
				_ = e.ns.To("r").Emit("x", i)
			}
			sent := c.take()
			c.drop(eio.ReasonTransportError)
			_ = e.ns.To("r").Emit("m1")
			_ = e.ns.To("r").Emit("m2")
			_ = e.ns.To("r").Emit("m3")
			_ = e.ns.To("r").Emit("m4") // past the bound
			if e.s.saved.len() != 0 || e.ns.RoomSize("r") != 0 {
				t.Errorf("session kept past its bound")
			}
			_, sk2, reply2, replay := e.connect(map[string]any{"pid": reply["pid"], "offset": offsetOf(t, sent[len(sent)-1])})
			if sk2.Recovered() || sk2.ID() == sk.ID() || reply2["pid"] == reply["pid"] || len(replay) != 0 {
				t.Errorf("recovered %v replay %q", sk2.Recovered(), replay)
			}
			if e.ns.RoomSize("r") != 0 {
				t.Error("fresh session inherited rooms")
			}
		})
	}
}

func TestRecoveryOffsetTooOld(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute, MaxPackets: 2})
	c, sk, reply, _ := e.connect(nil)
	for i := range 4 {
		_ = sk.Emit("x", i)
	}
	sent := c.take()
	c.drop(eio.ReasonTransportClose)
	// sent[0] and sent[1] left the ring; sent[1] is the newest evicted,
	// so a client that processed it misses only what the ring holds.
	_, sk2, _, _ := e.connect(map[string]any{"pid": reply["pid"], "offset": offsetOf(t, sent[0])})
	if sk2.Recovered() {
		t.Error("recovered from an offset the ring no longer reaches")
	}
	c3, sk3, reply3, _ := e.connect(nil)
	for i := range 4 {
		_ = sk3.Emit("x", i)
	}
	sent = c3.take()
	c3.drop(eio.ReasonTransportClose)
	_, sk4, _, replay := e.connect(map[string]any{"pid": reply3["pid"], "offset": offsetOf(t, sent[1])})
	if !sk4.Recovered() || len(replay) != 2 {
		t.Errorf("recovered %v replay %q", sk4.Recovered(), replay)
	}
}

func TestRecoverIfFalseGivesFreshSession(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	var ran int
	e.ns.Use(func(h *Handshake) (any, error) { ran++; return h.Auth["user"], nil })
	e.ns.RecoverIf(func(old, new any) bool { return old == new })
	c, sk, reply, _ := e.connect(map[string]any{"user": "ann"})
	_ = sk.Emit("secret")
	off := offsetOf(t, c.take()[0])
	c.drop(eio.ReasonTransportClose)
	_ = sk.Emit("secret2")
	_, sk2, _, replay := e.connect(map[string]any{"user": "bob", "pid": reply["pid"], "offset": off})
	if sk2.Recovered() || sk2.ID() == sk.ID() || len(replay) != 0 || sk2.Data() != "bob" {
		t.Errorf("bob recovered ann's session: %v %q", sk2.Recovered(), replay)
	}
	if ran != 2 {
		t.Errorf("middlewares ran %d times, want 2 (recovery does not skip them)", ran)
	}
	// A refused attempt leaves the session to its owner: ann still
	// recovers it, with what she missed.
	_, sk3, _, replay3 := e.connect(map[string]any{"user": "ann", "pid": reply["pid"], "offset": off})
	if !sk3.Recovered() || sk3.ID() != sk.ID() || len(replay3) != 1 {
		t.Errorf("ann after bob's refused attempt: recovered %v, same id %v, replay %q", sk3.Recovered(), sk3.ID() == sk.ID(), replay3)
	}
}

func TestRecoveryNotStoredOrNotRecoverable(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	e.ns.OnConnection(func(sk *Socket) {
		e.last = sk
		sk.On("ack", func(ev *Event) { ev.Ack("ok") })
	})
	c, sk, reply, _ := e.connect(nil)
	_ = sk.Emit("stored")
	_ = sk.EmitTransient("transient", map[string]any{"x": 1.0})
	c.recv(`21["ack"]`)
	sent := c.take()
	if len(sent) != 3 {
		t.Fatalf("sent %q", sent)
	}
	if got := eventArgs(t, sent[1]); len(got) != 2 {
		t.Errorf("transient event carries an offset: %q", sent[1])
	}
	if sent[2] != `31["ok"]` {
		t.Errorf("ack %q", sent[2])
	}
	sk.mu.Lock()
	n := sk.ring.n
	sk.mu.Unlock()
	if n != 1 {
		t.Errorf("ring holds %d packets, want 1", n)
	}
	off := offsetOf(t, sent[0])
	c.drop(eio.ReasonTransportClose)
	_ = sk.EmitTransient("lost")
	_, sk2, _, replay := e.connect(map[string]any{"pid": reply["pid"], "offset": off})
	if !sk2.Recovered() || len(replay) != 0 {
		t.Errorf("recovered %v replay %q", sk2.Recovered(), replay)
	}

	for _, how := range []string{"client disconnect", "server disconnect", eio.ReasonParseError, eio.ReasonSlowConsumer, eio.ReasonForcedClose} {
		c, sk, reply, _ := e.connect(nil)
		_ = sk.Emit("x")
		off := offsetOf(t, c.take()[0])
		switch how {
		case "client disconnect":
			c.recv("1")
			c.drop(eio.ReasonTransportClose)
		case "server disconnect":
			sk.Disconnect(false)
		default:
			c.drop(how)
		}
		if e.s.saved.len() != 0 {
			t.Errorf("%s: session saved", how)
		}
		_, sk2, _, _ := e.connect(map[string]any{"pid": reply["pid"], "offset": off})
		if sk2.Recovered() {
			t.Errorf("%s: recovered", how)
		}
	}
}

func TestRecoveryWindowExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newRecoveryEnv(t, Recovery{Window: 10 * time.Second})
		c, sk, reply, _ := e.connect(nil)
		sk.Join("r")
		_ = sk.Emit("x")
		off := offsetOf(t, c.take()[0])
		c.drop(eio.ReasonTransportClose)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if e.s.saved.len() != 0 || len(e.ns.all) != 0 {
			t.Errorf("saved %d, namespace holds %d", e.s.saved.len(), len(e.ns.all))
		}
		_, sk2, _, _ := e.connect(map[string]any{"pid": reply["pid"], "offset": off})
		if sk2.Recovered() {
			t.Error("recovered after the window")
		}
		if e.ns.RoomSize("r") != 0 {
			t.Error("room kept")
		}
	})
}

// TestTransientRepliesKeepNothing: a client flooding events whose replies
// go through EmitTransient leaves the recovery ring empty.
func TestTransientRepliesKeepNothing(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Hour, MaxPackets: 1 << 20, MaxBytes: 1 << 30})
	c, sk, _, _ := e.connect(nil)
	for range 20000 {
		c.recv(`2["ping"]`)
	}
	if got := len(c.rawFrames()); got != 20000 {
		t.Fatalf("replies %d", got)
	}
	sk.mu.Lock()
	n, size := sk.ring.n, sk.ring.bytes
	sk.mu.Unlock()
	if n != 0 || size != 0 {
		t.Errorf("ring holds %d packets, %d bytes", n, size)
	}
}

func TestRingBounds(t *testing.T) {
	lim := &Recovery{Window: time.Second, MaxPackets: 3, MaxBytes: 100}
	r := &ring{lim: lim}
	e := func(off string, size int, at int64) *stored { return &stored{offset: off, size: size, at: at} }
	for i, off := range []string{"a", "b", "c", "d", "e"} {
		r.push(e(off, 10, int64(i)), int64(i))
	}
	if r.n != 3 || r.bytes != 30 || r.evicted != "b" {
		t.Fatalf("n %d bytes %d evicted %q", r.n, r.bytes, r.evicted)
	}
	if got, ok := r.after("c", true); !ok || len(got) != 2 || got[0].offset != "d" {
		t.Errorf("after c: %v %v", got, ok)
	}
	if got, ok := r.after("b", true); !ok || len(got) != 3 {
		t.Errorf("after evicted b: %v %v", got, ok)
	}
	if _, ok := r.after("a", true); ok {
		t.Error("after a: found")
	}
	if _, ok := r.after("", false); ok {
		t.Error("no offset after eviction: found")
	}
	r.push(e("big", 95, 5), 5) // bytes bound: all others go
	if r.n != 1 || r.evicted != "e" {
		t.Errorf("n %d evicted %q", r.n, r.evicted)
	}
	r.push(e("late", 1, int64(time.Second)+10), int64(time.Second)+10) // window
	if r.n != 1 || r.at(0).offset != "late" {
		t.Errorf("n %d", r.n)
	}
	r.disconnected = true
	for i := range 3 {
		if !r.push(e("m", 1, int64(time.Second)+11), int64(time.Second)+11) {
			t.Fatalf("missed %d refused", i)
		}
	}
	if r.push(e("m", 1, int64(time.Second)+11), int64(time.Second)+11) {
		t.Error("fourth missed packet accepted past MaxPackets")
	}
}

// TestOldSocketActsOnSession: the product may hold the socket it saw
// first; after a drop its methods act on the session.
func TestOldSocketActsOnSession(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	c, sk, reply, _ := e.connect(nil)
	c.drop(eio.ReasonTransportClose)
	c2, sk2, _, _ := e.connect(map[string]any{"pid": reply["pid"]})
	if !sk2.Recovered() {
		t.Fatal("not recovered")
	}
	sk.Join("via-old")
	if e.ns.RoomSize("via-old") != 1 || !sk.Connected() {
		t.Errorf("join through the old socket: room %d", e.ns.RoomSize("via-old"))
	}
	if got := sk.Rooms(); !reflect.DeepEqual(got, sortedStrings("via-old", sk.ID())) {
		t.Errorf("rooms %v", got)
	}
	_ = sk.Emit("hi")
	if got := c2.take(); len(got) != 1 || eventArgs(t, got[0])[0] != "hi" {
		t.Errorf("emit through the old socket: %q", got)
	}
	sk.Disconnect(false)
	if got := c2.take(); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("sent %q", got)
	}

	// Disconnect on a saved session drops it: no recovery after a kick.
	c3, sk3, reply3, _ := e.connect(nil)
	c3.drop(eio.ReasonPingTimeout)
	sk3.Disconnect(true)
	if e.s.saved.len() != 0 || len(e.ns.all) != 0 {
		t.Errorf("saved %d, namespace holds %d", e.s.saved.len(), len(e.ns.all))
	}
	if _, sk4, _, _ := e.connect(map[string]any{"pid": reply3["pid"]}); sk4.Recovered() {
		t.Error("recovered a kicked session")
	}
}

// TestIdleRingsExpire: a socket that receives nothing more lets go of what
// it got once the window has passed (Server.Run trims every ring), and a
// client that saw the last of it still recovers.
func TestIdleRingsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newRecoveryEnv(t, Recovery{Window: 8 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.s.Run(ctx) }()
		c, sk, reply, _ := e.connect(nil)
		_ = sk.Emit("snapshot", strings.Repeat("x", 1000))
		_ = sk.Emit("last")
		sent := c.take()
		last := offsetOf(t, sent[1])

		time.Sleep(7 * time.Second)
		synctest.Wait()
		sk.mu.Lock()
		kept := sk.ring.n
		sk.mu.Unlock()
		if kept != 2 {
			t.Fatalf("ring holds %d packets within the window, want 2", kept)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		sk.mu.Lock()
		n, size, buf := sk.ring.n, sk.ring.bytes, sk.ring.buf
		sk.mu.Unlock()
		if n != 0 || size != 0 || buf != nil {
			t.Errorf("idle ring after the window: %d packets, %d bytes, buffer %v", n, size, buf != nil)
		}

		c.drop(eio.ReasonTransportClose)
		_, sk2, _, replay := e.connect(map[string]any{"pid": reply["pid"], "offset": last})
		if !sk2.Recovered() || len(replay) != 0 {
			t.Errorf("client with the newest offset: recovered %v, replay %d", sk2.Recovered(), len(replay))
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
