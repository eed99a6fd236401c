package realtime

import (
	"fmt"
	"sync"
	"testing"

	"github.com/coworkctl/coworkctl/internal/auth"
)

// fakeSession builds a session whose socket reports the given id.
func fakeSession(t *testing.T, id string, user int64) *session {
	t.Helper()
	return &session{id: id, claims: &auth.Claims{UserID: user}, rooms: map[string]struct{}{}}
}

func TestPresenceCounts(t *testing.T) {
	p := newPresence()
	a, b, c := fakeSession(t, "a", 1), fakeSession(t, "b", 1), fakeSession(t, "c", 2)
	for _, s := range []*session{a, b, c} {
		p.add(s)
	}
	p.join(a, "spazio_1_sede_1")
	p.join(a, "spazio_1_sede_1") // twice: still one membership
	p.join(b, "spazio_1_sede_1")
	p.join(c, "spazio_2_sede_1")
	if n, u, r := p.counts(); n != 3 || u != 2 || r != 2 {
		t.Fatalf("counts = %d sockets, %d users, %d rooms; want 3, 2, 2", n, u, r)
	}
	_, _, rooms := p.snapshot()
	if rooms["spazio_1_sede_1"] != 2 || rooms["spazio_2_sede_1"] != 1 {
		t.Fatalf("rooms = %v", rooms)
	}
	if !p.canJoin(a, "spazio_1_sede_1", 1) || p.canJoin(a, "spazio_3_sede_1", 1) {
		t.Fatal("canJoin ignores the room limit")
	}
	p.leave(c, "spazio_2_sede_1")
	if !p.remove(a) {
		t.Fatal("remove of a present socket returned false")
	}
	if p.remove(a) {
		t.Fatal("second remove of the same socket returned true (disconnect must be idempotent)")
	}
	if p.join(a, "spazio_4_sede_1") {
		t.Fatal("a removed session joined a room")
	}
	if n, u, r := p.counts(); n != 2 || u != 2 || r != 1 {
		t.Fatalf("after leave/remove: %d sockets, %d users, %d rooms; want 2, 2, 1", n, u, r)
	}
}

func TestPresenceConcurrent(t *testing.T) {
	p := newPresence()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fakeSession(t, fmt.Sprint("s", i), int64(i%7))
			p.add(s)
			p.join(s, "spazio_1_sede_1")
			p.leave(s, "spazio_1_sede_1")
			p.join(s, "spazio_2_sede_1")
			p.remove(s)
			p.remove(s)
		}()
	}
	wg.Wait()
	if n, u, r := p.counts(); n != 0 || u != 0 || r != 0 {
		t.Fatalf("after everyone left: %d sockets, %d users, %d rooms; want zeros", n, u, r)
	}
}
