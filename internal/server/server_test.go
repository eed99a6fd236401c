package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
)

const secret = "server-test-secret"

type harness struct {
	t      *testing.T
	base   string
	db     string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, db string) *harness {
	t.Helper()
	if db == "" {
		db = "sqlite:" + filepath.Join(t.TempDir(), "srv.db")
	}
	return startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: db, JWTSecret: secret, HoldTTL: 10 * time.Minute, Location: time.UTC,
		Catalog: slots.DemoCatalog(), Realtime: server.RealtimeConfig{CORSOrigins: []string{"https://app.example"}},
	})
}

func startWith(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	db := cfg.DB
	srv, err := server.New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, db: db, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- srv.Run(ctx) }()
	select {
	case addr := <-srv.Addr():
		h.base = "http://" + addr
	case err := <-h.done:
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(15 * time.Second):
		h.t.Fatal("server did not stop within 15s")
		return nil
	}
}

func token(t *testing.T, user int64, role string) string {
	t.Helper()
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: user, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call does one request and decodes the JSON answer into a map.
func (h *harness) call(method, path, tok string, body any) (int, map[string]any, http.Header) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Origin", "https://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && bytes.HasPrefix(raw, []byte("[")) {
		var list []any
		if err := json.Unmarshal(raw, &list); err != nil {
			h.t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
		out["_list"] = list
	} else if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
	} else {
		out["_raw"] = string(raw)
	}
	return resp.StatusCode, out, resp.Header
}

func tomorrow() string { return time.Now().UTC().Add(24 * time.Hour).Format(protocol.DateLayout) }

func TestRESTContract(t *testing.T) {
	h := start(t, "")
	alice, bob, staff := token(t, 1, auth.RoleCliente), token(t, 2, auth.RoleCliente), token(t, 9, auth.RoleGestore)
	d := tomorrow()
	body := map[string]any{"idSpazio": 1, "sedeId": 1, "date": d}
	strBody := map[string]any{"idSpazio": "1", "sedeId": "1", "date": d}

	tests := []struct {
		name    string
		method  string
		path    string
		tok     string
		body    any
		status  int
		message string // success message or error text
	}{
		{"hold without token", "POST", "/api/slots/3/hold", "", body, 401, protocol.MsgHTTPAuthRequired},
		{"hold with bad token", "POST", "/api/slots/3/hold", "garbage", body, 403, protocol.MsgHTTPAuthInvalid},
		{"hold", "POST", "/api/slots/3/hold", alice, body, 200, "Slot occupato per 10 minuti"},
		{"hold taken", "POST", "/api/slots/3/hold", bob, strBody, 409, protocol.MsgSlotUnavailable},
		{"book by other", "POST", "/api/slots/3/book", bob, body, 409, protocol.MsgSlotNotBookable},
		{"release by other", "POST", "/api/slots/3/release", bob, body, 404, protocol.MsgSlotNotHeldByUser},
		{"book", "POST", "/api/slots/3/book", alice, body, 200, protocol.MsgSlotBooked},
		{"release booked", "POST", "/api/slots/3/release", alice, body, 404, protocol.MsgSlotNotHeldByUser},
		{"hold 4", "POST", "/api/slots/4/hold", bob, body, 200, "Slot occupato per 10 minuti"},
		{"release 4", "POST", "/api/slots/4/release", bob, body, 200, protocol.MsgSlotReleased},
		{"out of range", "POST", "/api/slots/10/hold", alice, body, 400, ""},
		{"slot id not a number", "POST", "/api/slots/abc/hold", alice, body, 400, ""},
		{"bad date", "POST", "/api/slots/2/hold", alice, map[string]any{"idSpazio": 1, "sedeId": 1, "date": "27/11/2026"}, 400, protocol.MsgBadDate},
		{"past date", "POST", "/api/slots/2/hold", alice, map[string]any{"idSpazio": 1, "sedeId": 1, "date": "2020-01-01"}, 400, ""},
		{"unknown spazio", "POST", "/api/slots/2/hold", alice, map[string]any{"idSpazio": 77, "sedeId": 1, "date": d}, 404, "Spazio non trovato"},
		{"spazio of other sede", "POST", "/api/slots/2/hold", alice, map[string]any{"idSpazio": 5, "sedeId": 1, "date": d}, 400, ""},
		{"fractional spazio", "POST", "/api/slots/2/hold", alice, map[string]any{"idSpazio": 1.5, "sedeId": 1, "date": d}, 400, ""},
		{"malformed JSON", "POST", "/api/slots/2/hold", alice, "{not json", 400, ""},
		{"empty body", "POST", "/api/slots/2/hold", alice, "", 400, ""},
		{"oversized body", "POST", "/api/slots/2/hold", alice, `{"idSpazio":1,"x":"` + strings.Repeat("a", 2<<20) + `"}`, 400, ""},
		{"slots bad date", "GET", "/api/slots/1/2026-13-01", "", nil, 400, protocol.MsgBadDate},
		{"slots unknown spazio", "GET", "/api/slots/99/" + d, "", nil, 404, "Spazio non trovato"},
		{"stats needs staff", "GET", "/api/stats", alice, nil, 403, ""},
		{"stats needs token", "GET", "/api/stats", "", nil, 401, protocol.MsgHTTPAuthRequired},
		{"emit needs staff", "POST", "/api/admin/emit", alice, map[string]any{"event": "x", "all": true}, 403, ""},
		{"emit without target", "POST", "/api/admin/emit", staff, map[string]any{"event": "x", "data": 1}, 400, ""},
		{"emit two targets", "POST", "/api/admin/emit", staff, map[string]any{"event": "x", "all": true, "userId": 3}, 400, ""},
		{"emit reserved", "POST", "/api/admin/emit", staff, map[string]any{"event": "disconnect", "all": true}, 400, ""},
		{"emit 100 KB name", "POST", "/api/admin/emit", staff, map[string]any{"event": strings.Repeat("e", 100_000), "all": true}, 400, "Nome evento troppo lungo: 100000 byte, al massimo 64"},
		{"emit name with space", "POST", "/api/admin/emit", staff, map[string]any{"event": "slot update", "all": true}, 400, ""},
		{"emit name with newline", "POST", "/api/admin/emit", staff, map[string]any{"event": "promo\n", "all": true}, 400, ""},
		{"emit room", "POST", "/api/admin/emit", staff, map[string]any{"event": "promo", "data": map[string]any{"x": 1}, "spazioId": 1, "sedeId": 1}, 200, ""},
		{"unknown api route", "GET", "/api/nope", "", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, hdr := h.call(tt.method, tt.path, tt.tok, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", status, tt.status, out)
			}
			wantSuccess := status < 300
			if out["success"] != wantSuccess {
				t.Fatalf("success = %v, want %v (body %v)", out["success"], wantSuccess, out)
			}
			if tt.message != "" {
				got := out["error"]
				if wantSuccess {
					got = out["message"]
				}
				if got != tt.message {
					t.Fatalf("text = %q, want %q", got, tt.message)
				}
			}
			if !wantSuccess && out["error"] == "" {
				t.Fatal("failure without error text")
			}
			if hdr.Get("Access-Control-Allow-Origin") != "https://app.example" {
				t.Fatalf("CORS header missing for an allowed origin: %v", hdr)
			}
		})
	}

	// The grid reflects the actions above; the public view hides holders.
	status, out, _ := h.call("GET", "/api/slots/1/"+d, "", nil)
	if status != 200 {
		t.Fatalf("slots: %d %v", status, out)
	}
	data := out["data"].(map[string]any)
	list := data["slots"].([]any)
	if data["count"].(float64) != 9 || len(list) != 9 || data["date"] != d {
		t.Fatalf("slots data = %v", data)
	}
	// Four changes of the grid above (hold 3, book 3, hold 4, release 4);
	// refused actions leave the version alone.
	if data["version"] != float64(4) {
		t.Fatalf("grid version = %v, want 4", data["version"])
	}
	s3, s4 := list[2].(map[string]any), list[3].(map[string]any)
	if s3["status"] != "booked" || s4["status"] != "available" {
		t.Fatalf("slot 3 = %v, slot 4 = %v", s3, s4)
	}
	if _, leaked := s3["id_utente"]; leaked {
		t.Fatal("public grid shows the holder's id_utente")
	}
	_, own, _ := h.call("GET", "/api/slots/1/"+d, alice, nil)
	if own["data"].(map[string]any)["slots"].([]any)[2].(map[string]any)["id_utente"] != float64(1) {
		t.Fatal("the holder does not see their own id_utente")
	}
}

func TestStatsHealthMetrics(t *testing.T) {
	h := start(t, "")
	staff := token(t, 9, auth.RoleAdmin)
	status, out, _ := h.call("GET", "/api/stats", staff, nil)
	if status != 200 {
		t.Fatalf("stats: %d %v", status, out)
	}
	for _, k := range []string{"connectedUsers", "totalSockets", "rooms", "redisEnabled", "redisConnected", "uptimeSeconds", "nodes", "activeHolds"} {
		if _, ok := out[k]; !ok {
			t.Errorf("stats lacks %q: %v", k, out)
		}
	}
	if out["redisEnabled"] != false {
		t.Errorf("redisEnabled = %v on a single node", out["redisEnabled"])
	}
	if status, _, _ := h.call("GET", "/healthz", "", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
	if status, out, _ := h.call("GET", "/readyz", "", nil); status != 200 {
		t.Errorf("readyz = %d %v", status, out)
	}
	h.call("POST", "/api/slots/2/hold", token(t, 3, auth.RoleCliente), map[string]any{"idSpazio": 1, "sedeId": 1, "date": tomorrow()})
	h.call("GET", "/api/stats", "bad-token", nil)
	_, m, _ := h.call("GET", "/metrics", "", nil)
	text := m["_raw"].(string)
	for _, name := range []string{"coworkctl_sockets", "coworkctl_holds_total{result=\"ok\"} 1", "coworkctl_hold_expiries_total", "coworkctl_auth_failures_total{code=\"AUTH_INVALID\",via=\"http\"} 1", "coworkctl_broadcast_seconds", "coworkctl_store_writes_total ", "coworkctl_store_write_transactions_total ", "coworkctl_store_writes_waiting 0", "go_goroutines"} {
		if !strings.Contains(text, name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

func TestGracefulShutdownAndRestartKeepData(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "restart.db")
	h := start(t, db)
	alice := token(t, 1, auth.RoleCliente)
	body := map[string]any{"idSpazio": 2, "sedeId": 1, "date": tomorrow()}
	if status, out, _ := h.call("POST", "/api/slots/5/hold", alice, body); status != 200 {
		t.Fatalf("hold: %d %v", status, out)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run returned %v after a clean shutdown, want nil", err)
	}
	h2 := start(t, db)
	_, out, _ := h2.call("GET", "/api/slots/2/"+tomorrow(), "", nil)
	if st := out["data"].(map[string]any)["slots"].([]any)[4].(map[string]any)["status"]; st != "occupied" {
		t.Fatalf("after restart slot 5 is %v, want occupied", st)
	}
	if v := out["data"].(map[string]any)["version"]; v != float64(1) {
		t.Fatalf("after restart the grid's version is %v, want 1 (the hold)", v)
	}
}

func TestStartupErrors(t *testing.T) {
	if _, err := server.New(server.Config{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("New without a secret succeeded")
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", DB: "mysql://nope", JWTSecret: "x"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "open database") {
		t.Fatalf("Run with a bad DSN = %v, want an open database error", err)
	}
}

// testLogger discards unless COWORK_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("COWORK_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
