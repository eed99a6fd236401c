package realtime

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// TestFeedOrder: per slot only newer versions pass, whatever order they
// come in; a socket reading its snapshot gets its grid's updates held;
// once its snapshot (version 5) is in, it is spared those at or below 5.
func TestFeedOrder(t *testing.T) {
	g := &gridFeed{last: map[int]int64{}, joins: map[string]*gridJoin{}}
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
		if got := g.admit(update{slot: tt.slot, version: tt.version}); got != tt.want {
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

// TestFeedSendsInVersionOrder: updates that reach a node out of order
// (another node's broadcast overtaken by a local one) go out in version
// order once the missing ones arrive, so no version-checking client sees
// a gap and no blind one applies an old state last. A version that never
// comes holds the others back for reorderWait only, and a straggler
// older than its slot's last update is then dropped.
func TestFeedSendsInVersionOrder(t *testing.T) {
	h, url, mint := raceHub(t)
	conn, err := connectRaw(url, mint(7, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	room := protocol.UserRoom(7)
	testkit.Eventually(t, 5*time.Second, "the socket in its user room", func() bool { return h.nsp.RoomSize(room) == 1 })
	k := gridKey{room: room, date: "2026-12-07"}
	deliver := func(slot int, v int64) {
		h.deliver(k, update{slot: slot, version: v, payload: map[string]any{"slotId": slot, "version": v}})
	}
	read := func() (slot int, v int64) {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			b, err := wsutil.ReadServerText(conn)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !strings.HasPrefix(string(b), `42["slot_update",`) {
				continue // pings, connection_confirmed
			}
			var args []json.RawMessage
			var p struct {
				SlotID  int   `json:"slotId"`
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal(b[2:], &args); err != nil || len(args) < 2 || json.Unmarshal(args[1], &p) != nil {
				t.Fatalf("slot_update %s: %v", b, err)
			}
			return p.SlotID, p.Version
		}
	}

	deliver(1, 1) // the first version the feed sees
	deliver(2, 3) // overtook v2
	deliver(1, 4) // the release of slot 1 overtook its hold (v2)
	deliver(1, 2)
	for want := int64(1); want <= 4; want++ {
		if _, v := read(); v != want {
			t.Fatalf("got v%d, want v%d: updates must go out in version order", v, want)
		}
	}

	began := time.Now()
	deliver(3, 6) // v5 never comes in time
	if slot, v := read(); slot != 3 || v != 6 {
		t.Fatalf("got slot %d v%d, want slot 3 v6 once the feed stops waiting", slot, v)
	}
	if waited := time.Since(began); waited < reorderWait/2 {
		t.Errorf("v6 went out after %v, before the feed waited for v5", waited)
	}
	if n := counterValue(t, h.metrics.UpdateGaps); n != 1 {
		t.Errorf("coworkctl_slot_update_gaps_total = %v, want 1", n)
	}
	deliver(3, 5) // the straggler: slot 3 already shows v6
	deliver(2, 7)
	if slot, v := read(); slot != 2 || v != 7 {
		t.Fatalf("got slot %d v%d, want slot 2 v7: the straggler v5 of slot 3 must be dropped", slot, v)
	}
	if n := counterValue(t, h.metrics.StaleUpdates); n != 1 {
		t.Errorf("coworkctl_stale_slot_updates_total = %v, want 1", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
