package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// emitResult is one finished coworkctl invocation.
type emitResult struct {
	Code           int
	Stdout, Stderr string
}

// runCoworkctl runs the binary with args in a clean environment and
// returns its exit code and output.
func runCoworkctl(t *testing.T, timeout time.Duration, args ...string) emitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, coworkctlBin, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := emitResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("run coworkctl %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("coworkctl %v did not finish within %v\nstdout: %s\nstderr: %s", args, timeout, res.Stdout, res.Stderr)
	}
	return res
}

// listener is a Socket.IO client (our lean client) that
// records every event it receives.
type listener struct {
	conn   *sioclient.Conn
	events chan string // "name args…"
}

func listen(t *testing.T, s *Server, user int64) *listener {
	t.Helper()
	l := &listener{events: make(chan string, 64)}
	c, err := sioclient.Dial(context.Background(), sioclient.Options{
		URL: s.URL, Auth: map[string]string{"token": s.Token(t, user, "cliente")},
		OnRawEvent: func(_ *sioclient.Conn, pkt []byte, _ time.Time) {
			select {
			case l.events <- string(pkt):
			default:
			}
		},
	})
	if err != nil {
		t.Fatalf("connect user %d: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	l.conn = c
	return l
}

func (l *listener) join(t *testing.T, spazio, sede int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := l.conn.EmitWithAck(ctx, protocol.EventJoinSpace, map[string]int64{"spazioId": spazio, "sedeId": sede})
	raw, _ := json.Marshal(ack)
	if err != nil || !strings.Contains(string(raw), `"success":true`) {
		t.Fatalf("join %d@%d: %s %v", spazio, sede, raw, err)
	}
}

// saw reports whether an event named name arrives within d.
func (l *listener) saw(name string, d time.Duration) (string, bool) {
	deadline := time.After(d)
	for {
		select {
		case e := <-l.events:
			if strings.HasPrefix(e, `["`+name+`"`) {
				return e, true
			}
		case <-deadline:
			return "", false
		}
	}
}

func TestEmitEventReachesOnlyTheTarget(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	inRoom, otherRoom, user77 := listen(t, s, 11), listen(t, s, 12), listen(t, s, 77)
	inRoom.join(t, 2, 1)
	otherRoom.join(t, 3, 1)
	staff := s.Token(t, 1, "admin")

	r := runCoworkctl(t, 20*time.Second, "emit", "event", "promo", "--space", "2@1", "--data", `{"sconto":10}`,
		"--server", s.URL, "--token", staff, "--json")
	if r.Code != 0 {
		t.Fatalf("emit event exit %d\nstderr: %s", r.Code, r.Stderr)
	}
	var res protocol.AdminEmitResponse
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("decode %q: %v", r.Stdout, err)
	}
	if res.Recipients != 1 || res.Event != "promo" {
		t.Fatalf("answer = %+v, want 1 recipient", res)
	}
	got, ok := inRoom.saw("promo", 5*time.Second)
	if !ok || !strings.Contains(got, `"sconto":10`) {
		t.Fatalf("client in spazio_2_sede_1 did not get promo (last %q)", got)
	}
	if e, ok := otherRoom.saw("promo", 500*time.Millisecond); ok {
		t.Fatalf("client in another room got %s", e)
	}
	if e, ok := user77.saw("promo", 100*time.Millisecond); ok {
		t.Fatalf("client in no room got %s", e)
	}

	// --user reaches every socket of that user and nobody else; the human
	// output names the recipients.
	r = runCoworkctl(t, 20*time.Second, "emit", "event", "notice", "--user", "77", "--data", `"ciao"`,
		"--server", s.URL, "--jwt-secret", s.Secret)
	if r.Code != 0 || !strings.Contains(r.Stdout, "1 recipient") {
		t.Fatalf("emit event --user: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if _, ok := user77.saw("notice", 5*time.Second); !ok {
		t.Fatal("user 77 did not get notice")
	}
	if e, ok := inRoom.saw("notice", 300*time.Millisecond); ok {
		t.Fatalf("user 11 got %s", e)
	}

	// A non-staff token is refused by the server (exit 1); no target is a
	// usage error (exit 2).
	r = runCoworkctl(t, 20*time.Second, "emit", "event", "x", "--all", "--server", s.URL, "--token", s.Token(t, 5, "cliente"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "403") {
		t.Fatalf("non-staff emit: exit %d stderr %q", r.Code, r.Stderr)
	}
	r = runCoworkctl(t, 20*time.Second, "emit", "event", "x", "--server", s.URL, "--token", staff)
	if r.Code != 2 {
		t.Fatalf("emit without target: exit %d, want 2", r.Code)
	}
}

func TestEmitSlotActionsExitCodes(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	watcher := listen(t, s, 99)
	watcher.join(t, 2, 1)
	slot := func(action string, user string, extra ...string) emitResult {
		args := append([]string{"emit", action, "--space", "2@1", "--date", date, "--slot", "3",
			"--server", s.URL, "--jwt-secret", s.Secret, "--user", user}, extra...)
		return runCoworkctl(t, 20*time.Second, args...)
	}
	tests := []struct {
		name, action, user string
		extra              []string
		code               int
		out                string // in stdout (code 0) or stderr
	}{
		{"hold a free slot", "hold", "42", nil, 0, "Slot occupato per 15 minuti"},
		{"hold a held slot", "hold", "43", nil, 1, protocol.MsgSlotUnavailable},
		{"book someone else's hold", "book", "43", nil, 1, protocol.MsgSlotNotBookable},
		{"release someone else's hold", "release", "43", nil, 1, protocol.MsgSlotNotHeldByUser},
		{"book own hold", "book", "42", nil, 0, protocol.MsgSlotBooked},
		{"release a booked slot", "release", "42", nil, 1, protocol.MsgSlotNotHeldByUser},
		{"bad slot number", "hold", "42", []string{"--slot", "0"}, 2, "--slot"},
		{"bad space", "hold", "42", []string{"--space", "2"}, 2, "SPAZIO@SEDE"},
		{"bad date", "hold", "42", []string{"--date", "21/11/2026"}, 2, "YYYY-MM-DD"},
	}
	for _, tt := range tests {
		r := slot(tt.action, tt.user, tt.extra...)
		where := r.Stdout
		if tt.code != 0 {
			where = r.Stderr
		}
		if r.Code != tt.code || !strings.Contains(where, tt.out) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.name, r.Code, tt.code, r.Stdout, r.Stderr)
		}
	}
	if _, ok := watcher.saw(protocol.EventSlotUpdate, 5*time.Second); !ok {
		t.Error("the room saw no slot_update after the hold")
	}

	// --json prints the answer, or the refusal, as JSON.
	r := runCoworkctl(t, 20*time.Second, "emit", "hold", "--space", "2@1", "--date", date, "--slot", "4",
		"--server", s.URL, "--jwt-secret", s.Secret, "--user", "42", "--json")
	var ok protocol.SlotActionResponse
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &ok) != nil || !ok.Success || ok.Data == nil || ok.Data.PrenotazioneID == 0 {
		t.Fatalf("hold --json: exit %d stdout %q", r.Code, r.Stdout)
	}
	r = runCoworkctl(t, 20*time.Second, "emit", "hold", "--space", "2@1", "--date", date, "--slot", "4",
		"--server", s.URL, "--jwt-secret", s.Secret, "--user", "43", "--json")
	var refusal struct {
		Success bool   `json:"success"`
		Status  int    `json:"status"`
		Error   string `json:"error"`
	}
	if r.Code != 1 || json.Unmarshal([]byte(r.Stdout), &refusal) != nil || refusal.Status != http.StatusConflict || refusal.Error != protocol.MsgSlotUnavailable {
		t.Fatalf("refused hold --json: exit %d stdout %q", r.Code, r.Stdout)
	}
}

func TestEmitSocketProbe(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	r := runCoworkctl(t, 20*time.Second, "emit", "socket", "join_space", "--data", fmt.Sprintf(`{"spazioId":2,"sedeId":1,"date":%q}`, time.Now().AddDate(0, 0, 1).Format("2006-01-02")),
		"--listen", "300ms", "--server", s.URL, "--jwt-secret", s.Secret, "--json")
	if r.Code != 0 {
		t.Fatalf("probe exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Event string          `json:"event"`
			Ack   json.RawMessage `json:"ack"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if line.Ack != nil {
			seen["ack"] = strings.Contains(string(line.Ack), `"room":"spazio_2_sede_1"`)
		}
		seen[line.Event] = true
	}
	for _, want := range []string{"ack", protocol.EventConnectionConfirmed, protocol.EventJoinedSpace, protocol.EventSlotsStatusUpdate} {
		if !seen[want] {
			t.Errorf("probe output lacks %s:\n%s", want, r.Stdout)
		}
	}

	// A refused join exits 1 and shows the space_error.
	r = runCoworkctl(t, 20*time.Second, "emit", "socket", "join_space", "--data", `{"spazioId":99,"sedeId":1}`,
		"--listen", "200ms", "--server", s.URL, "--jwt-secret", s.Secret)
	if r.Code != 1 || !strings.Contains(r.Stdout, protocol.EventSpaceError) {
		t.Fatalf("refused join: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// A bad token is a refused connection.
	r = runCoworkctl(t, 20*time.Second, "emit", "socket", "join_space", "--server", s.URL, "--token", "not-a-jwt")
	if r.Code != 1 || !strings.Contains(r.Stderr, protocol.MsgSocketAuthInvalid) {
		t.Fatalf("bad token: exit %d stderr %q", r.Code, r.Stderr)
	}
}

func TestEmitLoadJSON(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "50", "--polling-share", "0.2", "--rooms", "4", "--duration", "5s", "--rate", "20",
		"--churn", "4", "--json", "--max-loss", "0", "--max-connect-failures", "0")
	if r.Code != 0 {
		t.Fatalf("emit load exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, r.Stdout)
	}
	// Every documented section is present by name.
	var raw map[string]json.RawMessage
	_ = json.Unmarshal([]byte(r.Stdout), &raw)
	for _, k := range []string{"config", "connections", "broadcasts", "messages", "latency", "churn", "errors", "generator", "thresholds", "pass"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	m := rep.Messages
	if rep.Connections.Joined != 50 || rep.Config.PollingClients != 10 {
		t.Errorf("connections = %+v, polling %d", rep.Connections, rep.Config.PollingClients)
	}
	if rep.Broadcasts.Sent != 100 || m.Sent != 100 || rep.Broadcasts.Failed != 0 {
		t.Errorf("broadcasts = %+v, messages = %+v", rep.Broadcasts, m)
	}
	// 50 clients over 4 rooms (13, 13, 12, 12 members), 25 broadcasts to
	// each room: 25 × 50 deliveries.
	if want := uint64(25 * 50); m.Expected != want || m.Delivered != want || m.Lost != 0 || m.Loss != 0 || m.Duplicates != 0 {
		t.Errorf("messages = %+v, want %d expected and delivered, zero loss", m, want)
	}
	l := rep.Latency
	if l.Count != m.Delivered || !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) || l.Max <= 0 {
		t.Errorf("latency = %+v", l)
	}
	if rep.Connections.ConnectLatency.Count != 50 || m.PerSecond <= 0 {
		t.Errorf("connect latency %+v, per second %v", rep.Connections.ConnectLatency, m.PerSecond)
	}
	if rep.Churn.Holds+rep.Churn.Conflicts == 0 || rep.Churn.HoldLatency.Count != rep.Churn.Holds || rep.Churn.UpdatesDelivered != rep.Churn.UpdatesExpected {
		t.Errorf("churn = %+v", rep.Churn)
	}
	if rep.Generator.CPUSeconds <= 0 || rep.Generator.NumCPU <= 0 {
		t.Errorf("generator = %+v", rep.Generator)
	}
	if !rep.Pass || len(rep.Thresholds.Breached) != 0 || rep.Errors.Total != 0 {
		t.Errorf("pass %v, breached %v, errors %+v", rep.Pass, rep.Thresholds.Breached, rep.Errors)
	}
}

// TestEmitLoadCountsHoldCapRefusals: churn by fewer virtual users than
// overlapping holds meets the server's per-user cap; those refusals are
// an outcome of their own, not errors.
func TestEmitLoadCountsHoldCapRefusals(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn", "--max-holds-per-user", "1"}})
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--jwt-secret", s.Secret,
		"--clients", "2", "--rooms", "1", "--duration", "2s", "--rate", "0",
		"--churn", "40", "--churn-hold", "300ms", "--json")
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode report (exit %d): %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if rep.Churn.Limited == 0 || rep.Churn.Holds == 0 || rep.Errors.Total != 0 {
		t.Errorf("churn %+v, errors %+v", rep.Churn, rep.Errors)
	}
}

func TestEmitLoadThresholdBreachExits3(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	// No real delivery over a socket takes under a microsecond.
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--server", s.URL, "--token", s.Token(t, 1, "admin"),
		"--clients", "10", "--rooms", "2", "--duration", "1s", "--rate", "10", "--max-p99", "1us")
	if r.Code != 3 {
		t.Fatalf("breached --max-p99: exit %d, want 3\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "FAIL") || !strings.Contains(r.Stderr, "threshold breached") {
		t.Fatalf("breach not reported:\nstdout %s\nstderr %s", r.Stdout, r.Stderr)
	}
	// Nonsense flags are usage errors.
	r = runCoworkctl(t, 20*time.Second, "emit", "load", "--server", s.URL, "--token", "x", "--clients", "0")
	if r.Code != 2 {
		t.Fatalf("--clients 0: exit %d, want 2 (stderr %s)", r.Code, r.Stderr)
	}
	r = runCoworkctl(t, 20*time.Second, "emit", "load", "--server", s.URL, "--token", "x", "--rooms", "99")
	if r.Code != 2 {
		t.Fatalf("--rooms 99: exit %d, want 2 (stderr %s)", r.Code, r.Stderr)
	}
}
