package tui

import (
	"fmt"
	"sort"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
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

// cell is one slot of a row.
type cell struct {
	orario  string
	status  string
	expires time.Time
	changed time.Time
	// prenotazione and holder are the reservation on the slot, when the
	// server said (holder: to staff and to the holder only); 0 unknown.
	prenotazione, holder int64
}

// gridRow is one space. Cells are keyed by slot number (id_slot, 1-based
// from opening), which is what slot_update and slots_freed name; orari
// maps the row's "HH:MM" to its slot so rows of sedi with other opening
// hours still line up by time of day.
type gridRow struct {
	space  Space
	cells  map[int]*cell
	orari  map[string]int
	loaded bool
	// staleSince is when the connection was lost while the row showed a
	// snapshot; zero once a fresh snapshot arrived. Countdowns of a stale
	// row stop at that instant.
	staleSince time.Time
	// versions judges slot_updates against the last snapshot (nil before
	// one, or when the server sends no versions); recent keeps versioned
	// updates so those that overtook the snapshot can be replayed on it;
	// gapSince is when a missing version was first noticed.
	versions *protocol.GridVersions
	recent   []slotChange
	gapSince time.Time
}

// slotChange is one versioned slot_update, kept for replay.
type slotChange struct {
	n       int
	d       protocol.SlotData
	status  string
	at      time.Time
	version int64
}

// maxRecent bounds the updates a row keeps for replay on its snapshot.
const maxRecent = 256

func (r *gridRow) reset() {
	r.cells, r.orari, r.loaded, r.staleSince = nil, nil, false, time.Time{}
	r.versions, r.recent, r.gapSince = nil, nil, time.Time{}
}

// put stores c as slot n.
func (r *gridRow) put(n int, c *cell) {
	if r.cells == nil {
		r.cells, r.orari = map[int]*cell{}, map[string]int{}
	}
	r.cells[n] = c
	if c.orario != "" {
		r.orari[c.orario] = n
	}
}

// at returns the cell shown under column orario.
func (r *gridRow) at(orario string) (*cell, bool) {
	n, ok := r.orari[orario]
	if !ok {
		return nil, false
	}
	c, ok := r.cells[n]
	return c, ok
}

// Grid is the slot grid: rows are spaces, columns the day's hourly slots.
type Grid struct {
	st     *Styles
	rows   []*gridRow
	byRoom map[string]*gridRow
	date   string
	now    time.Time
	loc    *time.Location
	width  int
	height int
	// cursor is the selected cell (row index, column index); it is drawn
	// only once shown (a cursor key was pressed).
	cursor     struct{ row, col int }
	showCursor bool
	// multiSede: the rows belong to more than one sede, so they are
	// labelled with it.
	multiSede bool
}

// Change says what one update did to the grid, so the root can keep
// repeats out of the event log.
type Change struct {
	// Applied: the update concerned a shown row (right room and date).
	Applied bool
	// First: it was the row's first snapshot for the shown date.
	First bool
	// Cells counts cells whose status changed.
	Cells int
}

// NewGrid returns an empty grid of spaces for date; loc (nil: Local) is
// the zone of the times it prints.
func NewGrid(st *Styles, spaces []Space, date string, now time.Time, loc *time.Location) Grid {
	if loc == nil {
		loc = time.Local
	}
	g := Grid{st: st, date: date, now: now, loc: loc, byRoom: map[string]*gridRow{}}
	for _, sp := range spaces {
		r := &gridRow{space: sp}
		g.rows = append(g.rows, r)
		g.byRoom[sp.Room()] = r
		g.multiSede = g.multiSede || sp.SedeID != spaces[0].SedeID
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
		r.reset()
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

// RowLoaded reports whether the row of room shows a snapshot.
func (g Grid) RowLoaded(room string) bool {
	r := g.byRoom[room]
	return r != nil && r.loaded
}

// StaleSince is when the oldest stale row lost its connection; zero when
// every row is live.
func (g Grid) StaleSince() time.Time {
	var since time.Time
	for _, r := range g.rows {
		if !r.staleSince.IsZero() && (since.IsZero() || r.staleSince.Before(since)) {
			since = r.staleSince
		}
	}
	return since
}

// markStale freezes every loaded row at since until its next snapshot.
func (g *Grid) markStale(since time.Time) {
	for _, r := range g.rows {
		if r.loaded && r.staleSince.IsZero() {
			r.staleSince = since
		}
	}
}

// Update applies snapshots, slot updates, freed holds, connection losses
// and clock ticks.
func (g *Grid) Update(msg any) Change {
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
		case *client.ConnState:
			switch p.State {
			case client.StateDisconnected, client.StateReconnecting, client.StateOffline:
				g.markStale(m.At)
			}
		case *protocol.SlotsStatusUpdate:
			return g.applySnapshot(m.Room, p, m.At)
		case *protocol.SlotUpdate:
			n := p.SlotID
			if n == 0 {
				n = p.Data.IDSlot
			}
			return g.applyVersioned(m.Room, n, p.Data, p.Status, m.At, p.Version)
		case *protocol.HoldExpired:
			n := p.SlotID
			if n == 0 {
				n = p.Data.IDSlot
			}
			return g.applySlot(m.Room, n, p.Data, protocol.StatusAvailable, m.At)
		case *protocol.SlotsFreed:
			var ch Change
			for _, f := range p.Slots {
				c := g.applyFreed(f, m.At)
				ch.Applied = ch.Applied || c.Applied
				ch.Cells += c.Cells
			}
			return ch
		}
	case EventsClosedMsg:
		g.markStale(g.now)
	}
	return Change{}
}

func (g *Grid) row(room string, spazioID, sedeID int64) *gridRow {
	if spazioID > 0 && sedeID > 0 {
		room = protocol.SpaceRoom(spazioID, sedeID)
	}
	return g.byRoom[room]
}

func (g *Grid) applySnapshot(room string, p *protocol.SlotsStatusUpdate, at time.Time) Change {
	r := g.row(room, p.SpazioID, p.SedeID)
	if r == nil || (p.Date != "" && p.Date != g.date) {
		return Change{}
	}
	ch := Change{Applied: true, First: !r.loaded}
	old := r.cells
	r.cells, r.orari = nil, nil
	for i, s := range p.SlotsStatus {
		n := s.IDSlot
		if n == 0 {
			n = i + 1
		}
		c := &cell{orario: s.Orario, status: s.Status, expires: parseExpiry(s.ExpiresAt),
			prenotazione: deref(s.PrenotazioneID), holder: deref(s.IDUtente)}
		if prev, ok := old[n]; ok {
			c.changed = prev.changed
			if r.loaded && prev.status != s.Status {
				c.changed = at
				ch.Cells++
			}
		}
		r.put(n, c)
	}
	r.loaded, r.staleSince = true, time.Time{}
	r.versions, r.gapSince = nil, time.Time{}
	if p.Version > 0 {
		// Updates that overtook the snapshot (sent after it was read,
		// arrived before it) are replayed; the rest are in it already.
		r.versions = protocol.NewGridVersions(p.Version)
		recent := r.recent
		r.recent = nil
		for _, u := range recent {
			if u.version > p.Version && r.versions.Apply(u.n, u.version) {
				g.setSlot(r, u.n, u.d, u.status, u.at)
				r.recent = append(r.recent, u)
			}
		}
	}
	return ch
}

// applyVersioned applies a slot_update by the client rule of package
// protocol: per slot only if newer than what the slot shows; it also
// keeps it for replay should a snapshot older than it arrive next.
func (g *Grid) applyVersioned(room string, n int, d protocol.SlotData, status string, at time.Time, version int64) Change {
	r := g.row(room, d.IDSpazio, d.IDSede)
	if version <= 0 || r == nil || (d.Date != "" && d.Date != g.date) {
		return g.applySlot(room, n, d, status, at)
	}
	if n == 0 {
		n = r.orari[d.Orario]
	}
	if len(r.recent) == maxRecent {
		r.recent = r.recent[1:]
	}
	r.recent = append(r.recent, slotChange{n: n, d: d, status: status, at: at, version: version})
	if r.versions != nil && !r.versions.Apply(n, version) {
		return Change{Applied: true} // already shown, or older than shown
	}
	return g.applySlot(room, n, d, status, at)
}

// Gaps lists the rooms that have missed a version for a second or more
// (a lost update): they need a fresh snapshot. Each is reported once
// per gap.
func (g *Grid) Gaps() []string {
	var rooms []string
	for _, r := range g.rows {
		if r.versions == nil {
			continue
		}
		if _, missing := r.versions.Missing(); !missing {
			r.gapSince = time.Time{}
			continue
		}
		switch {
		case r.gapSince.IsZero():
			r.gapSince = g.now
		case g.now.Sub(r.gapSince) >= time.Second:
			rooms = append(rooms, r.space.Room())
			r.gapSince = g.now.Add(time.Hour) // until the reload's snapshot
		}
	}
	return rooms
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (g *Grid) applySlot(room string, n int, d protocol.SlotData, status string, at time.Time) Change {
	r := g.row(room, d.IDSpazio, d.IDSede)
	if r == nil || (d.Date != "" && d.Date != g.date) {
		return Change{}
	}
	if n == 0 {
		n = r.orari[d.Orario]
	}
	if n <= 0 {
		return Change{}
	}
	return g.setSlot(r, n, d, status, at)
}

// setSlot writes one slot's new state into row r.
func (g *Grid) setSlot(r *gridRow, n int, d protocol.SlotData, status string, at time.Time) Change {
	if status == "" {
		status = d.Status
	}
	c, ok := r.cells[n]
	if !ok {
		if d.Orario == "" {
			return Change{}
		}
		c = &cell{orario: d.Orario}
		r.put(n, c)
	}
	ch := Change{Applied: true}
	if c.status != status {
		ch.Cells = 1
	}
	c.status, c.changed = status, at
	c.expires = time.Time{}
	if status == protocol.StatusOccupied {
		c.expires = parseExpiry(d.ExpiresAt)
	}
	switch {
	case status == protocol.StatusAvailable:
		c.prenotazione, c.holder = 0, 0
	case d.PrenotazioneID != nil:
		if *d.PrenotazioneID != c.prenotazione {
			c.holder = 0
		}
		c.prenotazione = *d.PrenotazioneID
	}
	return ch
}

func (g *Grid) applyFreed(f protocol.FreedSlot, at time.Time) Change {
	r := g.row("", f.IDSpazio, f.IDSede)
	if r == nil || (f.Date != "" && f.Date != g.date) {
		return Change{}
	}
	c, ok := r.cells[f.IDSlot]
	if !ok || c.status != protocol.StatusOccupied {
		return Change{Applied: true}
	}
	c.status, c.expires, c.changed = protocol.StatusAvailable, time.Time{}, at
	c.prenotazione, c.holder = 0, 0
	return Change{Applied: true, Cells: 1}
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

// columns is the union of the rows' slot times, or the catalog's opening
// hours while no snapshot has arrived.
func (g Grid) columns() []string {
	set := map[string]bool{}
	for _, r := range g.rows {
		if len(r.orari) > 0 {
			for o := range r.orari {
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
func (g Grid) shown(r *gridRow, c *cell) string {
	if c.status != protocol.StatusAvailable {
		return c.status
	}
	loc := r.space.Location
	if loc == nil {
		loc = time.Local
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", g.date+" "+c.orario, loc)
	if err == nil && !g.now.Before(start) {
		return protocol.StatusPast
	}
	return c.status
}

// clock is the time a row's countdowns run on: now, or the instant the
// row went stale.
func (g Grid) clock(r *gridRow) time.Time {
	if !r.staleSince.IsZero() {
		return r.staleSince
	}
	return g.now
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

// cellAt finds the cell of room under column orario.
func (g Grid) cellAt(room, orario string) (*gridRow, *cell) {
	r := g.byRoom[room]
	if r == nil {
		return nil, nil
	}
	c, ok := r.at(orario)
	if !ok {
		return r, nil
	}
	return r, c
}

// Status returns the status shown for the slot at orario ("" when unknown).
func (g Grid) Status(room, orario string) string {
	r, c := g.cellAt(room, orario)
	if c == nil {
		return ""
	}
	return g.shown(r, c)
}

// SlotStatus returns the stored status of slot n ("" when unknown).
func (g Grid) SlotStatus(room string, n int) string {
	if r := g.byRoom[room]; r != nil {
		if c, ok := r.cells[n]; ok {
			return c.status
		}
	}
	return ""
}

// Remaining is the hold countdown of the slot at orario (zero when not
// held); it stands still while the row is stale.
func (g Grid) Remaining(room, orario string) time.Duration {
	r, c := g.cellAt(room, orario)
	if c == nil || c.status != protocol.StatusOccupied || c.expires.IsZero() {
		return 0
	}
	return max(c.expires.Sub(g.clock(r)), 0)
}

// Highlighted reports whether the slot at orario changed within HighlightFor.
func (g Grid) Highlighted(room, orario string) bool {
	_, c := g.cellAt(room, orario)
	return c != nil && !c.changed.IsZero() && g.now.Sub(c.changed) < HighlightFor
}
