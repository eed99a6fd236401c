package tui

import (
	"errors"
	"fmt"
	tea "github.com/charmbracelet/bubbletea"
	"net/http"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// rateWindow is how many seconds of event counts the sparkline keeps.
const rateWindow = 60

// Stats is the stats panel: connection, latency, event rate, staleness
// and, with a staff token, the server's own stats.
type Stats struct {
	st            *Styles
	width, height int
	now           time.Time
	loc           *time.Location
	rooms         []string

	conn      client.ConnState
	connSince time.Time

	rtt    time.Duration
	rttErr string
	// unresponsive is when the probe that went unanswered was sent;
	// zero while the server answers.
	unresponsive time.Time

	counts    map[int64]int // events per unix second
	total     int
	lastEvent time.Time

	server    *protocol.Stats
	serverErr string
	serverAt  time.Time
	forbidden bool

	// tokenExp is when a --token expires (zero: unknown, or renewed by
	// watch itself); renewedAt and renewErr follow renewals.
	tokenExp  time.Time
	renewedAt time.Time
	renewErr  string
}

// NewStats returns a panel for the watched rooms; times are shown in loc
// (nil: Local).
func NewStats(st *Styles, rooms []string, now time.Time, loc *time.Location) Stats {
	if loc == nil {
		loc = time.Local
	}
	return Stats{st: st, rooms: rooms, now: now, loc: loc, connSince: now, counts: map[int64]int{},
		conn: client.ConnState{State: client.StateConnecting}}
}

// SetUnresponsive marks the server unresponsive since (zero: it answers).
func (s *Stats) SetUnresponsive(since time.Time) { s.unresponsive = since }

// Unresponsive reports whether the server stopped answering probes while
// the connection still looks open.
func (s Stats) Unresponsive() bool {
	return !s.unresponsive.IsZero() && s.conn.State == client.StateConnected
}

// TokenReplaced forgets what the old token earned: refusals, and a 403
// that may not hold for the new one.
func (s *Stats) TokenReplaced() {
	s.forbidden, s.serverErr, s.renewErr = false, "", ""
	s.conn.Code, s.conn.Message = "", ""
}

// SetTokenExpiry sets when the token expires, for a token watch cannot
// renew; zero shows nothing.
func (s *Stats) SetTokenExpiry(exp time.Time) { s.tokenExp = exp }

// TokenExpired reports whether a known token expiry has passed.
func (s Stats) TokenExpired() bool { return !s.tokenExp.IsZero() && !s.now.Before(s.tokenExp) }

func (s Stats) clock(t time.Time) string { return t.In(s.loc).Format("15:04:05") }

// dayClock is clock with the day in front when t is not today.
func (s Stats) dayClock(t time.Time) string {
	if t.In(s.loc).Format("20060102") == s.now.In(s.loc).Format("20060102") {
		return s.clock(t)
	}
	return t.In(s.loc).Format("2 Jan 15:04")
}

// SetSize sets the inside of the panel.
func (s *Stats) SetSize(w, h int) { s.width, s.height = w, h }

// State is the last connection state.
func (s Stats) State() client.ConnState { return s.conn }

// Total counts server events seen.
func (s Stats) Total() int { return s.total }

// SetRooms changes the watched rooms (another sede).
func (s *Stats) SetRooms(rooms []string) { s.rooms = rooms }

// StaffStats reports whether server stats are being asked for (false
// after a 403: the token is not staff).
func (s Stats) StaffStats() bool { return !s.forbidden }

// Update applies ticks, events, latency and server stats.
func (s *Stats) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case TickMsg:
		if t := time.Time(m); t.After(s.now) {
			s.now = t
		}
		s.prune()
	case TypedEvent:
		if m.At.After(s.now) {
			s.now = m.At
		}
		if m.State != nil {
			s.applyState(*m.State, m.At)
			return nil
		}
		s.total++
		s.counts[m.At.Unix()]++
		s.lastEvent = m.At
		s.prune()
	case EventsClosedMsg:
		if s.conn.State != client.StateOffline {
			s.conn = client.ConnState{State: client.StateOffline, Reason: "event stream closed"}
			s.connSince = s.now
		}
	case LatencyMsg:
		if m.Err != nil {
			s.rttErr = m.Err.Error()
			return nil
		}
		s.rtt, s.rttErr = m.RTT, ""
	case StatsMsg:
		var ae *client.APIError
		switch {
		case m.Err == nil:
			s.server, s.serverErr, s.serverAt = m.Stats, "", m.At
		case client.IsStatus(m.Err, http.StatusForbidden) && errors.As(m.Err, &ae) &&
			(ae.Code == protocol.CodeAuthInvalid || ae.Message == protocol.MsgHTTPAuthInvalid):
			// 403 is also the REST answer to a token it cannot verify:
			// that is a refused token, not a user who is not staff.
			s.server, s.serverErr = nil, "token refused"
		case client.IsStatus(m.Err, http.StatusForbidden):
			s.forbidden, s.server = true, nil
		case errors.As(m.Err, &ae) && ae.Status == http.StatusUnauthorized:
			// Numbers seen with a token the server now refuses would
			// only look live.
			s.server, s.serverErr = nil, "token refused (401)"
		default:
			s.serverErr = m.Err.Error()
		}
	}
	return nil
}

func (s *Stats) applyState(cs client.ConnState, at time.Time) {
	switch cs.State {
	case client.StateUpgraded:
		s.conn.Transport = cs.Transport
		return
	case client.StateRenewed:
		s.conn.Transport, s.conn.SocketID = cs.Transport, cs.SocketID
		s.renewedAt, s.renewErr = at, ""
		return
	case client.StateRenewFailed:
		s.renewErr = cs.Message
		return
	case client.StateRejoined, client.StateFallback:
		// Informational: the log shows them; the state line keeps its value.
		if cs.State == client.StateFallback {
			s.conn.Message = cs.Message
		}
		return
	case client.StateConnectError:
		// Keep the attempt count of the running reconnect.
		s.conn.Message, s.conn.Code = cs.Message, cs.Code
		if s.conn.State == client.StateConnected {
			s.conn.State = client.StateConnectError
		}
		return
	}
	if cs.State != s.conn.State {
		s.connSince = at
	}
	if cs.State != client.StateConnected && cs.Message == "" {
		// Keep showing why the last attempt failed while retrying.
		cs.Message, cs.Code = s.conn.Message, s.conn.Code
	}
	s.conn = cs
}

func (s *Stats) prune() {
	cut := s.now.Unix() - rateWindow
	for k := range s.counts {
		if k <= cut {
			delete(s.counts, k)
		}
	}
}

// Rate is the mean events per second over the last 10 full seconds.
func (s Stats) Rate() float64 {
	n := 0
	sec := s.now.Unix()
	for i := int64(1); i <= 10; i++ {
		n += s.counts[sec-i]
	}
	return float64(n) / 10
}

// Sparkline draws the last w full seconds of event counts, oldest first.
func (s Stats) Sparkline(w int) string {
	if w <= 0 {
		return ""
	}
	w = min(w, rateWindow)
	levels := []rune("▁▂▃▄▅▆▇█")
	sec := s.now.Unix()
	vals := make([]int, w)
	peak := 0
	for i := range w {
		vals[i] = s.counts[sec-int64(w-i)]
		peak = max(peak, vals[i])
	}
	var b strings.Builder
	for _, v := range vals {
		if v == 0 || peak == 0 {
			b.WriteRune(' ')
			continue
		}
		b.WriteRune(levels[(v*(len(levels)-1)+peak-1)/peak])
	}
	return b.String()
}

// stateLine is the coloured connection state.
func (s Stats) stateLine() string {
	c := s.conn
	switch c.State {
	case client.StateConnected:
		if s.Unresponsive() {
			return s.st.Bad.Render("✕ unresponsive")
		}
		return s.st.Good.Render("● connected")
	case client.StateConnecting:
		if c.Attempt > 1 {
			return s.st.Warn.Render(fmt.Sprintf("◌ connecting #%d", c.Attempt))
		}
		return s.st.Warn.Render("◌ connecting")
	case client.StateReconnecting:
		return s.st.Warn.Render("◌ reconnecting")
	case client.StateDisconnected:
		return s.st.Bad.Render("✕ disconnected")
	case client.StateConnectError:
		return s.st.Bad.Render("✕ connect error")
	case client.StateOffline:
		if s.TokenExpired() {
			return s.st.Bad.Render("✕ token expired")
		}
		if s.tokenRefused() {
			return s.st.Bad.Render("✕ token refused")
		}
		return s.st.Bad.Render("✕ offline")
	default:
		return string(c.State)
	}
}

// View renders the panel.
func (s Stats) View() string {
	if s.width <= 0 || s.height <= 0 {
		return ""
	}
	var lines []string
	add := func(label, value string) { lines = append(lines, s.st.Dim.Render(pad(label, 8))+value) }
	add("state", s.stateLine())
	if s.conn.State == client.StateConnected || s.conn.Transport != "" {
		add("via", s.conn.Transport)
	}
	if s.conn.State == client.StateReconnecting {
		left := max(s.conn.Delay-s.now.Sub(s.connSince), 0)
		add("retry", fmt.Sprintf("#%d in %s", s.conn.Attempt, shortDur(left)))
	}
	switch {
	case s.Unresponsive():
		add("answer", s.st.Bad.Render("none since "+s.clock(s.unresponsive)))
	case s.conn.State == client.StateConnected:
	case s.TokenExpired() && (s.conn.Code == protocol.CodeAuthInvalid || s.conn.State == client.StateOffline):
		// The token line below says why.
	case s.conn.Message != "":
		add("error", lastClause(s.conn.Message))
	case s.conn.Reason != "":
		add("reason", lastClause(s.conn.Reason))
	}
	if line := s.tokenLine(); line != "" {
		add("token", line)
	}
	switch {
	case s.conn.State != client.StateConnected:
		add("rtt", s.st.Dim.Render("…"))
	case s.rttErr != "" || s.Unresponsive():
		add("rtt", s.st.Warn.Render("no answer"))
	case s.rtt > 0:
		add("rtt", shortDur(s.rtt))
	default:
		add("rtt", s.st.Dim.Render("…"))
	}
	add("rate", fmt.Sprintf("%.1f/s", s.Rate()))
	lines = append(lines, pad("", 8)+s.Sparkline(s.width-8))
	last := "never"
	if !s.lastEvent.IsZero() {
		last = shortDur(s.now.Sub(s.lastEvent)) + " ago"
	}
	add("last", fmt.Sprintf("%s · %d total", last, s.total))

	switch {
	case s.forbidden:
		add("server", s.st.Dim.Render("needs a staff token"))
	case s.server != nil:
		sv := s.server
		add("server", fmt.Sprintf("%d users · %d sockets", sv.ConnectedUsers, sv.TotalSockets))
		add("", fmt.Sprintf("%d holds · up %s", sv.ActiveHolds, shortDur(time.Duration(sv.UptimeSeconds)*time.Second)))
		if s.conn.State != client.StateConnected && !s.serverAt.IsZero() {
			add("", s.st.Warn.Render("as of "+s.clock(s.serverAt)))
		}
		if sv.RedisEnabled {
			redis := s.st.Good.Render("redis ok")
			if !sv.RedisConnected {
				redis = s.st.Bad.Render("redis down")
			}
			add("", fmt.Sprintf("%d nodes · %s", max(len(sv.Nodes), 1), redis))
			if sv.Cluster == protocol.ClusterIncomplete {
				// The other nodes did not answer in time: the figures are
				// partly this node's own.
				add("", s.st.Warn.Render("partial: nodes slow"))
			}
		}
		members := map[string]int{}
		for _, r := range sv.Rooms {
			members[r.Room] = r.Members
		}
		for i, room := range s.rooms {
			label := ""
			if i == 0 {
				label = "members"
			}
			name := room
			if sp, se, ok := protocol.ParseSpaceRoom(room); ok {
				name = fmt.Sprintf("%d@%d", sp, se)
			}
			add(label, fmt.Sprintf("%-6s %d", name, members[room]))
		}
		if s.serverErr != "" {
			add("", s.st.Warn.Render("stale: "+lastClause(s.serverErr)))
		}
	case s.serverErr != "":
		add("server", s.st.Warn.Render(lastClause(s.serverErr)))
	default:
		add("server", s.st.Dim.Render("…"))
	}
	if len(lines) > s.height {
		lines = lines[:s.height]
	}
	for i := range lines {
		lines[i] = fit(lines[i], s.width)
	}
	return strings.Join(lines, "\n")
}

// tokenLine says when the token expires (a --token) or when watch last
// renewed it; "" when there is nothing to say.
func (s Stats) tokenLine() string {
	switch {
	case s.renewErr != "":
		return s.st.Warn.Render("renew failed: " + lastClause(s.renewErr))
	case !s.renewedAt.IsZero():
		return "renewed " + s.clock(s.renewedAt)
	case s.tokenExp.IsZero():
		return ""
	case s.TokenExpired():
		return s.st.Bad.Render("expired " + s.dayClock(s.tokenExp))
	case s.tokenExp.Sub(s.now) <= TokenWarnBefore:
		return s.st.Warn.Render("expires in " + shortDur(s.tokenExp.Sub(s.now)))
	default:
		return "expires " + s.dayClock(s.tokenExp)
	}
}

// shortDur formats d compactly: 850ms, 4s, 2m05s, 1h02m.
func shortDur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// lastClause keeps the cause of a wrapped error message ("dial tcp
// 127.0.0.1:3000: connect: connection refused" → "connection refused") so
// it fits a narrow panel.
func lastClause(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}
