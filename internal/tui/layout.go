package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// plain is used only for width-aware truncation; it adds no colour.
var plain = lipgloss.NewStyle()

// truncate cuts s (which may hold escape sequences) to w cells.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) <= w {
		return s
	}
	return plain.MaxWidth(w).Render(s)
}

// pad right-pads s with spaces to w cells.
func pad(s string, w int) string {
	if n := w - lipgloss.Width(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// fit makes one line exactly w cells wide.
func fit(s string, w int) string { return pad(truncate(s, w), w) }

// center centres s in w cells.
func center(s string, w int) string {
	n := w - lipgloss.Width(s)
	if n <= 0 {
		return truncate(s, w)
	}
	left := n / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", n-left)
}

// box draws a rounded border of exactly w×h around content, with title in
// the top edge; content lines are fitted to the inside.
func box(st *Styles, title, content string, w, h int) string {
	if w < 4 || h < 2 {
		return ""
	}
	inner := w - 2
	top := "─ " + title + " "
	if lipgloss.Width(top) > inner {
		top = truncate(top, inner)
	}
	top = st.Border.Render("╭") + st.BoxTitle.Render(top) + st.Border.Render(strings.Repeat("─", inner-lipgloss.Width(top))+"╮")
	var b strings.Builder
	b.WriteString(top)
	lines := strings.Split(content, "\n")
	side := st.Border.Render("│")
	for i := 0; i < h-2; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString("\n" + side + fit(l, inner) + side)
	}
	b.WriteString("\n" + st.Border.Render("╰"+strings.Repeat("─", inner)+"╯"))
	return b.String()
}

// sideBySide joins two blocks of equal height horizontally.
func sideBySide(a, b string) string { return lipgloss.JoinHorizontal(lipgloss.Top, a, b) }
