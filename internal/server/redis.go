package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/socketio/redisadapter"
	rds "github.com/redis/go-redis/v9"
)

// nodeKeyPrefix names the keys where each node advertises itself, so any
// node's stats can list the cluster.
const (
	nodeKeySuffix = ":coworkctl:node:"
	nodeKeyTTL    = 15 * time.Second
	nodeBeat      = 5 * time.Second
	fetchTimeout  = 3 * time.Second
	// clusterReadTimeout bounds what stats and an admin emit's count wait
	// for the other nodes, the bound /readyz gives a PING: past it they
	// answer this node's figures marked as partial, since a staff page
	// that hangs while Redis is stalled tells less than one that says so.
	clusterReadTimeout = time.Second
)

// redisCluster is the scale-out wiring: the Redis cluster adapter (same
// channels and framing as Node's @socket.io/redis-adapter) plus node
// heartbeats for stats.
type redisCluster struct {
	client  *rds.Client
	nodeKey string // key prefix of node heartbeats
	adapter *redisadapter.Cluster
	log     *slog.Logger
}

// DefaultRedisPrefix is Config.RedisPrefix's default, the adapter's own
// (Node's), so Go and Node nodes can share one cluster.
const DefaultRedisPrefix = redisadapter.DefaultPrefix

// DefaultRedisQueue is how many broadcasts wait for Redis during an
// outage unless RedisQueue says otherwise.
const DefaultRedisQueue = redisadapter.DefaultQueueSize

// newRedisCluster connects to Redis; prefix is the config's, defaults
// applied (the node keys use it as well as the adapter).
func newRedisCluster(ctx context.Context, url, prefix string, queue int, log *slog.Logger) (*redisCluster, error) {
	opts, err := rds.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w", url, err)
	}
	opts.DialTimeout = 3 * time.Second
	// Without it go-redis ignores a context's deadline and waits out its
	// own 3 s read timeout (and up to 4 s more for a pooled connection),
	// so a stalled Redis held stats for 10 s and an emit's count for 5 s.
	opts.ContextTimeoutEnabled = true
	client := rds.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	return &redisCluster{
		client:  client,
		nodeKey: prefix + nodeKeySuffix,
		adapter: redisadapter.New(redisadapter.Config{Client: client, Prefix: prefix, RequestTimeout: fetchTimeout, QueueSize: queue, Logger: log}),
		log:     log,
	}, nil
}

// UseRedisLogger sends go-redis's own messages (its pool's dial failures,
// which it prints to stderr by default) to log at debug level; the adapter
// reports outages itself. go-redis keeps one logger per process, so the
// command that owns the process calls this once.
func UseRedisLogger(log *slog.Logger) { rds.SetLogger(redisLog{log}) }

// redisLog is go-redis's logger on our slog, at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Healthy is nil while the adapter's subscriptions work.
func (c *redisCluster) Healthy() error { return c.adapter.Healthy() }

// Ready is Healthy plus a PING answered within ctx: a Redis that keeps
// its connections open but answers nothing (paused, overloaded) leaves
// the subscription looking up.
func (c *redisCluster) Ready(ctx context.Context) error {
	if err := c.Healthy(); err != nil {
		return err
	}
	if err := c.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func (c *redisCluster) Close() { _ = c.client.Close() }

// RunHeartbeat advertises this node every few seconds until ctx ends, then
// deletes its key before returning, so stats stop listing a stopped node at
// once instead of after the key's TTL. Run it in the server's errgroup: the
// client is closed only after it returns.
func (c *redisCluster) RunHeartbeat(ctx context.Context, hub *realtime.Hub) error {
	key := c.nodeKey + hub.Stats().NodeID
	var failing heartbeatLog
	beat := func() {
		st := hub.Stats()
		b, _ := json.Marshal(protocol.NodeStats{NodeID: st.NodeID, Sockets: st.Sockets, UptimeSeconds: int64(st.Uptime.Seconds())})
		err := c.client.Set(ctx, key, b, nodeKeyTTL).Err()
		if ctx.Err() == nil {
			failing.beat(c.log, err)
		}
	}
	t := time.NewTicker(nodeBeat)
	defer t.Stop()
	beat()
	for {
		select {
		case <-ctx.Done():
			del, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			if err := c.client.Del(del, key).Err(); err != nil {
				c.log.Warn("could not withdraw this node from the cluster's stats; it ages out in 15s", "err", err)
			}
			return nil
		case <-t.C:
			beat()
		}
	}
}

// heartbeatLog reports a streak of failed heartbeats once when it starts
// and once when it ends, not every beat: during a Redis outage the
// adapter already logs the outage, with reminders.
type heartbeatLog struct{ failures int }

func (h *heartbeatLog) beat(log *slog.Logger, err error) {
	switch {
	case err != nil && h.failures == 0:
		log.Warn("node heartbeat failed; other nodes' stats miss this node until it works again", "err", err)
		h.failures++
	case err != nil:
		log.Debug("node heartbeat failed", "err", err)
		h.failures++
	case h.failures > 0:
		log.Info("node heartbeat works again", "failed_beats", h.failures)
		h.failures = 0
	}
}

// Merge replaces node-local presence in out with the cluster's: sockets
// and rooms of every node and the nodes that advertised themselves. It
// waits at most clusterReadTimeout and reports whether it read all of it;
// when not, out keeps this node's own figures for what it could not read.
func (c *redisCluster) Merge(ctx context.Context, hub *realtime.Hub, out *protocol.Stats) (complete bool) {
	ctx, cancel := context.WithTimeout(ctx, clusterReadTimeout)
	defer cancel()
	sockets, users, rooms, err := hub.ClusterPresence(ctx)
	if err != nil {
		c.log.Warn("cluster presence unavailable; stats show this node only", "err", err)
		return false
	}
	out.TotalSockets, out.ConnectedUsers, out.Rooms = sockets, users, realtime.RoomList(rooms)
	var nodes []protocol.NodeStats
	iter := c.client.Scan(ctx, 0, c.nodeKey+"*", 100).Iterator()
	for iter.Next(ctx) {
		b, err := c.client.Get(ctx, iter.Val()).Bytes()
		if err != nil {
			continue
		}
		var n protocol.NodeStats
		if json.Unmarshal(b, &n) == nil {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) > 0 {
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].NodeID < nodes[j].NodeID })
		out.Nodes = nodes
	}
	if err := iter.Err(); err != nil {
		c.log.Warn("cluster node list unavailable; stats may miss nodes", "err", err)
		return false
	}
	return true
}
