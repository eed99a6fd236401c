package realtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// fakeClock is a Clock whose time moves only by Advance, which fires the
// timers due, each in its own goroutine as time.AfterFunc does.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	at    time.Time
	f     func()
	ended bool // fired or stopped
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.ended
	t.ended = true
	return was
}

// Advance moves the time by d and starts the callbacks that came due;
// it returns how many.
func (c *fakeClock) Advance(d time.Duration) int {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.ended:
		case !t.at.After(c.now):
			t.ended = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
	return len(due)
}

// pending is the number of timers neither fired nor stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.ended {
			n++
		}
	}
	return n
}

// blockingSpaces holds every snapshot read until its context ends and
// reports how it ended.
type blockingSpaces struct {
	fakeSpaces
	reading chan struct{}
	ended   chan error
}

func (b blockingSpaces) Grid(ctx context.Context, _, _ int64, _ string, _ slots.Viewer) (slots.Grid, error) {
	close(b.reading)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return slots.Grid{}, ctx.Err()
}

// TestShutdownEndsJoinsInFlight: a join reading its snapshot stops when
// the hub shuts down, instead of holding its session (and the engine's
// shutdown) until the join's own timeout.
func TestShutdownEndsJoinsInFlight(t *testing.T) {
	h, url, mint := raceHub(t)
	sp := blockingSpaces{reading: make(chan struct{}), ended: make(chan error, 1)}
	h.UseSpaces(sp)
	c := dialHub(t, url, mint(1, time.Hour))
	b := []byte(`421["join_space",{"spazioId":1,"sedeId":1,"date":"2030-01-02"}]`)
	if err := writeText(c, b); err != nil {
		t.Fatal(err)
	}
	<-sp.reading
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.Shutdown(ctx)
	if err := <-sp.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the snapshot read ended with %v, want context.Canceled by Shutdown", err)
	}
}

// recordingCluster records the context of each Publish as it was then
// (the publisher cancels it once Publish returns).
type recordingCluster struct {
	mu  sync.Mutex
	got []published
}

type published struct {
	value any // of ctxKey
	err   error
}

type ctxKey struct{}

func (r *recordingCluster) Run(ctx context.Context, _ adapter.Node) error { <-ctx.Done(); return nil }
func (r *recordingCluster) Publish(ctx context.Context, _ adapter.Packet, _ adapter.Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, published{ctx.Value(ctxKey{}), ctx.Err()})
	return ctx.Err()
}
func (r *recordingCluster) FetchSockets(context.Context, string, adapter.Options) ([]adapter.SocketInfo, error) {
	return nil, nil
}
func (r *recordingCluster) Healthy() error { return nil }

// TestNotifierKeepsTheCallersContext: announcements reach the cluster
// with the caller's context values, even when the caller's context has
// ended (the change is committed; its requester leaving must not hide it
// from the other nodes).
func TestNotifierKeepsTheCallersContext(t *testing.T) {
	cl := &recordingCluster{}
	v, _ := auth.NewVerifier(auth.Config{Secret: []byte("x")})
	h := New(Config{Socket: sio.Config{Cluster: cl}}, v, metrics.New(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "hold 7"))
	cancel()
	change := slots.Change{Key: slots.SlotKey{SpazioID: 1, SedeID: 1, Date: "2030-01-02", Slot: 3}, Version: 1, UserID: 5}
	h.SlotChanged(ctx, change)
	h.SlotCancelled(ctx, change, "manutenzione")
	h.HoldsExpired(ctx, []slots.Change{change})
	// slot_update ×3, slot_cancelled, hold_expired, slots_freed.
	if len(cl.got) != 6 {
		t.Fatalf("published %d times, want 6", len(cl.got))
	}
	for i, got := range cl.got {
		if got.value != "hold 7" || got.err != nil {
			t.Errorf("publish %d: value %v, err %v; want the caller's value and no end", i, got.value, got.err)
		}
	}
	// An admin emit is the staff's request: its end stops the hand-over.
	if _, err := h.Emit(ctx, Target{All: true}, "promo", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if last := cl.got[len(cl.got)-1]; !errors.Is(last.err, context.Canceled) {
		t.Errorf("admin emit published with %v, want the request's context", last.err)
	}
}

// TestTokenExpiryOnTheClock: a session's token expiry is a timer of the
// hub's clock: session_expired and the disconnect come when the clock
// reaches the token's exp, not before, and Shutdown stops the timers of
// the sessions left.
func TestTokenExpiryOnTheClock(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second) // the token's exp: JWT seconds
	clock := newFakeClock(exp.Add(-30 * time.Second))
	h, url, mint := clockHub(t, clock)
	expiring := dialHub(t, url, mint(1, time.Until(exp)))
	dialHub(t, url, mint(2, 2*time.Hour))
	if n := clock.pending(); n != 2 {
		t.Fatalf("%d expiry timers, want 2", n)
	}
	if fired := clock.Advance(29 * time.Second); fired != 0 {
		t.Fatalf("%d timers fired a second before exp", fired)
	}
	clock.Advance(time.Second)
	if got := readUntil(t, expiring, `42["`+protocol.EventSessionExpired+`"`); got == "" {
		t.Fatal("no session_expired")
	}
	testkit.Eventually(t, 5*time.Second, "the expired session dropped", func() bool { return h.sessions.len() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.Shutdown(ctx)
	if n := clock.pending(); n != 0 {
		t.Errorf("%d timers still pending after Shutdown", n)
	}
	ran := false
	h.callbacks.Run(func() { ran = true })
	if ran {
		t.Error("a timer callback ran after Shutdown")
	}
}
