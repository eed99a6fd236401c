// Package realtime is the product side of coworkctl's Socket.IO endpoint:
// the handshake auth, rooms, join/leave, acks, per-socket limits, presence
// and stats, and the slots.Notifier that turns domain changes into wire
// events. The protocol itself lives in the subpackages eio (Engine.IO),
// sio (Socket.IO) and redisadapter (scale-out), which know nothing of
// slots.
package realtime

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/lifecycle"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Spaces is what the hub needs from the domain: the spaces that exist
// and snapshots for dated joins.
type Spaces interface {
	ResolveSpace(ctx context.Context, spazioID, sedeID int64) (slots.Spazio, slots.Sede, error)
	Grid(ctx context.Context, spazioID, sedeID int64, date string, v slots.Viewer) (slots.Grid, error)
}

// Hub owns the Socket.IO server and every connected socket's session.
type Hub struct {
	cfg      Config
	srv      *sio.Server
	nsp      *sio.Namespace
	verifier *auth.Verifier
	metrics  *metrics.Metrics
	log      *slog.Logger
	spaces   Spaces
	clock    Clock
	started  time.Time

	// life ends when Shutdown starts: what the hub does for a socket (a
	// join's snapshot read) stops with it. callbacks owns its timers'
	// callbacks.
	life      context.Context
	endLife   context.CancelFunc
	callbacks lifecycle.Group

	sessions  *sessions
	occupancy occupancy
	feeds     *feeds
	lost      lostSlots

	closing   atomic.Bool
	closeOnce sync.Once
}

// session is what the hub knows of one connected socket.
type session struct {
	id          string
	sock        *sio.Socket
	claims      *auth.Claims
	limiter     *rate.Limiter
	connectedAt time.Time

	// left is set once the session ends (its socket went, or a recovered
	// socket took its id over), for the feeds and a join in flight to
	// forget it.
	left atomic.Bool

	mu     sync.Mutex // guards expiry
	expiry Timer
}

// New builds the hub and its Socket.IO server on cfg with the defaults
// applied. Call UseSpaces before serving. Like eio.NewServer, it panics
// when that config fails Validate: check values from users first.
func New(cfg Config, verifier *auth.Verifier, m *metrics.Metrics, log *slog.Logger) *Hub {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic("realtime: bad Config: " + err.Error())
	}
	h := &Hub{cfg: cfg, verifier: verifier, metrics: m, log: log, clock: cfg.Clock, started: cfg.Clock.Now(), sessions: newSessions(), feeds: newFeeds()}
	h.life, h.endLife = context.WithCancel(context.Background())
	ecfg := cfg.Engine
	ecfg.AllowOrigin = h.originAllowed
	ecfg.AllowRequest = h.allowSession
	ecfg.Logger = log
	scfg := cfg.Socket
	scfg.ClientAddress = clientAddress(cfg.TrustedProxies)
	scfg.Logger = log
	if cfg.Socket.Cluster != nil {
		scfg.Cluster = feedCluster{Cluster: cfg.Socket.Cluster, h: h}
		if b, ok := cfg.Socket.Cluster.(adapter.Backlog); ok {
			b.OnDrop(h.clusterDropped)
		}
	}
	scfg.OnPendingEvicted = m.PendingEvicted.Inc
	h.srv = sio.NewServer(ecfg, scfg)
	h.nsp = h.srv.Of("/")
	h.occupancy = newOccupancy(h.nsp)
	h.nsp.Use(h.authenticate)
	h.nsp.RecoverIf(sameUser)
	h.nsp.OnConnection(h.onConnection)
	return h
}

// UseSpaces sets the domain service that answers joins.
func (h *Hub) UseSpaces(s Spaces) { h.spaces = s }

// Handler serves /socket.io/.
func (h *Hub) Handler() http.Handler { return h.srv }

// Run serves the cluster connection, if any, and tends the grids' feeds
// until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.srv.Run(ctx) })
	g.Go(func() error {
		t := time.NewTicker(feedPruneEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				h.feeds.prune(h.clock.Now())
			}
		}
	})
	if b, ok := h.cfg.Socket.Cluster.(adapter.Backlog); ok {
		g.Go(func() error {
			t := time.NewTicker(resyncEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					h.resendLost(ctx, b)
				}
			}
		})
	}
	return g.Wait()
}

// feedPruneEvery is how often the feeds forget sockets that left.
const feedPruneEvery = time.Minute

// originAllowed is CORS for polling and the websocket origin check. A
// request without Origin is not a browser and always passes.
func (h *Hub) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	for _, o := range h.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// allowSession refuses new Engine.IO sessions while shutting down and
// beyond the connection cap. Sessions without a CONNECT yet are not
// refused but bounded by the pending pool (Socket.MaxPending), where a
// newcomer evicts an older one: refusing it would let a flood of bare
// handshakes lock out every client with a token.
func (h *Hub) allowSession(*http.Request) error {
	switch {
	case h.closing.Load():
		return &eio.RequestError{Status: http.StatusServiceUnavailable, Code: 503, Message: "Server shutting down"}
	case h.srv.Sessions()-h.srv.Pending() >= h.cfg.MaxConnections:
		h.metrics.Refused.WithLabelValues("connections").Inc()
		return &eio.RequestError{Status: http.StatusServiceUnavailable, Code: 503, Message: "Too many connections"}
	}
	return nil
}

// authenticate is the CONNECT middleware: the seed's texts plus data.code.
// It runs on recovered connections too, so an expired token never
// recovers a session.
func (h *Hub) authenticate(hs *sio.Handshake) (any, error) {
	token := handshakeToken(hs)
	if token == "" {
		h.metrics.AuthFailures.WithLabelValues(protocol.CodeAuthRequired, "socket").Inc()
		return nil, &sio.ConnectError{Message: protocol.RefusalAuthRequired.Text, Data: map[string]any{"code": protocol.RefusalAuthRequired.Code}}
	}
	claims, err := h.verifier.Verify(token)
	if err != nil {
		h.metrics.AuthFailures.WithLabelValues(protocol.CodeAuthInvalid, "socket").Inc()
		h.log.Debug("socket auth rejected", "err", err, "remote", hs.Address)
		return nil, &sio.ConnectError{Message: protocol.RefusalAuthInvalid.Text, Data: map[string]any{"code": protocol.RefusalAuthInvalid.Code}}
	}
	return claims, nil
}

// sameUser lets a session be recovered only by the user who owned it: a
// token of user B with user A's pid and offset gets a fresh session.
func sameUser(old, new any) bool {
	a, ok1 := old.(*auth.Claims)
	b, ok2 := new.(*auth.Claims)
	return ok1 && ok2 && a.UserID == b.UserID
}

func (h *Hub) onConnection(s *sio.Socket) {
	claims, _ := s.Data().(*auth.Claims)
	if claims == nil || h.closing.Load() {
		s.Disconnect(true)
		return
	}
	sess := &session{
		id: s.ID(), sock: s, claims: claims, connectedAt: h.clock.Now(),
		limiter: rate.NewLimiter(rate.Limit(h.cfg.EventsPerSecond), h.cfg.eventBurst()),
	}
	s.Join(protocol.UserRoom(claims.UserID))
	// The expiry timer exists before the session is visible to shutdown
	// or a disconnect, so whoever removes the session also stops it.
	if exp := claims.ExpiresAt(); !exp.IsZero() {
		sess.expiry = h.afterFunc(exp.Sub(h.clock.Now()), func() { h.expireSession(sess) })
	}
	if old := h.sessions.add(sess); old != nil {
		old.stop()
	}
	h.refreshGauges()

	s.Use(func(e *sio.Event) bool { return h.guardEvent(sess, e) })
	s.On(protocol.EventJoinSpace, func(e *sio.Event) { h.onJoin(sess, e) })
	s.On(protocol.EventLeaveSpace, func(e *sio.Event) { h.onLeave(sess, e) })
	s.On(protocol.EventPing, func(e *sio.Event) {
		e.Ack(map[string]any{"ok": true, "timestamp": protocol.Timestamp(h.clock.Now())})
	})
	s.OnDisconnect(func(reason string) { h.drop(sess, reason) })

	h.emitTo(s, protocol.EventConnectionConfirmed, protocol.ConnectionConfirmed{
		Message: protocol.MsgConnected, UserID: claims.UserID, Role: claims.Role, SocketID: s.ID(),
		Recovered: s.Recovered(), Timestamp: protocol.Timestamp(h.clock.Now()),
	})
	h.log.Info("socket connected", "socket", s.ID(), "user", claims.UserID, "role", claims.Role,
		"transport", s.Transport(), "recovered", s.Recovered(), "remote", s.Handshake().Address)
}

// guardEvent runs before every client event: counts it and applies the
// per-socket rate limit. A dropped event gets a space_error and, if it
// asked for one, a failed ack; neither is kept for recovery.
func (h *Hub) guardEvent(sess *session, e *sio.Event) bool {
	h.metrics.EventsIn.WithLabelValues(knownEvent(e.Name)).Inc()
	if sess.limiter.Allow() {
		return true
	}
	h.metrics.RateLimited.Inc()
	h.spaceError(sess.sock, e, errRateLimited)
	return false
}

// knownEvent bounds metric label cardinality to the events we handle.
func knownEvent(name string) string {
	switch name {
	case protocol.EventJoinSpace, protocol.EventLeaveSpace, protocol.EventPing:
		return name
	}
	return "other"
}

func (h *Hub) expireSession(sess *session) {
	h.emitTo(sess.sock, protocol.EventSessionExpired, protocol.SessionExpired{
		Message: protocol.RefusalSessionExpired.Text, Code: protocol.RefusalSessionExpired.Code, Timestamp: protocol.Timestamp(h.clock.Now()),
	})
	h.log.Info("token expired, disconnecting", "socket", sess.id, "user", sess.claims.UserID)
	// The DISCONNECT tells the client not to reconnect with the dead
	// token. It is queued behind the notice on the same session, which
	// flushes its queue before it closes, so the notice arrives first.
	sess.sock.Disconnect(true)
	h.drop(sess, "token expired")
}

// drop forgets a socket; idempotent (a disconnect and an expiry may race).
func (h *Hub) drop(sess *session, reason string) {
	if !h.sessions.remove(sess) {
		return
	}
	sess.stop()
	h.metrics.Disconnects.WithLabelValues(reasonLabel(reason)).Inc()
	h.refreshGauges()
	h.log.Info("socket disconnected", "socket", sess.id, "user", sess.claims.UserID, "reason", reason,
		"connected_for", h.clock.Now().Sub(sess.connectedAt).Round(time.Millisecond))
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
	case eio.ReasonTransportClose, eio.ReasonTransportError, eio.ReasonPingTimeout, eio.ReasonParseError,
		eio.ReasonForcedClose, eio.ReasonServerClose, eio.ReasonSlowConsumer,
		"client namespace disconnect", "server namespace disconnect", "token expired":
		return r
	}
	return "other"
}

func (h *Hub) refreshGauges() {
	sockets, users, rooms := h.occupancy.counts()
	h.metrics.Sockets.Set(float64(sockets))
	h.metrics.Users.Set(float64(users))
	h.metrics.Rooms.Set(float64(rooms))
}

// Shutdown tells this node's clients the server is going away, lets the
// notice and everything queued before it reach them, then closes their
// sessions; clients see a transport close and reconnect (to this node once
// it is back, or to another). Joins in flight stop, and once it returns
// no timer of the hub runs its callback. Safe to call twice.
func (h *Hub) Shutdown(ctx context.Context) {
	h.closeOnce.Do(func() {
		h.closing.Store(true)
		// A join reading its snapshot holds its session's reader, which
		// the engine's shutdown would wait for.
		h.endLife()
		// Local: only this node is going away, not the cluster.
		_ = h.nsp.To().Local().Emit(protocol.EventServerShutdown, map[string]any{
			"message": "Server in arresto, riconnessione automatica", "timestamp": protocol.Timestamp(h.clock.Now()),
		})
		if err := h.srv.Shutdown(ctx); err != nil {
			h.log.Warn("socket shutdown incomplete", "err", err)
		}
		for _, s := range h.sessions.all() {
			h.drop(s, eio.ReasonServerClose)
		}
		h.callbacks.Close()
		h.refreshGauges()
	})
}
