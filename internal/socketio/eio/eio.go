// Package eio is coworkctl's Engine.IO v4 server: sessions, the polling and
// websocket transports, the upgrade from one to the other, heartbeats and
// packet framing. It knows nothing of Socket.IO; package sio runs on it.
//
// Designed for many idle connections with room fan-out of small messages:
// a message is framed once (Frame) and shared by every session it goes to;
// each session has a bounded queue whose frames are written in one
// syscall; heartbeats run on runtime timers, not goroutines.
package eio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck"
	"github.com/coworkctl/coworkctl/internal/lifecycle"
	"github.com/gobwas/ws"
)

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

// Engine.IO's error codes, as in the reference server.
var (
	errTransportUnknown = &RequestError{http.StatusBadRequest, 0, "Transport unknown"}
	errSessionUnknown   = &RequestError{http.StatusBadRequest, 1, "Session ID unknown"}
	errHandshakeMethod  = &RequestError{http.StatusBadRequest, 2, "Bad handshake method"}
	errBadRequest       = &RequestError{http.StatusBadRequest, 3, "Bad request"}
	errForbidden        = &RequestError{http.StatusForbidden, 4, "Forbidden"}
	errProtocolVersion  = &RequestError{http.StatusBadRequest, 5, "Unsupported protocol version"}
	errShuttingDown     = &RequestError{http.StatusServiceUnavailable, 3, "Server is shutting down"}
	errPayloadTooLarge  = &RequestError{http.StatusRequestEntityTooLarge, 3, "Payload too large"}
)

// Transport names, as in the query parameter "transport".
const (
	transportPolling   = "polling"
	transportWebsocket = "websocket"
)

// Config tunes the server. A zero value takes the default in brackets;
// WithDefaults applies them and Validate checks the result.
type Config struct {
	// PingInterval is how often the server pings a session. [25s]
	PingInterval time.Duration
	// PingTimeout is how long a pong may take before the session is
	// closed with ReasonPingTimeout. [20s]
	PingTimeout time.Duration
	// UpgradeTimeout bounds a polling session's upgrade to websocket. [10s]
	UpgradeTimeout time.Duration
	// MaxPayload bounds one websocket message and one polling POST body,
	// and is announced in the handshake. [1e6 bytes]
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
	// StallTimeout drops a websocket (as ReasonSlowConsumer) whose peer
	// acknowledged nothing for this long while data waited for it in the
	// kernel (Linux; see stall.go). [0: off, the heartbeat decides]
	StallTimeout time.Duration
	// Transports allowed, of "polling" and "websocket". [both]
	Transports []string
	// AllowOrigin decides CORS for polling and the websocket origin check
	// of other origins; requests without Origin or with the request's own
	// host are always allowed. [nil: no other origin]
	AllowOrigin func(origin string) bool
	// AllowRequest can refuse a handshake (a request without sid) before
	// a session is made, e.g. for connection caps; a *RequestError sets
	// the status and code, another error gives 403 with code 4. [nil:
	// every handshake is allowed]
	AllowRequest func(r *http.Request) error
	// OnSession is called for each new session before any of its packets
	// is read and returns the session's handler. [required; nil: NewServer
	// panics]
	OnSession func(s *Session) Handler
	// Logger [slog.Default()]
	Logger *slog.Logger
}

// Defaults of Config (Node's engine.io defaults where it has one).
const (
	DefaultPingInterval      = 25 * time.Second
	DefaultPingTimeout       = 20 * time.Second
	DefaultUpgradeTimeout    = 10 * time.Second
	DefaultMaxPayload        = 1_000_000
	DefaultMaxPollingPackets = 1000
	DefaultMaxQueuedFrames   = 4096
	DefaultMaxQueuedBytes    = 4 << 20
	DefaultWriteTimeout      = 10 * time.Second
)

// WithDefaults returns c with its zero values replaced by the defaults;
// the values it sets are kept (negative ones too, for Validate to refuse).
func (c Config) WithDefaults() Config {
	setDefault(&c.PingInterval, DefaultPingInterval)
	setDefault(&c.PingTimeout, DefaultPingTimeout)
	setDefault(&c.UpgradeTimeout, DefaultUpgradeTimeout)
	setDefault(&c.MaxPayload, DefaultMaxPayload)
	setDefault(&c.MaxPollingPackets, DefaultMaxPollingPackets)
	setDefault(&c.MaxQueuedFrames, DefaultMaxQueuedFrames)
	setDefault(&c.MaxQueuedBytes, DefaultMaxQueuedBytes)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	if len(c.Transports) == 0 {
		c.Transports = []string{transportPolling, transportWebsocket}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate checks the values of c once the defaults are applied (call it
// on c.WithDefaults()), in the order of the fields, so that of several bad
// values the same one is reported; its *confcheck.FieldError names the
// field. It checks no callback: OnSession is set by whoever mounts the
// server (package sio does).
func (c Config) Validate() error {
	return confcheck.First(
		confcheck.Positive("PingInterval", c.PingInterval),
		confcheck.Positive("PingTimeout", c.PingTimeout),
		confcheck.Positive("UpgradeTimeout", c.UpgradeTimeout),
		confcheck.Positive("MaxPayload", c.MaxPayload),
		confcheck.Positive("MaxPollingPackets", c.MaxPollingPackets),
		confcheck.Positive("MaxQueuedFrames", c.MaxQueuedFrames),
		confcheck.Positive("MaxQueuedBytes", c.MaxQueuedBytes),
		confcheck.Positive("WriteTimeout", c.WriteTimeout),
		confcheck.NotNegative("StallTimeout", c.StallTimeout, "off"),
		validTransports(c.Transports),
	)
}

func validTransports(ts []string) error {
	if len(ts) == 0 {
		return confcheck.Errorf("Transports", "must name polling, websocket or both")
	}
	for _, t := range ts {
		if t != transportPolling && t != transportWebsocket {
			return confcheck.Errorf("Transports", "has %q: want polling or websocket", t)
		}
	}
	return nil
}

// Server serves Engine.IO under the path it is mounted on.
type Server struct {
	cfg Config
	log *slog.Logger

	upgrader ws.HTTPUpgrader

	mu       sync.RWMutex
	sessions map[string]*Session
	// lingering holds ended sessions briefly; see linger.
	lingering map[string]*Session
	closing   bool
	live      sync.WaitGroup // sessions whose OnClose has not returned
	// work owns readers, writers, flushers and timer callbacks.
	work lifecycle.Group

	flush flusher

	// beforeWrite, when set (tests only), sees each websocket batch
	// before it is written.
	beforeWrite func(frames int)
	// writers counts writer goroutines started (tests read it).
	writers atomic.Int64
}

// NewServer builds a server on cfg with the defaults applied; it starts
// no goroutine. Like time.NewTicker with a bad duration, it panics when
// that config fails Validate or has no OnSession: check values that come
// from users with Validate first.
func NewServer(cfg Config) *Server {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic("eio: bad Config: " + err.Error())
	}
	if cfg.OnSession == nil {
		panic("eio: Config.OnSession is required")
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: make(map[string]*Session),
		upgrader: ws.HTTPUpgrader{Timeout: cfg.WriteTimeout},
		flush:    flusher{max: runtime.GOMAXPROCS(0)},
	}
	s.flush.work = &s.work
	return s
}

// ServeHTTP handles handshakes, polling requests and websocket upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.originAllowed(origin, r.Host) {
			writeError(w, errForbidden)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeError(w, errProtocolVersion)
		return
	}
	transport := q.Get("transport")
	if !slices.Contains(s.cfg.Transports, transport) {
		writeError(w, errTransportUnknown)
		return
	}
	isWS := transport == transportWebsocket
	if isWS && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeError(w, errBadRequest)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if r.Method != http.MethodGet {
			writeError(w, errHandshakeMethod)
			return
		}
		s.handshake(w, r, isWS)
		return
	}
	sess := s.lookup(sid)
	if sess == nil {
		writeError(w, errSessionUnknown)
		return
	}
	switch {
	case isWS:
		sess.serveUpgrade(w, r)
	case r.Method == http.MethodGet:
		sess.servePoll(w, r)
	case r.Method == http.MethodPost:
		sess.servePost(w, r)
	default:
		writeError(w, errBadRequest)
	}
}

// originAllowed is the CORS and websocket origin check. An Origin naming
// the request's own host is a same-origin page (one served by this server
// or through its proxy), never refused: the allow-list is for other
// origins.
func (s *Server) originAllowed(origin, host string) bool {
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
		return true
	}
	return s.cfg.AllowOrigin != nil && s.cfg.AllowOrigin(origin)
}

// handshake opens a session on either transport.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, isWS bool) {
	s.mu.RLock()
	closing := s.closing
	s.mu.RUnlock()
	if closing {
		writeError(w, errShuttingDown)
		return
	}
	if allow := s.cfg.AllowRequest; allow != nil {
		if err := allow(r); err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				re = errForbidden
			}
			writeError(w, re)
			return
		}
	}
	if isWS {
		s.handshakeWebsocket(w, r)
		return
	}
	sess := newSession(s, r)
	sess.h = s.handlerFor(sess)
	if !s.register(sess) {
		sess.h.OnClose(ReasonServerClose)
		writeError(w, errShuttingDown)
		return
	}
	if !sess.markOpened() {
		writeError(w, errShuttingDown)
		return
	}
	open := s.openPacket(sess.id, true)
	setPollingHeaders(w.Header(), len(open))
	_, _ = w.Write(open)
	sess.startHeartbeat()
	s.log.Debug("eio session open", "sid", sess.id, "transport", transportPolling, "remote_addr", r.RemoteAddr)
}

func (s *Server) handlerFor(sess *Session) Handler {
	if h := s.cfg.OnSession(sess); h != nil {
		return h
	}
	return nopHandler{}
}

type nopHandler struct{}

func (nopHandler) OnMessage([]byte, bool) {}
func (nopHandler) OnClose(string)         {}

// openPacket is the handshake's open packet for sid.
func (s *Server) openPacket(sid string, polling bool) []byte {
	upgrades := []string{}
	if polling && slices.Contains(s.cfg.Transports, transportWebsocket) {
		upgrades = append(upgrades, transportWebsocket)
	}
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{sid, upgrades, s.cfg.PingInterval.Milliseconds(), s.cfg.PingTimeout.Milliseconds(), s.cfg.MaxPayload})
	return append([]byte{packetOpen}, b...)
}

// register makes a session visible by sid; it fails once Shutdown began.
func (s *Server) register(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[sess.id] = sess
	s.live.Add(1)
	return true
}

func (s *Server) lookup(sid string) *Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sess, ok := s.sessions[sid]; ok {
		return sess
	}
	return s.lingering[sid]
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	if s.lingering[sess.id] == sess {
		delete(s.lingering, sess.id)
	}
	s.mu.Unlock()
}

// lingerAfterClose is how long an ended polling session stays findable
// for the GET its close POST overtook.
const lingerAfterClose = time.Second

// linger moves an ended session out of the count, still findable by sid
// for lingerAfterClose (or until Shutdown).
func (s *Server) linger(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
	if s.closing {
		return
	}
	if s.lingering == nil {
		s.lingering = make(map[string]*Session)
	}
	s.lingering[sess.id] = sess
	sess.lingerTimer = time.AfterFunc(lingerAfterClose, func() {
		if s.work.Enter() {
			defer s.work.Exit()
			s.remove(sess)
		}
	})
}

// forgetLingering stops the linger timers: no GET is served once the
// server is shut down.
func (s *Server) forgetLingering() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.lingering {
		sess.lingerTimer.Stop()
	}
	s.lingering = nil
}

// Count is the number of open sessions.
func (s *Server) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Shutdown refuses new sessions, sends every session a close packet after
// what it has queued, and waits (until ctx ends) for those writes to
// finish; sessions end with ReasonServerClose. When ctx ends first, the
// sessions left are cut and ctx's error is returned. Either way it
// returns once every handler call has returned and no goroutine or timer
// callback of the server runs; none starts after. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, sess := range s.closeAll() {
		sess.closeAfter(ReasonServerClose, closeFrame, true)
	}
	done := make(chan struct{})
	go func() {
		s.live.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, sess := range s.closeAll() {
			sess.end(ReasonServerClose, closeFrame)
		}
		// Cut sessions end at once; their handler calls in progress
		// are waited for, as they may still use the server.
		<-done
		err = ctx.Err()
	}
	s.work.Close()
	s.forgetLingering()
	return err
}

func (s *Server) closeAll() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	list := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	return list
}

// newSessionID is 20 URL-safe characters from 15 random bytes.
func newSessionID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// writeError writes Engine.IO's JSON error body.
func writeError(w http.ResponseWriter, e *RequestError) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
