package tui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Conn is what the dashboard needs of a live connection; *client.Socket
// implements it, tests leave it nil and send events themselves.
type Conn interface {
	Events() <-chan client.Event
	JoinSpace(ctx context.Context, spazioID, sedeID int64, date string) (protocol.Ack, error)
	Resync(ctx context.Context) (int, error)
	Latency(ctx context.Context) (time.Duration, error)
}

// StatsFunc fetches GET /api/stats.
type StatsFunc func(ctx context.Context) (*protocol.Stats, error)

// Config configures the dashboard. Zero values mean the documented default.
type Config struct {
	// Server is shown in the header.
	Server string
	// Spaces are the grid's rows, in order.
	Spaces []Space
	// Date is the first day shown (YYYY-MM-DD); "" means today.
	Date string
	// Conn is the live connection; nil runs without network (tests).
	Conn Conn
	// Stats fetches server stats every StatsEvery ticks; nil shows none.
	Stats StatsFunc
	// Now is the clock for the first frame and for "today"; nil: time.Now.
	Now func() time.Time
	// Location is the zone times are shown in; nil: time.Local.
	Location *time.Location
	// Renderer renders the styles; nil: colour off.
	Renderer *lipgloss.Renderer
	// Count quits after that many server events; zero: never.
	Count int
	// Timeout quits after that long; zero: never.
	Timeout time.Duration
	// LatencyEvery and StatsEvery are in ticks (seconds); zero: 5 and 3.
	LatencyEvery, StatsEvery int
}

// Model is the root model: it lays out and routes to Grid, Stats and
// EventLog, and owns the commands that talk to the network.
type Model struct {
	cfg   Config
	st    *Styles
	keys  KeyMap
	help  help.Model
	grid  Grid
	stats Stats
	log   EventLog

	width, height int
	showHelp      bool
	now           time.Time
	ticks         int
	events        int

	resyncing, resyncPending bool
	statsBusy, rttBusy       bool
	quitting                 bool
}

// New builds the dashboard.
func New(cfg Config) Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Renderer == nil {
		cfg.Renderer = NewRenderer(nil, false)
	}
	if cfg.LatencyEvery <= 0 {
		cfg.LatencyEvery = 5
	}
	if cfg.StatsEvery <= 0 {
		cfg.StatsEvery = 3
	}
	now := cfg.Now()
	if cfg.Date == "" {
		cfg.Date = now.In(cfg.Location).Format(protocol.DateLayout)
	}
	st := NewStyles(cfg.Renderer)
	keys := DefaultKeyMap()
	h := help.New()
	h.Styles = st.Help
	rooms := make([]string, len(cfg.Spaces))
	for i, s := range cfg.Spaces {
		rooms[i] = s.Room()
	}
	m := Model{cfg: cfg, st: &st, keys: keys, help: h, now: now}
	m.grid = NewGrid(m.st, cfg.Spaces, cfg.Date, now)
	m.stats = NewStats(m.st, rooms, now)
	m.log = NewEventLog(m.st, keys, cfg.Location)
	return m
}

// Grid, Stats and Log expose the components' state to tests.
func (m Model) Grid() Grid        { return m.grid }
func (m Model) Stats() Stats      { return m.stats }
func (m Model) Log() EventLog     { return m.log }
func (m Model) ShowingHelp() bool { return m.showHelp }

// Quitting reports whether the model asked to quit.
func (m Model) Quitting() bool { return m.quitting }

// Init starts the event pump, the clock and the timeout.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tick()}
	if m.cfg.Conn != nil {
		cmds = append(cmds, waitEvents(m.cfg.Conn.Events()), m.latencyCmd(), m.statsCmd())
	}
	if m.cfg.Timeout > 0 {
		cmds = append(cmds, tea.Tick(m.cfg.Timeout, func(time.Time) tea.Msg { return TimeoutMsg{} }))
	}
	return tea.Batch(cmds...)
}

// incomingMsg is a batch of events read from the connection.
type incomingMsg []TypedEvent

// Update routes one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	case incomingMsg:
		var cmds []tea.Cmd
		for _, ev := range msg {
			cmds = append(cmds, m.event(ev))
		}
		if m.cfg.Conn != nil && !m.quitting {
			cmds = append(cmds, waitEvents(m.cfg.Conn.Events()))
		}
		return m, tea.Batch(cmds...)
	case TypedEvent:
		return m, m.event(msg)
	case EventsClosedMsg:
		m.stats.Update(msg)
		return m, nil
	case TickMsg:
		return m, m.tick(msg)
	case LatencyMsg:
		m.rttBusy = false
		m.stats.Update(msg)
		return m, nil
	case StatsMsg:
		m.statsBusy = false
		m.stats.Update(msg)
		return m, nil
	case JoinedMsg:
		var cmd tea.Cmd
		if msg.Date == "" { // a resync
			m.resyncing = false
			if m.resyncPending {
				m.resyncPending = false
				cmd = m.resync()
			}
		}
		if msg.Err != nil {
			m.log.Update(TypedEvent{Event: client.Event{Name: "error", At: m.now}, Payload: nil, DecodeErr: msg.Err})
		}
		return m, cmd
	case TimeoutMsg:
		m.quitting = true
		return m, tea.Quit
	}
	return m, nil
}

func (m *Model) event(ev TypedEvent) tea.Cmd {
	if ev.At.After(m.now) {
		m.now = ev.At
	}
	m.grid.Update(ev)
	m.stats.Update(ev)
	m.log.Update(ev)
	var cmd tea.Cmd
	if _, ok := ev.Payload.(*protocol.SlotsFreed); ok {
		// The freed list patched the grid; a resync makes sure of the rest.
		cmd = m.resync()
	}
	if !ev.IsState() {
		m.events++
		if m.cfg.Count > 0 && m.events >= m.cfg.Count {
			m.quitting = true
			return tea.Quit
		}
	}
	return cmd
}

func (m *Model) tick(t TickMsg) tea.Cmd {
	m.ticks++
	if time.Time(t).After(m.now) {
		m.now = time.Time(t)
	}
	m.grid.Update(t)
	m.stats.Update(t)
	cmds := []tea.Cmd{tick()}
	if m.ticks%m.cfg.LatencyEvery == 0 {
		cmds = append(cmds, m.latencyCmd())
	}
	if m.ticks%m.cfg.StatsEvery == 0 {
		cmds = append(cmds, m.statsCmd())
	}
	return tea.Batch(cmds...)
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyCtrlC {
		m.quitting = true
		return tea.Quit
	}
	if m.log.Filtering() {
		return m.log.Update(k)
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		m.quitting = true
		return tea.Quit
	case key.Matches(k, m.keys.Help):
		m.showHelp = !m.showHelp
		m.help.ShowAll = m.showHelp
		m.layout()
		return nil
	case key.Matches(k, m.keys.ClearFilter) && m.showHelp:
		m.showHelp = false
		m.layout()
		return nil
	case key.Matches(k, m.keys.PrevDay):
		return m.setDate(m.shiftDate(-1))
	case key.Matches(k, m.keys.NextDay):
		return m.setDate(m.shiftDate(1))
	case key.Matches(k, m.keys.Today):
		return m.setDate(m.cfg.Now().In(m.cfg.Location).Format(protocol.DateLayout))
	case key.Matches(k, m.keys.Resync):
		return m.resync()
	}
	return m.log.Update(k)
}

func (m Model) shiftDate(days int) string {
	d, err := time.Parse(protocol.DateLayout, m.grid.Date())
	if err != nil {
		return m.grid.Date()
	}
	return d.AddDate(0, 0, days).Format(protocol.DateLayout)
}

// setDate shows another day and asks the server for its snapshots.
func (m *Model) setDate(date string) tea.Cmd {
	if date == m.grid.Date() {
		return nil
	}
	m.grid.SetDate(date)
	if m.cfg.Conn == nil {
		return nil
	}
	conn, spaces := m.cfg.Conn, m.cfg.Spaces
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range spaces {
			if _, err := conn.JoinSpace(ctx, s.SpazioID, s.SedeID, date); err != nil {
				return JoinedMsg{Date: date, Err: err}
			}
		}
		return JoinedMsg{Date: date}
	}
}

// resync asks for fresh snapshots, one request at a time.
func (m *Model) resync() tea.Cmd {
	if m.cfg.Conn == nil {
		return nil
	}
	if m.resyncing {
		m.resyncPending = true
		return nil
	}
	m.resyncing = true
	conn := m.cfg.Conn
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := conn.Resync(ctx)
		return JoinedMsg{Err: err}
	}
}

func (m *Model) latencyCmd() tea.Cmd {
	if m.cfg.Conn == nil || m.rttBusy || m.stats.State().State != client.StateConnected {
		return nil
	}
	m.rttBusy = true
	conn := m.cfg.Conn
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rtt, err := conn.Latency(ctx)
		return LatencyMsg{RTT: rtt, Err: err}
	}
}

func (m *Model) statsCmd() tea.Cmd {
	if m.cfg.Stats == nil || m.statsBusy || !m.stats.StaffStats() {
		return nil
	}
	m.statsBusy = true
	fetch := m.cfg.Stats
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := fetch(ctx)
		if client.IsStatus(err, http.StatusForbidden) || client.IsStatus(err, http.StatusUnauthorized) {
			return StatsMsg{Forbidden: true}
		}
		return StatsMsg{Stats: s, Err: err, At: time.Now()}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return TickMsg(t) })
}

// waitEvents reads one event (blocking) and whatever else is already
// queued, so a burst costs one render.
func waitEvents(ch <-chan client.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return EventsClosedMsg{}
		}
		batch := incomingMsg{Decode(ev)}
		for len(batch) < 256 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return batch
				}
				batch = append(batch, Decode(ev))
			default:
				return batch
			}
		}
		return batch
	}
}

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
	m.log.SetSize(logW-2, bottomH-2)
	m.help.Width = m.width
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
	parts = append(parts, box(m.st, "Slots "+m.grid.Date(), m.grid.View(), m.width, gridH))
	switch {
	case m.showHelp:
		parts = append(parts, box(m.st, "Keys", m.help.FullHelpView(m.keys.FullHelp()), m.width, bottomH))
	case m.width >= 70:
		parts = append(parts, sideBySide(
			box(m.st, "Connection", m.stats.View(), statsWidth, bottomH),
			box(m.st, "Events", m.log.View(), m.width-statsWidth, bottomH)))
	default:
		parts = append(parts, box(m.st, "Events", m.log.View(), m.width, bottomH))
	}
	parts = append(parts, fit(m.help.ShortHelpView(m.keys.ShortHelp()), m.width))
	return strings.Join(parts, "\n")
}

func (m Model) header() string {
	left := m.st.Title.Render("coworkctl watch") + " " + m.st.Dim.Render(m.cfg.Server)
	d, err := time.Parse(protocol.DateLayout, m.grid.Date())
	date := m.grid.Date()
	if err == nil {
		date = d.Format("Mon 2 Jan 2006")
	}
	right := "‹ " + date + " › " + m.stats.stateLine()
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		left = m.st.Title.Render("coworkctl watch")
		gap = m.width - lipgloss.Width(left) - lipgloss.Width(right)
	}
	if gap < 1 {
		return fit(right, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}
