package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// A stalled Redis bounds what stats and an admin emit's count wait for:
// both answer within a second and a half (a one-second cluster read plus
// the request), say that their cluster figures are partial (stats
// "cluster": "incomplete" with this node's own figures, the emit
// recipientsExact false) and are complete again once Redis answers.
// Before, stats waited out fetchSockets (3 s) and then the node scan (up
// to Redis's 3 s read deadline), and answered this node's figures as if
// they were the cluster's.
func TestRedisStallBoundsStatsAndEmitCounts(t *testing.T) {
	a, b, px := stallableNodes(t, "statsstall", 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const onB = 3
	for i := range onB {
		dialBlind(t, ctx, b.base, int64(30_000+i), tomorrow(), false)
	}
	staff := token(t, 1, auth.RoleAdmin)
	stats := func() (map[string]any, time.Duration) {
		start := time.Now()
		status, out, _ := a.call("GET", "/api/stats", staff, nil)
		if status != http.StatusOK {
			t.Fatalf("stats: %d %v", status, out)
		}
		return out, time.Since(start)
	}
	emit := func() (map[string]any, time.Duration) {
		start := time.Now()
		status, out, _ := a.call("POST", "/api/admin/emit", staff, map[string]any{"event": "promo", "data": map[string]any{}, "all": true})
		if status != http.StatusOK {
			t.Fatalf("admin emit: %d %v", status, out)
		}
		return out, time.Since(start)
	}
	complete := func() bool {
		out, _ := stats()
		return out["cluster"] == "complete" && out["totalSockets"] == float64(onB)
	}
	testkit.Eventually(t, 10*time.Second, "A's stats to count B's sockets, complete", complete)
	_, took := stats()
	out, tookEmit := emit()
	t.Logf("before the stall: stats %v, admin emit %v", took.Round(time.Millisecond), tookEmit.Round(time.Millisecond))
	if out["recipients"] != float64(onB) || out["recipientsExact"] != true {
		t.Fatalf("admin emit before the stall: %v; want %d exact recipients", out, onB)
	}

	px.stall(true)
	const bound = 1500 * time.Millisecond
	out, took = stats()
	t.Logf("stats on the stalled node: %v after %v", out, took.Round(time.Millisecond))
	if took > bound {
		t.Errorf("stats took %v with Redis stalled; want at most %v", took, bound)
	}
	if out["cluster"] != "incomplete" || out["totalSockets"] != float64(0) {
		t.Errorf("stats with Redis stalled: cluster %v, totalSockets %v; want incomplete and this node's 0", out["cluster"], out["totalSockets"])
	}
	out, took = emit()
	t.Logf("admin emit on the stalled node: %v after %v", out, took.Round(time.Millisecond))
	if took > bound {
		t.Errorf("admin emit took %v with Redis stalled; want at most %v", took, bound)
	}
	if out["recipientsExact"] != false {
		t.Errorf("admin emit with Redis stalled: %v; want recipientsExact false", out)
	}

	px.stall(false)
	testkit.Eventually(t, 10*time.Second, "A's stats complete again after Redis answers", complete)
}
