package gridstate

import (
	"sort"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Row is what a view needs of one row.
type Row struct {
	Space Space
	// Loaded: the row shows a snapshot of the date.
	Loaded bool
	// Waiting: no snapshot and no slot of the row arrived yet.
	Waiting bool
	// Stale: the connection was lost since the snapshot; countdowns stand.
	Stale bool
}

// Cell is what a view needs of one slot.
type Cell struct {
	Orario string
	// Status is the server's; Shown is what the cell reads as (past for a
	// free slot whose start has passed in the sede's zone).
	Status, Shown string
	// Expires is when a hold lapses (zero: unknown or not held); Clock is
	// the time its countdown runs on: now, or when the row went stale.
	Expires, Clock time.Time
	// Highlighted: the slot changed within HighlightFor.
	Highlighted bool
	// Prenotazione and Holder are 0 when unknown.
	Prenotazione, Holder int64
}

// MultiSede reports whether the rows belong to more than one sede.
func (s State) MultiSede() bool { return s.multiSede }

// Rows lists the rows in order.
func (s State) Rows() []Row {
	out := make([]Row, len(s.rows))
	for i, r := range s.rows {
		out[i] = Row{Space: r.space, Loaded: r.loaded, Waiting: !r.loaded && r.cells == nil, Stale: !r.staleSince.IsZero()}
	}
	return out
}

// Cell returns the slot of row i under column orario.
func (s State) Cell(i int, orario string) (Cell, bool) {
	if i < 0 || i >= len(s.rows) {
		return Cell{}, false
	}
	r := s.rows[i]
	c, ok := r.at(orario)
	if !ok {
		return Cell{}, false
	}
	return s.cellOf(r, c), true
}

func (s State) cellOf(r *row, c *cell) Cell {
	return Cell{Orario: c.orario, Status: c.status, Shown: s.shown(r, c), Expires: c.expires, Clock: s.clock(r),
		Highlighted:  !c.changed.IsZero() && s.now.Sub(c.changed) < HighlightFor,
		Prenotazione: c.prenotazione, Holder: c.holder}
}

// Has reports whether room is one of the grid's rows.
func (s State) Has(room string) bool { return s.byRoom[room] != nil }

// Loaded reports whether every row has its snapshot.
func (s State) Loaded() bool {
	for _, r := range s.rows {
		if !r.loaded {
			return false
		}
	}
	return true
}

// RowLoaded reports whether the row of room shows a snapshot.
func (s State) RowLoaded(room string) bool {
	r := s.byRoom[room]
	return r != nil && r.loaded
}

// StaleSince is when the oldest stale row lost its connection; zero when
// every row is live.
func (s State) StaleSince() time.Time {
	var since time.Time
	for _, r := range s.rows {
		if !r.staleSince.IsZero() && (since.IsZero() || r.staleSince.Before(since)) {
			since = r.staleSince
		}
	}
	return since
}

// Columns is the union of the rows' slot times, or the catalog's opening
// hours while no snapshot has arrived.
func (s State) Columns() []string {
	set := map[string]bool{}
	for _, r := range s.rows {
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
func (s State) shown(r *row, c *cell) string {
	if c.status != protocol.StatusAvailable {
		return c.status
	}
	loc := r.space.Location
	if loc == nil {
		loc = time.Local
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", s.date+" "+c.orario, loc)
	if err == nil && !s.now.Before(start) {
		return protocol.StatusPast
	}
	return c.status
}

// clock is the time a row's countdowns run on: now, or the instant the
// row went stale.
func (s State) clock(r *row) time.Time {
	if !r.staleSince.IsZero() {
		return r.staleSince
	}
	return s.now
}

// Occupancy counts taken (occupied or booked) and all slots of the day in
// one row, or in every row when room is "".
func (s State) Occupancy(room string) (taken, total int) {
	for _, r := range s.rows {
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

// Tally counts the held and the booked slots of every row.
func (s State) Tally() (held, booked int) {
	for _, r := range s.rows {
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

// Counts returns the occupancy of every row, keyed by room.
func (s State) Counts() map[string]Occupancy {
	out := make(map[string]Occupancy, len(s.rows))
	for _, r := range s.rows {
		c := Occupancy{Known: r.loaded}
		for _, cl := range r.cells {
			c.Total++
			switch cl.status {
			case protocol.StatusOccupied:
				c.Held++
				c.Taken++
			case protocol.StatusBooked:
				c.Booked++
				c.Taken++
			}
		}
		out[r.space.Room()] = c
	}
	return out
}

// cellAt finds the cell of room under column orario.
func (s State) cellAt(room, orario string) (*row, *cell) {
	r := s.byRoom[room]
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
func (s State) Status(room, orario string) string {
	r, c := s.cellAt(room, orario)
	if c == nil {
		return ""
	}
	return s.shown(r, c)
}

// SlotStatus returns the stored status of slot n ("" when unknown).
func (s State) SlotStatus(room string, n int) string {
	if r := s.byRoom[room]; r != nil {
		if c, ok := r.cells[n]; ok {
			return c.status
		}
	}
	return ""
}

// Remaining is the hold countdown of the slot at orario (zero when not
// held); it stands still while the row is stale.
func (s State) Remaining(room, orario string) time.Duration {
	r, c := s.cellAt(room, orario)
	if c == nil || c.status != protocol.StatusOccupied || c.expires.IsZero() {
		return 0
	}
	return max(c.expires.Sub(s.clock(r)), 0)
}

// Highlighted reports whether the slot at orario changed within HighlightFor.
func (s State) Highlighted(room, orario string) bool {
	_, c := s.cellAt(room, orario)
	return c != nil && !c.changed.IsZero() && s.now.Sub(c.changed) < HighlightFor
}

// CursorShown reports whether the cursor is shown.
func (s State) CursorShown() bool { return s.showCursor }

// HideCursor stops showing the cursor (esc); it keeps its place.
func (s *State) HideCursor() { s.showCursor = false }

// MoveCursor moves the cursor by rows and columns, staying inside the
// grid; the first move only shows it where it is.
func (s *State) MoveCursor(drow, dcol int) {
	if !s.showCursor {
		s.showCursor = true
		s.clampCursor()
		return
	}
	s.cursor.row += drow
	s.cursor.col += dcol
	s.clampCursor()
}

// ShowCursor shows the cursor without moving it.
func (s *State) ShowCursor() {
	s.showCursor = true
	s.clampCursor()
}

func (s *State) clampCursor() {
	s.cursor.row = max(min(s.cursor.row, len(s.rows)-1), 0)
	s.cursor.col = max(min(s.cursor.col, len(s.Columns())-1), 0)
}

// CursorAt reports whether row i, column j is under a shown cursor.
func (s State) CursorAt(i, j int) bool {
	return s.showCursor && s.cursor.row == i && s.cursor.col == j
}

// Selected returns the cell under the cursor; false when the cursor is
// hidden or the grid is empty.
func (s State) Selected() (Selection, bool) {
	if !s.showCursor || len(s.rows) == 0 {
		return Selection{}, false
	}
	cols := s.Columns()
	if len(cols) == 0 {
		return Selection{}, false
	}
	r := s.rows[min(s.cursor.row, len(s.rows)-1)]
	o := cols[min(s.cursor.col, len(cols)-1)]
	sel := Selection{Space: r.space, Date: s.date, Orario: o, Loaded: r.loaded}
	c, ok := r.at(o)
	if !ok {
		return sel, true
	}
	sel.Slot = r.orari[o]
	sel.Status, sel.Stored = s.shown(r, c), c.status
	sel.Prenotazione, sel.Holder = c.prenotazione, c.holder
	if c.status == protocol.StatusOccupied && !c.expires.IsZero() {
		sel.Expires = c.expires
		sel.Left = max(c.expires.Sub(s.clock(r)), 0)
	}
	return sel, true
}
