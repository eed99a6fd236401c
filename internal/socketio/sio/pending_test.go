package sio

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// dialFrom opens a fake session from the client address host.
func dialFrom(s *Server, host string) *fakeConn {
	connSeq.Lock()
	connSeq.n++
	id := fmt.Sprintf("eio%d", connSeq.n)
	connSeq.Unlock()
	r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	r.RemoteAddr = host + ":40000"
	c := &fakeConn{id: id, req: r}
	h := s.newClient(c)
	c.mu.Lock()
	c.h = h
	c.mu.Unlock()
	return c
}

func evicted(c *fakeConn) bool {
	closed, reason := c.isClosed()
	return closed && reason == ReasonPendingEvicted
}

// A full pool evicts instead of refusing: the oldest session of the
// address holding the most pending sessions, so a flood from one address
// evicts itself and a client from elsewhere keeps its place.
func TestPendingPoolEvictsFromTheFullestAddress(t *testing.T) {
	evictions := 0
	s := testServer(t, Config{MaxPending: 4, OnPendingEvicted: func() { evictions++ }})
	user := dialFrom(s, "10.0.0.1")
	var flood []*fakeConn
	for range 20 {
		flood = append(flood, dialFrom(s, "10.0.0.66"))
	}
	if evicted(user) {
		t.Fatal("the user's pending session was evicted by a flood from another address")
	}
	for i, c := range flood {
		if want := i < 17; evicted(c) != want {
			t.Errorf("flood session %d evicted = %v, want %v (the oldest go first)", i, evicted(c), want)
		}
	}
	if got := s.pool.len(); got != 4 {
		t.Errorf("pool holds %d sessions, want 4", got)
	}
	if s.Pending() != 4 || evictions != 17 {
		t.Errorf("Pending() = %d, evictions = %d; want 4 and 17", s.Pending(), evictions)
	}
	// The user completes its CONNECT: it leaves the pool and is never evicted.
	user.recv("0")
	if s.pool.len() != 3 || s.Pending() != 3 {
		t.Fatalf("after the CONNECT: pool %d, Pending %d; want 3 and 3", s.pool.len(), s.Pending())
	}
	for range 10 {
		dialFrom(s, "10.0.0.66")
	}
	if closed, _ := user.isClosed(); closed {
		t.Fatal("a connected session was evicted")
	}
}

// With every address at one pending session, the globally oldest goes.
func TestPendingPoolEvictsTheOldestAmongEquals(t *testing.T) {
	s := testServer(t, Config{MaxPending: 3})
	a := dialFrom(s, "10.0.0.1")
	b := dialFrom(s, "10.0.0.2")
	c := dialFrom(s, "10.0.0.3")
	d := dialFrom(s, "10.0.0.4")
	if !evicted(a) || evicted(b) || evicted(c) || evicted(d) {
		t.Fatalf("evicted a=%v b=%v c=%v d=%v; want only a", evicted(a), evicted(b), evicted(c), evicted(d))
	}
}

// The per-address bound evicts that address's oldest, whatever the total.
func TestPendingPoolPerAddress(t *testing.T) {
	s := testServer(t, Config{MaxPending: 100, MaxPendingPerAddress: 2})
	other := dialFrom(s, "10.0.0.9")
	x1 := dialFrom(s, "10.0.0.1")
	x2 := dialFrom(s, "10.0.0.1")
	x3 := dialFrom(s, "10.0.0.1")
	if !evicted(x1) || evicted(x2) || evicted(x3) || evicted(other) {
		t.Fatalf("evicted x1=%v x2=%v x3=%v other=%v; want only x1", evicted(x1), evicted(x2), evicted(x3), evicted(other))
	}
	// A session that ends by itself leaves the pool.
	x2.drop("transport close")
	if s.pool.len() != 2 {
		t.Fatalf("pool holds %d after a pending session closed, want 2", s.pool.len())
	}
}

// ClientAddress decides the address, e.g. from a trusted proxy's header.
func TestPendingPoolClientAddress(t *testing.T) {
	s := testServer(t, Config{MaxPendingPerAddress: 1, ClientAddress: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }})
	mk := func(client string) *fakeConn {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		r.Header.Set("X-Test-Client", client)
		c := &fakeConn{id: client, req: r}
		h := s.newClient(c)
		c.mu.Lock()
		c.h = h
		c.mu.Unlock()
		return c
	}
	a, b := mk("a"), mk("b")
	if evicted(a) || evicted(b) {
		t.Fatal("sessions of two addresses evicted under a per-address bound of 1")
	}
	a2 := mk("a")
	if !evicted(a) || evicted(a2) || evicted(b) {
		t.Fatal("a second session of address a did not evict the first")
	}
}

// A client that holds its CONNECT answer is counted as connected: the
// connection cap counts Sessions()-Pending(), and a client that opens
// another session right after its answer must find the cap full.
func TestConnectAnswerFollowsLeavingThePendingCount(t *testing.T) {
	s := testServer(t, Config{MaxPending: 3})
	c := dialFrom(s, "10.0.0.1")
	var pendingAtAnswer, inPoolAtAnswer = -1, -1
	c.mu.Lock()
	c.onSend = func([]*eio.Frame) {
		pendingAtAnswer, inPoolAtAnswer = s.Pending(), s.pool.len()
	}
	c.mu.Unlock()
	c.recv("0")
	if pendingAtAnswer != 0 || inPoolAtAnswer != 0 {
		t.Fatalf("when the CONNECT answer was sent: Pending() = %d, pool holds %d; want 0 and 0", pendingAtAnswer, inPoolAtAnswer)
	}
	if got := c.take(); len(got) != 1 || !strings.HasPrefix(got[0], "0{") {
		t.Fatalf("sent %q, want one CONNECT answer", got)
	}
}

// floodFrom opens n fake sessions from n addresses never seen before, as
// a flood spread over more addresses than the pool holds does.
func floodFrom(s *Server, first, n int) []*fakeConn {
	out := make([]*fakeConn, n)
	for i := range out {
		out[i] = dialFrom(s, fmt.Sprintf("10.%d.%d.%d", (first+i)>>16&255, (first+i)>>8&255, (first+i)&255))
	}
	return out
}

// A flood from more addresses than the pool holds, one pending session
// each, leaves no address to evict from: the pool evicts the oldest. A
// user's pending session is then safe while fewer than max newer
// handshakes arrive, and goes with the max-th; one that completes its
// CONNECT in that window stays for good.
func TestPendingPoolFloodFromMoreAddressesThanItHolds(t *testing.T) {
	const pool = 16
	s := testServer(t, Config{MaxPending: pool})
	floodFrom(s, 1, 3*pool) // full, and turning over
	user := dialFrom(s, "192.0.2.1")
	flood := floodFrom(s, 1000, pool-1)
	if evicted(user) {
		t.Fatalf("the user's session was evicted after %d newer handshakes; the pool holds %d", pool-1, pool)
	}
	for i, c := range flood {
		if evicted(c) {
			t.Fatalf("flood session %d, newer than the user's, was evicted before it", i)
		}
	}
	floodFrom(s, 2000, 1)
	if !evicted(user) {
		t.Fatalf("the user's session survived %d newer handshakes with a pool of %d: the oldest no longer goes first", pool, pool)
	}

	// The same, but the user completes its CONNECT within the window.
	user = dialFrom(s, "192.0.2.2")
	floodFrom(s, 3000, pool-1)
	user.recv("0")
	floodFrom(s, 4000, 10*pool)
	if closed, reason := user.isClosed(); closed {
		t.Fatalf("a session that connected within the window was closed: %s", reason)
	}
	if s.pool.len() != pool {
		t.Errorf("pool holds %d sessions, want %d", s.pool.len(), pool)
	}
}

// Addresses that hold more than one pending session pay first, however
// many addresses the flood uses: the user's session goes only when a
// handshake finds every address down to one pending session (its own
// included) and the user's the oldest of them.
func TestPendingPoolEvictsRepeatersBeforeSingles(t *testing.T) {
	const pool = 8
	evictions := 0
	s := testServer(t, Config{MaxPending: pool, OnPendingEvicted: func() { evictions++ }})
	user := dialFrom(s, "192.0.2.1")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		// The first 4×pool from pool/2 addresses, then from 3×pool:
		// more addresses than the pool holds, some repeating.
		host := fmt.Sprintf("10.0.0.%d", rng.IntN(pool/2))
		if i >= 4*pool {
			host = fmt.Sprintf("10.0.1.%d", rng.IntN(3*pool))
		}
		onlySingles := s.pool.longest() <= 1 && s.pool.count(host) == 0
		before := evictions
		dialFrom(s, host)
		if evicted(user) {
			if !onlySingles {
				t.Fatalf("handshake %d evicted the user's session while an address held two or more", i)
			}
			// The first 4×pool handshakes overfilled the pool by
			// 4×pool+1-pool, all from repeating addresses.
			if before < 3*pool+1 {
				t.Fatalf("the user's session went after %d evictions, before the repeating addresses had paid theirs", before)
			}
			t.Logf("the user's session went at handshake %d, after %d evictions, the first that found only single sessions", i, before)
			return
		}
	}
	t.Fatal("the user's session was never evicted: the flood never left only single sessions, and the test checked nothing")
}

// longest is the most pending sessions one address holds.
func (p *pendingPool) longest() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.byAddr {
		n = max(n, l.n)
	}
	return n
}

// count is how many pending sessions addr holds.
func (p *pendingPool) count(addr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.byAddr[addr]; l != nil {
		return l.n
	}
	return 0
}
