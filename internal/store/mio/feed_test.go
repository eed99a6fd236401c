package mio

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// announced renders feed changes as "slot:status:version[:expired]".
func announced(cs []slots.FeedChange) []string {
	var out []string
	for _, c := range cs {
		s := fmt.Sprintf("%d/%d:%s:%d", c.Reservation.Key.SpazioID, c.Reservation.Key.Slot, c.Status, c.Reservation.Version)
		if c.Expired {
			s += ":expired"
		}
		out = append(out, s)
	}
	return out
}

// TestFeedBackendFlows plays the backend's booking, payment, cancel, slot
// routes, timer and a psql session, and checks that each change is
// announced once, with versions following coworkctl's own.
func TestFeedBackendFlows(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	f := follow(t, s)

	// coworkctl's own hold: version 1, not announced by the feed.
	if _, err := s.Hold(ctx, key(1, 1), as(1), time.Now(), time.Now().Add(ttl), 0); err != nil {
		t.Fatal(err)
	}

	// creaPrenotazione: an 'in attesa' row over 11:00–14:00 (slots 3–5).
	scad := time.Now().Add(15 * time.Minute).UTC()
	id := e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
		VALUES ($1, $2, $3, $4, 'in attesa', $5, $6) RETURNING id_prenotazione`, 2, 1, at(11), at(14), scad, 3)
	got := announced(f.waitFor(t, 3))
	if want := []string{"1/3:occupied:2", "1/4:occupied:3", "1/5:occupied:4"}; !slices.Equal(got, want) {
		t.Fatalf("after creaPrenotazione: %v, want %v", got, want)
	}
	// confirmPrenotazione (payment).
	e.exec(`UPDATE Prenotazione SET stato = 'confermata', data_pagamento = NOW(), scadenza_slot = NULL WHERE id_prenotazione = $1`, id)
	got = announced(f.waitFor(t, 6))[3:]
	if want := []string{"1/3:booked:5", "1/4:booked:6", "1/5:booked:7"}; !slices.Equal(got, want) {
		t.Fatalf("after confirmPrenotazione: %v, want %v", got, want)
	}
	// A change of no slot-relevant column announces nothing: the next
	// change's versions follow directly.
	e.exec(`UPDATE Prenotazione SET data_pagamento = NOW() WHERE id_prenotazione = $1`, id)
	// cancellaPrenotazione on a second pending row (slot 7).
	id2 := e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
		VALUES ($1, $2, $3, $4, 'in attesa', $5, $6) RETURNING id_prenotazione`, 3, 1, at(15), at(16), scad, 1)
	f.waitFor(t, 7)
	e.exec(`UPDATE Prenotazione SET stato = 'cancellata' WHERE id_prenotazione = $1`, id2)
	got = announced(f.waitFor(t, 8))[6:]
	if want := []string{"1/7:occupied:8", "1/7:available:9"}; !slices.Equal(got, want) {
		t.Fatalf("after cancellaPrenotazione: %v, want %v", got, want)
	}
	n := f.count()
	last := f.waitFor(t, n)[n-1].Reservation.Version

	// The backend's slot routes: hold, then release (DELETE).
	hid := e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot)
		VALUES ($1, $2, $3, $4, 'in attesa', $5) RETURNING id_prenotazione`, 4, 1, at(16), at(17), scad)
	f.waitFor(t, n+1)
	e.exec(`DELETE FROM Prenotazione WHERE id_utente = $1 AND id_spazio = $2 AND stato = 'in attesa' AND DATE(data_inizio) = $3 AND EXTRACT(HOUR FROM data_inizio) = $4`, 4, 1, day, 16)
	got = announced(f.waitFor(t, n+2)[n:])
	if want := []string{fmt.Sprintf("1/8:occupied:%d", last+1), fmt.Sprintf("1/8:available:%d", last+2)}; !slices.Equal(got, want) {
		t.Fatalf("after the slot routes' hold and release of %d: %v, want %v", hid, got, want)
	}

	// The backend's timer frees a lapsed hold: an expiry (slots_freed).
	e.exec(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot) VALUES (5, 1, $1, $2, 'in attesa', $3)`,
		at(17), at(18), time.Now().Add(-time.Minute).UTC())
	f.waitFor(t, n+3)
	freed := e.exec(`UPDATE Prenotazione SET stato = 'scaduta', scadenza_slot = NULL
		WHERE stato = 'in attesa' AND scadenza_slot IS NOT NULL AND scadenza_slot < CURRENT_TIMESTAMP`)
	if freed != 1 {
		t.Fatalf("the timer freed %d rows", freed)
	}
	all := f.waitFor(t, n+4)
	if c := all[n+3]; !c.Expired || c.Status != slots.StatusAvailable || c.Reservation.Key.Slot != 9 || c.Reservation.Version != last+4 {
		t.Fatalf("timer expiry announced as %+v", c)
	}
	// The lapsed row inserted above read as free already: its insert was
	// announced as available.
	if c := all[n+2]; c.Status != slots.StatusAvailable {
		t.Fatalf("insert of a lapsed hold announced as %+v", c)
	}

	// A psql session moving a booking to another spazio touches both grids.
	e.exec(`UPDATE Prenotazione SET id_spazio = 2 WHERE id_prenotazione = $1`, id)
	got = announced(f.waitFor(t, n+10)[n+4:])
	if want := []string{"1/3:available:" + fmt.Sprint(last+5), "1/4:available:" + fmt.Sprint(last+6), "1/5:available:" + fmt.Sprint(last+7),
		"2/3:booked:1", "2/4:booked:2", "2/5:booked:3"}; !slices.Equal(got, want) {
		t.Fatalf("after moving the booking: %v, want %v", got, want)
	}

	// Versions are the grid's: a snapshot now is at the last one, and the
	// audit trail has an entry for each.
	snap, err := s.Snapshot(ctx, 1, day, time.Now())
	if err != nil || snap.Version != last+7 {
		t.Fatalf("snapshot version %d, %v; want %d", snap.Version, err, last+7)
	}
	hist, err := s.History(ctx, 1, day, 0, 1000)
	if err != nil || int64(len(hist)) != last+7 {
		t.Fatalf("history has %d entries, %v; want %d", len(hist), err, last+7)
	}
	var queued int
	if err := e.backend.QueryRow(ctx, `SELECT COUNT(*) FROM `+s.q.changes).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("%d changes left queued, %v", queued, err)
	}
}

// TestFeedListenerLoss kills the listener's connection; changes committed
// while it is down are announced after it reconnects.
func TestFeedListenerLoss(t *testing.T) {
	e := newEnv(t)
	s := e.install()
	f := follow(t, s)
	for i := range 3 {
		pid := s.ListenerPID()
		var ok bool
		if err := e.backend.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate listener %d: %v %v", pid, ok, err)
		}
		// Committed while the listener is down or reconnecting.
		e.exec(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato) VALUES (1, 1, $1, $2, 'confermata')`, at(9+i), at(10+i))
		got := f.waitFor(t, i+1)
		if c := got[i]; c.Status != slots.StatusBooked || c.Reservation.Key.Slot != i+1 || c.Reservation.Version != int64(i+1) {
			t.Fatalf("change %d announced as %+v", i, c)
		}
	}
	testkit.Eventually(t, 10*time.Second, "the listener to come back", func() bool { return s.ListenerPID() != 0 })
}

// TestFeedTwoNodes: with two nodes following, each change is announced by
// exactly one of them, and versions have no gaps or repeats.
func TestFeedTwoNodes(t *testing.T) {
	e := newEnv(t)
	a, b := e.install(), e.open()
	fa, fb := follow(t, a), follow(t, b)
	const n = 40
	for i := range n {
		e.exec(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato) VALUES (1, 1, $1, $2, 'confermata')`,
			at(9+i%9).AddDate(0, 0, i/9), at(10+i%9).AddDate(0, 0, i/9))
	}
	deadline := time.Now().Add(10 * time.Second)
	for fa.count()+fb.count() < n && time.Now().Before(deadline) {
		select {
		case <-fa.cond:
		case <-fb.cond:
		case <-time.After(100 * time.Millisecond):
		}
	}
	all := append(fa.waitFor(t, 0), fb.waitFor(t, 0)...)
	if len(all) != n {
		t.Fatalf("%d announcements for %d changes (node a %d, node b %d)", len(all), n, fa.count(), fb.count())
	}
	seen := map[string]bool{}
	for _, c := range all {
		k := fmt.Sprintf("%s/%d", c.Reservation.Key.Date, c.Reservation.Key.Slot)
		if seen[k] || c.Reservation.Version < 1 || c.Reservation.Version > 9 {
			t.Fatalf("announced twice or out of range: %+v", c)
		}
		seen[k] = true
	}
	t.Logf("node a announced %d, node b %d", fa.count(), fb.count())
}

// TestConflictNeverShownFree: a row the backend writes over a live hold
// does not free the slot; the pair is counted and logged once.
func TestConflictNeverShownFree(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	f := follow(t, s)
	now := time.Now()
	h, err := s.Hold(ctx, key(1, 4), as(1), now, now.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The booking flow's check raced: its 'in attesa' row overlaps the hold.
	id := e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
		VALUES (2, 1, $1, $2, 'in attesa', $3, 2) RETURNING id_prenotazione`, at(11), at(13), now.Add(ttl).UTC())
	got := f.waitFor(t, 2)
	if c := got[1]; c.Reservation.Key.Slot != 4 || c.Status != slots.StatusOccupied || c.Reservation.ID != h.Reservation.ID {
		t.Fatalf("overlapped slot announced as %+v, want still the hold %d", c, h.Reservation.ID)
	}
	if s.Conflicts() != 1 {
		t.Fatalf("conflicts = %d, want 1", s.Conflicts())
	}
	// The other row is cancelled: its slots are announced; the pair is not
	// reported again.
	e.exec(`UPDATE Prenotazione SET stato = 'confermata' WHERE id_prenotazione = $1`, id)
	got = f.waitFor(t, 4)
	if c := got[3]; c.Reservation.Key.Slot != 4 || c.Status != slots.StatusBooked {
		t.Fatalf("after the overlapping row's payment: %+v", c)
	}
	if s.Conflicts() != 1 {
		t.Fatalf("conflicts = %d after a second look, want 1", s.Conflicts())
	}
	if snap, _ := s.Snapshot(ctx, 1, day, now); len(snap.Active) != 2 {
		t.Fatalf("snapshot = %+v", snap.Active)
	}
}

// TestOwnChangesNotQueued: coworkctl's own transactions are not queued by
// the trigger (their callers announce them).
func TestOwnChangesNotQueued(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	if _, err := s.Hold(ctx, key(1, 2), as(1), t0, t0.Add(ttl), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Book(ctx, key(1, 2), as(1), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireDue(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.backend.QueryRow(ctx, `SELECT COUNT(*) FROM `+s.q.changes).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d own changes queued, %v", n, err)
	}
	e.exec(`UPDATE Prenotazione SET stato = 'cancellata'`)
	if err := e.backend.QueryRow(ctx, `SELECT COUNT(*) FROM `+s.q.changes).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d changes queued after the backend's, %v; want 1", n, err)
	}
}

// schemaShape lists every column, constraint, index, trigger and routine
// of a schema.
func schemaShape(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '')
		 FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1`,
		`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)
		 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1`,
		`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`,
		`SELECT event_object_table || ' ' || trigger_name || ' ' || event_manipulation FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1`,
		`SELECT routine_name FROM information_schema.routines WHERE routine_schema = $1 ORDER BY 1`,
	} {
		rows, err := e.backend.Query(context.Background(), q, e.schema)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// TestInstallChangesOnlyTheTrigger: install, use and uninstall leave the
// backend's schema as it was, but for the listed trigger while installed.
func TestInstallChangesOnlyTheTrigger(t *testing.T) {
	e := newEnv(t)
	before := schemaShape(t, e)
	s := e.install()
	follow(t, s)
	if _, err := s.Hold(context.Background(), key(1, 2), as(1), t0, t0.Add(ttl), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireDue(context.Background(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	installed := schemaShape(t, e)
	trigger := e.own + "_changes"
	want := before + "prenotazione " + trigger + " DELETE\nprenotazione " + trigger + " INSERT\nprenotazione " + trigger + " UPDATE\n"
	if sortedLines(installed) != sortedLines(want) {
		t.Fatalf("backend schema after install and use:\n%s\nwant the original plus the trigger only:\n%s", installed, want)
	}
	if err := Install(context.Background(), e.config()); err != nil {
		t.Fatalf("second Install: %v", err)
	}
	if err := Uninstall(context.Background(), e.config(), false); err != nil {
		t.Fatal(err)
	}
	if after := schemaShape(t, e); after != before {
		t.Fatalf("after uninstall:\n%s\nbefore install:\n%s", after, before)
	}
	_, err := Open(context.Background(), e.config())
	wantErr(t, "Open after uninstall", err, ErrNotInstalled)
	if err := Uninstall(context.Background(), e.config(), true); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.backend.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1`, e.own).Scan(&n); err != nil || n != 0 {
		t.Fatalf("own schema left after uninstall --drop-own-schema: %d %v", n, err)
	}
	if _, _, ok := e.prenotazione(1); !ok {
		t.Fatal("uninstall removed the backend's rows")
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
