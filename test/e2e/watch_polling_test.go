package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
)

// TestWatchOverPolling: `watch --transports polling` joins, gets its
// snapshot and sees a hold as it happens. It used to time out on the
// join's ack: zishang520's Go client, used before, parked every POST behind
// the long-poll GET, so nothing was sent until the server's next ping.
func TestWatchOverPolling(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	w := startWatch(t, "--server", s.URL, "--jwt-secret", s.Secret, "--space", "1@1", "--space", "2@1",
		"--date", date, "--json", "--transports", "polling")

	l := w.expect("connected", 10*time.Second, isState("connected"))
	if got := stateTransport(l); got != "polling" {
		t.Errorf("connected over %q, want polling", got)
	}
	// Both joins must be acked well inside the 5 s ack timeout.
	w.expect("the first snapshot", 3*time.Second, isSnapshot(room11, date))
	w.expect("the second snapshot", 3*time.Second, isSnapshot("spazio_2_sede_1", date))

	for i, slot := range []int{3, 4} {
		hold(t, s, s.Token(t, int64(42+i), auth.RoleCliente), 1, 1, slot, date)
		w.expect("the hold's slot_update over polling", 2*time.Second, isSlotUpdate(room11, slot, "occupied"))
	}
}

// stateTransport is data.transport of a connection line.
func stateTransport(l watchLine) string {
	var d struct {
		Transport string `json:"transport"`
	}
	_ = json.Unmarshal(l.Data, &d)
	return d.Transport
}
