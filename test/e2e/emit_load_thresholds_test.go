package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/vuser"
)

// TestEmitLoadFixedRunThresholds: --threshold gates the fixed run as it
// gates a scenario run: every threshold is listed with its value in the
// summary, the JSON and the HTML report, and a breached or unknown one
// exits 3.
func TestEmitLoadFixedRunThresholds(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	base := []string{"emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "10", "--rooms", "2", "--duration", "1s", "--rate", "10", "--drain", "2s"}
	met := []string{"--threshold", "delivery.p99<10s", "--threshold", "delivery.lost==0", "--threshold", "connect.failed==0"}

	r := runCoworkctl(t, 60*time.Second, append(append(base, met...), "--json")...)
	if r.Code != 0 {
		t.Fatalf("thresholds met: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	if res := rep.Thresholds.Results; len(res) != 3 || !res[0].Pass || !res[1].Pass || !res[2].Pass || !rep.Pass {
		t.Errorf("results %+v, pass %v", res, rep.Pass)
	}
	for _, want := range []string{`"text":"PASS delivery.lost==0 (0)"`, `"text":"PASS connect.failed==0 (0)"`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("json lacks %s", want)
		}
	}

	html := filepath.Join(t.TempDir(), "r.html")
	r = runCoworkctl(t, 60*time.Second, append(append(base, met...),
		"--threshold", "delivery.p99<1µs", "--threshold", "vusers.failed==0", "--report", html)...)
	if r.Code != 3 {
		t.Fatalf("breached: exit %d, want 3\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"thresholds  PASS delivery.p99<10s", "PASS delivery.lost==0 (0)", "PASS connect.failed==0 (0)",
		"FAIL delivery.p99<1µs", "FAIL vusers.failed==0 (—): no such figure"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stderr, "threshold breached: FAIL delivery.p99<1µs") {
		t.Errorf("stderr: %s", r.Stderr)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "FAIL delivery.p99&lt;1µs") || !strings.Contains(string(page), "PASS connect.failed==0 (0)") {
		t.Errorf("html report lacks the thresholds (err %v)", err)
	}

	// A threshold that does not parse is a usage error, before any run.
	r = runCoworkctl(t, 20*time.Second, append(base, "--threshold", "delivery.p99 about 5ms")...)
	if r.Code != 2 || !strings.Contains(r.Stderr, "threshold") {
		t.Errorf("bad threshold: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// TestEmitLoadJSONHasSeries: both runs' --json carry the run second by
// second under "series", rows of the CSV's columns.
func TestEmitLoadJSONHasSeries(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "10", "--rooms", "2", "--duration", "2s", "--rate", "10", "--drain", "2s", "--json")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	var connects, sent, delivered uint64
	phases := map[string]bool{}
	for i, row := range rep.PerSecond {
		if row.Second != i {
			t.Errorf("row %d is second %d", i, row.Second)
		}
		connects += row.Connects
		sent += row.Sent
		delivered += row.Delivered
		phases[row.Phase] = true
	}
	if len(rep.PerSecond) < 3 || connects != 10 || sent != rep.Broadcasts.Sent || delivered != rep.Messages.Delivered ||
		!phases["traffic"] {
		t.Errorf("series %+v: %d connects, %d sent, %d delivered; report %d sent, %d delivered",
			rep.PerSecond, connects, sent, delivered, rep.Broadcasts.Sent, rep.Messages.Delivered)
	}

	path := writeScenario(t, `config:
  phases: [{duration: 2, arrivalRate: 4}]
scenarios:
  - flow:
      - join: {spazio: 1, sede: 1}
      - leave: {}
`)
	r = runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", path, "--target", s.URL, "--jwt-secret", s.Secret, "--json")
	if r.Code != 0 {
		t.Fatalf("scenario: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var srep vuser.Report
	if err := json.Unmarshal([]byte(r.Stdout), &srep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	var created, completed uint64
	for _, row := range srep.Series {
		created += row.Created
		completed += row.Completed
	}
	if len(srep.Series) < 2 || created != srep.VUsers.Created || completed != srep.VUsers.Completed || created != 8 {
		t.Errorf("scenario series %+v: %d created, %d completed; report %+v", srep.Series, created, completed, srep.VUsers)
	}
}
