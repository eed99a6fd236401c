package vuser

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlText string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return fmt.Sprintf("%.3f%%", f*100) },
	"ms":    func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"kinds": sortedKinds,
}).Parse(htmlText))

// chart is one per-second line chart as SVG coordinates.
type chart struct {
	Title  string
	Points string
	Max    float64
	Unit   string
	Width  int
	Height int
}

func lineChart(title, unit string, rows []SecondReport, val func(SecondReport) float64) chart {
	c := chart{Title: title, Unit: unit, Width: 720, Height: 160}
	for _, r := range rows {
		c.Max = math.Max(c.Max, val(r))
	}
	if c.Max == 0 || len(rows) == 0 {
		return c
	}
	var b strings.Builder
	n := max(len(rows)-1, 1)
	for i, r := range rows {
		x := float64(i) * float64(c.Width) / float64(n)
		y := float64(c.Height) - val(r)/c.Max*float64(c.Height-10)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	c.Points = b.String()
	return c
}

// WriteHTML writes the report as one self-contained page (no script,
// stylesheet or font to fetch): the run, Artillery's counters, per-step
// latency, the slot_update ledger, errors, thresholds and per-second charts.
func (rep *Report) WriteHTML(w io.Writer, generator string) error {
	return htmlTmpl.Execute(w, struct {
		*Report
		GeneratedBy string
		Written     string
		Charts      []chart
	}{
		Report: rep, GeneratedBy: generator, Written: time.Now().UTC().Format(time.RFC3339),
		Charts: []chart{
			lineChart("Active virtual users", "", rep.Series, func(s SecondReport) float64 { return float64(s.Active) }),
			lineChart("Actions per second", "/s", rep.Series, func(s SecondReport) float64 { return float64(s.Actions) }),
			lineChart("Step latency p99", "ms", rep.Series, func(s SecondReport) float64 { return s.P99Ms }),
			lineChart("Errors per second", "/s", rep.Series, func(s SecondReport) float64 { return float64(s.Errors) }),
		},
	})
}
