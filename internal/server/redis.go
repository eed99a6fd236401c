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
)

// redisCluster is the scale-out wiring: the Redis cluster adapter (same
// channels and framing as Node's @socket.io/redis-adapter) plus node
// heartbeats for stats.
type redisCluster struct {
	client  *rds.Client
	nodeKey string // key prefix of node heartbeats
	adapter *redisadapter.Cluster
	log     *slog.Logger
	cancel  context.CancelFunc
}

// DefaultRedisPrefix is the channel prefix of Node's @socket.io/redis-adapter,
// so Go and Node nodes can share one cluster.
const DefaultRedisPrefix = "socket.io"

func newRedisCluster(ctx context.Context, url, prefix string, log *slog.Logger) (*redisCluster, error) {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	opts, err := rds.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w", url, err)
	}
	opts.DialTimeout = 3 * time.Second
	// go-redis prints its pool's dial failures to stderr on its own; they
	// go to our log at debug level instead (the adapter reports outages).
	rds.SetLogger(redisLog{log})
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
		adapter: redisadapter.New(redisadapter.Config{Client: client, Prefix: prefix, RequestTimeout: fetchTimeout, Logger: log}),
		log:     log,
	}, nil
}

// redisLog is go-redis's logger on our slog, at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Healthy is nil while the adapter's subscriptions work.
func (c *redisCluster) Healthy() error { return c.adapter.Healthy() }

func (c *redisCluster) Close() {
	if c.cancel != nil {
		c.cancel()
	}
	_ = c.client.Close()
}

// ServeNodeStats advertises this node every few seconds until Close.
func (c *redisCluster) ServeNodeStats(hub *realtime.Hub) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	beat := func() {
		st := hub.Stats()
		b, _ := json.Marshal(protocol.NodeStats{NodeID: st.NodeID, Sockets: st.Sockets, UptimeSeconds: int64(st.Uptime.Seconds())})
		if err := c.client.Set(ctx, c.nodeKey+st.NodeID, b, nodeKeyTTL).Err(); err != nil && ctx.Err() == nil {
			c.log.Warn("node heartbeat failed", "err", err)
		}
	}
	go func() {
		t := time.NewTicker(nodeBeat)
		defer t.Stop()
		beat()
		for {
			select {
			case <-ctx.Done():
				del, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = c.client.Del(del, c.nodeKey+hub.Stats().NodeID).Err()
				cancel()
				return
			case <-t.C:
				beat()
			}
		}
	}()
}

// Merge replaces node-local presence in out with the cluster's: sockets
// and rooms of every node and the nodes that advertised themselves.
func (c *redisCluster) Merge(ctx context.Context, hub *realtime.Hub, out *protocol.Stats) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	sockets, users, rooms, err := hub.ClusterPresence(fctx)
	cancel()
	if err != nil {
		c.log.Warn("cluster presence unavailable; stats show this node only", "err", err)
	} else {
		out.TotalSockets, out.ConnectedUsers, out.Rooms = sockets, users, realtime.RoomList(rooms)
	}
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
}
