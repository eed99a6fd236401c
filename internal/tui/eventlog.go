package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// maxLogEntries bounds the log's memory.
const maxLogEntries = 1000

// LogEntry is one line of the event log.
type LogEntry struct {
	At      time.Time
	Name    string
	Room    string
	Summary string
	// State marks connection-state lines.
	State bool
	// Date is the day the event concerns (YYYY-MM-DD); "" when none.
	// A day other than the grid's is put first, where a narrow pane
	// cannot cut it off.
	Date string
}

func (e LogEntry) matches(filter string) bool {
	if filter == "" {
		return true
	}
	f := strings.ToLower(filter)
	return strings.Contains(strings.ToLower(e.Name), f) || strings.Contains(strings.ToLower(e.Room), f) ||
		strings.Contains(shortRoom(e.Room), f) || strings.Contains(strings.ToLower(e.Summary), f)
}

// EventLog is the scrolling log of events: `/` filters, space pauses.
type EventLog struct {
	st      *Styles
	keys    KeyMap
	width   int
	height  int
	entries []LogEntry
	pending []LogEntry // arrived while paused
	paused  bool
	filter  string
	input   lineInput
	vp      viewport.Model
	follow  bool
	loc     *time.Location
	// date is the grid's day ("" unknown).
	date string
}

// NewEventLog returns an empty log; times are shown in loc (nil: Local).
func NewEventLog(st *Styles, keys KeyMap, loc *time.Location) EventLog {
	if loc == nil {
		loc = time.Local
	}
	in := lineInput{prompt: "/", placeholder: "filter: name, room or text (enter keeps, esc clears)", limit: 64}
	vp := viewport.New(0, 0)
	// Keys are routed by EventLog itself (space pauses here, it does not
	// page as in the viewport's defaults).
	vp.KeyMap = viewport.KeyMap{}
	return EventLog{st: st, keys: keys, input: in, vp: vp, follow: true, loc: loc}
}

// SetSize sets the inside of the log panel.
func (l *EventLog) SetSize(w, h int) {
	l.width, l.height = w, h
	l.vp.Width = w
	l.vp.Height = max(h-1, 1) // one status line
	l.refresh()
}

// Filtering reports whether the filter input has the keyboard.
func (l EventLog) Filtering() bool { return l.input.Focused() }

// Paused reports whether the log is paused.
func (l EventLog) Paused() bool { return l.paused }

// Filter returns the active filter.
func (l EventLog) Filter() string { return l.filter }

// Entries returns the visible entries (filter applied, pending excluded).
func (l EventLog) Entries() []LogEntry {
	var out []LogEntry
	for _, e := range l.entries {
		if e.matches(l.filter) {
			out = append(out, e)
		}
	}
	return out
}

// Pending counts entries held back by pause.
func (l EventLog) Pending() int { return len(l.pending) }

// Update handles events and keys. It returns no command today; the
// signature matches the other components.
func (l *EventLog) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case TypedEvent:
		l.add(EntryOf(m, l.loc))
	case LogEntry:
		l.add(m)
	case tea.KeyMsg:
		return l.key(m)
	}
	return nil
}

func (l *EventLog) key(m tea.KeyMsg) tea.Cmd {
	if l.input.Focused() {
		switch m.Type {
		case tea.KeyEnter:
			l.input.Blur()
		case tea.KeyEsc:
			l.input.Blur()
			l.input.SetValue("")
		default:
			l.input.Update(m)
		}
		l.filter = strings.TrimSpace(l.input.Value())
		l.refresh()
		return nil
	}
	switch {
	case key.Matches(m, l.keys.Filter):
		l.input.Focus()
		return nil
	case key.Matches(m, l.keys.ClearFilter):
		l.input.SetValue("")
		l.filter = ""
	case key.Matches(m, l.keys.Pause):
		l.paused = !l.paused
		if !l.paused {
			for _, e := range l.pending {
				l.append(e)
			}
			l.pending = nil
		}
	case key.Matches(m, l.keys.Clear):
		l.entries, l.pending = nil, nil
	case key.Matches(m, l.keys.Up):
		l.vp.ScrollUp(1)
	case key.Matches(m, l.keys.Down):
		l.vp.ScrollDown(1)
	case key.Matches(m, l.keys.PageUp):
		l.vp.PageUp()
	case key.Matches(m, l.keys.PageDown):
		l.vp.PageDown()
	case key.Matches(m, l.keys.Top):
		l.vp.GotoTop()
	case key.Matches(m, l.keys.Bottom):
		l.vp.GotoBottom()
	default:
		return nil
	}
	l.follow = l.vp.AtBottom()
	l.refresh()
	return nil
}

func (l *EventLog) add(e LogEntry) {
	if l.paused {
		l.pending = append(l.pending, e)
		if len(l.pending) > maxLogEntries {
			l.pending = l.pending[len(l.pending)-maxLogEntries:]
		}
		return
	}
	l.append(e)
	l.refresh()
}

func (l *EventLog) append(e LogEntry) {
	l.entries = append(l.entries, e)
	if len(l.entries) > maxLogEntries {
		l.entries = l.entries[len(l.entries)-maxLogEntries:]
	}
}

func (l *EventLog) refresh() {
	if l.width <= 0 {
		return
	}
	var b strings.Builder
	for i, e := range l.Entries() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.render(e))
	}
	l.vp.SetContent(b.String())
	if l.follow {
		l.vp.GotoBottom()
	}
}

// selfDescribing are the events whose summary names what happened; a
// narrow log leaves their names out so that the summary fits.
var selfDescribing = map[string]bool{
	protocol.EventSlotUpdate: true, protocol.EventSlotsStatusUpdate: true, protocol.EventJoinedSpace: true,
	protocol.EventSlotsFreed: true, protocol.EventHoldExpired: true, protocol.EventSessionExpired: true,
}

func (l EventLog) render(e LogEntry) string {
	name := e.Name
	if e.State {
		name = "·" + name
	}
	room := shortRoom(e.Room)
	var line string
	if l.width < 60 {
		line = l.st.LogTime.Render(e.At.In(l.loc).Format("15:04:05")) + " "
		if !selfDescribing[e.Name] || e.Summary == "" {
			line += l.st.LogName.Render(name) + " "
		}
		if room != "" {
			line += l.st.LogRoom.Render(room) + " "
		}
	} else {
		line = l.st.LogTime.Render(e.At.In(l.loc).Format("15:04:05")) + " " + l.st.LogName.Render(pad(name, 20)) + " " +
			l.st.LogRoom.Render(pad(room, 5)) + " "
	}
	if e.Date != "" && l.date != "" && e.Date != l.date {
		if d, err := time.Parse(protocol.DateLayout, e.Date); err == nil {
			line += l.st.Warn.Render(d.Format("Mon 2 Jan")) + " "
		}
	}
	return fit(line+ellipsize(e.Summary, l.width-lipgloss.Width(line)), l.width)
}

// SetDate is the grid's day: events of other days show theirs first.
func (l *EventLog) SetDate(date string) {
	if date != l.date {
		l.date = date
		l.refresh()
	}
}

// ellipsize cuts plain text to w cells at a word boundary, marking the
// cut with "…", so that a summary never ends in half a time or word.
func ellipsize(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	if w <= 1 {
		return truncate("…", w)
	}
	cut := truncate(s, w-1)
	if next := s[len(cut):]; !strings.HasPrefix(next, " ") {
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// View renders the log and its status line (filter, pause, position).
func (l EventLog) View() string {
	if l.width <= 0 || l.height <= 0 {
		return ""
	}
	var status string
	switch {
	case l.input.Focused():
		status = l.input.View()
	default:
		var parts []string
		if l.paused {
			parts = append(parts, l.st.Paused.Render(fmt.Sprintf(" PAUSED +%d ", len(l.pending))))
		}
		if l.filter != "" {
			parts = append(parts, l.st.Bold.Render("filter /"+l.filter))
		}
		shown := len(l.Entries())
		// Paused says itself; "following" would contradict it.
		pos := " · following"
		switch {
		case l.paused:
			pos = ""
		case !l.follow:
			pos = fmt.Sprintf(" · scrolled %d%%", int(l.vp.ScrollPercent()*100))
		}
		parts = append(parts, l.st.Dim.Render(fmt.Sprintf("%d/%d events%s", shown, len(l.entries), pos)))
		status = strings.Join(parts, " ")
	}
	body := l.vp.View()
	lines := strings.Split(body, "\n")
	for len(lines) < l.height-1 {
		lines = append(lines, "")
	}
	lines = lines[:max(l.height-1, 0)]
	for i := range lines {
		lines[i] = fit(lines[i], l.width)
	}
	if l.height == 1 {
		return fit(status, l.width)
	}
	return strings.Join(append(lines, fit(status, l.width)), "\n")
}

// EntryOf summarises an event in one line; times in it are shown in loc.
func EntryOf(ev TypedEvent, loc *time.Location) LogEntry {
	if loc == nil {
		loc = time.Local
	}
	e := LogEntry{At: ev.At, Name: ev.Name, Room: ev.Room}
	if ev.DecodeErr != nil {
		e.Summary = "undecodable: " + ev.DecodeErr.Error()
		return e
	}
	switch p := ev.Payload.(type) {
	case *client.ConnState:
		e.State, e.Name, e.Summary = true, string(p.State), stateSummary(p)
	case *protocol.ConnectionConfirmed:
		e.Summary = fmt.Sprintf("user %d", p.UserID)
		if p.Role != "" {
			e.Summary += " (" + p.Role + ")"
		}
		if p.Recovered {
			e.Summary += ", session recovered"
		}
	case *protocol.JoinedSpace:
		e.Summary = "joined"
		if e.Room == "" {
			e.Summary += " " + p.Room
		}
		if p.Date != "" {
			e.Summary += " for " + p.Date
		}
		e.Date = p.Date
	case *protocol.SlotsStatusUpdate:
		counts := map[string]int{}
		for _, s := range p.SlotsStatus {
			counts[s.Status]++
		}
		e.Summary = fmt.Sprintf("snapshot: %d slots, %d held, %d booked (%s)", len(p.SlotsStatus), counts[protocol.StatusOccupied], counts[protocol.StatusBooked], p.Date)
		e.Date = p.Date
	case *protocol.SlotUpdate:
		e.Summary = fmt.Sprintf("slot %d %s → %s", p.SlotID, p.Data.Orario, p.Status)
		if p.Status == protocol.StatusOccupied && p.Data.ExpiresAt != nil {
			if exp, err := protocol.ParseTimestamp(*p.Data.ExpiresAt); err == nil && !exp.IsZero() {
				e.Summary += " until " + exp.In(loc).Format("15:04:05")
			}
		}
		e.Date = p.Data.Date
	case *protocol.SlotsFreed:
		e.Summary = freedSummary(p)
	case *protocol.HoldExpired:
		e.Summary = fmt.Sprintf("your hold on slot %d %s expired", p.SlotID, p.Data.Orario)
	case *protocol.SpaceError:
		e.Summary = p.Code + ": " + p.Message
	case *protocol.SessionExpired:
		e.Summary = "the token expired: the server closes this session (" + p.Code + ")"
	case json.RawMessage:
		e.Summary = oneLine(string(p), 200)
	}
	return e
}

// freedSummary names the freed slots, a few of them.
func freedSummary(p *protocol.SlotsFreed) string {
	s := fmt.Sprintf("%d holds expired and freed", p.Count)
	if p.Count == 1 {
		s = "1 hold expired and freed"
	}
	var names []string
	for i, f := range p.Slots {
		if i == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, fmt.Sprintf("%d@%d #%d", f.IDSpazio, f.IDSede, f.IDSlot))
	}
	if len(names) > 0 {
		s += ": " + strings.Join(names, ", ")
	}
	return s
}

func stateSummary(cs *client.ConnState) string {
	switch cs.State {
	case client.StateConnecting:
		return fmt.Sprintf("attempt %d over %s", cs.Attempt, cs.Transport)
	case client.StateConnected:
		s := "via " + cs.Transport
		if cs.Recovered {
			s += ", session recovered"
		}
		return s
	case client.StateUpgraded:
		return "now via " + cs.Transport
	case client.StateConnectError:
		if cs.Code != "" {
			return cs.Message + " (" + cs.Code + ")"
		}
		return cs.Message
	case client.StateDisconnected:
		return cs.Reason
	case client.StateReconnecting:
		return fmt.Sprintf("attempt %d in %s", cs.Attempt, shortDur(cs.Delay))
	case client.StateFallback:
		return cs.Message + "; trying " + cs.Transport
	case client.StateRejoined:
		s := fmt.Sprintf("%d rooms joined again, grid resynced", cs.Rooms)
		if cs.Message != "" {
			s += "; " + cs.Message
		}
		return s
	case client.StateRenewed:
		s := "fresh token, new session via " + cs.Transport
		if cs.Rooms > 0 {
			s += fmt.Sprintf(", %d rooms kept", cs.Rooms)
		}
		if cs.Message != "" {
			s += "; " + cs.Message
		}
		return s
	case client.StateRenewFailed:
		s := "could not renew the session: " + cs.Message
		if cs.Code != "" {
			s += " (" + cs.Code + ")"
		}
		return s + "; the current one carries on"
	case client.StateOffline:
		return cs.Reason
	}
	return ""
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// shortRoom shows a space room as SPAZIO@SEDE, the form --space takes.
func shortRoom(room string) string {
	if sp, se, ok := protocol.ParseSpaceRoom(room); ok {
		return fmt.Sprintf("%d@%d", sp, se)
	}
	return room
}
