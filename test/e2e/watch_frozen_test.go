package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
)

// waitGone polls the screen until it no longer contains what.
func (tw *tmuxWatch) waitGone(what string, within time.Duration) {
	tw.t.Helper()
	testkit.Eventually(tw.t, within, fmt.Sprintf("the screen to stop showing %q", what), func() bool { return !strings.Contains(tw.screen(), what) })
}

// TestWatchSeesAFrozenServer: a server stopped with SIGSTOP keeps its
// sockets open, so the connection looks alive until its heartbeat times
// out; the dashboard says it is unresponsive and the grid stale within a
// few seconds (one rtt probe, every 5 s, unanswered for 3 s), and live
// again once the server continues.
func TestWatchSeesAFrozenServer(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	tw := startTmuxWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--role", "admin", "--space", "1@1", "--date", Tomorrow())
	tw.waitFor("● connected", 15*time.Second)
	tw.waitFor("0/9", 5*time.Second)

	if err := s.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Cmd.Process.Signal(syscall.SIGCONT) })
	// Well before the heartbeat's timeout (25 s + 20 s by default).
	tw.waitFor("✕ unresponsive", 12*time.Second)
	tw.waitFor("STALE since", time.Second)

	if err := s.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tw.waitFor("● connected", 10*time.Second)
	tw.waitGone("STALE", 10*time.Second)
}
