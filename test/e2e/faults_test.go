package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/sys/unix"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// The fault suite: real `coworkctl serve` processes under the faults a
// node must survive, each asserting its guarantee. Every case is bounded
// in time and touches only what it owns (its schema, its connections, its
// Redis prefix); the shared PostgreSQL and Redis servers are never
// stopped or paused.

// faultSchema makes a PostgreSQL schema for one test and returns the
// serve DSN (its connections named app, so the test can kill exactly
// them) and a DSN for the test's own connections.
func faultSchema(t *testing.T) (serveDSN, testDSN, app string) {
	t.Helper()
	base := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("fault suite: set COWORK_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema, app := "cw_faults_"+hex.EncodeToString(b), "cw_faults_"+hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	testDSN = base + sep + "search_path=" + schema
	return testDSN + "&application_name=" + app, testDSN, app
}

func holdBody() map[string]any { return map[string]any{"idSpazio": 1, "sedeId": 1, "date": Tomorrow()} }

// A locked table answers 503 within --store-timeout; /readyz says so.
func TestFaultPostgresLock(t *testing.T) {
	dsn, testDSN, _ := faultSchema(t)
	srv := StartServer(t, ServerConfig{DB: dsn, Args: []string{"--store-timeout", "1s"}})
	tok := srv.Token(t, 51, "cliente")
	if r := srv.Do(t, "POST", "/api/slots/1/hold", tok, holdBody()); r.Status != 200 {
		t.Fatalf("hold before the lock: %d %s", r.Status, r.Raw)
	}
	db, err := sql.Open("pgx", testDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec("LOCK TABLE reservations IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := srv.Do(t, "POST", "/api/slots/2/hold", tok, holdBody())
	took := time.Since(start)
	t.Logf("hold with reservations locked: %d %s after %v", r.Status, r.Raw, took.Round(time.Millisecond))
	if r.Status != http.StatusServiceUnavailable || r.Body["code"] != protocol.CodeUnavailable {
		t.Fatalf("hold with the table locked: %d %s; want 503 %s", r.Status, r.Raw, protocol.CodeUnavailable)
	}
	if ready := srv.Do(t, "GET", "/readyz", "", nil); ready.Status != http.StatusServiceUnavailable || !strings.Contains(string(ready.Raw), "database") {
		t.Errorf("/readyz: %d %s; want 503 naming the database", ready.Status, ready.Raw)
	}
	if live := srv.Do(t, "GET", "/healthz", "", nil); live.Status != 200 {
		t.Errorf("/healthz: %d; want 200", live.Status)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := srv.Do(t, "POST", "/api/slots/2/hold", tok, holdBody()); r.Status != 200 {
		t.Fatalf("hold after the lock: %d %s", r.Status, r.Raw)
	}
}

// Killed connections fail the next action before anything ran: retried.
func TestFaultPostgresConnectionKill(t *testing.T) {
	dsn, testDSN, app := faultSchema(t)
	srv := StartServer(t, ServerConfig{DB: dsn})
	tok := srv.Token(t, 52, "cliente")
	db, err := sql.Open("pgx", testDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for slot := 1; slot <= 3; slot++ {
		if r := srv.Do(t, "POST", fmt.Sprintf("/api/slots/%d/hold", slot), tok, holdBody()); r.Status != 200 {
			t.Fatalf("hold %d: %d %s", slot, r.Status, r.Raw)
		}
		var killed int
		if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if r := srv.Do(t, "POST", fmt.Sprintf("/api/slots/%d/book", slot), tok, holdBody()); r.Status != 200 {
			t.Fatalf("book %d after killing %d connections: %d %s; want 200 after a retry", slot, killed, r.Status, r.Raw)
		}
	}
}

// A handshake flood from another address does not keep a client with a
// token out.
func TestFaultHandshakeFlood(t *testing.T) {
	srv := StartServer(t, ServerConfig{Args: []string{"--max-pending", "64", "--log-level", "info"}})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				holdBareWebsocket(ctx, srv.Addr, from)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for srv.Metric(t, "coworkctl_pending_evicted_total") < 64 {
		if time.Now().After(deadline) {
			t.Fatal("the flood did not fill the pending pool within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, transport := range []string{sioclient.TransportWebSocket, sioclient.TransportPolling} {
		for i := range 5 {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s, err := client.Dial(cctx, client.SocketOptions{Server: srv.URL, Token: srv.Token(t, int64(60+i), "cliente"), Transports: transport, FallbackAfter: -1})
			cancel()
			if err != nil {
				t.Fatalf("%s connect %d during the flood: %v (want every connect within 2 s)", transport, i+1, err)
			}
			s.Close()
		}
	}
	t.Logf("10 of 10 connects within 2 s while %v pending sessions were evicted", srv.Metric(t, "coworkctl_pending_evicted_total"))
}

// holdBareWebsocket opens an Engine.IO websocket from local and holds it
// without a CONNECT until the server drops it or ctx ends.
func holdBareWebsocket(ctx context.Context, addr string, local *net.TCPAddr) {
	d := net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	_, _ = io.Copy(io.Discard, bufio.NewReader(conn))
}

// A client that stops reading is dropped as a slow consumer after
// --stall-timeout, long before the heartbeat.
func TestFaultSlowReader(t *testing.T) {
	srv := StartServer(t, ServerConfig{Args: []string{"--stall-timeout", "1s", "--ping-interval", "50s", "--ping-timeout", "50s", "--log-level", "info"}})
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) }); err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", srv.Addr)
	// The CONNECT with a token, then a join; an unmasked client frame is
	// refused, so frames are masked with a zero key.
	for _, msg := range []string{`40{"token":"` + srv.Token(t, 70, "cliente") + `"}`, `42["join_space",{"spazioId":1,"sedeId":1}]`} {
		frame := append([]byte{0x81, 0x80 | 126, byte(len(msg) >> 8), byte(len(msg)), 0, 0, 0, 0}, msg...)
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the socket is in the room, then stop reading for good.
	staff := srv.Token(t, 1, "admin")
	deadline := time.Now().Add(10 * time.Second)
	for srv.Metric(t, "coworkctl_rooms") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the slow reader never joined its room")
		}
		time.Sleep(20 * time.Millisecond)
	}
	payload := map[string]any{"event": "tick", "data": map[string]any{"n": strings.Repeat("x", 100)}, "spazioId": 1, "sedeId": 1}
	start := time.Now()
	sent := 0
	for !strings.Contains(srv.Logs(), `reason="slow consumer"`) {
		if time.Since(start) > 30*time.Second {
			logs := srv.Logs()
			t.Fatalf("the slow reader was not dropped within 30 s (%d emits); log tail:\n%s", sent, logs[max(0, len(logs)-3000):])
		}
		for range 20 {
			if r := srv.Do(t, "POST", "/api/admin/emit", staff, payload); r.Status != 200 {
				t.Fatalf("emit: %d %s", r.Status, r.Raw)
			}
			sent++
		}
	}
	t.Logf("slow reader dropped as slow consumer after %v and %d messages", time.Since(start).Round(time.Millisecond), sent)
}

// kill -9 of a node: what it acknowledged is kept, the other node serves.
func TestFaultKillNode(t *testing.T) {
	dsn, _, _ := faultSchema(t)
	rd := os.Getenv("COWORK_TEST_REDIS_URL")
	if rd == "" {
		t.Skip("fault suite: set COWORK_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "cw-faults-" + hex.EncodeToString(b)
	args := []string{"--redis", rd, "--redis-prefix", prefix, "--log-level", "info"}
	a := StartServer(t, ServerConfig{DB: dsn, Args: args})
	bNode := StartServer(t, ServerConfig{DB: dsn, Args: args})
	tok := a.Token(t, 80, "cliente")
	for slot := 1; slot <= 3; slot++ {
		if r := a.Do(t, "POST", fmt.Sprintf("/api/slots/%d/hold", slot), tok, holdBody()); r.Status != 200 {
			t.Fatalf("hold %d on node A: %d %s", slot, r.Status, r.Raw)
		}
	}
	a.Kill()
	if _, err := a.Wait(5 * time.Second); err == nil && a.Running() {
		t.Fatal("node A still running after kill -9")
	}
	g := bNode.Do(t, "GET", "/api/slots/1/"+Tomorrow(), "", nil)
	if g.Status != 200 {
		t.Fatalf("grid on node B: %d %s", g.Status, g.Raw)
	}
	data, _ := g.Body["data"].(map[string]any)
	list, _ := data["slots"].([]any)
	occupied := 0
	for _, s := range list {
		if m, _ := s.(map[string]any); m["status"] == "occupied" {
			occupied++
		}
	}
	if occupied != 3 {
		t.Fatalf("node B shows %d occupied slots after node A was killed; want the 3 holds A acknowledged", occupied)
	}
	if r := bNode.Do(t, "POST", "/api/slots/4/hold", tok, holdBody()); r.Status != 200 {
		t.Fatalf("hold on node B after A died: %d %s", r.Status, r.Raw)
	}
}
