package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key binding of the dashboard; it feeds the hint bar and
// the full help.
type KeyMap struct {
	PrevDay, NextDay, Today                 key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter, Pause, Clear       key.Binding
	Resync, Help, Quit                      key.Binding
}

// DefaultKeyMap returns the dashboard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		PrevDay:     key.NewBinding(key.WithKeys("[", "left", "h"), key.WithHelp("[/←", "prev day")),
		NextDay:     key.NewBinding(key.WithKeys("]", "right", "l"), key.WithHelp("]/→", "next day")),
		Today:       key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "today")),
		Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll log up")),
		Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll log down")),
		PageUp:      key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "page down")),
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "oldest")),
		Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "newest (follow)")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Pause:       key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "pause")),
		Clear:       key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "clear log")),
		Resync:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resync")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line hint bar; it fits 80 columns.
func (k KeyMap) ShortHelp() []key.Binding {
	day := key.NewBinding(key.WithKeys("[", "]"), key.WithHelp("[ ]", "day"))
	scroll := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑↓", "scroll"))
	return []key.Binding{day, k.Filter, k.Pause, scroll, k.Resync, k.Help, k.Quit}
}

// FullHelp is the `?` screen, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.PrevDay, k.NextDay, k.Today, k.Resync},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.ClearFilter, k.Pause, k.Clear},
		{k.Help, k.Quit},
	}
}
