package client

import (
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/ws/wsutil"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// ConnectError is the server's refusal of the Socket.IO CONNECT (a
// connect_error): its message and the data it attached, if any. It is the
// codec's type, the one our server sends.
type ConnectError = parser.ConnectError

// HTTPError is a handshake request the server answered with a status
// other than success (an unknown transport, a refused origin, a session
// it no longer knows).
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("http %d: %.200s", e.StatusCode, e.Body)
}

var (
	// ErrClosed is returned by calls on a connection that has ended.
	ErrClosed = errors.New("socket.io: connection closed")
	// ErrServerDisconnect ends a connection the server disconnected
	// with a Socket.IO DISCONNECT: a client should not reconnect on its
	// own (Socket.IO's "io server disconnect").
	ErrServerDisconnect = errors.New("socket.io: server disconnected the socket")
	// ErrServerClose ends a connection whose Engine.IO session the
	// server closed (a shutdown, a missed heartbeat): reconnecting is
	// fine (Socket.IO's "transport close").
	ErrServerClose = errors.New("socket.io: server closed the session")
	// ErrPingTimeout ends a connection that heard nothing from the
	// server for longer than its ping interval and timeout.
	ErrPingTimeout = errors.New("socket.io: ping timeout")
)

// Reason names why a connection ended (OnClose's err) the way Socket.IO's
// own clients do, for logs and user interfaces.
func Reason(err error) string {
	var ce wsutil.ClosedError
	switch {
	case err == nil:
		return "io client disconnect"
	case errors.Is(err, ErrServerDisconnect):
		return "io server disconnect"
	case errors.Is(err, ErrPingTimeout):
		return "ping timeout"
	case errors.Is(err, ErrServerClose), errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "transport close"
	default:
		return "transport error: " + err.Error()
	}
}
