package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// The root model's layout and view: how the screen is divided between
// the components, and the header.

// Sizes of the fixed parts of the layout.
const (
	statsWidth = 32
	minWidth   = 40
	minHeight  = 12
)

// layout gives each component its share of the screen.
func (m *Model) layout() {
	if m.width < minWidth || m.height < minHeight {
		return
	}
	gridH := m.gridHeight()
	bottomH := m.height - 2 - gridH
	m.grid.SetSize(m.width-2, gridH-2)
	logW := m.width
	if m.width >= 70 {
		m.stats.SetSize(statsWidth-2, bottomH-2)
		logW = m.width - statsWidth
	} else {
		m.stats.SetSize(0, 0)
	}
	if m.detailOpen {
		dw := m.detailWidth()
		m.detail.SetSize(dw-2, bottomH-2)
		logW = m.width - dw
		if m.width < 70 {
			logW = m.width
		}
	}
	m.log.SetSize(logW-2, bottomH-2)
	m.overview.SetSize(m.width-2, m.height-4)
	m.help.Width = m.width
}

// detailWidth is the detail pane's box width: the stats panel's place,
// wider on wide screens; all of it below 70 columns.
func (m Model) detailWidth() int {
	if m.width < 70 {
		return m.width
	}
	return max(statsWidth, min(m.width*2/5, 56))
}

// gridHeight is the grid box's height: every row if possible, leaving the
// bottom panels at least 6 lines.
func (m Model) gridHeight() int {
	want := len(m.cfg.Spaces) + 3 + 2
	avail := m.height - 2 - 6
	return max(min(want, avail), 6)
}

// View renders the whole screen.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		return fmt.Sprintf("terminal too small: %d×%d, need at least %d×%d (q quits)", m.width, m.height, minWidth, minHeight)
	}
	gridH := m.gridHeight()
	bottomH := m.height - 2 - gridH
	parts := []string{m.header()}
	if m.showOverview && !m.showHelp {
		parts = append(parts, box(m.st, m.overview.Title(), m.overview.View(), m.width, m.height-2))
		parts = append(parts, m.bottomLine())
		return strings.Join(parts, "\n")
	}
	parts = append(parts, box(m.st, m.grid.Title(m.width), m.grid.View(), m.width, gridH))
	switch {
	case m.showHelp:
		parts = append(parts, box(m.st, "Keys", m.help.FullHelpView(m.keys.FullHelp()), m.width, bottomH))
	case m.detailOpen && m.width < 70:
		parts = append(parts, box(m.st, m.detail.Title(), m.detail.View(), m.width, bottomH))
	case m.detailOpen:
		dw := m.detailWidth()
		parts = append(parts, sideBySide(
			box(m.st, m.detail.Title(), m.detail.View(), dw, bottomH),
			box(m.st, "Events", m.log.View(), m.width-dw, bottomH)))
	case m.width >= 70:
		parts = append(parts, sideBySide(
			box(m.st, "Connection", m.stats.View(), statsWidth, bottomH),
			box(m.st, "Events", m.log.View(), m.width-statsWidth, bottomH)))
	default:
		parts = append(parts, box(m.st, "Events", m.log.View(), m.width, bottomH))
	}
	parts = append(parts, m.bottomLine())
	return strings.Join(parts, "\n")
}

func (m Model) header() string {
	title := m.st.Title.Render("coworkctl watch")
	sedi := strings.Join(m.grid.Sedi(), ", ")
	if m.showOverview {
		sedi = "all sedi"
	}
	left := title + " " + m.st.Bold.Render(sedi) + " " + m.st.Dim.Render(m.cfg.Server)
	d, err := time.Parse(protocol.DateLayout, m.grid.Date())
	date := m.grid.Date()
	if err == nil {
		date = d.Format("Mon 2 Jan 2006")
	}
	right := "‹ " + date + " › " + m.stats.stateLine()
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		left = title + " " + m.st.Bold.Render(sedi)
		gap = m.width - lipgloss.Width(left) - lipgloss.Width(right)
	}
	if gap < 1 {
		left = m.st.Bold.Render(sedi)
		gap = m.width - lipgloss.Width(left) - lipgloss.Width(right)
	}
	if gap < 1 {
		return fit(right, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}
