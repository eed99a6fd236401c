package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// floodAddr is the flood's source: another host on loopback, as an
// attacker is not the user's own machine.
var floodAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}

// A flood of Engine.IO handshakes that never send a CONNECT must not lock
// out a client with a token: while the flood runs, every connect of a real
// client (websocket and polling) completes within 2 s. Before the pending
// pool evicted, a full pool refused every newcomer (30 of 32 connects
// failed under 2,000 bare handshakes).
func TestHandshakeFloodDoesNotLockOut(t *testing.T) {
	const pool = 64
	for _, flood := range []string{"websocket", "polling"} {
		t.Run(flood+" flood", func(t *testing.T) {
			h := startWith(t, server.Config{
				Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "flood.db"), JWTSecret: secret,
				Location: time.UTC, Catalog: slots.DemoCatalog(),
				Realtime: server.RealtimeConfig{Socket: sio.Config{MaxPending: pool, ConnectTimeout: time.Minute}},
			})
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var handshakes atomic.Int64
			defer func() { stop(); wg.Wait() }()
			addr := strings.TrimPrefix(h.base, "http://")
			switch flood {
			case "websocket":
				// Twice the pool in open websockets that never CONNECT,
				// each reopened as soon as the server drops it.
				for range 2 * pool {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ctx.Err() == nil {
							bareWebsocket(ctx, addr, "", &handshakes)
						}
					}()
				}
			case "polling":
				// Bare polling handshakes as fast as 8 workers can send
				// them; nothing kept.
				tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: floodAddr}).DialContext, MaxIdleConnsPerHost: 8}
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr}
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ctx.Err() == nil {
							req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/socket.io/?EIO=4&transport=polling", nil)
							resp, err := hc.Do(req)
							if err != nil {
								continue
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode == http.StatusOK {
								handshakes.Add(1)
							}
						}
					}()
				}
			}
			// The pool is full and turning over before the real clients come.
			waitMetric(t, h, "coworkctl_pending_evicted_total", pool)

			const attempts = 10
			for _, transport := range []string{sioclient.TransportWebSocket, sioclient.TransportPolling} {
				ok := 0
				var failures []string
				var slowest time.Duration
				evictedBefore := metricValue(t, h, "coworkctl_pending_evicted_total")
				for i := range attempts {
					start := time.Now()
					err := connectOnce(h.base, userToken(t, int64(700+i)), transport)
					if err == nil {
						ok++
						slowest = max(slowest, time.Since(start))
					} else {
						failures = append(failures, err.Error())
					}
				}
				// The flood went on while the clients connected: the pool
				// turned over at least once.
				evicted := metricValue(t, h, "coworkctl_pending_evicted_total") - evictedBefore
				if evicted < pool {
					t.Fatalf("only %v pending sessions evicted during the connects: the flood stalled and the test measured nothing", evicted)
				}
				t.Logf("%s flood (%d bare handshakes so far, %v evicted during the connects): %s client connected %d of %d within 2 s, slowest %v",
					flood, handshakes.Load(), evicted, transport, ok, attempts, slowest.Round(time.Millisecond))
				if ok != attempts {
					t.Errorf("%s client during a %s flood: %d of %d connects within 2 s; failures: %v",
						transport, flood, ok, attempts, failures)
				}
			}
		})
	}
}

// connectOnce connects with a token and waits for the CONNECT to be
// confirmed, within 2 s.
func connectOnce(base, token, transport string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, client.SocketOptions{Server: base, Token: token, Transports: transport, FallbackAfter: -1})
	if err != nil {
		return err
	}
	s.Close()
	return nil
}

// bareWebsocket opens an Engine.IO websocket from floodAddr, reads the
// open packet and holds the connection, never sending a CONNECT, until
// the server closes it or ctx ends. It counts the sessions opened.
// forwardedFor, when set, is sent as X-Forwarded-For.
func bareWebsocket(ctx context.Context, addr, forwardedFor string, opened *atomic.Int64) {
	d := net.Dialer{LocalAddr: floodAddr, Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var xff string
	if forwardedFor != "" {
		xff = "X-Forwarded-For: " + forwardedFor + "\r\n"
	}
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", addr, xff)
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		return
	}
	opened.Add(1)
	// Hold it: read (and discard) until the server drops it.
	_, _ = io.Copy(io.Discard, br)
}

// waitMetric waits until the counter named reaches at least min.
func waitMetric(t *testing.T, h *harness, name string, min float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v := metricValue(t, h, name); v >= min {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %v within 30 s", name, min)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue reads one unlabelled sample from /metrics (0 when absent).
func metricValue(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}
