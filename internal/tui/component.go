package tui

import tea "github.com/charmbracelet/bubbletea"

// Component is one pane of the dashboard. The root sizes it to the inside
// of its box, routes messages to it and draws its View; Update changes
// only the component's state, and any I/O it needs comes back as the
// returned command's message.
type Component interface {
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
}

// Every pane of the dashboard is a Component.
var (
	_ Component = (*Grid)(nil)
	_ Component = (*Stats)(nil)
	_ Component = (*EventLog)(nil)
	_ Component = (*Detail)(nil)
	_ Component = (*Overview)(nil)
)
