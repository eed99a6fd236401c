package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// SQLite has one writer, and most of a small write transaction's cost is
// its BEGIN and COMMIT: writing the WAL frames of every page it touched
// and, now and then, a checkpoint. Under load, requests queue for that
// writer anyway, so the group committer runs the ones waiting together in
// one transaction, each inside a savepoint of its own: an operation that
// fails is rolled back alone and the others commit. Consecutive holds and
// releases touch the same pages (the table's last leaf, the grid's version
// row, the audit's last leaf), so a commit of many writes few pages more
// than a commit of one.
//
// PostgreSQL runs writers concurrently and already flushes concurrent
// commits together; there a shared transaction would only make unrelated
// operations wait for each other's row locks. It keeps one transaction per
// operation.

// maxGroup bounds the operations of one commit, so that the first of a
// group does not wait for an unbounded queue behind it.
const maxGroup = 64

// errStoreClosed is the error of an operation queued after Close.
var errStoreClosed = errors.New("store closed")

// txFunc is an operation's part of a write transaction. The context is the
// transaction's, not the caller's: a group's statements must not be
// interrupted because one of its callers went away.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// groupOp is one queued operation and where its result goes.
type groupOp struct {
	ctx    context.Context
	fn     txFunc
	result chan error
}

// groupCommitter runs write operations on the single SQLite writer
// connection, several to a transaction.
type groupCommitter struct {
	db *sql.DB
	// exec runs a savepoint statement in a transaction of db.
	exec func(ctx context.Context, tx *sql.Tx, query string) error
	// begun is told of every transaction begun and its operations.
	begun func(ops int)
	// ops is unbuffered: an operation is either taken by the loop or its
	// caller is still free to give up, never stranded in a buffer.
	ops     chan groupOp
	stop    chan struct{}
	stopped sync.WaitGroup
	// waiting counts callers not yet taken by the loop.
	waiting atomic.Int64
}

func newGroupCommitter(db *sql.DB, exec func(ctx context.Context, tx *sql.Tx, query string) error, begun func(ops int)) *groupCommitter {
	g := &groupCommitter{db: db, exec: exec, begun: begun, ops: make(chan groupOp), stop: make(chan struct{})}
	g.stopped.Add(1)
	go g.loop()
	return g
}

// run queues fn and waits for its outcome. A caller whose ctx ends before
// the committer takes fn gets ctx's error and fn never runs; once taken,
// fn runs and commits (or not) whatever ctx does, and run reports which.
func (g *groupCommitter) run(ctx context.Context, fn txFunc) error {
	op := groupOp{ctx: ctx, fn: fn, result: make(chan error, 1)}
	g.waiting.Add(1)
	select {
	case g.ops <- op:
		g.waiting.Add(-1)
	case <-ctx.Done():
		g.waiting.Add(-1)
		return ctx.Err()
	case <-g.stop:
		g.waiting.Add(-1)
		return errStoreClosed
	}
	return <-op.result
}

// close stops the loop after the group it is running.
func (g *groupCommitter) close() {
	close(g.stop)
	g.stopped.Wait()
}

func (g *groupCommitter) loop() {
	defer g.stopped.Done()
	group := make([]groupOp, 0, maxGroup)
	for {
		select {
		case op := <-g.ops:
			group = append(group[:0], op)
		case <-g.stop:
			return
		}
		// Let callers that are ready to run reach the queue: with one
		// processor (GOMAXPROCS=1) they only run when this goroutine
		// yields, and each group would hold one operation.
		runtime.Gosched()
	gather:
		for len(group) < maxGroup {
			select {
			case op := <-g.ops:
				group = append(group, op)
			default:
				break gather
			}
		}
		g.commit(group)
		clear(group)
	}
}

// commit runs group in one transaction and sends every operation its
// result.
func (g *groupCommitter) commit(group []groupOp) {
	live := group[:0:0]
	for _, op := range group {
		if err := op.ctx.Err(); err != nil {
			op.result <- err
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	g.begun(len(live))
	// Statements run under a context that never ends: modernc.org/sqlite
	// then starts no goroutine per statement to watch for a cancel.
	ctx := context.Background()
	errs := make([]error, len(live))
	// reply sends every operation its own error, or err to those that
	// have none.
	reply := func(err error) {
		for i, op := range live {
			if errs[i] == nil {
				errs[i] = err
			}
			op.result <- errs[i]
		}
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		reply(fmt.Errorf("begin: %w", err))
		return
	}
	for i, op := range live {
		run := callSafely
		if len(live) > 1 {
			run = g.inSavepoint
		}
		if err := run(ctx, tx, op.fn); err != nil {
			var broken *brokenTxError
			if errors.As(err, &broken) {
				_ = tx.Rollback()
				reply(broken.err)
				return
			}
			errs[i] = err
		}
	}
	if allFailed(errs) {
		_ = tx.Rollback()
		reply(nil)
		return
	}
	if err := tx.Commit(); err != nil {
		reply(fmt.Errorf("commit: %w", err))
		return
	}
	reply(nil)
}

// callSafely runs fn and turns a panic into a *brokenTxError: the
// transaction is in an unknown state, and the committer must go on
// serving the other writers.
func callSafely(ctx context.Context, tx *sql.Tx, fn txFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &brokenTxError{fmt.Errorf("store operation panicked: %v\n%s", r, debug.Stack())}
		}
	}()
	return fn(ctx, tx)
}

// brokenTxError is a savepoint statement's failure: SQLite may have rolled
// the whole transaction back (a full disk, an I/O error), so no operation
// of the group can commit.
type brokenTxError struct{ err error }

func (e *brokenTxError) Error() string { return e.err.Error() }

// inSavepoint runs fn so that its failure undoes its own statements only.
func (g *groupCommitter) inSavepoint(ctx context.Context, tx *sql.Tx, fn txFunc) error {
	if err := g.exec(ctx, tx, `SAVEPOINT op`); err != nil {
		return &brokenTxError{fmt.Errorf("savepoint: %w", err)}
	}
	opErr := callSafely(ctx, tx, fn)
	var broken *brokenTxError
	if errors.As(opErr, &broken) {
		return opErr
	}
	if opErr != nil {
		if err := g.exec(ctx, tx, `ROLLBACK TO op`); err != nil {
			return &brokenTxError{fmt.Errorf("roll back to savepoint after %v: %w", opErr, err)}
		}
	}
	if err := g.exec(ctx, tx, `RELEASE op`); err != nil {
		return &brokenTxError{fmt.Errorf("release savepoint: %w", err)}
	}
	return opErr
}

func allFailed(errs []error) bool {
	for _, err := range errs {
		if err == nil {
			return false
		}
	}
	return true
}
