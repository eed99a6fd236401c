package tui

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Reloads: the r key and slots_freed ask the server for fresh snapshots
// of some rooms (joining them again), one request at a time; rooms asked
// for meanwhile are queued and go in the next request.

// resync (the r key) asks for a fresh snapshot of every room; offline it
// says that the reconnect will do it.
func (m *Model) resync() tea.Cmd {
	switch m.stats.State().State {
	case client.StateConnected:
	case client.StateOffline:
		m.tell("r", "offline: the connection gave up; restart watch (or T for a new token)")
		return nil
	default:
		m.tell("r", "offline, will resync on reconnect")
		return nil
	}
	rooms := make([]string, 0, len(m.cfg.Spaces))
	for _, s := range m.cfg.Spaces {
		rooms = append(rooms, s.Room())
	}
	return m.reloadRooms(rooms, true)
}

// freedRooms lists the watched rooms of a slots_freed for date.
func freedRooms(p *protocol.SlotsFreed, date string) []string {
	var rooms []string
	for _, f := range p.Slots {
		if f.Date == "" || f.Date == date {
			rooms = append(rooms, protocol.SpaceRoom(f.IDSpazio, f.IDSede))
		}
	}
	return rooms
}

// reloadRooms queues rooms for a fresh snapshot of the shown date and
// starts the queue unless it runs; manual reloads (r) report when done.
func (m *Model) reloadRooms(rooms []string, manual bool) tea.Cmd {
	for _, r := range rooms {
		if m.grid.Has(r) {
			m.reload[r] = true
		}
	}
	m.reloadManual = m.reloadManual || manual
	if m.reloading || len(m.reload) == 0 || m.cfg.Conn == nil {
		return nil
	}
	var spaces []Space
	for _, s := range m.cfg.Spaces {
		if m.reload[s.Room()] {
			spaces = append(spaces, s)
		}
	}
	sort.SliceStable(spaces, func(i, j int) bool { return spaces[i].Room() < spaces[j].Room() })
	m.reload, m.reloading = map[string]bool{}, true
	manual, m.reloadManual = m.reloadManual, false
	conn, date := m.cfg.Conn, m.grid.Date()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg := JoinedMsg{Reload: true, Manual: manual}
		for _, s := range spaces {
			if _, err := conn.JoinSpace(ctx, s.SpazioID, s.SedeID, date); err != nil {
				msg.Err = err
				return msg
			}
			msg.Rooms++
		}
		return msg
	}
}

// joined handles the end of a date change or a reload.
func (m *Model) joined(msg JoinedMsg) tea.Cmd {
	var cmd tea.Cmd
	if msg.Reload {
		m.reloading = false
		cmd = m.reloadRooms(nil, false)
	}
	switch {
	case msg.Err != nil && (errors.Is(msg.Err, client.ErrNotConnected) || errors.Is(msg.Err, client.ErrClosed)):
		m.note("r", "offline, will resync on reconnect")
	case msg.Err != nil:
		m.note("error", msg.Err.Error())
	case msg.Manual:
		m.note("r", fmt.Sprintf("%d rooms reloaded", msg.Rooms))
	}
	return cmd
}
