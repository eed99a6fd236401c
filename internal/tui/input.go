package tui

import (
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
)

// lineInput is the log's one-line filter editor: type, backspace, ctrl+u.
// (bubbles/textinput would pull a clipboard module into the build for a
// field that needs none of it.)
type lineInput struct {
	prompt, placeholder string
	limit               int
	value               string
	focused             bool
}

func (in *lineInput) Focus()            { in.focused = true }
func (in *lineInput) Blur()             { in.focused = false }
func (in lineInput) Focused() bool      { return in.focused }
func (in lineInput) Value() string      { return in.value }
func (in *lineInput) SetValue(v string) { in.value = v }

// Update edits the value with one key; it takes the components' shape,
// though it is a field inside one, not a pane of its own.
func (in *lineInput) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch k.Type {
	case tea.KeyBackspace:
		if in.value != "" {
			_, n := utf8.DecodeLastRuneInString(in.value)
			in.value = in.value[:len(in.value)-n]
		}
	case tea.KeyCtrlU:
		in.value = ""
	case tea.KeyRunes, tea.KeySpace:
		if utf8.RuneCountInString(in.value)+len(k.Runes) <= in.limit {
			in.value += string(k.Runes)
		}
	}
	return nil
}

// View shows the prompt, the value and a block cursor.
func (in lineInput) View() string {
	if in.value == "" && in.focused {
		return in.prompt + "█ " + in.placeholder
	}
	return in.prompt + in.value + "█"
}
