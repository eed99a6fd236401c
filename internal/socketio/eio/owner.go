package eio

import "sync"

// owner tracks the engine's goroutines and timer callbacks, so that
// Shutdown returns only once none runs: after close, none starts. Work
// that close refuses is never needed, since every session has ended by
// then.
type owner struct {
	mu      sync.RWMutex
	closed  bool
	running sync.WaitGroup
}

// enter reports whether work may start; each true needs an exit.
func (o *owner) enter() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return false
	}
	o.running.Add(1)
	return true
}

func (o *owner) exit() { o.running.Done() }

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
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.running.Wait()
}
