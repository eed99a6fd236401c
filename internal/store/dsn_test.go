package store

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn        string
		wantDial   dialect
		wantPath   string
		wantParams url.Values
		wantErr    string // substring; "" means success
	}{
		{dsn: "", wantDial: sqliteDialect, wantPath: "coworkctl.db"},
		{dsn: "sqlite:data/app.db", wantDial: sqliteDialect, wantPath: "data/app.db"},
		{dsn: "sqlite:///var/lib/cowork.db", wantDial: sqliteDialect, wantPath: "/var/lib/cowork.db"},
		{dsn: "file:/tmp/x.sqlite", wantDial: sqliteDialect, wantPath: "/tmp/x.sqlite"},
		{dsn: "SQLite:x", wantDial: sqliteDialect, wantPath: "x"},
		{dsn: "cowork.db", wantDial: sqliteDialect, wantPath: "cowork.db"},
		{dsn: "/abs/Cowork.DB", wantDial: sqliteDialect, wantPath: "/abs/Cowork.DB"},
		{dsn: "x.db?_busy_timeout=100", wantDial: sqliteDialect, wantPath: "x.db", wantParams: url.Values{"_busy_timeout": {"100"}}},
		{dsn: "postgres://u:p@h/db", wantDial: postgresDialect},
		{dsn: "postgresql://h:5433/db?sslmode=disable", wantDial: postgresDialect},
		{dsn: "sqlite:", wantErr: "no file path"},
		{dsn: "sqlite::memory:", wantErr: "in-memory"},
		{dsn: "file:x.db?mode=memory", wantErr: "in-memory"},
		{dsn: "mysql://u:secret@h/db", wantErr: `unsupported database scheme "mysql"`},
		{dsn: "redis://h", wantErr: `unsupported database scheme "redis"`},
		{dsn: "coworkctl", wantErr: `unrecognised database DSN "coworkctl"`},
		{dsn: "host=h password=secret", wantErr: "unrecognised database DSN"},
		{dsn: "x.db?%zz", wantErr: "sqlite DSN parameters"},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			got, err := parseDSN(tc.dsn)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseDSN(%q) error = %v, want it to contain %q", tc.dsn, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("parseDSN(%q) error leaks the password: %v", tc.dsn, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDSN(%q): %v", tc.dsn, err)
			}
			if got.dialect != tc.wantDial || got.sqlitePath != tc.wantPath {
				t.Fatalf("parseDSN(%q) = %s %q, want %s %q", tc.dsn, got.dialect, got.sqlitePath, tc.wantDial, tc.wantPath)
			}
			if tc.wantDial == postgresDialect && got.postgresDSN != tc.dsn {
				t.Fatalf("parseDSN(%q) postgres DSN = %q", tc.dsn, got.postgresDSN)
			}
			if tc.wantParams != nil && got.sqliteParams.Encode() != tc.wantParams.Encode() {
				t.Fatalf("parseDSN(%q) params = %v, want %v", tc.dsn, got.sqliteParams, tc.wantParams)
			}
		})
	}
}

func TestSQLiteDSN(t *testing.T) {
	got := sqliteDSN("a b.db", url.Values{"_busy_timeout": {"1"}, "_txlock": {"deferred"}},
		map[string]string{"_busy_timeout": "5000", "_synchronous": "NORMAL"},
		map[string]string{"_txlock": "immediate"})
	want := "a b.db?_busy_timeout=1&_synchronous=NORMAL&_txlock=immediate"
	if got != want {
		t.Fatalf("sqliteDSN = %q, want %q", got, want)
	}
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got := sqliteDialect.rebind(q); got != q {
		t.Errorf("sqlite rebind = %q", got)
	}
	if got, want := postgresDialect.rebind(q), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"; got != want {
		t.Errorf("postgres rebind = %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, dsn string
		want      []string // substrings of the error
	}{
		{"unknown scheme", "mysql://root:secret@localhost/db", []string{`"mysql"`}},
		// Port 1 on loopback refuses at once, so this stays fast.
		{"unreachable postgres", "postgres://app:secret@127.0.0.1:1/cowork?sslmode=disable", []string{"127.0.0.1:1", "cowork"}},
		{"bad postgres DSN", "postgres://app:secret@127.0.0.1:notaport/db", []string{"postgres DSN"}},
		{"sqlite in a missing directory", "sqlite:" + t.TempDir() + "/missing/dir/x.db", []string{"missing/dir/x.db"}},
		{"bad sqlite parameter", "sqlite:" + t.TempDir() + "/x.db?_journal_mode=nonsense", []string{"nonsense"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.dsn, nil)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open error leaks the password: %v", err)
			}
		})
	}
}

func TestOpenDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := openStore(t, "")
	if got := s.String(); got != "sqlite:"+DefaultSQLitePath {
		t.Fatalf("String() = %q", got)
	}
	var mode string
	if err := s.w.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

func TestOpenSQLiteCallerParams(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite:"+t.TempDir()+"/p.db?_journal_mode=DELETE&_busy_timeout=100")
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "delete" {
		t.Fatalf("journal_mode = %q, want the caller's delete", mode)
	}
	if err := s.UpsertCatalog(ctx, slots.DemoCatalog()); err != nil {
		t.Fatal(err)
	}
	if cat, err := s.Catalog(ctx); err != nil || len(cat) != 2 {
		t.Fatalf("Catalog = %v, %v", cat, err)
	}
	// The readers are read-only whatever the caller asked for.
	if _, err := s.r.ExecContext(ctx, "DELETE FROM sedi"); err == nil {
		t.Fatal("a write through the reader pool succeeded")
	}
}
