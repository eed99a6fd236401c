package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/tui/gridstate"
)

// Grid geometry: a name column, a space, then per slot a one-cell marker
// (" " or "*" for changed) and the cell, then the taken count.
const (
	occW     = 6 // " 10/15"
	minName5 = 12
	minName3 = 8
)

// layout picks the widest cells that fit, shortening long names before
// narrowing the cells.
func (g Grid) layout(ncols int) (nameW, cellW int) {
	full := 6
	for _, r := range g.Rows() {
		full = max(full, lipgloss.Width(g.rowLabel(r)))
	}
	// Long names (a sede's name before the spazio's when several sedi
	// are shown) take what the columns leave, up to 40 cells.
	full = min(full, 40)
	for _, c := range []struct{ cw, minName int }{{5, minName5}, {3, minName3}} {
		room := g.width - 1 - ncols*(c.cw+1) - occW
		if room >= min(full, c.minName) {
			return min(full, room), c.cw
		}
	}
	return max(min(full, g.width-1-ncols*2-occW), 4), 1
}

// View renders the grid in width×height (rows that do not fit are
// summarised in the last line).
func (g Grid) View() string {
	if g.width <= 0 || g.height <= 0 {
		return ""
	}
	cols := g.Columns()
	nameW, cw := g.layout(len(cols))
	var b strings.Builder
	lines := 0
	line := func(s string) {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(fit(s, g.width))
		lines++
	}

	hdr := pad("space", nameW) + " "
	for _, o := range cols {
		label := o
		switch cw {
		case 3:
			label = o[:2]
		case 1:
			label = o[1:2]
		}
		hdr += " " + center(label, cw)
	}
	line(g.st.Dim.Render(hdr + " taken"))

	// Header, total and legend take 3 lines.
	room := g.height - 3
	shownRows := g.Rows()
	hidden := 0
	if len(shownRows) > room && room >= 1 {
		hidden = len(shownRows) - (room - 1)
		shownRows = shownRows[:room-1]
	}
	for i, r := range shownRows {
		s := pad(shortLabel(g.fitLabel(r, nameW), nameW), nameW) + " "
		for j, o := range cols {
			c, ok := g.Cell(i, o)
			sep := " "
			if g.CursorAt(i, j-1) {
				sep = "]"
			}
			// A cell is plain text and one style composed of its status,
			// highlight and cursor: styles are never nested, since an
			// underline is drawn rune by rune and would split the escape
			// sequences of a styled text into visible garbage.
			var text string
			var style lipgloss.Style
			switch {
			case r.Waiting:
				text, style = center("?", cw), g.st.Unknown
			case !ok:
				text, style = center("", cw), g.st.Plain
			default:
				text, style = g.cellLook(r, c, cw)
				if c.Highlighted {
					if sep == " " {
						sep = "*"
					}
					style = style.Inherit(g.st.Changed)
				}
			}
			if g.CursorAt(i, j) {
				sep, style = "[", style.Inherit(g.st.Cursor)
			}
			s += sep + style.Render(text)
		}
		end := " "
		if g.CursorAt(i, len(cols)-1) {
			end = "]"
		}
		taken, total := g.Occupancy(r.Space.Room())
		if r.Loaded || total > 0 {
			s += end + fmt.Sprintf("%d/%d", taken, total)
		} else {
			s += end + g.st.Dim.Render("…")
		}
		line(s)
	}
	if hidden > 0 {
		line(g.st.Dim.Render(fmt.Sprintf("… %d more spaces (enlarge the terminal)", hidden)))
	}
	taken, total := g.Occupancy("")
	held, booked := g.Tally()
	pct := 0
	if total > 0 {
		pct = taken * 100 / total
	}
	line(g.st.Bold.Render(fmt.Sprintf("total %d/%d taken (%d%%)", taken, total, pct)) +
		g.st.Dim.Render(fmt.Sprintf(" · %d held · %d booked", held, booked)))
	line(g.legend(cw))
	return b.String()
}

// rowLabel is the row's name, with its sede when rows of several sedi
// are shown.
func (g Grid) rowLabel(r gridstate.Row) string {
	if g.MultiSede() && r.Space.Sede != "" {
		return r.Space.Sede + " · " + r.Space.Label()
	}
	return r.Space.Label()
}

// fitLabel is the row label for w cells: when "Sede · Spazio" does not
// fit, the spazio's name goes first, so that the cut falls on the sede.
func (g Grid) fitLabel(r gridstate.Row, w int) string {
	l := g.rowLabel(r)
	if lipgloss.Width(l) <= w || !g.MultiSede() || r.Space.Sede == "" {
		return l
	}
	return r.Space.Label() + " · " + r.Space.Sede
}

// Sedi lists the names of the shown rows' sedi, in row order.
func (g Grid) Sedi() []string {
	var out []string
	seen := map[int64]bool{}
	for _, r := range g.Rows() {
		if !seen[r.Space.SedeID] {
			seen[r.Space.SedeID] = true
			name := r.Space.Sede
			if name == "" {
				name = fmt.Sprintf("sede %d", r.Space.SedeID)
			}
			out = append(out, name)
		}
	}
	return out
}

// shortLabel fits a space's name in w cells, keeping a short last word
// (the number that tells "Sala riunioni 2" from "Sala riunioni 3").
func shortLabel(name string, w int) string {
	if lipgloss.Width(name) <= w {
		return name
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		last := name[i+1:]
		if n := lipgloss.Width(last); n <= 3 && w-n-2 >= 3 {
			return truncate(name[:i], w-n-2) + "… " + last
		}
	}
	return truncate(name, w-1) + "…"
}

// Title is the grid box's title: the date and, while stale, since when,
// in as many words as fit in w cells.
func (g Grid) Title(w int) string {
	t := "Slots " + g.Date()
	since := g.StaleSince()
	if since.IsZero() {
		return t
	}
	stale := t + " · STALE since " + since.In(g.loc).Format("15:04:05")
	if long := stale + ", countdowns stopped"; lipgloss.Width(long)+3 <= w-2 {
		return long
	}
	return stale
}

// legend explains the symbols as drawn at cell width cw.
func (g Grid) legend(cw int) string {
	held := g.st.Occupied.Render("14m59") + " held, time left"
	switch cw {
	case 3:
		held = g.st.Occupied.Render("14m") + " held, min left"
	case 1:
		held = g.st.Occupied.Render("o") + " held"
	}
	return g.st.Available.Render("·") + " free  " + held + "  " +
		g.st.Booked.Render("■") + " booked  " +
		g.st.Past.Render("-") + " past  " +
		"* changed"
}

// cellLook is a cell's text (cw cells wide) and the style of its status.
func (g Grid) cellLook(r gridstate.Row, c gridstate.Cell, cw int) (string, lipgloss.Style) {
	switch c.Shown {
	case protocol.StatusAvailable:
		return center("·", cw), g.st.Available
	case protocol.StatusOccupied:
		text := center(countdown(c.Expires, c.Clock, cw), cw)
		if r.Stale {
			return text, g.st.Stale
		}
		return text, g.st.Occupied
	case protocol.StatusBooked:
		return center("■", cw), g.st.Booked
	case protocol.StatusPast:
		return center("-", cw), g.st.Past
	default:
		return center("?", cw), g.st.Unknown
	}
}

// countdown formats the time left of a hold for a cell of width cw, in
// one format that never reads as the time of day of the column above it
// and never rounds up (a hold shows 14m11 until 14m11 are left, then
// 14m10): minutes and seconds "14m11" (cw 5), whole minutes "14m" (cw 3,
// seconds "42s" in the last minute), hours "1h40" past 99 minutes.
func countdown(expires, now time.Time, cw int) string {
	if expires.IsZero() {
		return "held"[:min(4, cw)]
	}
	secs := int(max(expires.Sub(now), 0) / time.Second)
	switch {
	case cw >= 5:
		switch {
		case secs < 100*60:
			return fmt.Sprintf("%dm%02d", secs/60, secs%60)
		case secs < 100*3600:
			return fmt.Sprintf("%dh%02d", secs/3600, secs%3600/60)
		default:
			return fmt.Sprintf("%dh", secs/3600)
		}
	case cw >= 3:
		switch {
		case secs < 60:
			return fmt.Sprintf("%ds", secs)
		case secs < 100*60:
			return fmt.Sprintf("%dm", secs/60)
		default:
			return fmt.Sprintf("%dh", secs/3600)
		}
	default:
		return "o"
	}
}
