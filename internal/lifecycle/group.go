// Package lifecycle gives goroutines and timer callbacks an owner that
// waits for them: once a Group is closed, none of its work starts, and
// Close returns only when the work that was running has ended. Entering
// costs one atomic operation, so it can sit on per-packet paths.
package lifecycle

import (
	"sync"
	"sync/atomic"
)

// Group owns work until Close. The zero value is ready to use; a Group
// must not be copied after first use.
type Group struct {
	// state is the count of running work, with closedBit once closed.
	state    atomic.Int64
	initOnce sync.Once
	doneOnce sync.Once
	done     chan struct{} // closed once closed and nothing runs
}

const closedBit = 1 << 62

// Enter reports whether work may start; each true must be paired with
// an Exit when that work ends.
func (g *Group) Enter() bool {
	for {
		v := g.state.Load()
		if v&closedBit != 0 {
			return false
		}
		if g.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// Exit ends work that Enter let start.
func (g *Group) Exit() {
	if g.state.Add(-1) == closedBit {
		g.finish()
	}
}

// Go runs f on a goroutine of its own, unless the group is closed.
func (g *Group) Go(f func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.Exit()
		f()
	}()
	return true
}

// Run calls f now, unless the group is closed: the body of a timer
// callback that must not act after Close.
func (g *Group) Run(f func()) bool {
	if !g.Enter() {
		return false
	}
	defer g.Exit()
	f()
	return true
}

// Close lets no more work start and waits for the work that runs. Safe
// to call more than once and from several goroutines.
func (g *Group) Close() {
	g.init()
	if g.state.Or(closedBit) == 0 {
		g.finish() // nothing was running
	}
	<-g.done
}

func (g *Group) init() { g.initOnce.Do(func() { g.done = make(chan struct{}) }) }

func (g *Group) finish() {
	g.init()
	g.doneOnce.Do(func() { close(g.done) })
}
