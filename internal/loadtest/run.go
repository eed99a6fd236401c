package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
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
	bcastStart []byte // `["<event>",`
	slotStart  []byte // `["slot_update",`

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

	phase := atomic.Value{}
	phase.Store(PhaseConnect)
	stopProgress := r.startProgress(&phase)
	defer stopProgress()

	started := time.Now()
	if err := r.connectAll(ctx); err != nil {
		return nil, err
	}
	connectWall := time.Since(started)
	defer r.closeAll()

	staff := cfg.StaffToken
	if staff == "" && len(r.vus) > 0 {
		staff = r.vus[0].token
	}
	phase.Store(PhaseTraffic)
	trafficStart := time.Now()
	r.trafficStart = trafficStart
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.MaxInflight)
	tctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	if cfg.Rate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.broadcast(tctx, ctx, rest.WithToken(staff), trafficStart, sem, &wg)
		}()
	}
	if cfg.Churn > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.churn(tctx, ctx, func(token string) slotActor { return rest.WithToken(token) }, trafficStart, sem, &wg)
		}()
	}
	<-tctx.Done()
	trafficWall := time.Since(trafficStart)
	phase.Store(PhaseDrain)
	r.drain(ctx, &wg)
	drainWall := time.Since(trafficStart) - trafficWall

	cpuUser1, cpuSys1, maxRSS := rusage()
	rep := r.report(trafficWall, drainWall, connectWall)
	end := time.Since(r.epoch)
	rep.Series = &Series{Start: r.epoch, TrafficStart: trafficStart.Sub(r.epoch), TrafficEnd: trafficStart.Add(trafficWall).Sub(r.epoch),
		End: end, Seconds: r.timeline.series(end)}
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

func (r *runner) startProgress(phase *atomic.Value) func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				u, s, _ := rusage()
				r.cfg.Progress(Progress{
					Phase: phase.Load().(string), Elapsed: time.Since(r.epoch),
					Connected: r.connected.Load(), Target: r.cfg.Clients,
					Sent: r.sent.Load(), Delivered: r.delivered.Load(), P99: r.latency.Quantile(0.99),
					Holds: r.holdsOK.Load(), Errors: r.errs.Total(), Generator: u + s,
					Goroutines: runtime.NumGoroutine(),
				})
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// connectAll opens every client at the configured rate and joins it to its
// room; it returns when each has connected and joined or failed.
func (r *runner) connectAll(ctx context.Context) error {
	cfg := r.cfg
	pollHTTP := &http.Client{
		Timeout: 90 * time.Second, // beyond any sane pingInterval+pingTimeout
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	nPolling := int(cfg.PollingShare*float64(cfg.Clients) + 0.5)
	r.vus = make([]*vu, cfg.Clients)
	var wg sync.WaitGroup
	limit := make(chan struct{}, 256)
	var interval time.Duration
	if cfg.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.ConnectRate)
	}
	start := time.Now()
	for i := 0; i < cfg.Clients; i++ {
		if ctx.Err() != nil {
			break
		}
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		tok, err := cfg.ClientToken(i)
		if err != nil {
			return fmt.Errorf("load test: token of client %d: %w", i, err)
		}
		v := &vu{index: i, token: tok, room: i % len(r.spaces)}
		r.vus[i] = v
		transport := sioclient.TransportWebSocket
		// Spread polling clients evenly rather than bunching them.
		if nPolling > 0 && (i*nPolling)/cfg.Clients != ((i+1)*nPolling)/cfg.Clients {
			transport = sioclient.TransportPolling
		}
		limit <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-limit }()
			r.connectOne(ctx, v, transport, pollHTTP)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (r *runner) connectOne(ctx context.Context, v *vu, transport string, pollHTTP *http.Client) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := sioclient.Dial(ctx, sioclient.Options{
		URL: r.cfg.Server, Auth: map[string]string{"token": v.token}, Transports: []string{transport},
		HTTPClient: pollHTTP, ConnectTimeout: r.cfg.ConnectTimeout, OnRawEvent: r.onEvent, OnClose: r.onClose,
	})
	if err != nil {
		r.fail(errorKind("connect", err))
		return
	}
	r.connectH.Record(time.Since(t0))
	r.timeline.count(countConnect, time.Now())
	c.Data = v
	v.conn = c
	r.connected.Add(1)
	sp := r.spaces[v.room]
	ack, err := c.EmitWithAck(ctx, protocol.EventJoinSpace, map[string]any{"spazioId": sp.SpazioID, "sedeId": sp.SedeID})
	if err != nil {
		r.fail(errorKind("join", err))
		return
	}
	var first protocol.Ack
	if len(ack) == 0 || json.Unmarshal(ack[0], &first) != nil || !first.Success {
		r.fail("join_rejected")
		return
	}
	v.joined.Store(true)
	r.members[v.room].Add(1)
	if isDone(c) && v.joined.Swap(false) {
		// It closed between the ack and now; onClose missed the join.
		r.members[v.room].Add(-1)
	}
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

// broadcastBody builds the admin emit body for sequence seq without
// encoding/json: the payload is the generator's, so its layout is known.
func (r *runner) broadcastBody(buf []byte, seq int, scheduledUS int64, sp Space) []byte {
	buf = append(buf, `{"event":`...)
	buf = strconv.AppendQuote(buf, r.cfg.Event)
	buf = append(buf, `,"spazioId":`...)
	buf = strconv.AppendInt(buf, sp.SpazioID, 10)
	buf = append(buf, `,"sedeId":`...)
	buf = strconv.AppendInt(buf, sp.SedeID, 10)
	buf = append(buf, `,"data":{`...)
	dataStart := len(buf) - 1
	buf = append(buf, seqKey...)
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, ',')
	buf = append(buf, tsKey...)
	buf = strconv.AppendInt(buf, scheduledUS, 10)
	buf = append(buf, `,"pad":"`...)
	// Pad the data object up to the requested size.
	if pad := r.cfg.Payload - (len(buf) - dataStart) - 2; pad > 0 {
		buf = append(buf, bytes.Repeat([]byte{'x'}, pad)...)
	}
	buf = append(buf, `"}}`...)
	return buf
}

// broadcast sends Rate messages per second until tctx ends. Each message
// carries its scheduled send time, not the time the request went out, so
// a slow endpoint shows up as latency instead of silently lowering the
// rate (no coordinated omission).
func (r *runner) broadcast(tctx, ctx context.Context, staff *client.REST, start time.Time, sem chan struct{}, wg *sync.WaitGroup) {
	total := messagesIn(r.cfg.Rate, r.cfg.Duration)
	for seq := 0; seq < total; seq++ {
		at := scheduled(start, seq, r.cfg.Rate)
		if !waitTurn(tctx, at, sem) {
			return
		}
		sp := r.spaces[seq%len(r.spaces)]
		body := r.broadcastBody(make([]byte, 0, r.cfg.Payload+160), seq, int64(at.Sub(r.epoch)/time.Microsecond), sp)
		r.ledger.Expect(seq, int(r.members[seq%len(r.spaces)].Load()))
		r.sent.Add(1)
		r.timeline.count(countSent, time.Now())
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := staff.AdminEmitRaw(rctx, body); err != nil {
				r.ledger.Fail(seq)
				r.fail(errorKind("broadcast", err))
				return
			}
			r.adminH.Record(time.Since(t0))
		}()
	}
}

// scheduled is when event n of a schedule of rate per second is due.
func scheduled(start time.Time, n int, rate float64) time.Time {
	return start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
}

// waitTurn sleeps until at, then takes a slot of sem; false when tctx
// ended first (the traffic phase is over).
func waitTurn(tctx context.Context, at time.Time, sem chan struct{}) bool {
	if d := time.Until(at); d > 0 {
		select {
		case <-time.After(d):
		case <-tctx.Done():
			return false
		}
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-tctx.Done():
		return false
	}
}

// messagesIn is how many events a schedule of rate per second sends in d:
// one at t=0 and then every 1/rate, strictly before d.
func messagesIn(rate float64, d time.Duration) int {
	n := rate * d.Seconds()
	if c := math.Ceil(n); c-n > 1e-9 {
		return int(c)
	}
	return int(math.Round(n))
}

// slotActor is the part of the REST client a churn cycle uses; tests
// stand in for the server with it.
type slotActor interface {
	Hold(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
	Release(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error)
}

// churn runs hold→release cycles by random virtual users on random slots
// that none of its cycles holds (see churnSlots); as acts for a user's
// token.
func (r *runner) churn(tctx, ctx context.Context, as func(token string) slotActor, start time.Time, sem chan struct{}, wg *sync.WaitGroup) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	first, _ := time.Parse(protocol.DateLayout, r.cfg.ChurnDate)
	var users []*vu
	for _, v := range r.vus {
		if v != nil && v.conn != nil {
			users = append(users, v)
		}
	}
	if len(users) == 0 {
		r.fail("churn_no_users")
		return
	}
	perRoom := make([]int, len(r.spaces))
	for i, sp := range r.spaces {
		perRoom[i] = sp.Slots
	}
	busy := newChurnSlots(perRoom, r.cfg.ChurnDays)
	total := messagesIn(r.cfg.Churn, r.cfg.Duration)
	for n := 0; n < total; n++ {
		at := scheduled(start, n, r.cfg.Churn)
		if !waitTurn(tctx, at, sem) {
			return
		}
		v := users[rng.IntN(len(users))]
		cs, taken := busy.take(rng)
		sp := r.spaces[cs.room]
		date := first.AddDate(0, 0, cs.day).Format(protocol.DateLayout)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if taken {
				defer busy.give(cs)
			}
			r.churnOne(ctx, as(v.token), sp, cs.room, cs.slot, date, sem)
		}()
	}
}

// churnOne holds a slot, keeps it ChurnHold, then releases it. It is
// called holding a slot of sem for the hold request, and gives it back
// while the hold lasts: sem bounds requests in flight, not cycles, or
// MaxInflight/ChurnHold (128/250 ms: 512 cycles/s) would cap the churn
// whatever the server can do.
func (r *runner) churnOne(ctx context.Context, rest slotActor, sp Space, roomIdx, slot int, date string, sem chan struct{}) {
	req := protocol.SlotActionRequest{IDSpazio: sp.SpazioID, SedeID: sp.SedeID, Date: date}
	hk := updateKey{spazio: sp.SpazioID, date: date, slot: slot, status: protocol.StatusOccupied}
	t0 := time.Now()
	r.pendingUpdates.Store(hk, t0)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := rest.Hold(rctx, slot, req)
	cancel()
	<-sem
	if err != nil {
		if client.IsStatus(err, http.StatusConflict) {
			r.holdsConflict.Add(1)
			return
		}
		if client.IsStatus(err, http.StatusTooManyRequests) {
			r.holdsLimited.Add(1)
			return
		}
		r.fail(errorKind("hold", err))
		return
	}
	r.holdH.Record(time.Since(t0))
	r.holdsOK.Add(1)
	r.timeline.count(countHold, time.Now())
	r.updatesExpected.Add(uint64(r.members[roomIdx].Load()))

	select {
	case <-time.After(r.cfg.ChurnHold):
	case <-ctx.Done():
	}
	// The release is owed even when the test is being cancelled: take a
	// slot of sem regardless.
	sem <- struct{}{}
	defer func() { <-sem }()
	rk := updateKey{spazio: sp.SpazioID, date: date, slot: slot, status: protocol.StatusAvailable}
	t1 := time.Now()
	r.pendingUpdates.Store(rk, t1)
	rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := rest.Release(rctx, slot, req); err != nil {
		r.fail(errorKind("release", err))
		return
	}
	r.releaseH.Record(time.Since(t1))
	r.releasesOK.Add(1)
	r.updatesExpected.Add(uint64(r.members[roomIdx].Load()))
}

// churnSlot is one slot of the churn's space: a room (index into the
// runner's spaces), a 1-based slot and a day after ChurnDate.
type churnSlot struct{ room, slot, day int }

// churnSlots picks slots for churn cycles among those no cycle of this
// generator holds. Picking blindly, the generator collides with itself:
// at 2,000 cycles/s of 250 ms holds on 8 rooms × 9 slots × 28 days, a
// quarter of the picks hit a slot the generator holds, and those 409s
// measure the generator, not contention between users. A conflict now
// means someone else holds the slot, or every slot is busy.
type churnSlots struct {
	perRoom []int // slots per room
	days    int
	total   int

	mu   sync.Mutex
	busy map[churnSlot]struct{}
}

func newChurnSlots(perRoom []int, days int) *churnSlots {
	c := &churnSlots{perRoom: perRoom, days: max(days, 1), busy: map[churnSlot]struct{}{}}
	for _, n := range perRoom {
		c.total += n * c.days
	}
	return c
}

// at is the i-th slot of the space (0 <= i < total).
func (c *churnSlots) at(i int) churnSlot {
	for room, n := range c.perRoom {
		if i < n*c.days {
			return churnSlot{room: room, slot: 1 + i%n, day: i / n}
		}
		i -= n * c.days
	}
	panic("churn slot index out of range")
}

// take returns a random free slot and marks it busy until give; when all
// are busy it returns a random one, not taken, whose hold will conflict.
func (c *churnSlots) take(rng *rand.Rand) (cs churnSlot, taken bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := rng.IntN(c.total)
	// A few random picks find a free slot at once unless nearly all are
	// busy; then a scan from the last pick finds one if there is any.
	for range 4 {
		if cs := c.at(start); !c.isBusy(cs) {
			c.busy[cs] = struct{}{}
			return cs, true
		}
		start = rng.IntN(c.total)
	}
	for i := range c.total {
		if cs := c.at((start + i) % c.total); !c.isBusy(cs) {
			c.busy[cs] = struct{}{}
			return cs, true
		}
	}
	return c.at(start), false
}

func (c *churnSlots) isBusy(cs churnSlot) bool {
	_, ok := c.busy[cs]
	return ok
}

// give frees a slot that take returned taken.
func (c *churnSlots) give(cs churnSlot) {
	c.mu.Lock()
	delete(c.busy, cs)
	c.mu.Unlock()
}

// drain waits for in-flight requests, then for outstanding deliveries up
// to cfg.Drain.
func (r *runner) drain(ctx context.Context, wg *sync.WaitGroup) {
	deadline := time.Now().Add(r.cfg.Drain)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return
	}
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

func (r *runner) closeAll() {
	r.closing.Store(true)
	var wg sync.WaitGroup
	limit := make(chan struct{}, 512)
	for _, v := range r.vus {
		if v == nil || v.conn == nil {
			continue
		}
		limit <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-limit }()
			_ = v.conn.Close()
		}()
	}
	wg.Wait()
}
