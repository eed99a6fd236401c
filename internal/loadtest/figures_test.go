package loadtest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
)

func parseAll(t *testing.T, texts ...string) []threshold.Threshold {
	t.Helper()
	var out []threshold.Threshold
	for _, s := range texts {
		th, err := threshold.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, th)
	}
	return out
}

// TestFiguresNameTheReport: each figure of the fixed run is the value the
// report prints under the name a scenario run uses for the same thing.
func TestFiguresNameTheReport(t *testing.T) {
	rep := &Report{
		Connections: Connections{Target: 10, Connected: 8, Joined: 7, Failed: 2, StillOpen: 6,
			ConnectLatency: Summary{Count: 8, P99: 4.5}},
		Broadcasts: Broadcasts{Sent: 20, Failed: 5, RatePerSecond: 2, RequestLatency: Summary{Count: 15, P50: 1.5}},
		Messages:   Messages{LossCounts: LossCounts{Expected: 100, Delivered: 97, Lost: 3, Duplicates: 1, Loss: 0.03}, PerSecond: 9.7},
		Latency:    Summary{Count: 97, P99: 12.25, Max: 30},
		Churn: Churn{Holds: 6, Conflicts: 2, Limited: 1, Releases: 5, UpdatesExpected: 40, UpdatesDelivered: 39,
			HoldLatency: Summary{Count: 6, P90: 3}, UpdateLatency: Summary{Count: 39, P99: 8}},
		Errors:    ErrorsReport{Total: 10, ByKind: map[string]uint64{"hold_http_500": 1, "release_timeout": 1, "connect_refused: x": 2, "broadcast_http_500": 5, "disconnected": 1}},
		Generator: GeneratorCost{CPUSeconds: 1.25},
	}
	want := map[string]threshold.Figure{
		"connect.count": {Value: 10}, "connect.ok": {Value: 8}, "connect.failed": {Value: 2}, "connect.errors": {Value: 2},
		"connect.error_rate": {Value: 0.2, Unit: threshold.Ratio}, "connect.p99": {Value: 4.5, Unit: threshold.Millis},
		"connections.joined": {Value: 7}, "connections.still_open": {Value: 6},
		"delivery.expected": {Value: 100}, "delivery.delivered": {Value: 97}, "delivery.lost": {Value: 3}, "delivery.duplicates": {Value: 1},
		"delivery.loss_rate": {Value: 0.03, Unit: threshold.Ratio}, "delivery.p99": {Value: 12.25, Unit: threshold.Millis},
		"delivery.max": {Value: 30, Unit: threshold.Millis}, "delivery.per_s": {Value: 9.7},
		"broadcast.count": {Value: 20}, "broadcast.ok": {Value: 15}, "broadcast.errors": {Value: 5},
		"broadcast.error_rate": {Value: 0.25, Unit: threshold.Ratio}, "broadcast.p50": {Value: 1.5, Unit: threshold.Millis},
		"hold.count": {Value: 10}, "hold.ok": {Value: 6}, "hold.refused": {Value: 3}, "hold.errors": {Value: 1},
		"hold.p90": {Value: 3, Unit: threshold.Millis}, "release.count": {Value: 6}, "release.ok": {Value: 5}, "release.errors": {Value: 1},
		"slot_update.expected": {Value: 40}, "slot_update.delivered": {Value: 39}, "slot_update.p99": {Value: 8, Unit: threshold.Millis},
		// Actions: 10 connects, 20 broadcasts, 10 holds, 6 releases.
		"errors.total": {Value: 10}, "errors.rate": {Value: 10.0 / 46, Unit: threshold.Ratio},
		"generator.cpu_s": {Value: 1.25},
	}
	got := rep.Figures()
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	// Nothing measured, no latency figure: a limit on it fails as unknown.
	if _, ok := got["release.p99"]; ok {
		t.Error("release.p99 reported without a release latency")
	}
}

// TestFixedRunThresholdsListedEverywhere: --threshold limits are checked
// on the fixed run, a breached or unknown one fails it, and each is listed
// with its value in the summary, the JSON and the HTML report.
func TestFixedRunThresholdsListedEverywhere(t *testing.T) {
	rep := sampleReport(t, 20, "http://127.0.0.1:3000")
	texts := []string{"delivery.p99<1s", "delivery.lost==0", "connect.failed==0", "delivery.p99<1µs", "vusers.failed==0"}
	rep.Check(0, -1, -1, parseAll(t, texts...)...)
	wantPass := []bool{true, true, true, false, false}
	if len(rep.Thresholds.Results) != len(texts) {
		t.Fatalf("results %+v", rep.Thresholds.Results)
	}
	for i, res := range rep.Thresholds.Results {
		if res.Text != texts[i] || res.Pass != wantPass[i] {
			t.Errorf("result %d = %s, want pass %v", i, res, wantPass[i])
		}
	}
	if rep.Pass || len(rep.Thresholds.Breached) != 2 || !strings.HasPrefix(rep.Thresholds.Breached[0], "delivery.p99<1µs (") ||
		!strings.Contains(rep.Thresholds.Breached[1], "no such figure") {
		t.Errorf("pass %v, breached %q", rep.Pass, rep.Thresholds.Breached)
	}

	var text bytes.Buffer
	if err := rep.WriteTable(&text); err != nil {
		t.Fatal(err)
	}
	page := writeHTML(t, rep)
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Thresholds struct {
			Results []struct {
				Text  string   `json:"text"`
				Value *float64 `json:"value"`
				Pass  bool     `json:"pass"`
			} `json:"results"`
		} `json:"thresholds"`
	}
	if err := json.Unmarshal(js, &decoded); err != nil || len(decoded.Thresholds.Results) != len(texts) {
		t.Fatalf("json thresholds %s (%v)", js, err)
	}
	for i, res := range rep.Thresholds.Results {
		line := res.String()
		if !strings.Contains(text.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, text.String())
		}
		if !strings.Contains(page, strings.ReplaceAll(line, "<", "&lt;")) {
			t.Errorf("html lacks %q", line)
		}
		if j := decoded.Thresholds.Results[i]; j.Text != line || j.Pass != res.Pass {
			t.Errorf("json result %d = %+v, want %q", i, j, line)
		}
	}
	// The FAIL line says the verdict once, then what failed.
	if !strings.Contains(text.String(), "\nFAIL  delivery.p99<1µs (") || strings.Contains(text.String(), "FAIL  FAIL") {
		t.Errorf("summary has no FAIL line, or repeats the verdict:\n%s", text.String())
	}

	// All met: the summary says PASS.
	rep.Check(0, -1, -1, parseAll(t, "delivery.lost==0", "connect.failed==0")...)
	text.Reset()
	_ = rep.WriteTable(&text)
	if !rep.Pass || !strings.Contains(text.String(), "PASS  all thresholds met") {
		t.Errorf("pass %v:\n%s", rep.Pass, text.String())
	}
}

// TestSeriesReportMatchesCSV: the JSON's per-second rows carry the CSV's
// figures, second by second.
func TestSeriesReportMatchesCSV(t *testing.T) {
	rep := sampleReport(t, 40, "http://127.0.0.1:3000")
	rows := rep.Series.Report()
	var csv bytes.Buffer
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")[1:]
	if len(rows) != len(lines) || len(rows) != 40 {
		t.Fatalf("%d rows, %d csv lines", len(rows), len(lines))
	}
	var delivered uint64
	for i, r := range rows {
		cells := strings.Split(lines[i], ",")
		want := []string{strconv.Itoa(r.Second), r.Phase, utoa(r.Connects), utoa(r.Sent), utoa(r.Delivered)}
		for j, w := range want {
			if cells[j] != w {
				t.Errorf("second %d column %d: json %s, csv %s", i, j, w, cells[j])
			}
		}
		if cells[8] != utoa(r.Errors) || cells[9] != utoa(r.Holds) {
			t.Errorf("second %d: errors/holds json %d/%d, csv %s/%s", i, r.Errors, r.Holds, cells[8], cells[9])
		}
		if (r.Delivered > 0) != (cells[6] != "") || r.Delivered > 0 && r.P99Ms <= 0 {
			t.Errorf("second %d: delivered %d, p99 json %g, csv %q", i, r.Delivered, r.P99Ms, cells[6])
		}
		delivered += r.Delivered
	}
	if delivered != rep.Messages.Delivered {
		t.Errorf("rows deliver %d, the report %d", delivered, rep.Messages.Delivered)
	}
}

func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
