package sio

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// frameData records what each frame made by this package holds, since
// eio.Frame does not show its bytes.
var frameData sync.Map // *eio.Frame → sentFrame

type sentFrame struct {
	binary bool
	data   string
}

func TestMain(m *testing.M) {
	textFrame = func(b []byte) *eio.Frame {
		f := eio.TextFrame(b)
		frameData.Store(f, sentFrame{data: string(b)})
		return f
	}
	binaryFrame = func(b []byte) *eio.Frame {
		f := eio.BinaryFrame(b)
		frameData.Store(f, sentFrame{binary: true, data: string(b)})
		return f
	}
	os.Exit(m.Run())
}

func contentOf(f *eio.Frame) sentFrame {
	v, ok := frameData.Load(f)
	if !ok {
		panic("frame not made by this package")
	}
	return v.(sentFrame)
}

// fakeConn is an Engine.IO session that records what is sent and, like
// eio, reports its close to the handler.
type fakeConn struct {
	id  string
	req *http.Request
	h   eio.Handler

	mu      sync.Mutex
	frames  []*eio.Frame
	closed  bool
	reason  string
	sendErr error
	// onSend, when set, runs at each Send before anything is recorded.
	onSend func(frames []*eio.Frame)
}

func (c *fakeConn) ID() string        { return c.id }
func (c *fakeConn) Transport() string { return "websocket" }
func (c *fakeConn) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.req
}

func (c *fakeConn) ReleaseRequest() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.req = nil
}

func (c *fakeConn) Send(frames ...*eio.Frame) error {
	c.mu.Lock()
	hook := c.onSend
	c.mu.Unlock()
	if hook != nil {
		hook(frames)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return eio.ErrClosed
	}
	if c.sendErr != nil {
		return c.sendErr
	}
	c.frames = append(c.frames, frames...)
	return nil
}

func (c *fakeConn) Close(reason string) { c.drop(reason) }

// drop ends the session as the engine would, e.g. with
// eio.ReasonTransportClose.
func (c *fakeConn) drop(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason = true, reason
	h := c.h
	c.mu.Unlock()
	h.OnClose(reason)
}

func (c *fakeConn) isClosed() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed, c.reason
}

// take returns what was sent since the last call, text frames as their
// text and binary ones prefixed with "bin:".
func (c *fakeConn) take() []string {
	c.mu.Lock()
	fs := c.frames
	c.frames = nil
	c.mu.Unlock()
	out := make([]string, len(fs))
	for i, f := range fs {
		sf := contentOf(f)
		if sf.binary {
			out[i] = "bin:" + sf.data
		} else {
			out[i] = sf.data
		}
	}
	return out
}

func (c *fakeConn) rawFrames() []*eio.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.frames
	c.frames = nil
	return fs
}

// recv is the client side of a text or binary message.
func (c *fakeConn) recv(msg string) { c.handler().OnMessage([]byte(msg), false) }

func (c *fakeConn) recvBinary(b []byte) { c.handler().OnMessage(b, true) }

func (c *fakeConn) handler() eio.Handler {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h
}

func testServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return newServer(cfg)
}

var connSeq struct {
	sync.Mutex
	n int
}

// dial opens a fake Engine.IO session on s.
func dial(s *Server) *fakeConn {
	connSeq.Lock()
	connSeq.n++
	id := fmt.Sprintf("eio%d", connSeq.n)
	connSeq.Unlock()
	c := &fakeConn{id: id, req: httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket&x=1", nil)}
	h := s.newClient(c)
	c.mu.Lock()
	c.h = h
	c.mu.Unlock()
	return c
}

// connectTo dials and connects to the main namespace, returning the
// socket that OnConnection saw.
func connectTo(t *testing.T, s *Server, nsp, payload string) (*fakeConn, *Socket) {
	t.Helper()
	ns := s.Of(nsp)
	var got *Socket
	ns.cfgMu.RLock()
	prev := ns.onConn
	ns.cfgMu.RUnlock()
	ns.OnConnection(func(sk *Socket) {
		got = sk
		if prev != nil {
			prev(sk)
		}
	})
	defer ns.OnConnection(prev)
	c := dial(s)
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.recv(prefix + payload)
	if got == nil {
		t.Fatalf("connect to %s: no socket; sent %q", nsp, c.take())
	}
	c.take()
	return c, got
}
