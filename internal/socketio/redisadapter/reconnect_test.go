package redisadapter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// proxy is a TCP proxy in front of Redis that can be cut (every
// connection closed, new ones accepted and closed at once, as when Redis
// restarts) or frozen (bytes dropped, connections left open, as in a
// partition), and restored. It counts connection attempts.
type proxy struct {
	ln       net.Listener
	target   string
	accepted atomic.Int64
	frozen   atomic.Bool

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.setCut(true)
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		cut := p.cut
		if !cut {
			p.conns[c] = true
		}
		p.mu.Unlock()
		if cut {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go func() { p.copy(up, c); _ = up.Close() }()
	p.copy(c, up)
	_ = c.Close()
}

func (p *proxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

// cpuTime is the CPU (user + system) this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRedisOutage cuts Redis from under a node: the node must say it is
// down, refuse publishes at once, retry a handful of times (not in a tight
// loop), log a bounded number of lines, and carry broadcasts again once
// Redis is back.
func TestRedisOutage(t *testing.T) {
	opt := redisOptions(t)
	px := newProxy(t, opt.Addr)
	viaProxy := *opt
	viaProxy.Addr = px.addr()
	viaProxy.DialTimeout = time.Second
	prefix := testPrefix()

	var logLines countingHandler
	a := New(Config{Client: newClient(t, &viaProxy), Prefix: prefix, Logger: slog.New(&logLines)})
	b := New(Config{Client: newClient(t, opt), Prefix: prefix, Logger: quietLogger()})
	nodeA, nodeB := newFakeNode(), newFakeNode()
	startCluster(t, a, nodeA)
	startCluster(t, b, nodeB)
	ctx := context.Background()
	hello := adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"hello"}}

	px.setCut(true)
	testkit.Eventually(t, 5*time.Second, "Healthy to report the outage", func() bool { return a.Healthy() != nil })
	if err := a.Healthy(); !errors.Is(err, adapter.ErrUnavailable) {
		t.Fatalf("Healthy = %v, want ErrUnavailable", err)
	}

	// Publishing while down queues the broadcast and returns at once; it
	// reaches B once Redis is back.
	start := time.Now()
	if err := a.Publish(ctx, hello, adapter.Options{}); err != nil {
		t.Fatalf("Publish while down = %v, want it queued", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Publish while down took %s, want it queued at once", d)
	}
	if _, err := a.FetchSockets(ctx, "/", adapter.Options{}); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("FetchSockets while down = %v, want ErrUnavailable", err)
	}

	attempts0, accepted0, logs0, cpu0 := a.attempts.Load(), px.accepted.Load(), logLines.n.Load(), cpuTime(t)
	const window = 2 * time.Second
	time.Sleep(window) // measuring what the adapter does on its own over real time
	attempts := a.attempts.Load() - attempts0
	accepted := px.accepted.Load() - accepted0
	logs := logLines.n.Load() - logs0
	cpu := cpuTime(t) - cpu0
	t.Logf("down for %s: %d reconnect attempts, %d TCP connections, %d log lines, %s CPU",
		window, attempts, accepted, logs, cpu)
	// Backoff from 100 ms doubling: about 5 attempts in 2 s.
	if attempts < 2 || attempts > 10 {
		t.Errorf("%d reconnect attempts in %s, want a handful", attempts, window)
	}
	if accepted > 3*attempts+3 {
		t.Errorf("%d TCP connections for %d attempts", accepted, attempts)
	}
	if logs > 2 {
		t.Errorf("%d log lines in %s, want at most 2", logs, window)
	}
	if cpu > window/5 {
		t.Errorf("%s CPU in %s, want idle", cpu, window)
	}

	px.setCut(false)
	testkit.Eventually(t, 10*time.Second, "Healthy after restore", func() bool { return a.Healthy() == nil })
	if got := nodeB.next(t); got.p.Data[0] != "hello" {
		t.Errorf("B got %v, want the broadcast queued during the outage", got.p.Data)
	}
	testkit.Eventually(t, 5*time.Second, "the queue to empty", func() bool { return a.Backlog().Waiting == 0 })
	if st := a.Backlog(); st.Delayed != 1 || st.Dropped != 0 {
		t.Errorf("backlog after restore = %+v, want 1 delayed, none dropped", st)
	}
	if err := b.Publish(ctx, adapter.Packet{Type: 2, Nsp: "/", Data: []any{"back"}}, adapter.Options{Rooms: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	if got := nodeA.next(t); got.p.Data[0] != "back" {
		t.Errorf("A got %v", got.p.Data)
	}
	// The whole outage: "lost" once and "restored" once.
	if n := logLines.n.Load(); n != 2 {
		t.Errorf("%d log lines for the outage, want 2", n)
	}
}

// TestSilentConnectionDetected: a subscription that stays open but
// carries nothing (a partition) is found dead by the health check, and
// comes back when the network does.
func TestSilentConnectionDetected(t *testing.T) {
	opt := redisOptions(t)
	px := newProxy(t, opt.Addr)
	viaProxy := *opt
	viaProxy.Addr = px.addr()
	viaProxy.ReadTimeout = 300 * time.Millisecond
	a := New(Config{Client: newClient(t, &viaProxy), Prefix: testPrefix(),
		HealthCheckInterval: 200 * time.Millisecond, Logger: quietLogger()})
	startCluster(t, a, newFakeNode())

	px.frozen.Store(true)
	testkit.Eventually(t, 3*time.Second, "Healthy to report the silent connection", func() bool { return a.Healthy() != nil })
	if err := a.Healthy(); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("Healthy = %v, want ErrUnavailable", err)
	}
	px.frozen.Store(false)
	testkit.Eventually(t, 10*time.Second, "Healthy after the partition", func() bool { return a.Healthy() == nil })
}

// TestStalledRedisQueues: while Redis answers nothing, Publish returns at
// once; the broadcasts wait, the oldest past the bound are dropped and
// reported, and the rest reach the other node in order once Redis
// answers again.
func TestStalledRedisQueues(t *testing.T) {
	opt := redisOptions(t)
	px := newProxy(t, opt.Addr)
	viaProxy := *opt
	viaProxy.Addr = px.addr()
	viaProxy.DialTimeout = time.Second
	viaProxy.ReadTimeout = 300 * time.Millisecond
	viaProxy.WriteTimeout = 300 * time.Millisecond
	prefix := testPrefix()

	a := New(Config{Client: newClient(t, &viaProxy), Prefix: prefix, Logger: quietLogger(),
		QueueSize: 3, PublishTimeout: 300 * time.Millisecond, HealthCheckInterval: 300 * time.Millisecond})
	b := New(Config{Client: newClient(t, opt), Prefix: prefix, Logger: quietLogger()})
	var mu sync.Mutex
	var dropped []any
	a.OnDrop(func(p adapter.Packet, _ adapter.Options) {
		mu.Lock()
		dropped = append(dropped, p.Data[0])
		mu.Unlock()
	})
	nodeA, nodeB := newFakeNode(), newFakeNode()
	startCluster(t, a, nodeA)
	startCluster(t, b, nodeB)
	ctx := context.Background()

	px.frozen.Store(true)
	var slowest time.Duration
	for i := range 5 {
		start := time.Now()
		if err := a.Publish(ctx, adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{float64(i)}}, adapter.Options{}); err != nil {
			t.Fatalf("Publish %d while stalled: %v", i, err)
		}
		slowest = max(slowest, time.Since(start))
	}
	// Publish only queues; a stalled round takes PublishTimeout (300 ms).
	if slowest > 100*time.Millisecond {
		t.Errorf("Publish took up to %s while Redis was stalled, want it queued at once", slowest)
	}
	testkit.Eventually(t, 5*time.Second, "the outage to be seen", func() bool { return a.Healthy() != nil })
	mu.Lock()
	if len(dropped) != 2 || dropped[0] != float64(0) || dropped[1] != float64(1) {
		t.Errorf("dropped %v, want the two oldest [0 1]", dropped)
	}
	mu.Unlock()

	px.frozen.Store(false)
	for _, want := range []float64{2, 3, 4} {
		if got := nodeB.next(t); got.p.Data[0] != want {
			t.Fatalf("B got %v, want %v (in order)", got.p.Data, want)
		}
	}
	testkit.Eventually(t, 5*time.Second, "the queue to empty", func() bool { return a.Backlog().Waiting == 0 })
	if st := a.Backlog(); st.Dropped != 2 || st.Delayed < 3 {
		t.Errorf("backlog = %+v, want 2 dropped and the other 3 delayed", st)
	}
}
