package tui

import (
	"strconv"
	"time"
)

// statusFor is how long an answer to the user stays in the hint bar.
const statusFor = 8 * time.Second

// tell answers something the user did where they look (the hint bar),
// and keeps it in the event log.
func (m *Model) tell(name, summary string) {
	m.note(name, summary)
	m.status, m.statusAt = summary, m.now
}

// bottomLine is the token prompt, a fresh answer, or the key hints.
func (m Model) bottomLine() string {
	switch {
	case m.tokenInput != nil:
		return fit(m.st.Bold.Render(maskedInput(*m.tokenInput)), m.width)
	case m.status != "" && m.now.Sub(m.statusAt) < statusFor:
		return fit(m.st.Warn.Render("› ")+m.status, m.width)
	}
	if m.showOverview && !m.showHelp {
		return fit(m.help.ShortHelpView(m.keys.OverviewHelp()), m.width)
	}
	return fit(m.help.ShortHelpView(m.keys.ShortHelp()), m.width)
}

// maskedInput shows a token prompt with all but the token's last 6
// characters hidden: a wall screen should not show a usable token.
func maskedInput(in lineInput) string {
	v := in.Value()
	if v == "" {
		return in.View()
	}
	r := []rune(v)
	shown := min(len(r), 6)
	return in.prompt + "…(" + strconv.Itoa(len(r)) + " chars)" + string(r[len(r)-shown:]) + "█"
}
