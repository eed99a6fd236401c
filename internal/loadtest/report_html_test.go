package loadtest

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest/headless"
)

// sampleReport is a run of the given length (connect 2 s and drain 1 s of
// it when long enough) at 200 deliveries a second through a real Timeline, with a latency
// spike, a quiet stretch and errors, summarized as Run would.
func sampleReport(t testing.TB, seconds int, server string) *Report {
	t.Helper()
	start := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	tl := newTimeline(start, time.Duration(seconds)*time.Second)
	var all Histogram
	const perSecond = 200
	connect := min(2, seconds/3)
	for s := range seconds {
		base := start.Add(time.Duration(s) * time.Second)
		if s < connect {
			tl.count(countConnect, base)
			continue
		}
		if s%10 == 7 {
			tl.count(countError, base)
		}
		if s%50 == 25 {
			continue // nothing delivered this second
		}
		if s < seconds-1 {
			tl.count(countSent, base)
		}
		for i := range perSecond {
			// 0.5–2.5 ms, a tail to 20 ms, and a spike every 30 s.
			lat := time.Duration(500+(i*37)%2000) * time.Microsecond
			if i%100 == 0 {
				lat = 20 * time.Millisecond
			}
			if s%30 == 15 {
				lat *= 3
			}
			all.Record(lat)
			tl.deliver(base.Add(time.Duration(i)*time.Second/perSecond), lat)
		}
	}
	end := time.Duration(seconds)*time.Second - 300*time.Millisecond
	rep := &Report{
		Server: server,
		Config: ReportConfig{Clients: 50, PollingClients: 10, ConnectRate: 500, Rooms: demoSpaces()[:4],
			DurationSeconds: float64(seconds - 3), Rate: 1, PayloadBytes: 200, Event: "loadtest"},
		Connections: Connections{Target: 50, Connected: 50, Joined: 50, WallSeconds: 0.2},
		Broadcasts:  Broadcasts{Sent: uint64(seconds), RatePerSecond: 1},
		Messages:    Messages{LossCounts: LossCounts{Sent: uint64(seconds), Expected: all.Count(), Delivered: all.Count()}, PerSecond: perSecond, DrainSeconds: 0.4},
		Latency:     all.Summarize(),
		Errors:      ErrorsReport{Total: uint64(seconds / 10), ByKind: map[string]uint64{"broadcast_http_500": uint64(seconds / 10)}},
		Generator:   GeneratorCost{CPUSeconds: 1.5, CPUUserSeconds: 1, CPUSysSeconds: 0.5, MaxRSSKiB: 40960, NumCPU: 2, GOMAXPROCS: 2},
		Series: &Series{Start: start, TrafficStart: time.Duration(connect) * time.Second, TrafficEnd: max(end-time.Second, 0), End: end,
			Seconds: tl.series(end)},
		DeliveryDist: &all,
	}
	rep.Check(50*time.Millisecond, 0, -1)
	return rep
}

func writeHTML(t testing.TB, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteHTML(&b, HTMLOptions{Generator: "coworkctl v1.2.3", Generated: rep.Series.Start}); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

var (
	seriesRE = regexp.MustCompile(`<path class="series ([a-z0-9]+)" data-n="(\d+)" d="([^"]*)"`)
	barRE    = regexp.MustCompile(`<rect class="bar" `)
)

// drawnSeries returns, per series class, the points its data-n claims and
// the points its path data holds.
func drawnSeries(t testing.TB, page string) map[string][2]int {
	t.Helper()
	out := map[string][2]int{}
	for _, m := range seriesRE.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = [2]int{n, strings.Count(m[3], ",")}
	}
	return out
}

func TestWriteHTMLChartsEveryRunLength(t *testing.T) {
	tests := []struct {
		seconds, points int
	}{
		{1, 1},     // a 1 s run: one dot
		{90, 90},   // a point per second
		{600, 600}, // still a point per second
		{601, 301}, // pairs of seconds
		{7200, 600},
	}
	for _, tt := range tests {
		rep := sampleReport(t, tt.seconds, "http://127.0.0.1:8080")
		page := writeHTML(t, rep)
		got := drawnSeries(t, page)
		if d := got["delivered"]; d != [2]int{tt.points, tt.points} {
			t.Errorf("%d s: delivered draws %v points (data-n, path), want %d", tt.seconds, d, tt.points)
		}
		if tt.seconds > 1 {
			// p50 and p99 skip the quiet seconds and the connect phase.
			for _, q := range []string{"p50", "p99"} {
				if d := got[q]; d[0] != d[1] || d[0] == 0 || d[0] > tt.points {
					t.Errorf("%d s: %s draws %v points", tt.seconds, q, d)
				}
			}
		}
		if n, want := len(barRE.FindAllString(page, -1)), len(rep.DeliveryDist.Bins(htmlHistogramBins)); n != want || n < 3 {
			t.Errorf("%d s: %d histogram bars, want %d", tt.seconds, n, want)
		}
		if tt.seconds == 1 && !strings.Contains(page, `<circle class="dot delivered"`) {
			t.Errorf("1 s run: no dot for its only point")
		}
		if tt.seconds == 7200 && !strings.Contains(page, "Each point is the mean of 12 seconds.") {
			t.Errorf("2 h run: the downsampling is not explained")
		}
	}
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	page := writeHTML(t, sampleReport(t, 90, "http://127.0.0.1:8080"))
	for _, bad := range []string{"<script", "<link", " src=", "href=", "url(", "@import", "<iframe", "<object", "<img"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q: it must not load anything", bad)
		}
	}
	for _, want := range []string{"PASS", "1,0", "broadcast_http_500", "spazio_1_sede_1", "v1.2.3", "2025-03-14 09:26:53 UTC", "Configuration"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The colours tests look for are the ones the CSS paints.
	for _, c := range []string{ColorDelivered, ColorP50, ColorP99, ColorBar} {
		if !strings.Contains(reportHTML, c) {
			t.Errorf("the CSS does not use %s", c)
		}
	}
}

// hostile values reach the page from flags, the server and error texts.
const (
	hostileServer = `http://127.0.0.1:1/"><script>alert(1)</script><svg onload=alert(2)>`
	hostileEvent  = `</style><script>alert(3)</script>`
	hostileError  = `<img src=x onerror=alert(4)>`
)

func hostileReport(t testing.TB) *Report {
	rep := sampleReport(t, 90, hostileServer)
	rep.Config.Event = hostileEvent
	rep.Errors.ByKind[hostileError] = 1
	rep.Thresholds.Breached = append(rep.Thresholds.Breached, hostileError)
	return rep
}

func TestWriteHTMLEscapesHostileValues(t *testing.T) {
	page := writeHTML(t, hostileReport(t))
	for _, bad := range []string{"<script", "<img", "<svg onload", "</style><"} {
		if strings.Contains(page, bad) {
			t.Errorf("hostile value reached the page unescaped: %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(4)&gt;", "&lt;/style&gt;&lt;script&gt;alert(3)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	rep := sampleReport(t, 60, "http://127.0.0.1:8080")
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "second,phase,connects,sent,delivered,p50_ms,p99_ms,max_ms,errors,holds" {
		t.Fatalf("header %s", got)
	}
	if len(rows) != 1+60 {
		t.Fatalf("%d rows, want a header and 60 seconds", len(rows))
	}
	var delivered uint64
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i) {
			t.Errorf("row %d: second %s", i, r[0])
		}
		n, _ := strconv.ParseUint(r[4], 10, 64)
		delivered += n
		wantPhase := map[bool]string{true: "connect", false: "traffic"}[i < 2]
		if i >= 59 {
			wantPhase = "drain"
		}
		if r[1] != wantPhase {
			t.Errorf("row %d: phase %s, want %s", i, r[1], wantPhase)
		}
		if (n == 0) != (r[5] == "") {
			t.Errorf("row %d: %d delivered but p50 %q", i, n, r[5])
		}
		if n > 0 {
			p50, _ := strconv.ParseFloat(r[5], 64)
			p99, _ := strconv.ParseFloat(r[6], 64)
			mx, _ := strconv.ParseFloat(r[7], 64)
			if !(p50 > 0 && p50 <= p99 && p99 <= mx) || math.IsNaN(p50) {
				t.Errorf("row %d: p50 %v p99 %v max %v", i, p50, p99, mx)
			}
		}
	}
	if delivered != rep.Messages.Delivered {
		t.Errorf("rows deliver %d, report %d", delivered, rep.Messages.Delivered)
	}
	if err := (&Report{}).WriteCSV(&b); err == nil {
		t.Error("a report without a series wrote a CSV")
	}
}

func TestWriteTableHasHistogram(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(t, 30, "http://127.0.0.1:8080").WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i := strings.Index(out, "delivery latency (ms)\n")
	if i < 0 || !strings.Contains(out[i:], "█") || !strings.Contains(out[i:], "%\n") {
		t.Fatalf("no latency histogram in the summary:\n%s", out)
	}
}

// TestReportRendersInChromium opens the page in a headless Chromium: its
// DOM must hold the charts with every bar and point, hostile values only
// as text, and a screenshot must show each chart's marks painted.
func TestReportRendersInChromium(t *testing.T) {
	bin := headless.Chromium(t)
	rep := hostileReport(t)
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(writeHTML(t, rep)), 0o644); err != nil {
		t.Fatal(err)
	}
	headless.CheckCharts(t, bin, file, headless.Charts{
		Bars:   len(rep.DeliveryDist.Bins(htmlHistogramBins)),
		Points: map[string]int{"delivered": 90, "p50": 0, "p99": 0},
		Colors: []string{ColorDelivered, ColorP50, ColorP99, ColorBar}, MinPixels: 300,
	})

	dom := headless.DumpDOM(t, bin, file)
	for _, bad := range []string{"<script", "<img", "<svg onload"} {
		if strings.Contains(dom, bad) {
			t.Errorf("a hostile value became markup in the browser: %s", bad)
		}
	}
	if !strings.Contains(dom, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the hostile server URL is not shown as text")
	}
}
