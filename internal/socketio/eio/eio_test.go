package eio

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestHandshake(t *testing.T) {
	h := newHarness(t, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1000}, false)
	code, body := h.do(context.Background(), http.MethodGet, "&transport=polling", "")
	if code != http.StatusOK {
		t.Fatalf("polling handshake: %d %s", code, body)
	}
	o := parseOpen(t, body)
	if len(o.SID) != 20 || strings.Trim(o.SID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("sid %q is not 20 URL-safe characters", o.SID)
	}
	if want := (openPacket{o.SID, []string{"websocket"}, 300, 200, 1000}); !equalOpen(o, want) {
		t.Errorf("open = %+v, want %+v", o, want)
	}
	conn := h.dial("")
	o = parseOpen(t, readText(t, conn))
	if want := (openPacket{o.SID, []string{}, 300, 200, 1000}); !equalOpen(o, want) {
		t.Errorf("websocket open = %+v, want %+v", o, want)
	}
	if got := h.session(o.SID).Transport(); got != "websocket" {
		t.Errorf("Transport() = %q", got)
	}
	if n := h.srv.Count(); n != 2 {
		t.Errorf("Count() = %d, want 2", n)
	}

	errs := []struct {
		name   string
		method string
		query  string
		status int
		code   int
	}{
		{"no EIO", "GET", "&EIO=&transport=polling", 400, 5},
		{"EIO 3", "GET", "&EIO=3&transport=polling", 400, 5},
		{"no transport", "GET", "", 400, 0},
		{"unknown transport", "GET", "&transport=abc", 400, 0},
		{"POST handshake", "POST", "&transport=polling", 400, 2},
		{"PUT handshake", "PUT", "&transport=polling", 400, 2},
		{"unknown sid", "GET", "&transport=polling&sid=nope", 400, 1},
		{"websocket without upgrade", "GET", "&transport=websocket", 400, 3},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			query := tt.query
			u := h.url + query
			if strings.HasPrefix(query, "&EIO=") {
				u = h.http.URL + "/engine.io/?" + query[1:]
			}
			req, _ := http.NewRequest(tt.method, u, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || e.Code != tt.code || e.Message == "" {
				t.Errorf("got %d %+v, want %d code %d", resp.StatusCode, e, tt.status, tt.code)
			}
		})
	}
}

func equalOpen(a, b openPacket) bool {
	return a.SID == b.SID && strings.Join(a.Upgrades, ",") == strings.Join(b.Upgrades, ",") && a.Upgrades != nil &&
		a.PingInterval == b.PingInterval && a.PingTimeout == b.PingTimeout && a.MaxPayload == b.MaxPayload
}

func TestTransportsRestricted(t *testing.T) {
	h := newHarness(t, Config{Transports: []string{"polling"}}, false)
	o := parseOpen(t, func() string { _, b := h.do(context.Background(), "GET", "&transport=polling", ""); return b }())
	if len(o.Upgrades) != 0 {
		t.Errorf("upgrades = %v, want none", o.Upgrades)
	}
	if code, _ := h.do(context.Background(), "GET", "&transport=websocket", ""); code != 400 {
		t.Errorf("websocket: %d, want 400", code)
	}
}

func TestPollingMessages(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	if code, body := h.post(sid, "4hello\x1e4\x1ebAQIDBA=="); code != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", code, body)
	}
	if got, want := strings.Join(h.rec(sid).messages(), "|"), "t:hello|t:|b:\x01\x02\x03\x04"; got != want {
		t.Errorf("received %q, want %q", got, want)
	}
	s := h.session(sid)
	if err := s.Send(TextFrame([]byte("a")), BinaryFrame([]byte{1, 2})); err != nil {
		t.Fatal(err)
	}
	if code, body := h.get(sid); code != 200 || body != "4a\x1ebAQI=" {
		t.Errorf("GET: %d %q", code, body)
	}
	// A GET waits for what is sent later.
	ch := h.asyncGet(sid)
	h.waitPolling(sid)
	_ = s.Send(TextFrame([]byte("later")))
	if r := recv(t, ch); r.code != 200 || r.body != "4later" {
		t.Errorf("long poll: %+v", r)
	}
}

func TestWebsocketMessages(t *testing.T) {
	h := newHarness(t, Config{}, true)
	conn, sid := h.wsSession()
	writeText(t, conn, "4hello")
	if got := readText(t, conn); got != "4hello" {
		t.Errorf("echo = %q", got)
	}
	if err := wsutil.WriteClientBinary(conn, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got, op := readMsg(t, conn); op != ws.OpBinary || got != "\x01\x02\x03" {
		t.Errorf("binary echo = %q %v", got, op)
	}
	// A fragmented message arrives whole; a ping between fragments is answered.
	frames := []ws.Frame{
		ws.NewFrame(ws.OpText, false, []byte("4frag")),
		ws.NewPingFrame([]byte("hi")),
		ws.NewFrame(ws.OpContinuation, true, []byte("mented")),
	}
	for _, f := range frames {
		if err := ws.WriteFrame(conn, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := readFrame(conn)
	if err != nil || f.Header.OpCode != ws.OpPong || string(f.Payload) != "hi" {
		t.Errorf("pong = %+v %v", f.Header, err)
	}
	if got := readText(t, conn); got != "4fragmented" {
		t.Errorf("fragmented echo = %q", got)
	}
	if got := strings.Join(h.rec(sid).messages(), "|"); got != "t:hello|b:\x01\x02\x03|t:fragmented" {
		t.Errorf("received %q", got)
	}
}

func TestUpgrade(t *testing.T) {
	h := newHarness(t, Config{}, true)
	sid := h.pollingSession()
	pending := h.asyncGet(sid)
	h.waitPolling(sid)

	conn := h.dial(sid)
	writeText(t, conn, "2probe")
	if got := readText(t, conn); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if r := recv(t, pending); r.code != 200 || r.body != "6" {
		t.Errorf("pending GET during upgrade: %+v, want noop", r)
	}
	s := h.session(sid)
	_ = s.Send(TextFrame([]byte("queued")))
	if got := s.Transport(); got != "polling" {
		t.Errorf("Transport() before upgrade = %q", got)
	}
	writeText(t, conn, "5")
	if got := readText(t, conn); got != "4queued" {
		t.Errorf("queue flushed on websocket: %q", got)
	}
	if got := s.Transport(); got != "websocket" {
		t.Errorf("Transport() = %q", got)
	}
	// Stale polling requests and a second websocket are refused.
	if code, _ := h.get(sid); code != 400 {
		t.Errorf("GET after upgrade: %d", code)
	}
	if code, _ := h.post(sid, "4x"); code != 400 {
		t.Errorf("POST after upgrade: %d", code)
	}
	if code := readUntilClosed(t, h.dial(sid)); code != ws.StatusNormalClosure {
		t.Errorf("second websocket close code %d", code)
	}
	writeText(t, conn, "4hello")
	if got := readText(t, conn); got != "4hello" {
		t.Errorf("echo after upgrade %q", got)
	}
}

// A shutdown that lands mid-upgrade (the client has paused polling and
// waits on the probing websocket) must still deliver what was queued and
// the close: the upgrade completes on a closing session.
func TestShutdownMidUpgrade(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	conn := h.dial(sid)
	writeText(t, conn, "2probe")
	if got := readText(t, conn); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = h.session(sid).Send(TextFrame([]byte("bye")))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	testkit.Eventually(t, 5*time.Second, "the session closed or closing", func() bool { return h.session(sid) == nil || h.session(sid).closing() })
	writeText(t, conn, "5")
	if got := readText(t, conn); got != "4bye" {
		t.Fatalf("after the upgrade: %q, want the queued message", got)
	}
	if got := readText(t, conn); got != "1" {
		t.Fatalf("after the queued message: %q, want the close packet", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v (the session did not end)", err)
	}
	if reason := h.rec(sid).waitClosed(t); reason != ReasonServerClose {
		t.Errorf("close reason %q", reason)
	}
}

func TestUpgradePollMidUpgrade(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	conn := h.dial(sid)
	writeText(t, conn, "2probe")
	readText(t, conn)
	// A GET after the probe is released with a noop...
	if code, body := h.get(sid); code != 200 || body != "6" {
		t.Errorf("GET mid-upgrade: %d %q", code, body)
	}
	// ...or refused if the upgrade completes while it waits.
	ch := h.asyncGet(sid)
	h.waitPolling(sid)
	writeText(t, conn, "5")
	if r := recv(t, ch); r.code != 400 {
		t.Errorf("GET overtaken by upgrade: %+v", r)
	}
}

func TestUpgradeTimeout(t *testing.T) {
	h := newHarness(t, Config{UpgradeTimeout: 50 * time.Millisecond}, false)
	sid := h.pollingSession()
	conn := h.dial(sid)
	if code := readUntilClosed(t, conn); code != 0 {
		t.Errorf("probe dropped with close code %d", code)
	}
	s := h.session(sid)
	if s == nil || s.Transport() != "polling" {
		t.Fatal("session did not stay on polling")
	}
	_ = s.Send(TextFrame([]byte("still here")))
	if code, body := h.get(sid); code != 200 || body != "4still here" {
		t.Errorf("GET after failed upgrade: %d %q", code, body)
	}
}

func TestHeartbeat(t *testing.T) {
	cfg := Config{PingInterval: 30 * time.Millisecond, PingTimeout: 100 * time.Millisecond}
	t.Run("polling", func(t *testing.T) {
		h := newHarness(t, cfg, false)
		sid := h.pollingSession()
		for range 3 {
			if code, body := h.get(sid); code != 200 || body != "2" {
				t.Fatalf("GET: %d %q, want ping", code, body)
			}
			if code, _ := h.post(sid, "3"); code != 200 {
				t.Fatalf("pong POST: %d", code)
			}
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonPingTimeout {
			t.Errorf("reason %q", got)
		}
		if code, _ := h.get(sid); code != 400 {
			t.Errorf("GET after ping timeout: %d", code)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		h := newHarness(t, cfg, false)
		conn, sid := h.wsSession()
		for range 3 {
			if got := readText(t, conn); got != "2" {
				t.Fatalf("got %q, want ping", got)
			}
			writeText(t, conn, "3")
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonPingTimeout {
			t.Errorf("reason %q", got)
		}
		if h.srv.Count() != 0 {
			t.Error("session still counted")
		}
	})
}

func TestInvalidPacketClosesSession(t *testing.T) {
	h := newHarness(t, Config{}, false)
	for _, body := range []string{"abc", "", "4ok\x1e9", "b!!!", "4a\x1e\x1e4b"} {
		sid := h.pollingSession()
		if code, _ := h.post(sid, body); code != 400 {
			t.Errorf("POST %q: %d, want 400", body, code)
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonParseError {
			t.Errorf("POST %q: reason %q", body, got)
		}
		if n := len(h.rec(sid).messages()); n != 0 {
			t.Errorf("POST %q delivered %d messages of an invalid payload", body, n)
		}
		if code, _ := h.get(sid); code != 400 {
			t.Errorf("GET after invalid POST: %d", code)
		}
	}
	conn, sid := h.wsSession()
	writeText(t, conn, "abc")
	readUntilClosed(t, conn)
	if got := h.rec(sid).waitClosed(t); got != ReasonParseError {
		t.Errorf("websocket reason %q", got)
	}
}

func TestClientClose(t *testing.T) {
	h := newHarness(t, Config{}, false)
	t.Run("polling answers the pending GET", func(t *testing.T) {
		sid := h.pollingSession()
		ch := h.asyncGet(sid)
		h.waitPolling(sid)
		if code, _ := h.post(sid, "1"); code != 200 {
			t.Errorf("close POST: %d", code)
		}
		if r := recv(t, ch); r.code != 200 || r.body != "6" {
			t.Errorf("pending GET: %+v", r)
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonTransportClose {
			t.Errorf("reason %q", got)
		}
		if code, _ := h.get(sid); code != 400 {
			t.Errorf("GET after close: %d", code)
		}
	})
	t.Run("polling close overtaking its GET", func(t *testing.T) {
		sid := h.pollingSession()
		if code, _ := h.post(sid, "1"); code != 200 {
			t.Errorf("close POST: %d", code)
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonTransportClose {
			t.Errorf("reason %q", got)
		}
		if code, body := h.get(sid); code != 200 || body != "6" {
			t.Errorf("overtaken GET: %d %q", code, body)
		}
		if code, _ := h.get(sid); code != 400 {
			t.Errorf("next GET: %d", code)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		conn, sid := h.wsSession()
		writeText(t, conn, "1")
		if got := h.rec(sid).waitClosed(t); got != ReasonTransportClose {
			t.Errorf("reason %q", got)
		}
		readUntilClosed(t, conn)
	})
	t.Run("websocket close frame", func(t *testing.T) {
		conn, sid := h.wsSession()
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		if code := readUntilClosed(t, conn); code != ws.StatusNormalClosure {
			t.Errorf("close echo code %d", code)
		}
		if got := h.rec(sid).waitClosed(t); got != ReasonTransportClose {
			t.Errorf("reason %q", got)
		}
	})
}

func TestCancelledPollClosesSession(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.do(ctx, http.MethodGet, "&transport=polling&sid="+sid, "")
	}()
	h.waitPolling(sid)
	cancel()
	<-done
	if got := h.rec(sid).waitClosed(t); got != ReasonTransportClose {
		t.Errorf("reason %q", got)
	}
	if code, _ := h.get(sid); code != 400 {
		t.Errorf("GET after cancelled poll: %d", code)
	}
}

func TestConcurrentGetClosesSession(t *testing.T) {
	h := newHarness(t, Config{}, false)
	sid := h.pollingSession()
	first := h.asyncGet(sid)
	h.waitPolling(sid)
	if code, _ := h.get(sid); code != 400 {
		t.Errorf("second GET: %d, want 400", code)
	}
	if r := recv(t, first); r.code != 200 || r.body != "1" {
		t.Errorf("first GET: %+v, want close packet", r)
	}
	if got := h.rec(sid).waitClosed(t); got != ReasonTransportError {
		t.Errorf("reason %q", got)
	}
}

func TestLimits(t *testing.T) {
	h := newHarness(t, Config{MaxPayload: 100, MaxPollingPackets: 4}, false)
	t.Run("polling body over MaxPayload", func(t *testing.T) {
		sid := h.pollingSession()
		if code, _ := h.post(sid, "4"+strings.Repeat("x", 100)); code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST: %d, want 413", code)
		}
		h.rec(sid).waitClosed(t)
	})
	t.Run("polling body at MaxPayload", func(t *testing.T) {
		sid := h.pollingSession()
		if code, _ := h.post(sid, "4"+strings.Repeat("x", 99)); code != 200 {
			t.Errorf("POST: %d, want 200", code)
		}
	})
	t.Run("too many packets", func(t *testing.T) {
		sid := h.pollingSession()
		if code, _ := h.post(sid, "4a\x1e4b\x1e4c\x1e4d"); code != 200 {
			t.Errorf("4 packets: %d", code)
		}
		if code, _ := h.post(sid, "4a\x1e4b\x1e4c\x1e4d\x1e4e"); code != 400 {
			t.Errorf("5 packets: %d, want 400", code)
		}
		h.rec(sid).waitClosed(t)
	})
	t.Run("websocket message over MaxPayload", func(t *testing.T) {
		conn, sid := h.wsSession()
		// Two fragments, each small, together too big.
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte(strings.Repeat("4", 60)))))
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(strings.Repeat("x", 60)))))
		if code := readUntilClosed(t, conn); code != ws.StatusMessageTooBig {
			t.Errorf("close code %d, want 1009", code)
		}
		h.rec(sid).waitClosed(t)
	})
}

func TestSlowConsumer(t *testing.T) {
	h := newHarness(t, Config{MaxQueuedFrames: 4, MaxQueuedBytes: 10}, false)
	t.Run("frames", func(t *testing.T) {
		s := h.session(h.pollingSession())
		for range 4 {
			if err := s.Send(TextFrame(nil)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Send(TextFrame(nil)); !errors.Is(err, ErrSlowConsumer) {
			t.Errorf("Send = %v, want ErrSlowConsumer", err)
		}
		if got := h.rec(s.ID()).waitClosed(t); got != ReasonSlowConsumer {
			t.Errorf("reason %q", got)
		}
		if err := s.Send(TextFrame(nil)); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after close = %v", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s := h.session(h.pollingSession())
		if err := s.Send(TextFrame([]byte("12345678901"))); !errors.Is(err, ErrSlowConsumer) {
			t.Errorf("Send = %v, want ErrSlowConsumer", err)
		}
	})
}

// TestCoalescing shows frames queued while a write is in flight go out
// together in the next one.
func TestCoalescing(t *testing.T) {
	var (
		mu    sync.Mutex
		sizes []int
		gate  chan struct{}
	)
	h := newHarness(t, Config{}, false)
	h.srv.beforeWrite = func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		g := gate
		mu.Unlock()
		if g != nil {
			<-g
		}
	}
	conn, sid := h.wsSession() // first write: the open packet
	mu.Lock()
	gate = make(chan struct{})
	mu.Unlock()
	s := h.session(sid)
	go func() { _ = s.Send(TextFrame([]byte("0"))) }() // its write waits at the gate
	testkit.Eventually(t, 5*time.Second, "two sizes recorded", func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 2 })
	for i := 1; i < 100; i++ {
		if err := s.Send(TextFrame([]byte{'0' + byte(i%10)})); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	close(gate)
	gate = nil
	mu.Unlock()
	for i := range 100 {
		if got, want := readText(t, conn), "4"+string(rune('0'+i%10)); got != want {
			t.Fatalf("frame %d = %q, want %q", i, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 3 || sizes[2] != 99 {
		t.Errorf("write batches %v, want [1 1 99]", sizes)
	}
}

// TestSendsNeedNoWriterGoroutine: sends to healthy websockets are written
// by the flusher, without a goroutine per session or per send.
func TestSendsNeedNoWriterGoroutine(t *testing.T) {
	h := newHarness(t, Config{}, false)
	type client struct {
		conn net.Conn
		s    *Session
	}
	var clients []client
	for range 20 {
		conn, sid := h.wsSession()
		clients = append(clients, client{conn, h.session(sid)})
	}
	before := h.srv.writers.Load()
	for i := range 20 {
		for _, c := range clients {
			if err := c.s.Send(TextFrame([]byte("x"))); err != nil {
				t.Fatal(err)
			}
		}
		for j, c := range clients {
			if got := readText(t, c.conn); got != "4x" {
				t.Fatalf("round %d client %d: %q", i, j, got)
			}
		}
	}
	if n := h.srv.writers.Load() - before; n != 0 {
		t.Errorf("%d writer goroutines for 400 sends to healthy websockets", n)
	}
}

// TestSendToFullSocket: what a client that stopped reading leaves in the
// socket goes out, in order and whole, once it reads again.
func TestSendToFullSocket(t *testing.T) {
	h := newHarness(t, Config{MaxQueuedFrames: 10000, MaxQueuedBytes: 64 << 20, WriteTimeout: 20 * time.Second}, false)
	conn, sid := h.wsSession()
	s := h.session(sid)
	const n = 300
	payload := func(i int) []byte {
		b := make([]byte, 40<<10+i) // odd sizes: writes end mid-frame
		for j := range b {
			b[j] = byte('a' + (i+j)%26)
		}
		return b
	}
	for i := range n {
		if err := s.Send(TextFrame(payload(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	s.mu.Lock()
	queued := len(s.q) > 0 || s.writing
	s.mu.Unlock()
	if !queued {
		t.Fatal("12 MB went into the socket without a reader: the test proves nothing")
	}
	for i := range n {
		if got := readText(t, conn); got != "4"+string(payload(i)) {
			t.Fatalf("frame %d differs (len %d)", i, len(got))
		}
	}
}

// TestSendsOutliveWriteTimeout: a websocket, opened directly or by an
// upgrade, still takes sends long after its first writes; the deadline of
// a blocking write must not outlast it.
func TestSendsOutliveWriteTimeout(t *testing.T) {
	const timeout = 150 * time.Millisecond
	h := newHarness(t, Config{WriteTimeout: timeout, PingInterval: time.Hour, PingTimeout: time.Hour}, true)
	direct, sid := h.wsSession()

	psid := h.pollingSession()
	upgraded := h.dial(psid)
	writeText(t, upgraded, "2probe")
	if got := readText(t, upgraded); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	writeText(t, upgraded, "5")
	testkit.Eventually(t, 5*time.Second, "the upgrade to websocket", func() bool { return h.session(psid).Transport() == "websocket" })

	time.Sleep(3 * timeout)
	for name, c := range map[string]struct {
		conn net.Conn
		sid  string
	}{"direct": {direct, sid}, "upgraded": {upgraded, psid}} {
		if err := h.session(c.sid).Send(TextFrame([]byte("late"))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := readText(t, c.conn); got != "4late" {
			t.Errorf("%s: got %q", name, got)
		}
	}
}

func TestUnwritten(t *testing.T) {
	bufs := net.Buffers{[]byte("abc"), []byte("de"), []byte("fgh")}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{0, []string{"abc", "de", "fgh"}},
		{2, []string{"c", "de", "fgh"}},
		{3, []string{"de", "fgh"}},
		{4, []string{"e", "fgh"}},
		{7, []string{"h"}},
		{8, nil},
	} {
		var got []string
		for _, b := range unwritten(bufs, tc.n) {
			got = append(got, string(b))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("unwritten(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if string(bufs[0]) != "abc" {
		t.Error("unwritten changed its input")
	}
}

// TestSameOriginAlwaysAllowed: a page served from the server's own host
// (an Origin naming the request's Host) is not a cross-origin request, so
// an allow-list that does not name it must not refuse it, on polling and
// websocket alike; another origin still is.
func TestSameOriginAlwaysAllowed(t *testing.T) {
	h := newHarness(t, Config{AllowOrigin: func(string) bool { return false }}, false)
	host := strings.SplitN(h.url, "/", 4)[2] // 127.0.0.1:port
	for _, tt := range []struct {
		origin string
		status int
	}{{"http://" + host, http.StatusOK}, {"https://" + host, http.StatusOK}, {"http://evil.example", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodGet, h.url+"&transport=polling", nil)
		req.Header.Set("Origin", tt.origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("polling handshake from %s = %d, want %d", tt.origin, resp.StatusCode, tt.status)
		}
	}
	hdr := http.Header{"Origin": {"http://" + host}}
	conn, _, _, err := (ws.Dialer{Header: ws.HandshakeHeaderHTTP(hdr)}).Dial(context.Background(), "ws"+strings.TrimPrefix(h.url, "http")+"&transport=websocket")
	if err != nil {
		t.Fatalf("same-origin websocket refused: %v", err)
	}
	conn.Close()
}

func TestCORS(t *testing.T) {
	h := newHarness(t, Config{AllowOrigin: func(o string) bool { return o == "https://app.example" }}, false)
	req, _ := http.NewRequest(http.MethodOptions, h.url+"&transport=polling", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Headers", "content-type, authorization")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, POST",
		"Access-Control-Allow-Headers":     "content-type, authorization",
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight status %d", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, h.url+"&transport=polling", nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("handshake CORS headers %v", resp.Header)
	}
	for _, transport := range []string{"polling", "websocket"} {
		req, _ = http.NewRequest(http.MethodGet, h.url+"&transport="+transport, nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Upgrade", "websocket")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s from a foreign origin: %d, want 403", transport, resp.StatusCode)
		}
	}
}

func TestDefaultOriginCheck(t *testing.T) {
	h := newHarness(t, Config{}, false)
	for origin, want := range map[string]int{h.http.URL: 200, "https://elsewhere.example": 403} {
		req, _ := http.NewRequest(http.MethodGet, h.url+"&transport=polling", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("origin %s: %d, want %d", origin, resp.StatusCode, want)
		}
	}
}

func TestAllowRequest(t *testing.T) {
	for _, tt := range []struct {
		err          error
		status, code int
		message      string
	}{
		{&RequestError{Status: 429, Code: 4, Message: "too many connections"}, 429, 4, "too many connections"},
		{errors.New("secret detail"), 403, 4, "Forbidden"},
	} {
		h := newHarness(t, Config{AllowRequest: func(*http.Request) error { return tt.err }}, false)
		code, body := h.do(context.Background(), http.MethodGet, "&transport=polling", "")
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if code != tt.status || e.Code != tt.code || e.Message != tt.message {
			t.Errorf("got %d %s, want %d code %d %q", code, body, tt.status, tt.code, tt.message)
		}
		if h.srv.Count() != 0 {
			t.Error("refused handshake made a session")
		}
	}
}

func TestSessionClose(t *testing.T) {
	h := newHarness(t, Config{}, false)
	conn, sid := h.wsSession()
	s := h.session(sid)
	_ = s.Send(TextFrame([]byte("last")))
	s.Close("")
	s.Close("again")
	if got := readText(t, conn); got != "4last" {
		t.Errorf("got %q", got)
	}
	if got := readText(t, conn); got != "1" {
		t.Errorf("got %q, want close packet", got)
	}
	if got := h.rec(sid).waitClosed(t); got != ReasonForcedClose {
		t.Errorf("reason %q", got)
	}
	if err := s.Send(TextFrame(nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
	if got := s.Request(); got.Body != http.NoBody || got.URL.Query().Get("EIO") != "4" {
		t.Errorf("Request() = %+v", got)
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, Config{}, false)
	conn, wsid := h.wsSession()
	psid := h.pollingSession()
	pending := h.asyncGet(psid)
	h.waitPolling(psid)
	ws1, ps := h.session(wsid), h.session(psid)
	for _, s := range []*Session{ws1, ps} {
		_ = s.Send(TextFrame([]byte("a")), TextFrame([]byte("b")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Shutdown(ctx) }()
	// The pending GET may have taken "4a\x1e4b" before the close; then the
	// close packet comes with the next GET.
	r := recv(t, pending)
	body := r.body
	if body == "4a\x1e4b" {
		_, next := h.get(psid)
		body += "\x1e" + next
	}
	if body != "4a\x1e4b\x1e1" {
		t.Errorf("polling got %q, want queued frames then close", body)
	}
	for _, want := range []string{"4a", "4b", "1"} {
		if got := readText(t, conn); got != want {
			t.Errorf("websocket got %q, want %q", got, want)
		}
	}
	if err := <-errc; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	for _, sid := range []string{wsid, psid} {
		if got := h.rec(sid).waitClosed(t); got != ReasonServerClose {
			t.Errorf("reason %q", got)
		}
	}
	if code, _ := h.do(context.Background(), http.MethodGet, "&transport=polling", ""); code != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: %d", code)
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}
