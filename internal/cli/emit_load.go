package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/loadtest"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/spf13/cobra"
)

// EmitLoadOptions are the flags of `coworkctl emit load`.
type EmitLoadOptions struct {
	F    *Factory
	Conn ConnFlags

	Clients        int
	ConnectRate    float64
	Transport      string
	PollingShare   float64
	Rooms          int
	Duration       time.Duration
	Rate           float64
	Payload        int
	Event          string
	Churn          float64
	ChurnHold      time.Duration
	ChurnDate      string
	Drain          time.Duration
	UserBase       int64
	StaffRole      string
	ConnectTimeout time.Duration

	MaxP99         time.Duration
	MaxLoss        float64
	MaxConnectFail float64

	// Scenario is a script file (Artillery-shaped); it replaces the
	// fixed connect → traffic → drain run. Target overrides its
	// config.target, Seed its random choices (0: random).
	Scenario   string
	Target     string
	Seed       uint64
	Thresholds []string

	JSON       bool
	NoProgress bool
	// Report and CSV are files for the HTML report and the per-second
	// series; empty writes none.
	Report string
	CSV    string
}

// NewCmdEmitLoad runs a load test and reports latency, loss, throughput and
// the generator's own cost; thresholds turn it into a CI gate.
func NewCmdEmitLoad(f *Factory, runF func(context.Context, *EmitLoadOptions) error) *cobra.Command {
	o := &EmitLoadOptions{F: f}
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load test: many clients, room broadcasts and hold churn, with latency and loss",
		Long: `Open --clients Socket.IO connections at --connect-rate, spread them over
--rooms space rooms, then for --duration send --rate room broadcasts per second
through POST /api/admin/emit (each carries its sequence number and scheduled
send time in data) and/or --churn hold→release cycles per second by the
virtual users. Then wait up to --drain for messages in flight and report:

  delivery latency per message (p50, p90, p99, p99.9, max), measured from the
  scheduled send time, so a slow endpoint cannot hide behind a lower rate;
  expected vs delivered messages (expected = clients the generator itself
  joined to the target room when it sent), loss, duplicates, messages/s;
  connect time percentiles; hold/release latency and throughput, and the delay
  until the resulting slot_update reaches the room; errors by kind; and the
  generator's own CPU time, so you can tell whether it measured the server.

Credentials: with --jwt-secret every virtual user gets its own token
(id_utente --user-base + i, ruolo --role) and broadcasts use a --staff-role
token; with --token that one token is used for everything (it must be staff
for the broadcasts).

The summary ends with a histogram of delivery latency in text bars.
--report FILE.html also writes the report as one self-contained HTML page
(no script, stylesheet or font to fetch): configuration, summary, latency
histogram, per-second charts of delivered messages and of p50/p99 latency,
errors by kind. --csv FILE writes the per-second series: second, phase,
connects, sent, delivered, p50_ms, p99_ms, max_ms, errors, holds.

--scenario FILE.yml replaces that fixed run with virtual users scripted in
Artillery's shape: config.target (--target overrides it), config.phases,
config.payload, config.variables, config.socketio and weighted scenarios
whose flow has emit (with acknowledge or response), think, loop, join, hold,
book, release, leave and wait_for. Its report has Artillery's vusers.created,
completed and failed, every step's count, errors and latency, and the
slot_update ledger.

Thresholds (exit code 3 when breached): --threshold 'figure<limit'
(repeatable; < <= > >= == !=) on any figure of the report, in both runs, e.g.
'delivery.p99<50ms', 'delivery.lost==0', 'connect.failed==0', 'hold.p99<50ms',
'errors.rate<0.1%', and with --scenario 'vusers.failed==0'; a figure the run
does not report fails and names those it has. The fixed run also has
--max-p99, --max-loss and --max-connect-failures. Every threshold is listed
with its value in the summary, --json and --report. A run that measured
nothing exits 1 whatever the thresholds: no client connected and joined,
every broadcast failed, or no churn hold succeeded; refusals name the
server's reason (for example connect_refused: Token non valido). --json
prints the report as one JSON object, with the run second by second under
"series".`,
		Example: `  coworkctl emit load --jwt-secret "$SECRET" --clients 1000 --rooms 8 --rate 100 --duration 30s
  coworkctl emit load --token "$STAFF" --clients 200 --polling-share 0.2 --churn 20 --duration 1m
  coworkctl emit load --jwt-secret "$SECRET" --clients 50 --duration 5s --json --max-p99 50ms --max-loss 0
  coworkctl emit load --jwt-secret "$SECRET" --clients 50 --duration 5s --threshold 'delivery.p99<50ms' --threshold 'delivery.lost==0'
  coworkctl emit load --jwt-secret "$SECRET" --duration 10m --report load.html --csv load.csv
  coworkctl emit load --scenario bench/scenarios/coworking.yml --target http://127.0.0.1:3000 \
    --jwt-secret "$SECRET" --threshold 'hold.p99<50ms' --threshold 'vusers.failed==0'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEmitLoad(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleCliente)
	fl.IntVar(&o.Clients, "clients", 100, "number of Socket.IO connections (virtual users)")
	fl.Float64Var(&o.ConnectRate, "connect-rate", 500, "new connections per second (0: as fast as possible)")
	fl.StringVar(&o.Transport, "transport", sioclient.TransportWebSocket, "transport of every client: websocket or polling (see --polling-share)")
	fl.Float64Var(&o.PollingShare, "polling-share", 0, "fraction 0..1 of clients that use long-polling instead of websocket")
	fl.IntVar(&o.Rooms, "rooms", 4, "number of space rooms the clients are spread over")
	fl.DurationVar(&o.Duration, "duration", 10*time.Second, "length of the traffic phase")
	fl.Float64Var(&o.Rate, "rate", 10, "room broadcasts per second through the staff endpoint (0: none)")
	fl.IntVar(&o.Payload, "payload", 200, "approximate bytes of each broadcast's data")
	fl.StringVar(&o.Event, "event", "loadtest", "event name of the broadcasts")
	fl.Float64Var(&o.Churn, "churn", 0, "hold→release cycles per second by virtual users (0: none)")
	fl.DurationVar(&o.ChurnHold, "churn-hold", 250*time.Millisecond, "how long a churn hold lasts before its release")
	fl.StringVar(&o.ChurnDate, "churn-date", "", "first date of churn holds, YYYY-MM-DD (default tomorrow; holds spread over 28 days)")
	fl.DurationVar(&o.Drain, "drain", 5*time.Second, "how long to wait for messages in flight after the traffic phase")
	fl.Int64Var(&o.UserBase, "user-base", 100000, "id_utente of the first minted virtual user")
	fl.StringVar(&o.StaffRole, "staff-role", auth.RoleAdmin, "ruolo of the minted broadcast token")
	fl.DurationVar(&o.ConnectTimeout, "connect-timeout", 10*time.Second, "per-client handshake and join timeout")
	fl.DurationVar(&o.MaxP99, "max-p99", 0, "fail (exit 3) when p99 delivery latency exceeds this (0: off)")
	fl.Float64Var(&o.MaxLoss, "max-loss", -1, "fail (exit 3) when the lost fraction of deliveries exceeds this, e.g. 0 or 0.001 (negative: off)")
	fl.Float64Var(&o.MaxConnectFail, "max-connect-failures", -1, "fail (exit 3) when the fraction of clients that failed to connect or join exceeds this (negative: off)")
	fl.StringVar(&o.Scenario, "scenario", "", "run the virtual users of this scenario `file` (YAML, Artillery-shaped) instead of the fixed run")
	fl.StringVar(&o.Target, "target", "", "with --scenario: server URL, overriding the script's config.target (like artillery -t)")
	fl.Uint64Var(&o.Seed, "seed", 0, "with --scenario: seed of the random choices (scenario weights, think times, variables); 0 is random")
	fl.StringArrayVar(&o.Thresholds, "threshold", nil, "fail (exit 3) unless `figure<limit` holds, e.g. 'delivery.p99<50ms', 'connect.failed==0', 'hold.p99<50ms', 'errors.rate<0.1%', with --scenario 'vusers.failed==0' (repeatable)")
	fl.BoolVar(&o.JSON, "json", false, "print the report as one JSON object")
	fl.BoolVar(&o.NoProgress, "no-progress", false, "no progress line on a terminal")
	fl.StringVar(&o.Report, "report", "", "also write the report as a self-contained HTML `file` with charts")
	fl.StringVar(&o.CSV, "csv", "", "also write the per-second series as a CSV `file`")
	return cmd
}

func runEmitLoad(ctx context.Context, o *EmitLoadOptions) error {
	if o.Scenario != "" {
		return runEmitScenario(ctx, o)
	}
	server, err := o.Conn.ServerURL()
	if err != nil {
		return err
	}
	if !o.Conn.HasCredentials() {
		return UsageErrorf("no credentials: pass --jwt-secret (a token per virtual user) or --token (one staff token for everything)")
	}
	share := o.PollingShare
	switch o.Transport {
	case sioclient.TransportWebSocket:
	case sioclient.TransportPolling:
		share = 1
	default:
		return UsageErrorf("--transport must be websocket or polling, got %q", o.Transport)
	}
	if o.MaxLoss > 1 {
		return UsageErrorf("--max-loss is a fraction 0..1, got %g", o.MaxLoss)
	}
	ths, err := parseThresholds(o.Thresholds)
	if err != nil {
		return err
	}
	if o.Report != "" && o.Report == o.CSV {
		return UsageErrorf("--report and --csv name the same file %q", o.Report)
	}
	cfg := loadtest.Config{
		Server: server, Clients: o.Clients, ConnectRate: o.ConnectRate, PollingShare: share,
		Rooms: o.Rooms, Duration: o.Duration, Rate: o.Rate, Payload: o.Payload, Event: o.Event,
		Churn: o.Churn, ChurnHold: o.ChurnHold, ChurnDate: o.ChurnDate, Drain: o.Drain,
		ConnectTimeout: o.ConnectTimeout,
	}
	if o.Conn.Token != "" {
		tok := o.Conn.Token
		cfg.ClientToken = func(int) (string, error) { return tok, nil }
		cfg.StaffToken = tok
	} else {
		if _, err := o.Conn.MintFor(o.UserBase, o.Conn.Role); err != nil {
			return UsageErrorf("mint virtual-user tokens: %v", err)
		}
		cfg.ClientToken = func(i int) (string, error) { return o.Conn.MintFor(o.UserBase+int64(i), o.Conn.Role) }
		if cfg.StaffToken, err = o.Conn.MintFor(o.Conn.UserID, o.StaffRole); err != nil {
			return UsageErrorf("mint staff token: %v", err)
		}
	}
	// Create the files now: a long run must not end in an unwritable path.
	files, err := createReportFiles(o.Report, o.CSV)
	if err != nil {
		return err
	}
	defer files.discard()
	var prog *progressLine
	if !o.NoProgress && isTerminalWriter(o.F.ErrOut) {
		prog = &progressLine{w: o.F.ErrOut}
		cfg.Progress = prog.update
	}
	rep, err := loadtest.Run(ctx, cfg)
	if prog != nil {
		prog.clear()
	}
	if err != nil {
		if rep == nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return usageOrRun(err)
		}
		// Interrupted: still show what was measured.
	}
	rep.Check(o.MaxP99, o.MaxLoss, o.MaxConnectFail, ths...)
	if o.JSON {
		if werr := writeJSON(o.F.Out, rep); werr != nil {
			return werr
		}
	} else if werr := rep.WriteTable(o.F.Out); werr != nil {
		return werr
	}
	if werr := files.write(rep, o.F.ErrOut); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if len(rep.Failures) > 0 {
		return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("load test failed: %s", strings.Join(rep.Failures, "; "))}
	}
	if !rep.Pass {
		return &ExitCodeError{Code: ExitThreshold, Err: fmt.Errorf("threshold breached: %s", strings.Join(rep.Thresholds.Breached, "; "))}
	}
	return nil
}

// reportFiles are the --report and --csv files, created before the run.
type reportFiles struct {
	html, csv *os.File
}

func createReportFiles(htmlPath, csvPath string) (*reportFiles, error) {
	f := &reportFiles{}
	var err error
	if htmlPath != "" {
		if f.html, err = os.Create(htmlPath); err != nil {
			return nil, fmt.Errorf("--report: %w", err)
		}
	}
	if csvPath != "" {
		if f.csv, err = os.Create(csvPath); err != nil {
			f.discard()
			return nil, fmt.Errorf("--csv: %w", err)
		}
	}
	return f, nil
}

// write fills and closes the files and says where they are on stderr.
func (f *reportFiles) write(rep *loadtest.Report, errOut io.Writer) error {
	return f.fill(func(w io.Writer) error {
		return rep.WriteHTML(w, loadtest.HTMLOptions{Generator: VersionString()})
	}, rep.WriteCSV, errOut)
}

// fill writes the HTML report and the per-second CSV with the given
// writers, closes both files and says where they are on stderr.
func (f *reportFiles) fill(html, csv func(io.Writer) error, errOut io.Writer) error {
	if f.html != nil {
		file := f.html
		f.html = nil
		bw := bufio.NewWriter(file)
		err := html(bw)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write --report %s: %w", file.Name(), err)
		}
		fmt.Fprintf(errOut, "HTML report: %s\n", file.Name())
	}
	if f.csv != nil {
		file := f.csv
		f.csv = nil
		err := csv(file)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write --csv %s: %w", file.Name(), err)
		}
		fmt.Fprintf(errOut, "per-second CSV: %s\n", file.Name())
	}
	return nil
}

// discard removes files not written: a run that never started leaves no
// empty report behind.
func (f *reportFiles) discard() {
	for _, file := range []*os.File{f.html, f.csv} {
		if file != nil {
			_ = file.Close()
			_ = os.Remove(file.Name())
		}
	}
	f.html, f.csv = nil, nil
}

// usageOrRun maps configuration errors of the load test to usage errors.
func usageOrRun(err error) error {
	if errors.Is(err, loadtest.ErrConfig) {
		return usageError{err}
	}
	return err
}

// progressLine redraws one status line on a terminal.
type progressLine struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progressLine) update(s loadtest.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K%-7s %5.1fs  conns %d/%d  sent %d  delivered %d  p99 %s  holds %d  errors %d  gen cpu %.1fs",
		s.Phase, s.Elapsed.Seconds(), s.Connected, s.Target, s.Sent, s.Delivered, s.P99.Round(100*time.Microsecond), s.Holds, s.Errors, s.Generator.Seconds())
}

func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K")
}
