package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// pgFaultServer starts a server on a fresh PostgreSQL schema whose
// connections carry an application_name of their own, so the test can
// kill exactly them. It returns the harness, the DSN and that name.
func pgFaultServer(t *testing.T, storeTimeout time.Duration) (*harness, string, string) {
	t.Helper()
	pg := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("set COWORK_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	app := "cw_faults_" + hex.EncodeToString(b)
	dsn := freshSchema(t, pg)
	h := startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: dsn + "&application_name=" + app, JWTSecret: secret, HoldTTL: 10 * time.Minute,
		Location: time.UTC, Catalog: slots.DemoCatalog(), StoreTimeout: storeTimeout,
	})
	return h, dsn, app
}

// get answers a GET with its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A locked reservations table must not hold requests hostage: a hold
// answers 503 STORE_UNAVAILABLE within the store deadline, /readyz says
// 503 naming the database, /healthz stays 200. Before the deadline, the
// hold waited for as long as the lock (69 s seen).
func TestLockedTableAnswers503WithinTheDeadline(t *testing.T) {
	const deadline = time.Second
	h, dsn, _ := pgFaultServer(t, deadline)
	date := tomorrow()
	hold := func(slot int) (int, map[string]any) {
		status, out, _ := h.call("POST", fmt.Sprintf("/api/slots/%d/hold", slot), userToken(t, 31), map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		return status, out
	}
	if status, out := hold(1); status != 200 {
		t.Fatalf("hold before the lock: %d %v", status, out)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec("LOCK TABLE reservations IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("lock: %v", err)
	}

	start := time.Now()
	status, out := hold(2)
	took := time.Since(start)
	t.Logf("hold with the table locked: %d %v after %v (deadline %v)", status, out, took.Round(time.Millisecond), deadline)
	if status != http.StatusServiceUnavailable || out["code"] != protocol.CodeUnavailable || !strings.Contains(fmt.Sprint(out["error"]), "riprova") {
		t.Fatalf("hold with the table locked: %d %v; want 503 %s with a riprova text", status, out, protocol.CodeUnavailable)
	}
	// One deadline, maybe a retry's: far below the lock's duration.
	if took > 4*deadline {
		t.Errorf("the 503 took %v with a %v deadline", took, deadline)
	}
	status, out2, _ := h.call("GET", "/api/slots/1/"+date, "", nil)
	if status != http.StatusServiceUnavailable || out2["code"] != protocol.CodeUnavailable {
		t.Errorf("grid read with the table locked: %d %v; want 503", status, out2)
	}
	if code, body := get(t, h.base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Errorf("/readyz with the table locked: %d %s; want 503 naming the database", code, body)
	}
	if code, body := get(t, h.base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the table locked: %d %s; want 200 (liveness)", code, body)
	}

	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if status, out := hold(2); status != 200 {
		t.Fatalf("hold after the lock: %d %v", status, out)
	}
}

// A connection killed under the pool (pg_terminate_backend) fails the next
// action at BEGIN, before anything ran: it is retried on another
// connection and succeeds. Before, it answered a generic 500.
func TestKilledConnectionIsRetried(t *testing.T) {
	h, dsn, app := pgFaultServer(t, 5*time.Second)
	date := tomorrow()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 4 {
		slot := i + 1
		status, out, _ := h.call("POST", fmt.Sprintf("/api/slots/%d/hold", slot), userToken(t, 41), map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		if status != 200 {
			t.Fatalf("hold %d before the kill: %d %v", slot, status, out)
		}
		var killed int
		if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatalf("no connection of %s to kill", app)
		}
		status, out, _ = h.call("POST", fmt.Sprintf("/api/slots/%d/release", slot), userToken(t, 41), map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		if status != 200 {
			t.Fatalf("kill %d (%d connections): release answered %d %v; want 200 after a retry", i+1, killed, status, out)
		}
	}
}

// Every route that reads the store answers a stalled one alike: 503
// STORE_UNAVAILABLE within the deadline. The catalog routes and stats
// answered 500 INTERNAL before, unlike the slot routes beside them.
func TestLockedStoreAnswers503OnEveryRoute(t *testing.T) {
	const deadline = time.Second
	h, dsn, _ := pgFaultServer(t, deadline)
	date := tomorrow()
	staff := token(t, 9, auth.RoleAdmin)
	routes := []struct{ method, path, tok string }{
		{"GET", "/api/sedi", ""},
		{"GET", "/api/sedi?citta=Milano", ""},
		{"GET", "/api/spazi", ""},
		{"GET", "/api/spazi?id_sede=1", ""},
		{"GET", "/api/slots/1/" + date, ""},
		{"GET", "/api/stats", staff},
		{"GET", "/api/admin/slots/1/" + date + "/history", staff},
	}
	for _, r := range routes {
		if status, out, _ := h.call(r.method, r.path, r.tok, nil); status != http.StatusOK {
			t.Fatalf("%s %s before the lock: %d %v", r.method, r.path, status, out)
		}
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec("LOCK TABLE sedi, spazi, reservations, slot_audit IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	for _, r := range routes {
		start := time.Now()
		status, out, _ := h.call(r.method, r.path, r.tok, nil)
		took := time.Since(start)
		if status != http.StatusServiceUnavailable || out["code"] != protocol.CodeUnavailable || !strings.Contains(fmt.Sprint(out["error"]), "riprova") {
			t.Errorf("%s %s with the store locked: %d %v after %v; want 503 %s with a riprova text",
				r.method, r.path, status, out, took.Round(time.Millisecond), protocol.CodeUnavailable)
		}
		if took > 4*deadline {
			t.Errorf("%s %s: the answer took %v with a %v deadline", r.method, r.path, took, deadline)
		}
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if status, out, _ := h.call(r.method, r.path, r.tok, nil); status != http.StatusOK {
			t.Errorf("%s %s after the lock: %d %v", r.method, r.path, status, out)
		}
	}
}
