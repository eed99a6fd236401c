package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

func TestRoomOf(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"room field", `{"room":"spazio_3_sede_1","spazioId":3,"sedeId":1}`, "spazio_3_sede_1"},
		{"spazio and sede", `{"type":"slots_status_update","spazioId":2,"sedeId":1,"slotsStatus":[]}`, "spazio_2_sede_1"},
		{"numeric strings", `{"spazioId":"7","sedeId":"2"}`, "spazio_7_sede_2"},
		{"data ids", `{"type":"slot_update","slotId":3,"data":{"id_spazio":4,"id_sede":1,"id_slot":3}}`, "spazio_4_sede_1"},
		{"no ids", `{"type":"slots_freed","count":2}`, ""},
		{"half ids", `{"spazioId":2}`, ""},
		{"fractional id", `{"spazioId":2.5,"sedeId":1}`, ""},
		{"not an object", `"hello"`, ""},
		{"empty", ``, ""},
		{"bad json", `{"spazioId":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RoomOf(json.RawMessage(tt.raw)); got != tt.want {
				t.Errorf("RoomOf(%s) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseSpace(t *testing.T) {
	tests := []struct {
		in       string
		sp, se   int64
		wantFail bool
	}{
		{"3@1", 3, 1, false},
		{"12@4", 12, 4, false},
		{"3", 0, 0, true},
		{"3@", 0, 0, true},
		{"@1", 0, 0, true},
		{"a@1", 0, 0, true},
		{"0@1", 0, 0, true},
		{"-2@1", 0, 0, true},
		{"1@2@3", 0, 0, true},
	}
	for _, tt := range tests {
		sp, se, err := ParseSpace(tt.in)
		if (err != nil) != tt.wantFail || sp != tt.sp || se != tt.se {
			t.Errorf("ParseSpace(%q) = %d, %d, %v; want %d, %d, fail=%v", tt.in, sp, se, err, tt.sp, tt.se, tt.wantFail)
		}
	}
}

func TestBackoff(t *testing.T) {
	const minD, maxD = 500 * time.Millisecond, 10 * time.Second
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0.5, 500 * time.Millisecond},
		{2, 0.5, time.Second},
		{3, 0.5, 2 * time.Second},
		{10, 0.5, 10 * time.Second}, // capped
		{1, 0, 250 * time.Millisecond},
		{1, 0.999, 749500 * time.Microsecond},
		{0, 0.5, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, minD, maxD, tt.r); got != tt.want {
			t.Errorf("backoff(%d, r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestEventPayload(t *testing.T) {
	ev := Event{Name: protocol.EventSlotUpdate, Raw: json.RawMessage(`{"type":"slot_update","slotId":3,"status":"occupied","data":{"id_slot":3,"id_spazio":1,"id_sede":1,"status":"occupied","expires_at":"2026-11-14T10:15:00.000Z"}}`)}
	p, err := ev.Payload()
	if err != nil {
		t.Fatal(err)
	}
	su, ok := p.(*protocol.SlotUpdate)
	if !ok || su.SlotID != 3 || su.Data.ExpiresAt == nil {
		t.Fatalf("Payload() = %#v", p)
	}
	if _, err := (Event{Name: protocol.EventSlotUpdate, Raw: json.RawMessage(`[1,2]`)}).Payload(); err == nil {
		t.Error("a slot_update that is an array decoded without error")
	}
	raw := json.RawMessage(`{"x":1}`)
	if p, err := (Event{Name: "custom", Raw: raw}).Payload(); err != nil || string(p.(json.RawMessage)) != string(raw) {
		t.Errorf("unknown event payload = %v, %v", p, err)
	}
	cs := &ConnState{State: StateConnected}
	if p, _ := (Event{Name: EventConnection, State: cs}).Payload(); p != cs {
		t.Errorf("state payload = %v", p)
	}
}

func TestEventQueueKeepsOrderAndStates(t *testing.T) {
	q := newEventQueue(2)
	for i := range 4 {
		q.push(Event{Name: string(rune('a' + i))})
	}
	q.push(Event{Name: EventConnection, State: &ConnState{State: StateOffline}})
	q.close()
	q.push(Event{Name: "after-close"})
	out := make(chan Event)
	go q.pump(out, make(chan struct{}))
	var names []string
	for ev := range out {
		names = append(names, ev.Name)
	}
	if got, want := strings.Join(names, ","), "a,b,connection"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	if q.droppedCount() != 2 {
		t.Errorf("dropped = %d, want 2", q.droppedCount())
	}
}

// testServer is a minimal Socket.IO server speaking the parts of the
// contract the client relies on: token check, join_space with
// ack + joined_space + slots_status_update, ping_latency.
type testServer struct {
	t      *testing.T
	addr   string
	io     *sio.Server
	hs     *http.Server
	ln     net.Listener
	noWS   bool
	mu     sync.Mutex
	joins  int
	tokens []string // of accepted handshakes, in order
	socket *sio.Socket
}

const testToken = "good-token"

func startTestServer(t *testing.T, addr string, noWS bool) *testServer {
	return startTestServerOpts(t, addr, noWS, false)
}

// startTestServerOpts can turn on connection state recovery, which makes
// the server append an offset argument to every event.
func startTestServerOpts(t *testing.T, addr string, noWS, recovery bool) *testServer {
	t.Helper()
	return startTestServerPing(t, addr, noWS, recovery, 2*time.Second)
}

// startTestServerPing sets the engine's ping interval: a long one keeps a
// polling GET open that long when the server has nothing to send.
func startTestServerPing(t *testing.T, addr string, noWS, recovery bool, ping time.Duration) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	ts := &testServer{t: t, addr: ln.Addr().String(), ln: ln, noWS: noWS}
	scfg := sio.Config{}
	if recovery {
		scfg.Recovery = sio.Recovery{Window: 2 * time.Minute}
	}
	ts.io = sio.NewServer(eio.Config{PingInterval: ping, PingTimeout: 2 * time.Second, AllowOrigin: func(string) bool { return true }}, scfg)
	nsp := ts.io.Of("/")
	nsp.Use(func(h *sio.Handshake) (any, error) {
		switch tok, _ := h.Auth["token"].(string); {
		case tok == "":
			return nil, &sio.ConnectError{Message: protocol.MsgSocketAuthRequired, Data: map[string]any{"code": protocol.CodeAuthRequired}}
		case strings.HasPrefix(tok, testToken):
			ts.mu.Lock()
			ts.tokens = append(ts.tokens, tok)
			ts.mu.Unlock()
			return tok, nil
		default:
			return nil, &sio.ConnectError{Message: protocol.MsgSocketAuthInvalid, Data: map[string]any{"code": protocol.CodeAuthInvalid}}
		}
	})
	nsp.OnConnection(func(s *sio.Socket) {
		ts.mu.Lock()
		ts.socket = s
		ts.mu.Unlock()
		_ = s.Emit(protocol.EventConnectionConfirmed, map[string]any{"message": protocol.MsgConnected, "userId": 1, "timestamp": protocol.Timestamp(time.Now())})
		s.On(protocol.EventJoinSpace, func(e *sio.Event) {
			var req map[string]any
			if len(e.Args) > 0 {
				req, _ = e.Args[0].(map[string]any)
			}
			sp, err1 := protocol.ParseID(req["spazioId"])
			se, err2 := protocol.ParseID(req["sedeId"])
			if err1 != nil || err2 != nil || sp > 100 {
				e.Ack(map[string]any{"success": false, "error": "Spazio non trovato", "code": protocol.CodeSpaceNotFound})
				return
			}
			room := protocol.SpaceRoom(sp, se)
			s.Join(room)
			ts.mu.Lock()
			ts.joins++
			ts.mu.Unlock()
			date, _ := req["date"].(string)
			e.Ack(map[string]any{"success": true, "room": room})
			_ = s.Emit(protocol.EventJoinedSpace, map[string]any{"room": room, "spazioId": sp, "sedeId": se, "date": date})
			_ = s.Emit(protocol.EventSlotsStatusUpdate, map[string]any{"type": protocol.EventSlotsStatusUpdate, "spazioId": sp, "sedeId": se, "date": date,
				"slotsStatus": []any{map[string]any{"id_slot": 1, "orario": "09:00", "status": "available"}}})
		})
		s.On(protocol.EventPing, func(e *sio.Event) { e.Ack(map[string]any{"ok": true}) })
	})
	inner := ts.io
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ts.noWS && r.URL.Query().Get("transport") == "websocket" {
			http.Error(w, "websocket disabled", http.StatusBadRequest)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	ts.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ts.hs.Serve(ln) }()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) url() string { return "http://" + ts.addr }

// stop closes every session and the listener (a server going away).
func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ts.io.Shutdown(ctx)
	_ = ts.hs.Close()
}

func (ts *testServer) acceptedTokens() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.tokens...)
}

// emitToRoom sends event to every socket in room.
func (ts *testServer) emitToRoom(room, event string, data any) {
	_ = ts.io.Of("/").To(room).Emit(event, data)
}

func (ts *testServer) joinCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.joins
}

// next returns the next event accepted by match, failing after a generous
// deadline (it bounds a hang, it does not measure anything).
func next(t *testing.T, s *Socket, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatal("events closed while waiting")
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("no matching event")
		}
	}
}

func isState(st State) func(Event) bool {
	return func(ev Event) bool { return ev.State != nil && ev.State.State == st }
}

func isEvent(name string) func(Event) bool {
	return func(ev Event) bool { return ev.Name == name }
}

func dialTest(t *testing.T, server, token string, mod func(*SocketOptions)) (*Socket, error) {
	t.Helper()
	opts := SocketOptions{Server: server, Token: token, Reconnect: true, ReconnectDelay: 50 * time.Millisecond, ReconnectDelayMax: 200 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Dial(ctx, opts)
	if s != nil {
		t.Cleanup(s.Close)
	}
	return s, err
}

func TestSocketJoinSnapshotAckAndLatency(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	s, err := dialTest(t, ts.url(), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, s, isState(StateConnected))
	if ev.State.Transport != sioclient.TransportWebSocket || ev.State.SocketID == "" {
		t.Errorf("connected state = %+v", ev.State)
	}
	next(t, s, isEvent(protocol.EventConnectionConfirmed))

	ctx := context.Background()
	ack, err := s.JoinSpace(ctx, 2, 1, "2026-11-14")
	if err != nil || !ack.Success || ack.Room != "spazio_2_sede_1" {
		t.Fatalf("JoinSpace = %+v, %v", ack, err)
	}
	snap := next(t, s, isEvent(protocol.EventSlotsStatusUpdate))
	if snap.Room != "spazio_2_sede_1" {
		t.Errorf("snapshot room = %q", snap.Room)
	}
	p, err := snap.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if su := p.(*protocol.SlotsStatusUpdate); su.Date != "2026-11-14" || len(su.SlotsStatus) != 1 {
		t.Errorf("snapshot = %+v", su)
	}

	if _, err := s.JoinSpace(ctx, 999, 1, ""); err == nil || !strings.Contains(err.Error(), "Spazio non trovato") {
		t.Errorf("join of an unknown spazio: err = %v", err)
	}
	if got := s.Rooms(); len(got) != 1 || got[0] != "spazio_2_sede_1" {
		t.Errorf("Rooms() = %v, want only the successful join", got)
	}
	if _, err := s.Latency(ctx); err != nil {
		t.Errorf("Latency: %v", err)
	}
	raw, err := s.EmitWithAck(ctx, protocol.EventPing, map[string]any{"ts": 1})
	if err != nil || len(raw) != 1 || !strings.Contains(string(raw[0]), `"ok":true`) {
		t.Errorf("EmitWithAck = %s, %v", raw, err)
	}
	if err := s.Emit("anything", 1); err != nil {
		t.Errorf("Emit: %v", err)
	}
	s.Close()
	s.Close() // idempotent
	if _, err := s.EmitWithAck(ctx, protocol.EventPing); !errors.Is(err, ErrClosed) {
		t.Errorf("EmitWithAck after Close: %v, want ErrClosed", err)
	}
}

func TestDialRejectedToken(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	for _, tc := range []struct{ token, code, msg string }{
		{"bad", protocol.CodeAuthInvalid, protocol.MsgSocketAuthInvalid},
		{"", protocol.CodeAuthRequired, protocol.MsgSocketAuthRequired},
	} {
		_, err := dialTest(t, ts.url(), tc.token, nil)
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || ce.Code() != tc.code || ce.Message != tc.msg {
			t.Errorf("token %q: err = %v, want a ConnectError %s", tc.token, err, tc.code)
		}
	}
}

func TestDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, err = dialTest(t, "http://"+addr, testToken, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want cannot reach … refused", err)
	}
}

func TestDialBadURL(t *testing.T) {
	for _, u := range []string{"localhost:3000", "ftp://x", "http://"} {
		if _, err := Dial(context.Background(), SocketOptions{Server: u}); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}

func TestSocketReconnectsAndRejoins(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	s, err := dialTest(t, ts.url(), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinSpace(context.Background(), 3, 1, "2026-11-14"); err != nil {
		t.Fatal(err)
	}
	next(t, s, isEvent(protocol.EventSlotsStatusUpdate))

	ts.stop()
	dis := next(t, s, isState(StateDisconnected))
	if dis.State.Reason == "" {
		t.Error("disconnected without a reason")
	}
	rec := next(t, s, isState(StateReconnecting))
	if rec.State.Attempt != 1 || rec.State.Delay <= 0 {
		t.Errorf("reconnecting = %+v", rec.State)
	}
	next(t, s, isState(StateConnectError)) // nothing listens for a while

	ts2 := startTestServer(t, ts.addr, false)
	next(t, s, isState(StateConnected))
	// The rejoin's snapshot and the rejoined state race; take both.
	var rj, snap *Event
	for rj == nil || snap == nil {
		ev := next(t, s, func(ev Event) bool {
			return isState(StateRejoined)(ev) || isEvent(protocol.EventSlotsStatusUpdate)(ev)
		})
		if ev.IsState() {
			rj = &ev
		} else {
			snap = &ev
		}
	}
	if rj.State.Rooms != 1 {
		t.Errorf("rejoined %d rooms, want 1", rj.State.Rooms)
	}
	if snap.Room != "spazio_3_sede_1" {
		t.Errorf("resync snapshot room = %q", snap.Room)
	}
	if p, _ := snap.Payload(); p.(*protocol.SlotsStatusUpdate).Date != "2026-11-14" {
		t.Error("rejoin lost the date")
	}
	if ts2.joinCount() < 1 {
		t.Error("the new server saw no join")
	}
}

func TestSocketFallsBackToPolling(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", true)
	s, err := dialTest(t, ts.url(), testToken, func(o *SocketOptions) { o.FallbackAfter = 2 })
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for {
		ev := next(t, s, func(ev Event) bool { return ev.IsState() })
		states = append(states, string(ev.State.State))
		if ev.State.State == StateConnected {
			if ev.State.Transport != sioclient.TransportPolling {
				t.Errorf("connected over %q, want polling", ev.State.Transport)
			}
			break
		}
	}
	got := strings.Join(states, ",")
	if !strings.Contains(got, "connect_error") || !strings.Contains(got, "fallback") {
		t.Errorf("states = %s, want connect errors then a fallback", got)
	}
	if _, err := s.JoinSpace(context.Background(), 1, 1, ""); err != nil {
		t.Errorf("join over polling: %v", err)
	}
}

func TestSocketNoReconnectGoesOffline(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	s, err := dialTest(t, ts.url(), testToken, func(o *SocketOptions) { o.Reconnect = false })
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()
	off := next(t, s, isState(StateOffline))
	if !strings.Contains(off.State.Reason, "disconnected") {
		t.Errorf("offline reason = %q", off.State.Reason)
	}
	for range s.Events() {
	}
	if _, err := s.Latency(context.Background()); err == nil {
		t.Error("Latency on an offline socket succeeded")
	}
}

func TestRecoveryOffsetsAreNotPayload(t *testing.T) {
	ts := startTestServerOpts(t, "127.0.0.1:0", false, true)
	s, err := dialTest(t, ts.url(), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinSpace(context.Background(), 2, 1, "2026-11-14"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s, isEvent(protocol.EventJoinedSpace))
	if len(ev.Args) != 1 || !strings.HasPrefix(string(ev.Raw), "{") || ev.Room != "spazio_2_sede_1" {
		t.Errorf("joined_space with recovery: raw %s args %d room %q; want the object alone", ev.Raw, len(ev.Args), ev.Room)
	}
}

// TestPollingWritesDoNotWaitForTheLongPoll: over polling, an emit must
// go out while the long-poll GET is parked on the server. zishang520's
// polling transport, used before, ran GETs and POSTs on one queue, so
// every emit waited for the server's next ping (25 s in production; the
// ack timed out first).
func TestPollingWritesDoNotWaitForTheLongPoll(t *testing.T) {
	ts := startTestServerPing(t, "127.0.0.1:0", false, false, 20*time.Second)
	s, err := dialTest(t, ts.url(), testToken, func(o *SocketOptions) {
		o.Transports = sioclient.TransportPolling
		o.AckTimeout = 2 * time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	next(t, s, isEvent(protocol.EventConnectionConfirmed))
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		ack, err := s.JoinSpace(ctx, int64(i+1), 1, "2026-11-14")
		cancel()
		if err != nil || !ack.Success {
			t.Fatalf("join %d over polling: %+v, %v (after %v)", i+1, ack, err, time.Since(start).Round(time.Millisecond))
		}
		next(t, s, isEvent(protocol.EventSlotsStatusUpdate))
	}
	if got := s.Transport(); got != sioclient.TransportPolling {
		t.Errorf("transport = %q, want polling", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Latency(ctx); err != nil {
		t.Errorf("Latency over polling: %v", err)
	}
}

// TestBothUpgradesFromOurPolling: with polling+websocket, a session
// starts on polling, reports connected, then upgrades to websocket and
// keeps working.
func TestBothUpgradesFromOurPolling(t *testing.T) {
	ts := startTestServerPing(t, "127.0.0.1:0", false, false, 20*time.Second)
	for range 4 {
		s, err := dialTest(t, ts.url(), testToken, func(o *SocketOptions) { o.Transports = TransportBoth })
		if err != nil {
			t.Fatal(err)
		}
		ev := next(t, s, isState(StateConnected))
		if ev.State.Transport != sioclient.TransportPolling {
			t.Fatalf("connected over %q, want polling first", ev.State.Transport)
		}
		if up := next(t, s, isState(StateUpgraded)); up.State.Transport != sioclient.TransportWebSocket {
			t.Errorf("upgraded to %q", up.State.Transport)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := s.JoinSpace(ctx, 1, 1, ""); err != nil {
			t.Errorf("join after a %s start (now %s): %v", ev.State.Transport, s.Transport(), err)
		}
		cancel()
		s.Close()
	}
}

// TestRenewReplacesTheSessionWithoutAGap: Renew opens a session with the
// new token, joins the rooms on it and only then closes the old one; the
// state never leaves connected and room events keep coming. A refused
// token leaves the old session running.
func TestRenewReplacesTheSessionWithoutAGap(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	s, err := dialTest(t, ts.url(), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinSpace(context.Background(), 2, 1, "2026-11-14"); err != nil {
		t.Fatal(err)
	}
	next(t, s, isEvent(protocol.EventSlotsStatusUpdate))

	s.Renew(testToken + "-2")
	var renewed *ConnState
	for renewed == nil {
		ev := next(t, s, func(ev Event) bool { return ev.IsState() })
		switch ev.State.State {
		case StateRenewed:
			renewed = ev.State
		case StateConnected, StateDisconnected, StateReconnecting, StateOffline:
			t.Fatalf("renewal went through %s", ev.State.State)
		}
	}
	if renewed.Rooms != 1 || renewed.SocketID == "" {
		t.Errorf("renewed = %+v, want 1 room and a socket id", renewed)
	}
	if got := ts.acceptedTokens(); len(got) != 2 || got[1] != testToken+"-2" {
		t.Errorf("handshake tokens = %v", got)
	}
	ts.emitToRoom("spazio_2_sede_1", "probe_after_renew", map[string]any{"spazioId": 2, "sedeId": 1})
	if ev := next(t, s, func(ev Event) bool { return ev.Name == "probe_after_renew" || ev.IsState() }); ev.IsState() {
		t.Fatalf("got state %s instead of the room event", ev.State.State)
	}

	s.Renew("bad")
	failed := next(t, s, func(ev Event) bool { return ev.IsState() })
	if failed.State.State != StateRenewFailed || failed.State.Code != protocol.CodeAuthInvalid {
		t.Fatalf("renew with a refused token: %+v", failed.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Latency(ctx); err != nil || !s.Connected() {
		t.Errorf("the old session did not carry on: %v", err)
	}
}

// TestConnectAttemptsDoNotHang: hundreds of attempts on every transport
// all connect. zishang520's client, used before, lost a fast server's
// handshake now and then (it opened the transport before its Manager
// listened, and its websocket handshook before it was writable); such an
// attempt hung until the server's next ping.
func TestConnectAttemptsDoNotHang(t *testing.T) {
	ts := startTestServerPing(t, "127.0.0.1:0", false, false, 20*time.Second)
	opts := SocketOptions{ConnectTimeout: 5 * time.Second, AckTimeout: time.Second}
	opts.defaults()
	s := &Socket{opts: opts, server: ts.url(), q: newEventQueue(10), token: testToken}
	for i := range 300 {
		tr := []string{sioclient.TransportWebSocket, sioclient.TransportPolling, TransportBoth}[i%3]
		res := s.attempt(t.Context(), tr, true)
		if res.err != nil {
			t.Fatalf("attempt %d over %s: %v", i+1, tr, res.err)
		}
		_ = res.conn.Close()
	}
}

// TestCloseJoinsTheEventPump: once Close returns, the goroutine that
// delivers events has ended, so Events is closed at once (nothing of
// the Socket outlives Close).
func TestCloseJoinsTheEventPump(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", false)
	for range 20 {
		s, err := dialTest(t, ts.url(), testToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		next(t, s, isState(StateConnected))
		s.Close()
		for closed := false; !closed; {
			select {
			case _, ok := <-s.Events():
				closed = !ok
			default:
				t.Fatal("Events is still open after Close: the event pump outlived it")
			}
		}
	}
}
