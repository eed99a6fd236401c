package sio

import (
	"sync"
	"time"
)

// callbacks owns the server's timer callbacks: once closed, none starts
// and close has waited for those that were running, so no timer of the
// server acts after its Shutdown.
type callbacks struct {
	mu      sync.RWMutex
	closed  bool
	running sync.WaitGroup
}

// afterFunc is time.AfterFunc with f owned by c.
func (c *callbacks) afterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { c.run(f) })
}

// run calls f unless closed.
func (c *callbacks) run(f func()) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return
	}
	c.running.Add(1)
	c.mu.RUnlock()
	defer c.running.Done()
	f()
}

// close lets no callback start and waits for the running ones.
func (c *callbacks) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
}
