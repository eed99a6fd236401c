// Package store persists coworkctl's catalog and reservations in SQLite (the
// default, an embedded file) or PostgreSQL (shared by several nodes) through
// one database/sql implementation of slots.Store.
//
// The database, not Go code, guarantees that a slot has at most one active
// (occupied or booked) reservation: a partial unique index on
// reservations(spazio_id, date, slot). Times are stored as unix milliseconds,
// so a time read back is the one written truncated to the millisecond.
//
// Every change of a slot also bumps its grid's row in grid_versions in the
// same transaction, and Snapshot reads that version with the grid's rows in
// one statement (see bumpVersion and snapshotQuery).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/coworkctl/coworkctl/internal/slots"
)

// connectTimeout bounds the first connection to PostgreSQL, and each later
// one when the DSN sets no connect_timeout.
const connectTimeout = 5 * time.Second

// sqliteBusyTimeout is how long SQLite waits for another process's write
// lock. Within one process writes never wait on SQLite: they queue for the
// single writer connection instead.
const sqliteBusyTimeout = "5000"

// postgresMaxConns caps one node's connections, well under PostgreSQL's
// default max_connections of 100 so that several nodes fit.
const postgresMaxConns = 16

// Store is the database/sql implementation of slots.Store. It is safe for
// concurrent use.
type Store struct {
	dialect dialect
	// w runs every write. On SQLite it is a single connection whose
	// transactions begin IMMEDIATE, so writers queue in Go rather than
	// failing with "database is locked".
	w *sql.DB
	// r runs reads. On SQLite it is a separate pool of read-only
	// connections, which WAL lets run alongside the writer; on PostgreSQL
	// it is w.
	r *sql.DB
	// name describes the database without secrets, for logs and errors.
	name string
	// reads and writes cache the fixed statements prepared on r and w;
	// nil on PostgreSQL (see prepared.go).
	reads, writes *prepared
	// group runs SQLite's slot changes several to a commit; nil on
	// PostgreSQL (see groupcommit.go).
	group *groupCommitter
	// writeTxs and writeOps count the slot changes' transactions and the
	// changes in them (see WriteStats).
	writeTxs, writeOps atomic.Int64
	// catalog caches Spazio lookups (see catalog.go).
	catalog spazioCache
	// skipHoldLock leaves out the per-user lock of checkHoldLimit. Only
	// tests set it, to show that the concurrent hold-limit test notices.
	skipHoldLock bool

	closeOnce sync.Once
	closeErr  error
}

var _ slots.Store = (*Store)(nil)

// Open connects to the database named by dsn and applies any pending
// migrations. A nil logger discards.
//
// DSN forms:
//
//   - "" — SQLite file DefaultSQLitePath in the working directory
//   - "sqlite:PATH", "file:PATH", or a PATH ending in .db, .sqlite or
//     .sqlite3 — SQLite file PATH; "?key=value" parameters go to the
//     modernc.org/sqlite driver (WAL, busy timeout, foreign keys and
//     synchronous=NORMAL are defaults the caller may override)
//   - "postgres://…" or "postgresql://…" — PostgreSQL through pgx; extra
//     parameters such as search_path are sent as run-time parameters
//
// An unreachable PostgreSQL fails within about five seconds with an error
// naming the host but not the password.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The caller names the step ("open database"); these errors name the
	// database and the cause once.
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch t.dialect {
	case postgresDialect:
		s, err = openPostgres(ctx, t.postgresDSN)
	default:
		s, err = openSQLite(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	applied, err := s.migrate(ctx)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrate %s: %w", s.name, err)
	}
	if len(applied) > 0 {
		logger.Info("store migrated", "db", s.name, "versions", applied)
	}
	return s, nil
}

func openSQLite(ctx context.Context, t target) (*Store, error) {
	// SQLite creates the file but not its directory, and then says only
	// "unable to open database file".
	if dir := filepath.Dir(t.sqlitePath); dir != "" {
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("sqlite %s: directory %s does not exist", t.sqlitePath, dir)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("sqlite %s: %s is not a directory", t.sqlitePath, dir)
		}
	}
	defaults := map[string]string{
		"_busy_timeout": sqliteBusyTimeout,
		"_journal_mode": "WAL",
		"_synchronous":  "NORMAL",
		"_foreign_keys": "1",
	}
	w, err := sql.Open("sqlite", sqliteDSN(t.sqlitePath, t.sqliteParams, defaults,
		map[string]string{"_txlock": "immediate"}))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", t.sqlitePath, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the file (and switch it to WAL) before the readers use it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", t.sqlitePath, err)
	}

	// Settings that change the file itself are the writer's business.
	readerParams := maps.Clone(t.sqliteParams)
	for _, k := range []string{"_journal_mode", "_journal", "_auto_vacuum", "_vacuum"} {
		delete(readerParams, k)
	}
	r, err := sql.Open("sqlite", sqliteDSN(t.sqlitePath, readerParams,
		map[string]string{"_busy_timeout": sqliteBusyTimeout},
		map[string]string{"_query_only": "1"}))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", t.sqlitePath, err)
	}
	readers := max(runtime.GOMAXPROCS(0), 2)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s := &Store{dialect: sqliteDialect, w: w, r: r, reads: newPrepared(r), writes: newPrepared(w), name: "sqlite:" + t.sqlitePath}
	s.group = newGroupCommitter(w, func(ctx context.Context, tx *sql.Tx, query string) error {
		_, err := s.txExec(ctx, tx, query)
		return err
	}, func(ops int) {
		s.writeTxs.Add(1)
		s.writeOps.Add(int64(ops))
	})
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	name := "postgres://" + cfg.User + "@" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)

	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s: %w", name, connectCause(err))
	}
	return &Store{dialect: postgresDialect, w: db, r: db, name: name}, nil
}

// String describes the database without secrets, e.g. "sqlite:coworkctl.db"
// or "postgres://app@db:5432/cowork".
func (s *Store) String() string { return s.name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.name, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s readers: %w", s.name, err)
		}
	}
	return nil
}

// probe reads the reservations table: it answers only when the slot
// tables can be read (a ping answers even while they are locked).
func (s *Store) probe(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM reservations LIMIT 1) AS probe`).Scan(&n); err != nil {
		return fmt.Errorf("read reservations: %w", err)
	}
	return nil
}

// dropIdle closes the idle connections of the pools, so that the next
// operation opens a new one.
func (s *Store) dropIdle() {
	for _, db := range []*sql.DB{s.w, s.r} {
		if s.dialect == postgresDialect {
			db.SetMaxIdleConns(0)
			db.SetMaxIdleConns(postgresMaxConns)
		}
		if s.r == s.w {
			break
		}
	}
}

// Close closes the database. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.group != nil {
			s.group.close()
		}
		var errs []error
		for _, p := range []*prepared{s.reads, s.writes} {
			if p != nil {
				errs = append(errs, p.close())
			}
		}
		if s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close %s: %w", s.name, err)
		}
	})
	return s.closeErr
}

// q adapts a query written with ? placeholders to the dialect.
func (s *Store) q(query string) string { return s.dialect.rebind(query) }

// write runs one slot change: in a group commit on SQLite, in a
// transaction of its own on PostgreSQL. fn must use the context it is
// given, not the caller's (see txFunc).
func (s *Store) write(ctx context.Context, fn txFunc) error {
	if s.group != nil {
		return s.group.run(ctx, fn)
	}
	s.writeTxs.Add(1)
	s.writeOps.Add(1)
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
}

// WriteStats counts the slot changes (holds, books, releases, cancels,
// expiry sweeps) run since Open and the write transactions they took. On
// SQLite, changes waiting for the writer share a transaction, so under load
// there are fewer transactions than changes.
type WriteStats struct {
	Transactions, Changes int64
	// Waiting is how many changes wait for SQLite's writer right now;
	// always 0 on PostgreSQL.
	Waiting int64
}

// WriteStats returns the counts so far.
func (s *Store) WriteStats() WriteStats {
	st := WriteStats{Transactions: s.writeTxs.Load(), Changes: s.writeOps.Load()}
	if s.group != nil {
		st.Waiting = s.group.waiting.Load()
	}
	return st
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on SQLite) and
// commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", &notStartedError{err})
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// connectCause drops pgx's preamble ("failed to connect to `user=… database=…`:
// host (ip): dial error:"), which repeats what the caller's message names,
// and keeps the cause: the network error or the server's answer.
func connectCause(err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return err
	}
	var op *net.OpError
	if errors.As(ce, &op) {
		return op
	}
	var pe *pgconn.PgError
	if errors.As(ce, &pe) {
		return pe
	}
	if inner := errors.Unwrap(ce); inner != nil {
		return inner
	}
	return err
}
