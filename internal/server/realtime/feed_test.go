package realtime

import (
	"testing"
	"time"
)

// TestFeedOrder: per slot only newer versions pass, whatever order they
// come in; a socket reading its snapshot gets its grid's updates held;
// once its snapshot (version 5) is in, it is spared those at or below 5.
func TestFeedOrder(t *testing.T) {
	g := &gridFeed{last: map[int]int64{}, joins: map[string]*gridJoin{}}
	now := time.Now()
	for _, tt := range []struct {
		slot    int
		version int64
		want    bool
	}{
		{3, 6, true},  // the release of slot 3 arrives first
		{3, 5, false}, // its hold, late: would show a free slot as taken
		{4, 4, true},  // another slot's older version is fine
		{3, 7, true},
		{3, 7, false}, // a duplicate
	} {
		if got := g.admit(update{slot: tt.slot, version: tt.version}, now); got != tt.want {
			t.Errorf("admit slot %d v%d = %v, want %v", tt.slot, tt.version, got, tt.want)
		}
	}

	j := &gridJoin{sess: &session{}, reading: true}
	g.joins["s1"] = j
	u := update{slot: 1, version: 8}
	if !g.skip("s1", u) || len(j.held) != 1 {
		t.Fatalf("an update while the snapshot is read must be held, got held %v", j.held)
	}
	if g.skip("s2", u) {
		t.Errorf("a socket without a dated join of the grid must get the update")
	}
	j.reading, j.held, j.floor = false, nil, 5
	if !g.skip("s1", update{slot: 2, version: 5}) {
		t.Errorf("an update the snapshot has (v5 <= v5) must be skipped")
	}
	if g.skip("s1", update{slot: 2, version: 6}) {
		t.Errorf("an update newer than the snapshot must pass")
	}
}
