package protocol

// GridVersions is a client's bookkeeping of one grid's versions: it
// decides which slot_updates to apply and notices gaps (the rule in the
// package documentation). Make one per snapshot with NewGridVersions and
// pass it every slot_update of the grid received after the join was sent,
// those that arrived before the snapshot included. It is not safe for
// concurrent use.
type GridVersions struct {
	snapshot int64
	// last is the version last applied per slot; absent means snapshot.
	last map[int]int64
	// seen: every version in (snapshot, seen] has arrived; ahead holds
	// those above seen+1 that arrived before the ones below them.
	seen  int64
	ahead map[int64]struct{}
}

// NewGridVersions starts the bookkeeping of a grid whose snapshot has the
// given version.
func NewGridVersions(snapshot int64) *GridVersions {
	return &GridVersions{snapshot: snapshot, seen: snapshot, last: map[int]int64{}, ahead: map[int64]struct{}{}}
}

// Snapshot is the version of the snapshot the bookkeeping started from.
func (g *GridVersions) Snapshot() int64 { return g.snapshot }

// Apply records an update of slot at version v and reports whether the
// client should apply it: v is greater than the version last applied to
// that slot, initially the snapshot's. An update at or below it is
// already in the snapshot, or older than what the slot shows.
func (g *GridVersions) Apply(slot int, v int64) bool {
	g.see(v)
	last, ok := g.last[slot]
	if !ok {
		last = g.snapshot
	}
	if v <= last {
		return false
	}
	g.last[slot] = v
	return true
}

func (g *GridVersions) see(v int64) {
	switch {
	case v <= g.seen:
		return
	case v > g.seen+1:
		g.ahead[v] = struct{}{}
		return
	}
	g.seen = v
	for {
		if _, ok := g.ahead[g.seen+1]; !ok {
			return
		}
		delete(g.ahead, g.seen+1)
		g.seen++
	}
}

// Missing returns the lowest version above the snapshot that has not
// arrived although a higher one has. Updates of different slots may
// arrive out of order, so a gap is normal for a moment; one that is still
// there after a short wait (a second) means an update was lost, and the
// client should resync by joining again.
func (g *GridVersions) Missing() (v int64, ok bool) {
	if len(g.ahead) == 0 {
		return 0, false
	}
	return g.seen + 1, true
}

// Latest is the highest version that has arrived, or the snapshot's.
func (g *GridVersions) Latest() int64 {
	latest := g.seen
	for v := range g.ahead {
		latest = max(latest, v)
	}
	return latest
}
