// Package tui is the Bubble Tea dashboard of `coworkctl watch`: a small
// root model that lays out and routes to three components (the slot grid,
// the stats panel and the event log). Components have Update, View and
// SetSize; Update does no I/O: network calls live in tea.Cmds that return
// typed messages, so tests drive the models with sequences of events and
// a fixed clock.
package tui

import (
	"io"
	"os"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles is every style of the dashboard, built from one renderer so that
// colour can be switched off in one place (NO_COLOR, golden tests).
type Styles struct {
	// Plain adds nothing: the base that other styles are composed on.
	Plain, Title, Dim, Bold, Border, BoxTitle lipgloss.Style

	Available, Occupied, Booked, Past, Unknown, Changed lipgloss.Style
	// Stale draws a hold whose countdown stopped (the grid is not live).
	Stale lipgloss.Style
	// Cursor marks the selected cell (besides its [ ] brackets).
	Cursor lipgloss.Style

	Good, Warn, Bad lipgloss.Style

	LogTime, LogName, LogRoom, Paused lipgloss.Style

	Help help.Styles
}

// NewRenderer returns a renderer for w; color false (NO_COLOR, tests)
// strips every escape sequence. Call it before the program starts: it
// asks the terminal for its background colour (for the adaptive colours)
// now. Asked later, from View, the answer goes to Bubble Tea's input
// reader instead and the first frame stays frozen for termenv's 5 s
// timeout.
func NewRenderer(w io.Writer, color bool) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(w)
	if !color {
		r.SetColorProfile(termenv.Ascii)
		r.SetHasDarkBackground(true) // no colour, nothing to ask
		return r
	}
	r.SetHasDarkBackground(r.HasDarkBackground())
	return r
}

// ColorWanted reports whether colour is allowed by the environment
// (https://no-color.org: any non-empty NO_COLOR turns it off).
func ColorWanted(getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	return getenv("NO_COLOR") == ""
}

// NewStyles builds the dashboard's styles on r.
func NewStyles(r *lipgloss.Renderer) Styles {
	s := r.NewStyle
	green, yellow, red := lipgloss.AdaptiveColor{Light: "#1a7f37", Dark: "#3fb950"}, lipgloss.AdaptiveColor{Light: "#9a6700", Dark: "#d29922"}, lipgloss.AdaptiveColor{Light: "#cf222e", Dark: "#f85149"}
	grey := lipgloss.AdaptiveColor{Light: "#6e7781", Dark: "#8b949e"}
	st := Styles{
		Plain:    s(),
		Title:    s().Bold(true),
		Dim:      s().Foreground(grey),
		Bold:     s().Bold(true),
		Border:   s().Foreground(grey),
		BoxTitle: s().Bold(true),

		Available: s().Foreground(green),
		Occupied:  s().Foreground(lipgloss.Color("0")).Background(yellow),
		Booked:    s().Foreground(lipgloss.Color("15")).Background(red),
		Past:      s().Foreground(grey),
		Unknown:   s().Foreground(grey),
		Changed:   s().Reverse(true).Bold(true),
		Stale:     s().Foreground(grey).Faint(true),
		Cursor:    s().Underline(true).Bold(true),

		Good: s().Foreground(green).Bold(true),
		Warn: s().Foreground(yellow).Bold(true),
		Bad:  s().Foreground(red).Bold(true),

		LogTime: s().Foreground(grey),
		LogName: s().Bold(true),
		LogRoom: s().Foreground(lipgloss.AdaptiveColor{Light: "#0550ae", Dark: "#79c0ff"}),
		Paused:  s().Reverse(true).Bold(true),
	}
	st.Help = help.Styles{
		Ellipsis:       s().Foreground(grey),
		ShortKey:       s().Bold(true),
		ShortDesc:      s().Foreground(grey),
		ShortSeparator: s().Foreground(grey),
		FullKey:        s().Bold(true),
		FullDesc:       s().Foreground(grey),
		FullSeparator:  s().Foreground(grey),
	}
	return st
}
