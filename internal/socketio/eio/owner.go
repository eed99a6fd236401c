package eio

import (
	"sync"
	"sync/atomic"
)

// owner tracks the engine's goroutines and timer callbacks, so that
// Shutdown returns only once none runs: after close, none starts. Work
// that close refuses is never needed, since every session has ended by
// then. Entering is one atomic operation: writers start per burst of
// sends.
type owner struct {
	// state is the count of running work, with closedBit once closed.
	state    atomic.Int64
	doneOnce sync.Once
	done     chan struct{} // closed once closed and nothing runs
	initOnce sync.Once
}

const closedBit = 1 << 62

// enter reports whether work may start; each true needs an exit.
func (o *owner) enter() bool {
	for {
		v := o.state.Load()
		if v&closedBit != 0 {
			return false
		}
		if o.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (o *owner) exit() {
	if o.state.Add(-1) == closedBit {
		o.finish()
	}
}

// spawn runs f on a goroutine of its own unless closed.
func (o *owner) spawn(f func()) bool {
	if !o.enter() {
		return false
	}
	go func() {
		defer o.exit()
		f()
	}()
	return true
}

// close lets no more work start and waits for what runs.
func (o *owner) close() {
	o.init()
	if o.state.Or(closedBit) == 0 {
		o.finish() // nothing was running
	}
	<-o.done
}

func (o *owner) init() { o.initOnce.Do(func() { o.done = make(chan struct{}) }) }

func (o *owner) finish() {
	o.init()
	o.doneOnce.Do(func() { close(o.done) })
}
