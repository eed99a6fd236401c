package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// groupTest is a SQLite store with a scratch table t(n) for operations
// that insert numbers.
func groupTest(t *testing.T) *Store {
	t.Helper()
	s := openStore(t, sqliteBackend().newDSN(t))
	if s.group == nil {
		t.Fatal("SQLite store has no group committer")
	}
	if _, err := s.w.ExecContext(context.Background(), `CREATE TABLE t (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return s
}

func insert(n int) txFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, n)
		return err
	}
}

func numbers(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), `SELECT n FROM t ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ns []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ns
}

// inOneGroup runs ops so that they queue behind a blocked operation and
// are taken together, and returns their errors in order. It fails the
// test unless at least two of them shared a commit.
func inOneGroup(t *testing.T, s *Store, ops ...txFunc) []error {
	t.Helper()
	running, release := make(chan struct{}), make(chan struct{})
	blockerDone := make(chan error, 1)
	go func() {
		blockerDone <- s.group.run(context.Background(), func(context.Context, *sql.Tx) error {
			close(running)
			<-release
			return nil
		})
	}()
	<-running // the blocker's group is formed: ops queue for the next one
	groupsBefore := s.WriteStats().Transactions

	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() { errs[i] = s.group.run(context.Background(), op) })
	}
	// The operations queue while the blocker runs.
	testkit.Eventually(t, 10*time.Second, "the operations to queue", func() bool { return s.WriteStats().Waiting >= int64(len(ops)) })
	close(release)
	wg.Wait()
	if err := <-blockerDone; err != nil {
		t.Fatalf("blocking operation: %v", err)
	}
	groups := s.WriteStats().Transactions
	if commits := groups - groupsBefore; commits >= int64(1+len(ops)) {
		t.Fatalf("%d operations took %d transactions: none shared one", 1+len(ops), commits)
	}
	return errs
}

func TestGroupCommitSharesCommits(t *testing.T) {
	s := groupTest(t)
	ops := make([]txFunc, 20)
	for i := range ops {
		ops[i] = insert(i)
	}
	for i, err := range inOneGroup(t, s, ops...) {
		if err != nil {
			t.Errorf("operation %d: %v", i, err)
		}
	}
	if got := numbers(t, s); len(got) != len(ops) {
		t.Fatalf("rows after 20 grouped inserts: %v", got)
	}
}

// A failed operation is rolled back alone: what it wrote before failing
// is gone, and the others of its commit stay.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := groupTest(t)
	boom := errors.New("boom")
	errs := inOneGroup(t, s,
		insert(1),
		func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			return boom
		},
		insert(3),
	)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], boom) {
		t.Fatalf("errors = %v; want nil, boom, nil", errs)
	}
	if got := numbers(t, s); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("rows = %v; want [1 3]: the failed operation's insert must be undone", got)
	}
}

// When SQLite ends the whole transaction under an operation (as it does
// on a full disk or an I/O error), no operation of the group may report
// success, and the writer goes on working.
func TestGroupCommitBrokenTransaction(t *testing.T) {
	s := groupTest(t)
	errs := inOneGroup(t, s,
		insert(1),
		func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
				return err
			}
			return errors.New("transaction gone")
		},
		insert(3),
	)
	for i, err := range errs {
		if err == nil {
			t.Errorf("operation %d reported success in a transaction that was rolled back", i)
		}
	}
	if got := numbers(t, s); len(got) != 0 {
		t.Fatalf("rows = %v; want none", got)
	}
	if err := s.group.run(context.Background(), insert(4)); err != nil {
		t.Fatalf("insert after the broken group: %v", err)
	}
	if got := numbers(t, s); !slices.Equal(got, []int{4}) {
		t.Fatalf("rows = %v; want [4]", got)
	}
}

// A panicking operation fails its whole group, alone or not, and the
// writer goes on serving the next ones.
func TestGroupCommitPanic(t *testing.T) {
	s := groupTest(t)
	boom := func(context.Context, *sql.Tx) error { panic("boom") }
	errs := inOneGroup(t, s, insert(1), boom, insert(3))
	for i, err := range errs {
		if err == nil {
			t.Errorf("operation %d reported success in a group with a panic", i)
		}
	}
	if err := s.group.run(context.Background(), boom); err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("a lone panicking operation = %v; want its panic as an error", err)
	}
	if err := s.group.run(context.Background(), insert(4)); err != nil {
		t.Fatalf("insert after the panics: %v", err)
	}
	if got := numbers(t, s); !slices.Equal(got, []int{4}) {
		t.Fatalf("rows = %v; want [4]", got)
	}
}

// An operation whose caller gave up before it was taken never runs.
func TestGroupCommitSkipsCanceled(t *testing.T) {
	s := groupTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.group.run(ctx, func(context.Context, *sql.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("run with a canceled context = %v, ran %v; want context.Canceled, not run", err, ran)
	}
}

func TestGroupCommitAfterClose(t *testing.T) {
	s, err := Open(context.Background(), sqliteBackend().newDSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Hold(context.Background(), key(1, 1), as(1), t0, t0.Add(ttl), 0)
	if !errors.Is(err, errStoreClosed) {
		t.Fatalf("Hold after Close = %v; want %v", err, errStoreClosed)
	}
}

// Holds and releases of many users in shared commits give what one
// transaction each would: every hold wins its free slot once, a second
// hold of a held slot is refused, versions of a grid are consecutive.
func TestGroupCommitHolds(t *testing.T) {
	s := newSeeded(t, sqliteBackend())
	const users = 18 // two per slot of spazio 1's nine
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     = map[int]int64{}
		taken   int
		unknown []error
	)
	for u := range users {
		wg.Go(func() {
			// Two users per slot: one wins, one is refused.
			r, err := s.Hold(context.Background(), key(1, u%(users/2)+1), as(int64(100+u)), t0, t0.Add(ttl), 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won[r.Reservation.Key.Slot] = r.Reservation.Version
			case errors.Is(err, slots.ErrSlotTaken):
				taken++
			default:
				unknown = append(unknown, err)
			}
		})
	}
	wg.Wait()
	if len(unknown) > 0 || len(won) != users/2 || taken != users/2 {
		t.Fatalf("%d slots won, %d refused, other errors %v; want %d and %d", len(won), taken, unknown, users/2, users/2)
	}
	versions := slices.Sorted(func(yield func(int64) bool) {
		for _, v := range won {
			if !yield(v) {
				return
			}
		}
	})
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("versions of the winning holds = %v; want 1…%d", versions, users/2)
		}
	}
	snap, err := s.Snapshot(context.Background(), 1, key(1, 1).Date, t0)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != users/2 || len(snap.Active) != users/2 {
		t.Fatalf("snapshot: version %d, %d active; want %d and %d", snap.Version, len(snap.Active), users/2, users/2)
	}
	st := s.WriteStats()
	t.Logf("%d changes in %d transactions", st.Changes, st.Transactions)
}

// walFrames empties SQLite's WAL into the database, runs change alone and
// returns the frames (pages) its commit appended to the WAL.
func walFrames(t *testing.T, s *Store, change func()) int {
	t.Helper()
	ctx := context.Background()
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	change()
	var busy, frames, done int
	if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
		t.Fatal(err)
	}
	return frames
}

// A hold and a release each write one page per table and index they
// change: reservations and its three indexes, the grid's version, the
// audit entry and its index. AUTOINCREMENT's counter page, and the expiry
// index entry of every reservation whatever its state, are gone.
func TestPagesPerChange(t *testing.T) {
	s := newSeeded(t, sqliteBackend())
	ctx := context.Background()
	const most = 7
	hold := walFrames(t, s, func() { mustHold(t, s, key(1, 1), 10, t0) })
	release := walFrames(t, s, func() {
		if _, err := s.Release(ctx, key(1, 1), as(10), t0); err != nil {
			t.Fatal(err)
		}
	})
	if hold > most || release > most {
		t.Fatalf("a hold wrote %d pages and a release %d; want at most %d each", hold, release, most)
	}
	t.Logf("pages written: hold %d, release %d", hold, release)
}
