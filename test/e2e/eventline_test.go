package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// TestWatchAndEmitSocketLinesShareOneShape: every JSON line of the real
// `watch --json` and `emit socket --json` decodes into protocol.EventLine
// with no key missing or left over, and the snapshot of one room reads
// the same in both.
func TestWatchAndEmitSocketLinesShareOneShape(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	watch := runCoworkctl(t, 30*time.Second, "watch", "--json", "--server", s.URL, "--jwt-secret", s.Secret,
		"--space", "2@1", "--date", date, "--count", "3", "--timeout", "20s") // confirmed, joined, snapshot
	if watch.Code != 0 {
		t.Fatalf("watch exit %d\nstdout %s\nstderr %s", watch.Code, watch.Stdout, watch.Stderr)
	}
	emit := runCoworkctl(t, 20*time.Second, "emit", "socket", "join_space", "--data", fmt.Sprintf(`{"spazioId":2,"sedeId":1,"date":%q}`, date),
		"--listen", "300ms", "--server", s.URL, "--jwt-secret", s.Secret, "--json")
	if emit.Code != 0 {
		t.Fatalf("emit socket exit %d\nstdout %s\nstderr %s", emit.Code, emit.Stdout, emit.Stderr)
	}
	for _, out := range []struct{ cmd, stdout string }{{"watch", watch.Stdout}, {"emit socket", emit.Stdout}} {
		seen := map[string]bool{}
		for _, raw := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
			var l protocol.EventLine
			testkit.DecodeStrict(t, []byte(raw), &l)
			seen[l.Event] = true
			if l.Event != protocol.EventSlotsStatusUpdate {
				continue
			}
			if l.Room == nil || *l.Room != "spazio_2_sede_1" || len(l.Args) != 1 || string(l.Args[0]) != string(l.Data) ||
				!strings.Contains(string(l.Data), fmt.Sprintf(`"date":%q`, date)) || l.Time == "" || l.At != l.Time {
				t.Errorf("%s: snapshot line %s", out.cmd, raw)
			}
		}
		if !seen[protocol.EventSlotsStatusUpdate] {
			t.Errorf("%s printed no snapshot:\n%s", out.cmd, out.stdout)
		}
	}
}
