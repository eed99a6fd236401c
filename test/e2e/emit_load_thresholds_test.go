package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/vuser"
	"github.com/coworkctl/coworkctl/internal/testkit"
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
	// The verdict is said once: the FAIL line and the error list what
	// failed without repeating it.
	if !strings.Contains(r.Stderr, "threshold breached: delivery.p99<1µs") || strings.Contains(r.Stdout+r.Stderr, "FAIL FAIL") ||
		strings.Contains(r.Stderr, "breached: FAIL") {
		t.Errorf("verdict repeated or missing:\nstdout %s\nstderr %s", r.Stdout, r.Stderr)
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

// TestEmitLoadFixedRunInterrupted: SIGINT during the fixed run's traffic
// prints what was measured, marked interrupted in the text, the JSON, the
// CSV and the HTML report, and exits 130.
func TestEmitLoadFixedRunInterrupted(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	for _, asJSON := range []bool{false, true} {
		dir := t.TempDir()
		csvPath, htmlPath := filepath.Join(dir, "i.csv"), filepath.Join(dir, "i.html")
		args := []string{"emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
			"--clients", "4", "--rooms", "1", "--duration", "60s", "--rate", "5", "--csv", csvPath, "--report", htmlPath}
		if asJSON {
			args = append(args, "--json")
		}
		sent := customEventsOut(t, s)
		// Interrupt during the traffic: the run's first broadcast comes
		// after every client connected.
		out, errb := interruptRun(t, args, "the run's first broadcast", func() bool { return customEventsOut(t, s) > sent })
		if asJSON {
			var rep loadtest.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Interrupted || rep.Connections.Connected != 4 {
				t.Errorf("json report: %v interrupted %v connected %d\n%s\n%s", err, rep.Interrupted, rep.Connections.Connected, out, errb)
			}
		} else if !strings.Contains(out, "INTERRUPTED") {
			t.Errorf("text report not marked:\n%s", out)
		}
		rows := readCSV(t, csvPath)
		if last := rows[len(rows)-1]; last[1] != "interrupted" {
			t.Errorf("csv's last row %v, want the interrupted marker", last)
		}
		if page, err := os.ReadFile(htmlPath); err != nil || !strings.Contains(string(page), "INTERRUPTED") {
			t.Errorf("html report not marked (err %v)", err)
		}
	}
}

// customEventsOut is the server's count of broadcasts of events outside
// the contract (the load test's).
func customEventsOut(t *testing.T, s *Server) float64 {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/metrics", "", nil)
	for _, line := range strings.Split(string(r.Raw), "\n") {
		if rest, ok := strings.CutPrefix(line, `coworkctl_events_out_total{event="custom"} `); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("/metrics line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// TestEmitLoadFixedRunInterruptedWhileConnecting: SIGINT before every
// client is connected still prints the report of what was measured,
// marked interrupted, and exits 130.
func TestEmitLoadFixedRunInterruptedWhileConnecting(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	out, errb := interruptRun(t, []string{"emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "100", "--connect-rate", "4", "--rooms", "1", "--duration", "5s", "--rate", "5", "--json"},
		"two clients connected", func() bool { return s.Metric(t, "coworkctl_sockets") >= 2 })
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Interrupted || rep.Connections.Connected < 2 || rep.Connections.Connected >= 100 {
		t.Errorf("json report: %v interrupted %v connected %d\nstdout %s\nstderr %s", err, rep.Interrupted, rep.Connections.Connected, out, errb)
	}
}

// interruptRun starts coworkctl with args, sends it SIGINT once ready
// holds, and returns what it printed; it fails the test unless the
// command then exits 130.
func interruptRun(t *testing.T, args []string, what string, ready func() bool) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, coworkctlBin, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, what, ready)
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("%v: %v, want exit 130\nstdout %s\nstderr %s", args, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}
