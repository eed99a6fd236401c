package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/testkit"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// freshSchema makes an empty PostgreSQL schema for one test and returns a
// DSN that uses it.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "cw_cluster_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// recorder collects a client's server events.
type eventLog struct {
	mu     sync.Mutex
	events []client.Event
}

func (l *eventLog) collect(s *client.Socket) {
	go func() {
		for ev := range s.Events() {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
}

// count counts events named name whose raw payload satisfies match.
func (l *eventLog) count(name string, match func(json.RawMessage) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.events {
		if ev.Name == name && (match == nil || match(ev.Raw)) {
			n++
		}
	}
	return n
}

// TestClusterBroadcastAndExpiryExactlyOnce runs two nodes on one
// PostgreSQL schema and one Redis: a hold on node A reaches a client of
// node B, an admin emit on B reaches A's client, and a hold's expiry —
// swept by both nodes — is announced exactly once to each client.
func TestClusterBroadcastAndExpiryExactlyOnce(t *testing.T) {
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("cluster test needs COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL (set by .ci/run)")
	}
	dsn := freshSchema(t, pg)
	prefix := "cwtest-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000")
	cfg := func(node string) server.Config {
		return server.Config{
			Addr: "127.0.0.1:0", DB: dsn, Redis: rd, RedisPrefix: prefix, JWTSecret: secret,
			HoldTTL: 1500 * time.Millisecond, Location: time.UTC, Catalog: slots.DemoCatalog(),
			Realtime: server.RealtimeConfig{NodeID: node},
		}
	}
	a, b := startWith(t, cfg("node-a")), startWith(t, cfg("node-b"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	date := tomorrow()
	var logs [2]*eventLog
	for i, base := range []string{a.base, b.base} {
		s, err := client.Dial(ctx, client.SocketOptions{Server: base, Token: token(t, int64(100+i), auth.RoleCliente)})
		if err != nil {
			t.Fatalf("dial node %d: %v", i, err)
		}
		defer s.Close()
		logs[i] = &eventLog{}
		logs[i].collect(s)
		if ack, err := s.JoinSpace(ctx, 1, 1, date); err != nil || !ack.Success {
			t.Fatalf("join on node %d: %v %+v", i, err, ack)
		}
	}

	// Decoded into a map, not a struct: encoding/json matches struct
	// fields case-insensitively and would hide renamed wire fields.
	slotN := func(id int, status string) func(json.RawMessage) bool {
		return func(raw json.RawMessage) bool {
			var u map[string]any
			if json.Unmarshal(raw, &u) != nil {
				return false
			}
			data, _ := u["data"].(map[string]any)
			return u["type"] == protocol.EventSlotUpdate && u["slotId"] == float64(id) && u["status"] == status &&
				data != nil && data["id_slot"] == float64(id) && data["status"] == status
		}
	}
	slot4 := func(status string) func(json.RawMessage) bool { return slotN(4, status) }
	holder := token(t, 7, auth.RoleCliente)
	if status, out, _ := a.call("POST", "/api/slots/4/hold", holder, map[string]any{"idSpazio": 1, "sedeId": 1, "date": date}); status != 200 {
		t.Fatalf("hold on node A: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "slot_update occupied on both nodes' clients", func() bool {
		return logs[0].count(protocol.EventSlotUpdate, slot4("occupied")) == 1 && logs[1].count(protocol.EventSlotUpdate, slot4("occupied")) == 1
	})

	staff := token(t, 1, auth.RoleAdmin)
	status, out, _ := b.call("POST", "/api/admin/emit", staff, map[string]any{"event": "promo", "data": map[string]any{"n": 1}, "spazioId": 1, "sedeId": 1})
	if status != 200 || out["recipients"] != float64(2) || out["recipientsExact"] != true {
		t.Fatalf("admin emit on node B: %d %v, want 2 exact recipients across nodes", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "admin emit from node B on node A's client", func() bool { return logs[0].count("promo", nil) == 1 })

	defer func() {
		if t.Failed() {
			for i := range logs {
				logs[i].mu.Lock()
				for _, ev := range logs[i].events {
					t.Logf("client %d: %s %s", i, ev.Name, ev.Raw)
				}
				logs[i].mu.Unlock()
			}
		}
	}()
	// Slot 4's expiry only: the marker hold on slot 5 below expires too.
	freed := func(raw json.RawMessage) bool {
		var f map[string]any
		if json.Unmarshal(raw, &f) != nil || f["type"] != protocol.EventSlotsFreed || f["count"] != float64(1) {
			return false
		}
		list, _ := f["slots"].([]any)
		if len(list) != 1 {
			return false
		}
		first, _ := list[0].(map[string]any)
		return first["id_slot"] == float64(4)
	}
	testkit.Eventually(t, 15*time.Second, "expiry announced on both nodes' clients", func() bool {
		return logs[0].count(protocol.EventSlotsFreed, freed) >= 1 && logs[1].count(protocol.EventSlotsFreed, freed) >= 1
	})
	// Both nodes sweep every second. A sweep is one store write
	// transaction, counted when it starts, and nothing else writes now:
	// two more on a node mean a whole sweep ran there after the expiry was
	// announced, one that would have freed slot 4 again.
	writes := func(h *harness) float64 {
		n, ok := metric(t, h, "coworkctl_store_write_transactions_total")
		if !ok {
			t.Fatal("coworkctl_store_write_transactions_total missing from /metrics")
		}
		return n
	}
	wa, wb := writes(a), writes(b)
	testkit.Eventually(t, 15*time.Second, "a whole sweep on each node after the expiry", func() bool {
		return writes(a) >= wa+2 && writes(b) >= wb+2
	})
	// What those sweeps announced is ahead of these markers on the same
	// ways: an admin emit from each node (slots_freed's way) and a hold of
	// slot 5 (slot_update's way, through each node's versioned feed).
	for i, h := range []*harness{a, b} {
		if status, out, _ := h.call("POST", "/api/admin/emit", staff, map[string]any{"event": "promo", "data": map[string]any{"n": 2 + i}, "spazioId": 1, "sedeId": 1}); status != 200 {
			t.Fatalf("marker emit on node %d: %d %v", i, status, out)
		}
	}
	if status, out, _ := b.call("POST", "/api/slots/5/hold", holder, map[string]any{"idSpazio": 1, "sedeId": 1, "date": date}); status != 200 {
		t.Fatalf("marker hold on node B: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "both markers on both nodes' clients", func() bool {
		return logs[0].count("promo", nil) == 3 && logs[1].count("promo", nil) == 3 &&
			logs[0].count(protocol.EventSlotUpdate, slotN(5, "occupied")) == 1 && logs[1].count(protocol.EventSlotUpdate, slotN(5, "occupied")) == 1
	})
	for i := range logs {
		if n := logs[i].count(protocol.EventSlotsFreed, freed); n != 1 {
			t.Errorf("client of node %d got slots_freed %d times, want exactly 1", i, n)
		}
		if n := logs[i].count(protocol.EventSlotUpdate, slot4("available")); n != 1 {
			t.Errorf("client of node %d got slot_update available %d times, want exactly 1", i, n)
		}
	}

	var st map[string]any
	status, st, _ = a.call("GET", "/api/stats", staff, nil)
	if status != 200 || st["redisEnabled"] != true || st["redisConnected"] != true {
		t.Fatalf("stats: %d %v", status, st)
	}
	if nodes := st["nodes"].([]any); len(nodes) != 2 {
		t.Errorf("stats list %d nodes, want 2: %v", len(nodes), nodes)
	}
	if st["totalSockets"].(float64) != 2 || st["connectedUsers"].(float64) != 2 {
		t.Errorf("cluster stats: totalSockets=%v connectedUsers=%v, want 2 and 2", st["totalSockets"], st["connectedUsers"])
	}
}

// TestStoppedNodeLeavesStatsAtOnce: a node that stops withdraws its
// heartbeat key before its Redis client closes, so the other nodes' stats
// stop listing it at once rather than when the key's 15 s TTL runs out.
func TestStoppedNodeLeavesStatsAtOnce(t *testing.T) {
	rd := os.Getenv("COWORK_TEST_REDIS_URL")
	if rd == "" {
		t.Skip("needs COWORK_TEST_REDIS_URL (set by .ci/run)")
	}
	prefix := "cwtest-" + t.Name() + "-" + time.Now().Format("150405.000")
	cfg := func(node string) server.Config {
		return server.Config{
			Addr: "127.0.0.1:0", DB: "sqlite:" + t.TempDir() + "/" + node + ".db", Redis: rd, RedisPrefix: prefix, JWTSecret: secret,
			HoldTTL: time.Minute, Location: time.UTC, Catalog: slots.DemoCatalog(), Realtime: server.RealtimeConfig{NodeID: node},
		}
	}
	a, b := startWith(t, cfg("node-a")), startWith(t, cfg("node-b"))
	staff := token(t, 1, auth.RoleAdmin)
	nodes := func() []string {
		_, st, _ := a.call("GET", "/api/stats", staff, nil)
		list, _ := st["nodes"].([]any)
		var ids []string
		for _, n := range list {
			m, _ := n.(map[string]any)
			id, _ := m["nodeId"].(string)
			ids = append(ids, id)
		}
		return ids
	}
	testkit.Eventually(t, 15*time.Second, "both nodes in stats", func() bool { return len(nodes()) == 2 })
	if err := b.stop(); err != nil {
		t.Fatalf("stop node b: %v", err)
	}
	if got := nodes(); len(got) != 1 || got[0] != "node-a" {
		t.Fatalf("nodes right after node-b stopped = %v, want [node-a]", got)
	}
}
