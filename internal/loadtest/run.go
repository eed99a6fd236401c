package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"golang.org/x/sync/errgroup"
)

// Space is one spazio whose room clients join.
type Space struct {
	SpazioID int64 `json:"spazioId"`
	SedeID   int64 `json:"sedeId"`
	// Slots is the number of hourly slots per day (churn picks among
	// them); zero means 9 (09:00–18:00).
	Slots int `json:"slots,omitempty"`
}

// Room returns the Socket.IO room of s.
func (s Space) Room() string { return protocol.SpaceRoom(s.SpazioID, s.SedeID) }

// Config describes one load test. Zero values are documented per field.
type Config struct {
	// Server is the http(s) base URL.
	Server string
	// Clients is the number of Socket.IO connections (virtual users).
	Clients int
	// ConnectRate is new connections per second; zero means as fast as
	// possible (at most 256 handshakes in flight).
	ConnectRate float64
	// PollingShare is the fraction (0–1) of clients that use long-polling
	// instead of websocket.
	PollingShare float64
	// Rooms is how many space rooms the clients are spread over (client i
	// joins room i mod Rooms); zero means 1.
	Rooms int
	// Spaces lists candidate spaces; nil means GET /api/sedi, or the demo
	// catalog when the server has no such route.
	Spaces []Space
	// Duration of the traffic phase.
	Duration time.Duration
	// Rate is room broadcasts per second through POST /api/admin/emit,
	// spread round-robin over the rooms; zero sends none.
	Rate float64
	// Payload is the approximate size in bytes of each broadcast's data.
	Payload int
	// Event is the broadcast event name; empty means "loadtest".
	Event string
	// Churn is hold→release cycles per second by virtual users; zero
	// means none.
	Churn float64
	// ChurnHold is how long a churn hold lasts before its release.
	ChurnHold time.Duration
	// ChurnDate is the first date churn holds land on (YYYY-MM-DD); they
	// spread over ChurnDays days from there. Empty means tomorrow.
	ChurnDate string
	// ChurnDays spreads holds over this many days; zero means 28.
	ChurnDays int
	// Drain is how long to wait after the traffic phase for messages
	// still in flight; zero means 5 s.
	Drain time.Duration
	// MaxInflight bounds concurrent broadcast and churn requests; zero
	// means 128.
	MaxInflight int
	// ConnectTimeout bounds one client's handshake and join; zero means 10 s.
	ConnectTimeout time.Duration
	// ClientToken returns the token of virtual user i (0-based) and the
	// user id it carries (0 when unknown). Required.
	ClientToken func(i int) (string, error)
	// StaffToken authenticates broadcasts. Empty means the first client's.
	StaffToken string
	// Progress, when set, is called about once a second from its own
	// goroutine.
	Progress func(Progress)
}

// Progress is a snapshot while the test runs.
type Progress struct {
	Phase      string        `json:"phase"`
	Elapsed    time.Duration `json:"elapsed"`
	Connected  int64         `json:"connected"`
	Target     int           `json:"target"`
	Sent       uint64        `json:"sent"`
	Delivered  uint64        `json:"delivered"`
	P99        time.Duration `json:"p99"`
	Holds      uint64        `json:"holds"`
	Errors     uint64        `json:"errors"`
	Generator  time.Duration `json:"generator_cpu"`
	Goroutines int           `json:"goroutines"`
}

// Phases reported through Progress.
const (
	PhaseConnect = "connect"
	PhaseTraffic = "traffic"
	PhaseDrain   = "drain"
)

const (
	defaultEvent    = "loadtest"
	seqKey          = `"lt_seq":`
	tsKey           = `"lt_us":`
	slotUpdateEvent = protocol.EventSlotUpdate
)

type vu struct {
	index  int
	token  string
	room   int
	joined atomic.Bool
	conn   *sioclient.Conn
}

type runner struct {
	cfg          Config
	spaces       []Space
	epoch        time.Time
	trafficStart time.Time

	vus        []*vu
	members    []atomic.Int64
	connected  atomic.Int64
	closing    atomic.Bool
	phase      atomic.Value // PhaseConnect, PhaseTraffic or PhaseDrain
	bcastStart []byte       // `["<event>",`
	slotStart  []byte       // `["slot_update",`

	ledger    *Ledger
	timeline  *timeline
	latency   Histogram
	connectH  Histogram
	adminH    Histogram
	holdH     Histogram
	releaseH  Histogram
	updateH   Histogram
	delivered atomic.Uint64
	sent      atomic.Uint64
	lastRecv  atomic.Int64 // µs since epoch

	holdsOK, holdsConflict, holdsLimited, releasesOK atomic.Uint64
	updatesExpected, updatesDelivered                atomic.Uint64
	pendingUpdates                                   sync.Map // updateKey → time.Time

	errs ErrorCounts
}

type updateKey struct {
	spazio int64
	date   string
	slot   int
	status string
}

// ErrConfig wraps every error about an unusable Config.
var ErrConfig = errors.New("load test")

// Run executes the load test: connect, join, traffic, drain, report. It
// returns an error only when the test could not run at all; everything
// that went wrong while it ran is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	cpuUser0, cpuSys0, _ := rusage()
	r := &runner{cfg: cfg, epoch: time.Now(), ledger: NewLedger(int(cfg.Rate*cfg.Duration.Seconds()) + 16)}
	r.timeline = newTimeline(r.epoch, cfg.Duration+cfg.Drain+10*time.Second)
	r.bcastStart = []byte(`["` + cfg.Event + `",`)
	r.slotStart = []byte(`["` + slotUpdateEvent + `",`)

	rest := client.NewREST(cfg.Server, "", client.WithMaxConnsPerHost(cfg.MaxInflight))
	spaces, err := r.resolveSpaces(ctx, rest)
	if err != nil {
		return nil, err
	}
	r.spaces = spaces
	r.members = make([]atomic.Int64, len(spaces))

	r.phase.Store(PhaseConnect)
	stopProgress := r.startProgress()
	defer stopProgress()

	started := time.Now()
	// Interrupted while connecting: the report still says what was
	// measured, as after an interrupted traffic phase.
	if err := r.runConnect(ctx); err != nil && ctx.Err() == nil {
		return nil, err
	}
	connectWall := time.Since(started)
	defer r.closeAll()

	staff := cfg.StaffToken
	if staff == "" && len(r.vus) > 0 {
		staff = r.vus[0].token
	}
	r.phase.Store(PhaseTraffic)
	trafficStart := time.Now()
	r.trafficStart = trafficStart
	scheduleEnd := r.runTraffic(ctx, trafficStart, trafficActors{
		staff: rest.WithToken(staff),
		actAs: func(token string) slotActor { return rest.WithToken(token) },
	})
	trafficWall := scheduleEnd.Sub(trafficStart)
	r.drain(ctx, scheduleEnd.Add(cfg.Drain))
	drainWall := time.Since(trafficStart) - trafficWall

	cpuUser1, cpuSys1, maxRSS := rusage()
	rep := r.report(trafficWall, drainWall, connectWall)
	end := time.Since(r.epoch)
	rep.Series = &Series{Start: r.epoch, TrafficStart: trafficStart.Sub(r.epoch), TrafficEnd: trafficStart.Add(trafficWall).Sub(r.epoch),
		End: end, Seconds: r.timeline.series(end)}
	rep.PerSecond = rep.Series.Report()
	rep.Generator = GeneratorCost{
		CPUUserSeconds: (cpuUser1 - cpuUser0).Seconds(),
		CPUSysSeconds:  (cpuSys1 - cpuSys0).Seconds(),
		MaxRSSKiB:      maxRSS,
		NumCPU:         runtime.NumCPU(),
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
	}
	rep.Generator.CPUSeconds = rep.Generator.CPUUserSeconds + rep.Generator.CPUSysSeconds
	if rep.Messages.Delivered > 0 {
		rep.Generator.CPUSecondsPer100kMsgs = rep.Generator.CPUSeconds / float64(rep.Messages.Delivered) * 1e5
	}
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, ctx.Err()
	}
	return rep, nil
}

func (c *Config) normalize() error {
	switch {
	case c.Server == "":
		return fmt.Errorf("%w: no server", ErrConfig)
	case c.Clients <= 0:
		return fmt.Errorf("%w: --clients must be positive, got %d", ErrConfig, c.Clients)
	case c.PollingShare < 0 || c.PollingShare > 1:
		return fmt.Errorf("%w: --polling-share must be within 0..1, got %g", ErrConfig, c.PollingShare)
	case c.Duration <= 0:
		return fmt.Errorf("%w: --duration must be positive, got %s", ErrConfig, c.Duration)
	case c.Rate < 0 || c.Churn < 0 || c.ConnectRate < 0:
		return fmt.Errorf("%w: rates must not be negative", ErrConfig)
	case c.Payload < 0:
		return fmt.Errorf("%w: --payload must not be negative, got %d", ErrConfig, c.Payload)
	case c.ClientToken == nil:
		return fmt.Errorf("%w: no way to get client tokens", ErrConfig)
	}
	if c.Rooms <= 0 {
		c.Rooms = 1
	}
	if c.Event == "" {
		c.Event = defaultEvent
	}
	if protocol.ReservedEvents[c.Event] {
		return fmt.Errorf("%w: %q is a reserved event name", ErrConfig, c.Event)
	}
	if c.ChurnHold <= 0 {
		c.ChurnHold = 250 * time.Millisecond
	}
	if c.ChurnDate == "" {
		c.ChurnDate = time.Now().AddDate(0, 0, 1).Format(protocol.DateLayout)
	} else if _, err := time.Parse(protocol.DateLayout, c.ChurnDate); err != nil {
		return fmt.Errorf("%w: churn date %q is not YYYY-MM-DD", ErrConfig, c.ChurnDate)
	}
	if c.ChurnDays <= 0 {
		c.ChurnDays = 28
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 128
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return nil
}

// demoSpaces is the demo catalog of `serve --demo`, the fallback
// when the server cannot list its catalog.
func demoSpaces() []Space {
	var out []Space
	for id := int64(1); id <= 8; id++ {
		out = append(out, Space{SpazioID: id, SedeID: (id-1)/4 + 1, Slots: 9})
	}
	return out
}

func (r *runner) resolveSpaces(ctx context.Context, rest *client.REST) ([]Space, error) {
	cands := r.cfg.Spaces
	if len(cands) == 0 {
		sedi, err := rest.Sedi(ctx)
		switch {
		case err == nil:
			for _, s := range sedi {
				n := slotsPerDay(s.OrarioApertura, s.OrarioChiusura)
				for _, sp := range s.Spazi {
					cands = append(cands, Space{SpazioID: sp.IDSpazio, SedeID: s.IDSede, Slots: n})
				}
			}
		case client.IsStatus(err, http.StatusNotFound):
			cands = demoSpaces()
		default:
			return nil, fmt.Errorf("load test: list spaces: %w", err)
		}
	}
	if len(cands) < r.cfg.Rooms {
		return nil, fmt.Errorf("%w: %d rooms requested but the server has %d spaces", ErrConfig, r.cfg.Rooms, len(cands))
	}
	out := append([]Space(nil), cands[:r.cfg.Rooms]...)
	for i := range out {
		if out[i].Slots <= 0 {
			out[i].Slots = 9
		}
	}
	return out, nil
}

// slotsPerDay counts whole hours between opening and closing "HH:MM";
// unparsable hours fall back to 09:00–18:00.
func slotsPerDay(open, close string) int {
	o, err1 := time.Parse("15:04", open)
	c, err2 := time.Parse("15:04", close)
	if err1 != nil || err2 != nil || !c.After(o) {
		return 9
	}
	return int(c.Sub(o) / time.Hour)
}

// startProgress reports Progress about once a second until the returned
// stop is called; stop waits for the reporter to end.
func (r *runner) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var reporter errgroup.Group
	reporter.Go(func() error {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				u, s, _ := rusage()
				r.cfg.Progress(Progress{
					Phase: r.phase.Load().(string), Elapsed: time.Since(r.epoch),
					Connected: r.connected.Load(), Target: r.cfg.Clients,
					Sent: r.sent.Load(), Delivered: r.delivered.Load(), P99: r.latency.Quantile(0.99),
					Holds: r.holdsOK.Load(), Errors: r.errs.Total(), Generator: u + s,
					Goroutines: runtime.NumGoroutine(),
				})
			}
		}
	})
	return func() { cancel(); _ = reporter.Wait() }
}

// fail counts one error of kind, in the totals and in its second.
func (r *runner) fail(kind string) {
	r.errs.Add(kind)
	r.timeline.count(countError, time.Now())
}

// isDone reports whether c has ended.
func isDone(c *sioclient.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func (r *runner) onClose(c *sioclient.Conn, err error) {
	v, _ := c.Data.(*vu)
	if v != nil && v.joined.Swap(false) {
		r.members[v.room].Add(-1)
	}
	r.connected.Add(-1)
	if err != nil && !r.closing.Load() {
		r.fail("disconnected")
	}
}

// onEvent runs on every connection's reader goroutine: keep it cheap.
func (r *runner) onEvent(c *sioclient.Conn, pkt []byte, at time.Time) {
	switch {
	case bytes.HasPrefix(pkt, r.bcastStart) && bytes.Contains(pkt, []byte(seqKey)):
		seq, ok1 := numberAfter(pkt, seqKey)
		us, ok2 := numberAfter(pkt, tsKey)
		if !ok1 || !ok2 {
			r.fail("bad_payload")
			return
		}
		now := at.Sub(r.epoch)
		lat := now - time.Duration(us)*time.Microsecond
		r.latency.Record(lat)
		r.timeline.deliver(at, lat)
		r.ledger.Deliver(int(seq))
		r.delivered.Add(1)
		r.lastRecv.Store(int64(now / time.Microsecond))
	case r.cfg.Churn > 0 && bytes.HasPrefix(pkt, r.slotStart):
		_, args, err := c.ParseEvent(pkt)
		if err != nil || len(args) == 0 {
			r.fail("bad_slot_update")
			return
		}
		var u protocol.SlotUpdate
		if err := json.Unmarshal(args[0], &u); err != nil {
			r.fail("bad_slot_update")
			return
		}
		k := updateKey{spazio: u.Data.IDSpazio, date: u.Data.Date, slot: u.SlotID, status: u.Status}
		if t, ok := r.pendingUpdates.Load(k); ok {
			r.updateH.Record(at.Sub(t.(time.Time)))
			r.updatesDelivered.Add(1)
		}
	}
}

// numberAfter parses the JSON number following key in b. Servers may
// re-encode the payload (key order, float formatting), so this scans
// rather than assuming a layout.
func numberAfter(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	j := i + len(key)
	for j < len(b) && b[j] == ' ' {
		j++
	}
	k := j
	for k < len(b) && (b[k] >= '0' && b[k] <= '9' || b[k] == '.' || b[k] == 'e' || b[k] == 'E' || b[k] == '+' || b[k] == '-') {
		k++
	}
	if k == j {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(b[j:k]), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(b[j:k]), 64)
	if err != nil || f < 0 || f > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// drain is the drain phase: the traffic phase's requests have all
// finished; it waits until no delivery is outstanding, up to deadline.
func (r *runner) drain(ctx context.Context, deadline time.Time) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		if r.ledger.Outstanding() == 0 && r.updatesDelivered.Load() >= r.updatesExpected.Load() {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// closeAll closes every connection, 512 at a time.
func (r *runner) closeAll() {
	r.closing.Store(true)
	var closers errgroup.Group
	closers.SetLimit(512)
	for _, v := range r.vus {
		if v == nil || v.conn == nil {
			continue
		}
		closers.Go(v.conn.Close)
	}
	_ = closers.Wait()
}
