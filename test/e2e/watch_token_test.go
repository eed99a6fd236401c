package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
)

// TestWatchRenewsAShortLivedToken: with --jwt-secret, watch mints the
// next token before the current one expires and swaps sessions without
// a gap; a 5-second token survives 20 s with events still arriving.
func TestWatchRenewsAShortLivedToken(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	w := startWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--token-ttl", "5s",
		"--space", "1@1", "--date", date, "--json")
	w.expect("connected", 10*time.Second, isState("connected"))
	w.expect("the first snapshot", 5*time.Second, isSnapshot(room11, date))

	// Anything but a renewal is a gap the dashboard would show.
	gapless := func(l watchLine) {
		switch st := l.state(); st {
		case "", "renewed", "upgraded":
		default:
			t.Fatalf("the session went through %q: %s", st, l.Data)
		}
	}
	start := time.Now()
	renewals := 0
	for slot := 1; time.Since(start) < 20*time.Second; slot++ {
		hold(t, s, s.Token(t, int64(100+slot), auth.RoleCliente), 1, 1, slot, date)
		w.expect("the hold's slot_update", 3*time.Second, func(l watchLine) bool {
			gapless(l)
			if l.state() == "renewed" {
				renewals++
			}
			return isSlotUpdate(room11, slot, "occupied")(l)
		})
		// Pace the holds by the renewals: the next hold goes to the
		// session of the next token.
		w.expect("a renewal", 6*time.Second, func(l watchLine) bool {
			gapless(l)
			return l.state() == "renewed"
		})
		renewals++
	}
	if renewals < 4 {
		t.Errorf("%d renewals in %v, want one every 4 s or so", renewals, time.Since(start).Round(time.Second))
	}
	select {
	case <-w.done:
		t.Fatalf("watch exited: %s", w.stderr.String())
	default:
	}
}

// TestWatchSaysWhenItsTokenExpired: a --token that expires ends the
// watch with that reason in plain words, not "Token non valido".
func TestWatchSaysWhenItsTokenExpired(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(s.Secret), UserID: 1, Role: auth.RoleAdmin, TTL: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, "--server", s.URL, "--token", tok, "--space", "1@1", "--date", Tomorrow(), "--json")
	w.expect("connected", 10*time.Second, isState("connected"))
	if code := w.exitCode(20 * time.Second); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	stderr := w.stderr.String()
	last := lastLine(stderr)
	if !strings.Contains(last, "connection lost: the token expired at") || strings.Contains(last, "Token non valido") {
		t.Errorf("last stderr line %q does not say the token expired\nstderr:\n%s", last, stderr)
	}

	// An expired token at start is named as such, too.
	res := runCoworkctl(t, 20*time.Second, "watch", "--json", "--server", s.URL, "--token", tok, "--space", "1@1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "server rejected the token: the token expired at") {
		t.Errorf("expired at start: exit %d, stderr %q", res.Code, res.Stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
