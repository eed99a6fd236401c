package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

func TestEmitCancelUsageErrors(t *testing.T) {
	tests := [][]string{
		{"emit", "cancel", "--space", "2@1", "--slot", "3", "--token", "t"},                                 // --reason missing
		{"emit", "cancel", "--space", "2@1", "--slot", "3", "--reason", " ", "--token", "t"},                // blank reason
		{"emit", "cancel", "--space", "2@1", "--reason", "x", "--token", "t"},                               // --slot missing
		{"emit", "cancel", "--space", "2", "--slot", "3", "--reason", "x", "--token", "t"},                  // bad space
		{"emit", "cancel", "--space", "2@1", "--slot", "-1", "--reason", "x", "--token", "t"},               // bad slot
		{"emit", "cancel", "--space", "2@1", "--slot", "3", "--date", "x", "--reason", "x", "--token", "t"}, // bad date
		{"emit", "cancel", "--space", "2@1", "--slot", "3", "--reason", "x", "--prenotazione", "-2", "--token", "t"},
		{"emit", "cancel", "--space", "2@1", "--slot", "3", "--reason", "x"},          // no credentials
		{"emit", "history", "--token", "t"},                                           // --space missing
		{"emit", "history", "--space", "2@1", "--slot", "-1", "--token", "t"},         // bad slot
		{"emit", "history", "--space", "2@1", "--limit", "-1", "--token", "t"},        // bad limit
		{"emit", "history", "--space", "2@1", "--date", "2026/01/01", "--token", "t"}, // bad date
	}
	for _, args := range tests {
		if code, stderr := runArgs(t, args...); code != ExitUsage || !strings.Contains(stderr, "coworkctl emit "+args[1]+" --help") {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
	}
}

// fakeAdmin answers the staff endpoints with status and body, and keeps
// the last request.
type fakeAdmin struct {
	status int
	body   string

	method, path, auth string
	req                map[string]any
}

func (f *fakeAdmin) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.method, f.path, f.auth = r.Method, r.URL.RequestURI(), r.Header.Get("Authorization")
		f.req = nil
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			_ = json.Unmarshal(b, &f.req)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestEmitCancelRequestAndOutput(t *testing.T) {
	fake := &fakeAdmin{status: 200, body: `{"success":true,"message":"Prenotazione annullata: slot liberato","data":{"slotId":3,"prenotazione_id":17,"status":"available","previousStatus":"booked","id_utente":42,"reason":"Sala chiusa","version":9}}`}
	server := fake.start(t)
	var out bytes.Buffer
	o := &EmitCancelOptions{F: &Factory{Out: &out}, Conn: ConnFlags{Server: server, JWTSecret: "s3cret", UserID: 5, Role: auth.RoleAdmin, TokenTTL: time.Minute},
		Space: "2@1", Date: "2030-03-04", Slot: 3, Reason: "Sala chiusa", Prenotazione: 17}
	if err := runEmitCancel(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if fake.method != "POST" || fake.path != "/api/admin/slots/3/cancel" {
		t.Fatalf("request %s %s", fake.method, fake.path)
	}
	want := map[string]any{"idSpazio": float64(2), "sedeId": float64(1), "date": "2030-03-04", "reason": "Sala chiusa", "prenotazioneId": float64(17)}
	for k, v := range want {
		if fake.req[k] != v {
			t.Errorf("body[%s] = %v, want %v (body %v)", k, fake.req[k], v, fake.req)
		}
	}
	tok, _ := strings.CutPrefix(fake.auth, "Bearer ")
	v, err := auth.NewVerifier(auth.Config{Secret: []byte("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil || c.UserID != 5 || !c.IsStaff() {
		t.Fatalf("token %q: %+v, %v; want staff user 5", fake.auth, c, err)
	}
	if got, want := out.String(), "cancel slot 3 of spazio 2@1 on 2030-03-04: Prenotazione annullata: slot liberato (prenotazione 17 of user 42, was booked; version 9)\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}

	// A refusal exits 1 with the server's text; --json prints it.
	fake.status, fake.body = 404, `{"success":false,"error":"Nessuna prenotazione da annullare su questo slot","code":"NOTHING_TO_CANCEL"}`
	out.Reset()
	o.JSON, o.Prenotazione = true, 0
	err = runEmitCancel(context.Background(), o)
	var ec *ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitError || !strings.Contains(err.Error(), protocol.MsgNothingToCancel) {
		t.Fatalf("refusal: %v", err)
	}
	if _, ok := fake.req["prenotazioneId"]; ok {
		t.Errorf("prenotazioneId sent without --prenotazione: %v", fake.req)
	}
	var refusal slotRefusal
	if json.Unmarshal(out.Bytes(), &refusal) != nil || refusal.Status != 404 || refusal.Code != protocol.CodeNothingToCancel {
		t.Fatalf("--json refusal = %q", out.String())
	}
}

func TestEmitHistoryRequestAndTable(t *testing.T) {
	hist := protocol.HistoryResponse{Success: true, Data: protocol.HistoryList{IDSpazio: 2, IDSede: 1, Date: "2030-03-04", Slot: 3, Limit: 5, Count: 3,
		Entries: []protocol.AuditEntry{
			{At: "2030-03-04T09:40:00.000Z", Action: "cancel", SlotID: 3, From: "booked", To: "available", PrenotazioneID: 17, HolderID: 42, UserID: 1, Role: "admin", Reason: "Sala chiusa", Version: 3},
			{At: "2030-03-04T09:31:00.000Z", Action: "book", SlotID: 3, From: "occupied", To: "booked", PrenotazioneID: 17, HolderID: 42, UserID: 42, Role: "cliente", Version: 2},
			{At: "2030-03-04T09:30:00.000Z", Action: "expire", SlotID: 3, From: "occupied", To: "available", PrenotazioneID: 16, HolderID: 41, UserID: 41, Role: "system", Version: 1},
		}}}
	b, _ := json.Marshal(hist)
	fake := &fakeAdmin{status: 200, body: string(b)}
	server := fake.start(t)
	var out bytes.Buffer
	o := &EmitHistoryOptions{F: &Factory{Out: &out}, Conn: ConnFlags{Server: server, Token: "tok"}, Space: "2@1", Date: "2030-03-04", Slot: 3, Limit: 5}
	if err := runEmitHistory(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if fake.method != "GET" || fake.path != "/api/admin/slots/2/2030-03-04/history?limit=5&slot=3" || fake.auth != "Bearer tok" {
		t.Fatalf("request %s %s (%s)", fake.method, fake.path, fake.auth)
	}
	out.Reset()
	if err := writeHistory(&out, hist.Data, time.UTC); err != nil {
		t.Fatal(err)
	}
	want := `spazio 2@1 on 2030-03-04, slot 3: 3 entries, newest first
WHEN                 SLOT  ACTION  FROM → TO             BY                    PRENOTAZIONE  VERSION  REASON
2030-03-04 09:40:00  3     cancel  booked → available    1 (admin), holder 42  17            3        "Sala chiusa"
2030-03-04 09:31:00  3     book    occupied → booked     42 (cliente)          17            2        ""
2030-03-04 09:30:00  3     expire  occupied → available  41 (system)           16            1        ""
`
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// emit cancel and emit history take the identity flags of the other emit
// subcommands, and mint staff tokens by default.
func TestEmitCancelIdentityFlags(t *testing.T) {
	for _, flags := range [][]string{{"--as-user", "7"}, {"--user", "7"}} {
		var cancel, history *ConnFlags
		f, _, _ := testFactory(nil)
		c := NewCmdEmitCancel(f, func(_ context.Context, o *EmitCancelOptions) error { cancel = &o.Conn; return nil })
		if err := runEmitChild(t, f, c, append([]string{"--space", "2@1", "--slot", "3", "--reason", "x"}, flags...)...); err != nil {
			t.Fatal(err)
		}
		f, _, _ = testFactory(nil)
		h := NewCmdEmitHistory(f, func(_ context.Context, o *EmitHistoryOptions) error { history = &o.Conn; return nil })
		if err := runEmitChild(t, f, h, append([]string{"--space", "2@1"}, flags...)...); err != nil {
			t.Fatal(err)
		}
		for name, conn := range map[string]*ConnFlags{"cancel": cancel, "history": history} {
			if conn == nil || conn.UserID != 7 || !auth.IsStaff(conn.Role) {
				t.Errorf("emit %s %v: conn = %+v, want user 7 with a staff role", name, flags, conn)
			}
		}
	}
}
