package mio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// claimBatch bounds the queued changes one claim takes.
const claimBatch = 500

// drainEvery is how often the listener looks at the queue without being
// woken, in case a claim failed after its notification.
const drainEvery = 10 * time.Second

// Follow listens for the trigger's notifications on a dedicated
// connection and claims the queued changes each time: on every start and
// reconnect it claims whatever was queued meanwhile first, so a change
// committed while no listener was up is announced late, never lost. Of
// several nodes following one database, each change is claimed by exactly
// one (see claim).
func (s *Store) Follow(ctx context.Context, announce func(context.Context, []slots.FeedChange)) error {
	backoff := 50 * time.Millisecond
	for {
		err := s.listen(ctx, announce)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("change listener lost its connection; reconnecting", "db", s.name, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// ListenerPID is the database's process id of the listener's connection,
// 0 while it is down; tests end it with pg_terminate_backend.
func (s *Store) ListenerPID() uint32 { return s.listenerPID.Load() }

func (s *Store) listen(ctx context.Context, announce func(context.Context, []slots.FeedChange)) error {
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return fmt.Errorf("connect listener: %w", err)
	}
	defer func() {
		s.listenerPID.Store(0)
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+s.q.channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.listenerPID.Store(conn.PgConn().PID())
	for {
		// Listening before draining: a change committed after the drain's
		// read notifies, one committed before is in the queue.
		if err := s.drain(ctx, announce); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("claim of changes made by others failed", "err", err)
		}
		wctx, cancel := context.WithTimeout(ctx, drainEvery)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// drain claims and announces until the queue is empty.
func (s *Store) drain(ctx context.Context, announce func(context.Context, []slots.FeedChange)) error {
	for {
		changes, n, err := s.claim(ctx)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			announce(ctx, changes)
		}
		if n < claimBatch {
			return nil
		}
	}
}

// queued is one change the trigger queued.
type queued struct {
	id, prenotazione int64
	op               string
	user             *int64
	old, new         *row
}

// touched is one slot a claimed change touched.
type touched struct {
	g       grid
	n       int
	change  queued
	expired bool
}

// claim takes up to claimBatch queued changes in one transaction: it
// deletes them (SKIP LOCKED, so nodes claiming at once split the queue and
// none waits), locks the grids they touch, reads those grids' rows as they
// are now, and gives every touched slot that is not past one version and
// one audit entry. Only the committing node announces them: exactly once.
func (s *Store) claim(ctx context.Context) ([]slots.FeedChange, int, error) {
	var (
		out   []slots.FeedChange
		n     int
		pairs []conflict
	)
	now := time.Now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, n, pairs = nil, 0, nil
		qs, err := s.dequeue(ctx, tx)
		if err != nil {
			return err
		}
		n = len(qs)
		touch := s.touchedSlots(qs, now)
		if len(touch) == 0 {
			return nil
		}
		var grids []grid
		var spazi []int64
		for _, t := range touch {
			grids = append(grids, t.g)
			spazi = append(spazi, t.g.spazio)
		}
		versions, err := s.lockGrids(ctx, tx, grids)
		if err != nil {
			return err
		}
		sedi, err := s.sedeOfSpazi(ctx, tx, spazi)
		if err != nil {
			return err
		}
		taken := map[grid]map[int][]row{}
		for g := range versions {
			live, err := s.gridRows(ctx, tx, g, now)
			if err != nil {
				return err
			}
			taken[g] = bySlot(live, now)
		}
		var audit []slots.AuditEntry
		for _, t := range touch {
			cover := taken[t.g][t.n]
			found, err := s.noteConflicts(ctx, tx, t, cover)
			if err != nil {
				return err
			}
			pairs = append(pairs, found...)
			versions[t.g]++
			fc, e := feedChange(t, cover, sedi[t.g.spazio], now)
			fc.Reservation.Version, e.Version = versions[t.g], versions[t.g]
			out = append(out, fc)
			audit = append(audit, e)
		}
		for g, v := range versions {
			if err := s.setVersion(ctx, tx, g, v); err != nil {
				return err
			}
		}
		return s.writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("claim changes: %w", err)
	}
	for _, c := range pairs {
		s.conflicts.Add(1)
		s.log.Warn("two prenotazioni take one slot", "prenotazione_a", c.a, "prenotazione_b", c.b,
			"spazio", c.t.g.spazio, "date", c.t.g.date, "slot", c.t.n)
	}
	return out, n, nil
}

func (s *Store) dequeue(ctx context.Context, tx pgx.Tx) ([]queued, error) {
	rows, err := tx.Query(ctx, `DELETE FROM `+s.q.changes+` WHERE id IN
		(SELECT id FROM `+s.q.changes+` ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, op, id_prenotazione, id_utente, old_spazio, old_inizio, old_fine, old_stato, new_spazio, new_inizio, new_fine, new_stato`,
		claimBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var qs []queued
	for rows.Next() {
		var (
			q                  queued
			oSp, nSp           *int64
			oIn, oFi, nIn, nFi *time.Time
			oSt, nSt           *string
		)
		if err := rows.Scan(&q.id, &q.op, &q.prenotazione, &q.user, &oSp, &oIn, &oFi, &oSt, &nSp, &nIn, &nFi, &nSt); err != nil {
			return nil, err
		}
		var user int64
		if q.user != nil {
			user = *q.user
		}
		if oSp != nil && oIn != nil && oFi != nil && oSt != nil {
			q.old = &row{id: q.prenotazione, user: user, spazio: *oSp, stato: *oSt, inizio: *oIn, fine: *oFi}
		}
		if nSp != nil && nIn != nil && nFi != nil && nSt != nil {
			q.new = &row{id: q.prenotazione, user: user, spazio: *nSp, stato: *nSt, inizio: *nIn, fine: *nFi}
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(qs, func(a, b queued) int { return cmp.Compare(a.id, b.id) })
	return qs, nil
}

// touchedSlots lists the slots the changes touched, old rows' and new
// rows' alike, once each (the latest change decides how it is announced),
// leaving out past ones: a past slot shows past whatever its rows say.
func (s *Store) touchedSlots(qs []queued, now time.Time) []touched {
	nowWall := s.wall(now)
	idx := map[[2]any]int{}
	var out []touched
	for _, q := range qs {
		expired := q.op == "UPDATE" && q.old != nil && q.new != nil && q.old.stato == statoHeld && q.new.stato == statoExpired
		for _, r := range []*row{q.old, q.new} {
			if r == nil {
				continue
			}
			for _, n := range r.slotsOf() {
				start, err := slotStart(r.date(), n)
				if err != nil || !start.After(nowWall) {
					continue
				}
				t := touched{g: grid{r.spazio, r.date()}, n: n, change: q, expired: expired}
				k := [2]any{t.g, n}
				if i, ok := idx[k]; ok {
					out[i] = t
					continue
				}
				idx[k] = len(out)
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b touched) int {
		return cmp.Or(compareGrids(a.g, b.g), cmp.Compare(a.n, b.n))
	})
	return out
}

// feedChange is how a touched slot is announced and audited: the row now
// shown on it, or, when none takes it, the changed row that freed it.
func feedChange(t touched, cover []row, sede int64, now time.Time) (slots.FeedChange, slots.AuditEntry) {
	q := t.change
	from := slots.StatusAvailable
	if q.old != nil && q.old.active(now) {
		from = slotStatus(q.old.reservation(sede, t.n).State)
	}
	actor := slots.Actor{Role: "backend"}
	if q.user != nil {
		actor.UserID = *q.user
	}
	var fc slots.FeedChange
	action := slots.AuditHold
	if len(cover) > 0 {
		fc.Reservation = pick(cover).reservation(sede, t.n)
		fc.Status = slotStatus(fc.Reservation.State)
		if fc.Status == slots.StatusBooked {
			action = slots.AuditBook
		}
	} else {
		r := q.new
		if r == nil {
			r = q.old
		}
		fc.Reservation = r.reservation(sede, t.n)
		fc.Reservation.Key = slots.SlotKey{SpazioID: t.g.spazio, SedeID: sede, Date: t.g.date, Slot: t.n}
		fc.Reservation.ExpiresAt = time.Time{}
		fc.Status = slots.StatusAvailable
		switch {
		case t.expired:
			fc.Expired, action = true, slots.AuditExpire
			actor.Role = slots.RoleSystem
		case q.op == "DELETE":
			fc.Reservation.State, action = slots.StateReleased, slots.AuditRelease
		default:
			action = slots.AuditCancel
		}
	}
	fc.Reservation.UpdatedAt = now
	e := entry(action, fc.Reservation, from, actor, "")
	e.HolderID = q.user64()
	return fc, e
}

func (q queued) user64() int64 {
	if q.user == nil {
		return 0
	}
	return *q.user
}

// conflict is a pair of rows found active on one slot at once.
type conflict struct {
	a, b int64
	t    touched
}

// noteConflicts records each pair of rows active on one slot at once and
// returns the pairs not recorded before: the conflicts table's key makes
// each pair reported once across nodes.
func (s *Store) noteConflicts(ctx context.Context, tx pgx.Tx, t touched, cover []row) ([]conflict, error) {
	var found []conflict
	for i := range cover {
		for j := i + 1; j < len(cover); j++ {
			a, b := min(cover[i].id, cover[j].id), max(cover[i].id, cover[j].id)
			tag, err := tx.Exec(ctx, `INSERT INTO `+s.q.conflicts+` (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a, b)
			if err != nil {
				return nil, fmt.Errorf("record conflict: %w", err)
			}
			if tag.RowsAffected() == 1 {
				found = append(found, conflict{a: a, b: b, t: t})
			}
		}
	}
	return found, nil
}
