// Package sio is coworkctl's Socket.IO v5 server on package eio:
// namespaces, the CONNECT handshake with auth middleware, events and acks
// (binary attachments included), rooms, broadcasts encoded once for all
// recipients, connection state recovery bounded per session, and an
// optional cluster (adapter.Cluster) for scale-out.
//
// A broadcast is encoded once into eio frames that every recipient's
// session queues by reference; rooms are sets of sockets under one
// read-write lock per namespace, held shared during the fan-out; a Tally
// keeps counts of a class of rooms (occupancy) under that lock, so callers
// read who is where from here and keep no copy of their own. Handlers
// run on the session's reader, one event at a time per session.
//
// With recovery on, every packet sent by Socket.Emit or a non-volatile
// broadcast carries an offset as its last argument (the official client
// keeps it as its last offset), and each socket keeps a bounded ring of
// references to what it was sent. A socket whose connection drops for a
// recoverable reason keeps its id, rooms, data and ring for the window
// and keeps receiving what its rooms get, bounded; a client that comes
// back with its private session id and offset gets the same socket id,
// its rooms, and the packets it missed.
package sio

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck"
	"github.com/coworkctl/coworkctl/internal/lifecycle"
	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// Config tunes the Socket.IO layer. A zero value takes the default in
// brackets; WithDefaults applies them and Validate checks the result.
type Config struct {
	// ConnectTimeout closes an Engine.IO session that has not joined any
	// namespace in time. [10s]
	ConnectTimeout time.Duration
	// MaxPending bounds the sessions that have not joined a namespace yet,
	// MaxPendingPerAddress those of one client address; past either, the
	// newcomer evicts an older pending session instead of being refused
	// (see pendingPool). [0: no bound]
	MaxPending           int
	MaxPendingPerAddress int
	// ClientAddress is the client's address of a handshake request, for
	// the per-address bound and Handshake.Address. [the host of RemoteAddr]
	ClientAddress func(r *http.Request) string
	// OnPendingEvicted, when set, is called once per evicted session.
	// [nil: not called]
	OnPendingEvicted func()
	// Recovery is connection state recovery. [a zero Window: off]
	Recovery Recovery
	// Cluster forwards broadcasts to other nodes. [nil: a single node]
	Cluster adapter.Cluster
	// Logger [slog.Default()]
	Logger *slog.Logger
}

// Recovery bounds connection state recovery. A session whose missed
// packets exceed MaxPackets or MaxBytes cannot be recovered: the client
// gets a fresh session. The same bounds cap what a connected socket keeps
// (its oldest packets go first), and packets older than Window are
// dropped.
type Recovery struct {
	Window     time.Duration // [0: recovery off]
	MaxPackets int           // [1000]
	MaxBytes   int           // [1 MiB], counted by eio.Frame.Len
}

// DefaultConnectTimeout is Config.ConnectTimeout's default.
const DefaultConnectTimeout = 10 * time.Second

// WithDefaults returns c with its zero values replaced by the defaults;
// the values it sets are kept (negative ones too, for Validate to refuse).
func (c Config) WithDefaults() Config {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Recovery.MaxPackets == 0 {
		c.Recovery.MaxPackets = defaultMaxPackets
	}
	if c.Recovery.MaxBytes == 0 {
		c.Recovery.MaxBytes = defaultMaxBytes
	}
	if c.ClientAddress == nil {
		c.ClientAddress = remoteHost
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks the values of c once the defaults are applied (call it
// on c.WithDefaults()), in the order of the fields, so that of several bad
// values the same one is reported; its *confcheck.FieldError names the
// field. A zero MaxPending or Recovery.Window is not described in the
// message: a caller may give those a meaning of its own.
func (c Config) Validate() error {
	return confcheck.First(
		confcheck.Positive("ConnectTimeout", c.ConnectTimeout),
		confcheck.NotNegative("MaxPending", c.MaxPending, ""),
		confcheck.NotNegative("MaxPendingPerAddress", c.MaxPendingPerAddress, "no bound"),
		confcheck.NotNegative("Recovery.Window", c.Recovery.Window, ""),
		confcheck.Positive("Recovery.MaxPackets", c.Recovery.MaxPackets),
		confcheck.Positive("Recovery.MaxBytes", c.Recovery.MaxBytes),
	)
}

// Server is a Socket.IO server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	engine   *eio.Server
	cluster  adapter.Cluster
	recovery bool
	offsets  *offsets
	saved    sessions

	sessions, pending atomic.Int64
	pool              *pendingPool
	// timers owns the callbacks of connect timeouts and recovery expiry.
	timers lifecycle.Group

	nsMu sync.RWMutex
	nsps map[string]*Namespace
}

var _ adapter.Node = (*Server)(nil)

// NewServer builds a server on an Engine.IO server made from engine
// (whose OnSession it sets; its Logger defaults to cfg.Logger), each
// config with its defaults applied. Like eio.NewServer, it panics when a
// config fails Validate: check values that come from users first.
func NewServer(engine eio.Config, cfg Config) *Server {
	s := newServer(cfg)
	engine.OnSession = func(sess *eio.Session) eio.Handler { return s.newClient(sess) }
	if engine.Logger == nil {
		engine.Logger = s.log
	}
	s.engine = eio.NewServer(engine)
	return s
}

// newServer builds the Socket.IO part, without an engine (tests drive it
// with fake sessions).
func newServer(cfg Config) *Server {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic("sio: bad Config: " + err.Error())
	}
	s := &Server{
		pool:     newPendingPool(cfg.MaxPending, cfg.MaxPendingPerAddress),
		cfg:      cfg,
		log:      cfg.Logger,
		cluster:  cfg.Cluster,
		recovery: cfg.Recovery.Window > 0,
		offsets:  newOffsets(),
		nsps:     make(map[string]*Namespace),
	}
	s.Of("/")
	return s
}

// ServeHTTP serves the Engine.IO endpoint (mount it on /socket.io/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Of returns the namespace of that name ("/" is the main one), creating it.
// Clients connecting to a namespace that was never created get
// CONNECT_ERROR "Invalid namespace".
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if ns := s.lookup(name); ns != nil {
		return ns
	}
	s.nsMu.Lock()
	defer s.nsMu.Unlock()
	ns := s.nsps[name]
	if ns == nil {
		ns = newNamespace(s, name)
		s.nsps[name] = ns
	}
	return ns
}

func (s *Server) namespaceCount() int {
	s.nsMu.RLock()
	defer s.nsMu.RUnlock()
	return len(s.nsps)
}

func (s *Server) lookup(name string) *Namespace {
	s.nsMu.RLock()
	defer s.nsMu.RUnlock()
	return s.nsps[name]
}

// Sessions is the number of open Engine.IO sessions.
func (s *Server) Sessions() int { return int(s.sessions.Load()) }

// Pending is the number of open Engine.IO sessions not yet connected to
// any namespace.
func (s *Server) Pending() int { return int(s.pending.Load()) }

// Run serves the cluster, if any, until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if s.recovery {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			s.trimRings(ctx)
		}()
	}
	if s.cluster == nil {
		<-ctx.Done()
		return nil
	}
	return s.cluster.Run(ctx, s)
}

// trimRings drops packets older than the recovery window from every
// socket's ring, a few times per window: a socket that receives nothing
// would otherwise keep what it got last (its join snapshot) for good.
func (s *Server) trimRings(ctx context.Context) {
	t := time.NewTicker(min(max(s.cfg.Recovery.Window/4, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.nsMu.RLock()
		nsps := make([]*Namespace, 0, len(s.nsps))
		for _, ns := range s.nsps {
			nsps = append(nsps, ns)
		}
		s.nsMu.RUnlock()
		for _, ns := range nsps {
			ns.trimRings(nowNano())
		}
	}
}

// Shutdown closes every session after what is queued for it (see
// eio.Server.Shutdown); sockets get OnDisconnect(eio.ReasonServerClose),
// a recoverable reason, but no session is kept for recovery: no client
// can come back to a server that is shut down. Once it returns no timer
// callback runs, and none starts after. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.engine != nil {
		err = s.engine.Shutdown(ctx)
	}
	for _, sock := range s.saved.close() {
		sock.ns.unlink(sock)
	}
	s.timers.Close()
	return err
}

// DeliverLocal sends a packet that another node broadcast to this node's
// matching sockets. It implements adapter.Node.
func (s *Server) DeliverLocal(p adapter.Packet, opts adapter.Options) {
	ns := s.lookup(p.Nsp)
	if ns == nil || len(p.Data) == 0 {
		return
	}
	data := make([]any, len(p.Data), len(p.Data)+1)
	copy(data, p.Data)
	if err := ns.broadcast(data, opts, nil); err != nil {
		s.log.Warn("sio: deliver cluster packet", "nsp", p.Nsp, "error", err)
	}
}

// LocalSockets lists this node's connected sockets of namespace nsp that
// opts select. It implements adapter.Node.
func (s *Server) LocalSockets(nsp string, opts adapter.Options) []adapter.SocketInfo {
	ns := s.lookup(nsp)
	if ns == nil {
		return nil
	}
	return ns.localSockets(opts)
}

// ConnectError refuses a namespace CONNECT; the client sees a
// connect_error with err.message = Message and err.data = Data. It is the
// codec's type, the one our client returns too.
type ConnectError = parser.ConnectError

// Handshake is what a client sent to connect. Auth, Query and Headers are
// there for the middlewares and the OnConnection handler; a connected
// socket keeps only the rest, as idle sockets are most of what a server
// holds.
type Handshake struct {
	Auth    map[string]any // the CONNECT payload; nil when absent
	Query   url.Values
	Headers http.Header
	Address string // remote IP
	Time    time.Time
	URL     string
	Secure  bool
}
