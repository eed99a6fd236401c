// Package storetest is the conformance suite of slots.Store: one set of
// cases, each on a fresh database, that every store layout runs through
// Run, so that a promise of the domain is checked once for all of them.
//
// The cases use the catalog's shape, not its contents: sede 1 with spazi
// 1–4 and sede 2 with spazi 5–8, nine slots a day, and users 1 to 309,
// which the layout's fresh databases must hold. What a layout may do
// differently is declared in its Layout, never skipped.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Layout is one store layout as the suite sees it.
type Layout struct {
	// Name names the layout in failures and logs.
	Name string
	// NewDB makes a fresh database holding Catalog and its users and
	// returns how to open a store on it. Each call of open is one more
	// node on the database, or the same one after a restart; the store
	// is closed when the test ends (Close is safe to call twice).
	NewDB func(t testing.TB) (open func(t testing.TB) slots.Store)
	// Catalog is what Catalog reads on a fresh database.
	Catalog []slots.Sede
	// CatalogWritable is true when UpsertCatalog writes the catalog;
	// false for a layout that reads a catalog it never writes, whose
	// UpsertCatalog must then refuse and change nothing.
	CatalogWritable bool
	// KeepsRowTimes is true when a hold's CreatedAt is the now it was
	// given and a Snapshot reads back each reservation's CreatedAt and
	// UpdatedAt as its changes set them. False for a layout whose rows
	// take their creation time from the database's clock and keep no
	// time of the last change; the changes' results still carry their now.
	KeepsRowTimes bool
}

// T0 is the cases' "now": whole milliseconds, as every store keeps them.
var T0 = time.Date(2030, 3, 4, 9, 30, 0, 0, time.UTC)

// TTL is the cases' hold lifetime.
const TTL = 15 * time.Minute

// Date is the date of Key's slots.
const Date = "2030-03-04"

// Staff is the actor of the cases' cancels.
var Staff = slots.Actor{UserID: 1, Role: "admin"}

// Key is slot n of spazio on Date, with the spazio's sede in the
// catalog's shape (spazi 1–4 in sede 1, the rest in sede 2).
func Key(spazio int64, slot int) slots.SlotKey {
	sede := int64(1)
	if spazio > 4 {
		sede = 2
	}
	return slots.SlotKey{SpazioID: spazio, SedeID: sede, Date: Date, Slot: slot}
}

// As is a user acting with the cliente role.
func As(user int64) slots.Actor { return slots.Actor{UserID: user, Role: "cliente"} }

// MustHold holds k for user at now, for TTL, or fails the test.
func MustHold(t testing.TB, s slots.Store, k slots.SlotKey, user int64, now time.Time) slots.Reservation {
	t.Helper()
	res, err := s.Hold(context.Background(), k, As(user), now, now.Add(TTL), 0)
	if err != nil {
		t.Fatalf("Hold(%+v, user %d): %v", k, user, err)
	}
	return res.Reservation
}

// WantErr fails the test unless err is want.
func WantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// Active is the reservations of a Snapshot.
func Active(ctx context.Context, s slots.Store, spazioID int64, date string, now time.Time) ([]slots.Reservation, error) {
	snap, err := s.Snapshot(ctx, spazioID, date, now)
	return snap.Active, err
}

// History reads the whole trail of the grid of k (one slot when slot > 0).
func History(t testing.TB, s slots.Store, k slots.SlotKey, slot int) []slots.AuditEntry {
	t.Helper()
	es, err := s.History(context.Background(), k.SpazioID, k.Date, slot, 1000)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return es
}

// Brief is an entry without its id: what the cases compare.
func Brief(e slots.AuditEntry) string {
	return fmt.Sprintf("v%d slot %d %s %s→%s res %d holder %d by %d/%s at %s %q",
		e.Version, e.Key.Slot, e.Action, e.From, e.To, e.ReservationID, e.HolderID, e.Actor.UserID, e.Actor.Role,
		e.At.Format("15:04:05.000"), e.Reason)
}

// Briefs is Brief of each entry.
func Briefs(es []slots.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = Brief(e)
	}
	return out
}

// Run runs every case on l, in parallel, each on a database of its own.
func Run(t *testing.T, l Layout) {
	checkCatalogShape(t, l.Catalog)
	s := &suite{l: l}
	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Catalog", s.testCatalog},
		{"HoldBookRelease", s.testHoldBookRelease},
		{"HoldUnknownSpazio", s.testHoldUnknownSpazio},
		{"HoldLimit", s.testHoldLimit},
		{"LapsedHold", s.testLapsedHold},
		{"ExpireDueExactlyOnce", s.testExpireDueExactlyOnce},
		{"NextExpiryAndCount", s.testNextExpiryAndCount},
		{"Restart", s.testRestart},
		{"CanceledContext", s.testCanceledContext},
		{"CloseTwice", s.testCloseTwice},
		{"VersionEveryChange", s.testVersionEveryChange},
		{"VersionExpiries", s.testVersionExpiries},
		{"VersionConcurrentChanges", s.testVersionConcurrentChanges},
		{"VersionSnapshotMatchesRows", s.testVersionSnapshotMatchesRows},
		{"AuditEveryAction", s.testAuditEveryAction},
		{"Cancel", s.testCancel},
		{"CancelRaces", s.testCancelRaces},
		{"NoDoubleBooking", s.testNoDoubleBooking},
		{"HoldLimitRace", s.testHoldLimitRace},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t)
		})
	}
}

// checkCatalogShape fails unless cat is the shape the cases use.
func checkCatalogShape(t *testing.T, cat []slots.Sede) {
	t.Helper()
	if len(cat) != 2 {
		t.Fatalf("layout catalog has %d sedi, want 2", len(cat))
	}
	for i, sede := range cat {
		n, err := sede.SlotCount()
		if sede.ID != int64(i+1) || len(sede.Spazi) != 4 || err != nil || n != 9 {
			t.Fatalf("layout catalog: sede %+v (%d slots, %v); want sede %d with 4 spazi and 9 slots", sede, n, err, i+1)
		}
		for j, sp := range sede.Spazi {
			if k := Key(sp.ID, 1); sp.ID != int64(4*i+j+1) || k.SedeID != sede.ID {
				t.Fatalf("layout catalog: sede %d lists spazio %d at place %d; want spazi %d–%d", sede.ID, sp.ID, j, 4*i+1, 4*i+4)
			}
		}
	}
}

// suite runs the cases on one layout.
type suite struct{ l Layout }

// seeded opens a store on a fresh database.
func (s *suite) seeded(t *testing.T) slots.Store {
	t.Helper()
	return s.l.NewDB(t)(t)
}

// nodes opens two stores on one fresh database: two nodes, or two
// processes sharing a file.
func (s *suite) nodes(t *testing.T) []slots.Store {
	t.Helper()
	open := s.l.NewDB(t)
	return []slots.Store{open(t), open(t)}
}

// read is r as a Snapshot lists it: without the version of the change
// that returned it, and without the row times a layout does not keep.
func (s *suite) read(r slots.Reservation) slots.Reservation {
	r.Version = 0
	if !s.l.KeepsRowTimes {
		r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{}
	}
	return r
}

// readAll is read of each reservation.
func (s *suite) readAll(rs []slots.Reservation) []slots.Reservation {
	out := make([]slots.Reservation, len(rs))
	for i, r := range rs {
		out[i] = s.read(r)
	}
	return out
}

// gridVersion is the version a snapshot of the grid of k reads at T0.
func gridVersion(t *testing.T, s slots.Store, k slots.SlotKey) int64 {
	t.Helper()
	snap, err := s.Snapshot(context.Background(), k.SpazioID, k.Date, T0)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Version
}

// wantHoldLimit fails unless err is the refusal of a hold past limit.
func wantHoldLimit(t *testing.T, what string, err error, limit int) {
	t.Helper()
	var le *slots.LimitError
	if !errors.Is(err, slots.ErrHoldLimit) || !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("%s: got error %v, want a *slots.LimitError of ErrHoldLimit with limit %d", what, err, limit)
	}
}
