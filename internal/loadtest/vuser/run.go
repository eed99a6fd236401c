// Package vuser runs scenario scripts: virtual users arrive by the
// script's phases, each opens its own Socket.IO connection and runs one
// weighted scenario's flow, and every step is counted and timed.
package vuser

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/scenario"
)

// Config describes one scenario run. Zero values are documented per field.
type Config struct {
	Script *scenario.Script
	// Target overrides the script's config.target (Artillery's -t).
	Target string
	// Token returns virtual user i's token (0-based); it becomes
	// {{ $token }}, the REST credential and, unless config.socketio.auth
	// says otherwise, the CONNECT auth {"token": …}. Required.
	Token func(i int) (string, error)
	// Dial opens connections. Required.
	Dial Dialer
	// PollingShare is the fraction (0–1) of virtual users that use
	// long-polling only, whatever config.socketio.transports says.
	PollingShare float64
	// Timeout bounds a connect and every domain step; zero means 10 s.
	Timeout time.Duration
	// LostAfter: a slot_update still owed this long when its user leaves
	// counts as lost, a younger one as left before delivery; zero means
	// 5 s.
	LostAfter time.Duration
	// Seed makes the run's random choices repeatable; zero means random.
	Seed uint64
	// Progress, when set, is called about once a second.
	Progress func(Progress)
}

// Progress is a snapshot while the run goes on.
type Progress struct {
	Phase     string        `json:"phase"`
	Elapsed   time.Duration `json:"elapsed"`
	Created   uint64        `json:"vusers_created"`
	Active    int64         `json:"vusers_active"`
	Completed uint64        `json:"vusers_completed"`
	Failed    uint64        `json:"vusers_failed"`
	Errors    uint64        `json:"errors"`
}

// ErrConfig wraps every error about an unusable Config.
var ErrConfig = errors.New("scenario run")

type runner struct {
	cfg      Config
	script   *scenario.Script
	target   string
	timeout  time.Duration
	rest     *client.REST
	stats    *stats
	ledger   *ledger
	series   *series
	errs     loadtest.ErrorCounts
	buffered bool // some step waits for events: keep a per-user buffer
	seed     uint64

	phase                      atomic.Int32
	created, completed, failed atomic.Uint64
	skipped                    atomic.Uint64
	active                     atomic.Int64
	connected                  atomic.Uint64
	phaseActive                []atomic.Int64
}

// Run executes the script and reports. It returns an error only when the
// run could not start; what went wrong while it ran is in the report. When
// ctx ends early the report is marked interrupted and returned with ctx's
// error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	user0, sys0, _ := loadtest.Rusage()
	start := time.Now()
	r.series = &series{start: start}

	progress := newProgressPhase(r, start)
	pctx, stopProgress := context.WithCancel(context.Background())
	pg := &errgroup.Group{}
	pg.Go(func() error { progress.run(pctx); return nil })

	runErr := r.arrivals(ctx)

	stopProgress()
	_ = pg.Wait()
	rep := r.report(start, time.Since(start), user0, sys0)
	rep.Interrupted = runErr != nil
	return rep, runErr
}

func newRunner(cfg Config) (*runner, error) {
	s := cfg.Script
	if s == nil || cfg.Token == nil || cfg.Dial == nil {
		return nil, fmt.Errorf("%w: script, token and dialer are required", ErrConfig)
	}
	target := cfg.Target
	if target == "" {
		target = s.Config.Target
	}
	if target == "" {
		return nil, fmt.Errorf("%w: no target: set config.target in the script or pass --target", ErrConfig)
	}
	if u, err := url.Parse(target); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		return nil, fmt.Errorf("%w: target %q is not an http(s) or ws(s) URL", ErrConfig, target)
	}
	if cfg.PollingShare < 0 || cfg.PollingShare > 1 {
		return nil, fmt.Errorf("%w: polling share %g is not within 0..1", ErrConfig, cfg.PollingShare)
	}
	r := &runner{cfg: cfg, script: s, target: target, timeout: cfg.Timeout, seed: cfg.Seed}
	if r.timeout <= 0 {
		r.timeout = 10 * time.Second
	}
	if r.seed == 0 {
		r.seed = rand.Uint64()
	}
	lost := cfg.LostAfter
	if lost <= 0 {
		lost = 5 * time.Second
	}
	r.ledger = newLedger(lost)
	// Users are filed under the transport they end on: the script's, and
	// polling when some start there (--polling-share) or may stay there
	// (an upgrade the server or a proxy refuses).
	transports := []string{transportOf(s.Config.SocketIO.Transports)}
	if transports[0] != "polling" && (cfg.PollingShare > 0 || slices.Contains(s.Config.SocketIO.Transports, "polling")) {
		transports = append(transports, "polling")
	}
	r.stats = newStats(s, transports)
	r.buffered = needsBuffer(s)
	r.rest = client.NewREST(restBase(target), "", client.WithMaxConnsPerHost(256), client.WithTimeout(r.timeout))
	r.phaseActive = make([]atomic.Int64, len(s.Config.Phases))
	return r, nil
}

// transportOf names the transport a connection ends on with these
// transports: websocket unless polling is the only one.
func transportOf(ts []string) string {
	if len(ts) == 1 && ts[0] == "polling" {
		return "polling"
	}
	return "websocket"
}

func restBase(target string) string {
	u, _ := url.Parse(target)
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery = "", ""
	return u.String()
}

func needsBuffer(s *scenario.Script) bool {
	var walk func([]*scenario.Step) bool
	walk = func(flow []*scenario.Step) bool {
		for _, st := range flow {
			if st.Kind == scenario.KindWaitFor || st.Emit != nil && st.Emit.Response != nil {
				return true
			}
			if st.Loop != nil && walk(st.Loop.Steps) {
				return true
			}
		}
		return false
	}
	for _, sc := range s.Scenarios {
		if walk(sc.Flow) {
			return true
		}
	}
	return false
}

// arrivals is the run's main phase: it owns the workers of every virtual
// user, starts them on the phases' schedule and waits until the last one
// has finished its flow.
func (r *runner) arrivals(ctx context.Context) error {
	users := newWorkers()
	schedErr := scenario.Schedule(ctx, r.script.Config.Phases,
		func(i int, _ scenario.Phase) { r.phase.Store(int32(i)) },
		func(a scenario.Arrival) {
			ph := r.script.Config.Phases[a.Phase]
			if ph.MaxVusers > 0 && r.phaseActive[a.Phase].Load() >= int64(ph.MaxVusers) {
				r.skipped.Add(1)
				return
			}
			r.phaseActive[a.Phase].Add(1)
			users.run(func() {
				defer r.phaseActive[a.Phase].Add(-1)
				r.runUser(ctx, a)
			})
		})
	users.wait()
	if schedErr != nil {
		return schedErr
	}
	return ctx.Err()
}

// runUser is one virtual user's life: connect, run the flow, close.
func (r *runner) runUser(ctx context.Context, a scenario.Arrival) {
	now := time.Now()
	r.created.Add(1)
	r.active.Add(1)
	r.series.add(now, func(s *second) { s.Created++ })
	defer func() {
		r.active.Add(-1)
	}()
	rng := rand.New(rand.NewPCG(r.seed, uint64(a.Index)))
	sc := r.script.Pick(rng)
	v := &vu{r: r, index: a.Index, rng: rng, holding: map[slotRef]bool{}}
	vars := r.script.NewVars(a.Index, rng)
	v.rend = &scenario.Renderer{Vars: vars, Rng: rng}
	err := r.connect(ctx, v)
	if err == nil {
		err = v.run(ctx, sc.Flow)
		v.closeAll()
		r.ledger.leaveAll(v, time.Now())
	}
	end := time.Now()
	switch {
	case err == nil:
		r.completed.Add(1)
		r.series.add(end, func(s *second) { s.Completed++ })
	case ctx.Err() != nil:
		// Interrupted users are neither completed nor failed.
	default:
		r.failed.Add(1)
		r.series.add(end, func(s *second) { s.Failed++ })
	}
}

func (r *runner) connect(ctx context.Context, v *vu) error {
	tok, err := r.cfg.Token(v.index)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	v.rend.Vars["$token"] = tok
	v.rest = r.rest.WithToken(tok)
	sio := r.script.Config.SocketIO
	o := DialOptions{URL: r.target, Path: sio.Path, Transports: sio.Transports, Timeout: r.timeout}
	if r.cfg.PollingShare > 0 && pollingPick(v.index, r.cfg.PollingShare) {
		o.Transports = []string{"polling"}
	}
	if sio.Auth != nil {
		o.Auth = v.rend.Render(sio.Auth)
	} else {
		o.Auth = map[string]any{"token": tok}
	}
	if len(sio.Query) > 0 {
		o.Query = url.Values{}
		for k, val := range sio.Query {
			o.Query.Set(v.rend.String(k), v.rend.String(val))
		}
	}
	if len(sio.ExtraHeaders) > 0 {
		o.Header = http.Header{}
		for k, val := range sio.ExtraHeaders {
			o.Header.Set(k, v.rend.String(val))
		}
	}
	o.OnEvent = v.onEvent
	v.dial = o
	v.tr = transportOf(o.Transports)
	start := time.Now()
	v.lastStart = start
	conn, err := r.cfg.Dial(ctx, o)
	end := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		kind := connectKind(err)
		r.errs.Add(stepConnect + ": " + kind)
		r.stats.record(stepConnect, v.tr, outError, 0, kind)
		r.series.action(end, 0, true)
		return err
	}
	v.conn = conn
	v.tr = conn.Transport()
	r.connected.Add(1)
	r.stats.record(stepConnect, v.tr, outOK, end.Sub(start), "")
	r.series.action(end, end.Sub(start), false)
	return nil
}

// pollingPick spreads polling users evenly: user i polls when the share's
// running count crosses a whole number at i.
func pollingPick(i int, share float64) bool {
	return int(float64(i+1)*share) > int(float64(i)*share)
}

// connectKind classifies a failed connect; a refusal carries the
// server's reason.
func connectKind(err error) string {
	var ce interface{ ConnectMessage() string }
	if errors.As(err, &ce) {
		return "refused: " + ce.ConnectMessage()
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "failed"
}
