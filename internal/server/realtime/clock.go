package realtime

import (
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

// afterFunc runs f after d on the hub's clock, as one of its owned
// callbacks.
func (h *Hub) afterFunc(d time.Duration, f func()) Timer {
	return h.clock.AfterFunc(d, func() { h.callbacks.Run(f) })
}
