package realtime

import "sync"

// presence is this node's book of connected sockets: sockets per user and
// members per space room, kept up to date as sockets connect, join, leave
// and go, so that gauges and stats cost O(1) per change instead of a walk
// over every socket (which made accepting 5k clients quadratic).
type presence struct {
	mu       sync.Mutex
	sessions map[string]*session
	users    map[int64]int
	rooms    map[string]int
}

func newPresence() *presence {
	return &presence{sessions: map[string]*session{}, users: map[int64]int{}, rooms: map[string]int{}}
}

// add records s with the space rooms it already has (a recovered socket)
// and returns the session it replaces, if any.
func (p *presence) add(s *session) (replaced *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := s.id
	if old, ok := p.sessions[id]; ok {
		p.forget(old)
		replaced = old
	}
	p.sessions[id] = s
	p.users[s.claims.UserID]++
	for r := range s.rooms {
		p.rooms[r]++
	}
	return replaced
}

// remove forgets s; false when it was not there (already gone, or
// replaced by a recovered socket of the same id).
func (p *presence) remove(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.sessions[s.id]; !ok || cur != s {
		return false
	}
	p.forget(s)
	return true
}

// forget removes s from every count; p.mu is held.
func (p *presence) forget(s *session) {
	delete(p.sessions, s.id)
	if p.users[s.claims.UserID]--; p.users[s.claims.UserID] <= 0 {
		delete(p.users, s.claims.UserID)
	}
	for r := range s.rooms {
		if p.rooms[r]--; p.rooms[r] <= 0 {
			delete(p.rooms, r)
		}
	}
	s.gone = true
}

// canJoin reports whether s may join room under a limit of max rooms.
func (p *presence) canJoin(s *session, room string, max int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, in := s.rooms[room]
	return in || len(s.rooms) < max
}

// has reports whether s is recorded in room.
func (p *presence) has(s *session, room string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, in := s.rooms[room]
	return in
}

// join records s in room; false when s is already gone.
func (p *presence) join(s *session, room string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.gone {
		return false
	}
	if _, in := s.rooms[room]; !in {
		s.rooms[room] = struct{}{}
		p.rooms[room]++
	}
	return true
}

// leave records that s left room.
func (p *presence) leave(s *session, room string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, in := s.rooms[room]; in && !s.gone {
		delete(s.rooms, room)
		if p.rooms[room]--; p.rooms[room] <= 0 {
			delete(p.rooms, room)
		}
	}
}

// counts returns sockets, distinct users and non-empty space rooms.
func (p *presence) counts() (sockets, users, rooms int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions), len(p.users), len(p.rooms)
}

// snapshot copies the per-user and per-room counts.
func (p *presence) snapshot() (sockets int, users map[int64]int, rooms map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	users = make(map[int64]int, len(p.users))
	for k, v := range p.users {
		users[k] = v
	}
	rooms = make(map[string]int, len(p.rooms))
	for k, v := range p.rooms {
		rooms[k] = v
	}
	return len(p.sessions), users, rooms
}

// all lists the current sessions.
func (p *presence) all() []*session {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s)
	}
	return out
}
