package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// TestWatchLogFileRecordsTheConnection: --log-file gets the connection's
// history: a reconnect after the server went away, and a refused token.
func TestWatchLogFileRecordsTheConnection(t *testing.T) {
	addr := FreeAddr(t)
	db := "sqlite:" + t.TempDir() + "/log.db"
	s := StartServer(t, ServerConfig{Addr: addr, DB: db})
	logFile := filepath.Join(t.TempDir(), "watch.log")
	w := startWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--space", "1@1", "--json", "--log-file", logFile)
	w.expect("connected", 10*time.Second, isState("connected"))
	s.Kill()
	w.expect("a reconnecting line", 10*time.Second, isState("reconnecting"))
	StartServer(t, ServerConfig{Addr: addr, DB: db})
	w.expect("connected again", 30*time.Second, isState("connected"))
	w.expect("rejoined", 10*time.Second, isState("rejoined"))

	got := readFile(t, logFile)
	for _, want := range []string{"watch started", "socket connected", "socket disconnected", "socket reconnecting", "socket rejoined"} {
		if !strings.Contains(got, want) {
			t.Errorf("log file lacks %q:\n%s", want, got)
		}
	}

	refused := filepath.Join(t.TempDir(), "refused.log")
	res := runCoworkctl(t, 20*time.Second, "watch", "--json", "--server", "http://"+addr, "--jwt-secret", "wrong",
		"--space", "1@1", "--log-file", refused)
	if res.Code != 1 {
		t.Errorf("wrong secret: exit %d: %s", res.Code, res.Stderr)
	}
	got = readFile(t, refused)
	for _, want := range []string{"socket connect_error", "code=AUTH_INVALID", "watch stopped"} {
		if !strings.Contains(got, want) {
			t.Errorf("log of a refused token lacks %q:\n%s", want, got)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWatchTimeoutBoundsAHungJoin: --timeout counts from the start, so a
// first join that never gets its ack ends the run on time (it used to
// take the 5 s ack timeout whatever --timeout said).
func TestWatchTimeoutBoundsAHungJoin(t *testing.T) {
	// A Socket.IO server that accepts the connection and ignores join_space.
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{})
	io.Of("/").OnConnection(func(*sio.Socket) {})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("/api/sedi", http.NotFound)
	hs := &http.Server{Addr: FreeAddr(t), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.ListenAndServe() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		_ = hs.Close()
	})
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte("x"), UserID: 1, Role: auth.RoleAdmin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitListening(t, "http://"+hs.Addr+"/api/sedi")

	start := time.Now()
	res := runCoworkctl(t, 20*time.Second, "watch", "--json", "--server", "http://"+hs.Addr, "--token", tok,
		"--space", "1@1", "--timeout", "2s")
	took := time.Since(start)
	if res.Code != 1 || !strings.Contains(res.Stderr, "no answer to join_space within 2s (--timeout)") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	// 2 s plus process start-up; the old code took the 5 s ack timeout.
	if took > 3500*time.Millisecond {
		t.Errorf("--timeout 2s took %v", took.Round(time.Millisecond))
	}
}

// waitListening polls url until anything answers.
func waitListening(t *testing.T, url string) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, url+" to answer", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	})
}
