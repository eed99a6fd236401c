// Package realtime is the Socket.IO adapter of coworkctl: the handshake
// auth, rooms, join/leave, acks, per-socket limits, presence and stats, and
// the slots.Notifier that turns domain changes into wire events. Only this
// package talks to the Socket.IO library, so its slow parts can be replaced
// without touching the domain.
package realtime

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/server/slots"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"golang.org/x/time/rate"
)

// Config tunes the Socket.IO endpoint. Zero values take the defaults below.
type Config struct {
	// CORSOrigins is the allow-list of browser origins; "*" allows any.
	// Empty means same-origin only (requests without Origin always pass).
	CORSOrigins []string
	// MaxPayloadBytes bounds one message (websocket frame or polling body).
	MaxPayloadBytes int64
	// MaxPollingPackets bounds the packets of one polling POST (NOTES 12).
	MaxPollingPackets int
	// MaxRoomsPerSocket bounds the space rooms one socket may join.
	MaxRoomsPerSocket int
	// EventsPerSecond and EventBurst bound client events per socket.
	EventsPerSecond float64
	EventBurst      int
	// MaxConnections bounds concurrent Engine.IO sessions on this node.
	MaxConnections int
	// RecoveryWindow is how long a dropped client can come back and get
	// what it missed (connection state recovery).
	RecoveryWindow time.Duration
	PingInterval   time.Duration
	PingTimeout    time.Duration
	// GhostSweepEvery is how often sockets with a dead connection are
	// swept (NOTES 4).
	GhostSweepEvery time.Duration
	// NodeID names this node in stats and logs.
	NodeID string
	// Adapter is the cluster adapter (Redis) for scale-out; nil keeps rooms
	// in memory on this node.
	Adapter sio.AdapterConstructor
}

// Defaults.
const (
	DefaultMaxPayloadBytes   = 100_000
	DefaultMaxPollingPackets = 1_000
	DefaultMaxRoomsPerSocket = 50
	DefaultEventsPerSecond   = 20
	DefaultEventBurst        = 40
	DefaultMaxConnections    = 10_000
	DefaultRecoveryWindow    = 2 * time.Minute
	DefaultPingInterval      = 25 * time.Second
	DefaultGhostSweepEvery   = 10 * time.Second
	// heartbeatSlack keeps PingTimeout above PingInterval. The engine (v3.0.6)
	// arms its pong deadline after sending the ping; when the pong is handled
	// first, a stale deadline survives and closes a healthy session with
	// "ping timeout" (NOTES 10). With the deadline longer than the interval,
	// the next ping re-arms it before the stale one can fire; a dead peer is
	// still dropped after PingInterval+heartbeatSlack.
	heartbeatSlack = 5 * time.Second
)

func (c *Config) setDefaults() {
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.MaxPollingPackets <= 0 {
		c.MaxPollingPackets = DefaultMaxPollingPackets
	}
	if c.MaxRoomsPerSocket <= 0 {
		c.MaxRoomsPerSocket = DefaultMaxRoomsPerSocket
	}
	if c.EventsPerSecond <= 0 {
		c.EventsPerSecond = DefaultEventsPerSecond
	}
	if c.EventBurst <= 0 {
		c.EventBurst = max(DefaultEventBurst, int(c.EventsPerSecond*2))
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.RecoveryWindow <= 0 {
		c.RecoveryWindow = DefaultRecoveryWindow
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= c.PingInterval {
		c.PingTimeout = c.PingInterval + min(heartbeatSlack, c.PingInterval)
	}
	if c.GhostSweepEvery <= 0 {
		c.GhostSweepEvery = DefaultGhostSweepEvery
	}
}

// Spaces is what the hub needs from the domain: snapshots for joins.
type Spaces interface {
	Grid(ctx context.Context, spazioID, sedeID int64, date string, v slots.Viewer) (slots.Grid, error)
}

// Hub owns the Socket.IO server and every connected socket's session.
type Hub struct {
	cfg      Config
	io       *sio.Server
	verifier *auth.Verifier
	metrics  *metrics.Metrics
	log      *slog.Logger
	spaces   Spaces
	started  time.Time
	ws       *sharedFrameWS

	presence *presence

	closing   atomic.Bool
	closeOnce sync.Once
}

// session is what the hub knows of one connected socket.
type session struct {
	id          sio.SocketId
	sock        *sio.Socket
	claims      *auth.Claims
	limiter     *rate.Limiter
	connectedAt time.Time
	expiry      *time.Timer

	// rooms (space rooms only) and gone are guarded by the hub's presence.
	rooms map[string]struct{}
	gone  bool

	mu sync.Mutex // guards expiry
}

// New builds the hub and its Socket.IO server. Call UseSpaces before
// serving.
func New(cfg Config, verifier *auth.Verifier, m *metrics.Metrics, log *slog.Logger) *Hub {
	cfg.setDefaults()
	h := &Hub{cfg: cfg, verifier: verifier, metrics: m, log: log, started: time.Now(), presence: newPresence()}

	opts := sio.DefaultServerOptions()
	opts.SetMaxHttpBufferSize(cfg.MaxPayloadBytes)
	opts.SetPingInterval(cfg.PingInterval)
	opts.SetPingTimeout(cfg.PingTimeout)
	opts.SetServeClient(false)
	opts.SetAllowEIO3(false)
	h.ws = newSharedFrameWS()
	opts.SetTransports(types.NewSet[transports.TransportCtor](sio.Polling, h.ws))
	opts.SetCors(&types.Cors{
		Origin:      h.originAllowed,
		Methods:     []string{http.MethodGet, http.MethodPost},
		Credentials: true,
	})
	rec := sio.DefaultConnectionStateRecovery()
	rec.SetMaxDisconnectionDuration(cfg.RecoveryWindow.Milliseconds())
	// Re-run auth on recovery: the token may have expired meanwhile.
	rec.SetSkipMiddlewares(false)
	opts.SetConnectionStateRecovery(rec)
	if cfg.Adapter != nil {
		opts.SetAdapter(cfg.Adapter)
	}

	h.io = sio.NewServer(nil, opts)
	h.io.Use(h.authenticate)
	_ = h.io.On("connection", func(args ...any) {
		if s, ok := connectedSocket(args); ok {
			h.onConnection(s)
		}
	})
	return h
}

// UseSpaces sets the domain service that answers joins.
func (h *Hub) UseSpaces(s Spaces) { h.spaces = s }

// IO exposes the library server to the scale-out wiring (Redis adapter).
func (h *Hub) IO() *sio.Server { return h.io }

func (h *Hub) originAllowed(origin string) bool {
	for _, o := range h.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// authenticate is the handshake middleware: the seed's texts plus data.code.
func (h *Hub) authenticate(s *sio.Socket, next func(*sio.ExtendedError)) {
	token := handshakeToken(s)
	if token == "" {
		h.metrics.AuthFailures.WithLabelValues(protocol.CodeAuthRequired, "socket").Inc()
		next(sio.NewExtendedError(protocol.MsgSocketAuthRequired, map[string]any{"code": protocol.CodeAuthRequired}))
		return
	}
	claims, err := h.verifier.Verify(token)
	if err != nil {
		h.metrics.AuthFailures.WithLabelValues(protocol.CodeAuthInvalid, "socket").Inc()
		h.log.Debug("socket auth rejected", "err", err, "remote", s.Handshake().Address)
		next(sio.NewExtendedError(protocol.MsgSocketAuthInvalid, map[string]any{"code": protocol.CodeAuthInvalid}))
		return
	}
	s.SetData(claims)
	next(nil)
}

func (h *Hub) onConnection(s *sio.Socket) {
	claims, _ := s.Data().(*auth.Claims)
	if claims == nil || h.closing.Load() {
		s.Disconnect(true)
		return
	}
	sess := &session{
		id: s.Id(), sock: s, claims: claims, connectedAt: time.Now(), rooms: map[string]struct{}{},
		limiter: rate.NewLimiter(rate.Limit(h.cfg.EventsPerSecond), h.cfg.EventBurst),
	}
	// A recovered socket comes back with its rooms.
	for _, r := range s.Rooms().Keys() {
		if _, _, ok := protocol.ParseSpaceRoom(string(r)); ok {
			sess.rooms[string(r)] = struct{}{}
		}
	}
	s.Join(sio.Room(protocol.UserRoom(claims.UserID)), sio.Room(everyoneRoom))

	if old := h.presence.add(sess); old != nil {
		old.stop()
	}
	h.refreshGauges()

	if exp := claims.ExpiresAt(); !exp.IsZero() {
		sess.expiry = time.AfterFunc(time.Until(exp), func() { h.expireSession(sess) })
	}

	s.Use(func(args []any, next func(error)) { h.guardEvent(sess, args, next) })
	_ = s.On(protocol.EventJoinSpace, func(args ...any) { h.onJoin(sess, args) })
	_ = s.On(protocol.EventLeaveSpace, func(args ...any) { h.onLeave(sess, args) })
	_ = s.On(protocol.EventPing, func(args ...any) {
		_, ack := splitAck(args)
		reply(ack, map[string]any{"ok": true, "timestamp": protocol.Timestamp(time.Now())})
	})
	_ = s.On("disconnect", func(args ...any) { h.drop(s.Id(), disconnectReason(args)) })
	// The library queues a client's DISCONNECT packet but handles the close
	// that follows it at once, so an explicit disconnect often ends as
	// "transport close" — a recoverable reason: the session is kept and the
	// client's next connect is "recovered" into its old rooms, which Node
	// never does. The engine reports each packet synchronously as it is
	// read, so end the socket here, before the close is seen, with a reason
	// that is not recoverable.
	if conn := s.Conn(); conn != nil {
		_ = conn.On("packet", func(args ...any) {
			if isNamespaceDisconnect(args) {
				h.clientDisconnected(sess)
			}
		})
	}

	h.emitTo(s, protocol.EventConnectionConfirmed, protocol.ConnectionConfirmed{
		Message: protocol.MsgConnected, UserID: claims.UserID, Role: claims.Role, SocketID: string(s.Id()),
		Recovered: s.Recovered(), Timestamp: protocol.Timestamp(time.Now()),
	})
	h.log.Info("socket connected", "socket", s.Id(), "user", claims.UserID, "role", claims.Role,
		"transport", transportName(s), "recovered", s.Recovered(), "remote", s.Handshake().Address)
}

// guardEvent runs before every client event: counts it and applies the
// per-socket rate limit. A dropped event gets a space_error and, if it
// asked for one, a failed ack.
func (h *Hub) guardEvent(sess *session, args []any, next func(error)) {
	name := eventName(args)
	h.metrics.EventsIn.WithLabelValues(knownEvent(name)).Inc()
	if sess.limiter.Allow() {
		next(nil)
		return
	}
	h.metrics.RateLimited.Inc()
	_, ack := splitAck(args)
	h.spaceError(sess.sock, ack, protocol.CodeRateLimited, "Troppe richieste: rallenta")
}

// knownEvent bounds metric label cardinality to the events we handle.
func knownEvent(name string) string {
	switch name {
	case protocol.EventJoinSpace, protocol.EventLeaveSpace, protocol.EventPing:
		return name
	}
	return "other"
}

// clientDisconnected ends a socket whose client sent DISCONNECT.
func (h *Hub) clientDisconnected(sess *session) {
	h.drop(sess.sock.Id(), "client namespace disconnect")
	sess.sock.Disconnect(false)
}

func (h *Hub) expireSession(sess *session) {
	h.emitTo(sess.sock, protocol.EventSessionExpired, protocol.SessionExpired{
		Message: "Sessione scaduta", Code: protocol.CodeSessionExpired, Timestamp: protocol.Timestamp(time.Now()),
	})
	h.log.Info("token expired, disconnecting", "socket", sess.sock.Id(), "user", sess.claims.UserID)
	// A namespace disconnect travels behind session_expired on the same
	// queue, so the client reads the notice first; it also tells the
	// official client not to reconnect with the dead token. The transport
	// is closed a moment later in case the client keeps it open.
	sess.sock.Disconnect(false)
	h.drop(sess.sock.Id(), "token expired")
	if conn := sess.sock.Conn(); conn != nil {
		time.AfterFunc(2*time.Second, func() { conn.Close(false) })
	}
}

// drop forgets a socket. The library may report one disconnect twice
// (NOTES 11) or never (NOTES 4), so this is idempotent and also called by
// the ghost sweeper.
func (h *Hub) drop(id sio.SocketId, reason string) {
	sess, ok := h.presence.remove(id)
	if !ok {
		return
	}
	sess.stop()
	h.metrics.Disconnects.WithLabelValues(reasonLabel(reason)).Inc()
	h.refreshGauges()
	h.log.Info("socket disconnected", "socket", id, "user", sess.claims.UserID, "reason", reason,
		"connected_for", time.Since(sess.connectedAt).Round(time.Millisecond))
}

func (s *session) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
}

// reasonLabel maps free-form reasons to a bounded label set.
func reasonLabel(r string) string {
	switch r {
	case "transport close", "transport error", "ping timeout", "client namespace disconnect",
		"server namespace disconnect", "server shutting down", "forced close", "forced server close",
		"token expired", "ghost", "parse error":
		return r
	}
	return "other"
}

func transportName(s *sio.Socket) string {
	if c := s.Conn(); c != nil && c.Transport() != nil {
		return c.Transport().Name()
	}
	return ""
}

// RunGhostSweeper removes sockets whose connection is closed but whose
// disconnect never fired (NOTES 4), until ctx ends.
func (h *Hub) RunGhostSweeper(ctx context.Context) error {
	t := time.NewTicker(h.cfg.GhostSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.SweepGhosts()
		}
	}
}

// SweepGhosts runs one ghost sweep and returns how many it removed.
func (h *Hub) SweepGhosts() int {
	var ghosts []*sio.Socket
	h.io.Sockets().Sockets().Range(func(_ sio.SocketId, s *sio.Socket) bool {
		if c := s.Conn(); c == nil || c.ReadyState() == "closed" || !s.Connected() {
			ghosts = append(ghosts, s)
		}
		return true
	})
	for _, sess := range h.presence.all() {
		if c := sess.sock.Conn(); c == nil || c.ReadyState() == "closed" || !sess.sock.Connected() {
			if !slices.Contains(ghosts, sess.sock) {
				ghosts = append(ghosts, sess.sock)
			}
		}
	}
	for _, s := range ghosts {
		h.metrics.GhostsSwept.Inc()
		s.Disconnect(true)
		// The library may not clean up a socket whose connection is gone.
		for _, r := range s.Rooms().Keys() {
			s.Leave(r)
		}
		h.io.Sockets().Sockets().Delete(s.Id())
		h.drop(s.Id(), "ghost")
	}
	return len(ghosts)
}

func (h *Hub) refreshGauges() {
	sockets, users, rooms := h.presence.counts()
	h.metrics.Sockets.Set(float64(sockets))
	h.metrics.Users.Set(float64(users))
	h.metrics.Rooms.Set(float64(rooms))
}

// Shutdown tells every client the server is going away and closes the
// Socket.IO server. Clients see a transport close and reconnect (to this
// node once it is back, or to another). Safe to call twice.
func (h *Hub) Shutdown() {
	h.closeOnce.Do(func() {
		h.closing.Store(true)
		// Local: only this node is going away, not the cluster.
		_ = h.io.Local().Emit("server_shutdown", map[string]any{
			"message": "Server in arresto, riconnessione automatica", "timestamp": protocol.Timestamp(time.Now()),
		})
		// Let the notice reach websocket clients before their transports close.
		h.ws.waitIdle(time.Second)
		done := make(chan struct{})
		h.io.Close(func(error) { close(done) })
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		for _, s := range h.presence.all() {
			if _, ok := h.presence.remove(s.id); ok {
				s.stop()
			}
		}
		h.refreshGauges()
	})
}
