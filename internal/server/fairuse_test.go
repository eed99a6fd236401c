package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// startFairUse starts a server with a cap of maxHolds holds per user, a
// horizon of maxDays days and a 90 s hold TTL.
func startFairUse(t *testing.T, db string, maxHolds, maxDays int) *harness {
	t.Helper()
	return startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: db, JWTSecret: secret, HoldTTL: 90 * time.Second, Location: time.UTC,
		Catalog: slots.DemoCatalog(), MaxHoldsPerUser: maxHolds, MaxDaysAhead: maxDays,
	})
}

// TestRESTFairUse: the fair-use refusals of POST /api/slots/{n}/hold with their status, code and Italian text.
func TestRESTFairUse(t *testing.T) {
	h := startFairUse(t, "sqlite:"+filepath.Join(t.TempDir(), "fair.db"), 2, 30)
	alice, bob := token(t, 1, auth.RoleCliente), token(t, 2, auth.RoleCliente)
	today := time.Now().UTC()
	at := func(days int) map[string]any {
		return map[string]any{"idSpazio": 1, "sedeId": 1, "date": today.AddDate(0, 0, days).Format(protocol.DateLayout)}
	}
	const (
		limitMsg = "Puoi occupare al massimo 2 slot alla volta: prenotane o liberane uno prima di occuparne un altro"
		farMsg   = "Si può prenotare al massimo 30 giorni in anticipo"
	)
	tests := []struct {
		name    string
		path    string
		tok     string
		body    map[string]any
		status  int
		code    string
		message string
	}{
		{"first hold", "/api/slots/1/hold", alice, at(1), 200, "", "Slot occupato per 90 secondi"},
		{"second hold", "/api/slots/2/hold", alice, at(1), 200, "", "Slot occupato per 90 secondi"},
		{"third hold", "/api/slots/3/hold", alice, at(1), 429, protocol.CodeHoldLimit, limitMsg},
		{"third hold on another day", "/api/slots/3/hold", alice, at(2), 429, protocol.CodeHoldLimit, limitMsg},
		{"another user", "/api/slots/3/hold", bob, at(1), 200, "", "Slot occupato per 90 secondi"},
		{"day 30", "/api/slots/1/hold", bob, at(30), 200, "", "Slot occupato per 90 secondi"},
		{"day 31", "/api/slots/2/hold", bob, at(31), 400, protocol.CodeDateTooFar, farMsg},
		{"the year 5000", "/api/slots/2/hold", bob, map[string]any{"idSpazio": 1, "sedeId": 1, "date": "5000-01-01"}, 400, protocol.CodeDateTooFar, farMsg},
		{"book one of the two", "/api/slots/1/book", alice, at(1), 200, "", protocol.MsgSlotBooked},
		{"hold again after booking", "/api/slots/4/hold", alice, at(1), 200, "", "Slot occupato per 90 secondi"},
		{"over the cap again", "/api/slots/5/hold", alice, at(1), 429, protocol.CodeHoldLimit, limitMsg},
		{"release one", "/api/slots/4/release", alice, at(1), 200, "", protocol.MsgSlotReleased},
		{"hold after releasing", "/api/slots/5/hold", alice, at(1), 200, "", "Slot occupato per 90 secondi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := h.call("POST", tt.path, tt.tok, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", status, tt.status, out)
			}
			text := out["message"]
			if status >= 300 {
				text = out["error"]
			}
			if text != tt.message || out["success"] != (status < 300) {
				t.Fatalf("text = %q, success = %v; want %q (body %v)", text, out["success"], tt.message, out)
			}
			if code, _ := out["code"].(string); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
		})
	}

	// The grid shows none of the refused holds.
	_, out, _ := h.call("GET", "/api/slots/1/"+at(1)["date"].(string), "", nil)
	var statuses []string
	for _, s := range out["data"].(map[string]any)["slots"].([]any) {
		statuses = append(statuses, s.(map[string]any)["status"].(string))
	}
	if got, want := strings.Join(statuses[:6], " "), "booked occupied occupied available occupied available"; got != want {
		t.Fatalf("slots 1-6 = %s, want %s", got, want)
	}
	_, m, _ := h.call("GET", "/metrics", "", nil)
	for _, line := range []string{`coworkctl_holds_total{result="limited"} 3`, `coworkctl_holds_total{result="invalid"} 2`} {
		if !strings.Contains(m["_raw"].(string), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// testHoldLimitRace: a user one below the cap fires holds of 20 distinct
// free slots at once through the REST API; exactly one is granted and the
// rest get 429 HOLD_LIMIT.
func testHoldLimitRace(t *testing.T, db string) {
	const maxHolds, racers, rounds = 3, 20, 5
	h := startFairUse(t, db, maxHolds, 0)
	base := time.Now().UTC()
	for round := range rounds {
		tok := token(t, int64(3000+round), auth.RoleCliente)
		date := base.AddDate(0, 0, 1+round).Format(protocol.DateLayout)
		hold := func(i int) int {
			// 36 slots a day: spazi 1-4 of sede 1, 9 slots each.
			body := fmt.Appendf(nil, `{"idSpazio":%d,"sedeId":1,"date":%q}`, 1+i%4, date)
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/slots/%d/hold", h.base, 1+i/4), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return -1
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for i := range maxHolds - 1 {
			if status := hold(i); status != 200 {
				t.Fatalf("round %d: hold %d below the cap: %d", round, i, status)
			}
		}
		var (
			mu  sync.Mutex
			got = map[int]int{}
			wg  sync.WaitGroup
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				status := hold(maxHolds - 1 + i)
				mu.Lock()
				got[status]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if got[200] != 1 || got[429] != racers-1 || len(got) != 2 {
			t.Fatalf("round %d: statuses %v, want exactly {200: 1, 429: %d}", round, got, racers-1)
		}
	}
}

func TestHoldLimitRaceHTTPSQLite(t *testing.T) {
	testHoldLimitRace(t, "sqlite:"+filepath.Join(t.TempDir(), "limit.db"))
}

func TestHoldLimitRaceHTTPPostgres(t *testing.T) {
	pg := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("PostgreSQL race test needs COWORK_TEST_POSTGRES_URL (set by .ci/run)")
	}
	testHoldLimitRace(t, freshSchema(t, pg))
}

func TestNegativeFairUseLimitsRefused(t *testing.T) {
	for _, cfg := range []server.Config{{JWTSecret: "x", MaxHoldsPerUser: -1}, {JWTSecret: "x", MaxDaysAhead: -1}} {
		if _, err := server.New(cfg, testLogger()); err == nil {
			t.Errorf("New(%+v) succeeded, want an error for a negative limit", cfg)
		}
	}
}
