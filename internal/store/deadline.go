package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// DefaultTimeout bounds one store operation (--store-timeout).
const DefaultTimeout = 5 * time.Second

// notStartedError marks a failure before any statement of a write ran
// (at BEGIN, or acquiring its connection): retrying it cannot apply a
// change twice.
type notStartedError struct{ err error }

func (e *notStartedError) Error() string { return e.err.Error() }
func (e *notStartedError) Unwrap() error { return e.err }

// Bounded is a Store whose every slots.Store operation has a deadline and
// fails with slots.ErrUnavailable when the database does not answer in
// time or its connection is lost; a write that failed before any of its
// statements ran, and a read that failed on a lost connection, is tried
// once more (database/sql then hands out another connection, and pgx
// checks an idle one before reuse). Without a deadline a locked table
// held requests for as long as the lock (69 s seen), with no answer.
type Bounded struct {
	slots.Store
	name    string
	timeout time.Duration
	// probe reads the slot tables (ping when the store cannot); dropIdle,
	// when set, closes idle connections before a retry.
	probe    func(context.Context) error
	dropIdle func()
	// holdAt, when set, is a Hold that moves the expiry by the wait.
	holdAt func(ctx context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, maxHolds int, start time.Time) (slots.HoldResult, error)
	// lastTimeout is when an operation last ran out of time (unix nanos),
	// for readiness.
	lastTimeout atomic.Int64
}

var _ slots.Store = (*Bounded)(nil)

// WithTimeout bounds every operation of s by d (DefaultTimeout when d <= 0).
// s is any slots.Store; this package's own gets the table probe, the
// fresh-connection retry and the expiry counted from the insert.
func WithTimeout(s slots.Store, d time.Duration) *Bounded {
	if d <= 0 {
		d = DefaultTimeout
	}
	b := &Bounded{Store: s, name: fmt.Sprint(s), timeout: d, probe: s.Ping}
	if own, ok := s.(*Store); ok {
		b.name, b.probe, b.dropIdle, b.holdAt = own.name, own.probe, own.dropIdle, own.holdAt
	}
	return b
}

// Timeout is the deadline of one operation.
func (b *Bounded) Timeout() time.Duration { return b.timeout }

// LastTimeout is when an operation last hit its deadline; zero if never.
func (b *Bounded) LastTimeout() time.Time {
	if n := b.lastTimeout.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// opKind says when a failed operation may be tried again.
type opKind int

const (
	opRead  opKind = iota // idempotent: again after a lost connection
	opWrite               // again only if nothing ran (notStartedError)
)

// run calls op with a deadline, retries it once when kind allows, and
// turns a missed deadline or a lost connection into slots.ErrUnavailable.
func (b *Bounded) run(ctx context.Context, kind opKind, op func(context.Context) (any, error)) (any, error) {
	v, err := b.once(ctx, op)
	if err != nil && ctx.Err() == nil && retryable(kind, err) {
		// The connections that idled next to the dead one were most
		// likely cut with it (a database restart, a killed pool): drop
		// them so that the retry runs on a fresh connection.
		if b.dropIdle != nil {
			b.dropIdle()
		}
		v, err = b.once(ctx, op)
	}
	if err == nil || ctx.Err() != nil {
		// The caller's own context ended (a client went away): not the
		// store's fault, and not worth a 503.
		return v, err
	}
	if errors.Is(err, context.DeadlineExceeded) || isConnLost(err) {
		if errors.Is(err, context.DeadlineExceeded) {
			b.lastTimeout.Store(time.Now().UnixNano())
		}
		return v, fmt.Errorf("%w: %w", slots.ErrUnavailable, err)
	}
	return v, err
}

func (b *Bounded) once(ctx context.Context, op func(context.Context) (any, error)) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	v, err := op(ctx)
	if err != nil && ctx.Err() == context.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		// Drivers report a cancelled statement in their own words.
		err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return v, err
}

func retryable(kind opKind, err error) bool {
	var ns *notStartedError
	if errors.As(err, &ns) {
		return isConnLost(err)
	}
	return kind == opRead && isConnLost(err)
}

// isConnLost reports an error of a connection that died under the
// statement: killed by pg_terminate_backend, a server restart, a network
// cut.
func isConnLost(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash, 57P03
		// cannot connect now; class 08 is connection exceptions.
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || strings.HasPrefix(pe.Code, "08")
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "unexpected EOF")
}

// call adapts an operation with a result to run.
func call[T any](b *Bounded, ctx context.Context, kind opKind, op func(context.Context) (T, error)) (T, error) {
	v, err := b.run(ctx, kind, func(ctx context.Context) (any, error) { return op(ctx) })
	t, _ := v.(T)
	return t, err
}

// exec adapts an operation without a result to run.
func (b *Bounded) exec(ctx context.Context, kind opKind, op func(context.Context) error) error {
	_, err := b.run(ctx, kind, func(ctx context.Context) (any, error) { return nil, op(ctx) })
	return err
}

// UpsertCatalog implements slots.Store with a deadline.
func (b *Bounded) UpsertCatalog(ctx context.Context, sedi []slots.Sede) error {
	return b.exec(ctx, opWrite, func(ctx context.Context) error { return b.Store.UpsertCatalog(ctx, sedi) })
}

// Catalog implements slots.Store with a deadline.
func (b *Bounded) Catalog(ctx context.Context) ([]slots.Sede, error) {
	return call(b, ctx, opRead, b.Store.Catalog)
}

type spazioAndSede struct {
	sp slots.Spazio
	se slots.Sede
}

// Spazio implements slots.Store with a deadline.
func (b *Bounded) Spazio(ctx context.Context, spazioID int64) (slots.Spazio, slots.Sede, error) {
	v, err := call(b, ctx, opRead, func(ctx context.Context) (spazioAndSede, error) {
		sp, se, err := b.Store.Spazio(ctx, spazioID)
		return spazioAndSede{sp, se}, err
	})
	return v.sp, v.se, err
}

// Snapshot implements slots.Store with a deadline.
func (b *Bounded) Snapshot(ctx context.Context, spazioID int64, date string, now time.Time) (slots.Snapshot, error) {
	return call(b, ctx, opRead, func(ctx context.Context) (slots.Snapshot, error) {
		return b.Store.Snapshot(ctx, spazioID, date, now)
	})
}

// Hold implements slots.Store with a deadline. A hold that waited for the
// database longer than holdWaitSlack (a lock, a busy pool, a retry) has
// that wait added to its expiry, so its holder gets the whole TTL counted
// from the commit rather than from the request.
func (b *Bounded) Hold(ctx context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, maxHolds int) (slots.HoldResult, error) {
	start := time.Now()
	return call(b, ctx, opWrite, func(ctx context.Context) (slots.HoldResult, error) {
		if b.holdAt != nil {
			return b.holdAt(ctx, key, by, now, expiresAt, maxHolds, start)
		}
		return b.Store.Hold(ctx, key, by, now, expiresAt, maxHolds)
	})
}

// Book implements slots.Store with a deadline.
func (b *Bounded) Book(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	return call(b, ctx, opWrite, func(ctx context.Context) (slots.Reservation, error) {
		return b.Store.Book(ctx, key, by, now)
	})
}

// Release implements slots.Store with a deadline.
func (b *Bounded) Release(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	return call(b, ctx, opWrite, func(ctx context.Context) (slots.Reservation, error) {
		return b.Store.Release(ctx, key, by, now)
	})
}

// Cancel implements slots.Store with a deadline.
func (b *Bounded) Cancel(ctx context.Context, key slots.SlotKey, by slots.Actor, reason string, expected int64, now time.Time) (slots.CancelResult, error) {
	return call(b, ctx, opWrite, func(ctx context.Context) (slots.CancelResult, error) {
		return b.Store.Cancel(ctx, key, by, reason, expected, now)
	})
}

// ExpireDue implements slots.Store with a deadline.
func (b *Bounded) ExpireDue(ctx context.Context, now time.Time) ([]slots.Reservation, error) {
	return call(b, ctx, opWrite, func(ctx context.Context) ([]slots.Reservation, error) {
		return b.Store.ExpireDue(ctx, now)
	})
}

type expiryAt struct {
	t  time.Time
	ok bool
}

// NextExpiry implements slots.Store with a deadline.
func (b *Bounded) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	v, err := call(b, ctx, opRead, func(ctx context.Context) (expiryAt, error) {
		t, ok, err := b.Store.NextExpiry(ctx)
		return expiryAt{t, ok}, err
	})
	return v.t, v.ok, err
}

// CountActiveHolds implements slots.Store with a deadline.
func (b *Bounded) CountActiveHolds(ctx context.Context, now time.Time) (int, error) {
	return call(b, ctx, opRead, func(ctx context.Context) (int, error) { return b.Store.CountActiveHolds(ctx, now) })
}

// History implements slots.Store with a deadline.
func (b *Bounded) History(ctx context.Context, spazioID int64, date string, slot, limit int) ([]slots.AuditEntry, error) {
	return call(b, ctx, opRead, func(ctx context.Context) ([]slots.AuditEntry, error) {
		return b.Store.History(ctx, spazioID, date, slot, limit)
	})
}

// readyWindow is how long after an operation missed its deadline the
// store still reads as not ready: a lock that stalls only writes leaves
// the probe below answering.
const readyWindow = 10 * time.Second

// Ready checks, within d, that the database answers a read of the
// reservations table (a ping does not notice a locked table) and that no
// operation missed its deadline in the last readyWindow.
func (b *Bounded) Ready(ctx context.Context, d time.Duration) error {
	if last := b.LastTimeout(); !last.IsZero() && time.Since(last) < readyWindow {
		return fmt.Errorf("%s: an operation missed its %s deadline %s ago", b.name, b.timeout, time.Since(last).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := b.probe(ctx); err != nil {
		return fmt.Errorf("%s: %w", b.name, err)
	}
	return nil
}

// String describes the store without secrets.
func (b *Bounded) String() string { return b.name }

var _ slots.Feed = (*Bounded)(nil)

// Follow passes a Feed store's changes through, without a deadline: it
// runs until ctx ends. With a store that is no Feed it returns nil at
// once, as slots.Service.RunFeed does.
func (b *Bounded) Follow(ctx context.Context, announce func(context.Context, []slots.FeedChange)) error {
	if f, ok := b.Store.(slots.Feed); ok {
		return f.Follow(ctx, announce)
	}
	return nil
}
