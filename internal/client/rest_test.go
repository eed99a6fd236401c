package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// fakeAPI answers like the server's REST API for the paths the tests use and records the
// last request.
type fakeAPI struct {
	lastMethod, lastPath, lastAuth string
	lastBody                       map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.lastMethod, f.lastPath, f.lastAuth = r.Method, r.URL.Path, r.Header.Get("Authorization")
	f.lastBody = nil
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &f.lastBody)
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/healthz":
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	case r.URL.Path == "/api/sedi":
		_, _ = io.WriteString(w, `[{"id_sede":1,"nome":"Milano","citta":"Milano","spazi":[{"id_spazio":2,"id_sede":1,"nome":"Sala","tipologia":"sala","capacita":8}]}]`)
	case r.URL.Path == "/api/slots/2/2026-11-20":
		_, _ = io.WriteString(w, `{"success":true,"data":{"slots":[{"id_slot":1,"orario":"09:00","status":"available","title":"Disponibile"}],"count":1,"date":"2026-11-20","idSpazio":2}}`)
	case r.URL.Path == "/api/slots/2026-13-40" || strings.HasSuffix(r.URL.Path, "/bad"):
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgBadDate+`"}`)
	case r.URL.Path == "/api/slots/3/hold":
		_, _ = io.WriteString(w, `{"success":true,"message":"Slot occupato per 15 minuti","data":{"slotId":3,"prenotazione_id":77,"expires_at":"2026-11-20T10:15:00.000Z"}}`)
	case r.URL.Path == "/api/slots/4/hold":
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgSlotUnavailable+`","code":"SLOT_TAKEN"}`)
	case r.URL.Path == "/api/slots/3/release":
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgSlotNotHeldByUser+`"}`)
	case r.URL.Path == "/api/stats":
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgHTTPAuthRequired+`"}`)
			return
		}
		_, _ = io.WriteString(w, `{"success":true,"connectedUsers":2,"totalSockets":3,"rooms":[{"room":"spazio_1_sede_1","members":3}]}`)
	case r.URL.Path == "/api/admin/emit":
		_, _ = io.WriteString(w, `{"success":true,"event":"x","target":"room:r","recipients":5,"recipientsExact":true}`)
	case r.URL.Path == "/plain":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "upstream down")
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func newTestREST(t *testing.T, token string) (*REST, *fakeAPI) {
	t.Helper()
	f := &fakeAPI{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return NewREST(srv.URL+"/", token, WithTimeout(5*time.Second)), f
}

func TestRESTSuccessBodies(t *testing.T) {
	ctx := context.Background()
	r, f := newTestREST(t, "tok")

	if err := r.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	sedi, err := r.Sedi(ctx)
	if err != nil || len(sedi) != 1 || sedi[0].Spazi[0].IDSpazio != 2 {
		t.Fatalf("Sedi = %+v, %v", sedi, err)
	}
	list, err := r.Slots(ctx, 2, "2026-11-20")
	if err != nil || list.Count != 1 || list.Slots[0].Status != protocol.StatusAvailable {
		t.Fatalf("Slots = %+v, %v", list, err)
	}
	res, err := r.Hold(ctx, 3, protocol.SlotActionRequest{IDSpazio: 2, SedeID: 1, Date: "2026-11-20"})
	if err != nil || !res.Success || res.Data == nil || res.Data.PrenotazioneID != 77 {
		t.Fatalf("Hold = %+v, %v", res, err)
	}
	if f.lastMethod != http.MethodPost || f.lastAuth != "Bearer tok" || f.lastBody["idSpazio"] != float64(2) || f.lastBody["date"] != "2026-11-20" {
		t.Fatalf("hold request = %s %s auth=%q body=%v", f.lastMethod, f.lastPath, f.lastAuth, f.lastBody)
	}
	st, err := r.Stats(ctx)
	if err != nil || st.TotalSockets != 3 || len(st.Rooms) != 1 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	em, err := r.AdminEmit(ctx, protocol.AdminEmitRequest{Event: "x", Data: map[string]int{"n": 1}, Room: "r"})
	if err != nil || em.Recipients != 5 {
		t.Fatalf("AdminEmit = %+v, %v", em, err)
	}
	if f.lastBody["event"] != "x" || f.lastBody["room"] != "r" {
		t.Fatalf("admin emit body = %v", f.lastBody)
	}
	if _, ok := f.lastBody["all"]; ok {
		t.Fatalf("admin emit body carries an unset target: %v", f.lastBody)
	}
	em, err = r.AdminEmitRaw(ctx, []byte(`{"event":"y","data":{},"all":true}`))
	if err != nil || em.Recipients != 5 || f.lastBody["all"] != true {
		t.Fatalf("AdminEmitRaw = %+v, %v, body %v", em, err, f.lastBody)
	}
}

// TestRESTSediShapes: GET /api/sedi as coworkctl answers it (a bare array
// with spazi), as an older coworkctl did ({success, data}) and as the
// original backend does behind --upstream (no spazi: they come from
// GET /api/spazi?id_sede=N, a bare array of its Spazio rows).
func TestRESTSediShapes(t *testing.T) {
	tests := []struct {
		name  string
		sedi  string
		spazi map[string]string // id_sede → body
		want  string            // "sede:spazio,spazio;sede:…"
	}{
		{"bare array with spazi", `[{"id_sede":1,"nome":"A","citta":"Milano","spazi":[{"id_spazio":2,"id_sede":1,"nome":"S","tipologia":"t","capacita":1}]},{"id_sede":3,"nome":"B","citta":"Roma","spazi":[]}]`,
			nil, "1:2;3:"},
		{"wrapped", `{"success":true,"data":[{"id_sede":1,"nome":"A","citta":"Milano","spazi":[{"id_spazio":2,"id_sede":1,"nome":"S","tipologia":"t","capacita":1}]}]}`,
			nil, "1:2"},
		{"original backend", `[{"id_sede":1,"nome":"A","citta":"Milano","indirizzo":"Via Roma 1","descrizione":null,"id_gestore":4,"location_photos":[{"url":"x","alt":"A"}]},{"id_sede":2,"nome":"B","citta":"Roma","indirizzo":"Via Po 2"}]`,
			map[string]string{"1": `[{"id_spazio":10,"id_sede":1,"nome":"Sala","tipologia":"sala riunioni","descrizione":null,"capienza":8,"space_photos":[]},{"id_spazio":11,"id_sede":1,"nome":"Box","tipologia":"postazione","capienza":1}]`, "2": `[]`},
			"1:10,11;2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked = append(asked, r.URL.RequestURI())
				switch r.URL.Path {
				case "/api/sedi":
					_, _ = io.WriteString(w, tt.sedi)
				case "/api/spazi":
					body, ok := tt.spazi[r.URL.Query().Get("id_sede")]
					if !ok {
						http.NotFound(w, r)
						return
					}
					_, _ = io.WriteString(w, body)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			sedi, err := NewREST(srv.URL, "").Sedi(context.Background())
			if err != nil {
				t.Fatalf("Sedi: %v (asked %v)", err, asked)
			}
			var parts []string
			for _, se := range sedi {
				var ids []string
				for _, sp := range se.Spazi {
					if sp.IDSede != se.IDSede {
						t.Errorf("spazio %d says sede %d, listed under %d", sp.IDSpazio, sp.IDSede, se.IDSede)
					}
					ids = append(ids, strconv.FormatInt(sp.IDSpazio, 10))
				}
				parts = append(parts, strconv.FormatInt(se.IDSede, 10)+":"+strings.Join(ids, ","))
			}
			if got := strings.Join(parts, ";"); got != tt.want {
				t.Errorf("sedi = %s, want %s (asked %v)", got, tt.want, asked)
			}
			if len(tt.spazi) != len(asked)-1 {
				t.Errorf("asked %v: want /api/sedi plus one /api/spazi per sede without spazi", asked)
			}
		})
	}
}

func TestRESTErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestREST(t, "tok")
	tests := []struct {
		name    string
		call    func() error
		status  int
		message string
		code    string
	}{
		{"conflict", func() error {
			_, err := r.Hold(ctx, 4, protocol.SlotActionRequest{IDSpazio: 2, SedeID: 1, Date: "2026-11-20"})
			return err
		}, 409, protocol.MsgSlotUnavailable, "SLOT_TAKEN"},
		{"not held", func() error {
			_, err := r.Release(ctx, 3, protocol.SlotActionRequest{})
			return err
		}, 404, protocol.MsgSlotNotHeldByUser, ""},
		{"bad date", func() error { _, err := r.Slots(ctx, 2, "bad"); return err }, 400, protocol.MsgBadDate, ""},
		{"unauthenticated", func() error { _, err := r.WithToken("").Stats(ctx); return err }, 401, protocol.MsgHTTPAuthRequired, ""},
		{"plain text", func() error { return r.do(ctx, http.MethodGet, "/plain", nil, nil) }, 502, "upstream down", ""},
		{"empty 404", func() error { _, err := r.Book(ctx, 9, protocol.SlotActionRequest{}); return err }, 404, "Not Found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.Status != tt.status || ae.Message != tt.message || ae.Code != tt.code {
				t.Fatalf("APIError = %+v, want status %d message %q code %q", ae, tt.status, tt.message, tt.code)
			}
			if !IsStatus(err, tt.status) || IsStatus(err, 200) {
				t.Fatalf("IsStatus disagrees with %v", err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Error() = %q lacks the message", err.Error())
			}
		})
	}
}

func TestRESTTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := NewREST(url, "").Health(context.Background())
	var ae *APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("Health on a closed server = %v, want a transport error", err)
	}
}

func TestRESTContextCanceled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := NewREST(srv.URL, "").Health(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Health with an expiring context = %v, want DeadlineExceeded", err)
	}
}

// TestRESTAdminSlots covers Cancel and History: paths, query, body and
// the refusals' Italian texts and codes.
func TestRESTAdminSlots(t *testing.T) {
	var gotPath, gotQuery, gotAuth string
	var gotBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotAuth = r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		gotBody = nil
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			_ = json.Unmarshal(b, &gotBody)
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/admin/slots/3/cancel":
			_, _ = io.WriteString(w, `{"success":true,"message":"Prenotazione annullata","data":{"slotId":3,"prenotazione_id":77,"status":"available","previousStatus":"booked","id_utente":42,"reason":"Manutenzione","version":9}}`)
		case "/api/admin/slots/4/cancel":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgNothingToCancel+`","code":"`+protocol.CodeNothingToCancel+`"}`)
		case "/api/admin/slots/5/cancel":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"success":false,"error":"`+protocol.MsgSlotChanged+`","code":"`+protocol.CodeSlotChanged+`"}`)
		case "/api/admin/slots/2/2026-11-20/history":
			_, _ = io.WriteString(w, `{"success":true,"data":{"idSpazio":2,"idSede":1,"date":"2026-11-20","slot":3,"limit":5,"count":2,"entries":[
				{"id":2,"at":"2026-11-20T09:01:00.000Z","action":"book","slotId":3,"from":"occupied","to":"booked","prenotazione_id":77,"holderId":42,"userId":42,"ruolo":"user","version":8},
				{"id":1,"at":"2026-11-20T09:00:00.000Z","action":"hold","slotId":3,"from":"available","to":"occupied","prenotazione_id":77,"holderId":42,"userId":42,"ruolo":"user","version":7}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	r := NewREST(srv.URL, "staff")

	res, err := r.Cancel(ctx, 3, protocol.SlotCancelRequest{IDSpazio: 2, SedeID: 1, Date: "2026-11-20", Reason: "Manutenzione", PrenotazioneID: 77})
	if err != nil || res.Data.PrenotazioneID != 77 || res.Data.IDUtente != 42 || res.Data.Version != 9 || res.Message != "Prenotazione annullata" {
		t.Fatalf("Cancel = %+v, %v", res, err)
	}
	if gotAuth != "Bearer staff" || gotBody["reason"] != "Manutenzione" || gotBody["prenotazioneId"] != float64(77) || gotBody["sedeId"] != float64(1) {
		t.Fatalf("cancel request auth=%q body=%v", gotAuth, gotBody)
	}
	if _, err := r.Cancel(ctx, 6, protocol.SlotCancelRequest{IDSpazio: 2, SedeID: 1, Date: "2026-11-20", Reason: "x"}); err == nil {
		t.Fatal("Cancel of an unknown path succeeded")
	}
	if _, ok := gotBody["prenotazioneId"]; ok {
		t.Fatalf("cancel body carries an unset prenotazioneId: %v", gotBody)
	}
	for _, tt := range []struct {
		slot      int
		status    int
		code, msg string
	}{
		{4, 404, protocol.CodeNothingToCancel, protocol.MsgNothingToCancel},
		{5, 409, protocol.CodeSlotChanged, protocol.MsgSlotChanged},
	} {
		_, err := r.Cancel(ctx, tt.slot, protocol.SlotCancelRequest{Reason: "x"})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tt.status || ae.Code != tt.code || ae.Message != tt.msg {
			t.Fatalf("Cancel slot %d = %v, want %d %s", tt.slot, err, tt.status, tt.code)
		}
	}

	h, err := r.History(ctx, 2, "2026-11-20", HistoryQuery{Slot: 3, Limit: 5})
	if err != nil || h.Count != 2 || len(h.Entries) != 2 || h.Entries[0].Action != protocol.AuditBook || h.Entries[1].Version != 7 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	if gotPath != "/api/admin/slots/2/2026-11-20/history" || gotQuery != "limit=5&slot=3" {
		t.Fatalf("history request %s?%s", gotPath, gotQuery)
	}
	if _, err := r.History(ctx, 2, "2026-11-20", HistoryQuery{}); err != nil {
		t.Fatalf("History without filters: %v", err)
	}
	if gotQuery != "" {
		t.Fatalf("history without filters sent query %q", gotQuery)
	}
}
