package loadtest

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
)

// HTMLOptions are the extras of WriteHTML.
type HTMLOptions struct {
	// Generator names what wrote the page, in the footer, e.g.
	// "coworkctl v1.2.3 (…)"; empty means "coworkctl".
	Generator string
	// Generated is the time in the footer; zero means now.
	Generated time.Time
}

// Colours of the chart marks as the page's CSS paints them; tests look for
// them in screenshots.
const (
	ColorDelivered = "#2563eb"
	ColorP50       = "#16a34a"
	ColorP99       = "#dc2626"
	ColorBar       = "#7c3aed"
)

// Most points a per-second chart draws; longer runs are averaged over
// groups of seconds. ~600 keeps a point per 1.5 px of a 960 px chart.
const maxChartPoints = 600

// Most bars of the HTML latency histogram.
const htmlHistogramBins = 40

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"px": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
}).Parse(reportHTML))

// WriteHTML writes rep as one self-contained HTML page: configuration,
// summary, latency histogram, per-second charts of deliveries and latency,
// errors by kind. The charts are inline SVG computed here, so the page
// needs no script, stylesheet, font or network to show them. Every value
// from the run is escaped by html/template.
func (rep *Report) WriteHTML(w io.Writer, opts HTMLOptions) error {
	if opts.Generated.IsZero() {
		opts.Generated = time.Now()
	}
	return reportTmpl.Execute(w, rep.htmlView(opts))
}

type htmlView struct {
	Server  string
	Started string
	Verdict string // "PASS", "FAIL", "INTERRUPTED" or "" when no threshold was set
	// Interrupted: the run was stopped before it ended.
	Interrupted bool
	Breached    []string
	Thresholds  []threshold.Result
	Cards       []card
	Throughput  *lineChart
	Latency     *lineChart
	Histogram   *histChart
	Latencies   []latencyRow
	Errors      []keyValue
	ErrorTotal  string
	Config      []keyValue
	Generator   string
	Footer      string
}

type card struct{ Label, Value, Note string }

type keyValue struct{ Key, Value string }

type latencyRow struct{ Name, Count, P50, P90, P99, P999, Max string }

func (rep *Report) htmlView(opts HTMLOptions) htmlView {
	v := htmlView{Server: rep.Server, Breached: rep.Thresholds.Breached, Thresholds: rep.Thresholds.Results, Interrupted: rep.Interrupted}
	if rep.Series != nil {
		v.Started = rep.Series.Start.Format("2006-01-02 15:04:05 MST")
	}
	th := rep.Thresholds
	switch {
	case len(th.Breached) > 0 || len(rep.Failures) > 0:
		v.Verdict = "FAIL"
	case rep.Interrupted:
		v.Verdict = "INTERRUPTED"
	case th.MaxP99Ms > 0 || th.MaxLoss != nil || th.MaxConnectFailures != nil || len(th.Results) > 0:
		v.Verdict = "PASS"
	}

	m, c := rep.Messages, rep.Connections
	v.Cards = []card{
		{"Delivered", fmtCount(m.Delivered), "of " + fmtCount(m.Expected) + " expected, lost " + fmtCount(m.Lost) + " (" + fmtPercent(m.Loss) + ")"},
		{"Delivery p50", fmtMS(rep.Latency.P50, rep.Latency.Count), "median"},
		{"Delivery p99", fmtMS(rep.Latency.P99, rep.Latency.Count), "max " + fmtMS(rep.Latency.Max, rep.Latency.Count)},
		{"Delivered per second", fmtCount(uint64(math.Round(m.PerSecond))), fmtCount(rep.Broadcasts.Sent) + " broadcasts sent, " + sig(rep.Broadcasts.RatePerSecond, 3) + "/s"},
		{"Clients joined", fmtCount(uint64(c.Joined)) + " of " + fmtCount(uint64(c.Target)), fmtCount(uint64(c.Failed)) + " failed, connect p99 " + fmtMS(c.ConnectLatency.P99, c.ConnectLatency.Count)},
		{"Errors", fmtCount(rep.Errors.Total), errorsNote(rep.Errors)},
	}
	if ch := rep.Churn; ch.Holds+ch.Conflicts+ch.Limited > 0 || rep.Config.Churn > 0 {
		v.Cards = append(v.Cards, card{"Holds", fmtCount(ch.Holds), sig(ch.HoldsPerSecond, 3) + "/s, " + fmtCount(ch.Conflicts) + " conflicts, " +
			fmtCount(ch.UpdatesDelivered) + " of " + fmtCount(ch.UpdatesExpected) + " slot_updates"})
	}

	if s := rep.Series; s != nil {
		v.Throughput = throughputChart(s)
		v.Latency = latencyChart(s)
	}
	if name, bins := rep.latencyBins(htmlHistogramBins); len(bins) > 0 {
		sum := rep.Latency
		if name != "delivery" {
			sum = rep.Churn.UpdateLatency
		}
		v.Histogram = histogramChart(name, bins, sum)
	}

	for _, l := range []struct {
		name string
		s    Summary
	}{{"broadcast delivery", rep.Latency}, {"connect", c.ConnectLatency}, {"admin emit request", rep.Broadcasts.RequestLatency},
		{"hold request", rep.Churn.HoldLatency}, {"release request", rep.Churn.ReleaseLatency}, {"slot_update delivery", rep.Churn.UpdateLatency}} {
		if l.s.Count == 0 {
			continue
		}
		v.Latencies = append(v.Latencies, latencyRow{l.name, fmtCount(l.s.Count), fmtMS(l.s.P50, 1), fmtMS(l.s.P90, 1),
			fmtMS(l.s.P99, 1), fmtMS(l.s.P999, 1), fmtMS(l.s.Max, 1)})
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Errors.ByKind)) {
		v.Errors = append(v.Errors, keyValue{k, fmtCount(rep.Errors.ByKind[k])})
	}
	v.ErrorTotal = fmtCount(rep.Errors.Total)
	v.Config = rep.configRows()
	g := rep.Generator
	v.Generator = fmt.Sprintf("%s s CPU (user %s, sys %s), %s CPU-s per 100k messages, max RSS %s MiB, %d CPUs (GOMAXPROCS %d)",
		sig(g.CPUSeconds, 3), sig(g.CPUUserSeconds, 3), sig(g.CPUSysSeconds, 3), sig(g.CPUSecondsPer100kMsgs, 3), fmtCount(uint64(max(g.MaxRSSKiB, 0)/1024)), g.NumCPU, g.GOMAXPROCS)
	if opts.Generator == "" {
		opts.Generator = "coworkctl"
	}
	v.Footer = "Generated by " + opts.Generator + " on " + opts.Generated.Format("2006-01-02 15:04:05 MST") + "."
	return v
}

func (rep *Report) configRows() []keyValue {
	c := rep.Config
	rooms := make([]string, len(c.Rooms))
	for i, sp := range c.Rooms {
		rooms[i] = sp.Room()
	}
	rate := "as fast as possible"
	if c.ConnectRate > 0 {
		rate = sig(c.ConnectRate, 4) + " per second"
	}
	bcast := "none"
	if c.Rate > 0 {
		bcast = fmt.Sprintf("%s per second of %s bytes, event %q", sig(c.Rate, 4), fmtCount(uint64(max(c.PayloadBytes, 0))), c.Event)
	}
	churn := "none"
	if c.Churn > 0 {
		churn = sig(c.Churn, 4) + " hold→release cycles per second"
	}
	var limits []string
	th := rep.Thresholds
	if th.MaxP99Ms > 0 {
		limits = append(limits, "p99 ≤ "+fmtMS(th.MaxP99Ms, 1))
	}
	if th.MaxLoss != nil {
		limits = append(limits, "loss ≤ "+fmtPercent(*th.MaxLoss))
	}
	if th.MaxConnectFailures != nil {
		limits = append(limits, "connect failures ≤ "+fmtPercent(*th.MaxConnectFailures))
	}
	for _, res := range th.Results {
		limits = append(limits, res.Text)
	}
	if len(limits) == 0 {
		limits = []string{"none"}
	}
	rows := []keyValue{
		{"Server", rep.Server},
		{"Clients", fmt.Sprintf("%s (%s long-polling)", fmtCount(uint64(max(c.Clients, 0))), fmtCount(uint64(max(c.PollingClients, 0))))},
		{"Connect rate", rate},
		{"Rooms", fmt.Sprintf("%d: %s", len(rooms), strings.Join(rooms, ", "))},
		{"Traffic phase", fmtSpan(time.Duration(c.DurationSeconds * float64(time.Second)))},
		{"Broadcasts", bcast},
		{"Churn", churn},
		{"Drain", fmtSpan(time.Duration(rep.Messages.DrainSeconds*float64(time.Second))) + " waiting for messages in flight"},
		{"Thresholds", strings.Join(limits, ", ")},
	}
	if rep.Series != nil {
		rows = append(rows, keyValue{"Run", fmtSpan(rep.Series.End) + " (connect " + fmtSpan(rep.Series.TrafficStart) + ")"})
	}
	return rows
}
