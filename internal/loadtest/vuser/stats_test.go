package vuser

import (
	"testing"
	"time"
)

// TestLedger follows owed slot_updates through delivery, a duplicate, a
// failed request and users leaving before and long after an update.
func TestLedger(t *testing.T) {
	l := newLedger(5 * time.Second)
	a, b, c := &vu{}, &vu{}, &vu{}
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	l.join("1", a)
	l.join("1", b)
	l.join("2", c)
	k := updateKey{spazio: 1, date: "2030-01-02", slot: 3, status: "occupied"}
	who := l.expect("1", k, t0)
	if len(who) != 2 || l.expected != 2 {
		t.Fatalf("expect owed %d users, expected %d", len(who), l.expected)
	}
	if !l.deliver(a, k, t0.Add(4*time.Millisecond)) {
		t.Fatal("owed update not recognized")
	}
	if l.deliver(a, k, t0.Add(5*time.Millisecond)) || l.duplicates != 1 {
		t.Errorf("second copy: duplicates %d, want 1", l.duplicates)
	}
	if l.deliver(c, k, t0) {
		t.Error("a member of another room was not owed the update")
	}
	if l.lat.Count() != 1 || l.lat.Max() != 4*time.Millisecond {
		t.Errorf("latency count %d max %v", l.lat.Count(), l.lat.Max())
	}
	// b leaves right away: the update may still have been on its way.
	l.leave("1", b, t0.Add(time.Second))
	if l.left != 1 || l.lost != 0 {
		t.Errorf("left %d lost %d, want 1 and 0", l.left, l.lost)
	}
	// A failed request owes nothing.
	k2 := updateKey{spazio: 1, date: "2030-01-02", slot: 4, status: "occupied"}
	who = l.expect("1", k2, t0)
	l.cancel(who, k2, t0)
	if l.expected != 2 || len(a.owed) != 0 {
		t.Errorf("after cancel: expected %d, a owed %v", l.expected, a.owed)
	}
	// An update owed longer than lostAfter when its user leaves is lost.
	k3 := updateKey{spazio: 1, date: "2030-01-02", slot: 5, status: "available"}
	l.expect("1", k3, t0)
	l.leaveAll(a, t0.Add(6*time.Second))
	if l.lost != 1 || l.delivered != 1 || l.expected != 3 {
		t.Errorf("lost %d delivered %d expected %d, want 1, 1, 3", l.lost, l.delivered, l.expected)
	}
	if got := l.expect("1", k3, t0); len(got) != 0 {
		t.Errorf("users still in room 1 after leaving: %d", len(got))
	}
}

func TestPollingPickSpreadsTheShare(t *testing.T) {
	for _, share := range []float64{0, 0.1, 0.25, 0.5, 1} {
		n := 0
		for i := range 1000 {
			if pollingPick(i, share) {
				n++
			}
		}
		if n != int(1000*share) {
			t.Errorf("share %v: %d of 1000 poll", share, n)
		}
	}
}
