package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// HistoryFunc fetches the newest entries of one slot's history
// (GET /api/admin/slots/{idSpazio}/{date}/history?slot=N).
type HistoryFunc func(ctx context.Context, spazioID int64, date string, slot int) ([]protocol.AuditEntry, error)

// CancelFunc cancels a slot as staff (POST /api/admin/slots/{n}/cancel).
type CancelFunc func(ctx context.Context, slot int, req protocol.SlotCancelRequest) (*protocol.SlotCancelResponse, error)

// setStaff records whether the token is staff's.
func (m *Model) setStaff(staff bool) {
	m.staff = staff
	m.detail.SetStaff(staff)
}

// follow runs after every message: it points the detail pane at the
// cell under the cursor (asking for its history when the pane shows a
// cell it has none for) and feeds the overview the live rows.
func (m *Model) follow() tea.Cmd {
	if m.showOverview {
		m.overview.SetLive(m.grid.Counts())
	}
	sel, ok := m.grid.Selected()
	if !ok {
		if m.detailOpen {
			m.detailOpen = false
			m.layout()
		}
		return nil
	}
	m.detail.Select(sel)
	if !m.detailOpen || !m.staff || m.cfg.History == nil || sel.Slot == 0 || !m.detail.NeedsHistory() {
		return nil
	}
	m.detail.Loading()
	fetch, key := m.cfg.History, sel.Key()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		entries, err := fetch(ctx, sel.Space.SpazioID, sel.Date, sel.Slot)
		return HistoryMsg{Key: key, Entries: entries, Err: err}
	}
}

// back handles esc: it closes the overview, else the detail pane, else
// hides the cursor; false when there was nothing to close.
func (m *Model) back() bool {
	switch {
	case m.showOverview:
		m.showOverview = false
	case m.detailOpen:
		m.detailOpen = false
	case m.grid.CursorShown():
		m.grid.HideCursor()
	default:
		return false
	}
	m.layout()
	return true
}

// startCancel (c) opens the reason prompt for the selected cell, or says
// why it cannot.
func (m *Model) startCancel() {
	sel, ok := m.grid.Selected()
	switch {
	case !m.staff:
		m.tell("cancel", "cancel needs a staff token (gestore, responsabile, amministratore or admin)")
	case m.cfg.Cancel == nil:
		m.tell("cancel", "cancel is not available in this dashboard")
	case !ok:
		m.grid.ShowCursor()
		m.tell("cancel", "move the cursor to a held or booked cell, then press c")
	case !sel.Taken():
		m.tell("cancel", fmt.Sprintf("slot %d %s of %s is %s: nothing to cancel", sel.Slot, sel.Orario, sel.Space.Label(), statusWord(sel.Status)))
	default:
		m.detailOpen = true
		m.layout()
		m.detail.Select(sel)
		m.detail.StartCancel(sel)
	}
}

// promptKey edits the reason; enter sends the cancel, esc drops it.
func (m *Model) promptKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc:
		t, _ := m.detail.EndCancel()
		m.tell("cancel", fmt.Sprintf("cancel of slot %d %s dropped", t.Slot, t.Orario))
		return nil
	case tea.KeyEnter:
		t, reason := m.detail.EndCancel()
		if reason == "" {
			// The prompt stays open: the user is looking at it.
			m.detail.StartCancel(t)
			m.tell("cancel", "type a reason first (the holder reads it), or esc to drop the cancel")
			return nil
		}
		return m.cancelCmd(t, reason)
	}
	return m.detail.Update(k)
}

// cancelCmd asks the server to cancel target's reservation; naming the
// prenotazione makes the server refuse (409) if the slot changed since.
func (m *Model) cancelCmd(t Selection, reason string) tea.Cmd {
	m.log.Update(LogEntry{At: m.now, Name: "cancel", Room: t.Space.Room(),
		Summary: fmt.Sprintf("slot %d %s: sent, reason “%s”", t.Slot, t.Orario, reason), State: true})
	req := protocol.SlotCancelRequest{IDSpazio: t.Space.SpazioID, SedeID: t.Space.SedeID, Date: t.Date, Reason: reason}
	if t.Prenotazione != 0 {
		req.PrenotazioneID = t.Prenotazione
	}
	do := m.cfg.Cancel
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := do(ctx, t.Slot, req)
		return CancelledMsg{Target: t, Reason: reason, Res: res, Err: err}
	}
}

// cancelled logs the server's answer; when the slot was not as shown
// (404, 409) the row is reloaded so the grid shows what is really there.
func (m *Model) cancelled(msg CancelledMsg) tea.Cmd {
	t := msg.Target
	e := LogEntry{At: m.now, Name: "cancel", Room: t.Space.Room(), State: true}
	m.detail.Outdated()
	var ae *client.APIError
	switch {
	case msg.Err == nil && msg.Res != nil:
		d := msg.Res.Data
		e.Summary = fmt.Sprintf("%s · slot %d %s, prenotazione %d of user %d, was %s", msg.Res.Message,
			t.Slot, t.Orario, d.PrenotazioneID, d.IDUtente, statusWord(d.PreviousStatus))
		m.log.Update(e)
		m.status, m.statusAt = e.Summary, m.now
		return nil
	case errors.As(msg.Err, &ae):
		e.Summary = fmt.Sprintf("%s · slot %d %s not cancelled", ae.Message, t.Slot, t.Orario)
		if ae.Code != "" {
			e.Summary += " (" + ae.Code + ")"
		}
		m.log.Update(e)
		m.status, m.statusAt = e.Summary, m.now
		if ae.Status == 404 || ae.Status == 409 {
			return m.reloadRooms([]string{t.Space.Room()}, false)
		}
		return nil
	default:
		e.Summary = fmt.Sprintf("slot %d %s failed: %v", t.Slot, t.Orario, msg.Err)
		m.log.Update(e)
		m.status, m.statusAt = e.Summary, m.now
		return nil
	}
}

// shortRooms turns rooms into 1@1 form for a log line.
func shortRooms(rooms []string) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = shortRoom(r)
	}
	return out
}
