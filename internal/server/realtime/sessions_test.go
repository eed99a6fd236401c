package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

func TestSessionsAddReplaceRemove(t *testing.T) {
	ss := newSessions()
	a, b := &session{id: "a"}, &session{id: "b"}
	ss.add(a)
	ss.add(b)
	// A recovered socket takes over a's id before a's disconnect ran.
	a2 := &session{id: "a"}
	if old := ss.add(a2); old != a || !a.left.Load() || a2.left.Load() {
		t.Fatalf("replace: old %v, a left %v, a2 left %v", old, a.left.Load(), a2.left.Load())
	}
	if ss.remove(a) {
		t.Fatal("the replaced session's late disconnect removed its successor")
	}
	if !ss.remove(a2) || !a2.left.Load() {
		t.Fatal("remove of a present session failed or left it unmarked")
	}
	if ss.remove(a2) {
		t.Fatal("second remove of the same session returned true (disconnect must be idempotent)")
	}
	if ss.len() != 1 || ss.all()[0] != b {
		t.Fatalf("left %d sessions, want b only", ss.len())
	}
}

func TestSessionsConcurrent(t *testing.T) {
	ss := newSessions()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			s := &session{id: fmt.Sprint("s", i%10)}
			ss.add(s)
			_ = ss.all()
			ss.remove(s)
			ss.remove(s)
		})
	}
	wg.Wait()
	if n := ss.len(); n != 0 {
		t.Fatalf("after everyone left: %d sessions, want 0", n)
	}
}

// fakeSpaces knows every spazio but 99, and fails the snapshots of 98.
type fakeSpaces struct{}

func (fakeSpaces) ResolveSpace(_ context.Context, spazioID, _ int64) (slots.Spazio, slots.Sede, error) {
	if spazioID == 99 {
		return slots.Spazio{}, slots.Sede{}, slots.ErrSpazioNotFound
	}
	return slots.Spazio{}, slots.Sede{}, nil
}

func (f fakeSpaces) Grid(ctx context.Context, spazioID, sedeID int64, date string, _ slots.Viewer) (slots.Grid, error) {
	if spazioID == 98 {
		return slots.Grid{}, slots.ErrUnavailable
	}
	if _, _, err := f.ResolveSpace(ctx, spazioID, sedeID); err != nil {
		return slots.Grid{}, err
	}
	return slots.Grid{Date: date, Version: 1}, nil
}

// hubClient is a raw Socket.IO client of a test hub.
type hubClient struct {
	t    *testing.T
	conn net.Conn
	ack  int
}

func dialHub(t *testing.T, url, token string) *hubClient {
	t.Helper()
	conn, err := connectRaw(url, token)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	// The hub counts a socket before it confirms it; the CONNECT answer
	// comes earlier.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	for {
		msg, err := wsutil.ReadServerText(conn)
		if err != nil {
			t.Fatalf("no %s: %v", protocol.EventConnectionConfirmed, err)
		}
		if strings.HasPrefix(string(msg), `42["`+protocol.EventConnectionConfirmed+`"`) {
			return &hubClient{t: t, conn: conn}
		}
	}
}

// call emits event with payload and returns its ack, skipping the
// events that arrive before it.
func (c *hubClient) call(event string, payload any) protocol.Ack {
	c.t.Helper()
	c.ack++
	b, _ := json.Marshal([]any{event, payload})
	if err := wsutil.WriteClientText(c.conn, fmt.Appendf(nil, "42%d%s", c.ack, b)); err != nil {
		c.t.Fatalf("emit %s: %v", event, err)
	}
	prefix := fmt.Sprintf("43%d[", c.ack)
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for {
		msg, err := wsutil.ReadServerText(c.conn)
		if err != nil {
			c.t.Fatalf("%s: no ack: %v", event, err)
		}
		if s := string(msg); strings.HasPrefix(s, prefix) {
			var acks []protocol.Ack
			if err := json.Unmarshal([]byte(s[len(prefix)-1:]), &acks); err != nil || len(acks) != 1 {
				c.t.Fatalf("%s: ack %q: %v", event, s, err)
			}
			return acks[0]
		}
	}
}

// writeText sends one websocket text message.
func writeText(c *hubClient, b []byte) error { return wsutil.WriteClientText(c.conn, b) }

// readUntil reads messages until one starts with prefix and returns it.
func readUntil(t *testing.T, c *hubClient, prefix string) string {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for {
		msg, err := wsutil.ReadServerText(c.conn)
		if err != nil {
			t.Fatalf("waiting for %s: %v", prefix, err)
		}
		if strings.HasPrefix(string(msg), prefix) {
			return string(msg)
		}
	}
}

func (c *hubClient) join(spazio int64, date string) protocol.Ack {
	c.t.Helper()
	return c.call(protocol.EventJoinSpace, map[string]any{"spazioId": spazio, "sedeId": 1, "date": date})
}

// wantPresence checks Stats and the gauges against sockets per user and
// members per space room.
func wantPresence(t *testing.T, h *Hub, when string, users map[int64]int, rooms map[string]int) {
	t.Helper()
	sockets := 0
	for _, n := range users {
		sockets += n
	}
	st := h.Stats()
	if st.Sockets != sockets || !maps.Equal(st.Users, users) || !maps.Equal(st.Rooms, rooms) {
		t.Errorf("%s: stats %d sockets, users %v, rooms %v; want %d, %v, %v", when, st.Sockets, st.Users, st.Rooms, sockets, users, rooms)
	}
	gs, gu, gr := gauge(t, h.metrics.Sockets), gauge(t, h.metrics.Users), gauge(t, h.metrics.Rooms)
	if int(gs) != sockets || int(gu) != len(users) || int(gr) != len(rooms) {
		t.Errorf("%s: gauges %v sockets, %v users, %v rooms; want %d, %d, %d", when, gs, gu, gr, sockets, len(users), len(rooms))
	}
}

// gauge reads g's value.
func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(g)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v", err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// TestPresenceFollowsMembership: stats and gauges count sockets, users
// and space-room members as sockets join (with and without a date),
// leave, fail a join, hit the room limit and go.
func TestPresenceFollowsMembership(t *testing.T) {
	h, url, mint := raceHub(t)
	h.cfg.MaxRoomsPerSocket = 2
	h.UseSpaces(fakeSpaces{})
	date := time.Now().AddDate(0, 0, 1).Format(protocol.DateLayout)
	a1, a2, b := dialHub(t, url, mint(1, time.Hour)), dialHub(t, url, mint(1, time.Hour)), dialHub(t, url, mint(2, time.Hour))
	wantPresence(t, h, "connected", map[int64]int{1: 2, 2: 1}, map[string]int{})

	for _, j := range []struct {
		c      *hubClient
		spazio int64
		date   string
		code   string // "" for success
	}{
		{a1, 1, "", ""},
		{a1, 2, date, ""},
		{a1, 3, "", protocol.CodeTooManyRooms},
		{a1, 1, date, ""}, // a room it is in: not past the limit
		{a2, 1, date, ""},
		{a2, 99, "", protocol.RefusalSpaceNotFound.Code},
		{a2, 98, date, protocol.RefusalUnavailable.Code}, // the snapshot fails: the room is left
		{b, 2, "", ""},
	} {
		ack := j.c.join(j.spazio, j.date)
		if ack.Success != (j.code == "") || ack.Code != j.code {
			t.Errorf("join %d (date %q): ack %+v, want code %q", j.spazio, j.date, ack, j.code)
		}
	}
	room := func(spazio int64) string { return protocol.SpaceRoom(spazio, 1) }
	wantPresence(t, h, "joined", map[int64]int{1: 2, 2: 1}, map[string]int{room(1): 2, room(2): 2})

	if ack := b.call(protocol.EventLeaveSpace, map[string]any{"spazioId": 2, "sedeId": 1}); !ack.Success {
		t.Fatalf("leave: %+v", ack)
	}
	wantPresence(t, h, "left", map[int64]int{1: 2, 2: 1}, map[string]int{room(1): 2, room(2): 1})
	// A leave makes room under the limit.
	a1.call(protocol.EventLeaveSpace, map[string]any{"spazioId": 2, "sedeId": 1})
	if ack := a1.join(3, ""); !ack.Success {
		t.Errorf("join after a leave: %+v", ack)
	}

	a2.conn.Close()
	testkit.Eventually(t, 5*time.Second, "the closed socket out of stats", func() bool { return h.Stats().Sockets == 2 })
	wantPresence(t, h, "one closed", map[int64]int{1: 1, 2: 1}, map[string]int{room(1): 1, room(3): 1})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.Shutdown(ctx)
	testkit.Eventually(t, 5*time.Second, "no socket in stats after shutdown", func() bool { return h.Stats().Sockets == 0 })
	wantPresence(t, h, "shut down", map[int64]int{}, map[string]int{})
}
