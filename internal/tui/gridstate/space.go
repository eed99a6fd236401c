// Package gridstate is the state of the dashboard's slot grid, apart from
// how it is drawn: snapshots and versioned slot updates applied per row,
// the decision to ask for a fresh snapshot when an update went missing,
// countdowns that stop while the connection is lost, and the cursor. It
// imports no terminal library, so every rule is table-tested as events in,
// state out.
package gridstate

import (
	"fmt"
	"time"

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

// Occupancy counts one spazio's slots on the shown day.
type Occupancy struct {
	Taken, Held, Booked, Total int
	// Known: a snapshot or an answer arrived.
	Known bool
}

// Change says what one event did to the grid, so the dashboard can keep
// repeats out of its event log.
type Change struct {
	// Applied: the event concerned a shown row (right room and date).
	Applied bool
	// First: it was the row's first snapshot for the shown date.
	First bool
	// Cells counts cells whose status changed.
	Cells int
}
