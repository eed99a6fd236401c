package tui

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// t0 is the fixed clock of every test: 10:00 UTC, so 09:00 is past.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

const day = "2026-11-26"

func at(d time.Duration) time.Time { return t0.Add(d) }

var testSpaces = []Space{
	{SpazioID: 1, SedeID: 1, Name: "Open space 1", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
	{SpazioID: 2, SedeID: 1, Name: "Sala riunioni 2", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
}

// fakeConn records what the dashboard asks of the network.
type fakeConn struct {
	mu      sync.Mutex
	joins   []string
	resyncs int
}

func (f *fakeConn) Events() <-chan client.Event { return nil }
func (f *fakeConn) JoinSpace(_ context.Context, sp, se int64, date string) (protocol.Ack, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joins = append(f.joins, fmt.Sprintf("%d@%d %s", sp, se, date))
	return protocol.Ack{Success: true}, nil
}
func (f *fakeConn) Resync(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resyncs++
	return 2, nil
}
func (f *fakeConn) Latency(context.Context) (time.Duration, error) { return 3 * time.Millisecond, nil }

func newTestModel(conn Conn) Model {
	cfg := Config{Server: "http://127.0.0.1:3000", Spaces: testSpaces, Date: day, Now: func() time.Time { return t0 }, Location: time.UTC}
	if conn != nil {
		cfg.Conn = conn
	}
	m := New(cfg)
	return step(m, tea.WindowSizeMsg{Width: 100, Height: 30})
}

func step(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

// stepCmd applies one message and returns the command it produced.
func stepCmd(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

func ev(name string, when time.Time, payload any) TypedEvent {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return Decode(client.Event{Name: name, Room: client.RoomOf(raw), Raw: raw, At: when})
}

func state(when time.Time, cs client.ConnState) TypedEvent {
	return Decode(client.Event{Name: client.EventConnection, At: when, State: &cs})
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func slot(n int, status string, expires string) map[string]any {
	s := map[string]any{"id_slot": n, "orario": fmt.Sprintf("%02d:00", 8+n), "status": status, "date": day}
	if expires != "" {
		s["expires_at"] = expires
	}
	return s
}

func snapshot(spazio int64, date string, when time.Time, slots ...map[string]any) TypedEvent {
	list := make([]any, len(slots))
	for i, s := range slots {
		list[i] = s
	}
	return ev(protocol.EventSlotsStatusUpdate, when, map[string]any{
		"type": protocol.EventSlotsStatusUpdate, "spazioId": spazio, "sedeId": 1, "date": date,
		"slotsStatus": list, "timestamp": protocol.Timestamp(when)})
}

func fullDay(overrides map[int]map[string]any) []map[string]any {
	var out []map[string]any
	for n := 1; n <= 9; n++ {
		if s, ok := overrides[n]; ok {
			out = append(out, s)
			continue
		}
		st := protocol.StatusAvailable
		if n == 1 {
			st = protocol.StatusPast
		}
		out = append(out, slot(n, st, ""))
	}
	return out
}

func slotUpdate(spazio int64, n int, status, expires, date string, when time.Time) TypedEvent {
	data := map[string]any{"id": n, "id_slot": n, "id_spazio": spazio, "id_sede": 1, "date": date,
		"orario": fmt.Sprintf("%02d:00", 8+n), "status": status}
	if expires != "" {
		data["expires_at"] = expires
	}
	return ev(protocol.EventSlotUpdate, when, map[string]any{"type": protocol.EventSlotUpdate, "slotId": n, "status": status, "data": data,
		"timestamp": protocol.Timestamp(when)})
}

const room1, room2 = "spazio_1_sede_1", "spazio_2_sede_1"

func TestGridSnapshotThenUpdates(t *testing.T) {
	m := newTestModel(nil)
	if got := m.Grid().Status(room1, "10:00"); got != "" {
		t.Fatalf("before the snapshot status = %q, want unknown", got)
	}
	m = step(m, snapshot(1, day, at(0), fullDay(map[int]map[string]any{
		3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z"),
		4: slot(4, protocol.StatusBooked, ""),
	})...))
	g := m.Grid()
	for _, tc := range []struct{ orario, want string }{
		{"09:00", protocol.StatusPast}, {"10:00", protocol.StatusPast}, // 10:00 has started at t0
		{"11:00", protocol.StatusOccupied}, {"12:00", protocol.StatusBooked}, {"13:00", protocol.StatusAvailable},
	} {
		if got := g.Status(room1, tc.orario); got != tc.want {
			t.Errorf("status %s = %q, want %q", tc.orario, got, tc.want)
		}
	}
	if got := g.Remaining(room1, "11:00"); got != 15*time.Minute {
		t.Errorf("countdown = %v, want 15m", got)
	}
	if taken, total := g.Occupancy(room1); taken != 2 || total != 9 {
		t.Errorf("occupancy = %d/%d, want 2/9", taken, total)
	}
	if g.Highlighted(room1, "11:00") {
		t.Error("a first snapshot highlighted a cell")
	}

	m = step(m, TickMsg(at(5*time.Minute)))
	if got := m.Grid().Remaining(room1, "11:00"); got != 10*time.Minute {
		t.Errorf("countdown after 5m = %v, want 10m", got)
	}

	m = step(m, slotUpdate(1, 6, protocol.StatusOccupied, "2026-11-26T10:20:00.000Z", day, at(5*time.Minute+time.Second)))
	g = m.Grid()
	if g.Status(room1, "14:00") != protocol.StatusOccupied || !g.Highlighted(room1, "14:00") {
		t.Errorf("slot_update: status %q highlighted %v", g.Status(room1, "14:00"), g.Highlighted(room1, "14:00"))
	}
	if taken, _ := g.Occupancy(""); taken != 3 {
		t.Errorf("total taken = %d, want 3", taken)
	}
	m = step(m, TickMsg(at(5*time.Minute+time.Second+HighlightFor)))
	if m.Grid().Highlighted(room1, "14:00") {
		t.Error("highlight did not fade")
	}

	// An update for another day or another space's unknown room changes nothing.
	m = step(m, slotUpdate(1, 7, protocol.StatusBooked, "", "2026-11-27", at(6*time.Minute)))
	m = step(m, slotUpdate(9, 7, protocol.StatusBooked, "", day, at(6*time.Minute)))
	if got := m.Grid().Status(room1, "15:00"); got != protocol.StatusAvailable {
		t.Errorf("update for another day leaked: 15:00 = %q", got)
	}
	// Booking the held slot clears its countdown.
	m = step(m, slotUpdate(1, 3, protocol.StatusBooked, "", day, at(7*time.Minute)))
	if m.Grid().Status(room1, "11:00") != protocol.StatusBooked || m.Grid().Remaining(room1, "11:00") != 0 {
		t.Error("booking kept the hold countdown")
	}
}

func TestHoldExpiryAndFreedReload(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	m = step(m, snapshot(1, day, at(0), fullDay(nil)...))
	m = step(m, snapshot(2, day, at(0), fullDay(map[int]map[string]any{
		5: slot(5, protocol.StatusOccupied, "2026-11-26T10:01:00.000Z"),
	})...))
	m = step(m, TickMsg(at(90*time.Second)))
	if got := m.Grid().Remaining(room2, "13:00"); got != 0 {
		t.Errorf("countdown past expiry = %v, want 0", got)
	}
	if got := m.Grid().Status(room2, "13:00"); got != protocol.StatusOccupied {
		t.Errorf("expired hold shows %q before the server frees it, want occupied", got)
	}
	logged := len(m.Log().Entries())
	freed := ev(protocol.EventSlotsFreed, at(91*time.Second), map[string]any{"type": protocol.EventSlotsFreed, "count": 1,
		"slots": []any{map[string]any{"id_spazio": 2, "id_sede": 1, "date": day, "id_slot": 5}}})
	m, cmd := stepCmd(m, freed)
	if got := m.Grid().Status(room2, "13:00"); got != protocol.StatusAvailable || !m.Grid().Highlighted(room2, "13:00") {
		t.Errorf("after slots_freed 13:00 = %q (highlighted %v), want available and highlighted", got, m.Grid().Highlighted(room2, "13:00"))
	}
	if cmd == nil {
		t.Fatal("slots_freed did not ask for a reload")
	}
	// A second slots_freed while the first reload runs is queued.
	m, cmd2 := stepCmd(m, freed)
	if cmd2 != nil {
		t.Error("a reload in flight was not coalesced")
	}
	msg := cmd()
	// Only the room in the freed list is reloaded, not every room.
	if got := strings.Join(conn.joins, ";"); got != "2@1 "+day {
		t.Errorf("joins after slots_freed = %q, want only 2@1", got)
	}
	m, cmd3 := stepCmd(m, msg)
	if cmd3 == nil {
		t.Fatal("the queued reload never ran")
	}
	_ = cmd3()
	// The server answers each reload with joined_space and an unchanged
	// snapshot: the log keeps one line per expiry batch, not 2 per room.
	m = step(m,
		ev(protocol.EventJoinedSpace, at(92*time.Second), map[string]any{"room": room2, "spazioId": 2, "sedeId": 1, "date": day}),
		snapshot(2, day, at(92*time.Second), fullDay(nil)...),
		ev(protocol.EventJoinedSpace, at(92*time.Second), map[string]any{"room": room2, "spazioId": 2, "sedeId": 1, "date": day}),
		snapshot(2, day, at(92*time.Second), fullDay(nil)...),
	)
	entries := m.Log().Entries()
	if n := len(entries) - logged; n != 2 {
		var got []string
		for _, e := range entries[logged:] {
			got = append(got, e.Name+" "+e.Summary)
		}
		t.Errorf("two expiry batches logged %d lines, want 2:\n%s", n, strings.Join(got, "\n"))
	}
	if !strings.Contains(entries[len(entries)-1].Summary, "2@1 #5") {
		t.Errorf("slots_freed line = %q, want it to name the slot", entries[len(entries)-1].Summary)
	}
}

func TestReconnectSequence(t *testing.T) {
	m := newTestModel(nil)
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnecting, Attempt: 1, Transport: "websocket"}),
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		snapshot(1, day, at(0), fullDay(nil)...),
	)
	if s := m.Stats().State(); s.State != client.StateConnected || s.Transport != "websocket" {
		t.Fatalf("state = %+v", s)
	}
	m = step(m,
		state(at(10*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
		state(at(10*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 1, Delay: 500 * time.Millisecond}),
		state(at(11*time.Second), client.ConnState{State: client.StateConnecting, Attempt: 1, Transport: "websocket"}),
		state(at(11*time.Second), client.ConnState{State: client.StateConnectError, Attempt: 1, Message: "dial tcp 127.0.0.1:3000: connect: connection refused"}),
		state(at(11*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 2, Delay: 2 * time.Second}),
	)
	s := m.Stats().State()
	if s.State != client.StateReconnecting || s.Attempt != 2 || !strings.Contains(s.Message, "refused") {
		t.Errorf("while down: state = %+v", s)
	}
	if !strings.Contains(m.View(), "reconnecting") || !strings.Contains(m.View(), "#2 in 2s") {
		t.Errorf("the screen does not say it is reconnecting:\n%s", m.View())
	}
	// Back: the rejoin's snapshot shows what changed while offline.
	m = step(m,
		state(at(14*time.Second), client.ConnState{State: client.StateConnecting, Attempt: 2, Transport: "websocket"}),
		state(at(14*time.Second), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		snapshot(1, day, at(14*time.Second), fullDay(map[int]map[string]any{8: slot(8, protocol.StatusBooked, "")})...),
		state(at(14*time.Second), client.ConnState{State: client.StateRejoined, Rooms: 2}),
	)
	if s := m.Stats().State(); s.State != client.StateConnected {
		t.Errorf("after reconnect state = %+v", s)
	}
	if m.Grid().Status(room1, "16:00") != protocol.StatusBooked || !m.Grid().Highlighted(room1, "16:00") {
		t.Error("the resync snapshot did not update and highlight the changed slot")
	}
	var names []string
	for _, e := range m.Log().Entries() {
		if e.State {
			names = append(names, e.Name)
		}
	}
	want := "connecting,connected,disconnected,reconnecting,connecting,connect_error,reconnecting,connecting,connected,rejoined"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("logged states %s\nwant %s", got, want)
	}
	m = step(m, EventsClosedMsg{})
	if m.Stats().State().State != client.StateOffline {
		t.Error("a closed event stream does not show offline")
	}
}

func TestDateKeysRejoin(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	m = step(m, snapshot(1, day, at(0), fullDay(nil)...), snapshot(2, day, at(0), fullDay(nil)...))
	if !m.Grid().Loaded() {
		t.Fatal("grid not loaded after both snapshots")
	}
	m, cmd := stepCmd(m, press("]"))
	if m.Grid().Date() != "2026-11-27" || m.Grid().Loaded() {
		t.Fatalf("after ]: date %s loaded %v", m.Grid().Date(), m.Grid().Loaded())
	}
	if cmd == nil {
		t.Fatal("next day did not re-join")
	}
	if msg := cmd().(JoinedMsg); msg.Err != nil || msg.Date != "2026-11-27" {
		t.Errorf("join result = %+v", msg)
	}
	if got := strings.Join(conn.joins, ";"); got != "1@1 2026-11-27;2@1 2026-11-27" {
		t.Errorf("joins = %s", got)
	}
	// A late snapshot of the old day is ignored; the new day's applies.
	m = step(m, snapshot(1, day, at(time.Second), fullDay(map[int]map[string]any{3: slot(3, protocol.StatusBooked, "")})...))
	if m.Grid().Status(room1, "11:00") != "" {
		t.Error("a snapshot of the previous day was applied")
	}
	next := fullDay(nil)
	next[0] = slot(1, protocol.StatusAvailable, "")
	m = step(m, snapshot(1, "2026-11-27", at(time.Second), next...))
	if got := m.Grid().Status(room1, "09:00"); got != protocol.StatusAvailable {
		t.Errorf("tomorrow 09:00 = %q, want available (not past)", got)
	}
	m = step(m, press("["), press("["))
	if m.Grid().Date() != "2026-11-25" {
		t.Errorf("after [[ date = %s", m.Grid().Date())
	}
	m = step(m, press("t"))
	if m.Grid().Date() != day {
		t.Errorf("t went to %s, want %s", m.Grid().Date(), day)
	}
}

func TestEventLogFilterPauseScroll(t *testing.T) {
	m := newTestModel(nil)
	m = step(m,
		ev(protocol.EventConnectionConfirmed, at(0), map[string]any{"message": protocol.MsgConnected, "userId": 1}),
		snapshot(1, day, at(0), fullDay(nil)...),
		slotUpdate(1, 5, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z", day, at(time.Second)),
		slotUpdate(2, 6, protocol.StatusBooked, "", day, at(2*time.Second)),
	)
	if n := len(m.Log().Entries()); n != 4 {
		t.Fatalf("log has %d entries, want 4", n)
	}
	m = step(m, press("/"), press("s"), press("l"), press("o"), press("t"), press("_"), press("u"), press("enter"))
	if m.Log().Filter() != "slot_u" || m.Log().Filtering() {
		t.Fatalf("filter = %q (editing %v)", m.Log().Filter(), m.Log().Filtering())
	}
	for _, e := range m.Log().Entries() {
		if e.Name != protocol.EventSlotUpdate {
			t.Errorf("filter let %s through", e.Name)
		}
	}
	if n := len(m.Log().Entries()); n != 2 {
		t.Errorf("filtered entries = %d, want 2", n)
	}
	// Keys typed into the filter do not act: "q" does not quit while editing.
	m = step(m, press("/"), press("q"))
	if m.Quitting() {
		t.Fatal("q typed into the filter quit")
	}
	m = step(m, press("esc"))
	if m.Log().Filter() != "" {
		t.Errorf("esc left filter %q", m.Log().Filter())
	}
	m = step(m, press("/2@1"), press("enter"))
	if got := m.Log().Entries(); len(got) != 1 || got[0].Room != room2 {
		t.Errorf("room filter via one pasted message = %+v", got)
	}
	m = step(m, press("esc"))

	m = step(m, press(" "))
	if !m.Log().Paused() {
		t.Fatal("space did not pause")
	}
	m = step(m, slotUpdate(1, 7, protocol.StatusOccupied, "", day, at(3*time.Second)))
	if m.Log().Pending() != 1 || len(m.Log().Entries()) != 4 {
		t.Errorf("paused: pending %d entries %d", m.Log().Pending(), len(m.Log().Entries()))
	}
	if m.Grid().Status(room1, "15:00") != protocol.StatusOccupied {
		t.Error("pausing the log paused the grid")
	}
	m = step(m, press(" "))
	if m.Log().Paused() || len(m.Log().Entries()) != 5 {
		t.Errorf("resume: paused %v entries %d", m.Log().Paused(), len(m.Log().Entries()))
	}
	m = step(m, press("C"))
	if len(m.Log().Entries()) != 0 {
		t.Error("C did not clear the log")
	}
}

func TestLogScrolling(t *testing.T) {
	m := newTestModel(nil)
	for i := range 60 {
		m = step(m, slotUpdate(1, 1+i%9, protocol.StatusAvailable, "", day, at(time.Duration(i)*time.Second)))
	}
	if !strings.Contains(m.View(), "following") {
		t.Fatal("a fresh log is not following")
	}
	m = step(m, press("g"))
	v := m.View()
	if !strings.Contains(v, "scrolled 0%") || !strings.Contains(v, "10:00:00 slot_update") {
		t.Errorf("g did not go to the oldest entry:\n%s", v)
	}
	m = step(m, press("G"))
	if !strings.Contains(m.View(), "following") {
		t.Error("G did not follow again")
	}
}

func TestCountQuitsOnServerEventsOnly(t *testing.T) {
	m := New(Config{Spaces: testSpaces, Date: day, Now: func() time.Time { return t0 }, Count: 2})
	m = step(m, state(at(0), client.ConnState{State: client.StateConnected}))
	m, cmd := stepCmd(m, snapshot(1, day, at(0), fullDay(nil)...))
	if m.Quitting() || cmd != nil {
		t.Fatal("quit after one server event")
	}
	m, cmd = stepCmd(m, snapshot(2, day, at(0), fullDay(nil)...))
	if !m.Quitting() || cmd == nil {
		t.Fatal("did not quit after two server events")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("the command is not tea.Quit")
	}
}

func TestStatsRateAndServer(t *testing.T) {
	m := step(newTestModel(nil), state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}))
	for i := range 20 {
		m = step(m, slotUpdate(1, 2, protocol.StatusAvailable, "", day, at(time.Duration(i)*500*time.Millisecond)))
	}
	m = step(m, TickMsg(at(10*time.Second)))
	if r := m.Stats().Rate(); r != 2 {
		t.Errorf("rate = %v, want 2/s", r)
	}
	if sp := m.Stats().Sparkline(12); sp != "  ██████████" {
		t.Errorf("sparkline = %q", sp)
	}
	m = step(m, StatsMsg{Stats: &protocol.Stats{ConnectedUsers: 3, TotalSockets: 4, ActiveHolds: 1, UptimeSeconds: 3720,
		Rooms: []protocol.RoomStats{{Room: room1, Members: 2}, {Room: "user_1", Members: 1}}}, At: at(10 * time.Second)})
	v := m.View()
	for _, want := range []string{"3 users · 4 sockets", "1 holds · up 1h02m", "1@1    2", "2@1    0"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q", want)
		}
	}
	m = step(m, StatsMsg{Err: &client.APIError{Status: 401, Message: "Token non valido"}})
	if !m.Stats().StaffStats() || !strings.Contains(m.View(), "token refused (401)") {
		t.Errorf("a 401 does not say the token was refused:\n%s", m.View())
	}
	m = step(m, StatsMsg{Err: &client.APIError{Status: 403, Message: "Accesso negato"}})
	if m.Stats().StaffStats() || !strings.Contains(m.View(), "needs a staff token") {
		t.Error("a 403 did not stop server stats")
	}
	m = step(m, LatencyMsg{RTT: 1500 * time.Microsecond})
	if !strings.Contains(m.View(), "1.5ms") {
		t.Error("rtt not shown")
	}
	m = step(m, LatencyMsg{Err: errors.New("timeout")})
	_ = m
}

// TestStatsClusterFigures: with Redis the pane names the nodes and
// Redis's state, and says when the figures are this node's only because
// the other nodes did not answer in time.
func TestStatsClusterFigures(t *testing.T) {
	m := step(newTestModel(nil), state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}))
	full := &protocol.Stats{ConnectedUsers: 3, TotalSockets: 4, RedisEnabled: true, RedisConnected: true, Cluster: protocol.ClusterComplete,
		Nodes: []protocol.NodeStats{{}, {}}}
	m = step(m, StatsMsg{Stats: full, At: at(time.Second)})
	if v := m.View(); !strings.Contains(v, "2 nodes · redis ok") || strings.Contains(v, "partial") {
		t.Errorf("complete cluster figures:\n%s", v)
	}
	partial := *full
	partial.Cluster, partial.Nodes = protocol.ClusterIncomplete, []protocol.NodeStats{{}}
	m = step(m, StatsMsg{Stats: &partial, At: at(2 * time.Second)})
	if v := m.View(); !strings.Contains(v, "partial: nodes slow") {
		t.Errorf("figures of this node only are not marked partial:\n%s", v)
	}
}

func TestTinyTerminal(t *testing.T) {
	m := step(newTestModel(nil), tea.WindowSizeMsg{Width: 30, Height: 8})
	if !strings.Contains(m.View(), "terminal too small") {
		t.Errorf("view at 30×8:\n%s", m.View())
	}
	m = step(m, press("q"))
	if !m.Quitting() {
		t.Error("q does not quit a too-small screen")
	}
}

// scripted is the golden scene: two spaces, holds, a booking, a change.
func scripted(w, h int) Model {
	m := step(newTestModel(nil), tea.WindowSizeMsg{Width: w, Height: h})
	return step(m,
		state(at(0), client.ConnState{State: client.StateConnecting, Attempt: 1, Transport: "websocket"}),
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket", SocketID: "abc"}),
		ev(protocol.EventConnectionConfirmed, at(0), map[string]any{"message": protocol.MsgConnected, "userId": 1, "ruolo": "admin"}),
		ev(protocol.EventJoinedSpace, at(0), map[string]any{"room": room1, "spazioId": 1, "sedeId": 1, "date": day}),
		snapshot(1, day, at(0), fullDay(map[int]map[string]any{
			3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z"),
			4: slot(4, protocol.StatusBooked, ""),
		})...),
		ev(protocol.EventJoinedSpace, at(0), map[string]any{"room": room2, "spazioId": 2, "sedeId": 1, "date": day}),
		snapshot(2, day, at(0), fullDay(nil)...),
		TickMsg(at(3*time.Second)),
		slotUpdate(2, 7, protocol.StatusOccupied, "2026-11-26T10:18:03.000Z", day, at(3*time.Second)),
		TickMsg(at(4*time.Second)),
		LatencyMsg{RTT: 2 * time.Millisecond},
		StatsMsg{Stats: &protocol.Stats{ConnectedUsers: 2, TotalSockets: 3, ActiveHolds: 2, UptimeSeconds: 754,
			Rooms: []protocol.RoomStats{{Room: room1, Members: 2}, {Room: room2, Members: 1}}}},
	)
}

// demoSpaces are the demo catalog's sede 1, long names included.
var demoSpaces = []Space{
	{SpazioID: 1, SedeID: 1, Name: "Open space 1", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
	{SpazioID: 2, SedeID: 1, Name: "Sala riunioni 2", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
	{SpazioID: 3, SedeID: 1, Name: "Ufficio privato 3", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
	{SpazioID: 4, SedeID: 1, Name: "Phone booth 4", Sede: "Milano Centro", Open: "09:00", Close: "18:00", Location: time.UTC},
}

const tomorrow = "2026-11-27"

func freeDay(date string, overrides map[int]map[string]any) []map[string]any {
	var out []map[string]any
	for n := 1; n <= 9; n++ {
		if s, ok := overrides[n]; ok {
			out = append(out, s)
			continue
		}
		s := slot(n, protocol.StatusAvailable, "")
		s["date"] = date
		out = append(out, s)
	}
	return out
}

// demo is the wall-screen scene: four spaces of tomorrow, holds counting
// down (one under the 10:00 column, one just made in the first column of
// a long name), a booking, an expiry.
func demo(w, h int, cfg func(*Config)) Model {
	c := Config{Server: "http://127.0.0.1:3000", Spaces: demoSpaces, Date: tomorrow, Now: func() time.Time { return t0 }, Location: time.UTC}
	if cfg != nil {
		cfg(&c)
	}
	m := step(New(c), tea.WindowSizeMsg{Width: w, Height: h})
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnecting, Attempt: 1, Transport: "websocket"}),
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket", SocketID: "abc"}),
		ev(protocol.EventConnectionConfirmed, at(0), map[string]any{"message": protocol.MsgConnected, "userId": 1, "ruolo": "admin"}))
	for i, sp := range demoSpaces {
		over := map[int]map[string]any{}
		switch i {
		case 0:
			over[2] = slot(2, protocol.StatusOccupied, "2026-11-26T10:14:57.000Z")
			over[2]["prenotazione_id"], over[2]["id_utente"] = 77, 42
		case 1:
			over[5] = slot(5, protocol.StatusOccupied, "2026-11-26T10:00:02.000Z")
		case 3:
			over[8] = slot(8, protocol.StatusBooked, "")
		}
		for _, o := range over {
			o["date"] = tomorrow
		}
		m = step(m,
			ev(protocol.EventJoinedSpace, at(0), map[string]any{"room": sp.Room(), "spazioId": sp.SpazioID, "sedeId": 1, "date": tomorrow}),
			snapshot(sp.SpazioID, tomorrow, at(0), freeDay(tomorrow, over)...))
	}
	return step(m,
		TickMsg(at(2*time.Second)),
		slotUpdate(3, 1, protocol.StatusOccupied, "2026-11-26T10:15:02.000Z", tomorrow, at(2*time.Second)),
		ev(protocol.EventSlotsFreed, at(3*time.Second), map[string]any{"type": protocol.EventSlotsFreed, "count": 1,
			"slots": []any{map[string]any{"id_spazio": 2, "id_sede": 1, "date": tomorrow, "id_slot": 5}}}),
		TickMsg(at(3*time.Second)),
		LatencyMsg{RTT: 2 * time.Millisecond},
		StatsMsg{Stats: &protocol.Stats{ConnectedUsers: 2, TotalSockets: 3, ActiveHolds: 2, UptimeSeconds: 754,
			Rooms: []protocol.RoomStats{{Room: "spazio_1_sede_1", Members: 2}, {Room: "spazio_3_sede_1", Members: 1}}}, At: at(3 * time.Second)},
	)
}

// demoStale is demo after the connection dropped at 10:00:05, three
// seconds into the reconnect, with r pressed meanwhile.
func demoStale(w, h int) Model {
	return step(demo(w, h, nil),
		state(at(5*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
		state(at(5*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 1, Delay: 4 * time.Second}),
		TickMsg(at(8*time.Second)),
		press("r"))
}

// demoTokenExpired: a --token that expires at 10:00:30; the server ends
// the session and refuses the token on reconnect.
func demoTokenExpired(w, h int) Model {
	return step(demo(w, h, func(c *Config) { c.TokenExpires = at(30 * time.Second) }),
		TickMsg(at(20*time.Second)),
		ev(protocol.EventSessionExpired, at(30*time.Second), map[string]any{"message": "Sessione scaduta", "code": protocol.CodeSessionExpired}),
		state(at(30*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "io server disconnect"}),
		TickMsg(at(30*time.Second)),
		state(at(30*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 1, Delay: 500 * time.Millisecond}),
		state(at(31*time.Second), client.ConnState{State: client.StateConnecting, Attempt: 1, Transport: "websocket"}),
		state(at(31*time.Second), client.ConnState{State: client.StateConnectError, Attempt: 1, Message: protocol.MsgSocketAuthInvalid, Code: protocol.CodeAuthInvalid}),
		state(at(31*time.Second), client.ConnState{State: client.StateOffline, Reason: "rejected: " + protocol.MsgSocketAuthInvalid}),
		StatsMsg{Err: &client.APIError{Status: 401, Message: protocol.MsgSocketAuthInvalid}},
		TickMsg(at(32*time.Second)))
}

func TestGoldenViews(t *testing.T) {
	tests := []struct {
		name string
		m    func() Model
	}{
		{"demo_60x20", func() Model { return demo(60, 20, nil) }},
		{"demo_80x24", func() Model { return demo(80, 24, nil) }},
		{"demo_120x36", func() Model { return demo(120, 36, nil) }},
		{"demo_stale_60x20", func() Model { return demoStale(60, 20) }},
		{"demo_stale_80x24", func() Model { return demoStale(80, 24) }},
		{"demo_stale_120x36", func() Model { return demoStale(120, 36) }},
		{"demo_token_expired_80x24", func() Model { return demoTokenExpired(80, 24) }},
		{"demo_token_expired_120x36", func() Model { return demoTokenExpired(120, 36) }},
		{"dashboard_100x30", func() Model { return scripted(100, 30) }},
		{"dashboard_80x24", func() Model { return scripted(80, 24) }},
		{"narrow_60x20", func() Model { return scripted(60, 20) }},
		{"help_80x24", func() Model { return step(scripted(80, 24), press("?")) }},
		{"reconnecting_80x24", func() Model {
			return step(scripted(80, 24),
				state(at(5*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
				state(at(5*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 3, Delay: 4 * time.Second}),
				TickMsg(at(6*time.Second)))
		}},
		{"cursor_80x24", func() Model { return demoCursor(80, 24) }},
		{"cursor_120x36", func() Model { return demoCursor(120, 36) }},
		{"detail_80x24", func() Model { return demoDetail(80, 24) }},
		{"detail_120x36", func() Model { return demoDetail(120, 36) }},
		{"cancel_prompt_120x36", func() Model { return step(demoDetail(120, 36), press("c"), press("Sala chiusa")) }},
		{"overview_80x24", func() Model { return demoOverview(80, 24) }},
		{"overview_120x36", func() Model { return demoOverview(120, 36) }},
		{"filtered_paused_80x24", func() Model {
			return step(scripted(80, 24), press("/slot"), press("enter"), press(" "),
				slotUpdate(1, 9, protocol.StatusOccupied, "2026-11-26T10:20:00.000Z", day, at(5*time.Second)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m().View() + "\n"
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("view differs from %s (go test ./internal/tui -update refreshes it)\n--- got\n%s\n--- want\n%s", path, got, want)
			}
			for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if strings.Contains(line, "\x1b[") {
					t.Errorf("line %d has escape sequences with colour off", i+1)
				}
			}
		})
	}
}

// TestKeysThatArriveTogether: a terminal delivers runes read in one go
// (key repeat, a paste, a slow link) as one KeyMsg; each rune is a key.
func TestKeysThatArriveTogether(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	m = step(m, press("]]]"))
	if got := m.Grid().Date(); got != "2026-11-29" {
		t.Errorf("after ]]] in one message date = %s, want 2026-11-29", got)
	}
	m = step(m, press("tt"))
	if got := m.Grid().Date(); got != day {
		t.Errorf("after tt date = %s, want today %s", got, day)
	}
	m = step(m, press("[["))
	if got := m.Grid().Date(); got != "2026-11-24" {
		t.Errorf("after [[ date = %s, want 2026-11-24", got)
	}
	// The rest of a burst that opens the filter is typed into it.
	m = step(m, press("t/slot"))
	if m.Grid().Date() != day || !m.Log().Filtering() || m.Log().Filter() != "slot" {
		t.Errorf("t/slot: date %s, filtering %v, filter %q", m.Grid().Date(), m.Log().Filtering(), m.Log().Filter())
	}
	m = step(m, press("esc"))
	// A paste never quits, even with a q in it.
	m = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("]q"), Paste: true})
	if m.Quitting() {
		t.Error("a pasted q quit the dashboard")
	}
	if got := m.Grid().Date(); got != "2026-11-27" {
		t.Errorf("after a pasted ] date = %s", got)
	}
}
