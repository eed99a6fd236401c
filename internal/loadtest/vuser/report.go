package vuser

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/scenario"
	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
)

// Report is the outcome of a scenario run; `emit load --scenario --json`
// prints it as one JSON object.
type Report struct {
	Script string `json:"script"`
	Target string `json:"target"`
	// Interrupted is true when the run was stopped before its phases
	// ended: its figures cover only what ran.
	Interrupted bool          `json:"interrupted"`
	Seconds     float64       `json:"duration_s"`
	Phases      []PhaseReport `json:"phases"`
	VUsers      VUsers        `json:"vusers"`
	Steps       []StepReport  `json:"steps"`
	// Transports splits Steps by the transport users connected with.
	Transports map[string][]StepReport `json:"transports"`
	Updates    Updates                 `json:"slot_updates"`
	Errors     Errors                  `json:"errors"`
	Generator  Generator               `json:"generator"`
	Thresholds []threshold.Result      `json:"thresholds"`
	// Failures say why the run measured nothing (no user connected, or
	// every action failed); a run with failures fails without thresholds.
	Failures []string `json:"failures,omitempty"`
	// Pass is false when a threshold was breached or Failures is not
	// empty.
	Pass bool `json:"pass"`

	// Series is the run second by second (JSON, CSV and HTML).
	Series    []SecondReport      `json:"series"`
	UpdateLat *loadtest.Histogram `json:"-"`
}

// PhaseReport echoes one phase.
type PhaseReport struct {
	Name     string  `json:"name"`
	Seconds  float64 `json:"duration_s"`
	Arrivals int     `json:"arrivals"`
}

// VUsers are Artillery's virtual-user counters.
type VUsers struct {
	Created   uint64 `json:"created"`
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
	// Skipped arrivals found their phase at maxVusers.
	Skipped uint64 `json:"skipped"`
	// Connected counts users whose connection opened.
	Connected uint64 `json:"connected"`
}

// StepReport is one step name's figures.
type StepReport struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Count   uint64 `json:"count"`
	OK      uint64 `json:"ok"`
	Errors  uint64 `json:"errors"`
	Refused uint64 `json:"refused"`
	Skipped uint64 `json:"skipped"`
	// ErrorsByKind counts errors by kind (ack_timeout, refused
	// NOT_FOUND, http_500 …).
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
	// Latency covers answered steps (ok and refused).
	Latency loadtest.Summary `json:"latency"`
}

// Updates is the slot_update ledger: what Artillery cannot measure.
type Updates struct {
	Expected   uint64 `json:"expected"`
	Delivered  uint64 `json:"delivered"`
	Lost       uint64 `json:"lost"`
	Left       uint64 `json:"left_before_delivery"`
	Duplicates uint64 `json:"duplicates"`
	// Latency is from sending the hold, book or release to a member of
	// the room reading the slot_update.
	Latency loadtest.Summary `json:"latency"`
}

// Errors sums errors over steps.
type Errors struct {
	Total uint64 `json:"total"`
	// Rate is errors over actions (steps other than think and loop,
	// connects included).
	Rate   float64           `json:"rate"`
	ByKind map[string]uint64 `json:"by_kind"`
}

// Generator is what the generator spent.
type Generator struct {
	CPUUserSeconds float64 `json:"cpu_user_s"`
	CPUSysSeconds  float64 `json:"cpu_sys_s"`
	CPUSeconds     float64 `json:"cpu_s"`
	// CPUMsPerVU is CPU milliseconds per created virtual user.
	CPUMsPerVU float64 `json:"cpu_ms_per_vu"`
	MaxRSSKiB  int64   `json:"max_rss_kib"`
}

func (r *runner) report(start time.Time, wall, user0, sys0 time.Duration) *Report {
	user1, sys1, rss := loadtest.Rusage()
	rep := &Report{Script: r.script.File, Target: r.target, Seconds: round3(wall.Seconds()), UpdateLat: &r.ledger.lat}
	for i, p := range r.script.Config.Phases {
		name := p.Name
		if name == "" {
			name = fmt.Sprintf("phase %d", i+1)
		}
		rep.Phases = append(rep.Phases, PhaseReport{Name: name, Seconds: p.Length().Seconds(), Arrivals: len(p.Arrivals())})
	}
	rep.VUsers = VUsers{Created: r.created.Load(), Completed: r.completed.Load(), Failed: r.failed.Load(), Skipped: r.skipped.Load(), Connected: r.connected.Load()}
	rep.Steps = stepReports(r.stats.order, r.stats.all)
	rep.Transports = map[string][]StepReport{}
	for tr, m := range r.stats.byTransport {
		ss := stepReports(r.stats.order, m)
		// Another transport is reported only when some user ended on it.
		if tr == r.stats.main || slices.ContainsFunc(ss, func(s StepReport) bool { return s.Count > 0 }) {
			rep.Transports[tr] = ss
		}
	}
	l := r.ledger
	l.mu.Lock()
	rep.Updates = Updates{Expected: l.expected, Delivered: l.delivered, Lost: l.lost, Left: l.left, Duplicates: l.duplicates, Latency: l.lat.Summarize()}
	l.mu.Unlock()
	var actions uint64
	for _, s := range rep.Steps {
		actions += s.Count - s.Skipped
	}
	rep.Errors = Errors{Total: r.errs.Total(), ByKind: r.errs.Snapshot()}
	if actions > 0 {
		rep.Errors.Rate = float64(rep.Errors.Total) / float64(actions)
	}
	cpu := (user1 - user0) + (sys1 - sys0)
	rep.Generator = Generator{
		CPUUserSeconds: round3((user1 - user0).Seconds()), CPUSysSeconds: round3((sys1 - sys0).Seconds()),
		CPUSeconds: round3(cpu.Seconds()), MaxRSSKiB: rss,
	}
	if rep.VUsers.Created > 0 {
		rep.Generator.CPUMsPerVU = round3(float64(cpu) / float64(time.Millisecond) / float64(rep.VUsers.Created))
	}
	rep.Series = r.series.report(func(at time.Duration) string { return phaseAt(r.script.Config.Phases, at) })
	rep.Failures = failures(rep)
	rep.Pass = len(rep.Failures) == 0
	return rep
}

func phaseAt(phases []scenario.Phase, at time.Duration) string {
	var base time.Duration
	for i, p := range phases {
		base += p.Length()
		if at < base {
			if p.Name != "" {
				return p.Name
			}
			return fmt.Sprintf("phase %d", i+1)
		}
	}
	return "finish"
}

func stepReports(order []string, m map[string]*stepStats) []StepReport {
	var out []StepReport
	for _, name := range order {
		s := m[name]
		errs := s.errs.Snapshot()
		var n uint64
		for _, c := range errs {
			n += c
		}
		sr := StepReport{
			Name: name, Kind: string(s.kind), Count: s.count.Load(), OK: s.ok.Load(), Errors: n,
			Refused: s.refused.Load(), Skipped: s.skipped.Load(), Latency: s.lat.Summarize(),
		}
		if n > 0 {
			sr.ErrorsByKind = errs
		}
		out = append(out, sr)
	}
	return out
}

// failures lists why a run measured nothing: then it fails without any
// threshold.
func failures(rep *Report) []string {
	var out []string
	if rep.VUsers.Created > 0 && rep.VUsers.Connected == 0 {
		out = append(out, fmt.Sprintf("no virtual user connected (%d tried)", rep.VUsers.Created))
	}
	var tried, ok uint64
	for _, s := range rep.Steps {
		if s.Name == stepConnect {
			continue
		}
		tried += s.Count - s.Skipped
		ok += s.OK + s.Refused
	}
	if tried > 0 && ok == 0 {
		out = append(out, fmt.Sprintf("every action failed (%d of %d)", tried, tried))
	}
	if rep.VUsers.Created == 0 && !rep.Interrupted {
		out = append(out, "no virtual user arrived")
	}
	return out
}

// Figures returns every reported figure by name, for thresholds:
// vusers.created, errors.rate, <step>.p99, <transport>.<step>.p99,
// slot_update.p99, slot_update.lost, generator.cpu_ms_per_vu …
func (rep *Report) Figures() threshold.Figures {
	f := threshold.Figures{
		"vusers.created":   {Value: float64(rep.VUsers.Created)},
		"vusers.completed": {Value: float64(rep.VUsers.Completed)},
		"vusers.failed":    {Value: float64(rep.VUsers.Failed)},
		"vusers.skipped":   {Value: float64(rep.VUsers.Skipped)},
		"vusers.connected": {Value: float64(rep.VUsers.Connected)},
		"errors.total":     {Value: float64(rep.Errors.Total)},
		"errors.rate":      {Value: rep.Errors.Rate, Unit: threshold.Ratio},

		"slot_update.expected":   {Value: float64(rep.Updates.Expected)},
		"slot_update.delivered":  {Value: float64(rep.Updates.Delivered)},
		"slot_update.lost":       {Value: float64(rep.Updates.Lost)},
		"slot_update.duplicates": {Value: float64(rep.Updates.Duplicates)},

		"generator.cpu_s":         {Value: rep.Generator.CPUSeconds},
		"generator.cpu_ms_per_vu": {Value: rep.Generator.CPUMsPerVU},
	}
	if rep.Updates.Expected > 0 {
		f["slot_update.loss_rate"] = threshold.Figure{Value: float64(rep.Updates.Lost) / float64(rep.Updates.Expected), Unit: threshold.Ratio}
	}
	latency(f, "slot_update", rep.Updates.Latency)
	steps(f, "", rep.Steps)
	for tr, ss := range rep.Transports {
		steps(f, tr+".", ss)
	}
	return f
}

func steps(f threshold.Figures, prefix string, ss []StepReport) {
	for _, s := range ss {
		p := prefix + s.Name
		f[p+".count"] = threshold.Figure{Value: float64(s.Count)}
		f[p+".ok"] = threshold.Figure{Value: float64(s.OK)}
		f[p+".errors"] = threshold.Figure{Value: float64(s.Errors)}
		f[p+".refused"] = threshold.Figure{Value: float64(s.Refused)}
		if n := s.Count - s.Skipped; n > 0 {
			f[p+".error_rate"] = threshold.Figure{Value: float64(s.Errors) / float64(n), Unit: threshold.Ratio}
		}
		latency(f, p, s.Latency)
	}
}

func latency(f threshold.Figures, p string, s loadtest.Summary) {
	if s.Count == 0 {
		return
	}
	for name, v := range map[string]float64{"min": s.Min, "mean": s.Mean, "p50": s.P50, "median": s.P50, "p90": s.P90, "p99": s.P99, "p999": s.P999, "max": s.Max} {
		f[p+"."+name] = threshold.Figure{Value: v, Unit: threshold.Millis}
	}
}

// Check evaluates thresholds; a breach makes the report fail.
func (rep *Report) Check(ts []threshold.Threshold) {
	res, pass := threshold.CheckAll(ts, rep.Figures())
	rep.Thresholds = res
	if rep.Thresholds == nil {
		rep.Thresholds = []threshold.Result{}
	}
	rep.Pass = rep.Pass && pass
}

// Breached lists failed thresholds as text.
func (rep *Report) Breached() []string {
	var out []string
	for _, r := range rep.Thresholds {
		if !r.Pass {
			out = append(out, r.Detail())
		}
	}
	return out
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// sortedKinds returns m's keys, most frequent first.
func sortedKinds(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	return keys
}
