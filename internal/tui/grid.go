package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/tui/gridstate"
)

// HighlightFor is how long a changed cell stays highlighted.
const HighlightFor = gridstate.HighlightFor

// Space is one watched spazio: a row of the grid.
type Space = gridstate.Space

// Selection is the cell under the grid's cursor.
type Selection = gridstate.Selection

// Occupancy counts one spazio's slots on the shown day.
type Occupancy = gridstate.Occupancy

// Change says what one event did to the grid.
type Change = gridstate.Change

// Grid is the slot grid component: its state (gridstate.State, whose
// queries it offers) fed by the dashboard's messages, and its view.
type Grid struct {
	gridstate.State
	st *Styles
	// loc is the zone of the times the view prints.
	loc           *time.Location
	width, height int
}

// NewGrid returns an empty grid of spaces for date; loc (nil: Local) is
// the zone of the times it prints.
func NewGrid(st *Styles, spaces []Space, date string, now time.Time, loc *time.Location) Grid {
	if loc == nil {
		loc = time.Local
	}
	return Grid{State: gridstate.New(spaces, date, now), st: st, loc: loc}
}

// SetSize sets the space the grid may use (inside its box).
func (g *Grid) SetSize(w, h int) { g.width, g.height = w, h }

// Update applies clock ticks, server events and connection losses.
func (g *Grid) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case TickMsg:
		g.Tick(time.Time(m))
	case TypedEvent:
		g.ApplyEvent(m)
	case EventsClosedMsg:
		g.MarkStale(g.Now())
	}
	return nil
}

// ApplyEvent is Update for one event, saying what it changed (the
// dashboard keeps repeats out of its log with it).
func (g *Grid) ApplyEvent(ev TypedEvent) Change {
	if p, ok := ev.Payload.(*client.ConnState); ok {
		g.Tick(ev.At)
		switch p.State {
		case client.StateDisconnected, client.StateReconnecting, client.StateOffline:
			g.MarkStale(ev.At)
		}
		return Change{}
	}
	return g.Apply(ev.Room, ev.Payload, ev.At)
}
