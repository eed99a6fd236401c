package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
)

// postgresURLEnv names the PostgreSQL server the PostgreSQL variants run
// against; they skip when it is unset.
const postgresURLEnv = "COWORK_TEST_POSTGRES_URL"

// backend makes fresh databases of one kind for tests.
type backend struct {
	name string
	// newDSN returns the DSN of a new, empty database; opening it again
	// reaches the same database, as after a restart.
	newDSN func(t testing.TB) string
}

func sqliteBackend() backend {
	return backend{name: "sqlite", newDSN: func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}}
}

// postgresBackend gives each database its own schema on the server named
// by COWORK_TEST_POSTGRES_URL, selected through the search_path parameter
// and dropped when the test ends.
func postgresBackend(t testing.TB) backend {
	base := os.Getenv(postgresURLEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", postgresURLEnv)
	}
	return backend{name: "postgres", newDSN: func(t testing.TB) string {
		schema := "t_" + randomHex(t, 8)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		ctx := context.Background()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema on %s: %v", postgresURLEnv, err)
		}
		t.Cleanup(func() {
			admin, err := sql.Open("pgx", base)
			if err != nil {
				t.Error(err)
				return
			}
			defer admin.Close()
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("%s: %v", postgresURLEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}}
}

var _ = stdlib.GetDefaultDriver // the "pgx" driver the admin connections use

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// openStore opens dsn and closes the store when the test ends.
func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
