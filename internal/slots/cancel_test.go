package slots_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

func TestCleanReason(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Sala chiusa", "Sala chiusa", true},
		{"  spazi ai lati  ", "spazi ai lati", true},
		{strings.Repeat("è", slots.MaxReasonLen), strings.Repeat("è", slots.MaxReasonLen), true}, // characters, not bytes
		{strings.Repeat("a", slots.MaxReasonLen+1), "", false},
		{"", "", false},
		{" \t\n ", "", false},
		{"due\nrighe", "", false},
		{"tab\tdentro", "", false},
		{"nul\x00", "", false},
	}
	for _, tt := range tests {
		got, err := slots.CleanReason(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("CleanReason(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, slots.ErrBadReason) {
			t.Errorf("CleanReason(%q) error %v is not ErrBadReason", tt.in, err)
		}
	}
}

// TestCancelNotifiesHolderAndAudits: a staff cancel announces the freed
// slot with the holder and the trimmed reason (after commit, once), the
// audit trail records who acted with which role, and refused cancels
// announce nothing.
func TestCancelNotifiesHolderAndAudits(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, rec, _ := newService(t, clock, 15*time.Minute)
	a := slots.Action{SpazioID: 3, SedeID: 1, Date: day, Slot: 2}
	held, err := svc.Hold(ctx, a, asUser(7))
	if err != nil {
		t.Fatal(err)
	}
	staff := slots.Actor{UserID: 1, Role: "gestore"}

	refusals := []struct {
		name     string
		a        slots.Action
		reason   string
		expected int64
		want     error
	}{
		{"no reason", a, "  ", 0, slots.ErrBadReason},
		{"reason too long", a, strings.Repeat("x", slots.MaxReasonLen+1), 0, slots.ErrBadReason},
		{"another prenotazione", a, "x", held.ID + 1, slots.ErrSlotChanged},
		{"negative prenotazione", a, "x", -1, slots.ErrBadInput},
		{"free slot", slots.Action{SpazioID: 3, SedeID: 1, Date: day, Slot: 3}, "x", 0, slots.ErrNothingToCancel},
		{"slot out of range", slots.Action{SpazioID: 3, SedeID: 1, Date: day, Slot: 10}, "x", 0, slots.ErrSlotOutOfRange},
		{"spazio of another sede", slots.Action{SpazioID: 5, SedeID: 1, Date: day, Slot: 2}, "x", 0, slots.ErrSpazioNotInSede},
		{"bad date", slots.Action{SpazioID: 3, SedeID: 1, Date: "2026-02-30", Slot: 2}, "x", 0, slots.ErrBadDate},
	}
	for _, tt := range refusals {
		_, err := svc.Cancel(ctx, tt.a, staff, tt.reason, tt.expected)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if c := rec.cancels(); len(c) != 0 {
		t.Fatalf("refused cancels announced %+v", c)
	}

	res, err := svc.Cancel(ctx, a, staff, "  Sala chiusa per manutenzione ", held.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != slots.StateOccupied || res.Reservation.ID != held.ID || res.Reservation.Version != 2 {
		t.Fatalf("Cancel = %+v", res)
	}
	changes, _ := rec.snapshot()
	cancels := rec.cancels()
	if len(changes) != 1 || len(cancels) != 1 {
		t.Fatalf("announced %d changes and %d cancels, want the hold's change and one cancel", len(changes), len(cancels))
	}
	got := cancels[0]
	want := slots.Change{Key: slots.SlotKey{SpazioID: 3, SedeID: 1, Date: day, Slot: 2}, Start: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC),
		Status: slots.StatusAvailable, ReservationID: held.ID, UserID: 7, Version: 2}
	if got.change != want || got.reason != "Sala chiusa per manutenzione" {
		t.Fatalf("announced cancel %+v %q,\nwant %+v %q", got.change, got.reason, want, "Sala chiusa per manutenzione")
	}
	g, err := svc.Grid(ctx, 3, 1, day, slots.Viewer{})
	if err != nil || g.Slots[1].Status != slots.StatusAvailable || g.Version != 2 {
		t.Fatalf("grid after the cancel: slot 2 %+v, version %d, %v", g.Slots[1], g.Version, err)
	}

	// A booking whose slot has started, and even ended, can still be
	// cancelled: staff correct records after the fact.
	past := slots.Action{SpazioID: 3, SedeID: 1, Date: day, Slot: 1} // 09:00
	if _, err := svc.Hold(ctx, past, asUser(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Book(ctx, past, asUser(8)); err != nil {
		t.Fatal(err)
	}
	clock.Add(3 * time.Hour) // 11:30
	if res, err := svc.Cancel(ctx, past, staff, "No-show", 0); err != nil || res.From != slots.StateBooked {
		t.Fatalf("cancel of a past booking = %+v, %v", res, err)
	}

	h, err := svc.History(ctx, slots.HistoryQuery{SpazioID: 3, Date: day})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range h.Entries {
		trail = append(trail, e.Action+" "+e.Actor.Role+" "+e.Reason)
	}
	wantTrail := []string{"cancel gestore No-show", "book cliente ", "hold cliente ", "cancel gestore Sala chiusa per manutenzione", "hold cliente "}
	if strings.Join(trail, "|") != strings.Join(wantTrail, "|") {
		t.Fatalf("trail = %q, want %q", trail, wantTrail)
	}
}

// TestSweeperAuditsExpiryAsSystem: the sweeper's expiries are recorded
// with the holder and role system.
func TestSweeperAuditsExpiryAsSystem(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	svc, _, _ := newService(t, clock, 15*time.Minute)
	if _, err := svc.Hold(ctx, slots.Action{SpazioID: 1, SedeID: 1, Date: day, Slot: 4}, asUser(5)); err != nil {
		t.Fatal(err)
	}
	clock.Add(15 * time.Minute)
	if n, err := svc.SweepOnce(ctx); err != nil || n != 1 {
		t.Fatalf("SweepOnce = %d, %v", n, err)
	}
	h, err := svc.History(ctx, slots.HistoryQuery{SpazioID: 1, SedeID: 1, Date: day, Slot: 4})
	if err != nil || len(h.Entries) != 2 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	e := h.Entries[0]
	if e.Action != slots.AuditExpire || e.Actor != (slots.Actor{UserID: 5, Role: slots.RoleSystem}) || e.HolderID != 5 ||
		e.From != protocol.StatusOccupied || e.To != protocol.StatusAvailable || !e.At.Equal(clock.Now()) || e.Version != 2 {
		t.Fatalf("expiry entry = %+v", e)
	}
}

func TestHistoryQuery(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t, &fakeClock{now: start}, 15*time.Minute)
	for slot := 1; slot <= 3; slot++ {
		if _, err := svc.Hold(ctx, slots.Action{SpazioID: 2, SedeID: 1, Date: day, Slot: slot}, asUser(int64(slot))); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		q         slots.HistoryQuery
		want      error
		limit, n  int
		firstSlot int
	}{
		{"default limit", slots.HistoryQuery{SpazioID: 2, Date: day}, nil, slots.DefaultHistoryLimit, 3, 3},
		{"limit", slots.HistoryQuery{SpazioID: 2, Date: day, Limit: 2}, nil, 2, 2, 3},
		{"limit above the max", slots.HistoryQuery{SpazioID: 2, Date: day, Limit: slots.MaxHistoryLimit + 1}, nil, slots.MaxHistoryLimit, 3, 3},
		{"one slot", slots.HistoryQuery{SpazioID: 2, SedeID: 1, Date: day, Slot: 2}, nil, slots.DefaultHistoryLimit, 1, 2},
		{"a day without changes", slots.HistoryQuery{SpazioID: 2, Date: "2026-03-11"}, nil, slots.DefaultHistoryLimit, 0, 0},
		{"negative limit", slots.HistoryQuery{SpazioID: 2, Date: day, Limit: -1}, slots.ErrBadInput, 0, 0, 0},
		{"slot out of range", slots.HistoryQuery{SpazioID: 2, Date: day, Slot: 10}, slots.ErrSlotOutOfRange, 0, 0, 0},
		{"negative slot", slots.HistoryQuery{SpazioID: 2, Date: day, Slot: -1}, slots.ErrSlotOutOfRange, 0, 0, 0},
		{"unknown spazio", slots.HistoryQuery{SpazioID: 99, Date: day}, slots.ErrSpazioNotFound, 0, 0, 0},
		{"spazio of another sede", slots.HistoryQuery{SpazioID: 2, SedeID: 2, Date: day}, slots.ErrSpazioNotInSede, 0, 0, 0},
		{"bad date", slots.HistoryQuery{SpazioID: 2, Date: "10/03/2026"}, slots.ErrBadDate, 0, 0, 0},
	}
	for _, tt := range tests {
		h, err := svc.History(ctx, tt.q)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
			continue
		}
		if err != nil {
			continue
		}
		if h.Limit != tt.limit || len(h.Entries) != tt.n || h.Spazio.ID != 2 || h.Sede.ID != 1 {
			t.Errorf("%s: limit %d, %d entries, spazio %d sede %d; want limit %d, %d entries", tt.name, h.Limit, len(h.Entries), h.Spazio.ID, h.Sede.ID, tt.limit, tt.n)
		}
		if tt.n > 0 && h.Entries[0].Key.Slot != tt.firstSlot {
			t.Errorf("%s: newest entry is of slot %d, want %d", tt.name, h.Entries[0].Key.Slot, tt.firstSlot)
		}
	}
}
