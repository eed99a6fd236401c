package realtime

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The library's websocket transport builds a new gorilla PreparedMessage for
// every recipient of every broadcast, although the adapter hands all of
// them one pre-encoded frame (NOTES "Cost measured": 29% of CPU and 88% of
// allocated bytes at 300 broadcasts/s). This file is coworkctl's own
// websocket transport, plugged in through the engine's public transport
// extension point (a TransportCtor named "websocket"). It reuses the
// library's transport for everything but writing, and writes each
// broadcast frame from one PreparedMessage shared by all recipients.

// sharedFrameWS is the TransportCtor that replaces the library's websocket.
type sharedFrameWS struct {
	frames *frameCache
	// inflight counts write batches not yet on the wire, so a shutdown can
	// let its last notice reach the clients before closing them.
	inflight atomic.Int64
}

func newSharedFrameWS() *sharedFrameWS { return &sharedFrameWS{frames: newFrameCache(1024)} }

func (*sharedFrameWS) Name() string          { return transports.WEBSOCKET }
func (*sharedFrameWS) HandlesUpgrades() bool { return true }
func (*sharedFrameWS) UpgradesTo() []string  { return nil }

// New builds the transport for one upgraded connection.
func (b *sharedFrameWS) New(ctx *types.HttpContext) transports.Transport {
	t := &frameWriter{Websocket: transports.MakeWebSocket(), conn: ctx.Websocket, frames: b.frames, inflight: &b.inflight}
	// Route the base transport's calls (Close → DoClose, …) through t so
	// that Send below is the only writer of the connection.
	t.Prototype(t)
	t.Construct(ctx)
	return t
}

// frameWriter is the library's websocket transport with its own Send.
type frameWriter struct {
	transports.Websocket
	conn     *types.WebSocketConn
	frames   *frameCache
	inflight *atomic.Int64
	// pending tracks this connection's batch in flight; DoClose waits for
	// it so a close right after an emit does not drop the emit.
	pending sync.WaitGroup
	// writeMu keeps one writer on the gorilla connection at a time.
	writeMu sync.Mutex
}

// closeWait bounds how long a close waits for the batch in flight.
const closeWait = time.Second

// Send writes a batch on its own goroutine, like the library: the engine
// holds further packets while the transport is not writable and flushes
// them on "ready", so batches never overlap.
func (t *frameWriter) Send(packets []*packet.Packet) {
	t.SetWritable(false)
	t.pending.Add(1)
	t.inflight.Add(1)
	go func() {
		defer t.inflight.Add(-1)
		defer t.pending.Done()
		if t.write(packets) {
			t.Emit("drain")
			t.SetWritable(true)
			t.Emit("ready")
		}
	}()
}

// DoClose lets the batch in flight reach the wire (bounded by closeWait),
// then closes like the library's transport.
func (t *frameWriter) DoClose(fn types.Callable) {
	done := make(chan struct{})
	go func() { t.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	t.Websocket.DoClose(fn)
}

// waitIdle waits until no batch is in flight on any connection, or d passes.
func (b *sharedFrameWS) waitIdle(d time.Duration) {
	deadline := time.Now().Add(d)
	for b.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// write sends every packet; false when the connection failed.
func (t *frameWriter) write(packets []*packet.Packet) bool {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	for _, p := range packets {
		var err error
		if p.Options != nil && p.Options.WsPreEncodedFrame != nil && t.PerMessageDeflate() == nil {
			var pm *ws.PreparedMessage
			if pm, err = t.frames.get(p.Options.WsPreEncodedFrame); err == nil {
				err = t.conn.WritePreparedMessage(pm)
			}
		} else {
			var data types.BufferInterface
			if data, err = t.Parser().EncodePacket(p, t.SupportsBinary()); err == nil {
				mt := ws.BinaryMessage
				if _, text := data.(*types.StringBuffer); text {
					mt = ws.TextMessage
				}
				err = t.conn.WriteMessage(mt, data.Bytes())
			}
		}
		if err != nil {
			t.fail(err)
			return false
		}
	}
	return true
}

// fail reports a write error the way the library's transport does: a
// closed connection closes the transport, anything else is an error.
func (t *frameWriter) fail(err error) {
	if ws.IsUnexpectedCloseError(err) || errors.Is(err, net.ErrClosed) || errors.Is(err, ws.ErrCloseSent) {
		t.conn.Emit("close")
		return
	}
	t.conn.Emit("error", err)
}

// frameCache maps a broadcast's pre-encoded frame to its PreparedMessage.
// It holds the last size frames (a broadcast is written to all its
// recipients within moments); a frame evicted early is simply prepared
// again. Keys are the frame buffers themselves, which the adapter creates
// once per broadcast and never changes.
type frameCache struct {
	mu    sync.Mutex
	items map[types.BufferInterface]*ws.PreparedMessage
	ring  []types.BufferInterface
	next  int
}

func newFrameCache(size int) *frameCache {
	return &frameCache{items: make(map[types.BufferInterface]*ws.PreparedMessage, size), ring: make([]types.BufferInterface, size)}
}

func (c *frameCache) get(frame types.BufferInterface) (*ws.PreparedMessage, error) {
	c.mu.Lock()
	pm, ok := c.items[frame]
	c.mu.Unlock()
	if ok {
		return pm, nil
	}
	mt := ws.BinaryMessage
	if _, text := frame.(*types.StringBuffer); text {
		mt = ws.TextMessage
	}
	pm, err := ws.NewPreparedMessage(mt, frame.Bytes())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.ring[c.next]; old != nil {
		delete(c.items, old)
	}
	c.ring[c.next] = frame
	c.next = (c.next + 1) % len(c.ring)
	c.items[frame] = pm
	return pm, nil
}
