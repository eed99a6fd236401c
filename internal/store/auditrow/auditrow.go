// Package auditrow is the row shape of the slot_audit table, shared by
// the stores of both table layouts: its column list and how a row of it
// becomes a slots.AuditEntry.
package auditrow

import (
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Columns lists slot_audit's columns in the order Scan reads them.
const Columns = `id, at, action, spazio_id, sede_id, date, slot, from_status, to_status, reservation_id, holder_id, user_id, role, reason, version`

// Rows is a query's result as database/sql and pgx both give it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Scan reads every row of a SELECT of Columns; at is stored in Unix
// milliseconds.
func Scan(rows Rows) ([]slots.AuditEntry, error) {
	var es []slots.AuditEntry
	for rows.Next() {
		var (
			e  slots.AuditEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Key.SpazioID, &e.Key.SedeID, &e.Key.Date, &e.Key.Slot,
			&e.From, &e.To, &e.ReservationID, &e.HolderID, &e.Actor.UserID, &e.Actor.Role, &e.Reason, &e.Version); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		es = append(es, e)
	}
	return es, rows.Err()
}
