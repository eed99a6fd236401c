package mio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// postgresURLEnv names the PostgreSQL server the tests run against; they
// skip when it is unset.
const postgresURLEnv = "COWORK_TEST_POSTGRES_URL"

// env is one scratch copy of the backend's database: its tables (loaded
// from testdata/backend.sql) in a schema of their own, and a schema for
// coworkctl's own tables, both dropped when the test ends.
type env struct {
	t       testing.TB
	dsn     string // reaches the backend's schema through search_path
	schema  string
	own     string
	backend *pgxpool.Pool // plays the backend: its sessions run in UTC, as its server did
}

func newEnv(t testing.TB) *env {
	t.Helper()
	base := os.Getenv(postgresURLEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", postgresURLEnv)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, schema: "mio_" + hex.EncodeToString(b)}
	e.own = e.schema + "_own"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresURLEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+e.schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(context.Background())
		for _, s := range []string{e.schema, e.own} {
			if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", s, err)
			}
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", e.schema)
	u.RawQuery = q.Encode()
	e.dsn = u.String()
	q.Set("timezone", "UTC")
	u.RawQuery = q.Encode()
	e.backend, err = pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.backend.Close)
	fixture, err := os.ReadFile("testdata/backend.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.backend.Exec(ctx, string(fixture)); err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	return e
}

func (e *env) config() Config {
	return Config{DSN: e.dsn, OwnSchema: e.own, Location: time.UTC}
}

// install runs Install and opens a store (a node) on the database.
func (e *env) install() *Store {
	e.t.Helper()
	if err := Install(context.Background(), e.config()); err != nil {
		e.t.Fatalf("Install: %v", err)
	}
	return e.open()
}

func (e *env) open() *Store {
	e.t.Helper()
	s, err := Open(context.Background(), e.config())
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// exec runs SQL as the backend does.
func (e *env) exec(sql string, args ...any) int64 {
	e.t.Helper()
	tag, err := e.backend.Exec(context.Background(), sql, args...)
	if err != nil {
		e.t.Fatalf("backend SQL %q: %v", sql, err)
	}
	return tag.RowsAffected()
}

// insertID runs an INSERT … RETURNING id_prenotazione as the backend does.
func (e *env) insertID(sql string, args ...any) int64 {
	e.t.Helper()
	var id int64
	if err := e.backend.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		e.t.Fatalf("backend SQL %q: %v", sql, err)
	}
	return id
}

// prenotazione reads one row's stato and scadenza_slot; ok false when gone.
func (e *env) prenotazione(id int64) (stato string, scadenza *time.Time, ok bool) {
	e.t.Helper()
	err := e.backend.QueryRow(context.Background(), `SELECT stato, scadenza_slot FROM Prenotazione WHERE id_prenotazione = $1`, id).Scan(&stato, &scadenza)
	if err == pgx.ErrNoRows {
		return "", nil, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return stato, scadenza, true
}

// follower runs Follow on a store and collects what it announces.
type follower struct {
	mu      sync.Mutex
	changes []slots.FeedChange
	cond    chan struct{}
}

func follow(t testing.TB, s *Store) *follower {
	f := &follower{cond: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Follow(ctx, func(_ context.Context, cs []slots.FeedChange) {
			f.mu.Lock()
			f.changes = append(f.changes, cs...)
			f.mu.Unlock()
			select {
			case f.cond <- struct{}{}:
			default:
			}
		}); err != nil {
			t.Errorf("Follow: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Wait for the listener, so that tests start with it up.
	testkit.Eventually(t, 10*time.Second, "the listener to connect", func() bool { return s.ListenerPID() != 0 })
	return f
}

// waitFor waits until at least n changes arrived and returns them all.
func (f *follower) waitFor(t testing.TB, n int) []slots.FeedChange {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		got := append([]slots.FeedChange(nil), f.changes...)
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-f.cond:
		case <-timeout:
			t.Fatalf("got %d announced changes, want %d: %+v", len(got), n, got)
		}
	}
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.changes)
}

func as(user int64) slots.Actor { return slots.Actor{UserID: user, Role: "cliente"} }
