package wire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/catalog"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares v's indented JSON with testdata/name. The files are the
// wire contract: a diff in them is a change every client sees.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func rome(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	return loc
}

// TestConstantsMatchTheWire: the domain names its statuses, audit actions,
// system role and date layout itself; they must stay the wire's.
func TestConstantsMatchTheWire(t *testing.T) {
	pairs := []struct{ domain, wire string }{
		{string(slots.StatusAvailable), protocol.StatusAvailable},
		{string(slots.StatusOccupied), protocol.StatusOccupied},
		{string(slots.StatusBooked), protocol.StatusBooked},
		{string(slots.StatusPast), protocol.StatusPast},
		{slots.AuditHold, protocol.AuditHold},
		{slots.AuditBook, protocol.AuditBook},
		{slots.AuditRelease, protocol.AuditRelease},
		{slots.AuditExpire, protocol.AuditExpire},
		{slots.AuditCancel, protocol.AuditCancel},
		{slots.RoleSystem, protocol.RoleSystem},
		{slots.DateLayout, protocol.DateLayout},
	}
	for _, p := range pairs {
		if p.domain != p.wire {
			t.Errorf("domain %q, wire %q", p.domain, p.wire)
		}
	}
}

// gridStore serves one sede and one snapshot: Service.Grid needs no more.
type gridStore struct {
	slots.Store // the methods Grid does not call stay nil
	sede        slots.Sede
	snap        slots.Snapshot
}

func (s gridStore) Spazio(_ context.Context, id int64) (slots.Spazio, slots.Sede, error) {
	for _, sp := range s.sede.Spazi {
		if sp.ID == id {
			return sp, s.sede, nil
		}
	}
	return slots.Spazio{}, slots.Sede{}, slots.ErrSpazioNotFound
}

func (s gridStore) Snapshot(context.Context, int64, string, time.Time) (slots.Snapshot, error) {
	return s.snap, nil
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestGridGolden builds a grid with the service, in a zone that is not
// UTC, and pins GET /api/slots for each kind of viewer: a past slot that
// is still held, a free one, a hold of user 10 with 59.7 minutes left
// (rounded up to 60), a booking of user 11 and free slots after it.
func TestGridGolden(t *testing.T) {
	rome(t)
	sede := slots.DemoCatalog()[0]
	sede.Timezone = "Europe/Rome"
	expires := time.Date(2026, 3, 10, 9, 30, 20, 123e6, time.UTC)
	key := func(n int) slots.SlotKey { return slots.SlotKey{SpazioID: 1, SedeID: 1, Date: "2026-03-10", Slot: n} }
	st := gridStore{sede: sede, snap: slots.Snapshot{Version: 8, Active: []slots.Reservation{
		{ID: 1, Key: key(1), UserID: 10, State: slots.StateOccupied, ExpiresAt: expires},
		{ID: 2, Key: key(3), UserID: 10, State: slots.StateOccupied, ExpiresAt: expires},
		{ID: 3, Key: key(5), UserID: 11, State: slots.StateBooked},
	}}}
	now := time.Date(2026, 3, 10, 8, 30, 37, 123e6, time.UTC) // 09:30 in Rome: slot 1 has started
	svc := slots.NewService(st, nil, fixedClock(now), slots.Config{Location: time.UTC}, nil)
	tests := []struct {
		name string
		v    slots.Viewer
	}{
		{"anonymous", slots.Viewer{}},
		{"owner", slots.Viewer{UserID: 10}},
		{"other", slots.Viewer{UserID: 11}},
		{"staff", slots.Viewer{UserID: 99, Staff: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := svc.Grid(context.Background(), 1, 1, "2026-03-10", tt.v)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "grid_"+tt.name+".json", protocol.SlotsResponse{Success: true, Data: wire.SlotsList(g)})
		})
	}
}

// TestSlots pins the mapping of each kind of domain slot by itself,
// minutes_remaining's rounding and the slot_status_update envelope.
func TestSlots(t *testing.T) {
	loc := rome(t)
	at := time.Date(2026, 3, 10, 10, 15, 0, 0, loc)
	slot := func(n, hour int) slots.Slot {
		start := time.Date(2026, 3, 10, hour, 0, 0, 0, loc)
		return slots.Slot{Number: n, Start: start, End: start.Add(time.Hour), Status: slots.StatusAvailable}
	}
	past, free, heldOwn, heldOther, heldLast, booked := slot(1, 9), slot(2, 11), slot(3, 12), slot(4, 13), slot(5, 14), slot(6, 15)
	past.Status, past.ReservationID, past.HolderID = slots.StatusPast, 40, 7
	heldOwn.Status, heldOwn.ReservationID, heldOwn.HolderID, heldOwn.ExpiresAt = slots.StatusOccupied, 41, 7, at.Add(15*time.Minute)
	heldOther.Status, heldOther.ReservationID, heldOther.ExpiresAt = slots.StatusOccupied, 42, at.Add(14*time.Minute+time.Millisecond)
	heldLast.Status, heldLast.ReservationID, heldLast.ExpiresAt = slots.StatusOccupied, 43, at.Add(time.Second)
	booked.Status, booked.ReservationID = slots.StatusBooked, 44
	g := slots.Grid{
		Spazio: slots.Spazio{ID: 3, SedeID: 2}, Sede: slots.Sede{ID: 2}, Date: "2026-03-10", At: at, Version: 12,
		Slots: []slots.Slot{past, free, heldOwn, heldOther, heldLast, booked},
	}
	golden(t, "slots_status_update.json", wire.SlotsStatusUpdate(g, time.Date(2026, 3, 10, 9, 15, 0, 5e8, time.UTC)))

	list := wire.Slots(g)
	for i, want := range []int{15, 15, 1} {
		if got := list[2+i].MinutesRemaining; got == nil || *got != want {
			t.Errorf("slot %d: minutes_remaining %v, want %d", list[2+i].IDSlot, got, want)
		}
	}
	if l := wire.SlotsList(g); l.Count != 6 || !reflect.DeepEqual(l.Slots, list) {
		t.Errorf("SlotsList = %+v, want the six slots of Slots", l)
	}
	if empty, _ := json.Marshal(wire.Slots(slots.Grid{})); string(empty) != "[]" {
		t.Errorf("an empty grid's slots are %s, want []", empty)
	}
}

// TestChangesGolden pins slot_update, hold_expired, slot_cancelled and
// slots_freed's entry for the changes the service announces.
func TestChangesGolden(t *testing.T) {
	loc := rome(t)
	at := time.Date(2026, 3, 10, 9, 0, 0, 250e6, time.UTC)
	key := slots.SlotKey{SpazioID: 3, SedeID: 2, Date: "2026-03-10", Slot: 4}
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, loc)
	hold := slots.Change{Key: key, Start: start, Status: slots.StatusOccupied, ExpiresAt: at.Add(15 * time.Minute),
		ReservationID: 41, UserID: 7, Version: 5}
	book := slots.Change{Key: key, Start: start, Status: slots.StatusBooked, ReservationID: 41, UserID: 7, Version: 6}
	cancel := slots.Change{Key: key, Start: start, Status: slots.StatusAvailable, ReservationID: 41, UserID: 7, Version: 7}
	// The sweeper could not look the sede up: no orario, as before.
	swept := slots.Change{Key: key, Status: slots.StatusAvailable, ReservationID: 42, UserID: 8, Version: 9}
	golden(t, "changes.json", map[string]any{
		"hold":           wire.SlotUpdate(hold, at),
		"book":           wire.SlotUpdate(book, at),
		"cancel":         wire.SlotUpdate(cancel, at),
		"slot_cancelled": wire.SlotCancelled(cancel, "Sala chiusa", at),
		"expiry":         wire.SlotUpdate(swept, at),
		"hold_expired":   wire.HoldExpired(swept, at),
		"freed":          wire.FreedSlot(swept),
	})
}

// TestActionsGolden pins the data of hold, book, release and staff cancel
// answers, and a slot history.
func TestActionsGolden(t *testing.T) {
	exp := time.Date(2026, 3, 10, 9, 15, 0, 0, time.UTC)
	key := slots.SlotKey{SpazioID: 3, SedeID: 2, Date: "2026-03-10", Slot: 4}
	r := slots.Reservation{ID: 41, Key: key, UserID: 7, State: slots.StateOccupied, ExpiresAt: exp, Version: 5}
	booked := r
	booked.State, booked.ExpiresAt, booked.Version = slots.StateBooked, time.Time{}, 6
	cancelled := slots.CancelResult{Reservation: slots.Reservation{ID: 41, Key: key, UserID: 7, State: slots.StateCancelled, Version: 7}, From: slots.StateBooked}
	h := slots.History{
		Spazio: slots.Spazio{ID: 3, SedeID: 2}, Sede: slots.Sede{ID: 2}, Date: "2026-03-10", Limit: 100,
		Entries: []slots.AuditEntry{
			{ID: 3, At: exp.Add(time.Minute), Action: slots.AuditCancel, Key: key, From: string(slots.StatusBooked), To: string(slots.StatusAvailable),
				ReservationID: 41, HolderID: 7, Actor: slots.Actor{UserID: 1, Role: "gestore"}, Reason: "Sala chiusa", Version: 7},
			{ID: 2, At: exp.Add(-time.Minute), Action: slots.AuditBook, Key: key, From: string(slots.StatusOccupied), To: string(slots.StatusBooked),
				ReservationID: 41, HolderID: 7, Actor: slots.Actor{UserID: 7, Role: "cliente"}, Version: 6},
		},
	}
	golden(t, "actions.json", map[string]any{
		"hold":    wire.SlotActionData(4, r, slots.StatusOccupied),
		"book":    wire.SlotActionData(4, booked, slots.StatusBooked),
		"release": wire.SlotActionData(4, r, slots.StatusAvailable),
		"cancel":  wire.SlotCancelData(4, cancelled, "Sala chiusa"),
		"history": wire.History(h),
		"empty":   wire.History(slots.History{Spazio: slots.Spazio{ID: 3}, Sede: slots.Sede{ID: 2}, Date: "2026-03-10", Slot: 4, Limit: 1}),
	})
}

// TestSedi pins GET /api/sedi for the demo catalog and a sede without
// hours or spazi, which the wire spells out.
func TestSedi(t *testing.T) {
	sedi := append(slots.DemoCatalog(), slots.Sede{ID: 9, Nome: "Vuota", Citta: "Bari"})
	golden(t, "sedi.json", wire.Sedi(sedi))
}

// TestSedeRoundTrip: a complete sede survives both directions, whichever
// side it starts from, and the wire→domain direction adds nothing the
// file did not say.
func TestSedeRoundTrip(t *testing.T) {
	domain := slots.Sede{ID: 4, Nome: "Cowork Napoli", Citta: "Napoli", Timezone: "Europe/Rome", Apertura: "08:00", Chiusura: "20:00",
		Spazi: []slots.Spazio{
			{ID: 40, SedeID: 4, Nome: "Sala A", Tipologia: "sala_riunioni", Capacita: 8},
			{ID: 41, SedeID: 4, Nome: "Desk", Tipologia: "postazione", Capacita: 1},
		}}
	if got := catalog.FromSede(wire.Sede(domain)); !reflect.DeepEqual(got, domain) {
		t.Errorf("domain → wire → domain:\n got %+v\nwant %+v", got, domain)
	}
	onWire := protocol.Sede{IDSede: 5, Nome: "Cowork Bari", Citta: "Bari", OrarioApertura: "07:30", OrarioChiusura: "19:30",
		Spazi: []protocol.Spazio{{IDSpazio: 50, IDSede: 5, Nome: "Ufficio", Tipologia: "ufficio", Capacita: 4}}}
	if got := wire.Sede(catalog.FromSede(onWire)); !reflect.DeepEqual(got, onWire) {
		t.Errorf("wire → domain → wire:\n got %+v\nwant %+v", got, onWire)
	}

	// A catalog file may leave out hours and the spazi's sede: the domain
	// sees them empty (Sede.Hours and the catalog's checks fill them in).
	sparse := protocol.Sede{IDSede: 6, Nome: "Lecce", Spazi: []protocol.Spazio{{IDSpazio: 60, Nome: "Desk"}}}
	want := slots.Sede{ID: 6, Nome: "Lecce", Spazi: []slots.Spazio{{ID: 60, Nome: "Desk"}}}
	if got := catalog.FromSede(sparse); !reflect.DeepEqual(got, want) {
		t.Errorf("FromSede(%+v) = %+v, want %+v", sparse, got, want)
	}
	if got := catalog.FromSede(protocol.Sede{IDSede: 7, Nome: "x"}); got.Spazi != nil {
		t.Errorf("a sede without spazi has spazi %#v", got.Spazi)
	}
}

func ExampleSlots() {
	start := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	g := slots.Grid{Spazio: slots.Spazio{ID: 1}, Sede: slots.Sede{ID: 1}, Date: "2026-03-10", At: start.Add(-time.Hour),
		Slots: []slots.Slot{{Number: 1, Start: start, End: start.Add(time.Hour), Status: slots.StatusOccupied,
			ReservationID: 5, ExpiresAt: start.Add(-50 * time.Minute)}}}
	b, _ := json.Marshal(wire.Slots(g))
	fmt.Println(string(b))
	// Output:
	// [{"id":1,"id_slot":1,"id_spazio":1,"id_sede":1,"date":"2026-03-10","orario":"09:00","status":"occupied","title":"Slot occupato (10 min rimasti)","expires_at":"2026-03-10T08:10:00.000Z","minutes_remaining":10,"prenotazione_id":5}]
}
