package tui

import (
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Selection is the cell under the grid's cursor, as the detail pane and
// the cancel prompt need it.
type Selection struct {
	Space  Space
	Date   string
	Orario string
	// Slot is the 1-based slot number; 0 when the row has no such column.
	Slot int
	// Status is what the cell shows (past for a free slot that started);
	// Stored is the server's status.
	Status, Stored string
	// Expires is when a hold lapses; Left how long is left of it.
	Expires time.Time
	Left    time.Duration
	// Prenotazione and Holder are 0 when unknown (the holder is told to
	// staff only).
	Prenotazione, Holder int64
	// Loaded: the row has its snapshot.
	Loaded bool
}

// Taken reports whether the slot is held or booked: something to cancel.
func (s Selection) Taken() bool {
	return s.Stored == protocol.StatusOccupied || s.Stored == protocol.StatusBooked
}

// Key names the slot for matching answers (history) to the selection.
func (s Selection) Key() string {
	return s.Space.Room() + "/" + s.Date + "/" + s.Orario
}

// CursorShown reports whether the cursor is drawn.
func (g Grid) CursorShown() bool { return g.showCursor }

// HideCursor stops drawing the cursor (esc); it keeps its place.
func (g *Grid) HideCursor() { g.showCursor = false }

// MoveCursor moves the cursor by rows and columns, staying inside the
// grid; the first move only shows it where it is.
func (g *Grid) MoveCursor(drow, dcol int) {
	if !g.showCursor {
		g.showCursor = true
		g.clampCursor()
		return
	}
	g.cursor.row += drow
	g.cursor.col += dcol
	g.clampCursor()
}

// ShowCursor draws the cursor without moving it.
func (g *Grid) ShowCursor() {
	g.showCursor = true
	g.clampCursor()
}

func (g *Grid) clampCursor() {
	g.cursor.row = max(min(g.cursor.row, len(g.rows)-1), 0)
	g.cursor.col = max(min(g.cursor.col, len(g.columns())-1), 0)
}

// Selected returns the cell under the cursor; false when the cursor is
// hidden or the grid is empty.
func (g Grid) Selected() (Selection, bool) {
	if !g.showCursor || len(g.rows) == 0 {
		return Selection{}, false
	}
	cols := g.columns()
	if len(cols) == 0 {
		return Selection{}, false
	}
	r := g.rows[min(g.cursor.row, len(g.rows)-1)]
	o := cols[min(g.cursor.col, len(cols)-1)]
	sel := Selection{Space: r.space, Date: g.date, Orario: o, Loaded: r.loaded}
	c, ok := r.at(o)
	if !ok {
		return sel, true
	}
	sel.Slot = r.orari[o]
	sel.Status, sel.Stored = g.shown(r, c), c.status
	sel.Prenotazione, sel.Holder = c.prenotazione, c.holder
	if c.status == protocol.StatusOccupied && !c.expires.IsZero() {
		sel.Expires = c.expires
		sel.Left = max(c.expires.Sub(g.clock(r)), 0)
	}
	return sel, true
}

// cursorAt reports whether row i, column j is under a shown cursor.
func (g Grid) cursorAt(i, j int) bool {
	return g.showCursor && g.cursor.row == i && g.cursor.col == j
}
