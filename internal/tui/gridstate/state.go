package gridstate

import (
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

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

// row is one space. Cells are keyed by slot number (id_slot, 1-based
// from opening), which is what slot_update and slots_freed name; orari
// maps the row's "HH:MM" to its slot so rows of sedi with other opening
// hours still line up by time of day.
type row struct {
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

// GapAfter is how long a missing version may stay missing (an update
// still in flight) before the row counts as having lost it.
const GapAfter = time.Second

func (r *row) reset() {
	r.cells, r.orari, r.loaded, r.staleSince = nil, nil, false, time.Time{}
	r.versions, r.recent, r.gapSince = nil, nil, time.Time{}
}

// put stores c as slot n.
func (r *row) put(n int, c *cell) {
	if r.cells == nil {
		r.cells, r.orari = map[int]*cell{}, map[string]int{}
	}
	r.cells[n] = c
	if c.orario != "" {
		r.orari[c.orario] = n
	}
}

// at returns the cell shown under column orario.
func (r *row) at(orario string) (*cell, bool) {
	n, ok := r.orari[orario]
	if !ok {
		return nil, false
	}
	c, ok := r.cells[n]
	return c, ok
}

// State is the slot grid of one day: rows are spaces, columns the day's
// hourly slots. Copies share their rows: keep one State per grid.
type State struct {
	rows   []*row
	byRoom map[string]*row
	date   string
	now    time.Time
	// cursor is the selected cell (row index, column index); it counts
	// only once shown (a cursor key was pressed).
	cursor     struct{ row, col int }
	showCursor bool
	// multiSede: the rows belong to more than one sede.
	multiSede bool
}

// New returns an empty grid of spaces for date, its clock at now.
func New(spaces []Space, date string, now time.Time) State {
	s := State{date: date, now: now, byRoom: map[string]*row{}}
	for _, sp := range spaces {
		r := &row{space: sp}
		s.rows = append(s.rows, r)
		s.byRoom[sp.Room()] = r
		s.multiSede = s.multiSede || sp.SedeID != spaces[0].SedeID
	}
	return s
}

// Date returns the shown date.
func (s State) Date() string { return s.date }

// Now is the grid's clock: the latest tick or event time seen.
func (s State) Now() time.Time { return s.now }

// SetDate switches to another day: every row waits for its new snapshot.
func (s *State) SetDate(date string) {
	s.date = date
	for _, r := range s.rows {
		r.reset()
	}
}

// Tick moves the clock to now (never back): countdowns and highlights
// follow it.
func (s *State) Tick(now time.Time) {
	if now.After(s.now) {
		s.now = now
	}
}

// MarkStale freezes every loaded row at since until its next snapshot:
// the connection was lost, or the server stopped answering.
func (s *State) MarkStale(since time.Time) {
	for _, r := range s.rows {
		if r.loaded && r.staleSince.IsZero() {
			r.staleSince = since
		}
	}
}

// Apply applies one server event of room received at at: a snapshot
// (*protocol.SlotsStatusUpdate), a slot change (*protocol.SlotUpdate,
// *protocol.HoldExpired) or freed holds (*protocol.SlotsFreed). Any
// other payload only moves the clock.
func (s *State) Apply(room string, payload any, at time.Time) Change {
	s.Tick(at)
	switch p := payload.(type) {
	case *protocol.SlotsStatusUpdate:
		return s.applySnapshot(room, p, at)
	case *protocol.SlotUpdate:
		n := p.SlotID
		if n == 0 {
			n = p.Data.IDSlot
		}
		return s.applyVersioned(room, n, p.Data, p.Status, at, p.Version)
	case *protocol.HoldExpired:
		n := p.SlotID
		if n == 0 {
			n = p.Data.IDSlot
		}
		return s.applySlot(room, n, p.Data, protocol.StatusAvailable, at)
	case *protocol.SlotsFreed:
		var ch Change
		for _, f := range p.Slots {
			c := s.applyFreed(f, at)
			ch.Applied = ch.Applied || c.Applied
			ch.Cells += c.Cells
		}
		return ch
	}
	return Change{}
}

func (s *State) row(room string, spazioID, sedeID int64) *row {
	if spazioID > 0 && sedeID > 0 {
		room = protocol.SpaceRoom(spazioID, sedeID)
	}
	return s.byRoom[room]
}

func (s *State) applySnapshot(room string, p *protocol.SlotsStatusUpdate, at time.Time) Change {
	r := s.row(room, p.SpazioID, p.SedeID)
	if r == nil || (p.Date != "" && p.Date != s.date) {
		return Change{}
	}
	ch := Change{Applied: true, First: !r.loaded}
	old := r.cells
	r.cells, r.orari = nil, nil
	for i, st := range p.SlotsStatus {
		n := st.IDSlot
		if n == 0 {
			n = i + 1
		}
		c := &cell{orario: st.Orario, status: st.Status, expires: parseExpiry(st.ExpiresAt),
			prenotazione: deref(st.PrenotazioneID), holder: deref(st.IDUtente)}
		if prev, ok := old[n]; ok {
			c.changed = prev.changed
			if r.loaded && prev.status != st.Status {
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
				setSlot(r, u.n, u.d, u.status, u.at)
				r.recent = append(r.recent, u)
			}
		}
	}
	return ch
}

// applyVersioned applies a slot_update by the client rule of package
// protocol: per slot only if newer than what the slot shows; it also
// keeps it for replay should a snapshot older than it arrive next.
func (s *State) applyVersioned(room string, n int, d protocol.SlotData, status string, at time.Time, version int64) Change {
	r := s.row(room, d.IDSpazio, d.IDSede)
	if version <= 0 || r == nil || (d.Date != "" && d.Date != s.date) {
		return s.applySlot(room, n, d, status, at)
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
	return s.applySlot(room, n, d, status, at)
}

// Gaps lists the rooms that have missed a version for GapAfter or more
// (a lost update): they need a fresh snapshot. Each is reported once
// per gap, until the row's next snapshot.
func (s *State) Gaps() []string {
	var rooms []string
	for _, r := range s.rows {
		if r.versions == nil {
			continue
		}
		if _, missing := r.versions.Missing(); !missing {
			r.gapSince = time.Time{}
			continue
		}
		switch {
		case r.gapSince.IsZero():
			r.gapSince = s.now
		case s.now.Sub(r.gapSince) >= GapAfter:
			rooms = append(rooms, r.space.Room())
			r.gapSince = s.now.Add(time.Hour) // until the reload's snapshot
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

func (s *State) applySlot(room string, n int, d protocol.SlotData, status string, at time.Time) Change {
	r := s.row(room, d.IDSpazio, d.IDSede)
	if r == nil || (d.Date != "" && d.Date != s.date) {
		return Change{}
	}
	if n == 0 {
		n = r.orari[d.Orario]
	}
	if n <= 0 {
		return Change{}
	}
	return setSlot(r, n, d, status, at)
}

// setSlot writes one slot's new state into row r.
func setSlot(r *row, n int, d protocol.SlotData, status string, at time.Time) Change {
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

func (s *State) applyFreed(f protocol.FreedSlot, at time.Time) Change {
	r := s.row("", f.IDSpazio, f.IDSede)
	if r == nil || (f.Date != "" && f.Date != s.date) {
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

// parseExpiry reads a hold's expires_at; zero when absent or unreadable.
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
