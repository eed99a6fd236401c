package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
)

// Report is the outcome of a load test; `emit load --json` prints it as
// one JSON object.
type Report struct {
	Server      string        `json:"server"`
	Config      ReportConfig  `json:"config"`
	Connections Connections   `json:"connections"`
	Broadcasts  Broadcasts    `json:"broadcasts"`
	Messages    Messages      `json:"messages"`
	Latency     Summary       `json:"latency"`
	Churn       Churn         `json:"churn"`
	Errors      ErrorsReport  `json:"errors"`
	Generator   GeneratorCost `json:"generator"`
	Thresholds  Thresholds    `json:"thresholds"`
	// Failures lists why the run measured nothing, whatever the
	// thresholds: no client connected, or every action of a kind failed.
	Failures []string `json:"failures"`
	// Pass is false when a threshold was breached or the run failed.
	Pass bool `json:"pass"`
	// Interrupted is true when the run was stopped before it ended: the
	// figures cover only what ran.
	Interrupted bool `json:"interrupted"`

	// PerSecond is the run second by second, as in the CSV.
	PerSecond []SecondReport `json:"series"`

	// Series is the run second by second (HTML and CSV reports); nil
	// when unknown.
	Series *Series `json:"-"`
	// DeliveryDist and UpdateDist are the distributions behind Latency
	// and Churn.UpdateLatency, for the latency histograms; nil when
	// unknown.
	DeliveryDist, UpdateDist *Histogram `json:"-"`
}

// ReportConfig echoes the knobs that shaped the run.
type ReportConfig struct {
	Clients         int     `json:"clients"`
	PollingClients  int     `json:"polling_clients"`
	ConnectRate     float64 `json:"connect_rate"`
	Rooms           []Space `json:"rooms"`
	DurationSeconds float64 `json:"duration_s"`
	Rate            float64 `json:"rate"`
	PayloadBytes    int     `json:"payload_bytes"`
	Event           string  `json:"event"`
	Churn           float64 `json:"churn"`
}

// Connections covers the connect phase.
type Connections struct {
	Target         int     `json:"target"`
	Connected      int     `json:"connected"`
	Joined         int     `json:"joined"`
	Failed         int     `json:"failed"`
	WallSeconds    float64 `json:"wall_s"`
	ConnectLatency Summary `json:"connect_latency"`
	// StillOpen counts connections open at the end of the run.
	StillOpen int `json:"still_open"`
}

// Broadcasts covers the staff endpoint.
type Broadcasts struct {
	Sent           uint64  `json:"sent"`
	Failed         uint64  `json:"failed"`
	RatePerSecond  float64 `json:"rate_per_s"`
	RequestLatency Summary `json:"request_latency"`
}

// Messages is the delivery ledger.
type Messages struct {
	LossCounts
	// PerSecond is delivered messages per second of traffic plus drain.
	PerSecond float64 `json:"per_s"`
	// DrainSeconds is how long the generator waited after the traffic
	// phase for messages in flight.
	DrainSeconds float64 `json:"drain_s"`
}

// Churn covers hold→release cycles by virtual users.
type Churn struct {
	Holds     uint64 `json:"holds"`
	Conflicts uint64 `json:"conflicts"`
	// Limited counts holds the server refused by its per-user cap
	// (429 HOLD_LIMIT): few virtual users churning fast hit it.
	Limited        uint64  `json:"limited"`
	Releases       uint64  `json:"releases"`
	HoldsPerSecond float64 `json:"holds_per_s"`
	HoldLatency    Summary `json:"hold_latency"`
	ReleaseLatency Summary `json:"release_latency"`
	// UpdatesExpected counts slot_update deliveries owed to the clients in
	// the affected rooms; UpdatesDelivered those that arrived.
	UpdatesExpected  uint64 `json:"updates_expected"`
	UpdatesDelivered uint64 `json:"updates_delivered"`
	// UpdateLatency is from sending the request to a client receiving the
	// resulting slot_update.
	UpdateLatency Summary `json:"update_latency"`
}

// ErrorsReport counts errors by kind.
type ErrorsReport struct {
	Total  uint64            `json:"total"`
	ByKind map[string]uint64 `json:"by_kind"`
}

// GeneratorCost is what the load generator itself spent, so a reader can
// tell whether it measured the server or itself.
type GeneratorCost struct {
	CPUUserSeconds        float64 `json:"cpu_user_s"`
	CPUSysSeconds         float64 `json:"cpu_sys_s"`
	CPUSeconds            float64 `json:"cpu_s"`
	CPUSecondsPer100kMsgs float64 `json:"cpu_s_per_100k_msgs"`
	MaxRSSKiB             int64   `json:"max_rss_kib"`
	NumCPU                int     `json:"num_cpu"`
	GOMAXPROCS            int     `json:"gomaxprocs"`
}

// Thresholds are the pass/fail limits; zero values are off.
type Thresholds struct {
	// MaxP99Ms limits the p99 delivery latency (broadcasts, else churn
	// slot_updates); zero is off.
	MaxP99Ms float64 `json:"max_p99_ms,omitempty"`
	// MaxLoss limits the lost fraction of broadcast deliveries; negative
	// is off.
	MaxLoss *float64 `json:"max_loss,omitempty"`
	// MaxConnectFailures limits the failed fraction of connections and
	// joins; negative is off.
	MaxConnectFailures *float64 `json:"max_connect_failures,omitempty"`
	// Results are the --threshold limits on any figure (see
	// Report.Figures), each with its value and verdict.
	Results []threshold.Result `json:"results"`
	// Breached lists human-readable breaches, of Results too.
	Breached []string `json:"breached"`
}

func (r *runner) report(traffic, drain, connectWall time.Duration) *Report {
	cfg := r.cfg
	rep := &Report{Server: cfg.Server, Pass: true}
	nPolling := int(cfg.PollingShare*float64(cfg.Clients) + 0.5)
	rep.Config = ReportConfig{Clients: cfg.Clients, PollingClients: nPolling, ConnectRate: cfg.ConnectRate,
		Rooms: r.spaces, DurationSeconds: cfg.Duration.Seconds(), Rate: cfg.Rate, PayloadBytes: cfg.Payload,
		Event: cfg.Event, Churn: cfg.Churn}

	var connected, joined int
	for _, v := range r.vus {
		if v != nil && v.conn != nil {
			connected++
		}
	}
	for i := range r.members {
		joined += int(r.members[i].Load())
	}
	rep.Connections = Connections{Target: cfg.Clients, Connected: connected, Joined: joined, Failed: cfg.Clients - connected,
		WallSeconds: round3(connectWall.Seconds()), ConnectLatency: r.connectH.Summarize(), StillOpen: int(r.connected.Load())}

	lc := r.ledger.Counts()
	failed := r.sent.Load() - lc.Sent
	rep.Broadcasts = Broadcasts{Sent: r.sent.Load(), Failed: failed, RequestLatency: r.adminH.Summarize()}
	if traffic > 0 {
		rep.Broadcasts.RatePerSecond = round3(float64(lc.Sent) / traffic.Seconds())
	}
	window := traffic
	if last := time.Duration(r.lastRecv.Load())*time.Microsecond - r.trafficStart.Sub(r.epoch); last > window {
		window = last
	}
	rep.Messages = Messages{LossCounts: lc, DrainSeconds: round3(drain.Seconds())}
	if window > 0 {
		rep.Messages.PerSecond = round3(float64(lc.Delivered) / window.Seconds())
	}
	rep.Latency = r.latency.Summarize()
	rep.DeliveryDist, rep.UpdateDist = &r.latency, &r.updateH

	rep.Churn = Churn{Holds: r.holdsOK.Load(), Conflicts: r.holdsConflict.Load(), Limited: r.holdsLimited.Load(), Releases: r.releasesOK.Load(),
		HoldLatency: r.holdH.Summarize(), ReleaseLatency: r.releaseH.Summarize(),
		UpdatesExpected: r.updatesExpected.Load(), UpdatesDelivered: r.updatesDelivered.Load(), UpdateLatency: r.updateH.Summarize()}
	if traffic > 0 {
		rep.Churn.HoldsPerSecond = round3(float64(rep.Churn.Holds) / traffic.Seconds())
	}
	rep.Errors = ErrorsReport{Total: r.errs.Total(), ByKind: r.errs.Snapshot()}
	return rep
}

// textHistogramBins is the most bars of the terminal's latency histogram.
const textHistogramBins = 12

// latencyBins returns the distribution the histograms show, broadcast
// delivery, else slot_update delivery, in at most maxBins bins, and its
// name.
func (rep *Report) latencyBins(maxBins int) (string, []Bin) {
	if rep.DeliveryDist != nil && rep.DeliveryDist.Count() > 0 {
		return "delivery", rep.DeliveryDist.Bins(maxBins)
	}
	if rep.UpdateDist != nil && rep.UpdateDist.Count() > 0 {
		return "slot_update", rep.UpdateDist.Bins(maxBins)
	}
	return "", nil
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// Check evaluates the thresholds against rep, filling rep.Thresholds and
// rep.Pass. maxP99 zero, maxLoss negative and maxConnFail negative are
// off; ts are limits on any of rep.Figures, and one on a figure the run
// did not report fails.
func (rep *Report) Check(maxP99 time.Duration, maxLoss, maxConnFail float64, ts ...threshold.Threshold) {
	th := Thresholds{Breached: []string{}}
	th.Results, _ = threshold.CheckAll(ts, rep.Figures())
	if th.Results == nil {
		th.Results = []threshold.Result{}
	}
	if maxP99 > 0 {
		th.MaxP99Ms = ms(maxP99)
		p99, what := rep.Latency.P99, "broadcast delivery"
		if rep.Latency.Count == 0 {
			p99, what = rep.Churn.UpdateLatency.P99, "slot_update delivery"
			if rep.Churn.UpdateLatency.Count == 0 {
				th.Breached = append(th.Breached, fmt.Sprintf("p99 limit %gms set but no message was delivered", th.MaxP99Ms))
			}
		}
		if p99 > th.MaxP99Ms {
			th.Breached = append(th.Breached, fmt.Sprintf("%s p99 %gms > %gms", what, p99, th.MaxP99Ms))
		}
	}
	if maxLoss >= 0 {
		th.MaxLoss = &maxLoss
		if rep.Messages.Loss > maxLoss {
			th.Breached = append(th.Breached, fmt.Sprintf("loss %.4g%% > %.4g%% (%d of %d deliveries)", rep.Messages.Loss*100, maxLoss*100, rep.Messages.Lost, rep.Messages.Expected))
		}
	}
	if maxConnFail >= 0 && rep.Connections.Target > 0 {
		th.MaxConnectFailures = &maxConnFail
		bad := rep.Connections.Target - rep.Connections.Joined
		if f := float64(bad) / float64(rep.Connections.Target); f > maxConnFail {
			th.Breached = append(th.Breached, fmt.Sprintf("%d of %d clients failed to connect or join (%.4g%% > %.4g%%)", bad, rep.Connections.Target, f*100, maxConnFail*100))
		}
	}
	for _, res := range th.Results {
		if !res.Pass {
			th.Breached = append(th.Breached, res.Detail())
		}
	}
	rep.Thresholds = th
	rep.Failures = rep.failures()
	rep.Pass = len(th.Breached) == 0 && len(rep.Failures) == 0
}

// failures lists what makes the run a failure without any threshold:
// nothing connected, or every broadcast, hold or release failed.
func (rep *Report) failures() []string {
	out := []string{}
	if c := rep.Connections; c.Target > 0 && c.Joined == 0 {
		out = append(out, fmt.Sprintf("no client connected and joined (0 of %d)", c.Target))
	}
	if b := rep.Broadcasts; b.Sent > 0 && b.Failed >= b.Sent {
		out = append(out, fmt.Sprintf("every broadcast failed (%d of %d)", b.Failed, b.Sent))
	}
	if ch := rep.Churn; rep.Config.Churn > 0 && ch.Holds == 0 {
		out = append(out, "no hold succeeded")
	}
	if len(out) > 0 {
		if top := rep.topErrors(3); top != "" {
			out = append(out, "errors: "+top)
		}
	}
	return out
}

// topErrors names the n most frequent error kinds with their counts.
func (rep *Report) topErrors(n int) string {
	kinds := slices.Collect(maps.Keys(rep.Errors.ByKind))
	slices.SortFunc(kinds, func(a, b string) int {
		if d := int64(rep.Errors.ByKind[b]) - int64(rep.Errors.ByKind[a]); d != 0 {
			return int(d)
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range kinds[:min(n, len(kinds))] {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, rep.Errors.ByKind[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteTable prints rep as a human summary.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	lat := func(name string, s Summary) {
		if s.Count == 0 {
			return
		}
		p("  %s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f", name, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	c := rep.Config
	if rep.Interrupted {
		p("load test against %s  INTERRUPTED: figures cover only what ran", rep.Server)
	} else {
		p("load test against %s", rep.Server)
	}
	p("  %d clients (%d polling) in %d rooms, %gs traffic, %g broadcasts/s of %d bytes, churn %g holds/s", c.Clients, c.PollingClients, len(c.Rooms), c.DurationSeconds, c.Rate, c.PayloadBytes, c.Churn)
	p("")
	p("connections\t")
	p("  connected\t%d/%d\t(joined %d, failed %d, open at end %d, %.2fs)", rep.Connections.Connected, rep.Connections.Target, rep.Connections.Joined, rep.Connections.Failed, rep.Connections.StillOpen, rep.Connections.WallSeconds)
	p("")
	m := rep.Messages
	p("messages\t")
	p("  broadcasts sent\t%d\t(failed %d, %.1f/s)", rep.Broadcasts.Sent, rep.Broadcasts.Failed, rep.Broadcasts.RatePerSecond)
	p("  deliveries\t%d/%d\t(lost %d = %.4g%%, duplicates %d, unexpected %d)", m.Delivered, m.Expected, m.Lost, m.Loss*100, m.Duplicates, m.Unexpected)
	p("  delivered/s\t%.0f", m.PerSecond)
	if rep.Churn.Holds+rep.Churn.Conflicts+rep.Churn.Limited > 0 || c.Churn > 0 {
		ch := rep.Churn
		p("  holds\t%d\t(%.1f/s, conflicts %d, over the per-user cap %d, releases %d)", ch.Holds, ch.HoldsPerSecond, ch.Conflicts, ch.Limited, ch.Releases)
		p("  slot_updates\t%d/%d", ch.UpdatesDelivered, ch.UpdatesExpected)
	}
	p("")
	p("latency (ms)\tcount\tp50\tp90\tp99\tp99.9\tmax")
	lat("delivery", rep.Latency)
	lat("connect", rep.Connections.ConnectLatency)
	lat("admin emit", rep.Broadcasts.RequestLatency)
	lat("hold", rep.Churn.HoldLatency)
	lat("release", rep.Churn.ReleaseLatency)
	lat("slot_update", rep.Churn.UpdateLatency)
	p("")
	if title, bins := rep.latencyBins(textHistogramBins); len(bins) > 0 {
		writeTextHistogram(tw, title+" latency", bins, 30)
		p("")
	}
	if rep.Errors.Total > 0 {
		p("errors\t%d", rep.Errors.Total)
		for _, k := range slices.Sorted(maps.Keys(rep.Errors.ByKind)) {
			p("  %s\t%d", k, rep.Errors.ByKind[k])
		}
		p("")
	}
	g := rep.Generator
	p("generator\t%.2fs CPU (user %.2f, sys %.2f), %.2f CPU-s per 100k msgs, max RSS %d MiB, %d CPUs", g.CPUSeconds, g.CPUUserSeconds, g.CPUSysSeconds, g.CPUSecondsPer100kMsgs, g.MaxRSSKiB/1024, g.NumCPU)
	for i, res := range rep.Thresholds.Results {
		if i == 0 {
			p("")
			p("thresholds\t%s", res)
		} else {
			p("\t%s", res)
		}
	}
	if fails := append(slices.Clone(rep.Failures), rep.Thresholds.Breached...); len(fails) > 0 {
		p("")
		p("FAIL\t%s", strings.Join(fails, "; "))
	} else if rep.Interrupted {
		p("")
		p("INTERRUPTED\tthe run was stopped before it ended")
	} else if rep.Thresholds.MaxP99Ms > 0 || rep.Thresholds.MaxLoss != nil || len(rep.Thresholds.Results) > 0 {
		p("")
		p("PASS\tall thresholds met")
	}
	return tw.Flush()
}
