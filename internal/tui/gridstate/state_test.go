package gridstate

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

const day = "2026-11-26"

var (
	t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	// room1 and room2 are two spazi of sede 1; slots 1–4 are 10:00–13:00.
	room1 = protocol.SpaceRoom(1, 1)
	room2 = protocol.SpaceRoom(2, 1)
)

const (
	free   = protocol.StatusAvailable
	held   = protocol.StatusOccupied
	booked = protocol.StatusBooked
	past   = protocol.StatusPast
)

func spaces() []Space {
	return []Space{
		{SpazioID: 1, SedeID: 1, Name: "Sala 1", Open: "10:00", Close: "14:00", Location: time.UTC},
		{SpazioID: 2, SedeID: 1, Name: "Sala 2", Open: "10:00", Close: "14:00", Location: time.UTC},
	}
}

func orario(n int) string { return fmt.Sprintf("%02d:00", 9+n) }

// snap is the snapshot of spazio id at version v, slot i+1 in statuses[i];
// a held slot expires 15 minutes after t0.
func snap(id int64, v int64, statuses ...string) *protocol.SlotsStatusUpdate {
	p := &protocol.SlotsStatusUpdate{SpazioID: id, SedeID: 1, Date: day, Version: v}
	for i, st := range statuses {
		s := protocol.Slot{IDSlot: i + 1, Orario: orario(i + 1), Status: st, Date: day}
		if st == held {
			exp := protocol.Timestamp(t0.Add(15 * time.Minute))
			s.ExpiresAt = &exp
		}
		p.SlotsStatus = append(p.SlotsStatus, s)
	}
	return p
}

// upd is slot n of spazio id turning status at version v (0: unversioned).
func upd(id int64, n int, status string, v int64) *protocol.SlotUpdate {
	d := protocol.SlotData{IDSlot: n, IDSpazio: id, IDSede: 1, Date: day, Orario: orario(n), Status: status}
	if status == held {
		exp := protocol.Timestamp(t0.Add(30 * time.Minute))
		d.ExpiresAt = &exp
	}
	return &protocol.SlotUpdate{SlotID: n, Status: status, Data: d, Version: v}
}

// step is one input at t0+at: a server payload for room, or one of the
// test's own inputs below.
type step struct {
	at   time.Duration
	room string
	in   any
}

type (
	tick    struct{} // the clock moves to at
	lost    struct{} // the connection is lost at at
	newDate string   // the grid switches day
	gaps    []string // Gaps() at at must return exactly these rooms
	change  Change   // the previous payload's Change must be this
)

// run feeds steps into a new grid and checks the gaps and changes they
// name.
func run(t *testing.T, steps []step) State {
	t.Helper()
	s := New(spaces(), day, t0)
	var last Change
	for i, st := range steps {
		at := t0.Add(st.at)
		switch in := st.in.(type) {
		case tick:
			s.Tick(at)
		case lost:
			s.MarkStale(at)
		case newDate:
			s.SetDate(string(in))
		case gaps:
			s.Tick(at)
			if got := s.Gaps(); !reflect.DeepEqual(got, []string(in)) && (len(got) > 0 || len(in) > 0) {
				t.Fatalf("step %d: Gaps() = %v, want %v", i, got, []string(in))
			}
		case change:
			if last != Change(in) {
				t.Fatalf("step %d: change %+v, want %+v", i, last, Change(in))
			}
		default:
			last = s.Apply(st.room, in, at)
		}
	}
	return s
}

// statuses is the stored status of slots 1–4 of room.
func statuses(s State, room string) [4]string {
	var out [4]string
	for n := range 4 {
		out[n] = s.SlotStatus(room, n+1)
	}
	return out
}

func TestApplyVersionedUpdates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		want  [4]string
	}{
		{"a newer update applies", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room1, upd(1, 2, held, 6)}, {0, "", change{Applied: true, Cells: 1}},
		}, [4]string{free, held, free, free}},
		{"an update the snapshot already has is ignored", []step{
			{0, room1, snap(1, 5, free, booked, free, free)},
			{1, room1, upd(1, 2, held, 5)}, {0, "", change{Applied: true}},
		}, [4]string{free, booked, free, free}},
		{"out of order on one slot: the older one loses", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room1, upd(1, 3, booked, 7)},
			{2, room1, upd(1, 3, held, 6)}, {0, "", change{Applied: true}},
		}, [4]string{free, free, booked, free}},
		{"out of order on two slots: both apply", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room1, upd(1, 4, booked, 7)},
			{2, room1, upd(1, 1, held, 6)}, {0, "", change{Applied: true, Cells: 1}},
		}, [4]string{held, free, free, booked}},
		{"an update that overtook its snapshot is replayed on it", []step{
			{0, room1, upd(1, 2, booked, 6)},
			{1, room1, snap(1, 5, free, held, free, free)}, {0, "", change{Applied: true, First: true}},
		}, [4]string{free, booked, free, free}},
		{"an update older than the snapshot that arrived first is not replayed", []step{
			{0, room1, upd(1, 2, booked, 4)},
			{1, room1, snap(1, 5, free, free, free, free)},
		}, [4]string{free, free, free, free}},
		{"a new snapshot replaces the grid and counts what changed", []step{
			{0, room1, snap(1, 5, free, held, free, free)},
			{1, room1, snap(1, 9, booked, free, free, free)}, {0, "", change{Applied: true, Cells: 2}},
		}, [4]string{booked, free, free, free}},
		{"a snapshot of another date is not shown", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room1, &protocol.SlotsStatusUpdate{SpazioID: 1, SedeID: 1, Date: "2026-11-27", Version: 9}},
			{0, "", change{}},
		}, [4]string{free, free, free, free}},
		{"an update of another room is not shown here", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room2, upd(2, 1, held, 6)},
		}, [4]string{free, free, free, free}},
		{"an unversioned update applies as it comes", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{1, room1, upd(1, 1, booked, 0)},
			{2, room1, upd(1, 1, held, 0)},
		}, [4]string{held, free, free, free}},
		{"hold_expired and slots_freed free a hold", []step{
			{0, room1, snap(1, 5, held, held, booked, free)},
			{1, room1, &protocol.HoldExpired{SlotID: 1, Data: protocol.SlotData{IDSlot: 1, IDSpazio: 1, IDSede: 1, Date: day}}},
			{2, "", &protocol.SlotsFreed{Slots: []protocol.FreedSlot{{IDSpazio: 1, IDSede: 1, Date: day, IDSlot: 2}, {IDSpazio: 1, IDSede: 1, Date: day, IDSlot: 3}}}},
			{0, "", change{Applied: true, Cells: 1}}, // slot 3 is booked, not held
		}, [4]string{free, free, booked, free}},
		{"a new date waits for its snapshot", []step{
			{0, room1, snap(1, 5, held, free, free, free)},
			{1, "", newDate("2026-11-27")},
			{2, room1, upd(1, 1, booked, 6)}, {0, "", change{}}, // of the old date
		}, [4]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, tc.steps)
			if got := statuses(s, room1); got != tc.want {
				t.Errorf("slots 1–4 = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGapsAskForOneResync: a version missing for GapAfter names its room
// once; the update arriving late, or a new snapshot, clears it.
func TestGapsAskForOneResync(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a lost update is reported once after GapAfter", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{0, room2, snap(2, 3, free, free, free, free)},
			{100 * ms, room1, upd(1, 1, held, 7)}, // 6 is missing
			{200 * ms, "", gaps{}},                // noticed
			{900 * ms, "", gaps{}},                // may still be in flight
			{1200 * ms, "", gaps{room1}},          // lost
			{2500 * ms, "", gaps{}},               // asked already
		}},
		{"the late update closes the gap", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{100 * ms, room1, upd(1, 1, held, 7)},
			{200 * ms, "", gaps{}},
			{700 * ms, room1, upd(1, 2, held, 6)},
			{1500 * ms, "", gaps{}},
			{3000 * ms, "", gaps{}},
		}},
		{"a new snapshot closes the gap", []step{
			{0, room1, snap(1, 5, free, free, free, free)},
			{100 * ms, room1, upd(1, 1, held, 7)},
			{200 * ms, "", gaps{}},
			{1300 * ms, "", gaps{room1}},
			{1400 * ms, room1, snap(1, 7, held, free, free, free)},
			{3000 * ms, "", gaps{}},
		}},
		{"no versions, no gaps", []step{
			{0, room1, snap(1, 0, free, free, free, free)},
			{100 * ms, room1, upd(1, 1, held, 7)},
			{200 * ms, "", gaps{}},
			{3000 * ms, "", gaps{}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { run(t, tc.steps) })
	}
}

// TestStaleRowsStopTheirCountdowns: a lost connection freezes the
// countdowns of loaded rows at that instant, until a fresh snapshot.
func TestStaleRowsStopTheirCountdowns(t *testing.T) {
	s := run(t, []step{
		{0, room1, snap(1, 5, free, held, free, free)},
		{time.Minute, "", tick{}},
		{2 * time.Minute, "", lost{}},
		{5 * time.Minute, "", tick{}},
	})
	if got := s.Remaining(room1, orario(2)); got != 13*time.Minute {
		t.Errorf("countdown while stale = %v, want 13m (stopped when the connection was lost)", got)
	}
	if got := s.StaleSince(); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("StaleSince = %v", got)
	}
	if rows := s.Rows(); !rows[0].Stale || rows[1].Stale || !rows[1].Waiting {
		t.Errorf("rows = %+v: want the loaded row stale, the other one still waiting and not stale", rows)
	}
	if c, _ := s.Cell(0, orario(2)); !c.Clock.Equal(t0.Add(2*time.Minute)) || c.Shown != held {
		t.Errorf("stale cell = %+v", c)
	}
	s.Apply(room1, snap(1, 8, free, held, free, free), t0.Add(6*time.Minute))
	if !s.StaleSince().IsZero() {
		t.Error("a fresh snapshot left the row stale")
	}
	if got := s.Remaining(room1, orario(2)); got != 9*time.Minute {
		t.Errorf("countdown after a fresh snapshot = %v, want 9m", got)
	}
}

// TestShownStatusAndHighlight: a free slot whose hour began reads as
// past; a change stays highlighted for HighlightFor.
func TestShownStatusAndHighlight(t *testing.T) {
	s := run(t, []step{
		{0, room1, snap(1, 5, free, free, free, free)},
		{2*time.Hour + 30*time.Minute, room1, upd(1, 4, booked, 6)}, // 10:30
	})
	if got := s.Status(room1, orario(1)); got != past {
		t.Errorf("10:00 at 10:30 = %q, want past", got)
	}
	if got := s.Status(room1, orario(2)); got != free {
		t.Errorf("11:00 at 10:30 = %q, want available", got)
	}
	if !s.Highlighted(room1, orario(4)) {
		t.Error("a change just now is not highlighted")
	}
	s.Tick(t0.Add(2*time.Hour + 30*time.Minute + HighlightFor))
	if s.Highlighted(room1, orario(4)) {
		t.Error("still highlighted after HighlightFor")
	}
	if taken, total := s.Occupancy(""); taken != 1 || total != 4 {
		t.Errorf("occupancy = %d/%d, want 1/4", taken, total)
	}
	if held, booked := s.Tally(); held != 0 || booked != 1 {
		t.Errorf("tally = %d held %d booked", held, booked)
	}
}

// TestCursorSelects: the first move only shows the cursor, moves stay
// inside the grid, and the selection describes the cell.
func TestCursorSelects(t *testing.T) {
	s := run(t, []step{{0, room2, snap(2, 5, free, held, free, free)}})
	if _, ok := s.Selected(); ok {
		t.Fatal("a selection before the cursor was shown")
	}
	s.MoveCursor(1, 1) // shows it at 0,0
	if !s.CursorAt(0, 0) {
		t.Fatal("the first move moved the cursor")
	}
	s.MoveCursor(5, 1) // clamped to the last row
	sel, ok := s.Selected()
	want := Selection{Space: spaces()[1], Date: day, Orario: "11:00", Slot: 2, Status: held, Stored: held,
		Expires: t0.Add(15 * time.Minute), Left: 15 * time.Minute, Loaded: true}
	if !ok || sel != want {
		t.Errorf("Selected = %+v, %v\nwant %+v", sel, ok, want)
	}
	if !sel.Taken() || sel.Key() != room2+"/"+day+"/11:00" {
		t.Errorf("Taken %v, Key %q", sel.Taken(), sel.Key())
	}
	s.MoveCursor(-9, -9)
	s.HideCursor()
	if _, ok := s.Selected(); ok || s.CursorAt(0, 0) {
		t.Error("a hidden cursor still selects")
	}
	s.ShowCursor()
	if sel, _ := s.Selected(); sel.Space.Room() != room1 || sel.Orario != "10:00" || sel.Loaded || sel.Slot != 0 {
		t.Errorf("top left of a row without snapshot = %+v", sel)
	}
}
