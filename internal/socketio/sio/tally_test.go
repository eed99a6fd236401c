package sio

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

func isRoomOfA(r string) bool { return strings.HasPrefix(r, "a:") }

// wantTally checks a tally's counts and sizes against want (room →
// connected members) and against the namespace's RoomSize.
func wantTally(t *testing.T, when string, ta *Tally, want map[string]int) {
	t.Helper()
	members := 0
	for r, n := range want {
		members += n
		if got := ta.ns.RoomSize(r); got != n {
			t.Errorf("%s: RoomSize(%s) = %d, want %d", when, r, got, n)
		}
	}
	if got := ta.Sizes(); !maps.Equal(got, want) {
		t.Errorf("%s: sizes %v, want %v", when, got, want)
	}
	if ta.Rooms() != len(want) || ta.Members() != members {
		t.Errorf("%s: %d rooms, %d members; want %d, %d", when, ta.Rooms(), ta.Members(), len(want), members)
	}
}

func TestTallyCountsJoinsLeavesAndDisconnects(t *testing.T) {
	s := testServer(t, Config{})
	ns := s.Of("/")
	_, x := connectTo(t, s, "/", "")
	_, y := connectTo(t, s, "/", "")
	x.Join("a:1", "b:1")
	// Rooms that exist before the tally are counted too.
	a := ns.Tally(isRoomOfA)
	b := ns.Tally(func(r string) bool { return strings.HasPrefix(r, "b:") })
	wantTally(t, "existing rooms", a, map[string]int{"a:1": 1})
	wantTally(t, "existing rooms", b, map[string]int{"b:1": 1})

	y.Join("a:1", "a:2", "c:1")
	x.Join("a:1") // twice: still one membership
	wantTally(t, "after joins", a, map[string]int{"a:1": 2, "a:2": 1})

	x.Leave("a:1")
	x.Leave("a:9") // not in it: nothing changes
	wantTally(t, "after a leave", a, map[string]int{"a:1": 1, "a:2": 1})

	y.Disconnect(false)
	y.Disconnect(false) // twice: counted once
	wantTally(t, "after a disconnect", a, map[string]int{})
	wantTally(t, "after a disconnect", b, map[string]int{"b:1": 1})
	if !x.In("b:1") || x.In("a:1") || y.In("a:2") {
		t.Errorf("In: b:1 %v, a:1 %v, gone socket in a:2 %v", x.In("b:1"), x.In("a:1"), y.In("a:2"))
	}

	// A socket that is gone cannot join back into the counts.
	y.Join("a:3")
	wantTally(t, "join of a gone socket", a, map[string]int{})
}

// TestTallySkipsSavedSockets: a socket saved for recovery is in its rooms
// but not counted; recovering it counts it again with every room it
// had, and the window running out leaves nothing behind.
func TestTallySkipsSavedSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newRecoveryEnv(t, Recovery{Window: 10 * time.Second})
		a := e.ns.Tally(isRoomOfA)
		c, sk, reply, _ := e.connect(nil)
		_, other, _, _ := e.connect(nil)
		sk.Join("a:1", "a:2")
		other.Join("a:1")
		wantTally(t, "connected", a, map[string]int{"a:1": 2, "a:2": 1})

		c.drop(eio.ReasonTransportClose)
		wantTally(t, "saved", a, map[string]int{"a:1": 1})
		// A saved session still joins rooms, uncounted until it is back.
		sk.Join("a:3")
		wantTally(t, "saved, joined", a, map[string]int{"a:1": 1})

		c2, sk2, _, _ := e.connect(map[string]any{"pid": reply["pid"]})
		if !sk2.Recovered() {
			t.Fatal("not recovered")
		}
		wantTally(t, "recovered", a, map[string]int{"a:1": 2, "a:2": 1, "a:3": 1})

		c2.drop(eio.ReasonTransportClose)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		wantTally(t, "window over", a, map[string]int{"a:1": 1})
		other.Disconnect(true)
		wantTally(t, "everyone gone", a, map[string]int{})
	})
}

// TestTallyConcurrent: joins, leaves, drops and recoveries racing on many
// sockets leave counts that agree with the membership (run with -race).
func TestTallyConcurrent(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute})
	e.ns.OnConnection(nil)
	a := e.ns.Tally(isRoomOfA)
	const workers = 16
	socks := make([]*Socket, workers)
	conns := make([]*fakeConn, workers)
	for i := range workers {
		conns[i], socks[i] = connectTo(t, e.s, "/", "")
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			sk, c := socks[i], conns[i]
			for k := range 200 {
				room := fmt.Sprintf("a:%d", k%5)
				sk.Join(room, "other")
				if k%3 == 0 {
					sk.Leave(room)
				}
				if k%50 == 49 && i%2 == 0 {
					c.drop(eio.ReasonTransportClose) // saved: uncounted
					_ = a.Rooms()
				}
			}
		})
	}
	wg.Wait()
	want := map[string]int{}
	for i, sk := range socks {
		if i%2 == 0 {
			continue // saved, not connected
		}
		for _, r := range sk.Rooms() {
			if isRoomOfA(r) {
				want[r]++
			}
		}
	}
	wantTally(t, "after the race", a, want)
	for _, sk := range socks {
		sk.Disconnect(true)
	}
	wantTally(t, "everyone gone", a, map[string]int{})
}
