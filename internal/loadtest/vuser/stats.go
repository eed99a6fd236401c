package vuser

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/loadtest/scenario"
)

// stepStats are the figures of one step name (on one transport, or all).
type stepStats struct {
	name string
	kind scenario.Kind
	// count is attempts; ok succeeded; refused were answered "no" by the
	// domain (a slot taken), which is not an error of the server; skipped
	// could not run (release of a slot the user does not hold).
	count, ok, refused, skipped atomic.Uint64
	errs                        loadtest.ErrorCounts
	lat                         loadtest.Histogram
}

// stats holds every step's figures, created before the run so that
// virtual users only read the maps.
type stats struct {
	all         map[string]*stepStats
	byTransport map[string]map[string]*stepStats
	order       []string
	// main is the script's transport, reported even when no user used it.
	main string
}

const stepConnect = "connect"

func newStats(s *scenario.Script, transports []string) *stats {
	st := &stats{all: map[string]*stepStats{}, byTransport: map[string]map[string]*stepStats{}, main: transports[0]}
	for _, tr := range transports {
		st.byTransport[tr] = map[string]*stepStats{}
	}
	add := func(name string, kind scenario.Kind) {
		if _, ok := st.all[name]; ok {
			return
		}
		st.order = append(st.order, name)
		st.all[name] = &stepStats{name: name, kind: kind}
		for _, m := range st.byTransport {
			m[name] = &stepStats{name: name, kind: kind}
		}
	}
	add(stepConnect, "connect")
	var walk func([]*scenario.Step)
	walk = func(flow []*scenario.Step) {
		for _, step := range flow {
			if step.Kind == scenario.KindThink {
				continue
			}
			if step.Kind == scenario.KindLoop {
				walk(step.Loop.Steps)
				continue
			}
			add(step.Name, step.Kind)
		}
	}
	for _, sc := range s.Scenarios {
		walk(sc.Flow)
	}
	return st
}

// outcome of one step.
type outcome int

const (
	outOK outcome = iota
	outError
	outRefused
	outSkipped
)

func (st *stats) record(name, transport string, out outcome, lat time.Duration, errKind string) {
	for _, s := range []*stepStats{st.all[name], st.byTransport[transport][name]} {
		if s == nil {
			continue
		}
		s.count.Add(1)
		switch out {
		case outOK:
			s.ok.Add(1)
			s.lat.Record(lat)
		case outRefused:
			s.refused.Add(1)
			s.lat.Record(lat)
		case outSkipped:
			s.skipped.Add(1)
		case outError:
			s.errs.Add(errKind)
		}
	}
}

// updateKey names one slot_update: the change a hold, book or release
// makes.
type updateKey struct {
	spazio int64
	date   string
	slot   int
	status string
}

// ledger follows slot_update deliveries the virtual users are owed: when a
// user acts on a slot, every member of that space's room is owed one
// slot_update; delivery latency runs from sending the request.
type ledger struct {
	mu       sync.Mutex
	rooms    map[string]map[*vu]struct{}
	lat      loadtest.Histogram
	expected uint64
	// delivered arrived; lost were owed longer than lostAfter when their
	// user left; left were younger (the user left before the update could
	// arrive); duplicates arrived again for a change already delivered.
	delivered, lost, left, duplicates uint64
	lostAfter                         time.Duration
}

// owed is one slot_update a virtual user waits for.
type owed struct {
	key  updateKey
	sent time.Time
}

func newLedger(lostAfter time.Duration) *ledger {
	return &ledger{rooms: map[string]map[*vu]struct{}{}, lostAfter: lostAfter}
}

func (l *ledger) join(room string, v *vu) {
	l.mu.Lock()
	m := l.rooms[room]
	if m == nil {
		m = map[*vu]struct{}{}
		l.rooms[room] = m
	}
	m[v] = struct{}{}
	l.mu.Unlock()
}

// leave removes v from room and settles what it was still owed there.
func (l *ledger) leave(room string, v *vu, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.rooms[room], v)
	l.settle(v, room, now)
}

func (l *ledger) settle(v *vu, room string, now time.Time) {
	keep := v.owed[:0]
	for _, o := range v.owed {
		if room != "" && o.key.room() != room {
			keep = append(keep, o)
			continue
		}
		if now.Sub(o.sent) > l.lostAfter {
			l.lost++
		} else {
			l.left++
		}
	}
	v.owed = keep
}

// leaveAll settles everything v is owed when its connection ends.
func (l *ledger) leaveAll(v *vu, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.rooms {
		delete(m, v)
	}
	l.settle(v, "", now)
}

// expect marks every member of room as owed k, before the request is
// sent: the server broadcasts before it answers. It returns who is owed,
// for cancel.
func (l *ledger) expect(room string, k updateKey, sent time.Time) []*vu {
	l.mu.Lock()
	defer l.mu.Unlock()
	var who []*vu
	for v := range l.rooms[room] {
		v.owed = append(v.owed, owed{key: k, sent: sent})
		who = append(who, v)
	}
	l.expected += uint64(len(who))
	return who
}

// cancel withdraws what expect added when the request failed and no
// update will come.
func (l *ledger) cancel(who []*vu, k updateKey, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range who {
		if i := slices.Index(v.owed, owed{key: k, sent: sent}); i >= 0 {
			v.owed = slices.Delete(v.owed, i, i+1)
			l.expected--
		}
	}
}

// deliver records a slot_update read by v; it reports whether it was owed.
func (l *ledger) deliver(v *vu, k updateKey, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, o := range v.owed {
		if o.key == k {
			v.owed = slices.Delete(v.owed, i, i+1)
			l.delivered++
			l.lat.Record(at.Sub(o.sent))
			v.seen = append(v.seen, k)
			if len(v.seen) > 64 {
				v.seen = v.seen[len(v.seen)-64:]
			}
			return true
		}
	}
	if slices.Contains(v.seen, k) {
		l.duplicates++
	}
	return false
}

func (k updateKey) room() string { return roomOf(k.spazio) }
