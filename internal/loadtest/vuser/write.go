package vuser

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/coworkctl/coworkctl/internal/loadtest"
)

// WriteText writes the report as a human-readable summary.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	head := fmt.Sprintf("%s → %s, %.1f s", orDash(rep.Script), rep.Target, rep.Seconds)
	if rep.Interrupted {
		head += "  INTERRUPTED: figures cover only what ran"
	}
	p("scenario\t%s", head)
	var phases []string
	for _, ph := range rep.Phases {
		phases = append(phases, fmt.Sprintf("%s %gs %d arrivals", ph.Name, ph.Seconds, ph.Arrivals))
	}
	p("phases\t%s", strings.Join(phases, " · "))
	v := rep.VUsers
	p("vusers\tcreated %d  completed %d  failed %d  skipped %d  connected %d", v.Created, v.Completed, v.Failed, v.Skipped, v.Connected)
	tw.Flush()
	fmt.Fprintln(w)
	writeSteps(w, "", rep.Steps)
	trs := make([]string, 0, len(rep.Transports))
	for tr := range rep.Transports {
		trs = append(trs, tr)
	}
	slices.Sort(trs)
	for _, tr := range trs {
		if len(trs) == 1 {
			break // the same as the table above
		}
		fmt.Fprintln(w)
		writeSteps(w, tr+" ", rep.Transports[tr])
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	u := rep.Updates
	if u.Expected > 0 || u.Duplicates > 0 {
		p("slot_update\texpected %d  delivered %d  lost %d  left before delivery %d  duplicates %d", u.Expected, u.Delivered, u.Lost, u.Left, u.Duplicates)
	}
	if u.Latency.Count > 0 {
		p("  hold→update\tp50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms", u.Latency.P50, u.Latency.P90, u.Latency.P99, u.Latency.Max)
	}
	e := rep.Errors
	p("errors\t%d (%.3f%% of actions)", e.Total, e.Rate*100)
	g := rep.Generator
	p("generator\tcpu %.2f s (user %.2f, sys %.2f) = %.2f ms per virtual user, max rss %.1f MiB",
		g.CPUSeconds, g.CPUUserSeconds, g.CPUSysSeconds, g.CPUMsPerVU, float64(g.MaxRSSKiB)/1024)
	tw.Flush()
	for _, k := range sortedKinds(e.ByKind) {
		fmt.Fprintf(w, "  %6d  %s\n", e.ByKind[k], k)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, t := range rep.Thresholds {
		label := ""
		if i == 0 {
			label = "thresholds"
		}
		p("%s\t%s", label, t)
	}
	switch {
	case len(rep.Failures) > 0:
		p("result\tFAIL: %s", strings.Join(rep.Failures, "; "))
	case !rep.Pass:
		p("result\tFAIL: threshold breached")
	case rep.Interrupted:
		p("result\tINTERRUPTED")
	default:
		p("result\tPASS")
	}
	return tw.Flush()
}

func writeSteps(w io.Writer, prefix string, steps []StepReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%sstep\tcount\tok\trefused\tskipped\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\n", prefix)
	for _, s := range steps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", s.Name, s.Count, s.OK, s.Refused, s.Skipped, s.Errors,
			msCell(s.Latency, s.Latency.P50), msCell(s.Latency, s.Latency.P90), msCell(s.Latency, s.Latency.P99), msCell(s.Latency, s.Latency.Max))
	}
	tw.Flush()
}

func msCell(s loadtest.Summary, v float64) string {
	if s.Count == 0 {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteCSV writes the per-second series: second, phase, vusers_created,
// vusers_completed, vusers_failed, vusers_active, actions, errors,
// slot_updates, p50_ms, p99_ms, max_ms; an interrupted run ends with a row
// whose phase is "interrupted".
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"second", "phase", "vusers_created", "vusers_completed", "vusers_failed", "vusers_active", "actions", "errors", "slot_updates", "p50_ms", "p99_ms", "max_ms"})
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	for _, s := range rep.Series {
		_ = cw.Write([]string{strconv.Itoa(s.Second), s.Phase, u(s.Created), u(s.Completed), u(s.Failed), strconv.FormatInt(s.Active, 10),
			u(s.Actions), u(s.Errors), u(s.Updates), f(s.P50Ms), f(s.P99Ms), f(s.MaxMs)})
	}
	if rep.Interrupted {
		_ = cw.Write([]string{strconv.Itoa(len(rep.Series)), "interrupted", "", "", "", "", "", "", "", "", "", ""})
	}
	cw.Flush()
	return cw.Error()
}
