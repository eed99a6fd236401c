// Package redisadapter connects Socket.IO nodes through Redis pub/sub,
// wire-compatible with Node's @socket.io/redis-adapter v8 (the classic
// pub/sub adapter), so Go and Node nodes can share one Redis: broadcasts
// both ways and fetchSockets both ways.
//
// Publish never waits on Redis: broadcasts go through a bounded queue that
// one goroutine hands to Redis in order. When Redis goes away or stalls the
// adapter says so (Healthy), keeps the broadcasts (the oldest are dropped
// past the bound, and reported) and publishes them in order once Redis
// answers again; it reconnects with capped exponential backoff and
// jitter, logging the outage once when it starts, then at most once per
// interval, and once when it ends.
package redisadapter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// Config configures a Cluster. Zero values take the defaults in brackets.
type Config struct {
	// Client is used for publishing and for the adapter's own
	// subscription connection. Required.
	Client *redis.Client
	// Prefix starts every channel name, like the `key` option of Node's
	// adapter; nodes share traffic only with the same prefix.
	// [DefaultPrefix]
	Prefix string
	// Namespaces are the namespaces whose broadcasts and requests this
	// node receives; Node's adapter subscribes per namespace, and Node
	// nodes count this node's answers by subscribers of each namespace's
	// request channel, so they must be known before traffic starts.
	// Publish works for any namespace. [["/"]]
	Namespaces []string
	// RequestTimeout bounds FetchSockets. [5s]
	RequestTimeout time.Duration
	// PublishOnSpecificResponseChannel answers a node on its own response
	// channel, like Node's option of the same name; off, answers go to the
	// namespace's shared response channel, which every version reads.
	PublishOnSpecificResponseChannel bool
	// MinBackoff and MaxBackoff bound the delay between attempts to
	// restore the subscription. [100ms, 5s]
	MinBackoff, MaxBackoff time.Duration
	// HealthCheckInterval is how long the subscription may stay silent
	// before a PING; no answer within another interval means the
	// connection is dead. [10s]
	HealthCheckInterval time.Duration
	// LogInterval is the least time between two log lines about the same
	// outage. [30s]
	LogInterval time.Duration
	// QueueSize bounds the broadcasts waiting for Redis; past it the
	// oldest are dropped. [DefaultQueueSize]
	QueueSize int
	// PublishTimeout bounds one round of publishing queued broadcasts; a
	// stalled Redis fails the round after it and the round is retried. [2s]
	PublishTimeout time.Duration
	// Logger [slog.Default()]
	Logger *slog.Logger
}

// Cluster is an adapter.Cluster on Redis pub/sub.
type Cluster struct {
	client     *redis.Client
	prefix     string
	uid        string
	nsps       map[string]channels
	timeout    time.Duration
	specific   bool
	minBackoff time.Duration
	maxBackoff time.Duration
	healthy    time.Duration
	logEvery   time.Duration
	log        *slog.Logger

	queue *queue
	// up is signalled when the subscription is (back) up.
	up                chan struct{}
	out               *outage
	publishTimeout    time.Duration
	publishMaxBackoff time.Duration

	running atomic.Bool
	// down is nil while the subscription is up, else why it is not.
	down atomic.Pointer[error]

	mu      sync.Mutex
	pending map[string]*pendingFetch

	// attempts counts connection attempts of the subscription (tests).
	attempts atomic.Int64
}

var (
	_ adapter.Cluster = (*Cluster)(nil)
	_ adapter.Backlog = (*Cluster)(nil)
)

// ErrRequestTimeout is returned (wrapped) when other nodes do not all
// answer a request within Config.RequestTimeout.
var ErrRequestTimeout = errors.New("request timed out")

var errNotStarted = fmt.Errorf("%w: redis subscription not running", adapter.ErrUnavailable)

// DefaultPrefix is Config.Prefix's default, the channel prefix of Node's
// @socket.io/redis-adapter, so that Go and Node nodes share one cluster.
const DefaultPrefix = "socket.io"

// DefaultQueueSize is how many broadcasts wait for Redis during an
// outage when Config.QueueSize is zero.
const DefaultQueueSize = 10_000

// New returns a Cluster; it does no I/O until Run.
func New(cfg Config) *Cluster {
	c := &Cluster{
		client:     cfg.Client,
		prefix:     cmp.Or(cfg.Prefix, DefaultPrefix),
		uid:        newID(12),
		timeout:    cmp.Or(cfg.RequestTimeout, 5*time.Second),
		specific:   cfg.PublishOnSpecificResponseChannel,
		minBackoff: cmp.Or(cfg.MinBackoff, 100*time.Millisecond),
		maxBackoff: cmp.Or(cfg.MaxBackoff, 5*time.Second),
		healthy:    cmp.Or(cfg.HealthCheckInterval, 10*time.Second),
		logEvery:   cmp.Or(cfg.LogInterval, 30*time.Second),
		log:        cfg.Logger,
		pending:    make(map[string]*pendingFetch),

		queue:          newQueue(cmp.Or(cfg.QueueSize, DefaultQueueSize)),
		up:             make(chan struct{}, 1),
		publishTimeout: cmp.Or(cfg.PublishTimeout, 2*time.Second),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	// Publishing retries sooner than the subscription: a broadcast waits
	// for the retry, a subscription does not.
	c.publishMaxBackoff = max(min(c.maxBackoff, time.Second), c.minBackoff)
	c.out = &outage{every: c.logEvery, log: c.log, started: c.queue.outageStarted,
		backlog: func() (int, uint64, uint64) {
			st := c.queue.stats()
			return st.Waiting, st.Delayed, st.Dropped
		}}
	nsps := cfg.Namespaces
	if len(nsps) == 0 {
		nsps = []string{"/"}
	}
	c.nsps = make(map[string]channels, len(nsps))
	for _, n := range nsps {
		c.nsps[n] = channelsFor(c.prefix, n, c.uid)
	}
	c.down.Store(&errNotStarted)
	return c
}

// Healthy is nil while the subscription to Redis is up, else a wrapped
// adapter.ErrUnavailable.
func (c *Cluster) Healthy() error {
	if err := c.down.Load(); err != nil {
		return *err
	}
	return nil
}

// Publish queues a broadcast for the other nodes and returns at once: it
// never waits on Redis. Queued broadcasts are published in order, late if
// Redis is unreachable or stalled; past Config.QueueSize the oldest is
// dropped and handed to the OnDrop function.
func (c *Cluster) Publish(_ context.Context, p adapter.Packet, opts adapter.Options) error {
	if opts.Local {
		return nil
	}
	msg, err := encodeBroadcast(c.uid, p, opts)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", p.Nsp, err)
	}
	ch := c.channels(p.Nsp).broadcastChannel(opts.Rooms)
	d := c.queue.push(queued{channel: ch, msg: msg, p: p, opts: opts}, c.out.active())
	if d != nil {
		c.queue.mu.Lock()
		fn := c.queue.onDrop
		c.queue.mu.Unlock()
		if fn != nil {
			fn(d.p, d.opts)
		}
	}
	return nil
}

// Backlog reports the broadcasts waiting for Redis and, since New, those
// that waited for an outage to end and those dropped from the full queue.
func (c *Cluster) Backlog() adapter.BacklogStats { return c.queue.stats() }

// OnDrop sets fn to be called with each broadcast dropped from the full
// queue, on the goroutine whose Publish dropped it.
func (c *Cluster) OnDrop(fn func(adapter.Packet, adapter.Options)) {
	c.queue.mu.Lock()
	defer c.queue.mu.Unlock()
	c.queue.onDrop = fn
}

func (c *Cluster) channels(nsp string) channels {
	if ch, ok := c.nsps[nsp]; ok {
		return ch
	}
	return channelsFor(c.prefix, nsp, c.uid)
}

// pendingFetch collects the answers to one FetchSockets.
type pendingFetch struct {
	want    int
	got     int
	sockets []adapter.SocketInfo
	done    chan struct{}
}

// FetchSockets asks the other nodes, Go or Node, for their sockets of
// nsp matching opts. It expects one answer per other subscriber of the
// namespace's request channel (PUBSUB NUMSUB), as Node's adapter does.
func (c *Cluster) FetchSockets(ctx context.Context, nsp string, opts adapter.Options) ([]adapter.SocketInfo, error) {
	ch, ok := c.nsps[nsp]
	if !ok {
		return nil, fmt.Errorf("fetch sockets of %s: namespace not in Config.Namespaces", nsp)
	}
	if err := c.Healthy(); err != nil {
		return nil, err
	}
	subs, err := c.client.PubSubNumSub(ctx, ch.request).Result()
	if err != nil {
		return nil, fmt.Errorf("fetch sockets of %s: count nodes: %w: %w", nsp, adapter.ErrUnavailable, err)
	}
	want := int(subs[ch.request]) - 1 // this node is a subscriber too
	if want <= 0 {
		return nil, nil
	}
	id := newID(12)
	req, err := json.Marshal(request{
		Type:      reqRemoteFetch,
		UID:       c.uid,
		RequestID: id,
		Opts:      &requestOpts{Rooms: nonNil(opts.Rooms), Except: nonNil(opts.Except)},
	})
	if err != nil {
		return nil, fmt.Errorf("fetch sockets of %s: %w", nsp, err)
	}
	pf := &pendingFetch{want: want, done: make(chan struct{})}
	c.mu.Lock()
	c.pending[id] = pf
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.client.Publish(ctx, ch.request, req).Err(); err != nil {
		return nil, fmt.Errorf("fetch sockets of %s: %w: %w", nsp, adapter.ErrUnavailable, err)
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-pf.done:
		return pf.sockets, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("fetch sockets of %s: %w", nsp, ctx.Err())
	case <-timer.C:
		c.mu.Lock()
		got := pf.got
		c.mu.Unlock()
		return nil, fmt.Errorf("fetch sockets of %s: %d of %d nodes answered within %s: %w",
			nsp, got, want, c.timeout, ErrRequestTimeout)
	}
}

// Run subscribes to the other nodes and serves their requests through
// node until ctx ends. A lost subscription is restored with backoff.
func (c *Cluster) Run(ctx context.Context, node adapter.Node) error {
	if c.client == nil || node == nil {
		return errors.New("redisadapter: Run needs Config.Client and a node")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("redisadapter: Run is already running")
	}
	defer c.running.Store(false)
	defer c.down.Store(&errNotStarted)

	pubDone := make(chan struct{})
	pctx, stopPublishing := context.WithCancel(ctx)
	defer func() {
		stopPublishing()
		<-pubDone
	}()
	go func() {
		defer close(pubDone)
		c.publish(pctx)
	}()

	attempt := 0
	for {
		upAt, err := c.session(ctx, node)
		if ctx.Err() != nil {
			return nil
		}
		down := fmt.Errorf("%w: redis subscription: %w", adapter.ErrUnavailable, err)
		c.down.Store(&down)
		// Only a connection that held for a while resets the backoff, so
		// that a Redis which accepts and then drops us is not hammered.
		if !upAt.IsZero() && time.Since(upAt) >= c.maxBackoff {
			attempt = 0
		}
		c.out.fail(time.Now(), partSubscription, err)
		delay := backoff(attempt, c.minBackoff, c.maxBackoff, rand.Float64())
		attempt++
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session runs one subscription connection until it fails; upAt is when
// it got subscribed, zero if it never did.
func (c *Cluster) session(ctx context.Context, node adapter.Node) (upAt time.Time, err error) {
	c.attempts.Add(1)
	ps := c.client.Subscribe(ctx)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()

	var patterns, chans []string
	for _, ch := range c.nsps {
		patterns = append(patterns, ch.pattern)
		chans = append(chans, ch.request, ch.response, ch.specific)
	}
	if err := ps.PSubscribe(ctx, patterns...); err != nil {
		return upAt, err
	}
	if err := ps.Subscribe(ctx, chans...); err != nil {
		return upAt, err
	}

	confirm := len(patterns) + len(chans)
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.healthy)
		if err != nil {
			if isTimeout(err) && !pinged && confirm == 0 {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return upAt, err
				}
				continue
			}
			return upAt, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if confirm > 0 {
				confirm--
				if confirm == 0 {
					upAt = time.Now()
					c.out.ok(upAt, partSubscription)
					c.down.Store(nil)
					select {
					case c.up <- struct{}{}:
					default:
					}
				}
			}
		case *redis.Message:
			c.dispatch(ctx, node, m)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dispatch handles one message of the subscription.
func (c *Cluster) dispatch(ctx context.Context, node adapter.Node, m *redis.Message) {
	if m.Pattern != "" {
		for _, ch := range c.nsps {
			if m.Pattern == ch.pattern {
				c.onBroadcast(node, ch, m)
				return
			}
		}
		return
	}
	for _, ch := range c.nsps {
		switch m.Channel {
		case ch.request:
			c.onRequest(ctx, node, ch, []byte(m.Payload))
			return
		case ch.response, ch.specific:
			c.onResponse([]byte(m.Payload))
			return
		}
	}
}

func (c *Cluster) onBroadcast(node adapter.Node, ch channels, m *redis.Message) {
	b, err := decodeBroadcast([]byte(m.Payload))
	if err != nil {
		c.log.Debug("redis adapter: ignoring malformed broadcast", "channel", m.Channel, "err", err)
		return
	}
	if b.uid == c.uid || b.packet.Nsp != ch.nsp {
		return
	}
	node.DeliverLocal(b.packet, b.opts)
}

func (c *Cluster) onRequest(ctx context.Context, node adapter.Node, ch channels, msg []byte) {
	req, err := decodeRequest(msg)
	if err != nil {
		c.log.Debug("redis adapter: ignoring malformed request", "channel", ch.request, "err", err)
		return
	}
	if req.UID == c.uid {
		return
	}
	resp := response{RequestID: req.RequestID}
	switch req.Type {
	case reqRemoteFetch:
		var opts adapter.Options
		if req.Opts != nil {
			opts = adapter.Options{Rooms: req.Opts.Rooms, Except: req.Opts.Except}
		}
		list := node.LocalSockets(ch.nsp, opts)
		sockets := make([]remoteSocket, len(list))
		for i, s := range list {
			sockets[i] = remoteSocket{
				ID: s.ID,
				Handshake: handshake{
					Headers: map[string]any{}, Query: map[string]any{}, Auth: map[string]any{},
				},
				Rooms: nonNil(s.Rooms),
				Data:  s.Data,
			}
		}
		resp.Sockets = sockets
	case reqSockets:
		ids := []string{}
		for _, s := range node.LocalSockets(ch.nsp, adapter.Options{Rooms: req.Rooms}) {
			ids = append(ids, s.ID)
		}
		resp.Sockets = ids
	case reqAllRooms:
		seen := map[string]bool{}
		rooms := []string{}
		for _, s := range node.LocalSockets(ch.nsp, adapter.Options{}) {
			for _, r := range s.Rooms {
				if !seen[r] {
					seen[r] = true
					rooms = append(rooms, r)
				}
			}
		}
		resp.Rooms = rooms
	default:
		// Remote join/leave/disconnect, server-side emits and broadcasts
		// with acks are not supported by this node.
		c.log.Debug("redis adapter: ignoring request", "type", req.Type, "channel", ch.request)
		return
	}
	if req.RequestID == "" {
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		c.log.Warn("redis adapter: encode response", "err", err, "request_type", req.Type)
		return
	}
	to := ch.response
	if c.specific && req.UID != "" {
		to = ch.response + req.UID + "#"
	}
	if err := c.client.Publish(ctx, to, body).Err(); err != nil {
		c.log.Debug("redis adapter: publish response", "channel", to, "err", err)
	}
}

func (c *Cluster) onResponse(msg []byte) {
	// Cheap check before decoding: most responses on the shared channel
	// are for other nodes.
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n == 0 {
		return
	}
	id, sockets, _, err := decodeFetchResponse(msg)
	if err != nil {
		c.log.Debug("redis adapter: ignoring malformed response", "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pf, ok := c.pending[id]
	if !ok || pf.got >= pf.want {
		return
	}
	pf.got++
	pf.sockets = append(pf.sockets, sockets...)
	if pf.got == pf.want {
		close(pf.done)
	}
}

// backoff is the delay before attempt n (from 0): exponential from lo,
// capped at hi, with jitter drawn from [d/2, d) by r in [0,1), so that
// nodes cut off together do not come back in lockstep.
func backoff(n int, lo, hi time.Duration, r float64) time.Duration {
	d := hi
	if n < 32 {
		d = min(lo<<n, hi)
	}
	return d/2 + time.Duration(r*float64(d/2))
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newID returns n random alphanumerics, like Node's uid2. Unguessable
// enough for ids that only need to be unique.
func newID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idChars[rand.N(len(idChars))]
	}
	return string(b)
}
