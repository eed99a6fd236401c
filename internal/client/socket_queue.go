package client

import "sync"

// eventQueue decouples the connection's reader goroutine from the reader of
// Events: push never blocks (a stalled reader must not stall the socket),
// and order is kept. Server events beyond limit are dropped and counted;
// state changes are always kept because they are rare and the reader
// needs them to tell the truth about the connection.
type eventQueue struct {
	mu      sync.Mutex
	buf     []Event
	limit   int
	dropped uint64
	closed  bool
	wake    chan struct{}
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: limit, wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if !ev.IsState() && len(q.buf) >= q.limit {
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close lets pump deliver what is queued and then close its channel.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) droppedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// pump delivers queued events to out until the queue is closed and empty,
// or stop is closed; it closes out when it returns.
func (q *eventQueue) pump(out chan<- Event, stop <-chan struct{}) {
	defer close(out)
	for {
		q.mu.Lock()
		batch, closed := q.buf, q.closed
		q.buf = nil
		q.mu.Unlock()
		for _, ev := range batch {
			select {
			case out <- ev:
			case <-stop:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		if closed {
			return
		}
		select {
		case <-q.wake:
		case <-stop:
			return
		}
	}
}
