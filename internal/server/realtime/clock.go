package realtime

import (
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Clock is the hub's time: the time stamped on events and the timers of
// token expiry and of a grid feed's reorder wait. Tests inject a fake
// one to fire those timers without waiting.
type Clock interface {
	slots.Clock
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop keeps the call from happening; false if it already has (or
	// was stopped).
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{ slots.SystemClock }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// callbacks owns the hub's timer callbacks: once closed, none starts and
// close has waited for those that were running, so nothing the hub
// started outlives its Shutdown.
type callbacks struct {
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// run calls f unless closed.
func (c *callbacks) run(f func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.running.Add(1)
	c.mu.Unlock()
	defer c.running.Done()
	f()
}

// close stops new callbacks and waits for the running ones.
func (c *callbacks) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
}

// afterFunc runs f after d on the hub's clock, as one of its owned
// callbacks.
func (h *Hub) afterFunc(d time.Duration, f func()) Timer {
	return h.clock.AfterFunc(d, func() { h.callbacks.run(f) })
}
