package mio

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/auditrow"
)

// grid names one spazio's slots on one date: the unit of versions.
type grid struct {
	spazio int64
	date   string
}

func compareGrids(a, b grid) int {
	return cmp.Or(cmp.Compare(a.spazio, b.spazio), strings.Compare(a.date, b.date))
}

// bumpVersion adds n to a grid's version and returns the new one. It runs
// last in a one-grid change's transaction: the upsert locks the grid's row
// until commit, so changes of one grid get consecutive versions in commit
// order on every node.
func (s *Store) bumpVersion(ctx context.Context, tx pgx.Tx, spazioID int64, date string, n int) (int64, error) {
	var v int64
	if err := tx.QueryRow(ctx, `INSERT INTO `+s.q.versions+` AS g (spazio_id, date, version) VALUES ($1, $2, $3)
		ON CONFLICT (spazio_id, date) DO UPDATE SET version = g.version + excluded.version RETURNING version`,
		spazioID, date, n).Scan(&v); err != nil {
		return 0, fmt.Errorf("bump version of spazio %d on %s: %w", spazioID, date, err)
	}
	return v, nil
}

// lockGrids locks the version rows of several grids, in one order on every
// node so that two such transactions cannot deadlock, and returns their
// versions. Transactions that announce what they read (the sweep and the
// claim of others' changes) lock first and read after, so what they read
// is at least as new as every version below theirs.
func (s *Store) lockGrids(ctx context.Context, tx pgx.Tx, grids []grid) (map[grid]int64, error) {
	slices.SortFunc(grids, compareGrids)
	grids = slices.Compact(grids)
	out := make(map[grid]int64, len(grids))
	for _, g := range grids {
		var v int64
		if err := tx.QueryRow(ctx, `INSERT INTO `+s.q.versions+` AS g (spazio_id, date, version) VALUES ($1, $2, 0)
			ON CONFLICT (spazio_id, date) DO UPDATE SET version = g.version RETURNING version`, g.spazio, g.date).Scan(&v); err != nil {
			return nil, fmt.Errorf("lock version of spazio %d on %s: %w", g.spazio, g.date, err)
		}
		out[g] = v
	}
	return out, nil
}

func (s *Store) setVersion(ctx context.Context, tx pgx.Tx, g grid, v int64) error {
	if _, err := tx.Exec(ctx, `UPDATE `+s.q.versions+` SET version = $3 WHERE spazio_id = $1 AND date = $2`, g.spazio, g.date, v); err != nil {
		return fmt.Errorf("set version of spazio %d on %s: %w", g.spazio, g.date, err)
	}
	return nil
}

// gridRows reads the rows starting on a grid's date that are active at now.
func (s *Store) gridRows(ctx context.Context, tx pgx.Tx, g grid, now time.Time) ([]row, error) {
	from, to, err := dayBounds(g.date)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT `+rowCols+` FROM Prenotazione
		WHERE id_spazio = $1 AND data_inizio >= $2 AND data_inizio < $3
		  AND stato IN ('confermata', 'in attesa') AND (scadenza_slot IS NULL OR scadenza_slot > $4)
		ORDER BY id_prenotazione`, g.spazio, from, to, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("read spazio %d on %s: %w", g.spazio, g.date, err)
	}
	return collectRows(rows)
}

// sedeOfSpazi maps spazio ids to their sede.
func (s *Store) sedeOfSpazi(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id_spazio, id_sede FROM Spazio WHERE id_spazio = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read sedi of spazi: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var sp, se int64
		if err := rows.Scan(&sp, &se); err != nil {
			return nil, err
		}
		out[sp] = se
	}
	return out, rows.Err()
}

// ExpireDue does what the backend's timer does: every 'in attesa' row
// whose scadenza_slot has come becomes 'scaduta' (scadenza_slot NULL), in
// one statement that hands each row to exactly one caller, and every
// 'confermata' or 'in attesa' row that ended before now becomes
// 'completata'. It returns one expired reservation per slot that the
// expiry freed, each with a version of its own; a slot another row still
// takes is not freed and not returned, and the 'completata' rows, whose
// slots are all past, change no version.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) ([]slots.Reservation, error) {
	var out []slots.Reservation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `
			UPDATE Prenotazione p SET stato = 'scaduta', scadenza_slot = NULL
			FROM (SELECT id_prenotazione, scadenza_slot FROM Prenotazione
			      WHERE stato = 'in attesa' AND scadenza_slot IS NOT NULL AND scadenza_slot <= $1
			      ORDER BY id_prenotazione FOR UPDATE) d -- one lock order for every sweeper
			WHERE p.id_prenotazione = d.id_prenotazione
			RETURNING p.id_prenotazione, p.id_utente, p.id_spazio, 'in attesa', d.scadenza_slot, p.data_inizio, p.data_fine, p.data_creazione`,
			now.UTC())
		if err != nil {
			return fmt.Errorf("expire: %w", err)
		}
		expired, err := collectRows(rows)
		if err != nil {
			return fmt.Errorf("expire: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE Prenotazione SET stato = 'completata'
			WHERE stato IN ('confermata', 'in attesa') AND data_fine < $1`, s.wall(now)); err != nil {
			return fmt.Errorf("complete past rows: %w", err)
		}
		if len(expired) == 0 {
			return nil
		}
		out, err = s.versionExpiries(ctx, tx, expired, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expire due holds: %w", err)
	}
	return out, nil
}

// versionExpiries gives each slot freed by the expired rows a version
// and an audit entry, and returns them earliest expiry first, with
// consecutive versions per grid in that order.
func (s *Store) versionExpiries(ctx context.Context, tx pgx.Tx, expired []row, now time.Time) ([]slots.Reservation, error) {
	var grids []grid
	var spazi []int64
	for _, r := range expired {
		grids = append(grids, grid{r.spazio, r.date()})
		spazi = append(spazi, r.spazio)
	}
	versions, err := s.lockGrids(ctx, tx, grids)
	if err != nil {
		return nil, err
	}
	sedi, err := s.sedeOfSpazi(ctx, tx, spazi)
	if err != nil {
		return nil, err
	}
	taken := map[grid]map[int][]row{}
	for g := range versions {
		live, err := s.gridRows(ctx, tx, g, now)
		if err != nil {
			return nil, err
		}
		taken[g] = bySlot(live, now)
	}
	// Earliest expiry first, as coworkctl's own tables return them; the
	// versions of each grid follow that order.
	slices.SortFunc(expired, func(a, b row) int {
		return cmp.Or(a.scadenza.Compare(*b.scadenza), cmp.Compare(a.id, b.id))
	})
	var out []slots.Reservation
	var audit []slots.AuditEntry
	for _, r := range expired {
		g := grid{r.spazio, r.date()}
		for _, n := range r.slotsOf() {
			if len(taken[g][n]) > 0 {
				continue
			}
			versions[g]++
			res := r.reservation(sedi[r.spazio], n)
			res.State, res.UpdatedAt, res.Version = slots.StateExpired, now, versions[g]
			out = append(out, res)
			audit = append(audit, expiryEntry(res))
		}
	}
	for g, v := range versions {
		if err := s.setVersion(ctx, tx, g, v); err != nil {
			return nil, err
		}
	}
	return out, s.writeAudit(ctx, tx, audit)
}

// NextExpiry is the earliest scadenza_slot of an 'in attesa' row.
func (s *Store) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT MIN(scadenza_slot) FROM Prenotazione WHERE stato = 'in attesa'`).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("next expiry: %w", err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// CountActiveHolds counts 'in attesa' rows whose scadenza_slot is after now.
func (s *Store) CountActiveHolds(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM Prenotazione WHERE stato = 'in attesa' AND scadenza_slot > $1`, now.UTC()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count active holds: %w", err)
	}
	return n, nil
}

// slotStatus is what clients see of a reservation in state.
func slotStatus(state string) slots.Status {
	switch state {
	case slots.StateOccupied:
		return slots.StatusOccupied
	case slots.StateBooked:
		return slots.StatusBooked
	}
	return slots.StatusAvailable
}

func entry(action string, r slots.Reservation, from slots.Status, by slots.Actor, reason string) slots.AuditEntry {
	return slots.AuditEntry{
		At: r.UpdatedAt, Action: action, Key: r.Key, From: string(from), To: string(slotStatus(r.State)),
		ReservationID: r.ID, HolderID: r.UserID, Actor: by, Reason: reason, Version: r.Version,
	}
}

func expiryEntry(r slots.Reservation) slots.AuditEntry {
	return entry(slots.AuditExpire, r, slots.StatusOccupied, slots.Actor{UserID: r.UserID, Role: slots.RoleSystem}, "")
}

// writeAudit inserts entries in their changes' transaction, in one
// statement.
func (s *Store) writeAudit(ctx context.Context, tx pgx.Tx, entries []slots.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, []any{e.At.UnixMilli(), e.Action, e.Key.SpazioID, e.Key.SedeID, e.Key.Date, e.Key.Slot,
			e.From, e.To, e.ReservationID, e.HolderID, e.Actor.UserID, e.Actor.Role, e.Reason, e.Version})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{s.own, "slot_audit"},
		[]string{"at", "action", "spazio_id", "sede_id", "date", "slot", "from_status", "to_status",
			"reservation_id", "holder_id", "user_id", "role", "reason", "version"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}

// History lists a grid's audit entries, of one slot when slot > 0,
// highest version first, at most limit.
func (s *Store) History(ctx context.Context, spazioID int64, date string, slot, limit int) ([]slots.AuditEntry, error) {
	query := `SELECT ` + auditrow.Columns + ` FROM ` + s.q.audit + ` WHERE spazio_id = $1 AND date = $2 AND ($3 = 0 OR slot = $3) ORDER BY version DESC LIMIT $4`
	rows, err := s.pool.Query(ctx, query, spazioID, date, slot, limit)
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
