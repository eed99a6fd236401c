package mio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/storetest"
)

// t0 is the tests' "now"; the slots tested are later that day.
var t0 = time.Date(2030, 3, 4, 8, 30, 0, 0, time.UTC)

const (
	day = "2030-03-04"
	ttl = 15 * time.Minute
)

func key(spazio int64, slot int) slots.SlotKey {
	sede := int64(1)
	if spazio == 3 {
		sede = 2
	}
	return slots.SlotKey{SpazioID: spazio, SedeID: sede, Date: day, Slot: slot}
}

// at is the wall time of hour h on the tests' day, as data_inizio holds it.
func at(h int) time.Time { return time.Date(2030, 3, 4, h, 0, 0, 0, time.UTC) }

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// gridOf is a Snapshot as slot number → "state/id/user".
func gridOf(t *testing.T, s *Store, spazio int64, now time.Time) (map[int]string, int64) {
	t.Helper()
	snap, err := s.Snapshot(context.Background(), spazio, day, now)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]string{}
	for _, r := range snap.Active {
		m[r.Key.Slot] = fmt.Sprintf("%s/%d/%d", r.State, r.ID, r.UserID)
	}
	return m, snap.Version
}

func TestOpenRequiresInstall(t *testing.T) {
	e := newEnv(t)
	_, err := Open(context.Background(), e.config())
	wantErr(t, "Open before Install", err, ErrNotInstalled)
}

// TestTransitions drives every transition coworkctl makes and checks the
// rows the backend sees.
func TestTransitions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	k := key(1, 2) // 10:00

	res, err := s.Hold(ctx, k, as(1), t0, t0.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Reservation
	if h.State != slots.StateOccupied || !h.ExpiresAt.Equal(t0.Add(ttl)) || h.Version != 1 || h.Key != k {
		t.Fatalf("Hold = %+v", h)
	}
	var inizio, fine time.Time
	var scad *time.Time
	var stato string
	if err := e.backend.QueryRow(ctx, `SELECT stato, data_inizio, data_fine, scadenza_slot FROM Prenotazione WHERE id_prenotazione = $1`, h.ID).
		Scan(&stato, &inizio, &fine, &scad); err != nil {
		t.Fatal(err)
	}
	if stato != "in attesa" || !inizio.Equal(at(10)) || !fine.Equal(at(11)) || scad == nil || !scad.Equal(t0.Add(ttl)) {
		t.Fatalf("hold row: %s %v–%v scadenza %v", stato, inizio, fine, scad)
	}
	if g, v := gridOf(t, s, 1, t0); g[2] != fmt.Sprintf("occupied/%d/1", h.ID) || len(g) != 1 || v != 1 {
		t.Fatalf("grid after hold = %v v%d", g, v)
	}
	_, err = s.Hold(ctx, k, as(2), t0, t0.Add(ttl), 0)
	wantErr(t, "second hold", err, slots.ErrSlotTaken)
	_, err = s.Book(ctx, k, as(2), t0)
	wantErr(t, "book by another user", err, slots.ErrNotHeld)

	b, err := s.Book(ctx, k, as(1), t0)
	if err != nil || b.ID != h.ID || b.State != slots.StateBooked || b.Version != 2 {
		t.Fatalf("Book = %+v, %v", b, err)
	}
	if st, sc, _ := e.prenotazione(h.ID); st != "confermata" || sc != nil {
		t.Fatalf("booked row: %s %v", st, sc)
	}
	_, err = s.Release(ctx, k, as(1), t0)
	wantErr(t, "release a booking", err, slots.ErrNotHeld)

	// Release deletes the row.
	k3 := key(1, 3)
	h3, err := s.Hold(ctx, k3, as(2), t0, t0.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Release(ctx, k3, as(2), t0)
	if err != nil || r.ID != h3.Reservation.ID || r.State != slots.StateReleased || r.Version != 4 {
		t.Fatalf("Release = %+v, %v", r, err)
	}
	if _, _, ok := e.prenotazione(r.ID); ok {
		t.Fatal("released row still there")
	}

	// Staff cancel: 'cancellata', of a hold and of a booking.
	h4, err := s.Hold(ctx, k3, as(3), t0, t0.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, k3, slots.Actor{UserID: 3, Role: "gestore"}, "x", h4.Reservation.ID+1, t0)
	wantErr(t, "cancel naming another row", err, slots.ErrSlotChanged)
	c, err := s.Cancel(ctx, k3, slots.Actor{UserID: 3, Role: "gestore"}, "doppione", h4.Reservation.ID, t0)
	if err != nil || c.From != slots.StateOccupied || c.Reservation.State != slots.StateCancelled || c.Reservation.Version != 6 {
		t.Fatalf("Cancel hold = %+v, %v", c, err)
	}
	if st, _, _ := e.prenotazione(h4.Reservation.ID); st != "cancellata" {
		t.Fatalf("cancelled row: %s", st)
	}
	c, err = s.Cancel(ctx, k, slots.Actor{UserID: 3, Role: "gestore"}, "no-show", 0, t0)
	if err != nil || c.From != slots.StateBooked || c.Reservation.ID != h.ID {
		t.Fatalf("Cancel booking = %+v, %v", c, err)
	}
	_, err = s.Cancel(ctx, k, slots.Actor{UserID: 3, Role: "gestore"}, "again", 0, t0)
	wantErr(t, "cancel a free slot", err, slots.ErrNothingToCancel)

	// Expiry: 'scaduta' with no scadenza_slot, exactly once.
	k5 := key(1, 5)
	h5, err := s.Hold(ctx, k5, as(1), t0, t0.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountActiveHolds(ctx, t0); err != nil || n != 1 {
		t.Fatalf("CountActiveHolds = %d, %v", n, err)
	}
	if next, ok, err := s.NextExpiry(ctx); err != nil || !ok || !next.Equal(t0.Add(ttl)) {
		t.Fatalf("NextExpiry = %v %v %v", next, ok, err)
	}
	lapse := t0.Add(ttl)
	if g, _ := gridOf(t, s, 1, lapse); g[5] != "" {
		t.Fatalf("a lapsed hold reads as taken: %v", g)
	}
	_, err = s.Book(ctx, k5, as(1), lapse)
	wantErr(t, "book a lapsed hold", err, slots.ErrNotHeld)
	due, err := s.ExpireDue(ctx, lapse)
	if err != nil || len(due) != 1 || due[0].ID != h5.Reservation.ID || due[0].State != slots.StateExpired ||
		!due[0].ExpiresAt.Equal(lapse) || due[0].Key != k5 || due[0].Version != 9 {
		t.Fatalf("ExpireDue = %+v, %v", due, err)
	}
	if st, sc, _ := e.prenotazione(h5.Reservation.ID); st != "scaduta" || sc != nil {
		t.Fatalf("expired row: %s %v", st, sc)
	}
	if due, err := s.ExpireDue(ctx, lapse); err != nil || len(due) != 0 {
		t.Fatalf("second ExpireDue = %+v, %v", due, err)
	}

	// History has one entry per version, newest first.
	hist, err := s.History(ctx, 1, day, 0, 100)
	if err != nil || len(hist) != 9 || hist[0].Version != 9 || hist[0].Action != slots.AuditExpire || hist[8].Action != slots.AuditHold {
		t.Fatalf("History = %+v, %v", hist, err)
	}
	if hist[3].Action != slots.AuditCancel || hist[3].Reason != "doppione" {
		t.Fatalf("cancel entry = %+v", hist[3])
	}
}

// TestLapsedHoldTakenOver: the lapsed row a hold takes over turns
// 'scaduta' in the backend's table (the conformance suite checks the
// versions and what the hold reports).
func TestLapsedHoldTakenOver(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	k := key(2, 4)
	first, err := s.Hold(ctx, k, as(1), t0, t0.Add(ttl), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(ttl + time.Minute)
	if res, err := s.Hold(ctx, k, as(2), now, now.Add(ttl), 0); err != nil || res.Expired == nil {
		t.Fatalf("Hold after lapse = %+v, %v", res, err)
	}
	if st, sc, _ := e.prenotazione(first.Reservation.ID); st != "scaduta" || sc != nil {
		t.Fatalf("lapsed row: %s %v", st, sc)
	}
}

// TestDerivedStatus writes rows of every stato, multi-hour ones included,
// with the statements of the backend's flows, and compares the Snapshot
// with the grid the backend's own route computes from its own query.
func TestDerivedStatus(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	now := time.Now()
	later := now.Add(10 * time.Minute).UTC()
	earlier := now.Add(-10 * time.Minute).UTC()
	ins := func(user int64, from, to int, stato string, scadenza any) int64 {
		return e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
			VALUES ($1, 1, $2, $3, $4, $5, $6) RETURNING id_prenotazione`, user, at(from), at(to), stato, scadenza, to-from)
	}
	multi := ins(1, 9, 12, "in attesa", later)  // slots 1–3, held by the booking flow
	booked := ins(2, 12, 14, "confermata", nil) // slots 4–5
	ins(3, 14, 15, "in attesa", earlier)        // lapsed: free
	forever := ins(4, 15, 16, "in attesa", nil) // no scadenza: held, as the backend reads it
	for _, st := range []string{"pendente", "annullata", "completata", "pagamento_fallito", "scaduta", "cancellata"} {
		ins(5, 16, 18, st, nil) // slots 8–9 stay free
	}
	e.insertID(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato) VALUES (6, 2, $1, $2, 'confermata') RETURNING id_prenotazione`, at(9), at(18))

	// The backend's grid: its query, then each hour's first covering row.
	rows, err := e.backend.Query(ctx, `
		SELECT EXTRACT(HOUR FROM data_inizio)::int, EXTRACT(HOUR FROM data_fine)::int, stato, id_prenotazione
		FROM Prenotazione WHERE id_spazio = $1 AND DATE(data_inizio) = $2
		AND stato IN ('confermata', 'in attesa') AND (scadenza_slot IS NULL OR scadenza_slot > CURRENT_TIMESTAMP)`, 1, day)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for rows.Next() {
		var from, to int
		var stato string
		var id int64
		if err := rows.Scan(&from, &to, &stato, &id); err != nil {
			t.Fatal(err)
		}
		for h := from; h < to; h++ {
			status := map[string]string{"confermata": slots.StateBooked, "in attesa": slots.StateOccupied}[stato]
			want[h-8] = fmt.Sprintf("%s/%d", status, id)
		}
	}
	rows.Close()
	snap, err := s.Snapshot(ctx, 1, day, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, r := range snap.Active {
		got[r.Key.Slot] = fmt.Sprintf("%s/%d", r.State, r.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Snapshot = %v\nbackend grid = %v", got, want)
	}
	if got[1] != fmt.Sprintf("occupied/%d", multi) || got[5] != fmt.Sprintf("booked/%d", booked) || got[7] != fmt.Sprintf("occupied/%d", forever) || len(got) != 6 {
		t.Fatalf("Snapshot = %v", got)
	}
	// A hold on an hour a multi-hour row covers is refused.
	_, err = s.Hold(ctx, key(1, 3), as(9), now, now.Add(ttl), 0)
	wantErr(t, "hold under a multi-hour row", err, slots.ErrSlotTaken)
	_, err = s.Hold(ctx, key(2, 9), as(9), now, now.Add(ttl), 0)
	wantErr(t, "hold under an all-day booking", err, slots.ErrSlotTaken)
	if _, err := s.Hold(ctx, key(1, 6), as(9), now, now.Add(ttl), 0); err != nil {
		t.Fatalf("hold on the lapsed row's hour: %v", err)
	}
}

// TestConcurrentHolds: of concurrent holds on one free hour, by many
// users on two nodes, exactly one wins (storetest.RaceHolds), and the
// table has one live row, not one the Snapshot merely shows.
func TestConcurrentHolds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.exec(suiteUsers)
	nodes := []slots.Store{e.install(), e.open()}
	if p := storetest.RaceHolds(nodes, key(1, 6)).Problem(); p != "" {
		t.Fatal(p)
	}
	var n int
	if err := e.backend.QueryRow(ctx, `SELECT COUNT(*) FROM Prenotazione WHERE id_spazio = 1 AND data_inizio = $1`, at(14)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows on the hour: %d, %v", n, err)
	}
}

// TestFiveSlotHold: the page holds every selected slot at once; five
// holds by one user give five rows and five versions.
func TestFiveSlotHold(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.install()
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Hold(ctx, key(1, 3+i), as(1), t0, t0.Add(ttl), 0)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("hold %d: %v", i, err)
		}
	}
	g, v := gridOf(t, s, 1, t0)
	if len(g) != 5 || v != 5 {
		t.Fatalf("grid = %v v%d", g, v)
	}
	var n int
	if err := e.backend.QueryRow(ctx, `SELECT COUNT(*) FROM Prenotazione WHERE id_utente = 1 AND stato = 'in attesa'`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("rows: %d, %v", n, err)
	}
	_, err := s.Hold(ctx, key(1, 8), as(1), t0, t0.Add(ttl), 5)
	var le *slots.LimitError
	if !errors.As(err, &le) || le.Limit != 5 {
		t.Fatalf("sixth hold with a cap of 5: %v", err)
	}
}

// TestUnknownUser maps the backend's foreign key to Utente (the
// conformance suite checks an unknown spazio).
func TestUnknownUser(t *testing.T) {
	e := newEnv(t)
	s := e.install()
	_, err := s.Hold(context.Background(), key(1, 2), as(999), t0, t0.Add(ttl), 0)
	wantErr(t, "hold by a user not in Utente", err, slots.ErrBadInput)
}

// TestExpireDueExactlyOnce: two nodes sweeping at once expire each lapsed
// hold once between them, a multi-hour row of the backend included (one
// expiry per slot it frees), and versions stay consecutive per grid.
func TestExpireDueExactlyOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	nodes := []*Store{e.install(), e.open()}
	want := map[string]bool{}
	for sp := int64(1); sp <= 2; sp++ {
		for n := 1; n <= 6; n++ {
			if _, err := nodes[0].Hold(ctx, key(sp, n), as(1), t0, t0.Add(ttl), 0); err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprintf("%d/%d", sp, n)] = true
		}
	}
	// The booking flow's lapsed row over 15:00–18:00 of spazio 1: slots 7–9.
	e.exec(`INSERT INTO Prenotazione (id_utente, id_spazio, data_inizio, data_fine, stato, scadenza_slot, durata_ore)
		VALUES (2, 1, $1, $2, 'in attesa', $3, 3)`, at(15), at(18), t0.Add(time.Minute))
	for n := 7; n <= 9; n++ {
		want[fmt.Sprintf("1/%d", n)] = true
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[string]int{}
		vs  = map[int64][]int64{}
	)
	for _, s := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			due, err := s.ExpireDue(ctx, t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range due {
				got[fmt.Sprintf("%d/%d", r.Key.SpazioID, r.Key.Slot)]++
				vs[r.Key.SpazioID] = append(vs[r.Key.SpazioID], r.Version)
			}
		}()
	}
	wg.Wait()
	if len(got) != len(want) {
		t.Fatalf("expired %v, want %v", got, want)
	}
	for k, n := range got {
		if n != 1 || !want[k] {
			t.Fatalf("slot %s expired %d times", k, n)
		}
	}
	// Spazio 1: 6 holds (v1–6), then 9 expiries (v7–15); spazio 2: 6 and 6.
	for sp, n := range map[int64]int64{1: 15, 2: 12} {
		slices.Sort(vs[sp])
		if int64(len(vs[sp])) != n-6 || vs[sp][0] != 7 || vs[sp][len(vs[sp])-1] != n {
			t.Fatalf("spazio %d expiry versions %v", sp, vs[sp])
		}
	}
}
