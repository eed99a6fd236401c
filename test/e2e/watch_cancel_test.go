package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestWatchCancelFromDashboard drives `watch` as staff in tmux: move the
// cursor to a held slot, open its detail pane (holder and history), cancel
// with a reason, and see the slot freed, the server's answer in the log
// and the cancel in the history. A user's token is refused the cancel.
func TestWatchCancelFromDashboard(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	emit := func(args ...string) {
		t.Helper()
		r := runCoworkctl(t, 20*time.Second, append(append([]string{"emit"}, args...), "--server", s.URL, "--jwt-secret", s.Secret)...)
		if r.Code != 0 {
			t.Fatalf("emit %v: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
	emit("hold", "--as-user", "42", "--role", "cliente", "--space", "1@1", "--date", date, "--slot", "3")

	tw := startTmuxWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--space", "1@1", "--date", date)
	tw.waitFor("● connected", 15*time.Second)
	tw.waitFor("1/9", 5*time.Second)
	for _, k := range []string{"Right", "Right", "Right", "Enter"} { // show, then two cells on: 11:00, slot 3
		tw.tmux("send-keys", "-t", "0", k)
	}
	tw.waitFor("Slot 3 · 11:00", 5*time.Second)
	tw.waitFor("holder  user 42", 5*time.Second)
	tw.waitFor("hold    free→held u42", 5*time.Second)

	tw.tmux("send-keys", "-t", "0", "c")
	tw.waitFor("reason>", 5*time.Second)
	tw.tmux("send-keys", "-t", "0", "-l", "Sala chiusa")
	tw.tmux("send-keys", "-t", "0", "Enter")
	tw.waitFor("Prenotazione annullata", 5*time.Second)
	tw.waitFor("cancel  held→free u1 admin", 5*time.Second)
	tw.waitFor("0/9", 5*time.Second)
	if sc := tw.screen(); !strings.Contains(sc, "status  free") {
		t.Fatalf("the cancelled slot is not shown free:\n%s", sc)
	}

	// A user's token: c explains instead of prompting.
	emit("hold", "--as-user", "43", "--role", "cliente", "--space", "1@1", "--date", date, "--slot", "4")
	tu := startTmuxWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--as-user", "43", "--role", "cliente", "--space", "1@1", "--date", date)
	tu.waitFor("● connected", 15*time.Second)
	tu.waitFor("1/9", 5*time.Second)
	for _, k := range []string{"Right", "Right", "Right", "Right", "c"} {
		tu.tmux("send-keys", "-t", "0", k)
	}
	tu.waitFor("cancel needs a staff token", 5*time.Second)
}
