package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
)

// TestCountdownOneFormatNeverRoundsUp: every cell width uses one format,
// and what it shows is never more than is left.
func TestCountdownOneFormatNeverRoundsUp(t *testing.T) {
	tests := []struct {
		left     time.Duration
		cw5, cw3 string
	}{
		{14*time.Minute + 11*time.Second + 900*time.Millisecond, "14m11", "14m"},
		{14*time.Minute + 32*time.Second, "14m32", "14m"},
		{6*time.Minute + 17*time.Second, "6m17", "6m"},
		{42*time.Second + 500*time.Millisecond, "0m42", "42s"},
		{0, "0m00", "0s"},
		{2*time.Hour + 5*time.Minute, "2h05", "2h"},
	}
	for _, tt := range tests {
		exp := t0.Add(tt.left)
		if got := countdown(exp, t0, 5); got != tt.cw5 {
			t.Errorf("%v left, 5 cells: %q, want %q", tt.left, got, tt.cw5)
		}
		if got := countdown(exp, t0, 3); got != tt.cw3 {
			t.Errorf("%v left, 3 cells: %q, want %q", tt.left, got, tt.cw3)
		}
	}
}

// TestTwoEscapesTogether: esc esc read in one go (alt+esc) closes two
// things, as two presses would.
func TestTwoEscapesTogether(t *testing.T) {
	m := step(demo(120, 36, nil), keyRight, keyRight, press("enter"))
	if !m.detailOpen || !m.Grid().CursorShown() {
		t.Fatal("setup: the detail pane is not open")
	}
	m = step(m, tea.KeyMsg{Type: tea.KeyEsc, Alt: true})
	if m.detailOpen || m.Grid().CursorShown() {
		t.Errorf("esc esc together: detail open %v, cursor shown %v; want both closed", m.detailOpen, m.Grid().CursorShown())
	}
}

// TestPausedLogDoesNotSayFollowing and the token expiry names its day
// when it is not today.
func TestPausedLogAndTokenDay(t *testing.T) {
	m := step(scripted(100, 30), press(" "))
	if v := m.View(); !strings.Contains(v, "PAUSED") || strings.Contains(v, "following") {
		t.Errorf("a paused log says following:\n%s", v)
	}
	m = demo(100, 30, func(c *Config) { c.TokenExpires = at(20 * time.Hour) })
	if v := m.View(); !strings.Contains(v, "expires 27 Nov 06:00") {
		t.Errorf("a token expiring tomorrow shows no day:\n%s", v)
	}
}

// TestMixedSediNamesUseTheRoom: spaces of two sedi are labelled with
// their sede, and the labels take the room the columns leave instead of
// being cut to a few letters.
func TestMixedSediNamesUseTheRoom(t *testing.T) {
	spaces := []Space{demoSpaces[0], demoSedi[1].Spaces[1]}
	m := New(Config{Server: "http://127.0.0.1:3000", Spaces: spaces, Date: tomorrow, Now: func() time.Time { return t0 }, Location: time.UTC})
	m = step(m, tea.WindowSizeMsg{Width: 120, Height: 30},
		state(at(0), client.ConnState{State: client.StateConnected, Transport: "websocket"}))
	v := m.View()
	for _, want := range []string{"Milano Centro · Open space 1", "Roma Termini · Sala Colosseo"} {
		if !strings.Contains(v, want) {
			t.Errorf("120 columns: no full label %q:\n%s", want, v)
		}
	}
}

// TestOverviewHasItsOwnFooter: the overview says how fresh its numbers
// are, and its hint bar lists its keys, not the grid's.
func TestOverviewHasItsOwnFooter(t *testing.T) {
	v := demoOverview(80, 24).View()
	if !strings.Contains(v, "others polled every 15s") {
		t.Errorf("the overview does not say how often other sedi are polled:\n%s", v)
	}
	if last := lastLine(v); !strings.Contains(last, "back to the grid") || strings.Contains(last, "cancel") {
		t.Errorf("overview hint bar %q", last)
	}
}

// TestNextSedeComesBackToMixedSpaces: s cycles through the catalog's sedi
// and back to the mixed spaces watch started with.
func TestNextSedeComesBackToMixedSpaces(t *testing.T) {
	spaces := []Space{demoSpaces[0], demoSedi[1].Spaces[1]}
	m := New(Config{Server: "http://127.0.0.1:3000", Spaces: spaces, Date: tomorrow, Now: func() time.Time { return t0 },
		Location: time.UTC, Sedi: demoSedi})
	m = step(m, tea.WindowSizeMsg{Width: 120, Height: 30})
	var seen []int
	for range 3 {
		m = step(m, press("s"))
		seen = append(seen, len(m.cfg.Spaces))
	}
	if seen[0] != 4 || seen[1] != 3 || seen[2] != 2 || !sameSpaces(m.cfg.Spaces, spaces) {
		t.Errorf("s cycled through %v rows, ending on %v; want 4, 3, then the 2 mixed spaces", seen, m.cfg.Spaces)
	}
}

// TestMixedSediNarrowKeepsTheSpazioName: when "Sede · Spazio" does not
// fit, the spazio's name survives and the sede's is cut.
func TestMixedSediNarrowKeepsTheSpazioName(t *testing.T) {
	spaces := []Space{demoSpaces[0], demoSedi[1].Spaces[1]}
	m := New(Config{Server: "http://127.0.0.1:3000", Spaces: spaces, Date: tomorrow, Now: func() time.Time { return t0 }, Location: time.UTC})
	m = step(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	v := m.View()
	for _, want := range []string{"Open space 1 ·", "Sala Colosseo ·"} {
		if !strings.Contains(v, want) {
			t.Errorf("80 columns: the spazio name %q was cut:\n%s", want, v)
		}
	}
}
