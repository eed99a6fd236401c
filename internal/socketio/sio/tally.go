package sio

// Tally counts one class of rooms of a namespace (those its match
// accepts) and their connected members, kept up to date under the
// namespace's lock as sockets join, leave, drop and recover. A count
// costs O(1) and a listing walks only the class's rooms, so a caller
// that reports occupancy after every change (gauges) needs no copy of
// the membership of its own. Sockets saved for recovery are not counted:
// they are not connected.
type Tally struct {
	ns    *Namespace
	match func(room string) bool

	// Guarded by ns.mu.
	rooms   map[string]*room // matching rooms with a connected member
	members int              // connected memberships of those rooms
}

// Tally starts counting the rooms for which match reports true. match
// runs once per room when the room is made (and here for the rooms that
// exist), with the namespace's membership locked: it must be quick and
// must not call into the namespace.
func (n *Namespace) Tally(match func(room string) bool) *Tally {
	t := &Tally{ns: n, match: match, rooms: make(map[string]*room)}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tallies = append(n.tallies, t)
	for name, r := range n.rooms {
		if match(name) {
			r.tallies = append(r.tallies, t)
			if r.live > 0 {
				t.rooms[name] = r
				t.members += r.live
			}
		}
	}
	return t
}

// Rooms is the number of counted rooms with a connected member.
func (t *Tally) Rooms() int {
	t.ns.mu.RLock()
	defer t.ns.mu.RUnlock()
	return len(t.rooms)
}

// Members is the number of connected memberships of the counted rooms: a
// socket in two of them counts twice.
func (t *Tally) Members() int {
	t.ns.mu.RLock()
	defer t.ns.mu.RUnlock()
	return t.members
}

// Sizes maps each counted room with a connected member to the number of
// its connected members.
func (t *Tally) Sizes() map[string]int {
	t.ns.mu.RLock()
	defer t.ns.mu.RUnlock()
	out := make(map[string]int, len(t.rooms))
	for name, r := range t.rooms {
		out[name] = r.live
	}
	return out
}

// newRoom makes room name and finds the tallies that count it. n.mu is
// held.
func (n *Namespace) newRoom(name string) *room {
	r := &room{members: make(map[*Socket]struct{})}
	for _, t := range n.tallies {
		if t.match(name) {
			r.tallies = append(r.tallies, t)
		}
	}
	n.rooms[name] = r
	return r
}

// addLive changes room name's count of connected members by d (±1) and
// its tallies with it. n.mu is held.
func (r *room) addLive(name string, d int) {
	r.live += d
	for _, t := range r.tallies {
		t.members += d
		switch {
		case r.live == 0:
			delete(t.rooms, name)
		case d > 0 && r.live == 1:
			t.rooms[name] = r
		}
	}
}
