package sio

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// Defaults of Recovery.
const (
	defaultMaxPackets = 1000
	defaultMaxBytes   = 1 << 20
)

// recoverableReasons are the engine close reasons after which a client
// may come back: the network or the server went away, not the client or
// the protocol.
var recoverableReasons = map[string]bool{
	eio.ReasonTransportClose: true,
	eio.ReasonTransportError: true,
	eio.ReasonPingTimeout:    true,
	eio.ReasonServerClose:    true,
}

// stored is one packet kept for recovery. It is shared by every socket it
// was sent to, like its frames.
type stored struct {
	offset string
	frames []*eio.Frame
	size   int
	at     int64 // unix nanoseconds
}

// offsets makes the offsets the client echoes back on reconnection: a
// random prefix per server, so that offsets of another process or node
// never match, and a counter.
type offsets struct {
	prefix string
	n      atomic.Uint64
}

func newOffsets() *offsets { return &offsets{prefix: randomID()[:8] + "-"} }

func (o *offsets) next() string {
	return o.prefix + strconv.FormatUint(o.n.Add(1), 36)
}

// randomID is a socket id or private session id: 16 URL-safe characters.
func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ring is what was sent to one socket, oldest first, bounded by count,
// bytes and age. It is guarded by its socket's mutex.
type ring struct {
	lim     *Recovery
	buf     []*stored // circular, len is a power of two or zero
	head, n int
	bytes   int
	// evicted is the offset of the newest entry dropped, "" if none was:
	// a client whose last offset is this one missed only what is still
	// in the ring.
	evicted string
	// missed counts what was added while the socket was disconnected.
	missed, missedBytes int
	disconnected        bool
}

func (r *ring) at(i int) *stored { return r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring) popFront() {
	e := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	r.bytes -= e.size
	r.evicted = e.offset
}

// trim drops entries older than the window, and the oldest ones while
// adding size would break a bound.
func (r *ring) trim(now int64, size int) {
	r.dropOld(now)
	for r.n > 0 && (r.n+1 > r.lim.MaxPackets || r.bytes+size > r.lim.MaxBytes) {
		r.popFront()
	}
}

func (r *ring) dropOld(now int64) {
	old := now - int64(r.lim.Window)
	for r.n > 0 && r.at(0).at < old {
		r.popFront()
	}
}

// expire drops entries older than the window and, once empty, the buffer.
func (r *ring) expire(now int64) {
	r.dropOld(now)
	if r.n == 0 {
		r.buf, r.head = nil, 0
	}
}

// push adds e. While disconnected it reports false once the packets
// missed exceed a bound: the session can no longer be recovered.
func (r *ring) push(e *stored, now int64) bool {
	if r.disconnected {
		r.missed++
		r.missedBytes += e.size
		if r.missed > r.lim.MaxPackets || r.missedBytes > r.lim.MaxBytes {
			return false
		}
	}
	r.trim(now, e.size)
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
	r.bytes += e.size
	return true
}

func (r *ring) grow() {
	size := max(8, 2*len(r.buf))
	buf := make([]*stored, size)
	for i := range r.n {
		buf[i] = r.at(i)
	}
	r.buf, r.head = buf, 0
}

// after returns the entries sent after offset, or false when the ring
// does not reach back that far. An absent offset (a client that got
// nothing yet) needs the whole history.
func (r *ring) after(offset string, hasOffset bool) ([]*stored, bool) {
	start := -1
	switch {
	case !hasOffset:
		if r.evicted == "" {
			start = 0
		}
	case offset == r.evicted:
		start = 0
	default:
		for i := r.n - 1; i >= 0; i-- {
			if r.at(i).offset == offset {
				start = i + 1
				break
			}
		}
	}
	if start < 0 {
		return nil, false
	}
	out := make([]*stored, 0, r.n-start)
	for i := start; i < r.n; i++ {
		out = append(out, r.at(i))
	}
	return out, true
}

// sessions holds the sockets that lost their connection and may be
// recovered, by private session id.
type sessions struct {
	mu     sync.Mutex
	m      map[string]*Socket
	closed bool // the server shut down: nothing is saved any more
}

// put saves s; false once closed.
func (ss *sessions) put(s *Socket) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	if ss.m == nil {
		ss.m = make(map[string]*Socket)
	}
	ss.m[s.pid] = s
	return true
}

// close saves nothing more and returns what was saved.
func (ss *sessions) close() []*Socket {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	list := make([]*Socket, 0, len(ss.m))
	for _, s := range ss.m {
		list = append(list, s)
	}
	ss.m = nil
	return list
}

// take removes and returns the saved socket of pid if it belongs to ns.
func (ss *sessions) take(pid string, ns *Namespace) *Socket {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[pid]
	if s == nil || s.ns != ns {
		return nil
	}
	delete(ss.m, pid)
	return s
}

// remove forgets s if it is still saved.
func (ss *sessions) remove(s *Socket) {
	ss.mu.Lock()
	if ss.m[s.pid] == s {
		delete(ss.m, s.pid)
	}
	ss.mu.Unlock()
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// recoveryAuth reads what the official client sends to recover: its
// private session id and the offset of the last packet it processed
// (absent when it got none).
func recoveryAuth(auth map[string]any) (pid, offset string, hasOffset, ok bool) {
	pid, ok = auth["pid"].(string)
	v, present := auth["offset"]
	if !present {
		return pid, "", false, ok
	}
	offset, isString := v.(string)
	return pid, offset, true, ok && isString
}

func nowNano() int64 { return time.Now().UnixNano() }
