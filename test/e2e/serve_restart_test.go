package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
)

// nodeEvent is one line of test/node/tools/listen.mjs.
type nodeEvent struct {
	Event   string          `json:"event"`
	At      int64           `json:"at"` // Unix milliseconds
	Payload json.RawMessage `json:"payload"`
}

// nodeListener is an official socket.io-client joined to one spazio, whose
// events arrive on a channel.
type nodeListener struct {
	events chan nodeEvent
	mu     sync.Mutex
	seen   []nodeEvent
}

// startNodeListener runs tools/listen.mjs against srv, joined to spazio/sede on
// date, and returns once it has joined.
func startNodeListener(t *testing.T, node string, srv *Server, spazio, sede int, date string) *nodeListener {
	t.Helper()
	cmd := exec.Command(node, filepath.Join("tools", "listen.mjs"))
	cmd.Dir = nodeDir()
	cmd.Env = append(cleanEnv(), "COWORK_E2E_URL="+srv.URL, "COWORK_E2E_SECRET="+srv.Secret,
		"LISTEN_SPAZIO="+strconv.Itoa(spazio), "LISTEN_SEDE="+strconv.Itoa(sede), "LISTEN_DATE="+date)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start listener: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("listener stderr:\n%s", stderr.String())
		}
	})
	l := &nodeListener{events: make(chan nodeEvent, 1024)}
	go func() {
		defer close(l.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev nodeEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				l.events <- ev
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	l.waitFor(t, "nodeListener ready", 15*time.Second, func(ev nodeEvent) bool { return ev.Event == "ready" })
	return l
}

// waitFor returns the first event matching match, failing after timeout.
// Every event read is kept for count.
func (l *nodeListener) waitFor(t *testing.T, what string, timeout time.Duration, match func(nodeEvent) bool) nodeEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-l.events:
			if !ok {
				t.Fatalf("waiting for %s: nodeListener exited", what)
			}
			l.mu.Lock()
			l.seen = append(l.seen, ev)
			l.mu.Unlock()
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// count reads events for d (so late duplicates show up), then returns how
// many of all the events seen match.
func (l *nodeListener) count(d time.Duration, match func(nodeEvent) bool) int {
	deadline := time.After(d)
loop:
	for {
		select {
		case ev, ok := <-l.events:
			if !ok {
				break loop
			}
			l.mu.Lock()
			l.seen = append(l.seen, ev)
			l.mu.Unlock()
		case <-deadline:
			break loop
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.seen {
		if match(ev) {
			n++
		}
	}
	return n
}

func evSlotUpdate(slot int, status string) func(nodeEvent) bool {
	return func(ev nodeEvent) bool {
		if ev.Event != "slot_update" {
			return false
		}
		var p struct {
			SlotID int    `json:"slotId"`
			Status string `json:"status"`
		}
		return json.Unmarshal(ev.Payload, &p) == nil && p.SlotID == slot && p.Status == status
	}
}

func evFreed(spazio, slot int, date string) func(nodeEvent) bool {
	return func(ev nodeEvent) bool {
		if ev.Event != "slots_freed" {
			return false
		}
		var p struct {
			Slots []struct {
				IDSpazio int    `json:"id_spazio"`
				IDSlot   int    `json:"id_slot"`
				Date     string `json:"date"`
			} `json:"slots"`
		}
		if json.Unmarshal(ev.Payload, &p) != nil {
			return false
		}
		for _, s := range p.Slots {
			if s.IDSpazio == spazio && s.IDSlot == slot && s.Date == date {
				return true
			}
		}
		return false
	}
}

// gridSlot is one slot of GET /api/slots.
type gridSlot struct {
	Status    string
	ExpiresAt string
}

func gridOf(t *testing.T, srv *Server, spazio int, date string) map[int]gridSlot {
	t.Helper()
	r := srv.Do(t, http.MethodGet, fmt.Sprintf("/api/slots/%d/%s", spazio, date), "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET slots: %d %s", r.Status, r.Raw)
	}
	var body struct {
		Data struct {
			Slots []struct {
				IDSlot    int    `json:"id_slot"`
				Status    string `json:"status"`
				ExpiresAt string `json:"expires_at"`
			} `json:"slots"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("decode grid: %v", err)
	}
	out := map[int]gridSlot{}
	for _, s := range body.Data.Slots {
		out[s.IDSlot] = gridSlot{Status: s.Status, ExpiresAt: s.ExpiresAt}
	}
	return out
}

func postSlot(t *testing.T, srv *Server, action, token string, slot, spazio, sede int, date string) Response {
	t.Helper()
	return srv.Do(t, http.MethodPost, fmt.Sprintf("/api/slots/%d/%s", slot, action), token,
		map[string]any{"idSpazio": spazio, "sedeId": sede, "date": date})
}

// TestRestart: holds and bookings survive kill -9; a surviving hold still
// expires on time, once; a hold that expired while the server was down is
// freed at startup.
func TestRestart(t *testing.T) {
	const (
		ttl    = 8 * time.Second
		spazio = 1
		sede   = 1
	)
	date := Tomorrow()
	dir := t.TempDir()
	cfg := ServerConfig{Addr: FreeAddr(t), DB: "sqlite:" + filepath.Join(dir, "restart.db"), HoldTTL: ttl}

	srv := StartServer(t, cfg)
	user := srv.Token(t, 71, "cliente")
	hold := postSlot(t, srv, "hold", user, 2, spazio, sede, date)
	if hold.Status != http.StatusOK {
		t.Fatalf("hold slot 2: %d %s", hold.Status, hold.Raw)
	}
	expiresAt := hold.Body["data"].(map[string]any)["expires_at"].(string)
	exp, err := time.Parse(time.RFC3339Nano, expiresAt)
	if err != nil {
		t.Fatalf("expires_at %q: %v", expiresAt, err)
	}
	for _, action := range []string{"hold", "book"} {
		if r := postSlot(t, srv, action, user, 3, spazio, sede, date); r.Status != http.StatusOK {
			t.Fatalf("%s slot 3: %d %s", action, r.Status, r.Raw)
		}
	}

	srv.Kill() // kill -9: no shutdown path runs
	if code := srv.ExitCode(); code == 0 {
		t.Fatalf("exit code after SIGKILL = 0")
	}

	srv2 := StartServer(t, cfg)
	g := gridOf(t, srv2, spazio, date)
	if g[2].Status != "occupied" || g[2].ExpiresAt != expiresAt {
		t.Fatalf("after restart slot 2 = %+v, want occupied until %s", g[2], expiresAt)
	}
	if g[3].Status != "booked" {
		t.Fatalf("after restart slot 3 = %+v, want booked", g[3])
	}
	if time.Now().After(exp) {
		t.Fatalf("the restart took longer than the hold TTL (%v); raise ttl", ttl)
	}

	// The surviving hold expires on the restarted server, once.
	if node, err := exec.LookPath("node"); err == nil && nodeModulesPresent() {
		l := startNodeListener(t, node, srv2, spazio, sede, date)
		upd := l.waitFor(t, "slot_update available for slot 2", time.Until(exp)+15*time.Second, evSlotUpdate(2, "available"))
		freed := l.waitFor(t, "slots_freed for slot 2", 5*time.Second, evFreed(spazio, 2, date))
		for _, ev := range []nodeEvent{upd, freed} {
			at := time.UnixMilli(ev.At)
			if at.Before(exp.Add(-50 * time.Millisecond)) {
				t.Errorf("%s at %s, before expires_at %s", ev.Event, at.Format(time.RFC3339Nano), expiresAt)
			}
			t.Logf("%s arrived %v after expires_at (restarted server)", ev.Event, at.Sub(exp).Round(time.Millisecond))
		}
		if n := l.count(1500*time.Millisecond, evSlotUpdate(2, "available")); n != 1 {
			t.Errorf("slot_update available for slot 2: %d, want 1", n)
		}
		if n := l.count(0, evFreed(spazio, 2, date)); n != 1 {
			t.Errorf("slots_freed for slot 2: %d, want 1", n)
		}
	} else {
		t.Log("node or test/node/node_modules missing: checking the expiry through /metrics only (cd test/node && npm ci)")
		waitMetric(t, srv2, "coworkctl_hold_expiries_total", 1, time.Until(exp)+15*time.Second)
	}
	if got := srv2.Metric(t, "coworkctl_hold_expiries_total"); got != 1 {
		t.Errorf("expiries on the restarted server = %v, want 1", got)
	}
	g = gridOf(t, srv2, spazio, date)
	if g[2].Status != "available" || g[3].Status != "booked" {
		t.Fatalf("after expiry: slot 2 %+v (want available), slot 3 %+v (want booked)", g[2], g[3])
	}

	// A hold that expires while the server is down is freed at startup.
	hold = postSlot(t, srv2, "hold", user, 4, spazio, sede, date)
	if hold.Status != http.StatusOK {
		t.Fatalf("hold slot 4: %d %s", hold.Status, hold.Raw)
	}
	exp4, err := time.Parse(time.RFC3339Nano, hold.Body["data"].(map[string]any)["expires_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	srv2.Kill()
	// Setup, not an assertion: stay down until the hold has expired.
	time.Sleep(time.Until(exp4) + 500*time.Millisecond)
	srv3 := StartServer(t, cfg)
	waitMetric(t, srv3, "coworkctl_hold_expiries_total", 1, 10*time.Second)
	g = gridOf(t, srv3, spazio, date)
	if g[4].Status != "available" || g[3].Status != "booked" || g[2].Status != "available" {
		t.Fatalf("after the second restart: %+v", g)
	}
	// Exactly once: nothing else expires later.
	if node, err := exec.LookPath("node"); err == nil && nodeModulesPresent() {
		l := startNodeListener(t, node, srv3, spazio, sede, date)
		if n := l.count(1500*time.Millisecond, func(ev nodeEvent) bool { return ev.Event == "slots_freed" }); n != 0 {
			t.Errorf("slots_freed after startup sweep: %d, want 0", n)
		}
	}
	if got := srv3.Metric(t, "coworkctl_hold_expiries_total"); got != 1 {
		t.Errorf("expiries after the second restart = %v, want 1 (slot 4)", got)
	}
	if code, err := srv3.Stop(15 * time.Second); err != nil || code != 0 {
		t.Errorf("SIGTERM: exit %d, %v", code, err)
	}
}

func nodeModulesPresent() bool {
	_, err := os.Stat(filepath.Join(nodeDir(), "node_modules", "socket.io-client"))
	return err == nil
}

// waitMetric polls /metrics until name reaches want or timeout passes.
func waitMetric(t *testing.T, srv *Server, name string, want float64, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, fmt.Sprintf("%s to reach %v", name, want), func() bool { return srv.Metric(t, name) >= want })
}
