// Package eio is coworkctl's Engine.IO v4 server: sessions, the polling and
// websocket transports, the upgrade from one to the other, heartbeats and
// packet framing. It knows nothing of Socket.IO; package sio runs on it.
//
// Designed for many idle connections with room fan-out of small messages:
// a message is framed once (Frame) and shared by every session it goes to;
// each session has a bounded queue whose frames are written in one
// syscall; heartbeats run on runtime timers, not goroutines.
package eio

// API CONTRACT (stub written first so eio and sio can be built in
// parallel; the implementation replaces the bodies, keeps the signatures).

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Frame is one Engine.IO "message" packet, encoded once and shared,
// read-only, by every session it is sent to.
type Frame struct {
	binary bool
	data   []byte
}

// TextFrame frames a text message (the packet "4"+data). data must not
// change afterwards.
func TextFrame(data []byte) *Frame { return &Frame{data: data} }

// BinaryFrame frames a binary message. data must not change afterwards.
func BinaryFrame(data []byte) *Frame { return &Frame{binary: true, data: data} }

// Len is the payload size, used to bound queues and buffers.
func (f *Frame) Len() int { return len(f.data) }

// Handler receives one session's messages and its end.
type Handler interface {
	// OnMessage is called for each message packet, in order, never
	// concurrently for one session. data is valid only during the call.
	OnMessage(data []byte, binary bool)
	// OnClose is called exactly once when the session ends.
	OnClose(reason string)
}

// Close reasons reported to Handler.OnClose.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"        // Session.Close
	ReasonServerClose    = "forced server close" // Server.Shutdown
	ReasonSlowConsumer   = "slow consumer"       // the send queue bound was hit
)

// RequestError refuses a request with an HTTP status and Engine.IO's error
// body {"code":Code,"message":Message}.
type RequestError struct {
	Status  int
	Code    int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// Errors of Session.Send.
var (
	ErrClosed       = errors.New("eio: session closed")
	ErrSlowConsumer = errors.New("eio: send queue full")
)

// Config tunes the server. Zero values take the defaults in brackets.
type Config struct {
	PingInterval   time.Duration // [25s]
	PingTimeout    time.Duration // [20s]
	UpgradeTimeout time.Duration // [10s]
	// MaxPayload bounds one websocket message and one polling POST body,
	// and is announced in the handshake. [1e6]
	MaxPayload int64
	// MaxPollingPackets bounds the packets of one polling POST. [1000]
	MaxPollingPackets int
	// MaxQueuedFrames and MaxQueuedBytes bound one session's send queue;
	// past either the session is closed with ReasonSlowConsumer.
	// [4096 frames, 4 MiB]
	MaxQueuedFrames int
	MaxQueuedBytes  int
	// WriteTimeout bounds one write to a peer. [10s]
	WriteTimeout time.Duration
	// Transports allowed, of "polling" and "websocket". [both]
	Transports []string
	// AllowOrigin decides CORS for polling and the websocket origin check;
	// nil allows requests without Origin or with the request's own host.
	AllowOrigin func(origin string) bool
	// AllowRequest can refuse a handshake (a request without sid) before
	// a session is made, e.g. for connection caps; a *RequestError sets
	// the status and code, another error gives 403 with code 4.
	AllowRequest func(r *http.Request) error
	// OnSession is called for each new session before any of its packets
	// is read and returns the session's handler. Required.
	OnSession func(s *Session) Handler
	// Logger [slog.Default()]
	Logger *slog.Logger
}

// Server serves Engine.IO under the path it is mounted on.
type Server struct{ cfg Config }

// NewServer builds a server; it starts no goroutine.
func NewServer(cfg Config) *Server { return &Server{cfg: cfg} }

// ServeHTTP handles handshakes, polling requests and websocket upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// Count is the number of open sessions.
func (s *Server) Count() int { panic("unimplemented") }

// Shutdown refuses new sessions, sends every session a close packet after
// what it has queued, and waits (until ctx ends) for those writes to
// finish; sessions end with ReasonServerClose. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error { panic("unimplemented") }

// Session is one Engine.IO connection, whatever its current transport.
type Session struct{}

// ID is the session id (the handshake's sid).
func (s *Session) ID() string { panic("unimplemented") }

// Transport is "polling" or "websocket", the one in use now.
func (s *Session) Transport() string { panic("unimplemented") }

// Request is the handshake request: URL, headers, RemoteAddr. Its body is
// not readable.
func (s *Session) Request() *http.Request { panic("unimplemented") }

// Send queues frames to go out together, in order, after those queued
// before. It never blocks on the network. ErrClosed once the session has
// ended; ErrSlowConsumer when the queue bound is hit (the session is then
// closed with ReasonSlowConsumer).
func (s *Session) Send(frames ...*Frame) error { panic("unimplemented") }

// Close sends what is queued, then a close packet, and ends the session
// with the given reason (ReasonForcedClose when empty). Safe to call
// twice and from any goroutine, including the handler's.
func (s *Session) Close(reason string) { panic("unimplemented") }
