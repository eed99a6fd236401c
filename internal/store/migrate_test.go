package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Migrations keep what a database in use holds.

// atVersion empties s's database and runs migrations 1 to n on it by hand,
// as a database last opened by a coworkctl of schema version n.
func atVersion(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	ms, err := migrations(s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range []string{`DROP TABLE slot_audit`, `DROP TABLE reservations`, `DROP TABLE grid_versions`,
			`DROP TABLE spazi`, `DROP TABLE sedi`, `DELETE FROM schema_migrations`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		for _, m := range ms[:n] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`), m.version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("set the database back to version %d: %v", n, err)
	}
	s.catalog.clear()
}

// openAtVersion opens a fresh database set back to schema version n and
// holding the demo catalog; it returns the DSN for a reopen that migrates.
func openAtVersion(t *testing.T, b backend, n int) (*Store, string) {
	t.Helper()
	dsn := b.newDSN(t)
	s := openStore(t, dsn)
	atVersion(t, s, n)
	seedDemo(t, s)
	return s, dsn
}

// testMigrationKeepsReservations: a database in use at schema version 3
// keeps its reservations, their ids and the one-active-per-slot index
// through migration 4 (SQLite rebuilds the table), and the new state works.
func testMigrationKeepsReservations(t *testing.T, b backend) {
	ctx := context.Background()
	s, dsn := openAtVersion(t, b, 3)
	// Version 3 code wrote reservations without audit entries.
	var ids []int64
	for i, state := range []string{"occupied", "booked", "released", "expired"} {
		var id int64
		if err := s.w.QueryRowContext(ctx, s.q(`
			INSERT INTO reservations (spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at)
			VALUES (1, 1, '2030-03-04', ?, 10, ?, ?, ?, ?) RETURNING id`),
			1+i, state, toMillis(t0.Add(ttl)), toMillis(t0), toMillis(t0)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dsn) // migrates to the newest version
	active, err := activeReservations(ctx, s, 1, "2030-03-04", t0)
	if err != nil || len(active) != 2 || active[0].ID != ids[0] || active[1].ID != ids[1] || active[1].State != slots.StateBooked {
		t.Fatalf("after migration 4 the active reservations are %+v, %v; want ids %v", active, err, ids[:2])
	}
	_, err = s.Hold(ctx, key(1, 1), as(11), t0, t0.Add(ttl), 0)
	wantErr(t, "hold of a held slot after migration 4", err, slots.ErrSlotTaken)
	r := mustHold(t, s, key(1, 5), 11, t0)
	if r.ID <= ids[3] {
		t.Fatalf("a new reservation got id %d, not above the migrated %d", r.ID, ids[3])
	}
	if _, err := s.Cancel(ctx, key(1, 2), staff, "dopo la migrazione", 0, t0); err != nil {
		t.Fatal(err)
	}
	if es := history(t, s, key(1, 1), 0); len(es) != 2 || es[0].Action != slots.AuditCancel || es[1].Action != slots.AuditHold {
		t.Fatalf("history after migration 4 = %v", briefs(es))
	}
}

// testMigrationKeepsAudit: a database in use at schema version 4 keeps its
// reservations and audit entries, with their ids, through migration 5
// (SQLite rebuilds both tables), and new ones get larger ids.
func testMigrationKeepsAudit(t *testing.T, b backend) {
	ctx := context.Background()
	s, dsn := openAtVersion(t, b, 4)
	held := mustHold(t, s, key(1, 1), 10, t0)
	booked := mustHold(t, s, key(1, 2), 10, t0)
	if _, err := s.Book(ctx, key(1, 2), as(10), t0); err != nil {
		t.Fatal(err)
	}
	before := history(t, s, key(1, 1), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dsn)
	if after := history(t, s, key(1, 1), 0); !slices.Equal(briefs(after), briefs(before)) || after[0].ID != before[0].ID {
		t.Fatalf("history after migration 5 = %v (first id %d); before it %v (first id %d)",
			briefs(after), after[0].ID, briefs(before), before[0].ID)
	}
	active, err := activeReservations(ctx, s, 1, "2030-03-04", t0)
	if err != nil || len(active) != 2 || active[0].ID != held.ID || active[1].ID != booked.ID {
		t.Fatalf("active reservations after migration 5 = %+v, %v; want ids %d and %d", active, err, held.ID, booked.ID)
	}
	if next, ok, err := s.NextExpiry(ctx); err != nil || !ok || !next.Equal(held.ExpiresAt) {
		t.Fatalf("NextExpiry after migration 5 = %v, %v, %v; want the hold's %v", next, ok, err, held.ExpiresAt)
	}
	r := mustHold(t, s, key(1, 3), 11, t0)
	if r.ID <= booked.ID {
		t.Fatalf("a new reservation got id %d, not above the migrated %d", r.ID, booked.ID)
	}
	if es := history(t, s, key(1, 3), 3); len(es) != 1 || es[0].ID <= before[0].ID {
		t.Fatalf("new audit entry %v; want one with an id above %d", es, before[0].ID)
	}
	if rs, err := s.ExpireDue(ctx, t0.Add(ttl)); err != nil || len(rs) != 2 {
		t.Fatalf("ExpireDue after migration 5 = %d rows, %v; want the 2 holds", len(rs), err)
	}
}
