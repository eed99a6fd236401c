package sio

import (
	"net"
	"net/http"
	"sync"
)

// ReasonPendingEvicted closes a session that had not completed its
// CONNECT when the pending pool needed its place.
const ReasonPendingEvicted = "pending evicted"

// pendingPool holds the sessions that have not completed a CONNECT yet,
// oldest first per client address. It is bounded in total and per
// address, and a newcomer past a bound is never refused: it makes room by
// evicting an older pending session — the oldest of its own address past
// the per-address bound, else the oldest of the address holding the most
// pending sessions. A client with a token completes its CONNECT one round
// trip after its handshake, so a flood of handshakes that never CONNECT
// cannot keep it out: the flood evicts itself first, and the client's own
// session goes only once every flooding address is down to one pending
// session and as many newer handshakes as the pool holds have arrived.
type pendingPool struct {
	max     int // 0: no total bound
	perAddr int // 0: no per-address bound

	mu     sync.Mutex
	n      int
	seq    uint64
	byAddr map[string]*pendingList
}

// pendingList is one address's pending sessions, oldest first, linked
// through the clients.
type pendingList struct {
	head, tail *client
	n          int
}

// pendingLink is a client's place in its address's pendingList; guarded
// by the pool's mutex.
type pendingLink struct {
	in         bool
	seq        uint64
	prev, next *client
}

func newPendingPool(max, perAddr int) *pendingPool {
	return &pendingPool{max: max, perAddr: perAddr, byAddr: make(map[string]*pendingList)}
}

// add puts c in the pool and returns the sessions evicted to make room
// for it (never c); the caller closes them.
func (p *pendingPool) add(c *client) []*client {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.byAddr[c.addr]
	if l == nil {
		l = &pendingList{}
		p.byAddr[c.addr] = l
	}
	p.seq++
	c.link = pendingLink{in: true, seq: p.seq, prev: l.tail}
	if l.tail != nil {
		l.tail.link.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.n++
	p.n++

	var evicted []*client
	if p.perAddr > 0 && l.n > p.perAddr {
		evicted = append(evicted, p.unlinkLocked(l.head))
	}
	if p.max > 0 && p.n > p.max {
		evicted = append(evicted, p.unlinkLocked(p.fullestLocked().head))
	}
	return evicted
}

// fullestLocked is the address list to evict from when the pool is full:
// the longest, and of equally long ones the one with the oldest head. A
// scan of the addresses; the pool is bounded, so is the scan.
func (p *pendingPool) fullestLocked() *pendingList {
	var best *pendingList
	for _, l := range p.byAddr {
		if best == nil || l.n > best.n || l.n == best.n && l.head.link.seq < best.head.link.seq {
			best = l
		}
	}
	return best
}

// remove takes c out of the pool; a no-op when it is not in it.
func (p *pendingPool) remove(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.link.in {
		p.unlinkLocked(c)
	}
}

func (p *pendingPool) unlinkLocked(c *client) *client {
	l := p.byAddr[c.addr]
	if c.link.prev != nil {
		c.link.prev.link.next = c.link.next
	} else {
		l.head = c.link.next
	}
	if c.link.next != nil {
		c.link.next.link.prev = c.link.prev
	} else {
		l.tail = c.link.prev
	}
	c.link = pendingLink{}
	l.n--
	p.n--
	if l.n == 0 {
		delete(p.byAddr, c.addr)
	}
	return c
}

// len is the number of sessions in the pool.
func (p *pendingPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// remoteHost is the default client address: the host of RemoteAddr.
func remoteHost(r *http.Request) string {
	if r == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
