package server_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/store"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// sockEvents is a socket (the load generator's lean client, independent
// of internal/client) that keeps every event it receives, decoded into a
// map so that the wire's field names are checked exactly.
type sockEvents struct {
	conn   *sioclient.Conn
	mu     sync.Mutex
	events []sockEvent
}

type sockEvent struct {
	name string
	arg  map[string]any
}

func dialEvents(t *testing.T, base, tok string) *sockEvents {
	t.Helper()
	s := &sockEvents{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := sioclient.Dial(ctx, sioclient.Options{
		URL: base, Auth: map[string]string{"token": tok},
		OnRawEvent: func(c *sioclient.Conn, pkt []byte, _ time.Time) {
			name, args, err := c.ParseEvent(pkt)
			if err != nil {
				return
			}
			ev := sockEvent{name: name}
			if len(args) > 0 {
				_ = json.Unmarshal(args[0], &ev.arg)
			}
			s.mu.Lock()
			s.events = append(s.events, ev)
			s.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.conn = conn
	return s
}

func (s *sockEvents) join(t *testing.T, spazio, sede int64, date string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := s.conn.EmitWithAck(ctx, protocol.EventJoinSpace, map[string]any{"spazioId": spazio, "sedeId": sede, "date": date})
	raw, _ := json.Marshal(ack)
	if err != nil || !strings.Contains(string(raw), `"success":true`) {
		t.Fatalf("join %d@%d: %s %v", spazio, sede, raw, err)
	}
}

// find returns the events named name whose payload satisfies match.
func (s *sockEvents) find(name string, match func(map[string]any) bool) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, ev := range s.events {
		if ev.name == name && (match == nil || match(ev.arg)) {
			out = append(out, ev.arg)
		}
	}
	return out
}

// slotIs matches a slot_update or slot_cancelled of slot with status.
func slotIs(slot int, status string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		data, _ := m["data"].(map[string]any)
		return m["slotId"] == float64(slot) && data != nil && data["id_slot"] == float64(slot) && data["status"] == status
	}
}

func TestStaffCancelSQLite(t *testing.T) {
	h := start(t, "")
	testStaffCancel(t, []*harness{h})
}

func TestStaffCancelPostgres(t *testing.T) {
	pg := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("set COWORK_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	testStaffCancel(t, []*harness{start(t, freshSchema(t, pg))})
}

// TestStaffCancelCluster: the cancel is made on node A, the holder and the
// room's watcher are connected to node B.
func TestStaffCancelCluster(t *testing.T) {
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("set COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL")
	}
	dsn := freshSchema(t, pg)
	prefix := "cwtest-cancel-" + time.Now().Format("150405.000")
	cfg := server.Config{Addr: "127.0.0.1:0", DB: dsn, Redis: rd, RedisPrefix: prefix, JWTSecret: secret,
		HoldTTL: 10 * time.Minute, Location: time.UTC, Catalog: slots.DemoCatalog()}
	testStaffCancel(t, []*harness{startWith(t, cfg), startWith(t, cfg)})
}

// testStaffCancel: staff cancel a hold and a booking over REST (node 0);
// the holder's socket gets slot_cancelled with the reason, the room's
// sockets slot_update with the cancel's version and nobody else hears of
// the reason (sockets on the last node); refusals answer the error table's
// codes and Italian texts; the history lists every change newest first.
func testStaffCancel(t *testing.T, nodes []*harness) {
	api, far := nodes[0], nodes[len(nodes)-1]
	date := tomorrow()
	holderTok, otherTok := token(t, 7, auth.RoleCliente), token(t, 8, auth.RoleCliente)
	staffTok := token(t, 9, auth.RoleGestore)

	holder := dialEvents(t, far.base, holderTok) // in no room: its user room only
	watcher := dialEvents(t, far.base, otherTok)
	watcher.join(t, 1, 1, date)

	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"idSpazio": 1, "sedeId": 1, "date": date, "reason": "Sala chiusa per manutenzione"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	act := func(action string, slot int) map[string]any {
		t.Helper()
		status, out, _ := api.call("POST", fmt.Sprintf("/api/slots/%d/%s", slot, action), holderTok, map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		if status != 200 {
			t.Fatalf("%s slot %d: %d %v", action, slot, status, out)
		}
		return out["data"].(map[string]any)
	}
	held := act("hold", 3)
	act("hold", 4)
	act("book", 4)

	refusals := []struct {
		name   string
		path   string
		tok    string
		body   any
		status int
		code   string
		text   string
	}{
		{"no token", "/api/admin/slots/3/cancel", "", body(nil), 401, protocol.CodeAuthRequired, protocol.MsgHTTPAuthRequired},
		{"user token", "/api/admin/slots/3/cancel", otherTok, body(nil), 403, "FORBIDDEN", "Accesso riservato allo staff"},
		{"the holder's own token", "/api/admin/slots/3/cancel", holderTok, body(nil), 403, "FORBIDDEN", "Accesso riservato allo staff"},
		{"no reason", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"reason": nil}), 400, protocol.CodeBadReason, protocol.BadReasonMessage(slots.MaxReasonLen)},
		{"blank reason", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"reason": "   "}), 400, protocol.CodeBadReason, protocol.BadReasonMessage(slots.MaxReasonLen)},
		{"reason too long", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"reason": strings.Repeat("x", 201)}), 400, protocol.CodeBadReason, protocol.BadReasonMessage(200)},
		{"two-line reason", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"reason": "a\nb"}), 400, protocol.CodeBadReason, ""},
		{"free slot", "/api/admin/slots/5/cancel", staffTok, body(nil), 404, protocol.CodeNothingToCancel, "Nessuna prenotazione da annullare su questo slot"},
		{"another prenotazione", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"prenotazioneId": held["prenotazione_id"].(float64) + 100}), 409, protocol.CodeSlotChanged, protocol.MsgSlotChanged},
		{"bad prenotazione", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"prenotazioneId": "x"}), 400, "BAD_INPUT", ""},
		{"slot not a number", "/api/admin/slots/x/cancel", staffTok, body(nil), 400, "BAD_INPUT", ""},
		{"slot out of range", "/api/admin/slots/10/cancel", staffTok, body(nil), 400, "SLOT_OUT_OF_RANGE", ""},
		{"bad date", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"date": "3/4/2030"}), 400, "BAD_DATE", protocol.MsgBadDate},
		{"unknown spazio", "/api/admin/slots/3/cancel", staffTok, body(map[string]any{"idSpazio": 99}), 404, "SPACE_NOT_FOUND", "Spazio non trovato"},
		{"malformed body", "/api/admin/slots/3/cancel", staffTok, "{", 400, "BAD_INPUT", ""},
	}
	for _, tt := range refusals {
		status, out, _ := api.call("POST", tt.path, tt.tok, tt.body)
		if status != tt.status || out["success"] != false || out["code"] != tt.code || (tt.text != "" && out["error"] != tt.text) {
			t.Errorf("%s: %d %v, want %d %s %q", tt.name, status, out, tt.status, tt.code, tt.text)
		}
	}

	status, out, _ := api.call("POST", "/api/admin/slots/3/cancel", staffTok,
		body(map[string]any{"reason": "  Sala chiusa per manutenzione ", "prenotazioneId": held["prenotazione_id"]}))
	data, _ := out["data"].(map[string]any)
	if status != 200 || out["message"] != protocol.MsgSlotCancelled || data == nil || data["previousStatus"] != "occupied" ||
		data["status"] != "available" || data["id_utente"] != float64(7) || data["prenotazione_id"] != held["prenotazione_id"] ||
		data["reason"] != "Sala chiusa per manutenzione" || data["version"] != float64(4) {
		t.Fatalf("cancel of the hold: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "slot_cancelled to the holder", func() bool {
		return len(holder.find(protocol.EventSlotCancelled, slotIs(3, "available"))) == 1
	})
	got := holder.find(protocol.EventSlotCancelled, nil)[0]
	gotData := got["data"].(map[string]any)
	if got["type"] != protocol.EventSlotCancelled || got["reason"] != "Sala chiusa per manutenzione" || got["timestamp"] == nil ||
		gotData["prenotazione_id"] != held["prenotazione_id"] || gotData["id_spazio"] != float64(1) || gotData["date"] != date {
		t.Fatalf("slot_cancelled = %v", got)
	}
	testkit.Eventually(t, 15*time.Second, "slot_update of the cancel to the room", func() bool {
		return len(watcher.find(protocol.EventSlotUpdate, func(m map[string]any) bool {
			return slotIs(3, "available")(m) && m["version"] == float64(4) && m["status"] == "available"
		})) == 1
	})

	status, out, _ = api.call("POST", "/api/admin/slots/4/cancel", staffTok, body(map[string]any{"reason": "Evento privato", "sedeId": "1"}))
	if data, _ := out["data"].(map[string]any); status != 200 || data["previousStatus"] != "booked" || data["version"] != float64(5) {
		t.Fatalf("cancel of the booking: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "slot_cancelled of the booking", func() bool {
		return len(holder.find(protocol.EventSlotCancelled, slotIs(4, "available"))) == 1
	})
	testkit.Eventually(t, 15*time.Second, "slot_update of the booking's cancel", func() bool {
		return len(watcher.find(protocol.EventSlotUpdate, slotIs(4, "available"))) == 1
	})
	status, out, _ = api.call("POST", "/api/admin/slots/4/cancel", staffTok, body(nil))
	if status != 404 || out["error"] != protocol.MsgNothingToCancel {
		t.Fatalf("second cancel: %d %v", status, out)
	}
	// The reason is the holder's business: the room hears only of the slot.
	// A later change is the sentinel: what was sent to the watcher before
	// it has arrived once it has.
	if status, out, _ := api.call("POST", "/api/slots/6/hold", otherTok, map[string]any{"idSpazio": 1, "sedeId": 1, "date": date}); status != 200 {
		t.Fatalf("sentinel hold: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "the sentinel's slot_update", func() bool {
		return len(watcher.find(protocol.EventSlotUpdate, slotIs(6, "occupied"))) == 1
	})
	if evs := watcher.find(protocol.EventSlotCancelled, nil); len(evs) != 0 {
		t.Fatalf("a socket of another user got slot_cancelled: %v", evs)
	}
	for _, ev := range watcher.find(protocol.EventSlotUpdate, nil) {
		if raw, _ := json.Marshal(ev); strings.Contains(string(raw), "Sala chiusa") || strings.Contains(string(raw), "id_utente") {
			t.Fatalf("slot_update names the reason or the holder: %s", raw)
		}
	}

	// The history, newest first; the cancel carries staff's id, role and
	// reason, the rest the holder's.
	path := "/api/admin/slots/1/" + date + "/history"
	status, out, _ = far.call("GET", path, staffTok, nil)
	if status != 200 || out["success"] != true {
		t.Fatalf("history: %d %v", status, out)
	}
	hd := out["data"].(map[string]any)
	var trail []string
	for _, e := range hd["entries"].([]any) {
		m := e.(map[string]any)
		trail = append(trail, fmt.Sprintf("v%v %v slot %v %v→%v by %v/%v holder %v %v", m["version"], m["action"], m["slotId"],
			m["from"], m["to"], m["userId"], m["ruolo"], m["holderId"], m["reason"]))
		if _, err := time.Parse(time.RFC3339, m["at"].(string)); err != nil || m["id_spazio"] != float64(1) || m["date"] != date {
			t.Errorf("entry %v: bad at, spazio or date", m)
		}
	}
	want := []string{
		"v6 hold slot 6 available→occupied by 8/cliente holder 8 <nil>",
		"v5 cancel slot 4 booked→available by 9/gestore holder 7 Evento privato",
		"v4 cancel slot 3 occupied→available by 9/gestore holder 7 Sala chiusa per manutenzione",
		"v3 book slot 4 occupied→booked by 7/cliente holder 7 <nil>",
		"v2 hold slot 4 available→occupied by 7/cliente holder 7 <nil>",
		"v1 hold slot 3 available→occupied by 7/cliente holder 7 <nil>",
	}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history:\n%s\nwant\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
	if hd["count"] != float64(6) || hd["limit"] != float64(slots.DefaultHistoryLimit) || hd["idSede"] != float64(1) {
		t.Errorf("history data = %v", hd)
	}

	queries := []struct {
		query  string
		tok    string
		status int
		n      int
	}{
		{"?slot=3", staffTok, 200, 2},
		{"?slot=4&limit=2", staffTok, 200, 2},
		{"?limit=1", staffTok, 200, 1},
		{"?limit=100000", staffTok, 200, 6},
		{"?slot=0", staffTok, 400, 0},
		{"?slot=x", staffTok, 400, 0},
		{"?slot=10", staffTok, 400, 0},
		{"?limit=0", staffTok, 400, 0},
		{"?limit=-1", staffTok, 400, 0},
		{"", otherTok, 403, 0},
		{"", "", 401, 0},
	}
	for _, q := range queries {
		status, out, _ := api.call("GET", path+q.query, q.tok, nil)
		if status != q.status {
			t.Errorf("history%s: %d %v, want %d", q.query, status, out, q.status)
			continue
		}
		if status == 200 {
			if es := out["data"].(map[string]any)["entries"].([]any); len(es) != q.n {
				t.Errorf("history%s: %d entries, want %d", q.query, len(es), q.n)
			}
		}
	}
	for _, p := range []string{"/api/admin/slots/99/" + date + "/history", "/api/admin/slots/1/2030-13-01/history", "/api/admin/slots/x/" + date + "/history"} {
		if status, out, _ := api.call("GET", p, staffTok, nil); status != 404 && status != 400 || out["success"] != false {
			t.Errorf("GET %s: %d %v, want a 4xx refusal", p, status, out)
		}
	}
	if status, _, _ := api.call("GET", "/api/admin/slots/99/"+date+"/history", staffTok, nil); status != 404 {
		t.Errorf("history of an unknown spazio: %d, want 404", status)
	}
}

// TestStaffCancelOfPastBooking: staff may cancel a booking whose slot is
// over (a no-show, a correction), and the holder hears of it. Nobody can
// book a past slot through the API, so the booking is written through a
// second store on the server's database file.
func TestStaffCancelOfPastBooking(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "past.db")
	h := start(t, db)
	ctx := context.Background()
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	yesterday := time.Now().UTC().AddDate(0, 0, -1)
	k := slots.SlotKey{SpazioID: 2, SedeID: 1, Date: yesterday.Format(protocol.DateLayout), Slot: 1}
	held := yesterday.Add(-24 * time.Hour)
	// The hold expires in the future: the running server's sweeper must not
	// free it between the hold and the book below.
	if _, err := st.Hold(ctx, k, slots.Actor{UserID: 7, Role: auth.RoleCliente}, held, time.Now().Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Book(ctx, k, slots.Actor{UserID: 7, Role: auth.RoleCliente}, held); err != nil {
		t.Fatal(err)
	}
	holder := dialEvents(t, h.base, token(t, 7, auth.RoleCliente))

	staffTok := token(t, 9, auth.RoleAdmin)
	status, out, _ := h.call("POST", "/api/admin/slots/1/cancel", staffTok, map[string]any{"idSpazio": 2, "sedeId": 1, "date": k.Date, "reason": "No-show"})
	if data, _ := out["data"].(map[string]any); status != 200 || data["previousStatus"] != "booked" {
		t.Fatalf("cancel of yesterday's booking: %d %v", status, out)
	}
	testkit.Eventually(t, 15*time.Second, "slot_cancelled of the past booking", func() bool {
		return len(holder.find(protocol.EventSlotCancelled, slotIs(1, "available"))) == 1
	})
}
