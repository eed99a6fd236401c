package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
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
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// A Redis stall (connections open, no answers, as with CLIENT PAUSE) on
// one node of two: node A reaches Redis through a proxy the test stalls,
// node B directly. While it lasts, holds on A must answer as fast as
// ever (the broadcast to B waits in A's queue, not in the request), and
// once Redis answers again, clients on B that ignore versions (the
// original page: a join without a date and the grid over REST; and dated
// joins with their snapshot) must show the server's grid within 5 s:
// from A's queue in order, or, when the queue overflowed, from the
// current state of each slot A could not announce.

func TestRedisStallKeepsHoldsFastAndClientsConverge(t *testing.T) {
	runRedisStall(t, 0) // the default queue holds everything
}

func TestRedisStallOverflowResendsSlots(t *testing.T) {
	runRedisStall(t, 5)
}

func runRedisStall(t *testing.T, queue int) {
	a, b, px := stallableNodes(t, "stall", queue)
	nodes := []*harness{a, b}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	date := tomorrow()

	// Blind clients on B: half join like the page, half with the date.
	var clients []*blindClient
	for i := range 10 {
		clients = append(clients, dialBlind(t, ctx, b.base, int64(20_000+i), date, i%2 == 0))
	}
	// A hold on A reaching every client on B shows the cluster is up.
	var held [raceSlots + 1]bool
	stallChurn(t, ctx, hc, nodes, date, 1, &held)
	converge(t, ctx, hc, b.base, date, clients, 10*time.Second)

	// COWORK_TEST_STALL_CYCLES takes more samples, for the README's figure.
	cycles := 40
	if v, err := strconv.Atoi(os.Getenv("COWORK_TEST_STALL_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	normal := stallChurn(t, ctx, hc, nodes, date, cycles, &held)
	px.stall(true)
	stalled := stallChurn(t, ctx, hc, nodes, date, cycles, &held)
	slowest := slices.Max(stalled)
	t.Logf("holds and releases on the stalled node, %d each: p50 %s p99 %s max %s normal; p50 %s p99 %s max %s while Redis is stalled",
		len(normal), pct(normal, 50), pct(normal, 99), slices.Max(normal), pct(stalled, 50), pct(stalled, 99), slowest)
	// A publish used to wait out Redis's read deadline (3 s) inside the
	// request; the queue takes it at once.
	if slowest > time.Second {
		t.Errorf("a hold took %s while Redis was stalled: the request waited on Redis", slowest)
	}
	if waiting := scrape(t, ctx, hc, a.base, "coworkctl_cluster_publish_waiting"); waiting == 0 {
		t.Errorf("nothing waits in A's queue during the stall: the stall did not stall anything")
	}
	// Keep Redis stalled until A has seen the outage (a publish round
	// timed out and what waits counts as delayed), as in a real pause.
	testkit.Eventually(t, 15*time.Second, "A to see the Redis stall (a delayed broadcast)", func() bool {
		return scrape(t, ctx, hc, a.base, "coworkctl_cluster_publish_delayed_total") > 0
	})
	// A stalled Redis is named by /readyz, so a load balancer stops sending
	// this node new clients; it is ready again once Redis answers.
	if code, body := readyz(t, ctx, hc, a.base); code != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(body), "redis") {
		t.Errorf("/readyz during the Redis stall: %d %s, want 503 naming redis", code, body)
	}
	px.stall(false)
	testkit.Eventually(t, 10*time.Second, "/readyz 200 after Redis answers again", func() bool {
		code, _ := readyz(t, ctx, hc, a.base)
		return code == http.StatusOK
	})
	took := converge(t, ctx, hc, b.base, date, clients, 5*time.Second)
	t.Logf("queue %d: %d clients on the other node showed the server's grid %s after Redis came back; A delayed %.0f broadcasts, dropped %.0f",
		queue, len(clients), took.Round(time.Millisecond), scrape(t, ctx, hc, a.base, "coworkctl_cluster_publish_delayed_total"),
		scrape(t, ctx, hc, a.base, "coworkctl_cluster_publish_dropped_total"))
	if queue > 0 {
		if d := scrape(t, ctx, hc, a.base, "coworkctl_cluster_publish_dropped_total"); d == 0 {
			t.Errorf("the queue of %d never overflowed: the test did not exercise the resend", queue)
		}
	}
}

// stallChurn holds and releases slots through A and B in turn, cycles
// times, and returns how long each request to A took.
func stallChurn(t *testing.T, ctx context.Context, hc *http.Client, nodes []*harness, date string, cycles int, held *[raceSlots + 1]bool) []time.Duration {
	t.Helper()
	var onA []time.Duration
	body := fmt.Sprintf(`{"idSpazio":%d,"sedeId":%d,"date":%q}`, raceSpazio, raceSede, date)
	for i := range cycles {
		slot := 1 + rand.N(raceSlots)
		action := "hold"
		if held[slot] {
			action = "release"
		}
		node := i % 2
		start := time.Now()
		if err := post(ctx, hc, fmt.Sprintf("%s/api/slots/%d/%s", nodes[node].base, slot, action), token(t, int64(700+slot), auth.RoleCliente), body); err != nil {
			t.Fatalf("slot %d %s on node %d: %v", slot, action, node, err)
		}
		if node == 0 {
			onA = append(onA, time.Since(start))
		}
		held[slot] = !held[slot]
	}
	return onA
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(100 * time.Microsecond)
}

// converge waits until every client's view equals GET /api/slots and
// returns how long that took; it fails the test after limit.
func converge(t *testing.T, ctx context.Context, hc *http.Client, base, date string, cs []*blindClient, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	truth, version := restGrid(t, ctx, hc, base, date)
	for {
		wrong := 0
		var first string
		for i, c := range cs {
			c.mu.Lock()
			ok := equalGrid(c.view, truth)
			if !ok && first == "" {
				first = fmt.Sprintf("client %d (dated %v): %v", i, c.dated, c.view)
			}
			err := c.err
			c.mu.Unlock()
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			if !ok {
				wrong++
			}
		}
		if wrong == 0 {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%d of %d clients still wrong %s after Redis came back; first: %s; GET /api/slots v%d %v",
				wrong, len(cs), limit, first, version, truth)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// blindClient applies events as the original page does: the grid it
// loaded (over REST, or the snapshot of a dated join), then every
// slot_update in arrival order, whatever its version.
type blindClient struct {
	dated bool
	mu    sync.Mutex
	view  map[int]string
	err   error
}

func dialBlind(t *testing.T, ctx context.Context, base string, user int64, date string, dated bool) *blindClient {
	t.Helper()
	c := &blindClient{dated: dated, view: map[int]string{}}
	conn, err := sioclient.Dial(ctx, sioclient.Options{
		URL: base, Auth: map[string]string{"token": token(t, user, auth.RoleCliente)},
		OnRawEvent: func(conn *sioclient.Conn, pkt []byte, _ time.Time) { c.onEvent(conn, pkt) },
		OnClose: func(_ *sioclient.Conn, err error) {
			c.mu.Lock()
			c.err = errors.Join(err, errors.New("connection closed"))
			c.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req := map[string]any{"spazioId": raceSpazio, "sedeId": raceSede}
	if dated {
		req["date"] = date
	}
	raw, err := conn.EmitWithAck(ctx, protocol.EventJoinSpace, req)
	if err != nil || len(raw) == 0 || !strings.Contains(string(raw[0]), `"success":true`) {
		t.Fatalf("join: %s %v", raw, err)
	}
	if !dated {
		// The page loads its grid over REST after joining.
		hc := &http.Client{Timeout: 10 * time.Second}
		truth, _ := restGrid(t, ctx, hc, base, date)
		c.mu.Lock()
		c.view = truth
		c.mu.Unlock()
	}
	return c
}

func (c *blindClient) onEvent(conn *sioclient.Conn, pkt []byte) {
	name, args, err := conn.ParseEvent(pkt)
	if err != nil || len(args) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name {
	case protocol.EventSlotsStatusUpdate:
		var p protocol.SlotsStatusUpdate
		if json.Unmarshal(args[0], &p) == nil {
			c.view = map[int]string{}
			for _, s := range p.SlotsStatus {
				c.view[s.IDSlot] = s.Status
			}
		}
	case protocol.EventSlotUpdate:
		var p struct {
			SlotID int    `json:"slotId"`
			Status string `json:"status"`
		}
		if json.Unmarshal(args[0], &p) == nil {
			c.view[p.SlotID] = p.Status
		}
	}
}

// scrape reads one unlabelled sample from /metrics.
func scrape(t *testing.T, ctx context.Context, hc *http.Client, base, name string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		var v float64
		if strings.HasPrefix(line, name+" ") {
			if _, err := fmt.Sscanf(line[len(name)+1:], "%g", &v); err == nil {
				return v
			}
		}
	}
	t.Fatalf("/metrics of %s lacks %s", base, name)
	return 0
}

// stallProxy is a TCP proxy in front of Redis that can stall: while it
// does, it accepts and keeps connections but passes no byte either way,
// as a paused Redis; bytes held meanwhile go on once it resumes.
type stallProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stalled bool
	resumed chan struct{} // closed when a stall ends
	conns   map[net.Conn]bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() { p.serve(&wg) })
	t.Cleanup(func() {
		_ = ln.Close()
		p.stall(false)
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && !p.stalled:
		p.stalled, p.resumed = true, make(chan struct{})
	case !on && p.stalled:
		p.stalled = false
		close(p.resumed)
	}
}

// gate blocks while the proxy is stalled.
func (p *stallProxy) gate() {
	p.mu.Lock()
	stalled, resumed := p.stalled, p.resumed
	p.mu.Unlock()
	if stalled {
		<-resumed
	}
}

func (p *stallProxy) serve(wg *sync.WaitGroup) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		wg.Go(func() { p.copy(up, c); _ = up.Close(); _ = c.Close() })
		wg.Go(func() { p.copy(c, up); _ = c.Close(); _ = up.Close() })
	}
}

func (p *stallProxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// readyz returns the status and body of base's /readyz.
func readyz(t *testing.T, ctx context.Context, hc *http.Client, base string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// stallableNodes starts two nodes on one PostgreSQL schema and one Redis
// (skipping the test without both): a reaches Redis through px, which
// the test can stall, b directly. queue is a's Redis queue bound (0: the
// default).
func stallableNodes(t *testing.T, name string, queue int) (a, b *harness, px *stallProxy) {
	t.Helper()
	pg, rd := os.Getenv("COWORK_TEST_POSTGRES_URL"), os.Getenv("COWORK_TEST_REDIS_URL")
	if pg == "" || rd == "" {
		t.Skip("Redis stall test skipped: set COWORK_TEST_POSTGRES_URL and COWORK_TEST_REDIS_URL")
	}
	ru, err := url.Parse(rd)
	if err != nil {
		t.Fatal(err)
	}
	px = newStallProxy(t, ru.Host)
	viaProxy := *ru
	viaProxy.Host = px.addr()
	dsn := freshSchema(t, pg)
	prefix := "cwtest-" + name + "-" + time.Now().Format("150405.000000")
	cfg := func(redis string) server.Config {
		return server.Config{
			Addr: "127.0.0.1:0", DB: dsn, Redis: redis, RedisPrefix: prefix, RedisQueue: queue, JWTSecret: secret,
			HoldTTL: time.Hour, Location: time.UTC, Catalog: slots.DemoCatalog(),
		}
	}
	return startWith(t, cfg(viaProxy.String())), startWith(t, cfg(rd)), px
}
