package sio

import (
	"fmt"
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
