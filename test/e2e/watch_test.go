package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// watchLine is one NDJSON line of `watch --json`.
type watchLine struct{ protocol.EventLine }

// state returns data.state of a connection line ("" otherwise).
func (l watchLine) state() string {
	if l.Event != "connection" {
		return ""
	}
	var d struct {
		State string `json:"state"`
	}
	_ = json.Unmarshal(l.Data, &d)
	return d.State
}

func (l watchLine) room() string {
	if l.Room == nil {
		return ""
	}
	return *l.Room
}

// watchProc is a running `coworkctl watch --json`.
type watchProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan watchLine
	stderr *bytes.Buffer
	done   chan struct{}
	mu     sync.Mutex
	seen   []string
}

// startWatch runs coworkctl watch with args (stdout is a pipe, so NDJSON
// mode is automatic) and streams its lines.
func startWatch(t *testing.T, args ...string) *watchProc {
	t.Helper()
	w := &watchProc{t: t, lines: make(chan watchLine, 256), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	w.cmd = exec.Command(coworkctlBin, append([]string{"watch"}, args...)...)
	w.cmd.Env = cleanEnv()
	w.cmd.Stderr = w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start watch: %v", err)
	}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l watchLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				w.lines <- watchLine{protocol.EventLine{Event: "INVALID JSON: " + sc.Text()}}
				continue
			}
			w.lines <- l
		}
	}()
	go func() {
		_ = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			w.mu.Lock()
			t.Logf("watch output:\n%s\nstderr:\n%s", strings.Join(w.seen, "\n"), w.stderr.String())
			w.mu.Unlock()
		}
	})
	return w
}

// expect reads lines until one matches, failing after within (a bound on
// a hang, not a measurement, except where the caller says so).
func (w *watchProc) expect(what string, within time.Duration, match func(watchLine) bool) watchLine {
	w.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				w.t.Fatalf("watch ended before %s", what)
			}
			b, _ := json.Marshal(l)
			w.mu.Lock()
			w.seen = append(w.seen, string(b))
			w.mu.Unlock()
			if strings.HasPrefix(l.Event, "INVALID JSON") {
				w.t.Fatalf("watch printed a line that is not JSON: %s", l.Event)
			}
			if match(l) {
				return l
			}
		case <-deadline:
			w.t.Fatalf("no %s within %v", what, within)
		}
	}
}

func (w *watchProc) exitCode(within time.Duration) int {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(within):
		w.t.Fatalf("watch did not exit within %v", within)
	}
	return w.cmd.ProcessState.ExitCode()
}

func isState(s string) func(watchLine) bool {
	return func(l watchLine) bool { return l.state() == s }
}

func isSnapshot(room, date string) func(watchLine) bool {
	return func(l watchLine) bool {
		if l.Event != "slots_status_update" || l.room() != room {
			return false
		}
		var d struct {
			Date        string            `json:"date"`
			SlotsStatus []json.RawMessage `json:"slotsStatus"`
		}
		return json.Unmarshal(l.Data, &d) == nil && d.Date == date && len(d.SlotsStatus) > 0
	}
}

func isSlotUpdate(room string, slot int, status string) func(watchLine) bool {
	return func(l watchLine) bool {
		if l.Event != "slot_update" || l.room() != room {
			return false
		}
		var d struct {
			SlotID int    `json:"slotId"`
			Status string `json:"status"`
		}
		return json.Unmarshal(l.Data, &d) == nil && d.SlotID == slot && d.Status == status
	}
}

func hold(t *testing.T, s *Server, token string, spazio, sede int64, slot int, date string) {
	t.Helper()
	r := s.Do(t, http.MethodPost, fmt.Sprintf("/api/slots/%d/hold", slot), token, map[string]any{"idSpazio": spazio, "sedeId": sede, "date": date})
	if r.Status != http.StatusOK {
		t.Fatalf("hold slot %d: %d %s", slot, r.Status, r.Raw)
	}
}

const room11 = "spazio_1_sede_1"

func TestWatchJSONShowsAHoldWithinASecond(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	staff := s.Token(t, 1, auth.RoleAdmin)
	date := Tomorrow()
	// connection_confirmed, joined_space, the snapshot and the hold's update.
	w := startWatch(t, "--server", s.URL, "--token", staff, "--space", "1@1", "--date", date, "--count", "4")

	first := w.expect("a connecting state line", 10*time.Second, func(watchLine) bool { return true })
	if first.state() != "connecting" {
		t.Errorf("first line = %+v, want the connecting state", first)
	}
	w.expect("connected", 10*time.Second, isState("connected"))
	w.expect("the join snapshot", 10*time.Second, isSnapshot(room11, date))

	hold(t, s, s.Token(t, 42, auth.RoleCliente), 1, 1, 3, date)
	// The requirement: the hold shows up within a second.
	l := w.expect("the hold's slot_update", time.Second, isSlotUpdate(room11, 3, "occupied"))
	if _, err := time.Parse(time.RFC3339Nano, l.Time); err != nil {
		t.Errorf("time %q is not ISO-8601: %v", l.Time, err)
	}
	if code := w.exitCode(10 * time.Second); code != 0 {
		t.Errorf("watch --count 4 exited %d, want 0", code)
	}
}

func TestWatchSurvivesServerRestart(t *testing.T) {
	addr := FreeAddr(t)
	db := "sqlite:" + t.TempDir() + "/restart.db"
	s := StartServer(t, ServerConfig{Addr: addr, DB: db})
	date := Tomorrow()
	w := startWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--user", "7", "--role", auth.RoleGestore,
		"--space", "1@1", "--space", "2@1", "--date", date)
	w.expect("connected", 10*time.Second, isState("connected"))
	w.expect("the first snapshot", 10*time.Second, isSnapshot(room11, date))

	s.Kill()
	w.expect("a disconnected line", 10*time.Second, isState("disconnected"))
	w.expect("a reconnecting line", 10*time.Second, isState("reconnecting"))

	s2 := StartServer(t, ServerConfig{Addr: addr, DB: db})
	w.expect("connected again", 30*time.Second, isState("connected"))
	// The rejoin's fresh snapshots and the rejoined line arrive in either order.
	var gotRejoined, gotSnapshot bool
	for !gotRejoined || !gotSnapshot {
		l := w.expect("the rejoin", 10*time.Second, func(l watchLine) bool {
			return l.state() == "rejoined" || isSnapshot(room11, date)(l)
		})
		if l.state() == "rejoined" {
			gotRejoined = true
			var d struct {
				Rooms int `json:"rooms"`
			}
			_ = json.Unmarshal(l.Data, &d)
			if d.Rooms != 2 {
				t.Errorf("rejoined %d rooms, want 2", d.Rooms)
			}
		} else {
			gotSnapshot = true
		}
	}
	// The rooms are really joined on the new server: its broadcasts arrive.
	hold(t, s2, s2.Token(t, 42, auth.RoleCliente), 1, 1, 5, date)
	w.expect("a slot_update from the restarted server", 10*time.Second, isSlotUpdate(room11, 5, "occupied"))

	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := w.exitCode(10 * time.Second); code != 130 {
		t.Errorf("watch after SIGINT exited %d, want 130", code)
	}
}

func TestWatchConnectionErrorsAreOneLine(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	staff := s.Token(t, 1, auth.RoleAdmin)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"refused", []string{"--server", "http://" + FreeAddr(t), "--token", staff}, 1, "cannot reach"},
		{"bad token", []string{"--server", s.URL, "--token", "not-a-jwt"}, 1, "server rejected the token: Token non valido (AUTH_INVALID)"},
		{"wrong secret", []string{"--server", s.URL, "--jwt-secret", "other", "--role", "admin"}, 1, "AUTH_INVALID"},
		{"bad url", []string{"--server", "localhost:3000", "--token", staff}, 2, "is not an http(s) URL"},
		{"no credentials", []string{"--server", s.URL}, 2, "no credentials"},
		{"unknown space", []string{"--server", s.URL, "--token", staff, "--space", "99@1"}, 2, "not in the catalog"},
		{"bad space", []string{"--server", s.URL, "--token", staff, "--space", "1-1"}, 2, "SPAZIO@SEDE"},
		{"unknown sede", []string{"--server", s.URL, "--token", staff, "--sede", "9"}, 2, "--sede 9 is not in the catalog"},
		{"bad date", []string{"--server", s.URL, "--token", staff, "--date", "26/11/2026"}, 2, "YYYY-MM-DD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCoworkctl(t, 30*time.Second, append([]string{"watch", "--json"}, tt.args...)...)
			if res.Code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", res.Code, tt.code, res.Stderr)
			}
			first := strings.SplitN(strings.TrimSpace(res.Stderr), "\n", 2)[0]
			if !strings.Contains(first, tt.want) {
				t.Errorf("stderr %q does not say %q", res.Stderr, tt.want)
			}
			if strings.Contains(res.Stderr, "goroutine") || strings.Contains(res.Stderr, "panic") {
				t.Errorf("stderr has a stack trace: %s", res.Stderr)
			}
			if tt.code == 1 && strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", res.Stderr)
			}
		})
	}
}

func TestWatchTimeoutAndCount(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	staff := s.Token(t, 1, auth.RoleAdmin)
	// --timeout alone is a normal end.
	res := runCoworkctl(t, 30*time.Second, "watch", "--server", s.URL, "--token", staff, "--sede", "2", "--timeout", "1s")
	if res.Code != 0 {
		t.Errorf("--timeout 1s exited %d: %s", res.Code, res.Stderr)
	}
	var rooms []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var l watchLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("not NDJSON: %q", line)
		}
		if l.Event == "joined_space" {
			rooms = append(rooms, l.room())
		}
	}
	if got := strings.Join(rooms, ","); got != "spazio_5_sede_2,spazio_6_sede_2,spazio_7_sede_2,spazio_8_sede_2" {
		t.Errorf("--sede 2 joined %s", got)
	}
	// --count not reached before --timeout is a failure a script can see.
	res = runCoworkctl(t, 30*time.Second, "watch", "--server", s.URL, "--token", staff, "--space", "1@1", "--count", "1000", "--timeout", "1s")
	if res.Code != 1 || !strings.Contains(res.Stderr, "timeout after 1s") {
		t.Errorf("count not reached: exit %d stderr %q", res.Code, res.Stderr)
	}
}
