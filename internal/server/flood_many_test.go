package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// A handshake flood from more addresses than the pending pool holds (a
// trusted proxy forwarding for a new address each time) leaves no address
// to evict from: the pool evicts the oldest session. A client with a token
// then keeps its place only until the pool's size in newer handshakes has
// arrived, here tens of milliseconds, so nothing guarantees it a connect within 2 s;
// but the flood must not lock clients out, as a full pool that refused
// newcomers did: most connects complete within 2 s, and one that fails has
// lost its session to eviction or to the deadline, never been refused.
func TestHandshakeFloodFromManyAddresses(t *testing.T) {
	const pool = 64
	h := startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "flood.db"), JWTSecret: secret,
		Location: time.UTC, Catalog: slots.DemoCatalog(),
		Realtime: server.RealtimeConfig{Socket: sio.Config{MaxPending: pool, ConnectTimeout: time.Minute},
			TrustedProxies: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(floodAddr.IP.String()), 32)}},
	})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var handshakes, next atomic.Int64
	defer func() { stop(); wg.Wait() }()
	addr := strings.TrimPrefix(h.base, "http://")
	// Twice the pool in open websockets that never CONNECT, each reopened
	// as soon as the server drops it, each time for an address never seen.
	for range 2 * pool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := next.Add(1)
				bareWebsocket(ctx, addr, fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255), &handshakes)
			}
		}()
	}
	waitMetric(t, h, "coworkctl_pending_evicted_total", pool)

	const attempts = 10
	for _, transport := range []string{sioclient.TransportWebSocket, sioclient.TransportPolling} {
		ok := 0
		var failures []string
		var slowest time.Duration
		evictedBefore := metricValue(t, h, "coworkctl_pending_evicted_total")
		start := time.Now()
		for i := range attempts {
			began := time.Now()
			if err := connectOnce(h.base, userToken(t, int64(800+i)), transport); err != nil {
				failures = append(failures, err.Error())
				continue
			}
			ok++
			slowest = max(slowest, time.Since(began))
		}
		evicted := metricValue(t, h, "coworkctl_pending_evicted_total") - evictedBefore
		if evicted < pool {
			t.Fatalf("only %v pending sessions evicted during the connects: the flood stalled and the test measured nothing", evicted)
		}
		rate := evicted / time.Since(start).Seconds()
		t.Logf("flood from %d addresses so far (%v evicted during the connects, %.0f/s: the pool turns over every %v): %s client connected %d of %d within 2 s, slowest %v",
			next.Load(), evicted, rate, time.Duration(float64(pool)/rate*float64(time.Second)).Round(time.Millisecond),
			transport, ok, attempts, slowest.Round(time.Millisecond))
		if len(failures) > 0 {
			t.Logf("failed connects: %v", failures)
		}
		if ok < attempts/2 {
			t.Errorf("%s client during a flood from many addresses: %d of %d connects within 2 s; failures: %v", transport, ok, attempts, failures)
		}
		for _, f := range failures {
			if strings.Contains(f, "503") || strings.Contains(f, "refused") {
				t.Errorf("%s client refused during the flood: %s", transport, f)
			}
		}
	}
}
