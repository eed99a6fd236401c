package e2e

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/headless"
)

// TestEmitLoadReportFiles runs a load test against the real server with
// --report and --csv: the CSV's seconds add up to the JSON report, and the
// HTML page renders its charts in a headless Chromium.
func TestEmitLoadReportFiles(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	dir := t.TempDir()
	htmlPath, csvPath := filepath.Join(dir, "load.html"), filepath.Join(dir, "load.csv")
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "20", "--rooms", "2", "--duration", "4s", "--rate", "20", "--churn", "2",
		"--json", "--report", htmlPath, "--csv", csvPath)
	if r.Code != 0 {
		t.Fatalf("emit load exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "HTML report: "+htmlPath) || !strings.Contains(r.Stderr, "per-second CSV: "+csvPath) {
		t.Errorf("stderr does not say where the files are: %s", r.Stderr)
	}

	rows := readCSV(t, csvPath)
	if got := strings.Join(rows[0], ","); got != "second,phase,connects,sent,delivered,p50_ms,p99_ms,max_ms,errors,holds" {
		t.Fatalf("CSV header %s", got)
	}
	var sums [10]uint64
	phases := map[string]int{}
	last := "connect"
	order := map[string]int{"connect": 0, "traffic": 1, "drain": 2}
	for i, row := range rows[1:] {
		if row[0] != strconv.Itoa(i) {
			t.Errorf("row %d: second %s", i, row[0])
		}
		if order[row[1]] < order[last] {
			t.Errorf("row %d: phase %s after %s", i, row[1], last)
		}
		last = row[1]
		phases[row[1]]++
		for _, c := range []int{2, 3, 4, 8, 9} {
			n, err := strconv.ParseUint(row[c], 10, 64)
			if err != nil {
				t.Fatalf("row %d column %s: %v", i, rows[0][c], err)
			}
			sums[c] += n
		}
		if d, _ := strconv.ParseUint(row[4], 10, 64); d > 0 {
			p50, err1 := strconv.ParseFloat(row[5], 64)
			p99, err2 := strconv.ParseFloat(row[6], 64)
			if err1 != nil || err2 != nil || p50 <= 0 || p50 > p99 {
				t.Errorf("row %d: %d delivered, p50 %q p99 %q", i, d, row[5], row[6])
			}
		}
	}
	// 4 s of traffic: seconds 0…4 or 5 depending on where the connect
	// phase ended.
	if phases["traffic"] < 4 || phases["traffic"] > 6 {
		t.Errorf("phases %v, want about 4 traffic seconds", phases)
	}
	if sums[2] != uint64(rep.Connections.Connected) || sums[3] != rep.Broadcasts.Sent ||
		sums[4] != rep.Messages.Delivered+rep.Messages.Duplicates+rep.Messages.Unexpected ||
		sums[8] != rep.Errors.Total || sums[9] != rep.Churn.Holds {
		t.Errorf("CSV totals connects %d sent %d delivered %d errors %d holds %d; report %+v %+v %+v %+v %+v",
			sums[2], sums[3], sums[4], sums[8], sums[9], rep.Connections, rep.Broadcasts, rep.Messages, rep.Errors, rep.Churn)
	}

	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{s.URL, "Latency distribution of delivery", "Messages delivered per second", "Delivery latency per second", "Configuration"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "<script") {
		t.Errorf("page has a script")
	}
	bars := strings.Count(string(page), `<rect class="bar" `)
	if bars < 2 {
		t.Errorf("%d histogram bars in the page", bars)
	}
	headless.CheckCharts(t, headless.Chromium(t), htmlPath, headless.Charts{
		Bars:   bars,
		Points: map[string]int{"delivered": len(rows) - 1, "p50": 0, "p99": 0},
		Colors: []string{loadtest.ColorDelivered, loadtest.ColorP50, loadtest.ColorP99, loadtest.ColorBar}, MinPixels: 300,
	})
}

// TestEmitLoadReportShortRun: a 1-second run still gets its histogram in
// the terminal summary, a CSV and a page.
func TestEmitLoadReportShortRun(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	dir := t.TempDir()
	htmlPath, csvPath := filepath.Join(dir, "short.html"), filepath.Join(dir, "short.csv")
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--token", s.Token(t, 1, "admin"),
		"--clients", "5", "--rooms", "1", "--duration", "1s", "--rate", "10", "--report", htmlPath, "--csv", csvPath)
	if r.Code != 0 {
		t.Fatalf("emit load exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	i := strings.Index(r.Stdout, "delivery latency (")
	if i < 0 || !strings.ContainsAny(r.Stdout[i:], "█▏▎▍▌▋▊▉") {
		t.Errorf("no latency histogram in the summary:\n%s", r.Stdout)
	}
	if rows := readCSV(t, csvPath); len(rows) < 2 {
		t.Errorf("CSV of a 1 s run has %d rows", len(rows))
	}
	if page, err := os.ReadFile(htmlPath); err != nil || !strings.Contains(string(page), `class="series delivered"`) {
		t.Errorf("page of a 1 s run: %v", err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return rows
}
