package redisadapter

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// redisOptions reads COWORK_TEST_REDIS_URL or skips the test.
func redisOptions(t *testing.T) *redis.Options {
	t.Helper()
	url := os.Getenv("COWORK_TEST_REDIS_URL")
	if url == "" {
		t.Skip("COWORK_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("COWORK_TEST_REDIS_URL: %v", err)
	}
	return opt
}

func newClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", opt.Addr, err)
	}
	return c
}

// testPrefix keeps concurrent tests (and runs) off each other's channels.
func testPrefix() string { return "cowork-test-" + newID(10) }

// startCluster runs c for node until the test ends and waits until it is
// subscribed.
func startCluster(t *testing.T, c *Cluster, node adapter.Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, node) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testkit.Eventually(t, 5*time.Second, "cluster subscribed", func() bool { return c.Healthy() == nil })
}

type delivery struct {
	p    adapter.Packet
	opts adapter.Options
}

// fakeNode is the local server of a test: it records deliveries and
// lists fixed sockets.
type fakeNode struct {
	delivered chan delivery
	mu        sync.Mutex
	sockets   []adapter.SocketInfo
}

func newFakeNode(sockets ...adapter.SocketInfo) *fakeNode {
	return &fakeNode{delivered: make(chan delivery, 100), sockets: sockets}
}

func (n *fakeNode) DeliverLocal(p adapter.Packet, opts adapter.Options) {
	n.delivered <- delivery{p, opts}
}

func (n *fakeNode) LocalSockets(nsp string, opts adapter.Options) []adapter.SocketInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []adapter.SocketInfo
	for _, s := range n.sockets {
		in := len(opts.Rooms) == 0 || slices.ContainsFunc(opts.Rooms, func(r string) bool { return slices.Contains(s.Rooms, r) })
		skip := slices.ContainsFunc(opts.Except, func(r string) bool { return slices.Contains(s.Rooms, r) })
		if in && !skip {
			out = append(out, s)
		}
	}
	return out
}

func (n *fakeNode) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-n.delivered:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery within 5s")
		return delivery{}
	}
}

// countingHandler counts log records.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
