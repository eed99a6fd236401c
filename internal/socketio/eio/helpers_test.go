package eio

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// recorder is a Handler that records what a session received; with echo
// it sends every message back.
type recorder struct {
	s    *Session
	echo bool
	// hold, when set, runs first in OnMessage (a handler that takes long).
	hold func(data []byte)

	mu       sync.Mutex
	msgs     []string // "t:data" or "b:data"
	reasons  []string
	closed   chan struct{}
	afterEnd int // messages delivered after OnClose (must stay 0)
}

func (r *recorder) OnMessage(data []byte, binary bool) {
	if r.hold != nil {
		r.hold(data)
	}
	r.mu.Lock()
	kind := "t:"
	if binary {
		kind = "b:"
	}
	r.msgs = append(r.msgs, kind+string(data))
	if len(r.reasons) > 0 {
		r.afterEnd++
	}
	r.mu.Unlock()
	if r.echo {
		data = append([]byte(nil), data...)
		if binary {
			_ = r.s.Send(BinaryFrame(data))
		} else {
			_ = r.s.Send(TextFrame(data))
		}
	}
}

func (r *recorder) OnClose(reason string) {
	r.mu.Lock()
	r.reasons = append(r.reasons, reason)
	r.mu.Unlock()
	close(r.closed) // panics on a second call
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// waitClosed waits for OnClose and returns its reason.
func (r *recorder) waitClosed(t *testing.T) string {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.afterEnd != 0 {
		t.Errorf("%d messages after OnClose", r.afterEnd)
	}
	return r.reasons[0]
}

// harness is a Server on a real 127.0.0.1 listener.
type harness struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	url  string // .../engine.io/?EIO=4

	mu   sync.Mutex
	recs map[string]*recorder
	echo bool
	hold func(data []byte) // given to every recorder made after it is set
}

func newHarness(t *testing.T, cfg Config, echo bool) *harness {
	t.Helper()
	h := &harness{t: t, recs: make(map[string]*recorder), echo: echo}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.OnSession = func(s *Session) Handler {
		h.mu.Lock()
		r := &recorder{s: s, echo: h.echo, hold: h.hold, closed: make(chan struct{})}
		h.recs[s.ID()] = r
		h.mu.Unlock()
		return r
	}
	h.srv = NewServer(cfg)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", h.srv)
	h.http = httptest.NewServer(mux)
	h.url = h.http.URL + "/engine.io/?EIO=4"
	t.Cleanup(func() {
		// Idle polling sessions wait for a GET to carry the close packet;
		// don't wait long for them here.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		h.http.Close()
	})
	return h
}

func (h *harness) rec(sid string) *recorder {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recs[sid]
}

func (h *harness) session(sid string) *Session { return h.srv.lookup(sid) }

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func parseOpen(t *testing.T, body string) openPacket {
	t.Helper()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("open packet = %q", body)
	}
	var o openPacket
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return o
}

// do sends a request and returns status and body.
func (h *harness) do(ctx context.Context, method, query, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.url+query, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (h *harness) get(sid string) (int, string) {
	return h.do(context.Background(), http.MethodGet, "&transport=polling&sid="+sid, "")
}

func (h *harness) post(sid, body string) (int, string) {
	return h.do(context.Background(), http.MethodPost, "&transport=polling&sid="+sid, body)
}

// pollingSession opens a polling session and returns its sid.
func (h *harness) pollingSession() string {
	h.t.Helper()
	code, body := h.do(context.Background(), http.MethodGet, "&transport=polling", "")
	if code != http.StatusOK {
		h.t.Fatalf("handshake: %d %s", code, body)
	}
	return parseOpen(h.t, body).SID
}

type result struct {
	code int
	body string
}

// asyncGet starts a GET and returns where its result arrives.
func (h *harness) asyncGet(sid string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		code, body := h.get(sid)
		ch <- result{code, body}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("GET not answered")
		return result{}
	}
}

// waitPolling waits until the session has a GET pending.
func (h *harness) waitPolling(sid string) {
	h.t.Helper()
	testkit.Eventually(h.t, 5*time.Second, "a pending GET", func() bool {
		s := h.session(sid)
		if s == nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.poll != nil
	})
}

// dial opens a websocket, with sid when given.
func (h *harness) dial(sid string) net.Conn {
	h.t.Helper()
	u := "ws" + strings.TrimPrefix(h.url, "http") + "&transport=websocket"
	if sid != "" {
		u += "&sid=" + sid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, u)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { _ = conn.Close() })
	if br != nil {
		// Frames that came with the handshake response.
		return bufConn{conn, br}
	}
	return conn
}

type bufConn struct {
	net.Conn
	r io.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// wsSession opens a websocket session; it returns the conn and sid.
func (h *harness) wsSession() (net.Conn, string) {
	h.t.Helper()
	conn := h.dial("")
	o := parseOpen(h.t, readText(h.t, conn))
	return conn, o.SID
}

// readMsg reads the next data frame.
func readMsg(t *testing.T, conn net.Conn) (string, ws.OpCode) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, op, err := wsutil.ReadServerData(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b), op
}

func readText(t *testing.T, conn net.Conn) string {
	t.Helper()
	s, op := readMsg(t, conn)
	if op != ws.OpText {
		t.Fatalf("opcode %v, want text", op)
	}
	return s
}

func writeText(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	if err := wsutil.WriteClientText(conn, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readUntilClosed reads frames until the server closes, returning the
// close code (0 if the connection dropped without a close frame).
func readUntilClosed(t *testing.T, conn net.Conn) ws.StatusCode {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := readFrame(conn)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection not closed")
			}
			return 0
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

// readFrame reads one server frame (unmasked, small in tests).
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(r, p)
	return ws.Frame{Header: h, Payload: p}, err
}

// closing reports whether s has queued its close and is flushing.
func (s *Session) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateClosing
}
