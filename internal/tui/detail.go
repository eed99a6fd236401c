package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Detail is the pane of the selected cell: its status, expiry,
// prenotazione and (to staff) holder, the cell's recent history, and the
// prompt that asks staff for the reason of a cancel.
type Detail struct {
	st  *Styles
	loc *time.Location

	width, height int
	sel           Selection
	staff         bool

	// history is the answer for histKey (a Selection.Key); loading is set
	// while one is asked for.
	histKey  string
	history  []protocol.AuditEntry
	histErr  error
	loading  bool
	outdated bool

	// prompt asks for the reason of a cancel of target.
	prompt lineInput
	target Selection
}

// maxReason is the server's limit on a cancel's reason.
const maxReason = 200

// NewDetail returns an empty detail pane; times are shown in loc.
func NewDetail(st *Styles, loc *time.Location) Detail {
	return Detail{st: st, loc: loc,
		prompt: lineInput{prompt: "reason> ", placeholder: "why (the holder reads it)", limit: maxReason}}
}

// SetSize sets the space inside the pane's box.
func (d *Detail) SetSize(w, h int) { d.width, d.height = w, h }

// Select shows sel; a selection of another slot forgets the history.
func (d *Detail) Select(sel Selection) {
	if sel.Key() != d.sel.Key() {
		d.history, d.histErr, d.loading, d.histKey, d.outdated = nil, nil, false, "", false
	}
	d.sel = sel
}

// SetStaff says whether the token is staff's: the holder and the
// history are shown, and cancel offered, only then.
func (d *Detail) SetStaff(staff bool) { d.staff = staff }

// Loading marks the history of the selection as asked for.
func (d *Detail) Loading() {
	d.loading, d.outdated = true, false
}

// NeedsHistory reports whether the selection's history is neither
// shown nor being asked for.
func (d Detail) NeedsHistory() bool {
	return !d.loading && (d.histKey != d.sel.Key() || d.outdated)
}

// Outdated forgets that the shown history is current (the slot changed),
// so it is asked for again.
func (d *Detail) Outdated() {
	d.outdated = true
}

// History returns the shown history entries (tests).
func (d Detail) History() []protocol.AuditEntry { return d.history }

// Prompting reports whether the cancel prompt is open.
func (d Detail) Prompting() bool { return d.prompt.Focused() }

// StartCancel opens the prompt for cancelling target.
func (d *Detail) StartCancel(target Selection) {
	d.target = target
	d.prompt.SetValue("")
	d.prompt.Focus()
}

// EndCancel closes the prompt and returns what it was for and the
// reason typed.
func (d *Detail) EndCancel() (Selection, string) {
	d.prompt.Blur()
	return d.target, strings.TrimSpace(d.prompt.Value())
}

// Update takes history answers and, while the prompt is open, keys.
func (d *Detail) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case HistoryMsg:
		if m.Key != d.sel.Key() {
			return nil // the cursor moved on
		}
		d.histKey, d.loading = m.Key, false
		d.history, d.histErr = m.Entries, m.Err
	case tea.KeyMsg:
		if d.prompt.Focused() {
			d.prompt.Update(m)
		}
	}
	return nil
}

// Title is the pane's box title.
func (d Detail) Title() string {
	if d.sel.Slot == 0 && d.sel.Orario == "" {
		return "Slot"
	}
	return fmt.Sprintf("Slot %d · %s", d.sel.Slot, d.sel.Orario)
}

// View renders the pane.
func (d Detail) View() string {
	if d.width <= 0 || d.height <= 0 {
		return ""
	}
	s := d.sel
	var lines []string
	add := func(label, value string) {
		lines = append(lines, fit(d.st.Dim.Render(pad(label, 8))+value, d.width))
	}
	where := s.Space.Label()
	if s.Space.Sede != "" {
		where += " · " + s.Space.Sede
	}
	lines = append(lines, fit(d.st.Bold.Render(where), d.width))
	add("when", s.Date+" "+s.Orario+endOf(s.Orario))
	switch {
	case !s.Loaded:
		add("status", d.st.Dim.Render("waiting for the snapshot"))
	case s.Slot == 0:
		add("status", d.st.Dim.Render("no such slot in this spazio"))
	default:
		add("status", d.status())
		if !s.Expires.IsZero() {
			add("expires", fmt.Sprintf("%s (%s left)", s.Expires.In(d.loc).Format("15:04:05"), countdown(s.Expires, s.Expires.Add(-s.Left), 5)))
		}
	}
	if s.Taken() {
		add("prenot.", idOrDash(s.Prenotazione))
		switch {
		case !d.staff:
			add("holder", d.st.Dim.Render("shown to staff only"))
		case s.Holder != 0:
			add("holder", fmt.Sprintf("user %d", s.Holder))
		case d.holderFromHistory() != 0:
			add("holder", fmt.Sprintf("user %d", d.holderFromHistory()))
		default:
			add("holder", d.st.Dim.Render("unknown"))
		}
	}
	if d.prompt.Focused() {
		t := d.target
		lines = append(lines, "",
			fit(d.st.Warn.Render(fmt.Sprintf("Cancel slot %d %s (%s)?", t.Slot, t.Orario, statusWord(t.Stored))), d.width),
			fit(d.prompt.View(), d.width),
			fit(d.st.Dim.Render("enter confirm · esc back"), d.width))
		return strings.Join(lines, "\n")
	}
	lines = append(lines, "")
	lines = append(lines, d.historyLines()...)
	if len(lines) > d.height {
		lines = lines[:d.height]
	}
	return strings.Join(lines, "\n")
}

func (d Detail) status() string {
	s := d.sel
	word := statusWord(s.Status)
	switch s.Status {
	case protocol.StatusOccupied:
		return d.st.Occupied.Render(word)
	case protocol.StatusBooked:
		return d.st.Booked.Render(word)
	case protocol.StatusAvailable:
		return d.st.Available.Render(word)
	}
	return word
}

// holderFromHistory is the holder of the selection's prenotazione as the
// history tells it.
func (d Detail) holderFromHistory() int64 {
	for _, e := range d.history {
		if e.PrenotazioneID != 0 && e.PrenotazioneID == d.sel.Prenotazione {
			return e.HolderID
		}
	}
	return 0
}

func (d Detail) historyLines() []string {
	head := d.st.Bold.Render("History")
	switch {
	case !d.staff:
		return []string{fit(head+d.st.Dim.Render(" · needs a staff token"), d.width)}
	case len(d.history) > 0 && d.histKey == d.sel.Key() && d.histErr == nil:
		// shown below, while a newer one may be on its way
	case d.loading:
		return []string{fit(head+d.st.Dim.Render(" · loading…"), d.width)}
	case d.histErr != nil:
		return []string{fit(head, d.width), fit(d.st.Bad.Render(d.histErr.Error()), d.width)}
	case d.histKey != d.sel.Key():
		return []string{fit(head+d.st.Dim.Render(" · not loaded"), d.width)}
	case len(d.history) == 0:
		return []string{fit(head+d.st.Dim.Render(" · no changes yet"), d.width)}
	}
	out := []string{fit(head, d.width)}
	layout := "15:04:05"
	if d.width < 40 {
		layout = "15:04"
	}
	for _, e := range d.history {
		when := e.At
		if t, err := protocol.ParseTimestamp(e.At); err == nil {
			when = t.In(d.loc).Format(layout)
		}
		who := fmt.Sprintf("u%d", e.UserID)
		if e.Role != "" && e.Role != "user" && e.Role != "cliente" {
			who += " " + e.Role
		}
		line := fmt.Sprintf("%s %-7s %s→%s %s", when, e.Action, short(e.From), short(e.To), who)
		if e.Reason == "" {
			out = append(out, fit(line, d.width))
			continue
		}
		reason := "“" + e.Reason + "”"
		if lipgloss.Width(line)+1+lipgloss.Width(reason) <= d.width {
			out = append(out, fit(line+" "+reason, d.width))
			continue
		}
		out = append(out, fit(line, d.width), fit(strings.Repeat(" ", len(when)+1)+reason, d.width))
	}
	return out
}

// statusWord names a status as the legend does.
func statusWord(status string) string {
	switch status {
	case protocol.StatusOccupied:
		return "held"
	case protocol.StatusAvailable:
		return "free"
	case "":
		return "unknown"
	}
	return status
}

// short abbreviates a status for a history line.
func short(status string) string {
	switch status {
	case protocol.StatusOccupied:
		return "held"
	case protocol.StatusAvailable:
		return "free"
	case protocol.StatusBooked:
		return "booked"
	}
	return status
}

func idOrDash(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", id)
}

// endOf is "–HH:MM", the end of an hourly slot starting at orario.
func endOf(orario string) string {
	t, err := time.Parse("15:04", orario)
	if err != nil {
		return ""
	}
	return "–" + t.Add(time.Hour).Format("15:04")
}
