package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/tui"
	"github.com/spf13/cobra"
)

// WatchOptions are the flags and dependencies of `coworkctl watch`.
type WatchOptions struct {
	F    *Factory
	Conn ConnFlags
	// Spaces are SPAZIO@SEDE values; empty means the catalog's spaces.
	Spaces []string
	// Sede picks all spazi of one sede when Spaces is empty; zero means the
	// first sede of the catalog.
	Sede int64
	// Date is YYYY-MM-DD; "" means today in the first space's zone.
	Date string
	// JSON forces NDJSON output; it is automatic when stdout is not a terminal.
	JSON bool
	// Count exits after that many server events; zero means never.
	Count int
	// Timeout exits after that long, counted from the start (connecting
	// included); zero means never.
	Timeout time.Duration
	// ConnectTimeout bounds the initial connection (catalog + socket).
	ConnectTimeout time.Duration
	// Transports is websocket, both or polling.
	Transports string
	// NoReconnect makes the first disconnect final.
	NoReconnect bool
	// TokenFile holds the token when --token is not given; T with an
	// empty prompt reads it again.
	TokenFile string
	// LogFile receives the connection's history (reconnects, refused
	// tokens, renewals) and, while the dashboard runs, stderr (library
	// noise); "" discards both.
	LogFile string
}

// NewCmdWatch builds `coworkctl watch`.
func NewCmdWatch(f *Factory, runF func(*WatchOptions) error) *cobra.Command {
	o := &WatchOptions{F: f}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Live terminal dashboard of slot grids, stats and events",
		Long: `watch connects to a coworkctl server as a Socket.IO client, joins the rooms of
the chosen spaces and shows, live: the slot grid of the day (colour and symbol
per status, a countdown on held slots, changed cells highlighted), the
connection (state, transport, round trip, events per second, staleness; with a
staff token the server's own stats) and a log of every event.

Without --space it watches every spazio of --sede (default: the first sede of
GET /api/sedi). It reconnects with backoff after a restart or network loss,
falls back to polling+websocket when websocket keeps failing, and re-joins
every room (the server answers with fresh snapshots).

When stdout is not a terminal, or with --json, it prints one JSON object per
line instead, the shape of emit socket --json: {"event","room","data","args",
"time","at"} for server events and {"event":"connection","data":{"state":...}}
for connection changes.
--count counts server events only.

A token minted with --jwt-secret is renewed at 80% of its life (--token-ttl)
without dropping the session; a --token is announced 5 and 1 minutes before
it expires.`,
		Example: `  coworkctl watch --server http://localhost:3000 --token $TOKEN
  coworkctl watch --jwt-secret s3cret --role admin --sede 2 --date 2026-12-01
  coworkctl watch --space 1@1 --space 3@1 --json --count 10 | jq .event
  coworkctl watch --space 1@1 --timeout 30s > events.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runWatch(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleAdmin)
	fl.StringArrayVar(&o.Spaces, "space", nil, "space to watch as SPAZIO@SEDE, e.g. 3@1 (repeatable)")
	fl.Int64Var(&o.Sede, "sede", 0, "watch every spazio of this sede (default: the catalog's first sede)")
	fl.StringVar(&o.Date, "date", "", "day to show, YYYY-MM-DD (default: today)")
	fl.BoolVar(&o.JSON, "json", false, "print NDJSON events instead of the dashboard (automatic when stdout is not a terminal)")
	fl.IntVar(&o.Count, "count", 0, "exit after this many server events (0: never)")
	fl.DurationVar(&o.Timeout, "timeout", 0, "exit after this long, e.g. 30s (0: never)")
	fl.DurationVar(&o.ConnectTimeout, "connect-timeout", 10*time.Second, "give up if the first connection takes longer")
	fl.StringVar(&o.Transports, "transports", sioclient.TransportWebSocket, "websocket, both (polling upgraded to websocket) or polling")
	fl.BoolVar(&o.NoReconnect, "no-reconnect", false, "exit on the first disconnect instead of reconnecting")
	fl.StringVar(&o.TokenFile, "token-file", "", "read the token from this `file` (e.g. serve --token-file's); T with an empty prompt reads it again")
	fl.StringVar(&o.LogFile, "log-file", "", "append diagnostics here: reconnects, refused tokens, renewals (default: discard)")
	return cmd
}

// validate checks flags that need no network.
func (o *WatchOptions) validate() error {
	if o.Date != "" {
		if _, err := time.Parse(protocol.DateLayout, o.Date); err != nil {
			return UsageErrorf("--date %q: want YYYY-MM-DD", o.Date)
		}
	}
	if o.Count < 0 {
		return UsageErrorf("--count must be >= 0, got %d", o.Count)
	}
	if o.Timeout < 0 || o.ConnectTimeout <= 0 {
		return UsageErrorf("--timeout must be >= 0 and --connect-timeout > 0")
	}
	switch o.Transports {
	case sioclient.TransportWebSocket, client.TransportBoth, sioclient.TransportPolling:
	default:
		return UsageErrorf("--transports %q: want websocket, both or polling", o.Transports)
	}
	if o.Sede < 0 {
		return UsageErrorf("--sede must be a positive id")
	}
	if o.Sede > 0 && len(o.Spaces) > 0 {
		return UsageErrorf("--sede and --space are exclusive")
	}
	for _, s := range o.Spaces {
		if _, _, err := client.ParseSpace(s); err != nil {
			return UsageErrorf("--space: %v", err)
		}
	}
	return nil
}

func runWatch(ctx context.Context, o *WatchOptions) (err error) {
	if err := o.validate(); err != nil {
		return err
	}
	server, err := o.Conn.ServerURL()
	if err != nil {
		return err
	}
	if o.TokenFile != "" && o.Conn.Token == "" {
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return UsageErrorf("--token-file: %v", err)
		}
		o.Conn.Token = strings.TrimSpace(string(b))
	}
	token, err := o.Conn.ResolveToken()
	if err != nil {
		return err
	}
	logger, closeLog, err := openWatchLog(o.LogFile)
	if err != nil {
		return fmt.Errorf("--log-file: %w", err)
	}
	defer closeLog()
	logger.Info("watch started", "server", server, "transports", o.Transports, "spaces", strings.Join(o.Spaces, " "), "sede", o.Sede)
	defer func() {
		if err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("watch stopped", "err", err)
		} else {
			logger.Info("watch stopped")
		}
	}()

	// --timeout bounds the whole run, the first connection included.
	start := time.Now()
	setup, setupFlag := o.ConnectTimeout, "--connect-timeout"
	if o.Timeout > 0 && o.Timeout < setup {
		setup, setupFlag = o.Timeout, "--timeout"
	}
	cctx, cancel := context.WithTimeout(ctx, setup)
	defer cancel()
	rest := client.NewREST(server, token, client.WithTimeout(setup))
	spaces, sedi, err := o.chooseSpaces(cctx, rest, server, setup)
	if err != nil {
		return err
	}
	date := o.Date
	if date == "" {
		date = time.Now().In(zoneOf(spaces)).Format(protocol.DateLayout)
	}

	sockOpts := client.SocketOptions{
		Server: server, Token: token, Transports: o.Transports, Reconnect: !o.NoReconnect, Logger: logger,
	}
	sock, err := client.Dial(cctx, sockOpts)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if exp := expiredTokenError(tokenExpiry(token), time.Now()); exp != nil && isRejected(err) {
			return fmt.Errorf("server rejected the token: %w", exp)
		}
		return describeConnectError(server, setup, err)
	}
	for _, s := range spaces {
		if _, err := sock.JoinSpace(cctx, s.SpazioID, s.SedeID, date); err != nil {
			if ctx.Err() == nil && cctx.Err() != nil {
				return fmt.Errorf("watch %d@%d: no answer to join_space within %s (%s)", s.SpazioID, s.SedeID, setup, setupFlag)
			}
			return fmt.Errorf("watch %d@%d: %w", s.SpazioID, s.SedeID, err)
		}
	}
	cancel()

	// What is left of --timeout after connecting.
	left := time.Duration(0)
	if o.Timeout > 0 {
		left = max(o.Timeout-time.Since(start), time.Millisecond)
	}
	// A minted token is renewed before it expires (REST stats and the
	// socket alike); a given one is watched for its expiry.
	restNow := &atomic.Pointer[client.REST]{}
	restNow.Store(rest)
	jsonOut := o.JSON || o.F.IsTerminal == nil || !o.F.IsTerminal()
	// NDJSON reads the socket itself; the dashboard reads it through a
	// connection that a new token (T) can replace.
	var conn *swapConn
	renew := func(tok string) {
		restNow.Store(restNow.Load().WithToken(tok))
		sock.Renew(tok)
	}
	if jsonOut {
		defer sock.Close()
	} else {
		conn = newSwapConn(sock, sockOpts, restNow, o.TokenFile)
		defer conn.Close()
		renew = conn.Renew
	}
	exp := tokenExpiry(token)
	if o.Conn.Token == "" {
		exp = time.Time{}
		renewer := tokenRenewer{
			mint:  func() (string, error) { return o.Conn.MintFor(o.Conn.UserID, o.Conn.Role) },
			apply: renew,
			log:   logger,
		}
		// Joined before the socket closes (defers run last first).
		defer renewer.start(ctx, token)()
	}

	if jsonOut {
		return runWatchJSON(ctx, o, sock, left, exp, logger)
	}
	api := watchAPI{rest: restNow}
	return runWatchTUI(ctx, o, tui.Config{
		Server: server, Spaces: spaces, Date: date, Conn: conn, Timeout: left, TokenExpires: exp, SetToken: conn.SetToken,
		Location: zoneOf(spaces), Count: o.Count, Staff: tokenStaff(token),
		Stats: api.stats, History: api.history, Cancel: api.cancel, Slots: api.slots, Sedi: tuiSedi(sedi),
	})
}

// detailHistory is how many changes of a slot the detail pane shows.
const detailHistory = 8

// watchAPI gives the dashboard the REST calls it makes, always with the
// current (possibly renewed) token.
type watchAPI struct{ rest *atomic.Pointer[client.REST] }

func (a watchAPI) stats(ctx context.Context) (*protocol.Stats, error) {
	return a.rest.Load().Stats(ctx)
}

func (a watchAPI) history(ctx context.Context, spazioID int64, date string, slot int) ([]protocol.AuditEntry, error) {
	h, err := a.rest.Load().History(ctx, spazioID, date, client.HistoryQuery{Slot: slot, Limit: detailHistory})
	return h.Entries, err
}

func (a watchAPI) cancel(ctx context.Context, slot int, req protocol.SlotCancelRequest) (*protocol.SlotCancelResponse, error) {
	return a.rest.Load().Cancel(ctx, slot, req)
}

func (a watchAPI) slots(ctx context.Context, spazioID int64, date string) (protocol.SlotsList, error) {
	return a.rest.Load().Slots(ctx, spazioID, date)
}

// tuiSedi turns the catalog into the dashboard's sedi.
func tuiSedi(sedi []protocol.Sede) []tui.Sede {
	out := make([]tui.Sede, 0, len(sedi))
	for _, se := range sedi {
		s := tui.Sede{ID: se.IDSede, Name: se.Nome}
		for _, sp := range se.Spazi {
			s.Spaces = append(s.Spaces, spaceOf(se, sp))
		}
		out = append(out, s)
	}
	return out
}

// openWatchLog returns the logger of --log-file (appending), or one that
// discards when path is "".
func openWatchLog(path string) (*slog.Logger, func(), error) {
	if path == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { _ = f.Close() }, nil
}

// isRejected reports whether err is the server refusing the token.
func isRejected(err error) bool {
	var ce *sioclient.ConnectError
	return errors.As(err, &ce)
}

// chooseSpaces resolves --space/--sede against the catalog. With --space
// the catalog only adds names, so a server without GET /api/sedi still
// works; an unreachable server fails here, fast and in one line.
func (o *WatchOptions) chooseSpaces(ctx context.Context, rest *client.REST, server string, timeout time.Duration) ([]tui.Space, []protocol.Sede, error) {
	sedi, err := rest.Sedi(ctx)
	if err != nil {
		var ae *client.APIError
		if !errors.As(err, &ae) {
			if re := cannotReach(server, timeout, err); re != nil {
				return nil, nil, re
			}
			return nil, nil, fmt.Errorf("list spaces: %w", err)
		}
		if len(o.Spaces) == 0 {
			return nil, nil, fmt.Errorf("list spaces (pass --space SPAZIO@SEDE to skip the catalog): %w", err)
		}
		sedi = nil
	}
	spaces, err := o.pickSpaces(sedi)
	return spaces, sedi, err
}

// pickSpaces chooses the rows from the catalog (nil: unknown).
func (o *WatchOptions) pickSpaces(sedi []protocol.Sede) ([]tui.Space, error) {
	if len(o.Spaces) > 0 {
		var out []tui.Space
		for _, s := range o.Spaces {
			sp, se, _ := client.ParseSpace(s)
			space, ok := findSpace(sedi, sp, se)
			if !ok && sedi != nil {
				return nil, UsageErrorf("--space %s is not in the catalog; known: %s", s, knownSpaces(sedi))
			}
			out = append(out, space)
		}
		return out, nil
	}
	if len(sedi) == 0 {
		return nil, errors.New("the server's catalog has no sedi; pass --space SPAZIO@SEDE")
	}
	sede := sedi[0]
	if o.Sede > 0 {
		found := false
		for _, s := range sedi {
			if s.IDSede == o.Sede {
				sede, found = s, true
			}
		}
		if !found {
			return nil, UsageErrorf("--sede %d is not in the catalog; known: %s", o.Sede, knownSedi(sedi))
		}
	}
	if len(sede.Spazi) == 0 {
		return nil, fmt.Errorf("sede %d (%s) has no spazi", sede.IDSede, sede.Nome)
	}
	var out []tui.Space
	for _, sp := range sede.Spazi {
		out = append(out, spaceOf(sede, sp))
	}
	return out, nil
}

func findSpace(sedi []protocol.Sede, spazioID, sedeID int64) (tui.Space, bool) {
	for _, se := range sedi {
		for _, sp := range se.Spazi {
			if sp.IDSpazio == spazioID && (sp.IDSede == sedeID || (sp.IDSede == 0 && se.IDSede == sedeID)) {
				return spaceOf(se, sp), true
			}
		}
	}
	return tui.Space{SpazioID: spazioID, SedeID: sedeID, Open: "09:00", Close: "18:00"}, false
}

func spaceOf(se protocol.Sede, sp protocol.Spazio) tui.Space {
	s := tui.Space{SpazioID: sp.IDSpazio, SedeID: se.IDSede, Name: sp.Nome, Sede: se.Nome,
		Open: se.OrarioApertura, Close: se.OrarioChiusura}
	if s.Open == "" {
		s.Open = "09:00"
	}
	if s.Close == "" {
		s.Close = "18:00"
	}
	if se.Timezone != "" {
		if loc, err := time.LoadLocation(se.Timezone); err == nil {
			s.Location = loc
		}
	}
	return s
}

func knownSpaces(sedi []protocol.Sede) string {
	var ids []string
	for _, se := range sedi {
		for _, sp := range se.Spazi {
			ids = append(ids, fmt.Sprintf("%d@%d", sp.IDSpazio, se.IDSede))
		}
	}
	return strings.Join(ids, " ")
}

func knownSedi(sedi []protocol.Sede) string {
	var ids []string
	for _, se := range sedi {
		ids = append(ids, fmt.Sprintf("%d (%s)", se.IDSede, se.Nome))
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

func zoneOf(spaces []tui.Space) *time.Location {
	if len(spaces) > 0 && spaces[0].Location != nil {
		return spaces[0].Location
	}
	return time.Local
}

// netReason shortens a transport error to its cause ("connection
// refused", "no such host") for a one-line message.
func netReason(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "unknown host " + dns.Name
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		msg := op.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return msg
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// describeConnectError turns a Dial failure into one line.
func describeConnectError(server string, timeout time.Duration, err error) error {
	var ce *sioclient.ConnectError
	switch {
	case errors.As(err, &ce):
		msg := "server rejected the token: " + ce.Message
		if ce.Code() != "" {
			msg += " (" + ce.Code() + ")"
		}
		return errors.New(msg)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("could not connect to %s within %s (%v)", server, timeout, err)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		if re := cannotReach(server, timeout, err); re != nil {
			return re
		}
	}
	return fmt.Errorf("connect to %s: %w", server, err)
}

// runWatchTUI runs the dashboard of cfg until q, Ctrl-C, --count or
// --timeout (cfg.Timeout is what is left of it; zero: none).
func runWatchTUI(ctx context.Context, o *WatchOptions, cfg tui.Config) error {
	restore, err := redirectStderr(o.LogFile)
	if err != nil {
		return fmt.Errorf("--log-file: %w", err)
	}
	defer restore()
	renderer := tui.NewRenderer(o.F.Out, tui.ColorWanted(o.F.Getenv))
	cfg.Renderer = renderer
	model := tui.New(cfg)
	p := tea.NewProgram(model, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithInput(o.F.In), tea.WithOutput(o.F.Out))
	if _, err := p.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
