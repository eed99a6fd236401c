package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// reservationCols is the column list every reservation query reads or
// returns, in scanReservation's order.
const reservationCols = `id, spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanReservation(row rowScanner) (slots.Reservation, error) {
	var (
		r                    slots.Reservation
		expires              sql.NullInt64
		createdAt, updatedAt int64
	)
	if err := row.Scan(&r.ID, &r.Key.SpazioID, &r.Key.SedeID, &r.Key.Date, &r.Key.Slot, &r.UserID,
		&r.State, &expires, &createdAt, &updatedAt); err != nil {
		return slots.Reservation{}, err
	}
	if expires.Valid {
		r.ExpiresAt = fromMillis(expires.Int64)
	}
	r.CreatedAt = fromMillis(createdAt)
	r.UpdatedAt = fromMillis(updatedAt)
	return r, nil
}

func scanReservations(rows *sql.Rows) ([]slots.Reservation, error) {
	defer rows.Close()
	var rs []slots.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// keyString names a slot in errors.
func keyString(k slots.SlotKey) string {
	return fmt.Sprintf("spazio %d %s slot %d", k.SpazioID, k.Date, k.Slot)
}

// snapshotQuery reads a grid's version and its active reservations in one
// statement, so both come from one database snapshot: PostgreSQL gives
// every statement one (even under READ COMMITTED), and SQLite runs a
// statement in one read transaction, which in WAL mode sees the database
// as of its start while the writer goes on. Two statements would need a
// REPEATABLE READ transaction on PostgreSQL and an explicit read
// transaction on SQLite, and two more round trips per join.
//
// The one-row subquery makes the version come back even when no slot is
// taken: the LEFT JOIN then yields one row of NULL reservation columns.
const snapshotQuery = `
	SELECT g.version, r.id, r.spazio_id, r.sede_id, r.date, r.slot, r.user_id, r.state, r.expires_at, r.created_at, r.updated_at
	FROM (SELECT COALESCE(MAX(version), 0) AS version FROM grid_versions WHERE spazio_id = ? AND date = ?) g
	LEFT JOIN reservations r
	  ON r.spazio_id = ? AND r.date = ? AND r.state IN ('occupied', 'booked')
	 AND (r.state = 'booked' OR r.expires_at > ?)
	ORDER BY r.slot`

// Snapshot reads the version and the occupied and booked reservations
// (ordered by slot, leaving out holds with ExpiresAt <= now) of one spazio
// and date in one statement: see snapshotQuery.
func (s *Store) Snapshot(ctx context.Context, spazioID int64, date string, now time.Time) (slots.Snapshot, error) {
	rows, err := s.readRows(ctx, snapshotQuery, spazioID, date, spazioID, date, toMillis(now))
	if err != nil {
		return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
	}
	snap, err := scanSnapshot(rows)
	if err != nil {
		return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
	}
	return snap, nil
}

// scanSnapshot reads snapshotQuery's rows: the version, then reservation
// columns that are all NULL when the grid has no active reservation.
func scanSnapshot(rows *sql.Rows) (slots.Snapshot, error) {
	defer rows.Close()
	var snap slots.Snapshot
	for rows.Next() {
		var (
			id, spazio, sede, slot, user, created, updated, expires sql.NullInt64
			date, state                                             sql.NullString
		)
		if err := rows.Scan(&snap.Version, &id, &spazio, &sede, &date, &slot, &user, &state, &expires, &created, &updated); err != nil {
			return slots.Snapshot{}, err
		}
		if !id.Valid {
			continue
		}
		r := slots.Reservation{
			ID: id.Int64, Key: slots.SlotKey{SpazioID: spazio.Int64, SedeID: sede.Int64, Date: date.String, Slot: int(slot.Int64)},
			UserID: user.Int64, State: state.String, CreatedAt: fromMillis(created.Int64), UpdatedAt: fromMillis(updated.Int64),
		}
		if expires.Valid {
			r.ExpiresAt = fromMillis(expires.Int64)
		}
		snap.Active = append(snap.Active, r)
	}
	return snap, rows.Err()
}

// bumpVersion adds n to the version of the grid of spazioID on date and
// returns the new version, creating the grid's row at n when it has none.
//
// It must run in the transaction of the change it counts, after the
// change's own statements: on PostgreSQL the upsert locks the grid's row
// until commit, so concurrent changes of one grid (on any node) get
// consecutive versions in commit order, and taking that lock last means a
// transaction holding it waits for nothing else, so it cannot close a
// deadlock. Only the change's audit entries are written after it, and they
// wait for nothing (see writeAudit). On SQLite the transaction already
// holds the write lock.
func (s *Store) bumpVersion(ctx context.Context, tx *sql.Tx, spazioID int64, date string, n int) (int64, error) {
	var v int64
	if err := s.txRow(ctx, tx, `
		INSERT INTO grid_versions (spazio_id, date, version) VALUES (?, ?, ?)
		ON CONFLICT (spazio_id, date) DO UPDATE SET version = grid_versions.version + excluded.version
		RETURNING version`, spazioID, date, n).Scan(&v); err != nil {
		return 0, fmt.Errorf("bump version of spazio %d on %s: %w", spazioID, date, err)
	}
	return v, nil
}

// Hold creates an occupied reservation for by.UserID expiring at expiresAt.
// In the same transaction (BEGIN IMMEDIATE on SQLite) it first expires a
// lapsed hold on the slot, returned as HoldResult.Expired, and writes the
// audit entries of both changes. The unique index
// on active reservations decides between concurrent holds: the losers get
// slots.ErrSlotTaken. A spazio that does not exist gives
// slots.ErrSpazioNotFound. With maxHolds > 0, a user who already has
// maxHolds unexpired holds gets a *slots.LimitError wrapping
// slots.ErrHoldLimit (see checkHoldLimit for why that is race-free).
func (s *Store) Hold(ctx context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, maxHolds int) (slots.HoldResult, error) {
	return s.holdAt(ctx, key, by, now, expiresAt, maxHolds, time.Now())
}

// holdWaitSlack is how long a hold may wait for the database before the
// wait is added to its expiry; shorter waits leave expiresAt exact.
const holdWaitSlack = time.Second

// holdAt is Hold for a request that began at start (on this machine's
// monotonic clock): a wait of more than holdWaitSlack between start and
// the insert moves expiresAt by the wait.
func (s *Store) holdAt(ctx context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, maxHolds int, start time.Time) (slots.HoldResult, error) {
	userID := by.UserID
	nowMs := toMillis(now)
	var res slots.HoldResult
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if maxHolds > 0 {
			if err := s.checkHoldLimit(ctx, tx, userID, nowMs, maxHolds); err != nil {
				return err
			}
		}
		expired, err := scanReservation(s.txRow(ctx, tx, `
			UPDATE reservations SET state = 'expired', updated_at = ?
			WHERE spazio_id = ? AND date = ? AND slot = ? AND state = 'occupied' AND expires_at <= ?
			  AND state IN ('occupied', 'booked') -- lets SQLite use reservations_active_slot
			RETURNING `+reservationCols,
			nowMs, key.SpazioID, key.Date, key.Slot, nowMs))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("expire lapsed hold: %w", err)
		default:
			res.Expired = &expired
		}
		expires := expiresAt
		if waited := time.Since(start); waited > holdWaitSlack {
			expires = expiresAt.Add(waited)
		}
		res.Reservation, err = scanReservation(s.txRow(ctx, tx, `
			INSERT INTO reservations (spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'occupied', ?, ?, ?)
			RETURNING `+reservationCols,
			key.SpazioID, key.SedeID, key.Date, key.Slot, userID, toMillis(expires), nowMs, nowMs))
		if err != nil {
			return err
		}
		// The expiry, if any, and the hold are two changes: two versions.
		changes := 1
		if res.Expired != nil {
			changes = 2
		}
		v, err := s.bumpVersion(ctx, tx, key.SpazioID, key.Date, changes)
		if err != nil {
			return err
		}
		res.Reservation.Version = v
		audit := make([]slots.AuditEntry, 0, 2)
		if res.Expired != nil {
			res.Expired.Version = v - 1
			audit = append(audit, expiryEntry(*res.Expired))
		}
		audit = append(audit, entry(slots.AuditHold, res.Reservation, string(slots.StatusAvailable), by, ""))
		return s.writeAudit(ctx, tx, audit)
	})
	switch {
	case err == nil:
		return res, nil
	case s.dialect.isActiveSlotConflict(err):
		return slots.HoldResult{}, fmt.Errorf("hold %s: %w", keyString(key), slots.ErrSlotTaken)
	case s.dialect.isForeignKeyViolation(err):
		return slots.HoldResult{}, fmt.Errorf("hold %s: %w", keyString(key), slots.ErrSpazioNotFound)
	default:
		return slots.HoldResult{}, fmt.Errorf("hold %s: %w", keyString(key), err)
	}
}

// holdLockClass is the first key of the pg_advisory_xact_lock(int, int)
// that serialises one user's holds ("hold" in ASCII). The two-key form
// lives in its own key space, apart from the migration lock's one-key form.
const holdLockClass int32 = 0x686f6c64

// checkHoldLimit returns a *slots.LimitError when userID has maxHolds or
// more holds unexpired at nowMs. It runs first in the hold's transaction,
// and what makes it race-free is that no other hold by the same user can
// commit between its count and the caller's commit:
//
//   - SQLite: the transaction began IMMEDIATE, so it holds the database's
//     write lock; every other writer, in this process or another, waits.
//   - PostgreSQL: READ COMMITTED would let two transactions count the same
//     rows and both insert, so it first takes a transaction-scoped advisory
//     lock keyed by the user. A second hold by the user (on any node) waits
//     there until the first commits, and its count, a new statement, then
//     sees the first's row. Users whose ids fold to the same key merely
//     take turns. The lock is the transaction's first, so it cannot join a
//     deadlock with the row and index locks taken after it.
func (s *Store) checkHoldLimit(ctx context.Context, tx *sql.Tx, userID, nowMs int64, maxHolds int) error {
	if s.dialect == postgresDialect && !s.skipHoldLock {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`,
			holdLockClass, int32(userID)^int32(userID>>32)); err != nil {
			return fmt.Errorf("lock holds of user %d: %w", userID, err)
		}
	}
	var n int
	if err := s.txRow(ctx, tx, `
		SELECT COUNT(*) FROM reservations
		WHERE user_id = ? AND state = 'occupied' AND expires_at > ?`, userID, nowMs).Scan(&n); err != nil {
		return fmt.Errorf("count holds of user %d: %w", userID, err)
	}
	if n >= maxHolds {
		return &slots.LimitError{Err: slots.ErrHoldLimit, Limit: maxHolds}
	}
	return nil
}

// Book turns by.UserID's unexpired hold on key into a booking, or returns
// slots.ErrNotHeld.
func (s *Store) Book(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	r, err := s.endHold(ctx, key, by, now, slots.AuditBook, slots.StateBooked)
	if err != nil {
		return slots.Reservation{}, fmt.Errorf("book %s: %w", keyString(key), err)
	}
	return r, nil
}

// Release ends by.UserID's unexpired hold on key, or returns slots.ErrNotHeld.
func (s *Store) Release(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	r, err := s.endHold(ctx, key, by, now, slots.AuditRelease, slots.StateReleased)
	if err != nil {
		return slots.Reservation{}, fmt.Errorf("release %s: %w", keyString(key), err)
	}
	return r, nil
}

// endHold moves by.UserID's unexpired hold on key to state, bumps the
// grid's version and writes the audit entry of action, in one transaction.
func (s *Store) endHold(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time, action, state string) (slots.Reservation, error) {
	nowMs := toMillis(now)
	var r slots.Reservation
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		r, err = scanReservation(s.txRow(ctx, tx, `
			UPDATE reservations SET state = ?, expires_at = NULL, updated_at = ?
			WHERE spazio_id = ? AND date = ? AND slot = ? AND user_id = ?
			  AND state = 'occupied' AND expires_at > ?
			  AND state IN ('occupied', 'booked') -- lets SQLite use reservations_active_slot
			RETURNING `+reservationCols,
			state, nowMs, key.SpazioID, key.Date, key.Slot, by.UserID, nowMs))
		if errors.Is(err, sql.ErrNoRows) {
			return slots.ErrNotHeld
		}
		if err != nil {
			return err
		}
		if r.Version, err = s.bumpVersion(ctx, tx, key.SpazioID, key.Date, 1); err != nil {
			return err
		}
		return s.writeAudit(ctx, tx, []slots.AuditEntry{entry(action, r, string(slots.StatusOccupied), by, "")})
	})
	if err != nil {
		return slots.Reservation{}, err
	}
	return r, nil
}

// ExpireDue marks every occupied reservation with ExpiresAt <= now expired
// in one UPDATE … RETURNING, in its own transaction, and returns the rows it changed, ordered by
// ExpiresAt then ID. Concurrent callers, on this node or others, each get a
// disjoint share. The returned rows keep their ExpiresAt, the moment they
// lapsed. Each expiry is one change of its grid: the transaction bumps
// every grid it touched by its number of expiries, the rows of one grid
// get consecutive versions in the order returned, and each gets an audit
// entry (the holder, with role slots.RoleSystem).
func (s *Store) ExpireDue(ctx context.Context, now time.Time) ([]slots.Reservation, error) {
	nowMs := toMillis(now)
	var rs []slots.Reservation
	// In a transaction so that a failure while reading the rows rolls the
	// expiry back: a hold must not turn expired without being announced.
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := s.txRows(ctx, tx, `
			UPDATE reservations SET state = 'expired', updated_at = ?
			WHERE state = 'occupied' AND expires_at <= ?
			RETURNING `+reservationCols, nowMs, nowMs)
		if err != nil {
			return err
		}
		if rs, err = scanReservations(rows); err != nil {
			return err
		}
		slices.SortFunc(rs, func(a, b slots.Reservation) int {
			return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.ID, b.ID))
		})
		if err := s.versionExpiries(ctx, tx, rs); err != nil {
			return err
		}
		audit := make([]slots.AuditEntry, len(rs))
		for i, r := range rs {
			audit[i] = expiryEntry(r)
		}
		return s.writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, fmt.Errorf("expire due holds: %w", err)
	}
	return rs, nil
}

// Cancel ends the active reservation on key (a booking, or a hold
// unexpired at now) for staff by: it turns cancelled, the grid's version
// is bumped and the audit entry, with reason, written, in one transaction.
// slots.ErrNothingToCancel when the slot has no active reservation; with
// expected non-zero, slots.ErrSlotChanged when it has another one.
//
// The reservation is read before it is changed, for its previous state
// and to compare it with expected. On SQLite the transaction holds the
// write lock throughout. On PostgreSQL the read locks the row (FOR
// UPDATE): a concurrent book or release that commits first is seen, as
// READ COMMITTED re-reads a row it waited for and re-checks the WHERE, so
// Cancel reports the booking it now is or that nothing is left to cancel.
func (s *Store) Cancel(ctx context.Context, key slots.SlotKey, by slots.Actor, reason string, expected int64, now time.Time) (slots.CancelResult, error) {
	nowMs := toMillis(now)
	lock := ""
	if s.dialect == postgresDialect {
		lock = " FOR UPDATE"
	}
	var res slots.CancelResult
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := scanReservation(s.txRow(ctx, tx, `
			SELECT `+reservationCols+` FROM reservations
			WHERE spazio_id = ? AND date = ? AND slot = ?
			  AND (state = 'booked' OR (state = 'occupied' AND expires_at > ?))`+lock,
			key.SpazioID, key.Date, key.Slot, nowMs))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return slots.ErrNothingToCancel
		case err != nil:
			return err
		case expected != 0 && cur.ID != expected:
			return fmt.Errorf("%w: prenotazione %d is there, not %d", slots.ErrSlotChanged, cur.ID, expected)
		}
		r, err := scanReservation(s.txRow(ctx, tx, `
			UPDATE reservations SET state = 'cancelled', expires_at = NULL, updated_at = ?
			WHERE id = ?
			RETURNING `+reservationCols, nowMs, cur.ID))
		if err != nil {
			return err
		}
		if r.Version, err = s.bumpVersion(ctx, tx, key.SpazioID, key.Date, 1); err != nil {
			return err
		}
		res = slots.CancelResult{Reservation: r, From: cur.State}
		return s.writeAudit(ctx, tx, []slots.AuditEntry{entry(slots.AuditCancel, r, slotStatus(cur.State), by, reason)})
	})
	if err != nil {
		return slots.CancelResult{}, fmt.Errorf("cancel %s: %w", keyString(key), err)
	}
	return res, nil
}

// grid names one spazio's slot grid on one date.
type grid struct {
	spazioID int64
	date     string
}

// versionExpiries bumps the grid of every expired reservation once per
// expiry and sets each reservation's Version, consecutive per grid in the
// order of rs. Grids are bumped in (spazio, date) order, so that two
// sweepers on PostgreSQL that expire holds of the same grids lock their
// version rows in the same order and cannot deadlock.
func (s *Store) versionExpiries(ctx context.Context, tx *sql.Tx, rs []slots.Reservation) error {
	count := map[grid]int{}
	for _, r := range rs {
		count[grid{r.Key.SpazioID, r.Key.Date}]++
	}
	grids := slices.SortedFunc(maps.Keys(count), func(a, b grid) int {
		return cmp.Or(cmp.Compare(a.spazioID, b.spazioID), cmp.Compare(a.date, b.date))
	})
	next := make(map[grid]int64, len(grids))
	for _, g := range grids {
		top, err := s.bumpVersion(ctx, tx, g.spazioID, g.date, count[g])
		if err != nil {
			return err
		}
		next[g] = top - int64(count[g]) + 1
	}
	for i := range rs {
		g := grid{rs[i].Key.SpazioID, rs[i].Key.Date}
		rs[i].Version = next[g]
		next[g]++
	}
	return nil
}

// NextExpiry returns the earliest ExpiresAt of an occupied reservation,
// lapsed or not, so that a sweeper started late fires at once.
func (s *Store) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.readRow(ctx,
		`SELECT MIN(expires_at) FROM reservations WHERE state = 'occupied'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next expiry: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(next.Int64), true, nil
}

// CountActiveHolds counts occupied reservations with ExpiresAt > now.
func (s *Store) CountActiveHolds(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.readRow(ctx,
		`SELECT COUNT(*) FROM reservations WHERE state = 'occupied' AND expires_at > ?`, toMillis(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count active holds: %w", err)
	}
	return n, nil
}
