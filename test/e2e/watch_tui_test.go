package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
)

// tmuxWatch runs the dashboard in a detached tmux session of its own
// server (-L), 100×30, without colour.
type tmuxWatch struct {
	t    *testing.T
	sock string
}

func startTmuxWatch(t *testing.T, args ...string) *tmuxWatch {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	tw := &tmuxWatch{t: t, sock: fmt.Sprintf("coworkctl-e2e-%d", time.Now().UnixNano())}
	cmd := append([]string{"env", "NO_COLOR=1", "TERM=xterm-256color", coworkctlBin, "watch"}, args...)
	tw.tmux("new-session", "-d", "-x", "100", "-y", "30", strings.Join(cmd, " "))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screen:\n%s", tw.screen())
		}
		_ = exec.Command("tmux", "-L", tw.sock, "kill-server").Run()
	})
	return tw
}

func (tw *tmuxWatch) tmux(args ...string) string {
	tw.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tw.sock}, args...)...).CombinedOutput()
	if err != nil {
		tw.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (tw *tmuxWatch) screen() string {
	out, _ := exec.Command("tmux", "-L", tw.sock, "capture-pane", "-p", "-t", "0").CombinedOutput()
	return string(out)
}

// waitFor polls the screen until it contains want.
func (tw *tmuxWatch) waitFor(want string, within time.Duration) {
	tw.t.Helper()
	testkit.Eventually(tw.t, within, fmt.Sprintf("the screen to show %q", want), func() bool { return strings.Contains(tw.screen(), want) })
}

// TestWatchDashboardKeysTogether: keys that reach the terminal in one
// write (key repeat, a paste, a slow link) each act.
func TestWatchDashboardKeysTogether(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	today := time.Now().UTC()
	day := func(d int) string { return today.AddDate(0, 0, d).Format("Slots 2006-01-02") }
	tw := startTmuxWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--space", "1@1", "--date", today.Format(time.DateOnly))
	tw.waitFor("● connected", 15*time.Second)
	tw.waitFor(day(0), 5*time.Second)

	tw.tmux("send-keys", "-t", "0", "-l", "]]]") // one write of three keys
	tw.waitFor(day(3), 5*time.Second)
	tw.tmux("send-keys", "-t", "0", "-l", "tt")
	tw.waitFor(day(0), 5*time.Second)
	tw.tmux("send-keys", "-t", "0", "-l", "[[")
	tw.waitFor(day(-2), 5*time.Second)
}
