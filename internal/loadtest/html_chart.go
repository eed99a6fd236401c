package loadtest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Chart geometry, in SVG user units (CSS pixels at full width).
const (
	chartW      = 960
	chartH      = 240
	chartLeft   = 64
	chartRight  = 24
	chartTop    = 28
	chartBottom = 40
)

type axisTick struct {
	Pos   float64
	Label string
}

type lineChart struct {
	ID, Title, Note, Empty string
	W, H                   int
	Left, Top, Right, Bot  float64
	YTicks, XTicks         []axisTick
	YLabel                 string
	Area                   string // path of the filled area under the delivered line, if any
	Series                 []svgSeries
	Phases                 []phaseMark
	Marks                  []svgMark // error seconds
}

// phaseMark is a phase boundary; its label sits left of the line near the
// right edge.
type phaseMark struct {
	Pos         float64
	Label       string
	Anchor      string
	LabelOffset float64
}

type svgSeries struct {
	Class, Label string
	D            string // path data; M starts a segment, so gaps stay gaps
	N            int    // points drawn
	Dots         []svgDot

	firstX, lastX float64
}

type svgDot struct {
	X, Y  float64
	Title string
}

type svgMark struct {
	X, Y, W, H float64
	Title      string
}

// chartPoint is one drawn point: a second, or the mean of a group.
type chartPoint struct {
	From, To   int     // seconds [From, To)
	Delivered  float64 // per second
	Errors     uint64  // total
	P50, P99   float64 // ms; valid when HasLatency
	HasLatency bool
}

// downsample groups secs into at most maxPoints points of k consecutive
// seconds: counts become per-second means, p50 the delivery-weighted mean
// of the seconds' p50, p99 the worst second's p99 (a spike must not be
// averaged away).
func downsample(secs []Second, maxPoints int) ([]chartPoint, int) {
	k := max((len(secs)+maxPoints-1)/maxPoints, 1)
	var pts []chartPoint
	for from := 0; from < len(secs); from += k {
		to := min(from+k, len(secs))
		p := chartPoint{From: from, To: to}
		var delivered, latencyCount uint64
		var p50sum float64
		for _, s := range secs[from:to] {
			delivered += s.Delivered
			p.Errors += s.Errors
			if n := s.Latency.Count; n > 0 {
				latencyCount += n
				p50sum += float64(n) * ms(s.Latency.P50)
				p.P99 = max(p.P99, ms(s.Latency.P99))
			}
		}
		n := float64(to - from)
		p.Delivered = float64(delivered) / n
		if latencyCount > 0 {
			p.HasLatency = true
			p.P50 = p50sum / float64(latencyCount)
		}
		pts = append(pts, p)
	}
	return pts, k
}

func newLineChart(id, title string, s *Series) *lineChart {
	c := &lineChart{ID: id, Title: title, W: chartW, H: chartH,
		Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bot: chartH - chartBottom}
	total := float64(len(s.Seconds))
	step := niceTimeStep(total, 10)
	for t := 0.0; t <= total+1e-9; t += step {
		c.XTicks = append(c.XTicks, axisTick{c.x(t, total), fmtSpan(time.Duration(t) * time.Second)})
	}
	for _, ph := range []struct {
		at    time.Duration
		label string
	}{{s.TrafficStart, "traffic"}, {s.TrafficEnd, "drain"}} {
		if ph.at > 0 && ph.at.Seconds() < total {
			m := phaseMark{Pos: c.x(ph.at.Seconds(), total), Label: ph.label, Anchor: "start", LabelOffset: 4}
			if m.Pos > c.Right-60 {
				m.Anchor, m.LabelOffset = "end", -4
			}
			c.Phases = append(c.Phases, m)
		}
	}
	return c
}

func (c *lineChart) x(t, total float64) float64 {
	return c.Left + t/total*(c.Right-c.Left)
}

func (c *lineChart) y(v, top float64) float64 {
	return c.Bot - v/top*(c.Bot-c.Top)
}

func (c *lineChart) yAxis(maxV float64, unit func(float64) string) float64 {
	step, top := niceScale(maxV, 5)
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, axisTick{c.y(v, top), unit(v)})
	}
	return top
}

// line builds one series from the points that have a value; a point
// without one breaks the line.
func (c *lineChart) line(class, label string, pts []chartPoint, total float64, val func(chartPoint) (float64, bool), top float64, tip func(chartPoint, float64) string) svgSeries {
	sr := svgSeries{Class: class, Label: label}
	var d strings.Builder
	pen := false
	// Few points get a dot each; otherwise only a lone point between
	// gaps, which draws no line.
	dots := len(pts) <= 60
	var seg []svgDot
	flush := func() {
		if !dots && len(seg) == 1 {
			sr.Dots = append(sr.Dots, seg[0])
		}
		seg = seg[:0]
	}
	for _, p := range pts {
		v, ok := val(p)
		if !ok {
			pen = false
			flush()
			continue
		}
		x, y := c.x(float64(p.From+p.To)/2, total), c.y(v, top)
		if sr.N == 0 {
			sr.firstX = x
		}
		sr.lastX = x
		if pen {
			d.WriteString(" L")
		} else {
			if d.Len() > 0 {
				d.WriteByte(' ')
			}
			d.WriteString("M")
		}
		d.WriteString(strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
		pen = true
		sr.N++
		dot := svgDot{X: x, Y: y, Title: tip(p, v)}
		seg = append(seg, dot)
		if dots {
			sr.Dots = append(sr.Dots, dot)
		}
	}
	flush()
	sr.D = d.String()
	return sr
}

func pointSpan(p chartPoint) string {
	if p.To-p.From == 1 {
		return fmtSpan(time.Duration(p.From) * time.Second)
	}
	return fmtSpan(time.Duration(p.From)*time.Second) + "–" + fmtSpan(time.Duration(p.To)*time.Second)
}

func throughputChart(s *Series) *lineChart {
	c := newLineChart("throughput", "Messages delivered per second", s)
	pts, k := downsample(s.Seconds, maxChartPoints)
	total := float64(len(s.Seconds))
	var most float64
	for _, p := range pts {
		most = max(most, p.Delivered)
	}
	top := c.yAxis(most, axisNumber)
	c.YLabel = "per second"
	del := c.line("delivered", "delivered", pts, total, func(p chartPoint) (float64, bool) { return p.Delivered, true }, top,
		func(p chartPoint, v float64) string { return pointSpan(p) + ": " + sig(v, 4) + " delivered/s" })
	c.Series = append(c.Series, del)
	if del.N > 1 {
		// The delivered line has no gaps: close it down to the x axis.
		bot := "," + strconv.FormatFloat(c.Bot, 'f', 1, 64)
		c.Area = "M" + strconv.FormatFloat(del.firstX, 'f', 1, 64) + bot + " L" + strings.TrimPrefix(del.D, "M") +
			" L" + strconv.FormatFloat(del.lastX, 'f', 1, 64) + bot + " Z"
	}
	for _, p := range pts {
		if p.Errors == 0 {
			continue
		}
		x0, x1 := c.x(float64(p.From), total), c.x(float64(p.To), total)
		c.Marks = append(c.Marks, svgMark{X: x0, Y: c.Bot - 6, W: max(x1-x0, 2), H: 6, Title: pointSpan(p) + ": " + fmtCount(p.Errors) + " errors"})
	}
	if k > 1 {
		c.Note = fmt.Sprintf("Each point is the mean of %d seconds.", k)
	}
	if len(c.Marks) > 0 {
		c.Note = strings.TrimSpace(c.Note + " Orange marks on the axis: seconds with errors.")
	}
	return c
}

func latencyChart(s *Series) *lineChart {
	c := newLineChart("latency", "Delivery latency per second", s)
	pts, k := downsample(s.Seconds, maxChartPoints)
	total := float64(len(s.Seconds))
	var most float64
	for _, p := range pts {
		most = max(most, p.P99) // zero without latency
	}
	if !slices.ContainsFunc(pts, func(p chartPoint) bool { return p.HasLatency }) {
		c.Empty = "No broadcast was delivered."
	}
	top := c.yAxis(most, axisNumber)
	c.YLabel = "ms"
	tip := func(q string) func(chartPoint, float64) string {
		return func(p chartPoint, v float64) string { return pointSpan(p) + ": " + q + " " + fmtMS(v, 1) }
	}
	c.Series = append(c.Series,
		c.line("p50", "p50", pts, total, func(p chartPoint) (float64, bool) { return p.P50, p.HasLatency }, top, tip("p50")),
		c.line("p99", "p99", pts, total, func(p chartPoint) (float64, bool) { return p.P99, p.HasLatency }, top, tip("p99")))
	if k > 1 {
		c.Note = fmt.Sprintf("Each point covers %d seconds: p50 is their mean, p99 the worst second's.", k)
	}
	return c
}

type histChart struct {
	Title, Note           string
	W, H                  int
	Left, Top, Right, Bot float64
	YTicks, XTicks        []axisTick
	Bars                  []svgMark
	Marks                 []axisTick // p50, p99 positions
}

func histogramChart(name string, bins []Bin, sum Summary) *histChart {
	c := &histChart{Title: "Latency distribution of " + name + " (" + fmtCount(sum.Count) + " messages)", W: chartW, H: chartH,
		Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bot: chartH - chartBottom}
	var most, total uint64
	for _, b := range bins {
		most = max(most, b.Count)
		total += b.Count
	}
	step, top := niceScale(float64(most), 5)
	y := func(v float64) float64 { return c.Bot - v/top*(c.Bot-c.Top) }
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, axisTick{y(v), axisNumber(v)})
	}
	unit, div := histUnit(bins)
	c.Note = "Latency in " + unit + "; bars are " + map[bool]string{true: "equally wide", false: "logarithmic"}[isLinear(bins)] + " ranges."
	bw := (c.Right - c.Left) / float64(len(bins))
	every := (len(bins) + 11) / 12
	for i, b := range bins {
		x := c.Left + float64(i)*bw
		h := float64(b.Count) / top * (c.Bot - c.Top)
		c.Bars = append(c.Bars, svgMark{X: x + 1, Y: c.Bot - h, W: max(bw-2, 1), H: h,
			Title: binRange(b, div) + " " + unit + ": " + fmtCount(b.Count) + " (" + sig(100*float64(b.Count)/float64(total), 3) + "%)"})
		if i%every == 0 {
			c.XTicks = append(c.XTicks, axisTick{x, sig(float64(b.Lo)/float64(div), 3)})
		}
	}
	if len(bins)%every == 0 {
		c.XTicks = append(c.XTicks, axisTick{c.Right, sig(float64(bins[len(bins)-1].Hi)/float64(div), 3)})
	}
	for _, q := range []struct {
		label string
		ms    float64
	}{{"p50", sum.P50}, {"p99", sum.P99}} {
		d := time.Duration(q.ms * float64(time.Millisecond))
		for i, b := range bins {
			if d >= b.Lo && (d < b.Hi || i == len(bins)-1) {
				frac := min(float64(d-b.Lo)/float64(b.Hi-b.Lo), 1)
				c.Marks = append(c.Marks, axisTick{c.Left + (float64(i)+frac)*bw, q.label})
				break
			}
		}
	}
	return c
}

func isLinear(bins []Bin) bool {
	return len(bins) < 2 || bins[0].Hi-bins[0].Lo == bins[len(bins)-1].Hi-bins[len(bins)-1].Lo
}

// niceScale returns a 1-2-2.5-5 × 10ⁿ step and the axis top (a multiple of
// it ≥ maxV) such that at most n steps cover maxV; top is 1 for maxV ≤ 0.
func niceScale(maxV float64, n int) (step, top float64) {
	if maxV <= 0 {
		return 0.2, 1
	}
	for exp := math.Pow(10, math.Floor(math.Log10(maxV/float64(n)))); ; exp *= 10 {
		for _, m := range []float64{1, 2, 2.5, 5} {
			step = m * exp
			if top = math.Ceil(maxV/step-1e-9) * step; top/step <= float64(n)+1e-9 {
				return step, top
			}
		}
	}
}

// niceTimeStep returns a tick step in seconds (1, 2, 5, 10, 15, 30 s,
// 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12, 24 h) giving at most n ticks
// over total seconds.
func niceTimeStep(total float64, n int) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400} {
		if total/s <= float64(n) {
			return s
		}
	}
	return math.Ceil(total/float64(n)/86400) * 86400
}

// axisNumber formats a tick value: 1,500 or 0.25.
func axisNumber(v float64) string {
	if v == math.Trunc(v) && v < 1e15 {
		return fmtCount(uint64(v))
	}
	return sig(v, 3)
}

// fmtCount formats n with thousands separators: 1,234,567.
func fmtCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func errorsNote(e ErrorsReport) string {
	if e.Total == 0 {
		return "none"
	}
	return plural(len(e.ByKind), "kind", "kinds")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// fmtMS formats milliseconds with three significant digits, in seconds
// from 1 s up; "–" when count is zero (nothing measured).
func fmtMS(v float64, count uint64) string {
	if count == 0 {
		return "–"
	}
	if v >= 1000 {
		return sig(v/1000, 3) + " s"
	}
	return sig(v, 3) + " ms"
}

// fmtPercent formats a fraction as a percentage with up to four
// significant digits: 0%, 0.012%, 12.5%.
func fmtPercent(f float64) string { return sig(f*100, 4) + "%" }

// fmtSpan formats a duration compactly: 850ms, 5s, 1m30s, 2h, 1h5m.
func fmtSpan(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		d = d.Round(10 * time.Millisecond)
	default:
		d = d.Round(time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
