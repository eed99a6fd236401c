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
	rds "github.com/redis/go-redis/v9"
	sioredis "github.com/zishang520/socket.io/adapters/redis/v3"
	sioadapter "github.com/zishang520/socket.io/adapters/redis/v3/adapter"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
)

// nodeKeyPrefix names the keys where each node advertises itself, so any
// node's stats can list the cluster.
const (
	nodeKeySuffix = ":coworkctl:node:"
	nodeKeyTTL    = 15 * time.Second
	nodeBeat      = 5 * time.Second
	fetchTimeout  = 3 * time.Second
)

// redisCluster is the scale-out wiring: the Socket.IO Redis adapter (same
// channels and framing as Node's @socket.io/redis-adapter) plus node
// heartbeats for stats.
type redisCluster struct {
	client  *rds.Client
	nodeKey string // key prefix of node heartbeats
	adapter sio.AdapterConstructor
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
	client := rds.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	rc := sioredis.NewRedisClient(context.Background(), client)
	_ = rc.On("error", func(args ...any) { log.Warn("redis adapter error", "err", fmt.Sprint(args...)) })
	opts2 := sioadapter.DefaultRedisAdapterOptions()
	opts2.SetKey(prefix)
	return &redisCluster{
		client:  client,
		nodeKey: prefix + nodeKeySuffix,
		adapter: &sioadapter.RedisAdapterBuilder{Redis: rc, Opts: opts2},
		log:     log,
	}, nil
}

func (c *redisCluster) Adapter() sio.AdapterConstructor { return c.adapter }

func (c *redisCluster) Ping(ctx context.Context) error { return c.client.Ping(ctx).Err() }

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
// and rooms of every node (through the adapter's fetchSockets) and the
// nodes that advertised themselves.
func (c *redisCluster) Merge(ctx context.Context, hub *realtime.Hub, out *protocol.Stats) {
	type result struct {
		sockets []*sio.RemoteSocket
		err     error
	}
	ch := make(chan result, 1)
	hub.IO().FetchSockets()(func(s []*sio.RemoteSocket, err error) { ch <- result{s, err} })
	select {
	case r := <-ch:
		if r.err != nil {
			c.log.Warn("cluster fetchSockets failed; stats show this node only", "err", r.err)
			break
		}
		users := map[string]bool{}
		rooms := map[string]int{}
		for _, s := range r.sockets {
			for _, room := range s.Rooms().Keys() {
				name := string(room)
				switch {
				case protocol.IsUserRoom(name):
					users[name] = true
				default:
					if _, _, ok := protocol.ParseSpaceRoom(name); ok {
						rooms[name]++
					}
				}
			}
		}
		out.TotalSockets, out.ConnectedUsers, out.Rooms = len(r.sockets), len(users), realtime.RoomList(rooms)
	case <-time.After(fetchTimeout):
		c.log.Warn("cluster fetchSockets timed out; stats show this node only")
	case <-ctx.Done():
		return
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
