package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

var (
	keyLeft  = tea.KeyMsg{Type: tea.KeyLeft}
	keyRight = tea.KeyMsg{Type: tea.KeyRight}
	keyUp    = tea.KeyMsg{Type: tea.KeyUp}
	keyDown  = tea.KeyMsg{Type: tea.KeyDown}
)

// demoCursor: the cursor on Open space 1's 10:00 hold.
func demoCursor(w, h int) Model {
	return step(demo(w, h, nil), keyRight, keyRight)
}

// history1 is the 10:00 slot's history as the server would send it.
var history1 = []protocol.AuditEntry{
	{At: "2026-11-26T09:59:57.000Z", Action: protocol.AuditHold, SlotID: 2, From: "available", To: "occupied", PrenotazioneID: 77, HolderID: 42, UserID: 42, Role: "cliente", Version: 5},
	{At: "2026-11-26T09:40:00.000Z", Action: protocol.AuditCancel, SlotID: 2, From: "booked", To: "available", PrenotazioneID: 70, HolderID: 7, UserID: 1, Role: "admin", Reason: "Doppia prenotazione", Version: 4},
	{At: "2026-11-26T09:12:00.000Z", Action: protocol.AuditBook, SlotID: 2, From: "occupied", To: "booked", PrenotazioneID: 70, HolderID: 7, UserID: 7, Role: "cliente", Version: 3},
}

// demoDetail: the detail pane of that hold, with its history.
func demoDetail(w, h int) Model {
	f := &fakeCancel{}
	m := step(demo(w, h, func(c *Config) { c.Cancel = f.cancel }), keyRight, keyRight, press("enter"))
	sel, _ := m.Grid().Selected()
	return step(m, HistoryMsg{Key: sel.Key(), Entries: history1})
}

// demoSedi is the catalog of the overview: the demo sede and another.
var demoSedi = []Sede{
	{ID: 1, Name: "Milano Centro", Spaces: demoSpaces},
	{ID: 2, Name: "Roma Termini", Spaces: []Space{
		{SpazioID: 5, SedeID: 2, Name: "Open space Roma", Sede: "Roma Termini", Open: "09:00", Close: "18:00", Location: time.UTC},
		{SpazioID: 6, SedeID: 2, Name: "Sala Colosseo", Sede: "Roma Termini", Open: "09:00", Close: "18:00", Location: time.UTC},
		{SpazioID: 7, SedeID: 2, Name: "Phone booth R1", Sede: "Roma Termini", Open: "09:00", Close: "18:00", Location: time.UTC},
	}},
}

func demoOverview(w, h int) Model {
	m := step(demo(w, h, func(c *Config) { c.Sedi = demoSedi }), press("o"))
	return step(m, OverviewMsg{Date: tomorrow, Rooms: map[string]Occupancy{
		"spazio_5_sede_2": {Known: true, Total: 9, Taken: 6, Held: 2, Booked: 4},
		"spazio_6_sede_2": {Known: true, Total: 9, Taken: 9, Booked: 9},
		"spazio_7_sede_2": {Known: true, Total: 9},
	}})
}

func TestCursorMovement(t *testing.T) {
	m := demo(100, 30, nil)
	if _, ok := m.Grid().Selected(); ok || strings.Contains(m.View(), "[") && strings.Contains(m.Grid().View(), "[") {
		t.Fatal("a cursor is shown before any cursor key")
	}
	tests := []struct {
		keys   []tea.Msg
		room   string
		orario string
	}{
		{[]tea.Msg{keyDown}, room1, "09:00"}, // the first key only shows it
		{[]tea.Msg{keyDown, keyDown}, room2, "09:00"},
		{[]tea.Msg{keyRight, keyRight, keyDown, keyDown, keyDown}, "spazio_4_sede_1", "10:00"},
		{[]tea.Msg{keyLeft, keyLeft, keyUp}, room1, "09:00"}, // clamped
		{[]tea.Msg{press("l"), press("l"), press("l"), press("j")}, room2, "11:00"},
		{[]tea.Msg{keyDown, press("llllllllllllll"), keyDown, keyDown, keyDown, keyDown, keyDown}, "spazio_4_sede_1", "17:00"},
	}
	for _, tt := range tests {
		got := step(m, tt.keys...)
		sel, ok := got.Grid().Selected()
		if !ok || sel.Space.Room() != tt.room || sel.Orario != tt.orario {
			t.Errorf("after %v: selected %s %s (%v), want %s %s", tt.keys, sel.Space.Room(), sel.Orario, ok, tt.room, tt.orario)
		}
	}
	// The day keys still work with the cursor shown, and esc hides it.
	m = step(m, keyRight, press("]"))
	if m.Grid().Date() != "2026-11-28" {
		t.Errorf("] with the cursor shown: date %s", m.Grid().Date())
	}
	m = step(m, press("esc"))
	if m.Grid().CursorShown() {
		t.Error("esc did not hide the cursor")
	}
	v := demoCursor(80, 24).View()
	if !strings.Contains(v, "[14m54]") {
		t.Errorf("the selected cell is not bracketed:\n%s", v)
	}
}

func TestDetailPaneContent(t *testing.T) {
	var asked []string
	hist := func(_ context.Context, sp int64, date string, slot int) ([]protocol.AuditEntry, error) {
		asked = append(asked, strings.Join([]string{date, string(rune('0' + sp)), string(rune('0' + slot))}, " "))
		return history1, nil
	}
	m := demo(120, 36, func(c *Config) { c.History = hist })
	m = step(m, keyRight, keyRight)
	m, cmd := stepCmd(m, press("enter"))
	if cmd == nil {
		t.Fatal("opening the detail pane asked for no history")
	}
	msg := cmd()
	if len(asked) != 1 || asked[0] != tomorrow+" 1 2" {
		t.Fatalf("history asked for %v, want spazio 1 slot 2 of %s", asked, tomorrow)
	}
	v := m.View()
	for _, want := range []string{"Slot 2 · 10:00", "Open space 1 · Milano Centro", "expires 10:14:57 (14m54 left)", "#77", "user 42", "History · loading…"} {
		if !strings.Contains(v, want) {
			t.Errorf("detail pane lacks %q:\n%s", want, v)
		}
	}
	m = step(m, msg)
	v = m.View()
	for _, want := range []string{"09:59:57 hold    free→held u42", "09:40:00 cancel  booked→free u1 admin", "         “Doppia prenotazione”"} {
		if !strings.Contains(v, want) {
			t.Errorf("history lacks %q:\n%s", want, v)
		}
	}
	// An answer for a cell the cursor left is dropped.
	m = step(m, keyRight, HistoryMsg{Key: "spazio_1_sede_1/" + tomorrow + "/10:00", Entries: nil})
	if len(m.detail.History()) != 0 {
		t.Error("the history of the old cell is shown for the new one")
	}
	// A slot_update of the shown slot asks for its history again.
	m = step(m, keyLeft, HistoryMsg{Key: "spazio_1_sede_1/" + tomorrow + "/10:00", Entries: history1})
	m, cmd = stepCmd(m, slotUpdate(1, 2, protocol.StatusBooked, "", tomorrow, at(4*time.Second)))
	if cmd == nil || m.Grid().SlotStatus(room1, 2) != protocol.StatusBooked {
		t.Error("a change of the shown slot did not refresh its history")
	}

	// Not staff: no holder, no history.
	m = step(demo(120, 36, func(c *Config) { c.History = hist }),
		ev(protocol.EventConnectionConfirmed, at(4*time.Second), map[string]any{"message": protocol.MsgConnected, "userId": 9, "ruolo": "cliente"}),
		keyRight, keyRight)
	m, cmd = stepCmd(m, press("enter"))
	if cmd != nil {
		t.Error("a non-staff dashboard asked for history")
	}
	v = m.View()
	if !strings.Contains(v, "shown to staff only") || !strings.Contains(v, "History · needs a staff token") || strings.Contains(v, "user 42") {
		t.Errorf("non-staff detail:\n%s", v)
	}
}

// fakeCancel records cancels and answers with err or success.
type fakeCancel struct {
	slot int
	req  protocol.SlotCancelRequest
	err  error
}

func (f *fakeCancel) cancel(_ context.Context, slot int, req protocol.SlotCancelRequest) (*protocol.SlotCancelResponse, error) {
	f.slot, f.req = slot, req
	if f.err != nil {
		return nil, f.err
	}
	return &protocol.SlotCancelResponse{Success: true, Message: "Prenotazione annullata",
		Data: protocol.SlotCancelData{SlotID: slot, PrenotazioneID: 77, Status: "available", PreviousStatus: "occupied", IDUtente: 42, Reason: req.Reason, Version: 6}}, nil
}

func TestCancelFlow(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    string
		reloads bool
	}{
		{"ok", nil, "Prenotazione annullata · slot 2 10:00, prenotazione 77 of user 42, was held", false},
		{"nothing", &client.APIError{Status: 404, Message: protocol.MsgNothingToCancel, Code: protocol.CodeNothingToCancel},
			protocol.MsgNothingToCancel + " · slot 2 10:00 not cancelled (NOTHING_TO_CANCEL)", true},
		{"changed", &client.APIError{Status: 409, Message: protocol.MsgSlotChanged, Code: protocol.CodeSlotChanged},
			protocol.MsgSlotChanged + " · slot 2 10:00 not cancelled (SLOT_CHANGED)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCancel{err: tt.err}
			conn := &fakeConn{}
			m := demo(120, 36, func(c *Config) { c.Cancel = f.cancel; c.Conn = conn })
			m = step(m, JoinedMsg{Reload: true, Rooms: 1}) // the demo's slots_freed reload is done
			m = step(m, keyRight, keyRight, press("c"))
			if !m.detail.Prompting() || !m.detailOpen {
				t.Fatal("c on a held cell did not open the prompt")
			}
			// Typed in bursts: the q and the space are part of the reason.
			m = step(m, press("Sala chiusa q"), tea.KeyMsg{Type: tea.KeyBackspace}, tea.KeyMsg{Type: tea.KeyBackspace})
			if m.Quitting() {
				t.Fatal("a q typed in the reason quit")
			}
			m, cmd := stepCmd(m, press("enter"))
			if cmd == nil || m.detail.Prompting() {
				t.Fatal("enter sent no cancel")
			}
			msg := cmd()
			if f.slot != 2 || f.req.Reason != "Sala chiusa" || f.req.IDSpazio != int64(1) || f.req.SedeID != int64(1) ||
				f.req.Date != tomorrow || f.req.PrenotazioneID != int64(77) {
				t.Fatalf("cancel sent slot %d %+v", f.slot, f.req)
			}
			m, cmd = stepCmd(m, msg)
			if got := lastEntry(m); got.Name != "cancel" || got.Summary != tt.want {
				t.Errorf("log says %q %q, want %q", got.Name, got.Summary, tt.want)
			}
			if tt.reloads {
				if cmd == nil {
					t.Fatal("a refused cancel did not reload the row")
				}
				runAll(cmd)
				if len(conn.joins) != 1 || conn.joins[0] != "1@1 "+tomorrow {
					t.Errorf("reload joins %v", conn.joins)
				}
			}
		})
	}
}

func TestCancelRefusedOrDropped(t *testing.T) {
	f := &fakeCancel{}
	// Not staff: c explains.
	m := step(demo(120, 36, func(c *Config) { c.Cancel = f.cancel }),
		ev(protocol.EventConnectionConfirmed, at(4*time.Second), map[string]any{"message": protocol.MsgConnected, "userId": 9, "ruolo": "cliente"}),
		keyRight, keyRight, press("c"))
	if m.detail.Prompting() || !strings.Contains(lastEntry(m).Summary, "cancel needs a staff token") {
		t.Errorf("non-staff c: prompting %v, log %q", m.detail.Prompting(), lastEntry(m).Summary)
	}
	// A free cell has nothing to cancel.
	m = step(demo(120, 36, func(c *Config) { c.Cancel = f.cancel }), keyRight, press("c"))
	if m.detail.Prompting() || !strings.Contains(lastEntry(m).Summary, "is free: nothing to cancel") {
		t.Errorf("c on a free cell: %q", lastEntry(m).Summary)
	}
	// … said where the user looks, not only in the log.
	if last := lastLine(m.View()); !strings.Contains(last, "is free: nothing to cancel") {
		t.Errorf("c on a free cell: the hint bar says %q", last)
	}
	// esc drops the prompt; enter without a reason sends nothing.
	m = step(demo(120, 36, func(c *Config) { c.Cancel = f.cancel }), keyRight, keyRight, press("c"), press("x"), press("esc"))
	if m.detail.Prompting() || f.slot != 0 {
		t.Error("esc did not drop the cancel")
	}
	// Enter without a reason sends nothing and keeps the prompt open,
	// saying why there.
	m, cmd := stepCmd(step(m, press("c"), press("  ")), press("enter"))
	if cmd != nil || !m.detail.Prompting() || !strings.Contains(lastLine(m.View()), "type a reason first") {
		t.Errorf("an empty reason: cmd %v, prompting %v, hint bar %q", cmd != nil, m.detail.Prompting(), lastLine(m.View()))
	}
	m, cmd = stepCmd(step(m, press("Sala chiusa")), press("enter"))
	if cmd == nil {
		t.Error("a reason typed after the refusal sent nothing")
	}
}

func lastLine(v string) string { return v[strings.LastIndex(v, "\n")+1:] }

func TestOverviewContent(t *testing.T) {
	m := demoOverview(120, 36)
	v := m.View()
	for _, want := range []string{"All sedi " + tomorrow, "Milano Centro", "Roma Termini", "Sala Colosseo",
		"9/9   100%", "  6/9    66%", "total 18/63 taken (28%) · 4 held · 14 booked · 2 sedi"} {
		if !strings.Contains(v, want) {
			t.Errorf("overview lacks %q:\n%s", want, v)
		}
	}
	// The watched sede is live: a hold shows at once.
	m = step(m, slotUpdate(2, 3, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z", tomorrow, at(4*time.Second)))
	if !strings.Contains(m.View(), "total 19/63") {
		t.Errorf("a live hold did not reach the overview:\n%s", m.View())
	}
	// The overview fetches the spaces it does not watch.
	var fetched []int64
	slots := func(_ context.Context, sp int64, date string) (protocol.SlotsList, error) {
		fetched = append(fetched, sp)
		return protocol.SlotsList{Slots: []protocol.Slot{{Status: protocol.StatusBooked}, {Status: protocol.StatusAvailable}}}, nil
	}
	m = demo(120, 36, func(c *Config) { c.Sedi = demoSedi; c.Slots = slots })
	m, cmd := stepCmd(m, press("o"))
	msg := cmd().(OverviewMsg)
	if len(fetched) != 3 || fetched[0] != 5 || msg.Rooms["spazio_5_sede_2"].Booked != 1 {
		t.Errorf("fetched %v, msg %+v", fetched, msg)
	}
	m = step(m, press("esc"))
	if m.showOverview {
		t.Error("esc did not close the overview")
	}
}

func TestNextSede(t *testing.T) {
	conn := &fakeConn{}
	m := demo(120, 36, func(c *Config) { c.Sedi = demoSedi; c.Conn = conn })
	m, cmd := stepCmd(m, press("s"))
	runAll(cmd)
	if got := m.Grid().Sedi(); len(got) != 1 || got[0] != "Roma Termini" {
		t.Errorf("after s the grid shows %v", got)
	}
	if len(conn.joins) != 3 || conn.joins[0] != "5@2 "+tomorrow {
		t.Errorf("joins %v", conn.joins)
	}
	if !strings.Contains(m.View(), "coworkctl watch Roma Termini") {
		t.Errorf("header does not name the sede:\n%s", m.View())
	}
}

// TestVersionsInGrid: slot_updates apply per slot only if newer than the
// snapshot and than the slot's last; one that overtook its snapshot is
// replayed; a gap left for a second reloads the room.
func TestVersionsInGrid(t *testing.T) {
	conn := &fakeConn{}
	m := newTestModel(conn)
	vsnap := func(v int64, slots ...map[string]any) TypedEvent {
		e := snapshot(1, day, at(0), slots...)
		e.Payload.(*protocol.SlotsStatusUpdate).Version = v
		return e
	}
	vupd := func(n int, status string, v int64) TypedEvent {
		e := slotUpdate(1, n, status, "", day, at(time.Second))
		e.Payload.(*protocol.SlotUpdate).Version = v
		return e
	}
	// v11 overtook the snapshot at v10: replayed on it.
	m = step(m, vupd(5, protocol.StatusBooked, 11), vsnap(10, fullDay(nil)...))
	if got := m.Grid().SlotStatus(room1, 5); got != protocol.StatusBooked {
		t.Errorf("update that overtook the snapshot: slot 5 = %q", got)
	}
	// At or below the snapshot, or older than the slot's last: ignored.
	m = step(m, vupd(6, protocol.StatusBooked, 9), vupd(5, protocol.StatusAvailable, 11))
	if m.Grid().SlotStatus(room1, 6) != protocol.StatusAvailable || m.Grid().SlotStatus(room1, 5) != protocol.StatusBooked {
		t.Errorf("old versions applied: 6=%s 5=%s", m.Grid().SlotStatus(room1, 6), m.Grid().SlotStatus(room1, 5))
	}
	// Out of order across slots is fine: v13 then v12.
	m = step(m, vupd(7, protocol.StatusBooked, 13), vupd(8, protocol.StatusBooked, 12))
	if m.Grid().SlotStatus(room1, 7) != protocol.StatusBooked || m.Grid().SlotStatus(room1, 8) != protocol.StatusBooked {
		t.Error("updates of different slots out of order were lost")
	}
	// v15 without v14: after a second the room is reloaded, once.
	m = step(m, vupd(9, protocol.StatusBooked, 15))
	m, cmd := stepCmd(m, TickMsg(at(2*time.Second)))
	runAll(cmd)
	if len(conn.joins) != 0 {
		t.Fatalf("reloaded at once on a gap: %v", conn.joins)
	}
	m, cmd = stepCmd(m, TickMsg(at(3*time.Second)))
	runAll(cmd)
	if len(conn.joins) != 1 || conn.joins[0] != "1@1 "+day || !strings.Contains(lastEntry(m).Summary, "missed an update of 1@1") {
		t.Fatalf("gap: joins %v, log %q", conn.joins, lastEntry(m).Summary)
	}
	_, cmd = stepCmd(m, TickMsg(at(4*time.Second)))
	runAll(cmd)
	if len(conn.joins) != 1 {
		t.Errorf("the gap reloaded twice: %v", conn.joins)
	}
}

func lastEntry(m Model) LogEntry {
	es := m.Log().Entries()
	if len(es) == 0 {
		return LogEntry{}
	}
	return es[len(es)-1]
}

// runAll runs cmd and the commands of any batch it returns, skipping the
// clock (tea.Tick blocks for its interval).
func runAll(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				runAll(c)
			}
		}
	case <-time.After(50 * time.Millisecond):
	}
}

// TestLogNamesOtherDates: an update for a day the grid does not show puts
// that day first in its log line, where a narrow pane keeps it.
func TestLogNamesOtherDates(t *testing.T) {
	for _, w := range []int{60, 80, 120} {
		m := step(demo(w, 20, nil),
			slotUpdate(1, 4, protocol.StatusOccupied, "2026-11-26T10:15:00.000Z", "2026-12-03", at(4*time.Second)),
			slotUpdate(1, 5, protocol.StatusBooked, "", tomorrow, at(4*time.Second)))
		v := m.View()
		var other, shown string
		for _, l := range strings.Split(v, "\n") {
			switch {
			case strings.Contains(l, "slot 4 "):
				other = l
			case strings.Contains(l, "slot 5 "):
				shown = l
			}
		}
		if !strings.Contains(other, "Thu 3 Dec slot 4 12:00") {
			t.Errorf("%d columns: the other day's update reads %q", w, other)
		}
		if shown == "" || strings.Contains(shown, "Nov") {
			t.Errorf("%d columns: the shown day's update reads %q", w, shown)
		}
	}
}
