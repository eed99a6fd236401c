package tui

import (
	"context"
	"fmt"
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

// TestRefusedTokenAndNewOne: a token the server no longer accepts (its
// secret changed) is called refused, not "needs a staff token"; T takes a
// new one, and the dashboard reloads with it.
func TestRefusedTokenAndNewOne(t *testing.T) {
	conn := &fakeConn{}
	var got []string
	set := func(_ context.Context, tok string) (TokenInfo, error) {
		got = append(got, tok)
		if tok == "bad" {
			return TokenInfo{}, fmt.Errorf("%w: %s", ErrTokenRefused, protocol.MsgSocketAuthInvalid)
		}
		return TokenInfo{Expires: at(time.Hour), Staff: true}, nil
	}
	m := New(Config{Server: "http://127.0.0.1:3000", Spaces: testSpaces, Date: day, Now: func() time.Time { return t0 },
		Location: time.UTC, Conn: conn, SetToken: set, Staff: true})
	m = step(m, tea.WindowSizeMsg{Width: 100, Height: 30},
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}),
		state(at(5*time.Second), client.ConnState{State: client.StateDisconnected, Reason: "transport close"}),
		state(at(6*time.Second), client.ConnState{State: client.StateConnectError, Attempt: 1, Message: protocol.MsgSocketAuthInvalid, Code: protocol.CodeAuthInvalid}),
		state(at(6*time.Second), client.ConnState{State: client.StateOffline, Reason: "rejected: " + protocol.MsgSocketAuthInvalid}),
		StatsMsg{Err: &client.APIError{Status: 403, Code: protocol.CodeAuthInvalid, Message: protocol.MsgHTTPAuthInvalid}},
		TickMsg(at(7*time.Second)))
	v := m.View()
	for _, want := range []string{"✕ token refused", "the server refused the token", "press T"} {
		if !strings.Contains(v, want) {
			t.Errorf("refused token: view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "needs a staff token") {
		t.Errorf("a refused token is called not staff:\n%s", v)
	}
	// A token the server refuses too says so where the user looks.
	m = step(m, press("T"), press("bad"))
	if !strings.Contains(m.View(), "new token: ") {
		t.Fatalf("T opened no prompt:\n%s", m.View())
	}
	m, cmd := stepCmd(m, press("enter"))
	m = step(m, cmd())
	if len(got) != 1 || got[0] != "bad" || !strings.Contains(m.View(), "refused the new token too") {
		t.Fatalf("tokens tried %q; view:\n%s", got, m.View())
	}
	// A pasted token (with the line break of its file) is applied.
	m = step(m, press("T"), tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("eyJ.good.sig\n"), Paste: true})
	m, cmd = stepCmd(m, press("enter"))
	m, cmd = stepCmd(m, cmd())
	runAll(cmd)
	if len(got) != 2 || got[1] != "eyJ.good.sig" {
		t.Fatalf("tokens tried %q", got)
	}
	conn.mu.Lock()
	joins := len(conn.joins)
	conn.mu.Unlock()
	if joins != 2 || !strings.Contains(m.View(), "new token applied") || !strings.Contains(m.View(), "expires") {
		t.Errorf("new token: %d rooms reloaded, view:\n%s", joins, m.View())
	}
}
