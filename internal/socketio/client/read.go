package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

func (c *Conn) readLoop() {
	var err error
	defer func() { c.finish(err) }()
	// The transport changes only while dialing, before this goroutine.
	tr := c.tr
	for {
		var pkts [][]byte
		var at time.Time
		pkts, at, err = tr.recv(time.Now().Add(c.heartbeat))
		if err != nil {
			if isTimeout(err) {
				err = ErrPingTimeout
			}
			return
		}
		for _, p := range pkts {
			if err = c.handle(p, at); err != nil {
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// handle acts on one Engine.IO packet read after the CONNECT.
func (c *Conn) handle(p []byte, at time.Time) error {
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case parser.EnginePing:
		if _, ok := c.tr.(*pollTransport); ok {
			// Answer off the polling loop so the next poll is not delayed.
			c.pongs.Add(1)
			go func() {
				defer c.pongs.Done()
				_ = c.send([]byte{parser.EnginePong})
			}()
			return nil
		}
		return c.send([]byte{parser.EnginePong})
	case parser.EngineClose:
		return ErrServerClose
	case parser.EngineMessage:
		return c.message(p[1:], at)
	}
	return nil
}

// message acts on one Socket.IO packet.
func (c *Conn) message(p []byte, at time.Time) error {
	h, payload, err := parser.DecodeHeader(p)
	if err != nil {
		return err
	}
	if h.Nsp != c.nsp() {
		return nil
	}
	switch h.Type {
	case parser.Event:
		if c.opts.OnRawEvent != nil {
			c.opts.OnRawEvent(c, payload, at)
		}
		if c.opts.OnEvent != nil {
			name, args, err := parser.SplitEvent(payload)
			if err != nil {
				return err
			}
			e := Event{Name: name, At: at}
			e.Args, e.Offset = c.dropOffset(args)
			c.opts.OnEvent(c, e)
		}
	case parser.Ack:
		c.resolveAck(h.ID, payload)
	case parser.Disconnect:
		return ErrServerDisconnect
	}
	return nil
}

// dropOffset splits the recovery offset the server appends to the
// arguments of a recoverable session's events.
func (c *Conn) dropOffset(args []json.RawMessage) ([]json.RawMessage, string) {
	if c.pid == "" || len(args) == 0 {
		return args, ""
	}
	var off string
	if json.Unmarshal(args[len(args)-1], &off) != nil {
		return args, ""
	}
	return args[:len(args)-1], off
}

// ParseEvent splits an event's JSON array, as OnRawEvent receives it,
// into its name and arguments, without the recovery offset.
func (c *Conn) ParseEvent(payload []byte) (name string, args []json.RawMessage, err error) {
	name, args, err = parser.SplitEvent(payload)
	if err != nil {
		return "", nil, err
	}
	args, _ = c.dropOffset(args)
	return name, args, nil
}

func (c *Conn) resolveAck(id int64, payload []byte) {
	c.ackMu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.ackMu.Unlock()
	if ch == nil {
		return
	}
	var args []json.RawMessage
	if err := json.Unmarshal(payload, &args); err != nil {
		// Not an array: hand it over as one argument rather than lose it.
		args = []json.RawMessage{json.RawMessage(bytes.Clone(payload))}
	}
	ch <- args
}

func (c *Conn) finish(err error) {
	c.closeOnce.Do(func() {
		if c.closed.Swap(true) {
			err = nil
		}
		c.sendMu.Lock()
		_ = c.tr.close()
		c.sendMu.Unlock()
		close(c.done)
		if c.opts.OnClose != nil {
			c.opts.OnClose(c, err)
		}
	})
}

// String names the connection for logs.
func (c *Conn) String() string { return fmt.Sprintf("socket.io %s", c.sid) }
