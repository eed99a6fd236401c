package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest/vuser"
)

// writeScenario writes a scenario file into a temporary directory.
func writeScenario(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spaces.csv"), []byte("spazio,sede\n1,1\n2,1\n5,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "scenario.yml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// coworkingScenario: users join a space for a day, hold a slot, see the
// slot_update their hold caused, then book or release it and leave.
const coworkingScenario = `config:
  target: http://127.0.0.1:1
  phases:
    - {name: arrive, duration: 2, arrivalRate: 6}
    - {name: ramp, duration: 1, arrivalRate: 2, rampTo: 6}
  payload: {path: spaces.csv, fields: [spazio, sede], skipHeader: true}
scenarios:
  - name: books
    flow:
      - join: {spazio: "{{ spazio }}", sede: "{{ sede }}", date: "{{ $dateOffset(2) }}"}
      - hold: {slot: "{{ $randomNumber(1, 9) }}"}
      - wait_for: {event: slot_update, timeout: 5s, match: {json: "$.0.status", value: occupied}}
      - think: {uniform: [0.05, 0.2]}
      - book: {}
      - leave: {}
  - name: releases
    weight: 2
    flow:
      - join: {spazio: "{{ spazio }}", sede: "{{ sede }}", date: "{{ $dateOffset(3) }}"}
      - loop:
          - hold: {slot: "{{ $loopElement }}"}
          - think: {exponential: 0.05}
          - release: {}
        over: [1, 2]
      - leave: {}
`

// TestEmitLoadScenarioCoworking runs a coworking scenario against a real
// server: every virtual user completes, each step is counted and timed,
// the slot_update ledger loses nothing, and thresholds are listed.
func TestEmitLoadScenarioCoworking(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	path := writeScenario(t, coworkingScenario)
	dir := t.TempDir()
	r := runCoworkctl(t, 90*time.Second, "emit", "load", "--scenario", path, "--target", s.URL, "--jwt-secret", s.Secret,
		"--json", "--seed", "7", "--csv", filepath.Join(dir, "s.csv"), "--report", filepath.Join(dir, "s.html"),
		"--threshold", "vusers.failed==0", "--threshold", "hold.p99<5s", "--threshold", "errors.rate<0.1%",
		"--threshold", "websocket.join.count>=1")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep vuser.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	// 2 s at 6/s, then 2→6/s over 1 s: 12 + 4 arrivals.
	if rep.VUsers.Created != 16 || rep.VUsers.Completed != 16 || rep.VUsers.Failed != 0 || rep.VUsers.Connected != 16 {
		t.Errorf("vusers %+v, want 16 created, connected and completed", rep.VUsers)
	}
	steps := map[string]vuser.StepReport{}
	for _, st := range rep.Steps {
		steps[st.Name] = st
	}
	if j := steps["join"]; j.Count != 16 || j.OK != 16 || j.Latency.Count != 16 {
		t.Errorf("join %+v", j)
	}
	books, releases := steps["book"], steps["release"]
	holds := steps["hold"]
	if holds.Count != books.Count+releases.Count || holds.OK+holds.Refused != holds.Count || holds.Errors != 0 {
		t.Errorf("hold %+v, book %+v, release %+v", holds, books, releases)
	}
	if w := steps["wait_for"]; w.Count != books.Count || w.OK != w.Count-w.Errors || w.Errors != 0 {
		t.Errorf("wait_for %+v, want one per booking user without error", w)
	}
	u := rep.Updates
	if u.Expected == 0 || u.Delivered+u.Left != u.Expected || u.Lost != 0 || u.Latency.Count != u.Delivered {
		t.Errorf("slot_update ledger %+v", u)
	}
	if len(rep.Thresholds) != 4 || !rep.Pass || rep.Interrupted {
		t.Errorf("thresholds %+v pass %v interrupted %v", rep.Thresholds, rep.Pass, rep.Interrupted)
	}
	csv := readCSV(t, filepath.Join(dir, "s.csv"))
	if len(csv) < 4 || csv[0][2] != "vusers_created" {
		t.Errorf("csv %v", csv)
	}
	html, err := os.ReadFile(filepath.Join(dir, "s.html"))
	if err != nil || !bytes.Contains(html, []byte("vusers.failed==0")) || !bytes.Contains(html, []byte("slot_update delivery")) {
		t.Errorf("html report lacks thresholds or the ledger (err %v)", err)
	}

	// The same run in text, with a threshold it cannot meet: exit 3 and
	// the breach listed.
	r = runCoworkctl(t, 90*time.Second, "emit", "load", "--scenario", path, "--target", s.URL, "--jwt-secret", s.Secret,
		"--threshold", "join.max<1µs", "--threshold", "vusers.completed>=1")
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"FAIL join.max<1µs", "PASS vusers.completed>=1", "vusers    created 16", "slot_update", "threshold breached"} {
		if !strings.Contains(r.Stdout+r.Stderr, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, r.Stdout, r.Stderr)
		}
	}
}

// TestEmitLoadScenarioArtilleryShape runs a script in the shape of
// Artillery's Socket.IO example (emit with acknowledge and match, think,
// loop) against our server's acknowledged events.
func TestEmitLoadScenarioArtilleryShape(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	path := writeScenario(t, `config:
  target: "`+s.URL+`"
  phases:
    - duration: 1
      arrivalRate: 5
  variables:
    space: [1, 2]
scenarios:
  - name: "emit_and_validate_acknowledgment"
    engine: socketio
    flow:
      - loop:
          - emit:
              channel: "join_space"
              data: {spazioId: "{{ space }}", sedeId: 1}
            acknowledge:
              match:
                json: "$.0.success"
                value: true
          - emit:
              channel: "ping_latency"
            acknowledge:
              match: {json: "$.0.ok", value: true}
          - think: 0.05
        count: 3
`)
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", path, "--jwt-secret", s.Secret, "--json",
		"--threshold", "join_space.count==15", "--threshold", "ping_latency.errors==0")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep vuser.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.VUsers.Completed != 5 || !rep.Pass {
		t.Errorf("vusers %+v pass %v thresholds %v", rep.VUsers, rep.Pass, rep.Thresholds)
	}

	// An acknowledgement that does not match fails the user, as in
	// Artillery, and the mismatch is counted with what was seen.
	bad := writeScenario(t, `config:
  target: "`+s.URL+`"
  phases: [{duration: 1, arrivalCount: 2}]
scenarios:
  - flow:
      - emit: {channel: join_space, data: {spazioId: 99, sedeId: 1}}
        acknowledge: {match: {json: "$.0.success", value: true}}
`)
	r = runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", bad, "--jwt-secret", s.Secret)
	if r.Code != 1 || !strings.Contains(r.Stdout, "join_space: ack_mismatch") || !strings.Contains(r.Stdout, "every action failed") {
		t.Errorf("exit %d, want 1 with ack_mismatch and 'every action failed'\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestEmitLoadScenarioNothingWorked: with the wrong secret no user
// connects, and the run exits 1 without any threshold, naming the
// server's reason.
func TestEmitLoadScenarioNothingWorked(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	path := writeScenario(t, coworkingScenario)
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", path, "--target", s.URL, "--jwt-secret", "wrong", "--json")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var rep vuser.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.VUsers.Failed != 16 || !strings.Contains(strings.Join(rep.Failures, ";"), "no virtual user connected") {
		t.Errorf("pass %v vusers %+v failures %v", rep.Pass, rep.VUsers, rep.Failures)
	}
	found := false
	for k := range rep.Errors.ByKind {
		found = found || strings.HasPrefix(k, "connect: refused: ") && len(k) > len("connect: refused: ")
	}
	if !found {
		t.Errorf("no refusal with the server's reason: %v", rep.Errors.ByKind)
	}
}

// TestEmitLoadScenarioInterrupted: SIGINT during a run prints the report
// marked interrupted (text, JSON, CSV) and exits 130.
func TestEmitLoadScenarioInterrupted(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	path := writeScenario(t, `config:
  phases: [{duration: 60, arrivalRate: 5}]
scenarios:
  - flow:
      - join: {spazio: 1, sede: 1}
      - think: 30
`)
	for _, asJSON := range []bool{false, true} {
		csvPath := filepath.Join(t.TempDir(), "i.csv")
		args := []string{"emit", "load", "--scenario", path, "--target", s.URL, "--jwt-secret", s.Secret, "--csv", csvPath}
		if asJSON {
			args = append(args, "--json")
		}
		// Interrupt once users are connected: the server counts them.
		out, errb := interruptRun(t, args, "two users connected to the server", func() bool { return s.Metric(t, "coworkctl_sockets") >= 2 })
		if asJSON {
			var rep vuser.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Interrupted || rep.VUsers.Created == 0 {
				t.Errorf("json report: %v interrupted %v created %d\n%s", err, rep.Interrupted, rep.VUsers.Created, errb)
			}
		} else if !strings.Contains(out, "INTERRUPTED") {
			t.Errorf("text report not marked:\n%s", out)
		}
		rows := readCSV(t, csvPath)
		if last := rows[len(rows)-1]; last[1] != "interrupted" {
			t.Errorf("csv's last row %v, want the interrupted marker", last)
		}
	}
}
