package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key binding of the dashboard; it feeds the hint bar and
// the full help.
type KeyMap struct {
	PrevDay, NextDay, Today                 key.Binding
	CellLeft, CellRight, CellUp, CellDown   key.Binding
	Detail, Cancel, Back, Sede, Overview    key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter, Pause, Clear       key.Binding
	Resync, Token, Help, Quit               key.Binding
}

// DefaultKeyMap returns the dashboard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		PrevDay:     key.NewBinding(key.WithKeys("[", "<"), key.WithHelp("[", "prev day")),
		NextDay:     key.NewBinding(key.WithKeys("]", ">"), key.WithHelp("]", "next day")),
		Today:       key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "today")),
		CellLeft:    key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "cell left")),
		CellRight:   key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "cell right")),
		CellUp:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "cell up")),
		CellDown:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "cell down")),
		Detail:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "slot detail")),
		Cancel:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel slot (staff)")),
		Back:        key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close pane")),
		Sede:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "next sede")),
		Overview:    key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "all sedi")),
		Up:          key.NewBinding(key.WithKeys("shift+up", "K"), key.WithHelp("K/⇧↑", "scroll log up")),
		Down:        key.NewBinding(key.WithKeys("shift+down", "J"), key.WithHelp("J/⇧↓", "scroll log down")),
		PageUp:      key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "page down")),
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "oldest")),
		Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "newest (follow)")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Pause:       key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "pause")),
		Clear:       key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "clear log")),
		Resync:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resync")),
		Token:       key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "new token")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line hint bar; it fits 80 columns (the log's
// keys are in the full help).
func (k KeyMap) ShortHelp() []key.Binding {
	day := key.NewBinding(key.WithKeys("[", "]"), key.WithHelp("[ ]", "day"))
	cell := key.NewBinding(key.WithKeys("up", "down", "left", "right"), key.WithHelp("←↑↓→", "cell"))
	detail := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "detail"))
	cancel := key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel"))
	overview := key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "overview"))
	return []key.Binding{day, cell, detail, cancel, overview, k.Help, k.Quit}
}

// OverviewHelp is the hint bar of the overview: its own keys only.
func (k KeyMap) OverviewHelp() []key.Binding {
	back := key.NewBinding(key.WithKeys("o", "esc"), key.WithHelp("o/esc", "back to the grid"))
	day := key.NewBinding(key.WithKeys("[", "]"), key.WithHelp("[ ]", "day"))
	return []key.Binding{back, day, k.Sede, k.Help, k.Quit}
}

// FullHelp is the `?` screen, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.PrevDay, k.NextDay, k.Today, k.Resync, k.Token, k.Sede, k.Overview, k.Help, k.Quit},
		{k.CellLeft, k.CellRight, k.CellUp, k.CellDown, k.Detail, k.Cancel, k.Back},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Filter, k.ClearFilter, k.Pause, k.Clear},
	}
}
