package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeDir is the Node test package (official socket.io-client, pinned).
func nodeDir() string { return filepath.Join(repoRoot, "test", "node") }

// requireNode skips unless node and the installed test dependencies exist.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: install Node.js 20+, then: cd test/node && npm ci")
	}
	if _, err := os.Stat(filepath.Join(nodeDir(), "node_modules", "socket.io-client")); err != nil {
		t.Skip("test/node/node_modules is missing: cd test/node && npm ci")
	}
	return node
}

// runNodeTests runs `node --test` on files (relative to test/node) against
// srv and fails the test with node's output when any Node test fails.
func runNodeTests(t *testing.T, node string, srv *Server, holdTTL time.Duration, env []string, files ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// --test-force-exit: a leaked client handle must not hang the run
	// after the tests have finished.
	args := append([]string{"--test", "--test-reporter=spec", "--test-force-exit"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = nodeDir()
	cmd.Env = append(cleanEnv(),
		"COWORK_E2E_URL="+srv.URL,
		"COWORK_E2E_SECRET="+srv.Secret,
		"COWORK_E2E_HOLD_TTL_MS="+strconv.FormatInt(holdTTL.Milliseconds(), 10),
		"NO_COLOR=1",
	)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node --test %s: timed out\n%s", strings.Join(files, " "), out)
	}
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", strings.Join(files, " "), err, out)
	}
	if testing.Verbose() {
		t.Logf("node --test %s:\n%s", strings.Join(files, " "), out)
	}
	return string(out)
}

// TestNode runs test/node/*.test.mjs (the official socket.io-client
// against the real binary: transports, auth, joins, broadcasts, expiry,
// recovery) on one server with a short hold TTL.
func TestNode(t *testing.T) {
	node := requireNode(t)
	files, err := filepath.Glob(filepath.Join(nodeDir(), "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test/node/*.test.mjs files (%v)", err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	sort.Strings(files)
	const ttl = 2 * time.Second
	srv := StartServer(t, ServerConfig{HoldTTL: ttl, PingInterval: time.Second})
	runNodeTests(t, node, srv, ttl, nil, files...)
}

// TestNodeShutdown: SIGTERM while official clients are connected: they are
// told and see a transport close (so they reconnect), and the process
// exits 0. The default 15m TTL also checks the "N minuti" hold text.
func TestNodeShutdown(t *testing.T) {
	node := requireNode(t)
	srv := StartServer(t, ServerConfig{})
	runNodeTests(t, node, srv, 15*time.Minute, []string{"COWORK_E2E_PID=" + strconv.Itoa(srv.Pid())}, "isolated/shutdown.test.mjs")
	code, err := srv.Wait(20 * time.Second)
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
	if logs := srv.Logs(); !strings.Contains(logs, "store closed") {
		t.Errorf("no \"store closed\" in the shutdown log")
	}
}

// TestNodeHeartbeatSoak: official clients on a 300 ms ping
// interval for 12 s; any disconnect of a healthy session fails it.
func TestNodeHeartbeatSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	node := requireNode(t)
	srv := StartServer(t, ServerConfig{PingInterval: 300 * time.Millisecond})
	out := runNodeTests(t, node, srv, 15*time.Minute, nil, "isolated/soak.test.mjs")
	logDiagnostics(t, out, "heartbeat soak:")
}

// TestNodeGhostSockets: 200 clients connect and vanish in
// four ways; presence (GET /api/stats) must return to the baseline.
func TestNodeGhostSockets(t *testing.T) {
	node := requireNode(t)
	srv := StartServer(t, ServerConfig{})
	out := runNodeTests(t, node, srv, 15*time.Minute, nil, "isolated/ghosts.test.mjs")
	logDiagnostics(t, out, "ghosts:")
}

// logDiagnostics repeats node's measurement lines in the Go log.
func logDiagnostics(t *testing.T, out, prefix string) {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			t.Log(strings.TrimSpace(line[i:]))
		}
	}
}
