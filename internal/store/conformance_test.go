package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/storetest"
)

// The conformance suite runs on coworkctl's own tables; the cases below it
// check what only this layout has: a writable catalog and its migrations.

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, ownLayout(sqliteBackend()))
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, ownLayout(postgresBackend(t)))
}

// ownLayout is coworkctl's own tables on b, seeded with the demo catalog.
func ownLayout(b backend) storetest.Layout {
	return storetest.Layout{
		Name:            b.name,
		Catalog:         slots.DemoCatalog(),
		CatalogWritable: true,
		KeepsRowTimes:   true,
		NewDB: func(t testing.TB) func(testing.TB) slots.Store {
			dsn := b.newDSN(t)
			seedDemo(t, openStore(t, dsn))
			return func(t testing.TB) slots.Store { return openStore(t, dsn) }
		},
	}
}

func TestOwnLayoutSQLite(t *testing.T) {
	runOwnLayout(t, sqliteBackend())
}

func TestOwnLayoutPostgres(t *testing.T) {
	runOwnLayout(t, postgresBackend(t))
}

// runOwnLayout checks what only coworkctl's own tables promise.
func runOwnLayout(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend)
	}{
		{"CatalogUpsert", testCatalogUpsert},
		{"CatalogRejectsBadInput", testCatalogRejectsBadInput},
		{"MigrationsIdempotent", testMigrationsIdempotent},
		{"MigrationKeepsReservations", testMigrationKeepsReservations},
		{"MigrationKeepsAudit", testMigrationKeepsAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// The suite's vocabulary, for the cases of this package.
var (
	t0                 = storetest.T0
	key                = storetest.Key
	as                 = storetest.As
	staff              = storetest.Staff
	wantErr            = storetest.WantErr
	activeReservations = storetest.Active
	history            = storetest.History
	briefs             = storetest.Briefs
	mustHold           = storetest.MustHold
)

const ttl = storetest.TTL

// seedDemo upserts the demo catalog.
func seedDemo(t testing.TB, s *Store) {
	t.Helper()
	if err := s.UpsertCatalog(context.Background(), slots.DemoCatalog()); err != nil {
		t.Fatalf("UpsertCatalog: %v", err)
	}
}

// newSeeded opens a fresh database holding the demo catalog.
func newSeeded(t *testing.T, b backend) *Store {
	t.Helper()
	s := openStore(t, b.newDSN(t))
	seedDemo(t, s)
	return s
}

func testCatalogUpsert(t *testing.T, b backend) {
	ctx := context.Background()
	s := openStore(t, b.newDSN(t))

	got, err := s.Catalog(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty Catalog = %v, %v; want nothing", got, err)
	}

	want := slots.DemoCatalog()
	want[1].Timezone = "Europe/Rome"
	want[1].Spazi[0].SedeID = 0 // filled in from the sede it is listed under
	if err := s.UpsertCatalog(ctx, want); err != nil {
		t.Fatal(err)
	}
	want[1].Spazi[0].SedeID = 2
	want = append(want, slots.Sede{ID: 3, Nome: "Empty", Apertura: "08:00", Chiusura: "20:00"})
	if err := s.UpsertCatalog(ctx, want[2:]); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Catalog(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Catalog:\n got %+v\nwant %+v", got, want)
	}

	// Spazio is cached: this lookup must not hide the upsert below.
	if sp, sede, err := s.Spazio(ctx, 4); err != nil || sp.SedeID != 1 || sede.ID != 1 {
		t.Fatalf("Spazio(4) before the move = %+v, %+v, %v", sp, sede, err)
	}
	// Upsert again: rename, move spazio 4 to sede 2, add spazio 9.
	sede1, sede2 := want[0], want[1]
	sede1.Nome = "Cowork Milano Centrale"
	moved := sede1.Spazi[3]
	moved.SedeID = 2
	sede1.Spazi = sede1.Spazi[:3]
	sede2.Spazi = append([]slots.Spazio{moved}, append(sede2.Spazi, slots.Spazio{ID: 9, SedeID: 2, Nome: "Terrazza", Capacita: 30})...)
	if err := s.UpsertCatalog(ctx, []slots.Sede{sede1, sede2}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Catalog(ctx); err != nil {
		t.Fatal(err)
	}
	if got[0].Nome != "Cowork Milano Centrale" || len(got[0].Spazi) != 3 {
		t.Errorf("sede 1 after upsert = %+v", got[0])
	}
	var ids []int64
	for _, sp := range got[1].Spazi {
		ids = append(ids, sp.ID)
	}
	if !reflect.DeepEqual(ids, []int64{4, 5, 6, 7, 8, 9}) {
		t.Errorf("sede 2 spazi after upsert = %v, want ordered 4..9", ids)
	}

	sp, sede, err := s.Spazio(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if sp != moved || sede.ID != 2 || sede.Timezone != "Europe/Rome" || sede.Nome != sede2.Nome {
		t.Errorf("Spazio(4) = %+v, %+v", sp, sede)
	}
	_, _, err = s.Spazio(ctx, 99)
	wantErr(t, "Spazio(99)", err, slots.ErrSpazioNotFound)
}

func testCatalogRejectsBadInput(t *testing.T, b backend) {
	ctx := context.Background()
	s := openStore(t, b.newDSN(t))
	ok := slots.Sede{ID: 1, Nome: "A", Spazi: []slots.Spazio{{ID: 1, Nome: "x"}}}
	tests := []struct {
		name string
		sedi []slots.Sede
	}{
		{"no nome", []slots.Sede{{ID: 1}}},
		{"sede listed twice", []slots.Sede{ok, {ID: 1, Nome: "B"}}},
		{"spazio listed twice", []slots.Sede{ok, {ID: 2, Nome: "B", Spazi: []slots.Spazio{{ID: 1, Nome: "y"}}}}},
		{"spazio of another sede", []slots.Sede{{ID: 2, Nome: "B", Spazi: []slots.Spazio{{ID: 1, SedeID: 1, Nome: "y"}}}}},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, s.UpsertCatalog(ctx, tc.sedi), slots.ErrBadInput)
	}
	if got, err := s.Catalog(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Catalog after rejected upserts = %v, %v; want nothing", got, err)
	}
}

func testMigrationsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s1 := openStore(t, dsn)
	applied, err := s1.migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrate again = %v, %v; want nothing applied", applied, err)
	}
	s2 := openStore(t, dsn) // a second node, or a restart while one runs
	ms, err := migrations(s2.dialect)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s2.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || n == 0 {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}

	// A database migrated by a newer coworkctl is refused, not damaged.
	if _, err := s2.w.ExecContext(ctx, s2.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`), 9999); err != nil {
		t.Fatal(err)
	}
	if s3, err := Open(ctx, dsn, nil); err == nil {
		_ = s3.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded")
	}
}
