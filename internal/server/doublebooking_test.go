package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// raceHolds fires one hold of the same free slot from each of users
// concurrently through the real HTTP API and counts the statuses.
func raceHolds(t *testing.T, h *harness, slot int, date string, tokens []string) map[int]int {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"idSpazio":1,"sedeId":1,"date":%q}`, date))
	statuses := make(chan int, len(tokens))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/slots/%d/hold", h.base, slot), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	return count
}

// testNoDoubleBooking: 100 users hold one free slot at once, 20 rounds
// (a fresh slot each round): exactly one 200 and 99 × 409, nothing else.
func testNoDoubleBooking(t *testing.T, db string) {
	h := startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: db, JWTSecret: secret, HoldTTL: time.Hour, Location: time.UTC, Catalog: slots.DemoCatalog(),
	})
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = token(t, int64(1000+i), auth.RoleCliente)
	}
	// Slots 1..9 of consecutive future days give 20 fresh slots.
	base := time.Now().UTC().Add(48 * time.Hour)
	for round := range 20 {
		date := base.Add(time.Duration(round/9) * 24 * time.Hour).Format("2006-01-02")
		slot := round%9 + 1
		got := raceHolds(t, h, slot, date, tokens)
		if got[200] != 1 || got[409] != 99 || len(got) != 2 {
			t.Fatalf("round %d (slot %d on %s): statuses %v, want exactly {200: 1, 409: 99}", round, slot, date, got)
		}
	}
}

func TestNoDoubleBookingHTTPSQLite(t *testing.T) {
	testNoDoubleBooking(t, "sqlite:"+filepath.Join(t.TempDir(), "race.db"))
}

func TestNoDoubleBookingHTTPPostgres(t *testing.T) {
	pg := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("PostgreSQL race test needs COWORK_TEST_POSTGRES_URL (set by .ci/run)")
	}
	testNoDoubleBooking(t, freshSchema(t, pg))
}
