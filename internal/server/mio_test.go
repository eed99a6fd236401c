package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/store/mio"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// backendDB loads the backend's tables (the mio store's test fixture) into
// a fresh schema, installs coworkctl on it, and returns the DSN and a pool
// that plays the backend (sessions in UTC, as its server ran).
func backendDB(t *testing.T, pg, own string) (string, *pgxpool.Pool) {
	t.Helper()
	return loadBackend(t, freshSchema(t, pg), pg, own)
}

// backendDBB is backendDB for benchmarks.
func backendDBB(b *testing.B, pg, own string) (string, *pgxpool.Pool) {
	schema := fmt.Sprintf("cw_bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(context.Background(), pg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), pg); err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			_ = conn.Close(context.Background())
		}
	})
	return loadBackend(b, pg+"&search_path="+schema, pg, own)
}

func loadBackend(t testing.TB, dsn, pg, own string) (string, *pgxpool.Pool) {
	fixture, err := os.ReadFile("../store/mio/testdata/backend.sql")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn+"&timezone=UTC")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), string(fixture)); err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	if err := mio.Install(context.Background(), mio.Config{DSN: dsn, OwnSchema: own}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), pg); err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+own+" CASCADE")
			_ = conn.Close(context.Background())
		}
	})
	return dsn, pool
}

// update is one slot_update or slots_freed a client received.
type update struct {
	name    string
	slot    int
	status  string
	version int64
	at      time.Time
}

type updates struct {
	mu   sync.Mutex
	list []update
	snap int64 // the version of the join's snapshot
}

func (u *updates) collect(s *client.Socket) {
	go func() {
		for ev := range s.Events() {
			now := time.Now()
			var m map[string]any
			if json.Unmarshal(ev.Raw, &m) != nil {
				continue
			}
			u.mu.Lock()
			switch ev.Name {
			case protocol.EventSlotUpdate:
				data, _ := m["data"].(map[string]any)
				v, _ := m["version"].(float64)
				id, _ := data["id_slot"].(float64)
				st, _ := data["status"].(string)
				u.list = append(u.list, update{name: ev.Name, slot: int(id), status: st, version: int64(v), at: now})
			case protocol.EventSlotsFreed:
				u.list = append(u.list, update{name: ev.Name, at: now})
			case protocol.EventSlotsStatusUpdate:
				v, _ := m["version"].(float64)
				u.snap = int64(v)
			}
			u.mu.Unlock()
		}
	}()
}

func (u *updates) count(name string, slot int, status string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, e := range u.list {
		if e.name == name && (name == protocol.EventSlotsFreed || e.slot == slot && e.status == status) {
			n++
		}
	}
	return n
}

// firstAt is when the client first got slot's status.
func (u *updates) firstAt(slot int, status string) time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, e := range u.list {
		if e.name == protocol.EventSlotUpdate && e.slot == slot && e.status == status {
			return e.at
		}
	}
	return time.Time{}
}

// TestMioLayoutTwoNodes runs two nodes on the backend's tables with Redis
// and plays the backend's flows and a psql session: every change reaches
// both nodes' clients exactly once, with consecutive versions that
// interleave with coworkctl's own changes.
func TestMioLayoutTwoNodes(t *testing.T) {
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("needs COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL")
	}
	own := fmt.Sprintf("cw_own_%d", time.Now().UnixNano())
	dsn, backend := backendDB(t, pg, own)
	prefix := "cwtest-" + t.Name() + "-" + time.Now().Format("150405.000")
	cfg := func(node string) server.Config {
		return server.Config{
			Addr: "127.0.0.1:0", DB: dsn, DBLayout: server.LayoutCoworkingMio, DBOwnSchema: own,
			Redis: rd, RedisPrefix: prefix, JWTSecret: secret, HoldTTL: 15 * time.Minute, Location: time.UTC,
			Realtime: server.RealtimeConfig{NodeID: node},
		}
	}
	a, b := startWith(t, cfg("node-a")), startWith(t, cfg("node-b"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	date := tomorrow()
	hour := func(h int) time.Time {
		d, _ := time.Parse(protocol.DateLayout, date)
		return d.Add(time.Duration(h) * time.Hour)
	}
	var us [2]*updates
	for i, base := range []string{a.base, b.base} {
		s, err := client.Dial(ctx, client.SocketOptions{Server: base, Token: token(t, int64(10+i), auth.RoleCliente)})
		if err != nil {
			t.Fatalf("dial node %d: %v", i, err)
		}
		defer s.Close()
		us[i] = &updates{}
		us[i].collect(s)
		if ack, err := s.JoinSpace(ctx, 1, 1, date); err != nil || !ack.Success {
			t.Fatalf("join on node %d: %v %+v", i, err, ack)
		}
	}
	both := func(what string, name string, slot int, status string) {
		t.Helper()
		testkit.Eventually(t, 15*time.Second, what, func() bool { return us[0].count(name, slot, status) >= 1 && us[1].count(name, slot, status) >= 1 })
	}
	defer func() {
		if t.Failed() {
			for i := range us {
				us[i].mu.Lock()
				t.Logf("client %d: snapshot v%d, %+v", i, us[i].snap, us[i].list)
				us[i].mu.Unlock()
			}
		}
	}()

	// The booking flow (creaPrenotazione): 'in attesa' over 10:00–12:00.
	var id int64
	if err := backend.QueryRow(ctx, `INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
		VALUES (2, 1, $1, $2, 'in attesa', $3, 2) RETURNING id_prenotazione`, hour(10), hour(12), time.Now().Add(15*time.Minute).UTC()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	both("creaPrenotazione's hold", protocol.EventSlotUpdate, 3, "occupied")
	both("creaPrenotazione's second hour", protocol.EventSlotUpdate, 2, "occupied")
	t.Logf("external commit to slot_update: node a %v, node b %v", us[0].firstAt(2, "occupied").Sub(committed), us[1].firstAt(2, "occupied").Sub(committed))

	// The payment (confirmPrenotazione).
	if _, err := backend.Exec(ctx, `UPDATE Prenotazione SET stato = 'confermata', data_pagamento = NOW(), scadenza_slot = NULL WHERE id_prenotazione = $1`, id); err != nil {
		t.Fatal(err)
	}
	both("payment", protocol.EventSlotUpdate, 3, "booked")

	// coworkctl's own hold on node A is a backend row.
	holder := token(t, 1, auth.RoleCliente)
	status, out, _ := a.call("POST", "/api/slots/5/hold", holder, map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
	if status != 200 {
		t.Fatalf("hold: %d %v", status, out)
	}
	both("coworkctl's hold", protocol.EventSlotUpdate, 5, "occupied")
	var stato string
	if err := backend.QueryRow(ctx, `SELECT stato FROM Prenotazione WHERE id_utente = 1 AND data_inizio = $1`, hour(13)).Scan(&stato); err != nil || stato != "in attesa" {
		t.Fatalf("coworkctl's hold in Prenotazione: %q %v", stato, err)
	}
	// The backend's availability check sees it.
	var overlapping int
	if err := backend.QueryRow(ctx, `SELECT COUNT(*) FROM Prenotazione WHERE id_spazio = 1 AND stato = 'in attesa' AND scadenza_slot > NOW()
		AND (data_inizio, data_fine) OVERLAPS ($1::timestamp, $2::timestamp)`, hour(13), hour(14)).Scan(&overlapping); err != nil || overlapping != 1 {
		t.Fatalf("backend's checkDisponibilita counts %d, %v", overlapping, err)
	}

	// A hold of the backend's slot route whose deadline passed: freed by
	// whichever timer comes first, the backend's or coworkctl's sweeper.
	if _, err := backend.Exec(ctx, `INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot)
		VALUES (3, 1, $1, $2, 'in attesa', $3)`, hour(15), hour(16), time.Now().Add(-time.Second).UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.Exec(ctx, `UPDATE Prenotazione SET stato = 'scaduta', scadenza_slot = NULL
		WHERE stato = 'in attesa' AND scadenza_slot IS NOT NULL AND scadenza_slot < CURRENT_TIMESTAMP`); err != nil {
		t.Fatal(err)
	}
	both("expiry", protocol.EventSlotsFreed, 0, "")

	// A psql session deletes coworkctl's hold: the last change.
	if _, err := backend.Exec(ctx, `DELETE FROM Prenotazione WHERE id_utente = 1`); err != nil {
		t.Fatal(err)
	}
	both("psql delete", protocol.EventSlotUpdate, 5, "available")

	for i := range us {
		for _, c := range []struct {
			slot   int
			status string
		}{{2, "occupied"}, {3, "occupied"}, {2, "booked"}, {3, "booked"}, {5, "occupied"}, {5, "available"}} {
			if n := us[i].count(protocol.EventSlotUpdate, c.slot, c.status); n != 1 {
				t.Errorf("client %d got slot %d %s %d times, want 1", i, c.slot, c.status, n)
			}
		}
		if n := us[i].count(protocol.EventSlotsFreed, 0, ""); n != 1 {
			t.Errorf("client %d got slots_freed %d times, want 1", i, n)
		}
		// Versions: consecutive from the snapshot's, whoever made the change.
		us[i].mu.Lock()
		want := us[i].snap + 1
		var got []string
		for _, e := range us[i].list {
			if e.name != protocol.EventSlotUpdate {
				continue
			}
			got = append(got, fmt.Sprintf("%d/%s@%d", e.slot, e.status, e.version))
			if e.version != want {
				t.Errorf("client %d: version %d, want %d (%s)", i, e.version, want, strings.Join(got, " "))
			}
			want = e.version + 1
		}
		us[i].mu.Unlock()
	}
}

// BenchmarkExternalCommitToSlotUpdate measures the delay from the commit
// of a row written by the backend (an INSERT as its booking flow makes)
// to the slot_update reaching a client of each of two nodes (PostgreSQL
// and Redis): b.N commits, one at a time, each on its own slot.
func BenchmarkExternalCommitToSlotUpdate(b *testing.B) {
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		b.Skip("needs COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL")
	}
	own := fmt.Sprintf("cw_own_%d", time.Now().UnixNano())
	dsn, backend := backendDBB(b, pg, own)
	prefix := fmt.Sprintf("cwbench-%d", time.Now().UnixNano())
	var bases []string
	for _, node := range []string{"node-a", "node-b"} {
		srv, err := server.New(server.Config{
			Addr: "127.0.0.1:0", DB: dsn, DBLayout: server.LayoutCoworkingMio, DBOwnSchema: own,
			Redis: rd, RedisPrefix: prefix, JWTSecret: secret, Location: time.UTC, Realtime: server.RealtimeConfig{NodeID: node},
		}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		b.Cleanup(func() { cancel(); <-done })
		bases = append(bases, "http://"+<-srv.Addr())
	}
	ctx := context.Background()
	date := tomorrow()
	day, _ := time.Parse(protocol.DateLayout, date)
	var us [2]*updates
	for i, base := range bases {
		tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: int64(10 + i), Role: auth.RoleCliente})
		if err != nil {
			b.Fatal(err)
		}
		s, err := client.Dial(ctx, client.SocketOptions{Server: base, Token: tok})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		us[i] = &updates{}
		us[i].collect(s)
		if ack, err := s.JoinSpace(ctx, 1, 1, date); err != nil || !ack.Success {
			b.Fatalf("join: %v %+v", err, ack)
		}
	}
	delays := [2][]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		// Slot 1–9 of successive days would leave the joined grid; stay on
		// its date and free the slot again after each round.
		slot := 1 + i%9
		start := day.Add(time.Duration(8+slot) * time.Hour)
		var id int64
		if err := backend.QueryRow(ctx, `INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato)
			VALUES (2, 1, $1, $2, 'confermata') RETURNING id_prenotazione`, start, start.Add(time.Hour)).Scan(&id); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		for n := range us {
			for {
				if at := us[n].nthAt(2*i, slot); !at.IsZero() {
					delays[n] = append(delays[n], at.Sub(committed))
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		if _, err := backend.Exec(ctx, `DELETE FROM Prenotazione WHERE id_prenotazione = $1`, id); err != nil {
			b.Fatal(err)
		}
		for n := range us {
			for us[n].nthAt(2*i+1, slot).IsZero() {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	b.StopTimer()
	for n, ds := range delays {
		slices.Sort(ds)
		p := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
		b.ReportMetric(p(0.5), fmt.Sprintf("node%d-p50-ms", n))
		b.ReportMetric(p(0.99), fmt.Sprintf("node%d-p99-ms", n))
		b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, fmt.Sprintf("node%d-max-ms", n))
	}
}

// nthAt is when the client got its n-th slot_update (0-based) if it was
// for slot, zero before.
func (u *updates) nthAt(n, slot int) time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := 0
	for _, e := range u.list {
		if e.name != protocol.EventSlotUpdate {
			continue
		}
		if k == n {
			if e.slot != slot {
				panic(fmt.Sprintf("update %d is for slot %d, want %d", n, e.slot, slot))
			}
			return e.at
		}
		k++
	}
	return time.Time{}
}
