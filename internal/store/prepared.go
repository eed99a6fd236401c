package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// SQLite parses a statement on every call unless it is prepared, and
// parsing was the largest part of a join's CPU (the snapshot and the
// catalog lookup). The store's fixed statements are prepared once per
// connection: database/sql keeps a prepared statement per connection and
// a transaction reuses the one of its connection. PostgreSQL goes through
// pgx, which already caches prepared statements per connection.

// prepared caches statements prepared on one *sql.DB by query text. Only
// fixed query texts go through it, so it stays small.
type prepared struct {
	db *sql.DB
	// ctx ends with the store; it bounds preparations made in the
	// background.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

func newPrepared(db *sql.DB) *prepared {
	ctx, cancel := context.WithCancel(context.Background())
	return &prepared{db: db, ctx: ctx, cancel: cancel, m: make(map[string]*sql.Stmt), pending: make(map[string]bool)}
}

// cached is query's statement if it is prepared already.
func (p *prepared) cached(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.m[query]
}

// prepareLater prepares query in the background. A transaction cannot
// prepare on its pool: SQLite's writer pool is the one connection the
// transaction holds, so the preparation waits for the transaction's end.
func (p *prepared) prepareLater(query string) {
	p.mu.Lock()
	if p.pending[query] || p.m[query] != nil || p.ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	p.pending[query] = true
	p.bg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.bg.Done()
		_, _ = p.stmt(p.ctx, query)
		p.mu.Lock()
		delete(p.pending, query)
		p.mu.Unlock()
	}()
}

// stmt prepares query once. The lock is not held while preparing, which
// may wait for a connection.
func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := p.cached(query); st != nil {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.m[query]; prev != nil {
		_ = st.Close()
		return prev, nil
	}
	if p.m == nil { // closed meanwhile
		_ = st.Close()
		return nil, fmt.Errorf("prepare: %w", sql.ErrConnDone)
	}
	p.m[query] = st
	return st, nil
}

func (p *prepared) close() error {
	p.cancel()
	p.bg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for _, st := range p.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.m = nil
	return first
}

// errRow is a row whose query failed before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// readRow runs a fixed single-row read on the read pool.
func (s *Store) readRow(ctx context.Context, query string, args ...any) rowScanner {
	query = s.q(query)
	if s.reads == nil {
		return s.r.QueryRowContext(ctx, query, args...)
	}
	st, err := s.reads.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// readRows runs a fixed read on the read pool.
func (s *Store) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = s.q(query)
	if s.reads == nil {
		return s.r.QueryContext(ctx, query, args...)
	}
	st, err := s.reads.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// txStmt is the write pool's prepared statement of query for tx, or nil
// when it is not prepared yet (it then is soon) or statements are not
// cached (PostgreSQL).
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if s.writes == nil {
		return nil
	}
	st := s.writes.cached(query)
	if st == nil {
		s.writes.prepareLater(query)
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// txRow runs a fixed single-row statement in tx.
func (s *Store) txRow(ctx context.Context, tx *sql.Tx, query string, args ...any) rowScanner {
	query = s.q(query)
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txRows runs a fixed statement returning rows in tx.
func (s *Store) txRows(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	query = s.q(query)
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// txExec runs a fixed statement in tx.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	query = s.q(query)
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}
