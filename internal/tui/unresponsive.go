package tui

import (
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
)

// A server that stops (kill -STOP, a hung process, a dead link without a
// reset) keeps its sockets open, and the client only notices when its
// heartbeat times out, tens of seconds later. The rtt probe notices
// first: once one goes unanswered past cfg.Unresponsive the dashboard
// says so and stops the countdowns, as for a lost connection.

// checkUnresponsive marks the server unresponsive once the running probe
// is overdue.
func (m *Model) checkUnresponsive() {
	if m.unresponsive || !m.rttBusy || m.stats.State().State != client.StateConnected {
		return
	}
	if m.now.Sub(m.rttSentAt) < m.cfg.Unresponsive {
		return
	}
	m.unresponsive = true
	m.stats.SetUnresponsive(m.rttSentAt)
	m.grid.MarkStale(m.rttSentAt)
	m.note("unresponsive", fmt.Sprintf("no answer from the server for %s: the grid is stale until it answers", shortDur(m.cfg.Unresponsive)))
}

// answersAgain ends the unresponsive state: the server answered a probe,
// so the grid is reloaded from fresh snapshots.
func (m *Model) answersAgain() tea.Cmd {
	m.unresponsive = false
	m.stats.SetUnresponsive(time.Time{})
	m.note("unresponsive", "the server answers again: reloading")
	rooms := make([]string, 0, len(m.cfg.Spaces))
	for _, s := range m.cfg.Spaces {
		rooms = append(rooms, s.Room())
	}
	return m.reloadRooms(rooms, false)
}
