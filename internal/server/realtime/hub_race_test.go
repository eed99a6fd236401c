package realtime

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// raceHub serves a hub on a test server; tokens last ttl.
func raceHub(t *testing.T) (*Hub, string, func(user int64, ttl time.Duration) string) {
	t.Helper()
	return clockHub(t, nil)
}

// clockHub is raceHub on clock (nil: the system clock).
func clockHub(t *testing.T, clock Clock) (*Hub, string, func(user int64, ttl time.Duration) string) {
	t.Helper()
	secret := []byte("race-secret")
	v, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(Config{MaxConnections: 10000, CORSOrigins: []string{"*"}, Clock: clock}, v, metrics.New(prometheus.NewRegistry()), log)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	mint := func(user int64, ttl time.Duration) string {
		tok, err := auth.Issue(auth.IssueOptions{Secret: secret, UserID: user, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return h, "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket", mint
}

// rawClient is a websocket client: reads go through what the handshake
// buffered (the server may send its open packet with the upgrade answer).
type rawClient struct {
	net.Conn
	r io.Reader
}

func (c *rawClient) Read(p []byte) (int, error) { return c.r.Read(p) }

// connectRaw opens a websocket session and sends the CONNECT; it returns
// once the server answered it (or the connection failed).
func connectRaw(url, token string) (net.Conn, error) {
	conn, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		return nil, err
	}
	c := &rawClient{Conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := wsutil.ReadServerText(c); err != nil { // open
		conn.Close()
		return nil, err
	}
	if err := wsutil.WriteClientText(conn, []byte(`40{"token":"`+token+`"}`)); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := wsutil.ReadServerText(c); err != nil { // CONNECT or CONNECT_ERROR
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// TestNoSessionOutlivesShutdownOrExpiry: sockets connecting while the hub
// shuts down, and sockets whose tokens expire while they disconnect, all
// leave the hub with their expiry timer stopped or fired. Run with -race:
// the expiry timer is set before the session is visible to anyone else.
// Expiries run on an injected clock, so no test waits for a token.
func TestNoSessionOutlivesShutdownOrExpiry(t *testing.T) {
	t.Run("expiry racing disconnects", func(t *testing.T) {
		// The tokens' exp is an hour away for the verifier (real time)
		// and a second away on the hub's clock: advancing the clock fires
		// every expiry at once while half the clients close.
		exp := time.Now().Add(time.Hour).Truncate(time.Second)
		clock := newFakeClock(exp.Add(-time.Second))
		h, url, mint := clockHub(t, clock)
		start := make(chan struct{})
		var connected, wg sync.WaitGroup
		for i := range 40 {
			connected.Add(1)
			wg.Go(func() {
				conn, err := connectRaw(url, mint(int64(i+1), time.Until(exp)))
				connected.Done()
				if err != nil {
					t.Errorf("connect %d: %v", i, err)
					return
				}
				<-start
				if i%2 == 0 {
					conn.Close()
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, err := wsutil.ReadServerText(conn); err != nil {
						break
					}
				}
				conn.Close()
			})
		}
		connected.Wait()
		testkit.Eventually(t, 10*time.Second, "40 sessions with their expiry timer", func() bool { return clock.pending() == 40 })
		close(start)
		if fired := clock.Advance(2 * time.Second); fired != 40 {
			t.Errorf("%d expiries fired, want 40", fired)
		}
		wg.Wait()
		waitEmpty(t, h)
	})
	t.Run("a visible session has its timer", func(t *testing.T) {
		h, url, mint := raceHub(t)
		stop := make(chan struct{})
		observed := make(chan int)
		go func() {
			seen, reported := 0, map[string]bool{}
			for {
				select {
				case <-stop:
					observed <- seen
					return
				default:
				}
				for _, s := range h.sessions.all() {
					s.mu.Lock()
					missing := s.expiry == nil
					s.mu.Unlock()
					seen++
					if missing && !reported[s.id] {
						reported[s.id] = true
						t.Errorf("session %s is present without its expiry timer", s.id)
					}
				}
			}
		}()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				tok := mint(int64(i+1), time.Hour)
				for range 40 {
					if conn, err := connectRaw(url, tok); err == nil {
						conn.Close()
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		if n := <-observed; n == 0 {
			t.Error("the observer saw no session: the test proves nothing")
		}
		waitEmpty(t, h)
	})
	t.Run("connects racing shutdown", func(t *testing.T) {
		h, url, mint := raceHub(t)
		var (
			wg        sync.WaitGroup
			stop      atomic.Bool
			connected atomic.Int64
			attempts  [16]atomic.Int64
		)
		for i := range attempts {
			wg.Go(func() {
				tok := mint(int64(i+1), time.Hour)
				for !stop.Load() {
					attempts[i].Add(1)
					conn, err := connectRaw(url, tok)
					if err != nil {
						continue
					}
					connected.Add(1)
					go func() {
						_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
						for {
							if _, err := wsutil.ReadServerText(conn); err != nil {
								break
							}
						}
						conn.Close()
					}()
				}
			})
		}
		testkit.Eventually(t, 10*time.Second, "50 connects", func() bool { return connected.Load() >= 50 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h.Shutdown(ctx)
		cancel()
		// A connector that starts an attempt after Shutdown returned has
		// seen the one in flight during it land.
		var seen [len(attempts)]int64
		for i := range attempts {
			seen[i] = attempts[i].Load()
		}
		testkit.Eventually(t, 10*time.Second, "every connector to try again after the shutdown", func() bool {
			for i := range attempts {
				if attempts[i].Load() <= seen[i] {
					return false
				}
			}
			return true
		})
		stop.Store(true)
		wg.Wait()
		waitEmpty(t, h)
	})
}

func waitEmpty(t *testing.T, h *Hub) {
	t.Helper()
	defer func() {
		if t.Failed() {
			for _, s := range h.sessions.all() {
				t.Logf("still present: %s (user %d)", s.id, s.claims.UserID)
			}
		}
	}()
	testkit.Eventually(t, 5*time.Second, "no session present and none counted", func() bool {
		sockets, users, rooms := h.occupancy.counts()
		return h.sessions.len() == 0 && sockets == 0 && users == 0 && rooms == 0
	})
}

// TestClosingHubAdmitsNoOne: once Shutdown has begun (its notice goes out
// before the engine stops accepting), a new Engine.IO session is refused
// with 503 and a session that completes its CONNECT is dropped, so no
// socket joins after the server_shutdown notice it would never get.
func TestClosingHubAdmitsNoOne(t *testing.T) {
	h, url, mint := raceHub(t)
	early, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	r := &rawClient{Conn: early, r: early}
	if br != nil {
		r.r = io.MultiReader(br, early)
	}
	_ = early.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := wsutil.ReadServerText(r); err != nil { // open
		t.Fatal(err)
	}

	h.closing.Store(true) // as Shutdown does first

	resp, err := http.Get("http" + strings.TrimPrefix(strings.Replace(url, "transport=websocket", "transport=polling", 1), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Server shutting down") {
		t.Errorf("handshake while closing: %d %s, want 503 Server shutting down", resp.StatusCode, body)
	}

	if err := wsutil.WriteClientText(early, []byte(`40{"token":"`+mint(9, time.Hour)+`"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := wsutil.ReadServerText(r)
		if err != nil {
			break // dropped
		}
		if strings.HasPrefix(string(msg), "42") {
			t.Fatalf("a socket connected while closing got %s", msg)
		}
	}
	if n := len(h.sessions.all()); n != 0 {
		t.Errorf("%d sessions admitted while closing", n)
	}
}
