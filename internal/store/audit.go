package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/auditrow"
)

// auditInsertCols are the columns an insert writes: all but the id.
const auditInsertCols = `at, action, spazio_id, sede_id, date, slot, from_status, to_status, reservation_id, holder_id, user_id, role, reason, version`

// auditBatch bounds the rows of one INSERT: 14 parameters each keeps a
// sweep of many expiries far below either database's parameter limit.
const auditBatch = 200

// slotStatus is the status clients see for a slot whose reservation is in
// state: occupied and booked as they are, free otherwise.
func slotStatus(state string) string {
	switch state {
	case slots.StateOccupied:
		return string(slots.StatusOccupied)
	case slots.StateBooked:
		return string(slots.StatusBooked)
	}
	return string(slots.StatusAvailable)
}

// entry is the audit entry of a change that took r's slot from the status
// from to the one r's state (as the change returned r, with its Version)
// shows.
func entry(action string, r slots.Reservation, from string, by slots.Actor, reason string) slots.AuditEntry {
	return slots.AuditEntry{
		At: r.UpdatedAt, Action: action, Key: r.Key, From: from, To: slotStatus(r.State),
		ReservationID: r.ID, HolderID: r.UserID, Actor: by, Reason: reason, Version: r.Version,
	}
}

// expiryEntry is the audit entry of r's expiry: nobody acted, so the actor
// is the holder with slots.RoleSystem.
func expiryEntry(r slots.Reservation) slots.AuditEntry {
	return entry(slots.AuditExpire, r, string(slots.StatusOccupied), slots.Actor{UserID: r.UserID, Role: slots.RoleSystem}, "")
}

// writeAudit inserts entries in tx, the transaction of their changes,
// after the grid versions were bumped (entries carry them). It waits for
// no lock: slot_audit has no foreign keys, and its only unique key
// (spazio, date, version) belongs to whoever locked the grid's version row.
func (s *Store) writeAudit(ctx context.Context, tx *sql.Tx, entries []slots.AuditEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), auditBatch)
		var b strings.Builder
		b.WriteString(`INSERT INTO slot_audit (` + auditInsertCols + `) VALUES `)
		args := make([]any, 0, n*14)
		for i, e := range entries[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, toMillis(e.At), e.Action, e.Key.SpazioID, e.Key.SedeID, e.Key.Date, e.Key.Slot,
				e.From, e.To, e.ReservationID, e.HolderID, e.Actor.UserID, e.Actor.Role, e.Reason, e.Version)
		}
		query := b.String()
		var err error
		if n == 1 {
			// The one-entry insert of every hold, book and release is a
			// fixed text: prepared once.
			_, err = s.txExec(ctx, tx, query, args...)
		} else {
			_, err = tx.ExecContext(ctx, s.q(query), args...)
		}
		if err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// History lists the audit entries of spazioID's grid on date, of one slot
// when slot > 0, highest version first, at most limit.
func (s *Store) History(ctx context.Context, spazioID int64, date string, slot, limit int) ([]slots.AuditEntry, error) {
	query := `SELECT ` + auditrow.Columns + ` FROM slot_audit WHERE spazio_id = ? AND date = ?`
	args := []any{spazioID, date}
	if slot > 0 {
		query += ` AND slot = ?`
		args = append(args, slot)
	}
	query += ` ORDER BY version DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("history of spazio %d on %s: %w", spazioID, date, err)
	}
	defer rows.Close()
	es, err := auditrow.Scan(rows)
	if err != nil {
		return nil, fmt.Errorf("history of spazio %d on %s: %w", spazioID, date, err)
	}
	return es, nil
}
