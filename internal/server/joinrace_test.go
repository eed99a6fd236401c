package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// The join/snapshot race: clients join a spazio while every one of its
// slots is held and released over and over. Each join's view is its
// snapshot plus the slot_updates it receives, applied by the version rule
// (protocol.GridVersions); once the churn stops and deliveries settle,
// every view must equal GET /api/slots. The same event streams are also
// replayed the way the original page applies them, ignoring versions
// (a blind client: the snapshot replaces the grid, updates apply in
// arrival order), and that view must be right too: the server orders
// what each socket gets so that it is. A blind view also fails when the
// socket got, before its snapshot, an update the snapshot lacks, or after
// it, one the snapshot has. A per-grid "drop everything at or below the
// highest version applied" rule is replayed as a control.

const (
	raceSpazio, raceSede = 1, 1
	raceSlots            = 9 // of the demo catalog: 09:00–18:00
)

// joinRaceSize is how many clients join in each wave, and how many waves.
// -race makes everything several times slower on a small machine, so it
// runs fewer clients; COWORK_TEST_JOIN_CLIENTS and COWORK_TEST_JOIN_WAVES
// override both, e.g. to repeat a measurement at a larger scale.
func joinRaceSize(t *testing.T) (clients, waves int) {
	clients, waves = 150, 12
	if raceEnabled {
		clients, waves = 100, 10
	}
	for env, n := range map[string]*int{"COWORK_TEST_JOIN_CLIENTS": &clients, "COWORK_TEST_JOIN_WAVES": &waves} {
		if v := os.Getenv(env); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i <= 0 {
				t.Fatalf("%s=%q: want a positive integer", env, v)
			}
			*n = i
		}
	}
	return clients, waves
}

func TestJoinRaceSQLite(t *testing.T) {
	h := startWith(t, joinRaceConfig("sqlite:"+filepath.Join(t.TempDir(), "race.db"), "", ""))
	runJoinRace(t, []*harness{h})
}

func TestJoinRacePostgres(t *testing.T) {
	pg := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("PostgreSQL join race skipped: set COWORK_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	h := startWith(t, joinRaceConfig(freshSchema(t, pg), "", ""))
	runJoinRace(t, []*harness{h})
}

// TestJoinRaceCluster: two nodes on one PostgreSQL and one Redis; clients
// and changes are spread over both, so updates reach half the clients
// through the other node.
func TestJoinRaceCluster(t *testing.T) {
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("cluster join race skipped: set COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL")
	}
	dsn := freshSchema(t, pg)
	prefix := "cwtest-joinrace-" + time.Now().Format("150405.000")
	a := startWith(t, joinRaceConfig(dsn, rd, prefix))
	b := startWith(t, joinRaceConfig(dsn, rd, prefix))
	runJoinRace(t, []*harness{a, b})
}

func joinRaceConfig(db, redis, prefix string) server.Config {
	return server.Config{
		Addr: "127.0.0.1:0", DB: db, Redis: redis, RedisPrefix: prefix, JWTSecret: secret,
		HoldTTL: time.Hour, Location: time.UTC, Catalog: slots.DemoCatalog(),
	}
}

// raceTally counts the views of one run.
type raceTally struct {
	views, wrong, gaps, naiveWrong, gridMaxWrong, early int
	// blindEarly: updates before the snapshot that it lacked; blindStale:
	// updates after it that it had; amid: snapshots read amid the churn.
	blindEarly, blindStale, amid int
	updates                      int64
	firstWrong                   string
}

func runJoinRace(t *testing.T, nodes []*harness) {
	clients, waves := joinRaceSize(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	date := tomorrow()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()

	cs := dialRaceClients(t, ctx, nodes, clients)
	var (
		tally raceTally
		held  [raceSlots + 1]bool // by slot, across waves
	)
	began := time.Now()
	for wave := range waves {
		runWave(t, ctx, hc, nodes, cs, date, wave, &held, &tally)
		if t.Failed() {
			return
		}
	}
	t.Logf("join race on %s: %d clients × %d waves: %d views checked, %d wrong, %d with a gap; %d got updates before their snapshot; %d updates delivered in %v",
		storeName(nodes), clients, waves, tally.views, tally.wrong, tally.gaps, tally.early, tally.updates, time.Since(began).Round(time.Millisecond))
	t.Logf("blind client (ignores versions, applies in arrival order) on the same event streams: %d of %d views wrong; %d got an update before the snapshot that it lacked, %d one after it that it had; control: %d wrong for a per-grid (not per-slot) rule",
		tally.naiveWrong, tally.views, tally.blindEarly, tally.blindStale, tally.gridMaxWrong)
	// Without snapshots read while the slots changed the run did not hit
	// the race at all and would prove nothing.
	if tally.amid == 0 {
		t.Errorf("no snapshot was read amid the churn: the churn did not overlap the joins")
	}
	t.Logf("%d of %d snapshots were read amid the churn", tally.amid, tally.views)
	if tally.wrong != 0 || tally.gaps != 0 {
		t.Fatalf("%d of %d views wrong, %d with a gap (a missed update); first: %s", tally.wrong, tally.views, tally.gaps, tally.firstWrong)
	}
	if tally.naiveWrong != 0 || tally.blindEarly != 0 || tally.blindStale != 0 {
		t.Fatalf("blind client: %d of %d views wrong, %d updates before the snapshot that it lacked, %d after it that it had; first: %s",
			tally.naiveWrong, tally.views, tally.blindEarly, tally.blindStale, tally.firstWrong)
	}
}

func storeName(nodes []*harness) string {
	switch {
	case len(nodes) > 1:
		return fmt.Sprintf("%d nodes on PostgreSQL + Redis", len(nodes))
	case strings.HasPrefix(nodes[0].db, "sqlite:"):
		return "SQLite"
	}
	return "PostgreSQL"
}

// raceClient is one socket and the view of its current join.
type raceClient struct {
	conn *sioclient.Conn
	mu   sync.Mutex
	view *joinView // nil between waves
	err  error     // the connection ended
}

// joinView is what one join shows, built from the events that arrived
// after the join_space was sent.
type joinView struct {
	date      string
	snapshot  bool
	early     []raceUpdate // updates that arrived before the snapshot
	versions  *protocol.GridVersions
	versioned map[int]string // by the per-slot version rule
	naive     map[int]string // snapshot replaces, updates apply as they come
	gridMax   map[int]string // applies an update only above the highest applied
	gridTop   int64
	updates   int
	// snapVersion is the snapshot's; blindEarly and blindStale count
	// updates that a blind client gets wrong: before the snapshot and
	// newer than it, after it and not newer.
	snapVersion            int64
	blindEarly, blindStale int
}

type raceUpdate struct {
	slot    int
	status  string
	version int64
}

func (v *joinView) takeSnapshot(p protocol.SlotsStatusUpdate) {
	v.snapshot = true
	v.versions = protocol.NewGridVersions(p.Version)
	v.versioned, v.naive, v.gridMax = map[int]string{}, map[int]string{}, map[int]string{}
	for _, s := range p.SlotsStatus {
		v.versioned[s.IDSlot], v.naive[s.IDSlot], v.gridMax[s.IDSlot] = s.Status, s.Status, s.Status
	}
	v.gridTop = p.Version
	v.snapVersion = p.Version
	// The naive client applied the early updates to its old grid, which
	// the snapshot has just replaced; the rules judge them now.
	for _, u := range v.early {
		if u.version > p.Version {
			v.blindEarly++
		}
		v.judge(u)
	}
}

func (v *joinView) apply(u raceUpdate) {
	v.updates++
	if !v.snapshot {
		v.early = append(v.early, u)
		return
	}
	v.naive[u.slot] = u.status
	if u.version <= v.snapVersion {
		v.blindStale++
	}
	v.judge(u)
}

func (v *joinView) judge(u raceUpdate) {
	if v.versions.Apply(u.slot, u.version) {
		v.versioned[u.slot] = u.status
	}
	if u.version > v.gridTop {
		v.gridTop = u.version
		v.gridMax[u.slot] = u.status
	}
}

// onEvent feeds the socket's events to the current view. It runs on the
// connection's reader goroutine.
func (c *raceClient) onEvent(conn *sioclient.Conn, pkt []byte) {
	name, args, err := conn.ParseEvent(pkt)
	if err != nil || len(args) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.view
	if v == nil {
		return
	}
	switch name {
	case protocol.EventSlotsStatusUpdate:
		var p protocol.SlotsStatusUpdate
		if json.Unmarshal(args[0], &p) == nil && p.SpazioID == raceSpazio && p.Date == v.date {
			v.takeSnapshot(p)
		}
	case protocol.EventSlotUpdate:
		// Decoded from a map: the wire field must be "version" exactly.
		var p struct {
			SlotID  int            `json:"slotId"`
			Status  string         `json:"status"`
			Data    map[string]any `json:"data"`
			Version *json.Number   `json:"version"`
		}
		if json.Unmarshal(args[0], &p) != nil || p.Data["date"] != v.date || p.Data["id_spazio"] != float64(raceSpazio) {
			return
		}
		var version int64 = -1 // no version: the rule drops it
		if p.Version != nil {
			version, _ = p.Version.Int64()
		}
		v.apply(raceUpdate{slot: p.SlotID, status: p.Status, version: version})
	}
}

// dialRaceClients connects n sockets, spread over the nodes.
func dialRaceClients(t *testing.T, ctx context.Context, nodes []*harness, n int) []*raceClient {
	t.Helper()
	cs := make([]*raceClient, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range cs {
		c := &raceClient{}
		cs[i] = c
		tok := token(t, int64(10_000+i), auth.RoleCliente)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			conn, err := sioclient.Dial(ctx, sioclient.Options{
				URL: nodes[i%len(nodes)].base, Auth: map[string]string{"token": tok},
				OnRawEvent: func(conn *sioclient.Conn, pkt []byte, _ time.Time) { c.onEvent(conn, pkt) },
				OnClose: func(_ *sioclient.Conn, err error) {
					c.mu.Lock()
					c.err = errors.Join(err, errors.New("connection closed"))
					c.mu.Unlock()
				},
			})
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			c.conn = conn
		})
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, c := range cs {
			if c.conn != nil {
				_ = c.conn.Close()
			}
		}
	})
	if err := errors.Join(slicesOf(errs)...); err != nil {
		t.Fatal(err)
	}
	return cs
}

func slicesOf[T any](ch <-chan T) []T {
	var out []T
	for v := range ch {
		out = append(out, v)
	}
	return out
}

// runWave: every slot churns from the start of the wave until a moment
// of its own within it, while every client joins at a random moment of
// the wave; so the last change of each slot lands among the joins, where
// a view that loses or misorders an update stays wrong. Then deliveries
// settle, every view is compared with the REST grid, and every client
// leaves.
func runWave(t *testing.T, ctx context.Context, hc *http.Client, nodes []*harness, cs []*raceClient, date string, wave int, held *[raceSlots + 1]bool, tally *raceTally) {
	t.Helper()
	const spread = 300 * time.Millisecond
	_, before := restGrid(t, ctx, hc, nodes[0].base, date)
	begin := time.Now()
	churnErr := make(chan error, raceSlots)
	var churners sync.WaitGroup
	for slot := 1; slot <= raceSlots; slot++ {
		tok := token(t, int64(500+slot), auth.RoleCliente)
		until := begin.Add(spread/4 + rand.N(spread*3/4))
		churners.Go(func() { churnErr <- churn(ctx, hc, nodes, tok, slot, date, until, &held[slot]) })
	}
	joinErr := make(chan error, len(cs))
	var joins sync.WaitGroup
	for i, c := range cs {
		at := begin.Add(rand.N(spread))
		joins.Go(func() {
			time.Sleep(time.Until(at))
			joinErr <- c.join(ctx, date, i)
		})
	}
	joins.Wait()
	churners.Wait()
	close(churnErr)
	close(joinErr)
	if err := errors.Join(append(slicesOf(churnErr), slicesOf(joinErr)...)...); err != nil {
		t.Fatalf("wave %d: %v", wave, err)
	}

	truth, version := restGrid(t, ctx, hc, nodes[0].base, date)
	settle(cs, version, 5*time.Second)
	for i, c := range cs {
		c.mu.Lock()
		v, cerr := c.view, c.err
		c.view = nil
		c.mu.Unlock()
		if cerr != nil {
			t.Fatalf("wave %d, client %d: %v", wave, i, cerr)
		}
		tally.views++
		tally.updates += int64(v.updates)
		if len(v.early) > 0 {
			tally.early++
		}
		if v.snapVersion > before && v.snapVersion < version {
			tally.amid++
		}
		tally.blindEarly += v.blindEarly
		tally.blindStale += v.blindStale
		if !equalGrid(v.naive, truth) || v.blindEarly > 0 || v.blindStale > 0 {
			tally.naiveWrong++
			if tally.firstWrong == "" {
				tally.firstWrong = fmt.Sprintf("wave %d, client %d (blind): snapshot v%d, %d early updates it lacked, %d late ones it had, view %v, GET /api/slots v%d %v",
					wave, i, v.snapVersion, v.blindEarly, v.blindStale, v.naive, version, truth)
			}
		}
		if !equalGrid(v.gridMax, truth) {
			tally.gridMaxWrong++
		}
		// A gap: a version between the snapshot's and the last is missing,
		// or the last one never came.
		missing, gap := v.versions.Missing()
		if !gap && v.versions.Latest() < version {
			missing, gap = v.versions.Latest()+1, true
		}
		wrong := !equalGrid(v.versioned, truth)
		if wrong {
			tally.wrong++
		}
		if gap {
			tally.gaps++
		}
		if wrong || gap {
			if tally.firstWrong == "" {
				tally.firstWrong = fmt.Sprintf("wave %d, client %d: snapshot v%d, latest v%d (gap at v%d: %v), view %v, GET /api/slots v%d %v",
					wave, i, v.versions.Snapshot(), v.versions.Latest(), missing, gap, v.versioned, version, truth)
			}
		}
	}
	leaveErr := make(chan error, len(cs))
	var leaves sync.WaitGroup
	for _, c := range cs {
		leaves.Go(func() { leaveErr <- c.leave(ctx) })
	}
	leaves.Wait()
	close(leaveErr)
	if err := errors.Join(slicesOf(leaveErr)...); err != nil {
		t.Fatalf("wave %d: leave: %v", wave, err)
	}
}

// join starts a fresh view, then sends join_space and waits for the ack,
// which the server sends after the snapshot.
func (c *raceClient) join(ctx context.Context, date string, i int) error {
	c.mu.Lock()
	c.view = &joinView{date: date}
	c.mu.Unlock()
	args, err := c.conn.EmitWithAck(ctx, protocol.EventJoinSpace, map[string]any{"spazioId": raceSpazio, "sedeId": raceSede, "date": date})
	if err != nil {
		return fmt.Errorf("client %d: join: %w", i, err)
	}
	raw, _ := json.Marshal(args)
	var ack []protocol.Ack
	if err := json.Unmarshal(raw, &ack); err != nil || len(ack) == 0 || !ack[0].Success {
		return fmt.Errorf("client %d: join refused: %s", i, raw)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.view.snapshot {
		return fmt.Errorf("client %d: join acknowledged before its snapshot arrived", i)
	}
	return nil
}

func (c *raceClient) leave(ctx context.Context) error {
	args, err := c.conn.EmitWithAck(ctx, protocol.EventLeaveSpace, map[string]any{"spazioId": raceSpazio, "sedeId": raceSede})
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(args)
	if !bytes.Contains(raw, []byte(`"success":true`)) {
		return fmt.Errorf("leave refused: %s", raw)
	}
	return nil
}

// settle waits until every view has heard of version and of every
// version between its snapshot and that one, or until timeout: a view
// that missed an update never does. Updates of different slots may
// arrive out of order (those committed together are broadcast by their
// callers in any order), so having heard of version alone does not mean
// the ones below it are in.
func settle(cs []*raceClient, version int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, c := range cs {
		for time.Now().Before(deadline) {
			c.mu.Lock()
			_, gap := c.view.versions.Missing()
			done := c.view.versions.Latest() >= version && !gap
			c.mu.Unlock()
			if done {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// churn holds and releases one slot through the REST API, as one user,
// alternating the nodes, until the moment until. *held is whether the
// slot is held, from one wave to the next; a wave may end it either way.
func churn(ctx context.Context, hc *http.Client, nodes []*harness, tok string, slot int, date string, until time.Time, held *bool) error {
	body := fmt.Sprintf(`{"idSpazio":%d,"sedeId":%d,"date":%q}`, raceSpazio, raceSede, date)
	for i := 0; time.Now().Before(until); i++ {
		action := "hold"
		if *held {
			action = "release"
		}
		base := nodes[(slot+i)%len(nodes)].base
		if err := post(ctx, hc, fmt.Sprintf("%s/api/slots/%d/%s", base, slot, action), tok, body); err != nil {
			return fmt.Errorf("slot %d %s: %w", slot, action, err)
		}
		*held = !*held
		time.Sleep(time.Duration(rand.N(3)) * time.Millisecond)
	}
	return nil
}

func post(ctx context.Context, hc *http.Client, url, tok, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// restGrid is GET /api/slots: slot → status, and the grid's version.
func restGrid(t *testing.T, ctx context.Context, hc *http.Client, base, date string) (map[int]string, int64) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/slots/%d/%s", base, raceSpazio, date), nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out protocol.SlotsResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.Success {
		t.Fatalf("GET /api/slots: %v %+v", err, out)
	}
	grid := map[int]string{}
	for _, s := range out.Data.Slots {
		grid[s.IDSlot] = s.Status
	}
	return grid, out.Data.Version
}

func equalGrid(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
