package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/tui"
)

// swapConn is the dashboard's connection: a client.Socket that a new
// token can replace. A socket whose token the server refused has ended
// for good, so the new token gets a new socket; a live one renews its
// session in place. Events of every socket arrive on one channel.
type swapConn struct {
	opts client.SocketOptions
	rest *atomic.Pointer[client.REST]
	// tokenFile is re-read when the T prompt is left empty; "" when the
	// token came from elsewhere.
	tokenFile string

	mu     sync.Mutex
	sock   *client.Socket
	closed bool
	events chan client.Event
	wg     sync.WaitGroup
}

func newSwapConn(sock *client.Socket, opts client.SocketOptions, rest *atomic.Pointer[client.REST], tokenFile string) *swapConn {
	c := &swapConn{opts: opts, rest: rest, tokenFile: tokenFile, sock: sock, events: make(chan client.Event, 1024)}
	c.forward(sock)
	return c
}

// forward copies sock's events until it ends.
func (c *swapConn) forward(sock *client.Socket) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for ev := range sock.Events() {
			c.events <- ev
		}
	}()
}

func (c *swapConn) current() *client.Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sock
}

// Events is every socket's events, in order per socket.
func (c *swapConn) Events() <-chan client.Event { return c.events }

// JoinSpace joins on the current socket.
func (c *swapConn) JoinSpace(ctx context.Context, spazioID, sedeID int64, date string) (protocol.Ack, error) {
	return c.current().JoinSpace(ctx, spazioID, sedeID, date)
}

// LeaveSpace leaves on the current socket (s: the old sede's rooms).
func (c *swapConn) LeaveSpace(ctx context.Context, spazioID, sedeID int64) (protocol.Ack, error) {
	return c.current().LeaveSpace(ctx, spazioID, sedeID)
}

// Latency probes the current socket.
func (c *swapConn) Latency(ctx context.Context) (time.Duration, error) {
	return c.current().Latency(ctx)
}

// Renew hands a renewed token to the live socket and the REST calls.
func (c *swapConn) Renew(token string) {
	c.rest.Store(c.rest.Load().WithToken(token))
	c.current().Renew(token)
}

// SetToken applies a token given by hand (T): "" re-reads --token-file.
// A refused token leaves everything as it was.
func (c *swapConn) SetToken(ctx context.Context, token string) (tui.TokenInfo, error) {
	if token == "" {
		if c.tokenFile == "" {
			return tui.TokenInfo{}, errors.New("no token typed, and no --token-file to read one from")
		}
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return tui.TokenInfo{}, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	info := tui.TokenInfo{Expires: tokenExpiry(token), Staff: tokenStaff(token)}
	old := c.current()
	if old.Connected() {
		c.Renew(token)
		return info, nil
	}
	opts := c.opts
	opts.Token = token
	sock, err := client.Dial(ctx, opts)
	if err != nil {
		var ce *sioclient.ConnectError
		if errors.As(err, &ce) {
			return tui.TokenInfo{}, fmt.Errorf("%w: %s", tui.ErrTokenRefused, ce.Message)
		}
		return tui.TokenInfo{}, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sock.Close()
		return tui.TokenInfo{}, client.ErrClosed
	}
	c.sock = sock
	c.mu.Unlock()
	old.Close()
	c.forward(sock)
	c.rest.Store(c.rest.Load().WithToken(token))
	return info, nil
}

// Close closes the current socket and returns once the forwarders and
// the drain are done.
func (c *swapConn) Close() {
	c.mu.Lock()
	c.closed = true
	sock := c.sock
	c.mu.Unlock()
	sock.Close()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		// Forwarders block on a full channel the dashboard no longer
		// reads: drain it until they are done.
		for range c.events {
		}
	}()
	c.wg.Wait()
	close(c.events)
	<-drained
}
