package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Conn is what the dashboard needs of a live connection; *client.Socket
// implements it, tests leave it nil and send events themselves.
type Conn interface {
	Events() <-chan client.Event
	// JoinSpace (again) makes the server send the room's snapshot of date.
	JoinSpace(ctx context.Context, spazioID, sedeID int64, date string) (protocol.Ack, error)
	Latency(ctx context.Context) (time.Duration, error)
}

// RoomLeaver is a Conn that can also leave rooms: switching sede (s)
// leaves the old sede's rooms with it, so their events stop; without it
// they keep arriving and are ignored.
type RoomLeaver interface {
	LeaveSpace(ctx context.Context, spazioID, sedeID int64) (protocol.Ack, error)
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
	// Unresponsive is how long an rtt probe may go unanswered before the
	// server counts as unresponsive (a frozen process keeps its sockets
	// open): the grid turns stale until a probe is answered. Zero: 3s.
	Unresponsive time.Duration
	// TokenExpires is when a token watch cannot renew (--token) expires:
	// the dashboard warns ahead and says so once it has. Zero: no warnings
	// (unknown, or watch renews the token itself).
	TokenExpires time.Time
	// Staff is whether the token's role is staff's; connection_confirmed's
	// ruolo overrides it. False: no holder, history or cancel.
	Staff bool
	// History fetches a slot's recent history (staff); nil shows none.
	History HistoryFunc
	// Cancel cancels a slot as staff; nil: c explains it is unavailable.
	Cancel CancelFunc
	// Sedi is the catalog, for s (next sede) and the overview; nil: the
	// overview shows only the watched spaces.
	Sedi []Sede
	// Slots fetches one spazio's grid for the overview's other sedi; nil:
	// only watched spaces are counted.
	Slots SlotsFunc
	// SetToken gives the connection a new token (T); nil: T says it
	// cannot.
	SetToken TokenFunc
}

// Model is the root model: it lays out and routes to Grid, Stats and
// EventLog, and owns the commands that talk to the network.
type Model struct {
	cfg      Config
	st       *Styles
	keys     KeyMap
	help     help.Model
	grid     Grid
	stats    Stats
	log      EventLog
	detail   Detail
	overview Overview

	width, height int
	showHelp      bool
	// detailOpen shows the detail pane; showOverview the all-sedi view.
	detailOpen, showOverview bool
	staff                    bool
	now                      time.Time
	ticks                    int
	events                   int
	token                    tokenWatch

	// reload is the queue of rooms whose snapshot to ask for again, one
	// request at a time; reloading is set while one runs.
	reload       map[string]bool
	reloadManual bool
	reloading    bool

	statsBusy, rttBusy bool
	// rttSentAt is when the running rtt probe was sent; unresponsive is
	// set once it went unanswered past cfg.Unresponsive, until a probe
	// is answered.
	rttSentAt    time.Time
	unresponsive bool
	quitting     bool
	// chosen are the spaces watch started with (s comes back to them).
	chosen []Space
	// tokenInput is the open T prompt; nil when closed.
	tokenInput *lineInput
	// status is the last answer to something the user did, shown in
	// the hint bar's place until statusFor has passed.
	status   string
	statusAt time.Time
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
	if cfg.Unresponsive <= 0 {
		cfg.Unresponsive = 3 * time.Second
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
	m := Model{cfg: cfg, st: &st, keys: keys, help: h, now: now, reload: map[string]bool{},
		token: tokenWatch{exp: cfg.TokenExpires, loc: cfg.Location}}
	m.chosen = cfg.Spaces
	m.grid = NewGrid(m.st, cfg.Spaces, cfg.Date, now, cfg.Location)
	m.stats = NewStats(m.st, rooms, now, cfg.Location)
	m.stats.SetTokenExpiry(cfg.TokenExpires)
	m.log = NewEventLog(m.st, keys, cfg.Location)
	m.log.SetDate(cfg.Date)
	m.detail = NewDetail(m.st, cfg.Location)
	m.overview = NewOverview(m.st, cfg.Sedi)
	m.setStaff(cfg.Staff)
	m.checkToken()
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

// Update routes one message, then points the detail pane and the
// overview at what changed.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.route(msg)
	return m, tea.Batch(cmd, m.follow())
}

func (m *Model) route(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
	case tea.KeyMsg:
		return m.key(msg)
	case incomingMsg:
		var cmds []tea.Cmd
		for _, ev := range msg {
			cmds = append(cmds, m.event(ev))
		}
		if m.cfg.Conn != nil && !m.quitting {
			cmds = append(cmds, waitEvents(m.cfg.Conn.Events()))
		}
		return tea.Batch(cmds...)
	case TypedEvent:
		return m.event(msg)
	case EventsClosedMsg:
		m.grid.Update(msg)
		m.stats.Update(msg)
	case TickMsg:
		return m.tick(msg)
	case LatencyMsg:
		m.rttBusy = false
		m.stats.Update(msg)
		if msg.Err == nil && m.unresponsive {
			return m.answersAgain()
		}
	case StatsMsg:
		m.statsBusy = false
		m.stats.Update(msg)
	case JoinedMsg:
		return m.joined(msg)
	case HistoryMsg:
		m.detail.Update(msg)
	case CancelledMsg:
		return m.cancelled(msg)
	case TokenMsg:
		return m.tokenSet(msg)
	case OverviewMsg:
		m.overview.Update(msg)
	case TimeoutMsg:
		m.quitting = true
		return tea.Quit
	}
	return nil
}

func (m *Model) event(ev TypedEvent) tea.Cmd {
	if ev.At.After(m.now) {
		m.now = ev.At
	}
	// A join of a room already shown is a reload (slots_freed, r, a
	// reconnect, a token renewal): its snapshot is logged only if it
	// changed something.
	quiet, explain := false, false
	if _, ok := ev.Payload.(*protocol.JoinedSpace); ok {
		quiet = m.grid.RowLoaded(ev.Room)
	}
	ch := m.grid.ApplyEvent(ev)
	m.stats.Update(ev)
	switch p := ev.Payload.(type) {
	case *protocol.SlotsStatusUpdate:
		if ch.Applied && !ch.First {
			quiet = ch.Cells == 0
			if !quiet {
				e := EntryOf(ev, m.cfg.Location)
				e.Summary += fmt.Sprintf(", %d changed", ch.Cells)
				m.log.Update(e)
				quiet = true // logged
			}
		}
	case *client.ConnState:
		explain = p.Code == protocol.CodeAuthInvalid
		switch p.State {
		case client.StateConnected, client.StateDisconnected, client.StateReconnecting, client.StateOffline:
			// The connection itself says what it is now; a reconnect
			// brings fresh snapshots.
			m.unresponsive = false
			m.stats.SetUnresponsive(time.Time{})
		}
	case *protocol.ConnectionConfirmed:
		if p.Role != "" {
			m.setStaff(auth.IsStaff(p.Role))
		}
	case *protocol.SlotUpdate, *protocol.HoldExpired, *protocol.SlotCancelled:
		if ch.Applied {
			m.detail.Outdated() // its history has a new entry
		}
	}
	if !quiet {
		m.log.Update(ev)
	}
	if explain {
		m.explainRefusal()
		m.explainBadToken()
	}
	var cmd tea.Cmd
	if p, ok := ev.Payload.(*protocol.SlotsFreed); ok {
		// The freed list patched the grid; reloading those rooms makes
		// sure of the rest.
		cmd = m.reloadRooms(freedRooms(p, m.grid.Date()), false)
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
	m.checkToken()
	cmds := []tea.Cmd{tick()}
	m.checkUnresponsive()
	if gaps := m.grid.Gaps(); len(gaps) > 0 {
		m.note("resync", "missed an update of "+strings.Join(shortRooms(gaps), " ")+": reloading")
		cmds = append(cmds, m.reloadRooms(gaps, false))
	}
	if m.showOverview && m.ticks%overviewEvery == 0 {
		cmds = append(cmds, m.overviewCmd())
	}
	if m.ticks%m.cfg.LatencyEvery == 0 || m.unresponsive {
		// While unresponsive, probe every second to see it come back.
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
	if m.tokenInput != nil {
		if k.Type == tea.KeyRunes && len(k.Runes) > 1 {
			return m.tokenKey(k) // a paste
		}
		return m.tokenKey(k)
	}
	if m.detail.Prompting() {
		return m.promptKey(k)
	}
	if k.Type == tea.KeyRunes && (len(k.Runes) > 1 || k.Paste) {
		return m.keys1by1(k)
	}
	if k.Type == tea.KeyEsc && k.Alt {
		// Two escapes read together arrive as alt+esc: each is one esc.
		esc := tea.KeyMsg{Type: tea.KeyEsc}
		return tea.Batch(m.key(esc), m.key(esc))
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
	case key.Matches(k, m.keys.Back) && m.log.Filter() == "" && m.back():
		return nil
	case key.Matches(k, m.keys.CellLeft):
		m.grid.MoveCursor(0, -1)
	case key.Matches(k, m.keys.CellRight):
		m.grid.MoveCursor(0, 1)
	case key.Matches(k, m.keys.CellUp):
		m.grid.MoveCursor(-1, 0)
	case key.Matches(k, m.keys.CellDown):
		m.grid.MoveCursor(1, 0)
	case key.Matches(k, m.keys.Detail):
		m.grid.ShowCursor()
		m.detailOpen = !m.detailOpen
		m.layout()
	case key.Matches(k, m.keys.Cancel):
		m.startCancel()
	case key.Matches(k, m.keys.Overview):
		return m.toggleOverview()
	case key.Matches(k, m.keys.Sede):
		return m.nextSede()
	case key.Matches(k, m.keys.PrevDay):
		return m.setDate(m.shiftDate(-1))
	case key.Matches(k, m.keys.NextDay):
		return m.setDate(m.shiftDate(1))
	case key.Matches(k, m.keys.Today):
		return m.setDate(m.cfg.Now().In(m.cfg.Location).Format(protocol.DateLayout))
	case key.Matches(k, m.keys.Resync):
		return m.resync()
	case key.Matches(k, m.keys.Token):
		m.startTokenPrompt()
		return nil
	}
	return m.log.Update(k)
}

// keys1by1 handles runes that arrived in one message (key repeat, a
// paste, a slow link: the terminal reads them together) as one key each.
// A paste never quits: a stray q in pasted text is ignored.
func (m *Model) keys1by1(k tea.KeyMsg) tea.Cmd {
	var cmds []tea.Cmd
	for _, r := range k.Runes {
		if m.detail.Prompting() {
			// The rest of a burst that opened the prompt is typed into it.
			m.detail.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			continue
		}
		one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}
		if r == ' ' {
			one.Type = tea.KeySpace
		}
		if k.Paste && !m.log.Filtering() && key.Matches(one, m.keys.Quit) {
			continue
		}
		cmds = append(cmds, m.key(one))
		if m.quitting {
			break
		}
	}
	return tea.Batch(cmds...)
}

// checkToken logs the notice due for a token watch cannot renew.
func (m *Model) checkToken() {
	if e, ok := m.token.notice(m.now); ok {
		m.log.Update(e)
	}
}

// explainRefusal says in plain words why an expired token is refused.
func (m *Model) explainRefusal() {
	if e, ok := m.token.refused(m.now); ok {
		m.log.Update(e)
	}
}

// note logs one line of the dashboard's own (not a server event).
func (m *Model) note(name, summary string) {
	m.log.Update(LogEntry{At: m.now, Name: name, Summary: summary, State: true})
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
	m.overview.SetDate(date)
	m.log.SetDate(date)
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

func (m *Model) latencyCmd() tea.Cmd {
	if m.cfg.Conn == nil || m.rttBusy || m.stats.State().State != client.StateConnected {
		return nil
	}
	m.rttBusy, m.rttSentAt = true, m.now
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
