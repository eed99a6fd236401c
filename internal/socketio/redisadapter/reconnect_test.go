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
	waitFor(t, 5*time.Second, "Healthy to report the outage", func() bool { return a.Healthy() != nil })
	if err := a.Healthy(); !errors.Is(err, adapter.ErrUnavailable) {
		t.Fatalf("Healthy = %v, want ErrUnavailable", err)
	}

	start := time.Now()
	err := a.Publish(ctx, hello, adapter.Options{})
	if !errors.Is(err, adapter.ErrUnavailable) {
		t.Fatalf("Publish while down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Publish while down took %s, want fail-fast", d)
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
	waitFor(t, 10*time.Second, "Healthy after restore", func() bool { return a.Healthy() == nil })
	if err := a.Publish(ctx, hello, adapter.Options{}); err != nil {
		t.Fatalf("Publish after restore: %v", err)
	}
	if got := nodeB.next(t); got.p.Data[0] != "hello" {
		t.Errorf("B got %v", got.p.Data)
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
	waitFor(t, 3*time.Second, "Healthy to report the silent connection", func() bool { return a.Healthy() != nil })
	if err := a.Healthy(); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("Healthy = %v, want ErrUnavailable", err)
	}
	px.frozen.Store(false)
	waitFor(t, 10*time.Second, "Healthy after the partition", func() bool { return a.Healthy() == nil })
}
