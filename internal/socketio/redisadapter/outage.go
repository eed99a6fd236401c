package redisadapter

import (
	"log/slog"
	"sync"
	"time"
)

// The parts of the connection to Redis that fail on their own: the
// subscription (broadcasts and requests from other nodes) and publishing
// (broadcasts to them).
const (
	partSubscription = "subscription"
	partPublish      = "publish"
)

// outage logs a Redis outage: once when it starts, then a reminder at most
// once per interval with what it cost so far (failed attempts, broadcasts
// that wait in the queue or were dropped from it), and once when every
// part works again.
type outage struct {
	every time.Duration
	log   *slog.Logger
	// backlog reads the queue's totals; nil counts nothing.
	backlog func() (waiting int, delayed, dropped uint64)
	// started is called when an outage begins.
	started func()

	mu       sync.Mutex
	failing  map[string]bool
	since    time.Time // start of the outage; zero while up
	lastLog  time.Time
	failures int // since lastLog
	total    int
	// delayed0 and dropped0 are the queue's totals when it started.
	delayed0, dropped0 uint64
}

func (o *outage) counts() (waiting int, delayed, dropped uint64) {
	if o.backlog == nil {
		return 0, 0, 0
	}
	return o.backlog()
}

// active reports whether an outage is on.
func (o *outage) active() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}

// fail records a failed attempt of part.
func (o *outage) fail(now time.Time, part string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failing == nil {
		o.failing = map[string]bool{}
	}
	o.failing[part] = true
	o.total++
	if o.since.IsZero() {
		if o.started != nil {
			o.started()
		}
		o.since, o.lastLog, o.failures = now, now, 0
		_, o.delayed0, o.dropped0 = o.counts()
		o.log.Warn("redis adapter: redis unavailable, broadcasts to other nodes are queued; retrying with backoff",
			"part", part, "err", err)
		return
	}
	o.failures++
	if now.Sub(o.lastLog) >= o.every {
		waiting, delayed, dropped := o.counts()
		o.log.Warn("redis adapter: still unavailable", "part", part, "err", err,
			"failures", o.failures, "down_for", now.Sub(o.since).Round(time.Second),
			"delayed_broadcasts", delayed-o.delayed0, "dropped_broadcasts", dropped-o.dropped0, "waiting_broadcasts", waiting)
		o.lastLog, o.failures = now, 0
	}
}

// ok records that part works; the outage ends when no part fails.
func (o *outage) ok(now time.Time, part string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.failing[part] {
		return
	}
	delete(o.failing, part)
	if len(o.failing) > 0 || o.since.IsZero() {
		return
	}
	_, delayed, dropped := o.counts()
	o.log.Info("redis adapter: connection restored",
		"attempts", o.total, "down_for", now.Sub(o.since).Round(time.Millisecond),
		"delayed_broadcasts", delayed-o.delayed0, "dropped_broadcasts", dropped-o.dropped0)
	o.since, o.total, o.failures = time.Time{}, 0, 0
}
