package vuser

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Conn is what a virtual user needs of its Socket.IO connection.
type Conn interface {
	// Emit sends an event without asking for an acknowledgement.
	Emit(event string, args ...any) error
	// EmitWithAck sends an event and waits for its acknowledgement.
	EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
	// Transport names the transport in use (websocket or polling).
	Transport() string
	// Close ends the connection.
	Close() error
}

// DialOptions describe one virtual user's connection, from
// config.socketio.
type DialOptions struct {
	URL string
	// Namespace the connection joins; empty means "/".
	Namespace string
	// Path of the Engine.IO endpoint; empty means /socket.io/.
	Path string
	// Auth is the CONNECT payload.
	Auth       any
	Query      url.Values
	Header     http.Header
	Transports []string
	Timeout    time.Duration
	// OnEvent runs on the connection's reader for every event; it must
	// not block, nor keep e.Payload.
	OnEvent func(e Event)
	// OnClose runs once when the connection ends; err is nil after Close.
	OnClose func(err error)
}

// Event is one event as the connection read it, still encoded, so a user
// decodes only what it looks at.
type Event struct {
	// Payload is the event's JSON array (["name", args…]), valid only
	// while OnEvent runs.
	Payload []byte
	// At is when it was read.
	At time.Time
	// Parse splits a payload into the name and arguments, without a
	// recovery offset.
	Parse func(payload []byte) (name string, args []json.RawMessage, err error)
}

// Dialer opens connections; the runner takes it as a dependency so the
// Socket.IO client stays behind this seam.
type Dialer func(ctx context.Context, o DialOptions) (Conn, error)
