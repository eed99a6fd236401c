package mio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// The backend's stati that make a slot taken: a confirmed booking, and a
// pending one whose scadenza_slot has not passed (or is NULL, which the
// backend's grid reads as held for good). Every other stato frees it.
const (
	statoHeld      = "in attesa"
	statoBooked    = "confermata"
	statoExpired   = "scaduta"
	statoCancelled = "cancellata"
	statoCompleted = "completata"
)

// row is one Prenotazione row as the slot code needs it.
type row struct {
	id, user, spazio int64
	stato            string
	scadenza         *time.Time // UTC
	inizio, fine     time.Time  // wall times, in UTC's clothes
	created          *time.Time
}

// active reports whether r takes its slots at now, as the backend's grid
// query decides it.
func (r row) active(now time.Time) bool {
	switch r.stato {
	case statoBooked:
		return true
	case statoHeld:
		return r.scadenza == nil || r.scadenza.After(now)
	}
	return false
}

// slotsOf lists the slot numbers r covers on its own date, by the
// backend's rule: the hours from EXTRACT(HOUR FROM data_inizio) up to,
// not including, EXTRACT(HOUR FROM data_fine), within 09:00–18:00.
func (r row) slotsOf() []int {
	var out []int
	for h := r.inizio.Hour(); h < r.fine.Hour(); h++ {
		if n := h - firstHour; n >= 1 && n <= slotsPerDay {
			out = append(out, n)
		}
	}
	return out
}

// single reports whether r covers exactly one slot and nothing else: the
// rows the backend's slot routes (and coworkctl) create.
func (r row) single() bool {
	return r.fine.Sub(r.inizio) == time.Hour && r.inizio.Minute() == 0 && r.inizio.Second() == 0
}

func (r row) date() string { return r.inizio.Format(slots.DateLayout) }

// reservation is r's reservation of slot n of sede's spazio as slots
// knows it, its state mapped from stato.
func (r row) reservation(sede int64, n int) slots.Reservation {
	res := slots.Reservation{ID: r.id, Key: slots.SlotKey{SpazioID: r.spazio, SedeID: sede, Date: r.date(), Slot: n}, UserID: r.user}
	switch r.stato {
	case statoHeld:
		res.State = slots.StateOccupied
		if r.scadenza != nil {
			res.ExpiresAt = *r.scadenza
		}
	case statoBooked:
		res.State = slots.StateBooked
	case statoExpired:
		res.State = slots.StateExpired
	case statoCancelled, "annullata":
		res.State = slots.StateCancelled
	default:
		res.State = slots.StateReleased
	}
	if r.created != nil {
		res.CreatedAt = *r.created
	}
	res.UpdatedAt = res.CreatedAt
	return res
}

// rowCols are the columns scanRow reads, in its order.
const rowCols = `id_prenotazione, id_utente, id_spazio, stato, scadenza_slot, data_inizio, data_fine, data_creazione`

func scanRow(sc interface{ Scan(...any) error }) (row, error) {
	var r row
	err := sc.Scan(&r.id, &r.user, &r.spazio, &r.stato, &r.scadenza, &r.inizio, &r.fine, &r.created)
	return r, err
}

func collectRows(rows pgx.Rows) ([]row, error) {
	defer rows.Close()
	var out []row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// dayBounds are the wall-time midnights that start date and the next day.
func dayBounds(date string) (time.Time, time.Time, error) {
	d, err := slots.ParseDate(date)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return d, d.AddDate(0, 0, 1), nil
}

// slotStart is the wall time slot n of date starts at.
func slotStart(date string, n int) (time.Time, error) {
	d, _, err := dayBounds(date)
	if err != nil {
		return time.Time{}, err
	}
	return d.Add(time.Duration(firstHour+n) * time.Hour), nil
}

// wall is the wall time of t in the store's zone, as the TIMESTAMP
// columns data_inizio and data_fine hold it.
func (s *Store) wall(t time.Time) time.Time {
	t = t.In(s.loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// pick is the row a slot shows among the active rows covering it: a
// booking before a hold, then the oldest.
func pick(rs []row) row {
	best := rs[0]
	for _, r := range rs[1:] {
		if (r.stato == statoBooked) != (best.stato == statoBooked) {
			if r.stato == statoBooked {
				best = r
			}
			continue
		}
		if r.id < best.id {
			best = r
		}
	}
	return best
}

// bySlot groups the active rows by the slots they cover.
func bySlot(rs []row, now time.Time) map[int][]row {
	m := map[int][]row{}
	for _, r := range rs {
		if !r.active(now) {
			continue
		}
		for _, n := range r.slotsOf() {
			m[n] = append(m[n], r)
		}
	}
	return m
}

// Snapshot reads a grid's version and the rows taking its slots in one
// statement (one database snapshot), and derives each slot's reservation
// as the backend's grid does: the rows of that spazio starting on date,
// 'confermata' or 'in attesa' with scadenza_slot NULL or after now, each
// covering the hours from its start to its end. A slot two rows cover
// shows the booking, else the older hold.
func (s *Store) Snapshot(ctx context.Context, spazioID int64, date string, now time.Time) (slots.Snapshot, error) {
	from, to, err := dayBounds(date)
	if err != nil {
		return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT g.version, g.sede, p.id_prenotazione, p.id_utente, p.id_spazio, p.stato, p.scadenza_slot, p.data_inizio, p.data_fine, p.data_creazione
		FROM (SELECT (SELECT COALESCE(MAX(version), 0) FROM `+s.q.versions+` WHERE spazio_id = $1 AND date = $2) AS version,
		             (SELECT id_sede FROM Spazio WHERE id_spazio = $1) AS sede) g
		LEFT JOIN Prenotazione p ON p.id_spazio = $1 AND p.data_inizio >= $3 AND p.data_inizio < $4
		 AND p.stato IN ('confermata', 'in attesa') AND (p.scadenza_slot IS NULL OR p.scadenza_slot > $5)`,
		spazioID, date, from, to, now.UTC())
	if err != nil {
		return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
	}
	defer rows.Close()
	var (
		snap slots.Snapshot
		sede *int64
		rs   []row
	)
	for rows.Next() {
		var (
			id, user, spazio *int64
			stato            *string
			inizio, fine     *time.Time
			r                row
		)
		if err := rows.Scan(&snap.Version, &sede, &id, &user, &spazio, &stato, &r.scadenza, &inizio, &fine, &r.created); err != nil {
			return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
		}
		if id == nil {
			continue
		}
		r.id, r.user, r.spazio, r.stato, r.inizio, r.fine = *id, *user, *spazio, *stato, *inizio, *fine
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return slots.Snapshot{}, fmt.Errorf("snapshot of spazio %d on %s: %w", spazioID, date, err)
	}
	var sedeID int64
	if sede != nil {
		sedeID = *sede
	}
	taken := bySlot(rs, now)
	for n := 1; n <= slotsPerDay; n++ {
		if cover := taken[n]; len(cover) > 0 {
			snap.Active = append(snap.Active, pick(cover).reservation(sedeID, n))
		}
	}
	return snap, nil
}

// coveringQuery selects the rows starting on a date ($2, $3 its bounds) of
// spazio $1 that cover hour $4, by the backend's hour rule.
const coveringQuery = `SELECT ` + rowCols + ` FROM Prenotazione
	WHERE id_spazio = $1 AND data_inizio >= $2 AND data_inizio < $3
	  AND EXTRACT(HOUR FROM data_inizio) <= $4 AND EXTRACT(HOUR FROM data_fine) > $4
	  AND stato IN ('confermata', 'in attesa')
	ORDER BY id_prenotazione`

// slotLockKey keys the transaction-scoped advisory lock that serialises
// the holds of one slot (spazio and hour) on every node: the backend's
// tables have no constraint coworkctl could lean on.
func slotLockKey(spazioID int64, start time.Time) (int32, int32) {
	return int32(spazioID), int32(start.Unix() / 3600)
}

// holdLockClass keys the per-user lock of the hold cap ("hold" in ASCII).
const holdLockClass int32 = 0x686f6c64

// Hold inserts an 'in attesa' row for the slot's hour with scadenza_slot
// expiresAt, as the backend's hold route does, after checking under an
// advisory lock on the slot that no row takes it: of concurrent holds on
// one slot, on any node, exactly one wins. A lapsed one-hour hold on the
// slot is marked 'scaduta' first and returned as Expired.
func (s *Store) Hold(ctx context.Context, key slots.SlotKey, by slots.Actor, now, expiresAt time.Time, maxHolds int) (slots.HoldResult, error) {
	start, err := slotStart(key.Date, key.Slot)
	if err != nil {
		return slots.HoldResult{}, fmt.Errorf("hold %s: %w", keyString(key), err)
	}
	from, to, _ := dayBounds(key.Date)
	var res slots.HoldResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if maxHolds > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, holdLockClass, int32(by.UserID)^int32(by.UserID>>32)); err != nil {
				return fmt.Errorf("lock holds of user %d: %w", by.UserID, err)
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM Prenotazione WHERE id_utente = $1 AND stato = 'in attesa' AND scadenza_slot > $2`,
				by.UserID, now.UTC()).Scan(&n); err != nil {
				return fmt.Errorf("count holds of user %d: %w", by.UserID, err)
			}
			if n >= maxHolds {
				return &slots.LimitError{Err: slots.ErrHoldLimit, Limit: maxHolds}
			}
		}
		k1, k2 := slotLockKey(key.SpazioID, start)
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, k1, k2); err != nil {
			return fmt.Errorf("lock slot: %w", err)
		}
		rows, err := tx.Query(ctx, coveringQuery, key.SpazioID, from, to, start.Hour())
		if err != nil {
			return err
		}
		cover, err := collectRows(rows)
		if err != nil {
			return err
		}
		for _, r := range cover {
			if r.active(now) {
				return slots.ErrSlotTaken
			}
		}
		for _, r := range cover {
			if !r.single() || res.Expired != nil {
				continue // a lapsed multi-hour row is the sweeper's: it frees all its slots
			}
			tag, err := tx.Exec(ctx, `UPDATE Prenotazione SET stato = 'scaduta', scadenza_slot = NULL WHERE id_prenotazione = $1 AND stato = 'in attesa'`, r.id)
			if err != nil {
				return fmt.Errorf("expire lapsed hold: %w", err)
			}
			if tag.RowsAffected() == 1 {
				e := r.reservation(key.SedeID, key.Slot)
				e.State, e.UpdatedAt = slots.StateExpired, now
				res.Expired = &e
			}
		}
		r := row{user: by.UserID, spazio: key.SpazioID, stato: statoHeld, inizio: start, fine: start.Add(time.Hour)}
		exp := expiresAt.UTC()
		r.scadenza = &exp
		if err := tx.QueryRow(ctx, `
			INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot)
			VALUES ($1, $2, $3, $4, 'in attesa', $5) RETURNING id_prenotazione, data_creazione`,
			by.UserID, key.SpazioID, r.inizio, r.fine, exp).Scan(&r.id, &r.created); err != nil {
			return err
		}
		res.Reservation = r.reservation(key.SedeID, key.Slot)
		res.Reservation.UpdatedAt = now
		changes := 1
		if res.Expired != nil {
			changes = 2
		}
		v, err := s.bumpVersion(ctx, tx, key.SpazioID, key.Date, changes)
		if err != nil {
			return err
		}
		res.Reservation.Version = v
		var audit []slots.AuditEntry
		if res.Expired != nil {
			res.Expired.Version = v - 1
			audit = append(audit, expiryEntry(*res.Expired))
		}
		audit = append(audit, entry(slots.AuditHold, res.Reservation, slots.StatusAvailable, by, ""))
		return s.writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return slots.HoldResult{}, fmt.Errorf("hold %s: %w", keyString(key), mapFK(err))
	}
	return res, nil
}

// mapFK turns a foreign key violation of Prenotazione into the domain's
// error: an unknown spazio, or a user the backend does not know.
func mapFK(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23503" {
		return err
	}
	if pe.ConstraintName == "prenotazione_id_utente_fkey" {
		return fmt.Errorf("%w: the user is not in the backend's Utente table", slots.ErrBadInput)
	}
	return slots.ErrSpazioNotFound
}

// ownRowPredicate selects user $1's one-hour rows of spazio $2 starting
// at the slot's hour ($3 the start, $4 the end), as the backend's book and
// release routes select them, and only unexpired ones ($5 now).
const ownRowPredicate = `id_utente = $1 AND id_spazio = $2 AND stato = 'in attesa'
	AND data_inizio >= $3 AND data_inizio < $4 AND data_fine <= $4
	AND (scadenza_slot IS NULL OR scadenza_slot > $5)`

// Book confirms the user's unexpired hold: stato 'confermata' and no
// scadenza_slot, as the backend's book route does.
func (s *Store) Book(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	return s.endHold(ctx, key, by, now, slots.AuditBook, `UPDATE Prenotazione SET stato = 'confermata', scadenza_slot = NULL
		WHERE `+ownRowPredicate+` RETURNING `+rowCols)
}

// Release deletes the user's unexpired hold, as the backend's release
// route does.
func (s *Store) Release(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time) (slots.Reservation, error) {
	return s.endHold(ctx, key, by, now, slots.AuditRelease, `DELETE FROM Prenotazione WHERE `+ownRowPredicate+` RETURNING `+rowCols)
}

func (s *Store) endHold(ctx context.Context, key slots.SlotKey, by slots.Actor, now time.Time, action, query string) (slots.Reservation, error) {
	start, err := slotStart(key.Date, key.Slot)
	if err != nil {
		return slots.Reservation{}, fmt.Errorf("%s %s: %w", action, keyString(key), err)
	}
	var res slots.Reservation
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, by.UserID, key.SpazioID, start, start.Add(time.Hour), now.UTC())
		if err != nil {
			return err
		}
		rs, err := collectRows(rows)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return slots.ErrNotHeld
		}
		held := rs[0].reservation(key.SedeID, key.Slot)
		res = held
		// A booked or released reservation has no deadline any more; the
		// DELETE returns the row as it was.
		res.UpdatedAt, res.ExpiresAt = now, time.Time{}
		res.State = slots.StateBooked
		if action == slots.AuditRelease {
			res.State = slots.StateReleased
		}
		if res.Version, err = s.bumpVersion(ctx, tx, key.SpazioID, key.Date, 1); err != nil {
			return err
		}
		return s.writeAudit(ctx, tx, []slots.AuditEntry{entry(action, res, slots.StatusOccupied, by, "")})
	})
	if err != nil {
		return slots.Reservation{}, fmt.Errorf("%s %s: %w", action, keyString(key), err)
	}
	return res, nil
}

// Cancel sets the slot's active row to 'cancellata', as the backend's
// cancel does, whoever holds it. Only one-hour rows: a row of the booking
// flow spanning several hours is cancelled in the backend, which frees all
// its hours at once (and coworkctl announces that).
func (s *Store) Cancel(ctx context.Context, key slots.SlotKey, by slots.Actor, reason string, expected int64, now time.Time) (slots.CancelResult, error) {
	start, err := slotStart(key.Date, key.Slot)
	if err != nil {
		return slots.CancelResult{}, fmt.Errorf("cancel %s: %w", keyString(key), err)
	}
	from, to, _ := dayBounds(key.Date)
	var res slots.CancelResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		r, err := s.cancelRow(ctx, tx, key, start, from, to, expected, now)
		if err != nil {
			return err
		}
		was := r.reservation(key.SedeID, key.Slot)
		res.From = was.State
		res.Reservation = was
		res.Reservation.State, res.Reservation.ExpiresAt, res.Reservation.UpdatedAt = slots.StateCancelled, time.Time{}, now
		if res.Reservation.Version, err = s.bumpVersion(ctx, tx, key.SpazioID, key.Date, 1); err != nil {
			return err
		}
		fromStatus := slots.StatusOccupied
		if res.From == slots.StateBooked {
			fromStatus = slots.StatusBooked
		}
		return s.writeAudit(ctx, tx, []slots.AuditEntry{entry(slots.AuditCancel, res.Reservation, fromStatus, by, reason)})
	})
	if err != nil {
		return slots.CancelResult{}, fmt.Errorf("cancel %s: %w", keyString(key), err)
	}
	return res, nil
}

// cancelAttempts bounds how often Cancel reads the slot again after its
// row changed under it: a row goes from held to booked at most once, so
// the second read finds the state to cancel unless the row keeps churning.
const cancelAttempts = 3

// cancelRow sets the slot's active row to 'cancellata' and returns it as
// it was. The update is conditional, so that a row another transaction
// changed since the read is left alone (locking the rows up front could
// close a deadlock with a sweep locking lapsed ones); then the slot is
// read again, since the change may have left it active: a hold booked
// meanwhile is still there to cancel.
func (s *Store) cancelRow(ctx context.Context, tx pgx.Tx, key slots.SlotKey, start, from, to time.Time, expected int64, now time.Time) (row, error) {
	for range cancelAttempts {
		rows, err := tx.Query(ctx, coveringQuery, key.SpazioID, from, to, start.Hour())
		if err != nil {
			return row{}, err
		}
		cover, err := collectRows(rows)
		if err != nil {
			return row{}, err
		}
		var live []row
		for _, r := range cover {
			if r.active(now) {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			return row{}, slots.ErrNothingToCancel
		}
		r := pick(live)
		if expected != 0 && r.id != expected {
			return row{}, fmt.Errorf("%w: prenotazione %d, not %d", slots.ErrSlotChanged, r.id, expected)
		}
		if !r.single() {
			return row{}, fmt.Errorf("%w: prenotazione %d spans several hours; cancel it in the backend", slots.ErrNothingToCancel, r.id)
		}
		tag, err := tx.Exec(ctx, `UPDATE Prenotazione SET stato = 'cancellata', scadenza_slot = NULL
			WHERE id_prenotazione = $1 AND stato = $2 AND (scadenza_slot IS NULL OR scadenza_slot > $3)`, r.id, r.stato, now.UTC())
		if err != nil {
			return row{}, err
		}
		if tag.RowsAffected() == 1 {
			return r, nil
		}
	}
	return row{}, fmt.Errorf("%w: the slot's prenotazione kept changing", slots.ErrNothingToCancel)
}

func keyString(k slots.SlotKey) string {
	return fmt.Sprintf("spazio %d %s slot %d", k.SpazioID, k.Date, k.Slot)
}
