package realtime

import (
	"sync"
	"time"
)

// A grid's feed delivers its slot updates to this node's sockets so that
// a client applying every event in arrival order, ignoring versions (the
// original page does), ends with the server's view, and a client that
// checks versions sees no gap that is not a lost update:
//
//   - in version order: a grid's versions are consecutive (each change
//     takes the next in its transaction), but updates are broadcast after
//     commit by concurrent requests on every node, so they can reach a
//     node out of order. An update above the next expected version waits
//     for the ones below it, at most reorderWait; then it goes without
//     them (they count as gaps in /metrics).
//   - per slot, versions only go up: an update older than one already
//     delivered for its slot is dropped. That only happens to an update
//     the feed stopped waiting for; a blind client applying it would
//     show a free slot as taken.
//   - across a dated join's snapshot: while the socket's snapshot is read,
//     the grid's updates are kept for it instead of sent; once the
//     snapshot is queued, those newer than it follow, and from then on
//     the socket is spared every update its snapshot already has (one
//     committed before the read can still arrive late).
//
// Updates of the same room for other dates never wait for a join.

// gridKey names one grid: a space room and a date.
type gridKey struct {
	room, date string
}

// update is one slot_update on its way to this node's sockets.
type update struct {
	slot    int
	version int64
	payload any
}

// gridFeed is the delivery state of one grid on this node.
type gridFeed struct {
	mu sync.Mutex
	// last is, per slot, the highest version delivered to the room.
	last map[int]int64
	// next is the version expected next; 0 until the feed sees one.
	next int64
	// early holds updates above next, by version, until the versions
	// below them arrive or wait fires.
	early map[int64]update
	wait  Timer
	// joins are the sockets that joined this grid with a date.
	joins map[string]*gridJoin
	// used is when the feed last delivered or took a join (for pruning).
	used time.Time
}

// gridJoin is one socket's dated join of a grid.
type gridJoin struct {
	sess *session
	// reading: the snapshot is being read; updates wait in held.
	reading bool
	held    []update
	// floor is the snapshot's version: updates at or below it are in it.
	floor int64
}

// feeds holds the grids' feeds. Feeds without joins that were idle for
// feedIdle are pruned, past maxIdleFeeds of them. A pruned feed forgets
// which versions it delivered, so a late update older than one it
// delivered would pass again: the idle time is far longer than any
// broadcast takes between nodes.
type feeds struct {
	mu    sync.Mutex
	grids map[gridKey]*gridFeed
}

const (
	feedIdle     = time.Hour
	maxIdleFeeds = 10_000
	// reorderWait is how long an update waits for the versions before
	// it: far longer than a broadcast takes between nodes, and shorter
	// than the second after which a client takes a missing version as
	// lost and joins again.
	reorderWait = 500 * time.Millisecond
	// maxEarly bounds the updates waiting in one grid's feed.
	maxEarly = 1024
)

func newFeeds() *feeds { return &feeds{grids: map[gridKey]*gridFeed{}} }

// get returns the grid's feed, creating it.
func (f *feeds) get(k gridKey) *gridFeed {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.grids[k]
	if g == nil {
		g = &gridFeed{last: map[int]int64{}, early: map[int64]update{}, joins: map[string]*gridJoin{}}
		f.grids[k] = g
	}
	return g
}

// inRoom returns the feeds of room's grids.
func (f *feeds) inRoom(room string) []*gridFeed {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*gridFeed
	for k, g := range f.grids {
		if k.room == room {
			out = append(out, g)
		}
	}
	return out
}

// prune forgets the joins of sockets that are gone and, past
// maxIdleFeeds feeds, the feeds idle since before now-feedIdle.
func (f *feeds) prune(now time.Time) {
	f.mu.Lock()
	all := make(map[gridKey]*gridFeed, len(f.grids))
	for k, g := range f.grids {
		all[k] = g
	}
	f.mu.Unlock()
	var idle []gridKey
	for k, g := range all {
		g.mu.Lock()
		for id, j := range g.joins {
			if j.sess.left.Load() {
				delete(g.joins, id)
			}
		}
		if len(g.joins) == 0 && now.Sub(g.used) > feedIdle {
			idle = append(idle, k)
		}
		g.mu.Unlock()
	}
	if len(all) <= maxIdleFeeds {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range idle {
		g := f.grids[k]
		g.mu.Lock()
		if len(g.joins) == 0 && now.Sub(g.used) > feedIdle {
			delete(f.grids, k)
		}
		g.mu.Unlock()
	}
}

// admit records u as delivered unless its slot already got a newer
// version; g.mu is held.
func (g *gridFeed) admit(u update) bool {
	if u.version <= g.last[u.slot] {
		return false
	}
	g.last[u.slot] = u.version
	return true
}

// skip reports whether the socket id must not get u now: its snapshot is
// being read (u waits for it) or already has u. g.mu is held.
func (g *gridFeed) skip(id string, u update) bool {
	j := g.joins[id]
	switch {
	case j == nil:
		return false
	case j.reading:
		j.held = append(j.held, u)
		return true
	}
	return u.version <= j.floor
}
