package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Sede is one sede of the catalog with its spaces, for switching sede
// (s) and for the overview (o).
type Sede struct {
	ID     int64
	Name   string
	Spaces []Space
}

// SlotsFunc fetches one spazio's grid on date (GET /api/slots).
type SlotsFunc func(ctx context.Context, spazioID int64, date string) (protocol.SlotsList, error)

// overviewEvery is how often (ticks) the overview asks for the grids it
// does not watch live.
const overviewEvery = 15

// OverviewMsg carries the grids of the spaces the dashboard does not
// watch, keyed by room.
type OverviewMsg struct {
	Date  string
	Rooms map[string]Occupancy
	Err   error
}

// Overview is the wall-screen view of every sede: occupancy per sede and
// per spazio of the shown day.
type Overview struct {
	st            *Styles
	sedi          []Sede
	date          string
	fetched, live map[string]Occupancy
	err           error
	width, height int
}

// NewOverview returns the overview of sedi.
func NewOverview(st *Styles, sedi []Sede) Overview {
	return Overview{st: st, sedi: sedi, fetched: map[string]Occupancy{}, live: map[string]Occupancy{}}
}

// SetSize sets the space inside the overview's box.
func (o *Overview) SetSize(w, h int) { o.width, o.height = w, h }

// SetDate switches day: what was fetched is for another one.
func (o *Overview) SetDate(date string) {
	if date != o.date {
		o.date, o.fetched, o.err = date, map[string]Occupancy{}, nil
	}
}

// SetLive gives the counts of the rows watched live; they win over
// fetched ones.
func (o *Overview) SetLive(live map[string]Occupancy) { o.live = live }

// Update takes fetched grids.
func (o *Overview) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(OverviewMsg); ok && m.Date == o.date {
		o.err = m.Err
		for room, c := range m.Rooms {
			o.fetched[room] = c
		}
	}
	return nil
}

// Title is the box title.
func (o Overview) Title() string {
	return fmt.Sprintf("All sedi %s · watched spaces live, others polled every %ds", o.date, overviewEvery)
}

func (o Overview) count(room string) Occupancy {
	if c, ok := o.live[room]; ok && c.Known {
		return c
	}
	return o.fetched[room]
}

// View renders one line per sede and one per spazio, with bars.
func (o Overview) View() string {
	if o.width <= 0 || o.height <= 0 {
		return ""
	}
	nameW := 8
	for _, se := range o.sedi {
		nameW = max(nameW, len([]rune(se.Name)))
		for _, sp := range se.Spaces {
			nameW = max(nameW, 2+len([]rune(sp.Label())))
		}
	}
	nameW = min(nameW, 24, o.width/3)
	barW := max(min(o.width-nameW-34, 40), 4)
	var lines []string
	var all Occupancy
	for _, se := range o.sedi {
		var sum Occupancy
		for _, sp := range se.Spaces {
			c := o.count(sp.Room())
			sum.Taken, sum.Held, sum.Booked, sum.Total = sum.Taken+c.Taken, sum.Held+c.Held, sum.Booked+c.Booked, sum.Total+c.Total
			sum.Known = sum.Known || c.Known
		}
		all.Taken, all.Held, all.Booked, all.Total = all.Taken+sum.Taken, all.Held+sum.Held, all.Booked+sum.Booked, all.Total+sum.Total
		lines = append(lines, o.line(o.st.Bold.Render(pad(shortLabel(se.Name, nameW), nameW)), sum, barW, true))
		for _, sp := range se.Spaces {
			lines = append(lines, o.line(pad("  "+shortLabel(sp.Label(), nameW-2), nameW), o.count(sp.Room()), barW, false))
		}
	}
	foot := o.st.Bold.Render(fmt.Sprintf("total %d/%d taken (%d%%)", all.Taken, all.Total, pct(all.Taken, all.Total))) +
		o.st.Dim.Render(fmt.Sprintf(" · %d held · %d booked · %d sedi", all.Held, all.Booked, len(o.sedi)))
	if o.err != nil {
		foot += " " + o.st.Bad.Render("· "+o.err.Error())
	}
	room := o.height - 1
	if len(lines) > room && room >= 1 {
		hidden := len(lines) - (room - 1)
		lines = append(lines[:room-1], o.st.Dim.Render(fmt.Sprintf("… %d more lines (enlarge the terminal)", hidden)))
	}
	lines = append(lines, foot)
	for i := range lines {
		lines[i] = fit(lines[i], o.width)
	}
	return strings.Join(lines, "\n")
}

func (o Overview) line(name string, c Occupancy, barW int, sede bool) string {
	if !c.Known {
		return name + " " + o.st.Dim.Render("…")
	}
	filled := 0
	if c.Total > 0 {
		filled = (c.Taken*barW + c.Total - 1) / c.Total
	}
	bar := o.st.Booked.Render(strings.Repeat("█", filled)) + o.st.Dim.Render(strings.Repeat("░", barW-filled))
	s := fmt.Sprintf("%s %s %3d/%-3d %3d%%", name, bar, c.Taken, c.Total, pct(c.Taken, c.Total))
	if sede || c.Held+c.Booked > 0 {
		s += o.st.Dim.Render(fmt.Sprintf("  %d held · %d booked", c.Held, c.Booked))
	}
	return s
}

func pct(a, b int) int {
	if b == 0 {
		return 0
	}
	return a * 100 / b
}

// toggleOverview (o) shows or hides the overview, asking for the grids
// it does not watch when it opens.
func (m *Model) toggleOverview() tea.Cmd {
	m.showOverview = !m.showOverview
	m.overview.SetDate(m.grid.Date())
	m.layout()
	if !m.showOverview {
		return nil
	}
	return m.overviewCmd()
}

// overviewCmd fetches, one by one, the grids of the catalog's spaces
// that are not watched live.
func (m *Model) overviewCmd() tea.Cmd {
	if m.cfg.Slots == nil {
		return nil
	}
	var spaces []Space
	for _, se := range m.cfg.Sedi {
		for _, sp := range se.Spaces {
			if !m.grid.RowLoaded(sp.Room()) {
				spaces = append(spaces, sp)
			}
		}
	}
	if len(spaces) == 0 {
		return nil
	}
	fetch, date := m.cfg.Slots, m.grid.Date()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg := OverviewMsg{Date: date, Rooms: map[string]Occupancy{}}
		for _, sp := range spaces {
			list, err := fetch(ctx, sp.SpazioID, date)
			if err != nil {
				msg.Err = fmt.Errorf("spazio %d@%d: %w", sp.SpazioID, sp.SedeID, err)
				return msg
			}
			msg.Rooms[sp.Room()] = occupancyOf(list)
		}
		return msg
	}
}

func occupancyOf(l protocol.SlotsList) Occupancy {
	c := Occupancy{Known: true, Total: len(l.Slots)}
	for _, s := range l.Slots {
		switch s.Status {
		case protocol.StatusOccupied:
			c.Held++
			c.Taken++
		case protocol.StatusBooked:
			c.Booked++
			c.Taken++
		}
	}
	return c
}

// nextSede (s) shows the catalog's next sede: its spaces become the rows,
// their rooms are joined for the shown date and the old ones left.
func (m *Model) nextSede() tea.Cmd {
	views := m.sedeViews()
	if len(views) < 2 {
		m.tell("sede", "only one sede in the catalog")
		return nil
	}
	cur := 0
	for i, v := range views {
		if sameSpaces(v.Spaces, m.cfg.Spaces) {
			cur = i
		}
	}
	next := views[(cur+1)%len(views)]
	old := m.cfg.Spaces
	m.cfg.Spaces = next.Spaces
	date := m.grid.Date()
	m.grid = NewGrid(m.st, next.Spaces, date, m.now, m.cfg.Location)
	rooms := make([]string, len(next.Spaces))
	for i, s := range next.Spaces {
		rooms[i] = s.Room()
	}
	m.stats.SetRooms(rooms)
	m.detailOpen = false
	m.layout()
	m.tell("sede", "showing "+next.Name)
	if m.cfg.Conn == nil {
		return nil
	}
	conn, spaces := m.cfg.Conn, next.Spaces
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if l, ok := conn.(RoomLeaver); ok {
			for _, s := range old {
				_, _ = l.LeaveSpace(ctx, s.SpazioID, s.SedeID) // best effort: a stale room only costs traffic
			}
		}
		for _, s := range spaces {
			if _, err := conn.JoinSpace(ctx, s.SpazioID, s.SedeID, date); err != nil {
				return JoinedMsg{Date: date, Err: err}
			}
		}
		return JoinedMsg{Date: date}
	}
}

// sedeViews are what s cycles through: the spaces watch started with,
// when they are not one whole sede (several sedi, or some spazi of one),
// then every sede of the catalog.
func (m *Model) sedeViews() []Sede {
	var views []Sede
	custom := len(m.chosen) > 0
	for _, se := range m.cfg.Sedi {
		if sameSpaces(se.Spaces, m.chosen) {
			custom = false
		}
	}
	if custom {
		views = append(views, Sede{Name: "the spaces watch started with", Spaces: m.chosen})
	}
	return append(views, m.cfg.Sedi...)
}

// sameSpaces reports whether a and b are the same rooms in the same order.
func sameSpaces(a, b []Space) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Room() != b[i].Room() {
			return false
		}
	}
	return true
}
