package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// stalledStore answers nothing: every operation the routes use waits
// until its context ends, as a locked table or a paused database does.
type stalledStore struct{ slots.Store }

func stall[T any](ctx context.Context) (T, error) {
	<-ctx.Done()
	var zero T
	return zero, ctx.Err()
}

func (stalledStore) String() string { return "stalled" }
func (stalledStore) Catalog(ctx context.Context) ([]slots.Sede, error) {
	return stall[[]slots.Sede](ctx)
}
func (stalledStore) Spazio(ctx context.Context, _ int64) (slots.Spazio, slots.Sede, error) {
	_, err := stall[int](ctx)
	return slots.Spazio{}, slots.Sede{}, err
}
func (stalledStore) CountActiveHolds(ctx context.Context, _ time.Time) (int, error) {
	return stall[int](ctx)
}

// Every route that reads the store answers a stalled one with the same
// 503 STORE_UNAVAILABLE once the store's deadline passes. The catalog
// routes and stats answered 500 INTERNAL before.
func TestStalledStoreAnswers503OnEveryRoute(t *testing.T) {
	const secret = "stalled-store-secret"
	st := store.WithTimeout(stalledStore{}, 50*time.Millisecond)
	verifier, err := auth.NewVerifier(auth.Config{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	svc := slots.NewService(st, nil, slots.SystemClock{}, slots.Config{Location: time.UTC}, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	Routes(mux, Deps{
		Slots: svc, Verifier: verifier, Catalog: st.Catalog,
		Stats: func(ctx context.Context) (protocol.Stats, error) {
			n, err := st.CountActiveHolds(ctx, time.Now())
			if err != nil {
				return protocol.Stats{}, fmt.Errorf("count holds: %w", err)
			}
			return protocol.Stats{ActiveHolds: n}, nil
		},
		Metrics: metrics.New(reg), Gatherer: reg, Log: slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tok := func(role string) string {
		s, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: 7, Role: role, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	date := time.Now().UTC().Add(24 * time.Hour).Format(protocol.DateLayout)
	body := fmt.Sprintf(`{"idSpazio":1,"sedeId":1,"date":%q}`, date)
	tests := []struct{ method, path, role, body string }{
		{"GET", "/api/sedi", "", ""},
		{"GET", "/api/spazi?id_sede=1", "", ""},
		{"GET", "/api/slots/1/" + date, "", ""},
		{"POST", "/api/slots/3/hold", auth.RoleCliente, body},
		{"GET", "/api/stats", auth.RoleAdmin, ""},
		{"GET", "/api/admin/slots/1/" + date + "/history", auth.RoleAdmin, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if tt.role != "" {
			req.Header.Set("Authorization", "Bearer "+tok(tt.role))
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out protocol.ErrorResponse
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode != http.StatusServiceUnavailable || out.Code != protocol.CodeUnavailable || out.Error != protocol.RefusalUnavailable.Text {
			t.Errorf("%s %s on a stalled store: %d %s; want 503 %s %q", tt.method, tt.path, resp.StatusCode, raw, protocol.CodeUnavailable, protocol.RefusalUnavailable.Text)
		}
	}
}
