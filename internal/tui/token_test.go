package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TestTokenWarnings: a --token that watch cannot renew is announced 5 and
// 1 minutes ahead and at expiry, and a refusal after that says "expired"
// in plain words.
func TestTokenWarnings(t *testing.T) {
	cfg := Config{Server: "http://x", Spaces: testSpaces, Date: day, Now: func() time.Time { return t0 }, Location: time.UTC,
		TokenExpires: at(10 * time.Minute)}
	m := step(New(cfg), tea.WindowSizeMsg{Width: 120, Height: 36},
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}))
	tokenLines := func() []string {
		var out []string
		for _, e := range m.Log().Entries() {
			if e.Name == "token" {
				out = append(out, e.Summary)
			}
		}
		return out
	}
	if n := len(tokenLines()); n != 0 {
		t.Fatalf("warned %d times with 10 minutes left", n)
	}
	m = step(m, TickMsg(at(5*time.Minute)), TickMsg(at(5*time.Minute+time.Second)))
	if got := tokenLines(); len(got) != 1 || !strings.HasPrefix(got[0], "expires in 5m00s, at 10:10:00") {
		t.Errorf("5 minutes ahead: %q", got)
	}
	if !strings.Contains(m.View(), "expires in 4m59s") {
		t.Error("the stats panel does not count the token down")
	}
	m = step(m, TickMsg(at(9*time.Minute)))
	if got := tokenLines(); len(got) != 2 || !strings.HasPrefix(got[1], "expires in 1m00s") {
		t.Errorf("1 minute ahead: %q", got)
	}
	m = step(m, TickMsg(at(10*time.Minute)),
		state(at(10*time.Minute), client.ConnState{State: client.StateDisconnected, Reason: "io server disconnect"}),
		state(at(10*time.Minute+time.Second), client.ConnState{State: client.StateConnectError, Message: protocol.MsgSocketAuthInvalid, Code: protocol.CodeAuthInvalid}),
		state(at(10*time.Minute+time.Second), client.ConnState{State: client.StateOffline, Reason: "rejected: " + protocol.MsgSocketAuthInvalid}))
	got := tokenLines()
	if len(got) != 4 || !strings.HasPrefix(got[2], "expired at 10:10:00") || !strings.Contains(got[3], "because it expired at 10:10:00") {
		t.Errorf("at and after expiry: %q", got)
	}
	if v := m.View(); !strings.Contains(v, "✕ token expired") || !strings.Contains(v, "token   expired 10:10:00") {
		t.Errorf("the screen does not say the token expired:\n%s", v)
	}
}

// TestTokenShortFromTheStart: a token with 30 s left warns once, not
// three times.
func TestTokenShortFromTheStart(t *testing.T) {
	m := New(Config{Spaces: testSpaces, Date: day, Now: func() time.Time { return t0 }, TokenExpires: at(30 * time.Second)})
	if n := len(m.Log().Entries()); n != 1 || !strings.HasPrefix(m.Log().Entries()[0].Summary, "expires in 30s") {
		t.Errorf("entries = %+v", m.Log().Entries())
	}
}

// TestRenewalKeepsTheDashboardLive: a renewed session is one log line;
// the state stays connected and the reload it brings logs nothing.
func TestRenewalKeepsTheDashboardLive(t *testing.T) {
	m := newTestModel(nil)
	m = step(m,
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		ev(protocol.EventJoinedSpace, at(0), map[string]any{"room": room1, "spazioId": 1, "sedeId": 1, "date": day}),
		snapshot(1, day, at(0), fullDay(nil)...))
	before := len(m.Log().Entries())
	m = step(m,
		ev(protocol.EventJoinedSpace, at(time.Minute), map[string]any{"room": room1, "spazioId": 1, "sedeId": 1, "date": day}),
		snapshot(1, day, at(time.Minute), fullDay(nil)...),
		state(at(time.Minute), client.ConnState{State: client.StateRenewed, Transport: "websocket", Rooms: 2, SocketID: "new"}))
	if m.Stats().State().State != client.StateConnected || !m.Grid().StaleSince().IsZero() {
		t.Errorf("after a renewal: state %s, stale since %v", m.Stats().State().State, m.Grid().StaleSince())
	}
	entries := m.Log().Entries()
	if n := len(entries) - before; n != 1 || !strings.Contains(entries[len(entries)-1].Summary, "fresh token") {
		t.Errorf("renewal logged %d lines: %+v", n, entries[before:])
	}
	if !strings.Contains(m.View(), "renewed 10:01:00") {
		t.Error("the stats panel does not say when the token was renewed")
	}
}
