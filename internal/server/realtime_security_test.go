package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"github.com/coworkctl/coworkctl/internal/testkit"
	"github.com/gorilla/websocket"
)

// rawSocket is a bare Engine.IO/Socket.IO websocket client: these tests
// need to send what the official client never would (another user's
// recovery pid, floods of events) and to see the server's exact packets.
type rawSocket struct {
	t      *testing.T
	ws     *websocket.Conn
	sid    string // Socket.IO socket id from the CONNECT answer
	pid    string
	offset string // the last recovery offset seen
}

// dialRaw opens a websocket session and sends CONNECT with auth.
func dialRaw(t *testing.T, base string, auth map[string]any) *rawSocket {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	r := &rawSocket{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	if open := r.next(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	b, _ := json.Marshal(auth)
	r.send("40" + string(b))
	ack := r.next()
	if !strings.HasPrefix(ack, "40{") {
		t.Fatalf("CONNECT answered %q", ack)
	}
	var hs struct{ Sid, Pid string }
	if err := json.Unmarshal([]byte(ack[2:]), &hs); err != nil {
		t.Fatalf("CONNECT answer %q: %v", ack, err)
	}
	r.sid, r.pid = hs.Sid, hs.Pid
	return r
}

func (r *rawSocket) send(pkt string) {
	r.t.Helper()
	if err := r.ws.WriteMessage(websocket.TextMessage, []byte(pkt)); err != nil {
		r.t.Fatalf("send %q: %v", pkt, err)
	}
}

// next returns the next packet, answering pings on the way, and keeps the
// last recovery offset (the trailing string argument of an event).
func (r *rawSocket) next() string {
	r.t.Helper()
	for {
		_ = r.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := r.ws.ReadMessage()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		p := string(b)
		if p == "2" {
			r.send("3")
			continue
		}
		if strings.HasPrefix(p, "42[") {
			var args []any
			if json.Unmarshal([]byte(p[2:]), &args) == nil && len(args) > 1 {
				if off, ok := args[len(args)-1].(string); ok {
					r.offset = off
				}
			}
		}
		return p
	}
}

// waitEvent reads until an event named name arrives and returns its packet.
func (r *rawSocket) waitEvent(name string) string {
	r.t.Helper()
	for {
		if p := r.next(); strings.HasPrefix(p, `42["`+name+`"`) {
			return p
		}
	}
}

// drop closes the TCP connection without a close packet: a lost network.
func (r *rawSocket) drop() { r.ws.UnderlyingConn().Close() }

func userToken(t *testing.T, user int64) string {
	t.Helper()
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: user, Role: auth.RoleCliente, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func recoveryServer(t *testing.T, rt server.RealtimeConfig) *harness {
	t.Helper()
	return startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "rec.db"), JWTSecret: secret, HoldTTL: 10 * time.Minute,
		Location: time.UTC, Catalog: slots.DemoCatalog(), Realtime: rt,
	})
}

// holdSlot makes a slot_update in spazio 1's room.
func holdSlot(t *testing.T, h *harness, user int64, slot int, date string) {
	t.Helper()
	status, out, _ := h.call("POST", fmt.Sprintf("/api/slots/%d/hold", slot), userToken(t, user), map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
	if status != 200 {
		t.Fatalf("hold slot %d: %d %v", slot, status, out)
	}
}

// A token of user B presented with user A's pid and offset must get a
// fresh session: recovering it would hand B what is sent to A.
func TestRecoveryRefusedToAnotherUser(t *testing.T) {
	h := recoveryServer(t, server.RealtimeConfig{})
	date := tomorrow()
	a := dialRaw(t, h.base, map[string]any{"token": userToken(t, 101)})
	a.send(fmt.Sprintf(`42["join_space",{"spazioId":1,"sedeId":1,"date":%q}]`, date))
	a.waitEvent("slots_status_update")
	if a.pid == "" || a.offset == "" {
		t.Fatalf("no recovery pid/offset (pid %q, offset %q)", a.pid, a.offset)
	}
	dropSeen(t, h, a)

	b := dialRaw(t, h.base, map[string]any{"token": userToken(t, 202), "pid": a.pid, "offset": a.offset})
	if b.sid == a.sid {
		t.Fatalf("user 202 recovered user 101's socket %s", a.sid)
	}
	if p := b.waitEvent("connection_confirmed"); strings.Contains(p, `"recovered":true`) || !strings.Contains(p, `"userId":202`) {
		t.Fatalf("connection_confirmed %s", p)
	}
	// B is not in A's spazio room: a hold there does not reach it, and B's
	// next event is the answer to its own ping.
	holdSlot(t, h, 303, 2, date)
	b.send(`421["ping_latency"]`)
	if p := b.next(); !strings.HasPrefix(p, "431[") {
		t.Fatalf("user 202 got %q before its ping answer: it was put in user 101's rooms", p)
	}

	// The owner itself still recovers (control: the test above can fail).
	a2 := dialRaw(t, h.base, map[string]any{"token": userToken(t, 101), "pid": a.pid, "offset": a.offset})
	if a2.sid != a.sid {
		t.Fatalf("user 101 did not recover its own session (sid %s, want %s)", a2.sid, a.sid)
	}
}

// What is kept for a dropped session is bounded: past the bound the
// client gets a fresh session (and so a fresh snapshot) instead of a
// partial replay.
func TestRecoveryBoundedPerSession(t *testing.T) {
	h := recoveryServer(t, server.RealtimeConfig{Socket: sio.Config{Recovery: sio.Recovery{MaxPackets: 5}}})
	for n, tc := range []struct {
		missed  int
		recover bool
	}{{missed: 2, recover: true}, {missed: 8, recover: false}} {
		date := time.Now().UTC().AddDate(0, 0, 2+n).Format("2006-01-02")
		user := int64(400 + tc.missed)
		a := dialRaw(t, h.base, map[string]any{"token": userToken(t, user)})
		a.send(fmt.Sprintf(`42["join_space",{"spazioId":1,"sedeId":1,"date":%q}]`, date))
		a.waitEvent("slots_status_update")
		dropSeen(t, h, a)
		for i := range tc.missed {
			holdSlot(t, h, user*10+int64(i), 1+i, date)
			_, _, _ = h.call("POST", fmt.Sprintf("/api/slots/%d/release", 1+i), userToken(t, user*10+int64(i)),
				map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		}
		b := dialRaw(t, h.base, map[string]any{"token": userToken(t, user), "pid": a.pid, "offset": a.offset})
		if got := b.sid == a.sid; got != tc.recover {
			t.Fatalf("%d missed slot changes (%d packets, bound 5): recovered=%v, want %v", tc.missed, 2*tc.missed, got, tc.recover)
		}
		if tc.recover {
			for range 2 * tc.missed {
				b.waitEvent("slot_update")
			}
		}
	}
}

// Replies to rejected events are never stored for recovery: a flood of
// rate-limited events must not grow the server's memory (it grew the heap
// from 25 MB to 834 MB with every reply kept for two minutes).
func TestRejectedEventFloodKeepsMemoryFlat(t *testing.T) {
	// One token per ~15 minutes: practically every event of the flood is refused.
	h := recoveryServer(t, server.RealtimeConfig{EventsPerSecond: 0.001, EventBurst: 1})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const clients, perClient = 4, 25_000
	for c := range clients {
		s := dialRaw(t, h.base, map[string]any{"token": userToken(t, int64(500+c))})
		// One websocket message may carry one packet: send them one by
		// one, and read what comes back so the server's queue drains.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := s.ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for i := range perClient {
			if err := s.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42["join_space",%d]`, i))); err != nil {
				t.Fatalf("client %d flood write %d: %v", c, i, err)
			}
		}
		// The server saw the flood (this test must not pass by dropping it).
		want := (c + 1) * (perClient - 2)
		testkit.Eventually(t, 90*time.Second, fmt.Sprintf("%d rate-limited events after client %d's flood", want, c),
			func() bool { return rateLimited(t, h) >= want })
		s.ws.Close()
		<-done
	}
	after := heap()
	growth := int64(after) - int64(before)
	t.Logf("heap %d KiB before, %d KiB after %d rejected events", before>>10, after>>10, clients*perClient)
	if growth > 20<<20 {
		t.Fatalf("heap grew by %d MiB after a flood of rejected events: replies are being kept", growth>>20)
	}
}

// Sessions that never complete the Socket.IO CONNECT have their own pool
// and are closed after the connect timeout, so they cannot take the
// connection slots of clients with a token. A handshake past the pool's
// bound is not refused: the oldest pending session makes room.
func TestPendingSessionsCannotExhaustConnections(t *testing.T) {
	h := recoveryServer(t, server.RealtimeConfig{MaxConnections: 4, Socket: sio.Config{MaxPending: 3, ConnectTimeout: 500 * time.Millisecond}})
	var bare []string
	for range 3 {
		sid, code := pollingHandshake(t, h.base)
		if code != 200 {
			t.Fatalf("bare handshake refused with %d under a pending cap of 3", code)
		}
		bare = append(bare, sid)
	}
	sid, code := pollingHandshake(t, h.base)
	if code != 200 {
		t.Fatalf("4th bare handshake: status %d, want 200 (the oldest pending session makes room)", code)
	}
	if code := pollStatus(t, h.base, bare[0]); code != http.StatusBadRequest {
		t.Fatalf("the oldest pending session after a 4th handshake with a pool of 3: poll status %d, want 400 (evicted)", code)
	}
	bare = append(bare[1:], sid)
	// After the connect timeout the bare sessions are gone…
	deadline := time.Now().Add(5 * time.Second)
	for _, sid := range bare {
		for {
			resp, err := http.Get(h.base + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusBadRequest {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bare session %s still open %s after the connect timeout", sid, 5*time.Second)
			}
		}
	}
	// …and clients with a token get every connection slot.
	for i := range 4 {
		dialRaw(t, h.base, map[string]any{"token": userToken(t, int64(600+i))})
	}
	if _, code := pollingHandshake(t, h.base); code != http.StatusServiceUnavailable {
		t.Fatalf("handshake with 4 of 4 connections taken: status %d, want 503", code)
	}
}

// pollStatus is the status of a GET on a polling session (400: unknown).
func pollStatus(t *testing.T, base, sid string) int {
	t.Helper()
	resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rateLimited reads coworkctl_rate_limited_events_total from /metrics.
func rateLimited(t *testing.T, h *harness) int {
	t.Helper()
	n, ok := metric(t, h, "coworkctl_rate_limited_events_total")
	if !ok {
		t.Fatal("coworkctl_rate_limited_events_total missing from /metrics")
	}
	return int(n)
}

// metric sums the series of name in h's /metrics (all label sets); ok is
// false when it has none yet.
func metric(t *testing.T, h *harness, name string) (sum float64, ok bool) {
	t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		rest, found := strings.CutPrefix(line, name)
		if !found || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		n, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum, ok = sum+n, true
	}
	return sum, ok
}

// dropSeen drops r and waits until h's hub has counted the disconnect,
// which happens after the session is kept for recovery.
func dropSeen(t *testing.T, h *harness, r *rawSocket) {
	t.Helper()
	before, _ := metric(t, h, "coworkctl_disconnects_total")
	r.drop()
	testkit.Eventually(t, 10*time.Second, "the server to count the dropped socket's disconnect", func() bool {
		n, _ := metric(t, h, "coworkctl_disconnects_total")
		return n > before
	})
}
