package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TestStaleGridWhileOffline: once the connection drops, the grid says
// since when it is stale and its countdowns stop; a fresh snapshot after
// the reconnect makes the row live again.
func TestStaleGridWhileOffline(t *testing.T) {
	m := newTestModel(&fakeConn{})
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		snapshot(1, day, at(0), fullDay(map[int]map[string]any{3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z")})...),
		snapshot(2, day, at(0), fullDay(nil)...),
		TickMsg(at(10*time.Second)),
		state(at(10*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
		state(at(10*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 1, Delay: time.Second}),
		TickMsg(at(70*time.Second)),
	)
	if got := m.Grid().Remaining(room1, "11:00"); got != 14*time.Minute+50*time.Second {
		t.Errorf("countdown while offline = %v, want it stopped at 14m50s", got)
	}
	v := m.View()
	if !strings.Contains(v, "STALE since 10:00:10") || !strings.Contains(v, "14m50") {
		t.Errorf("the offline grid is not marked stale with its stopped countdown:\n%s", v)
	}
	// Connected again: stale until the rejoin's snapshot arrives.
	m = step(m, state(at(71*time.Second), client.ConnState{State: client.StateConnected, Transport: "websocket"}))
	if m.Grid().StaleSince().IsZero() {
		t.Error("connected but no snapshot yet: the grid should still be stale")
	}
	m = step(m,
		snapshot(1, day, at(71*time.Second), fullDay(map[int]map[string]any{3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z")})...),
		snapshot(2, day, at(71*time.Second), fullDay(nil)...),
	)
	if !m.Grid().StaleSince().IsZero() || strings.Contains(m.View(), "STALE") {
		t.Error("fresh snapshots did not make the grid live again")
	}
	if got := m.Grid().Remaining(room1, "11:00"); got != 13*time.Minute+49*time.Second {
		t.Errorf("live countdown = %v, want 13m49s", got)
	}
}

// TestResyncWhileOffline: r while offline says so plainly instead of
// logging the client's error as an undecodable event.
func TestResyncWhileOffline(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		state(at(5*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
		state(at(5*time.Second), client.ConnState{State: client.StateReconnecting, Attempt: 1, Delay: time.Second}),
	)
	m, cmd := stepCmd(m, press("r"))
	if cmd != nil {
		t.Error("r offline still asked the network")
	}
	// A reload that was already under way fails the same way.
	m = step(m, JoinedMsg{Reload: true, Manual: true, Err: client.ErrNotConnected})
	var texts []string
	for _, e := range m.Log().Entries() {
		texts = append(texts, e.Name+" "+e.Summary)
	}
	log := strings.Join(texts, "\n")
	if strings.Contains(log, "undecodable") || strings.Count(log, "offline, will resync on reconnect") != 2 {
		t.Errorf("log:\n%s", log)
	}
	if len(conn.joins) != 0 {
		t.Errorf("joins while offline: %v", conn.joins)
	}
}

// TestGridKeyedBySlotNumber: slot_update and slots_freed name a slot by
// number; the grid finds it even when the row's times are not hourly
// from the first column.
func TestGridKeyedBySlotNumber(t *testing.T) {
	m := newTestModel(nil)
	// A snapshot that lists slots 5..9 only: the old orario-by-column
	// lookup would take slot 5 for the first column's slot 1.
	var part []map[string]any
	for n := 5; n <= 9; n++ {
		part = append(part, slot(n, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z"))
	}
	m = step(m, snapshot(1, day, at(0), part...))
	freed := ev(protocol.EventSlotsFreed, at(time.Second), map[string]any{"type": protocol.EventSlotsFreed, "count": 1,
		"slots": []any{map[string]any{"id_spazio": 1, "id_sede": 1, "date": day, "id_slot": 6}}})
	m = step(m, freed)
	if got := m.Grid().Status(room1, "14:00"); got != protocol.StatusAvailable {
		t.Errorf("slot 6 (14:00) after slots_freed = %q, want available", got)
	}
	if got := m.Grid().Status(room1, "13:00"); got != protocol.StatusOccupied {
		t.Errorf("slot 5 (13:00) = %q, want still occupied", got)
	}
	if got := m.Grid().SlotStatus(room1, 6); got != protocol.StatusAvailable {
		t.Errorf("SlotStatus(6) = %q", got)
	}
}

// TestUnresponsiveServer: a frozen server keeps the socket open, so no
// state change comes; an rtt probe unanswered for 3 s marks it
// unresponsive and the grid stale at once, and its answer reloads the
// grid.
func TestUnresponsiveServer(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		snapshot(1, day, at(0), fullDay(map[int]map[string]any{3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z")})...),
		snapshot(2, day, at(0), fullDay(nil)...))
	for s := 1; s <= 5; s++ {
		m = step(m, TickMsg(at(time.Duration(s)*time.Second))) // the 5th tick sends a probe
	}
	// A probe answered in time changes nothing.
	m = step(m, LatencyMsg{RTT: 2 * time.Millisecond})
	for s := 6; s <= 10; s++ {
		m = step(m, TickMsg(at(time.Duration(s)*time.Second))) // the 10th sends another
	}
	if strings.Contains(m.View(), "unresponsive") || !m.Grid().StaleSince().IsZero() {
		t.Fatalf("an answered probe marked the server unresponsive:\n%s", m.View())
	}
	// The probe sent at 10:00:10 gets no answer.
	m = step(m, TickMsg(at(11*time.Second)), TickMsg(at(12*time.Second)))
	if strings.Contains(m.View(), "unresponsive") {
		t.Fatalf("unresponsive after 2s, the bound is 3s:\n%s", m.View())
	}
	m = step(m, TickMsg(at(13*time.Second)))
	v := m.View()
	for _, want := range []string{"✕ unresponsive", "STALE since 10:00:10", "answer  none since 10:00:10", "14m50"} {
		if !strings.Contains(v, want) {
			t.Errorf("frozen server: view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "● connected") {
		t.Errorf("a server that does not answer is shown connected:\n%s", v)
	}
	// It answers again: the rooms are reloaded, and their snapshots make
	// the grid live.
	m, cmd := stepCmd(m, LatencyMsg{RTT: 3 * time.Millisecond})
	runAll(cmd)
	conn.mu.Lock()
	joins := len(conn.joins)
	conn.mu.Unlock()
	if joins != 2 {
		t.Fatalf("the answer after a freeze reloaded %d rooms, want 2", joins)
	}
	m = step(m,
		snapshot(1, day, at(21*time.Second), fullDay(map[int]map[string]any{3: slot(3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z")})...),
		snapshot(2, day, at(21*time.Second), fullDay(nil)...))
	v = m.View()
	if strings.Contains(v, "STALE") || strings.Contains(v, "✕ unresponsive") || !strings.Contains(v, "● connected") {
		t.Errorf("answering again did not make the dashboard live:\n%s", v)
	}
}
