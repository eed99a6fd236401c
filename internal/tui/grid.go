package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// HighlightFor is how long a changed cell stays highlighted.
const HighlightFor = 3 * time.Second

// Space is one watched spazio: a row of the grid.
type Space struct {
	SpazioID, SedeID int64
	// Name is the spazio's name; "" shows "spazio N@S".
	Name string
	// Sede is the sede's name, shown when spaces of several sedi are watched.
	Sede string
	// Open and Close ("HH:MM") give the columns before the first snapshot.
	Open, Close string
	// Location is the sede's time zone, used to grey out slots whose start
	// has passed; nil means time.Local.
	Location *time.Location
}

// Room is the Socket.IO room of the space.
func (s Space) Room() string { return protocol.SpaceRoom(s.SpazioID, s.SedeID) }

// Label is the row label.
func (s Space) Label() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("spazio %d@%d", s.SpazioID, s.SedeID)
}

type cell struct {
	status  string
	expires time.Time
	changed time.Time
}

type gridRow struct {
	space  Space
	cells  map[string]*cell // by orario "HH:MM"
	loaded bool
}

// Grid is the slot grid: rows are spaces, columns the day's hourly slots.
type Grid struct {
	st     *Styles
	rows   []*gridRow
	byRoom map[string]*gridRow
	date   string
	now    time.Time
	width  int
	height int
}

// NewGrid returns an empty grid of spaces for date.
func NewGrid(st *Styles, spaces []Space, date string, now time.Time) Grid {
	g := Grid{st: st, date: date, now: now, byRoom: map[string]*gridRow{}}
	for _, sp := range spaces {
		r := &gridRow{space: sp}
		g.rows = append(g.rows, r)
		g.byRoom[sp.Room()] = r
	}
	return g
}

// SetSize sets the space the grid may use (inside its box).
func (g *Grid) SetSize(w, h int) { g.width, g.height = w, h }

// Date returns the shown date.
func (g Grid) Date() string { return g.date }

// SetDate switches to another day: every row waits for its new snapshot.
func (g *Grid) SetDate(date string) {
	g.date = date
	for _, r := range g.rows {
		r.cells, r.loaded = nil, false
	}
}

// Loaded reports whether every row has its snapshot.
func (g Grid) Loaded() bool {
	for _, r := range g.rows {
		if !r.loaded {
			return false
		}
	}
	return true
}

// Update applies snapshots, slot updates, freed holds and clock ticks.
func (g *Grid) Update(msg any) {
	switch m := msg.(type) {
	case TickMsg:
		if time.Time(m).After(g.now) {
			g.now = time.Time(m)
		}
	case TypedEvent:
		if m.At.After(g.now) {
			g.now = m.At
		}
		switch p := m.Payload.(type) {
		case *protocol.SlotsStatusUpdate:
			g.applySnapshot(m.Room, p, m.At)
		case *protocol.SlotUpdate:
			g.applySlot(m.Room, p.Data, p.Status, m.At)
		case *protocol.HoldExpired:
			g.applySlot(m.Room, p.Data, protocol.StatusAvailable, m.At)
		case *protocol.SlotsFreed:
			for _, f := range p.Slots {
				g.applyFreed(f, m.At)
			}
		}
	}
}

func (g *Grid) row(room string, spazioID, sedeID int64) *gridRow {
	if spazioID > 0 && sedeID > 0 {
		room = protocol.SpaceRoom(spazioID, sedeID)
	}
	return g.byRoom[room]
}

func (g *Grid) applySnapshot(room string, p *protocol.SlotsStatusUpdate, at time.Time) {
	r := g.row(room, p.SpazioID, p.SedeID)
	if r == nil || (p.Date != "" && p.Date != g.date) {
		return
	}
	old := r.cells
	r.cells = make(map[string]*cell, len(p.SlotsStatus))
	for _, s := range p.SlotsStatus {
		c := &cell{status: s.Status, expires: parseExpiry(s.ExpiresAt)}
		if prev, ok := old[s.Orario]; ok {
			c.changed = prev.changed
			if r.loaded && prev.status != s.Status {
				c.changed = at
			}
		}
		r.cells[s.Orario] = c
	}
	r.loaded = true
}

func (g *Grid) applySlot(room string, d protocol.SlotData, status string, at time.Time) {
	r := g.row(room, d.IDSpazio, d.IDSede)
	if r == nil || (d.Date != "" && d.Date != g.date) || d.Orario == "" {
		return
	}
	if status == "" {
		status = d.Status
	}
	if r.cells == nil {
		r.cells = map[string]*cell{}
	}
	c, ok := r.cells[d.Orario]
	if !ok {
		c = &cell{}
		r.cells[d.Orario] = c
	}
	c.status, c.changed = status, at
	c.expires = time.Time{}
	if status == protocol.StatusOccupied {
		c.expires = parseExpiry(d.ExpiresAt)
	}
}

func (g *Grid) applyFreed(f protocol.FreedSlot, at time.Time) {
	r := g.row("", f.IDSpazio, f.IDSede)
	if r == nil || (f.Date != "" && f.Date != g.date) {
		return
	}
	orario := ""
	if r.cells != nil {
		// Slot numbers are 1-based hours from opening: the n-th column.
		cols := r.orari()
		if f.IDSlot >= 1 && f.IDSlot <= len(cols) {
			orario = cols[f.IDSlot-1]
		}
	}
	if c, ok := r.cells[orario]; ok && c.status == protocol.StatusOccupied {
		c.status, c.expires, c.changed = protocol.StatusAvailable, time.Time{}, at
	}
}

func parseExpiry(s *string) time.Time {
	if s == nil || *s == "" {
		return time.Time{}
	}
	t, err := protocol.ParseTimestamp(*s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (r *gridRow) orari() []string {
	out := make([]string, 0, len(r.cells))
	for o := range r.cells {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// columns is the union of the rows' slot times, or the catalog's opening
// hours while no snapshot has arrived.
func (g Grid) columns() []string {
	set := map[string]bool{}
	for _, r := range g.rows {
		if len(r.cells) > 0 {
			for o := range r.cells {
				set[o] = true
			}
			continue
		}
		for _, o := range hours(r.space.Open, r.space.Close) {
			set[o] = true
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// hours lists "HH:00" from open up to (not including) close.
func hours(open, closing string) []string {
	o, err1 := time.Parse("15:04", open)
	c, err2 := time.Parse("15:04", closing)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for t := o; t.Before(c); t = t.Add(time.Hour) {
		out = append(out, t.Format("15:04"))
	}
	return out
}

// shown is the status a cell displays: an available slot whose start has
// passed (in the sede's zone) reads as past, like the server would say.
func (g Grid) shown(r *gridRow, orario string, c *cell) string {
	if c.status != protocol.StatusAvailable {
		return c.status
	}
	loc := r.space.Location
	if loc == nil {
		loc = time.Local
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", g.date+" "+orario, loc)
	if err == nil && !g.now.Before(start) {
		return protocol.StatusPast
	}
	return c.status
}

// Occupancy counts taken (occupied or booked) and all slots of the day in
// one row, or in every row when room is "".
func (g Grid) Occupancy(room string) (taken, total int) {
	for _, r := range g.rows {
		if room != "" && r.space.Room() != room {
			continue
		}
		for _, c := range r.cells {
			total++
			if c.status == protocol.StatusOccupied || c.status == protocol.StatusBooked {
				taken++
			}
		}
	}
	return taken, total
}

// Status returns the status shown for one slot ("" when unknown).
func (g Grid) Status(room, orario string) string {
	r := g.byRoom[room]
	if r == nil {
		return ""
	}
	c, ok := r.cells[orario]
	if !ok {
		return ""
	}
	return g.shown(r, orario, c)
}

// Remaining is the hold countdown of one slot (zero when not held).
func (g Grid) Remaining(room, orario string) time.Duration {
	r := g.byRoom[room]
	if r == nil {
		return 0
	}
	c, ok := r.cells[orario]
	if !ok || c.status != protocol.StatusOccupied || c.expires.IsZero() {
		return 0
	}
	return max(c.expires.Sub(g.now), 0)
}

// Highlighted reports whether a slot changed within HighlightFor.
func (g Grid) Highlighted(room, orario string) bool {
	r := g.byRoom[room]
	if r == nil {
		return false
	}
	c, ok := r.cells[orario]
	return ok && !c.changed.IsZero() && g.now.Sub(c.changed) < HighlightFor
}

// layout picks the cell width and name width that fit.
func (g Grid) layout(ncols int) (nameW, cellW int) {
	nameW = 6
	for _, r := range g.rows {
		nameW = max(nameW, lipgloss.Width(r.space.Label()))
	}
	nameW = min(nameW, 20)
	const occW = 7 // " 10/15 "
	for _, cw := range []int{5, 3, 1} {
		if nameW+ncols*(cw+1)+occW <= g.width {
			return nameW, cw
		}
	}
	cellW = 1
	nameW = max(g.width-ncols*2-occW, 4)
	return nameW, cellW
}

// View renders the grid in width×height (rows that do not fit are
// summarised in the last line).
func (g Grid) View() string {
	if g.width <= 0 || g.height <= 0 {
		return ""
	}
	cols := g.columns()
	nameW, cw := g.layout(len(cols))
	var b strings.Builder
	lines := 0
	line := func(s string) {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(fit(s, g.width))
		lines++
	}

	hdr := pad("space", nameW)
	for _, o := range cols {
		label := o
		switch cw {
		case 3:
			label = o[:2]
		case 1:
			label = o[1:2]
		}
		hdr += " " + center(label, cw)
	}
	line(g.st.Dim.Render(hdr + "  taken"))

	// Header, total and legend take 3 lines.
	room := g.height - 3
	shownRows := g.rows
	hidden := 0
	if len(shownRows) > room && room >= 1 {
		hidden = len(shownRows) - (room - 1)
		shownRows = shownRows[:room-1]
	}
	for _, r := range shownRows {
		s := pad(truncate(r.space.Label(), nameW), nameW)
		for _, o := range cols {
			c, ok := r.cells[o]
			sep := " "
			var text string
			switch {
			case !r.loaded && r.cells == nil:
				text = g.st.Unknown.Render(center("?", cw))
			case !ok:
				text = center("", cw)
			default:
				status := g.shown(r, o, c)
				text = g.renderCell(status, c, cw)
				if !c.changed.IsZero() && g.now.Sub(c.changed) < HighlightFor {
					sep = "*"
					text = g.st.Changed.Render(text)
				}
			}
			s += sep + text
		}
		taken, total := g.Occupancy(r.space.Room())
		if r.loaded || total > 0 {
			s += "  " + fmt.Sprintf("%d/%d", taken, total)
		} else {
			s += "  " + g.st.Dim.Render("…")
		}
		line(s)
	}
	if hidden > 0 {
		line(g.st.Dim.Render(fmt.Sprintf("… %d more spaces (enlarge the terminal)", hidden)))
	}
	taken, total := g.Occupancy("")
	held, booked := g.counts()
	pct := 0
	if total > 0 {
		pct = taken * 100 / total
	}
	line(g.st.Bold.Render(fmt.Sprintf("total %d/%d taken (%d%%)", taken, total, pct)) +
		g.st.Dim.Render(fmt.Sprintf(" · %d held · %d booked", held, booked)))
	line(g.legend())
	return b.String()
}

func (g Grid) counts() (held, booked int) {
	for _, r := range g.rows {
		for _, c := range r.cells {
			switch c.status {
			case protocol.StatusOccupied:
				held++
			case protocol.StatusBooked:
				booked++
			}
		}
	}
	return held, booked
}

func (g Grid) legend() string {
	return g.st.Available.Render("·") + " free  " +
		g.st.Occupied.Render("mm:ss") + " held, time left  " +
		g.st.Booked.Render("■") + " booked  " +
		g.st.Past.Render("-") + " past  " +
		"* changed"
}

func (g Grid) renderCell(status string, c *cell, cw int) string {
	switch status {
	case protocol.StatusAvailable:
		return g.st.Available.Render(center("·", cw))
	case protocol.StatusOccupied:
		return g.st.Occupied.Render(center(countdown(c.expires, g.now, cw), cw))
	case protocol.StatusBooked:
		return g.st.Booked.Render(center("■", cw))
	case protocol.StatusPast:
		return g.st.Past.Render(center("-", cw))
	default:
		return g.st.Unknown.Render(center("?", cw))
	}
}

// countdown formats the time left of a hold for a cell of width cw.
func countdown(expires, now time.Time, cw int) string {
	if expires.IsZero() {
		return "held"[:min(4, cw)]
	}
	left := max(expires.Sub(now), 0)
	secs := int((left + time.Second - 1) / time.Second) // round up: 0:00 only when expired
	switch {
	case cw >= 5:
		if secs >= 100*60 {
			return fmt.Sprintf("%dh%02d", secs/3600, secs%3600/60)
		}
		return fmt.Sprintf("%d:%02d", secs/60, secs%60)
	case cw >= 3:
		mins := (secs + 59) / 60
		if mins >= 100 {
			return fmt.Sprintf("%dh", mins/60)
		}
		return fmt.Sprintf("%dm", mins)
	default:
		return "o"
	}
}
