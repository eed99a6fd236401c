package redisadapter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// queued is one broadcast waiting to be published.
type queued struct {
	seq     uint64
	channel string
	msg     []byte
	p       adapter.Packet
	opts    adapter.Options
}

// queue holds the broadcasts not yet handed to Redis, oldest first, up to
// size; a full queue drops its oldest to take a new one. Publish only
// appends to it, so a caller (an HTTP request) never waits on Redis.
type queue struct {
	size int

	mu      sync.Mutex
	items   []queued
	nextSeq uint64
	onDrop  func(adapter.Packet, adapter.Options)
	delayed uint64 // total: queued while an outage was on
	dropped uint64 // total
	wake    chan struct{}
}

func newQueue(size int) *queue {
	return &queue{size: size, wake: make(chan struct{}, 1)}
}

// push appends a broadcast; during an outage it counts as delayed. It
// returns what it dropped to make room, for the caller to report without
// the lock.
func (q *queue) push(item queued, outage bool) (dropped *queued) {
	q.mu.Lock()
	q.nextSeq++
	item.seq = q.nextSeq
	if len(q.items) >= q.size {
		d := q.items[0]
		q.items[0] = queued{}
		q.items = q.items[1:]
		q.dropped++
		dropped = &d
	}
	q.items = append(q.items, item)
	if outage {
		q.delayed++
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return dropped
}

// head copies up to n broadcasts from the front.
func (q *queue) head(n int) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.items[:min(n, len(q.items))]...)
}

// done removes the broadcasts up to seq (published); some may have been
// dropped meanwhile.
func (q *queue) done(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.items) && q.items[i].seq <= seq {
		q.items[i] = queued{}
		i++
	}
	q.items = q.items[i:]
}

// outageStarted counts what waits when an outage begins as delayed.
func (q *queue) outageStarted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.delayed += uint64(len(q.items))
}

func (q *queue) stats() adapter.BacklogStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return adapter.BacklogStats{Waiting: len(q.items), Delayed: q.delayed, Dropped: q.dropped}
}

// publishBatch is how many queued broadcasts go to Redis in one pipeline.
const publishBatch = 128

// publish hands the queue to Redis in order until ctx ends. A failed round
// keeps its broadcasts at the front and is retried with backoff, so the
// other nodes get them late but in order once Redis answers again.
func (c *Cluster) publish(ctx context.Context) {
	attempt := 0
	for {
		batch := c.queue.head(publishBatch)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-c.queue.wake:
				continue
			}
		}
		// While the subscription is down Redis is unreachable: wait for it
		// to come back instead of dialling for nothing.
		if c.Healthy() != nil {
			select {
			case <-ctx.Done():
				return
			case <-c.up:
				continue
			}
		}
		n, err := c.publishRound(ctx, batch)
		if n > 0 {
			c.queue.done(batch[n-1].seq)
		}
		if err == nil {
			attempt = 0
			c.out.ok(time.Now(), partPublish)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.out.fail(time.Now(), partPublish, err)
		t := time.NewTimer(backoff(attempt, c.minBackoff, c.publishMaxBackoff, rand.Float64()))
		attempt++
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// publishRound publishes batch in one pipeline and returns how many of
// its first broadcasts Redis took.
func (c *Cluster) publishRound(ctx context.Context, batch []queued) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, c.publishTimeout)
	defer cancel()
	cmds, err := c.client.Pipelined(rctx, func(p redis.Pipeliner) error {
		for _, q := range batch {
			p.Publish(rctx, q.channel, q.msg)
		}
		return nil
	})
	n := 0
	for _, cmd := range cmds {
		if cmd.Err() != nil {
			break
		}
		n++
	}
	if err != nil || n < len(batch) {
		return n, fmt.Errorf("publish to redis: %w: %w", adapter.ErrUnavailable, err)
	}
	return n, nil
}
