package realtime

import (
	"sync"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// sessions is the hub's own state of each connected socket by socket id
// (claims, rate limiter, expiry timer), so that a disconnect and an
// expiry racing end a session once and shutdown can stop every timer.
// Who is in which room is sio's to know: the hub counts presence through
// the namespace's tallies (see occupancy), never through a copy.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

// add records s and returns the session it replaces, if any (a recovered
// socket takes over its id before the old connection's disconnect ran).
func (ss *sessions) add(s *session) (replaced *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if old, ok := ss.m[s.id]; ok {
		old.left.Store(true)
		replaced = old
	}
	ss.m[s.id] = s
	return replaced
}

// remove forgets s; false when it was not there (already gone, or
// replaced by a recovered socket of the same id).
func (ss *sessions) remove(s *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if cur, ok := ss.m[s.id]; !ok || cur != s {
		return false
	}
	delete(ss.m, s.id)
	s.left.Store(true)
	return true
}

// len is the number of sessions.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// all lists the current sessions.
func (ss *sessions) all() []*session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*session, 0, len(ss.m))
	for _, s := range ss.m {
		out = append(out, s)
	}
	return out
}

// occupancy counts this node's presence from the namespace's membership:
// every accepted socket is in exactly one user room, so the user rooms
// give sockets and users, and the space rooms give the rooms watched.
// The counts cost O(1), so the gauges follow every change.
type occupancy struct{ users, spaces *sio.Tally }

func newOccupancy(nsp *sio.Namespace) occupancy {
	return occupancy{users: nsp.Tally(isUserRoom), spaces: nsp.Tally(isSpaceRoom)}
}

func isSpaceRoom(r string) bool { _, _, ok := protocol.ParseSpaceRoom(r); return ok }

func isUserRoom(r string) bool { _, ok := protocol.ParseUserRoom(r); return ok }

// counts returns sockets, distinct users and space rooms with a member.
func (o occupancy) counts() (sockets, users, rooms int) {
	return o.users.Members(), o.users.Rooms(), o.spaces.Rooms()
}

// snapshot returns sockets, sockets per user and members per space room.
func (o occupancy) snapshot() (sockets int, users map[int64]int, rooms map[string]int) {
	sizes := o.users.Sizes()
	users = make(map[int64]int, len(sizes))
	for r, n := range sizes {
		if id, ok := protocol.ParseUserRoom(r); ok {
			users[id] = n
			sockets += n
		}
	}
	return sockets, users, o.spaces.Sizes()
}
