// Package server wires coworkctl serve: the store, the slot service and
// its expiry sweeper, the Socket.IO hub, the REST API and operations
// endpoints, and a graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/clientbundle"
	"github.com/coworkctl/coworkctl/internal/server/cors"
	"github.com/coworkctl/coworkctl/internal/server/httpapi"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/server/upstream"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Config is everything serve needs. Zero values take documented defaults.
type Config struct {
	// Addr is the listen address; default ":3000".
	Addr string
	// DB is the store DSN; "" is a SQLite file coworkctl.db in the working directory.
	DB string
	// DBLayout is the tables slot state lives in: LayoutCoworkctl ("" too)
	// or LayoutCoworkingMio, the backend's own (DB must be PostgreSQL).
	DBLayout string
	// DBOwnSchema names coworkctl's schema on LayoutCoworkingMio; "" is
	// "coworkctl".
	DBOwnSchema string
	// Redis is a redis:// URL enabling the cluster adapter; "" runs alone.
	Redis string
	// RedisPrefix namespaces the adapter's channels; "" is
	// DefaultRedisPrefix, the Node adapter's default.
	RedisPrefix string
	// RedisQueue bounds the broadcasts waiting for Redis during an outage;
	// zero is DefaultRedisQueue. Past it the oldest are dropped and their
	// slots' current state is sent to the other nodes when Redis is back.
	RedisQueue int
	JWTSecret  string
	JWTIssuer  string
	JWTAud     string
	HoldTTL    time.Duration
	// MaxHoldsPerUser caps one user's active holds (--max-holds-per-user);
	// zero means no cap. Negative is an error.
	MaxHoldsPerUser int
	// MaxDaysAhead refuses holds on dates more than this many days after
	// today in the sede's zone (--max-days-ahead); zero means no limit.
	// Negative is an error.
	MaxDaysAhead int
	// Location is the zone of sedi that name none; nil is time.Local.
	Location *time.Location
	// Catalog is upserted at start; nil leaves the stored catalog as is.
	Catalog []slots.Sede
	// Realtime tunes the Socket.IO endpoint and its limits.
	Realtime RealtimeConfig
	// ShutdownTimeout bounds the graceful shutdown; zero is
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Version is reported by stats.
	Version string
	// DebugAddr, when set, serves net/http/pprof on its own listener (keep
	// it on loopback); "" serves no profiles.
	DebugAddr string
	// HTTP bounds how long a client may take over a request and how long an
	// idle keep-alive connection stays open.
	HTTP HTTPTimeouts
	// NoClientBundle stops serving /socket.io/socket.io.js and the other
	// socket.io-client files (--serve-client=false); the zero value serves
	// them, as Node's socket.io does.
	NoClientBundle bool
	// Upstream, when set, is the existing backend that every route serve
	// does not own is proxied to (--upstream); nil proxies nothing.
	Upstream *url.URL
	// StoreTimeout bounds each store operation (--store-timeout); one that
	// misses it answers 503. Zero is store.DefaultTimeout.
	StoreTimeout time.Duration
}

// readyTimeout bounds each check of /readyz: a load balancer polls it
// often and must hear "no" quickly.
const readyTimeout = time.Second

// HTTPTimeouts bound slow and idle HTTP clients. Zero values take the
// defaults below. Websockets are not affected once upgraded.
type HTTPTimeouts struct {
	// Header bounds reading a request's headers.
	Header time.Duration
	// Request bounds reading a whole request, body included. It must exceed
	// the ping interval: a polling GET waits up to that long for data.
	Request time.Duration
	// Idle closes a keep-alive connection with no request for this long.
	Idle time.Duration
}

// HTTP timeout defaults.
const (
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultIdleTimeout    = 120 * time.Second
)

// DefaultShutdownTimeout is Config.ShutdownTimeout's default.
const DefaultShutdownTimeout = 10 * time.Second

// Server is one coworkctl serve node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry
	started  time.Time
	addr     chan string

	mu       sync.Mutex
	draining bool
}

// New applies the defaults to cfg's zero values, validates it and
// returns a server ready to Run.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.JWTSecret == "" {
		return nil, errors.New("a JWT secret is required (--jwt-secret, COWORK_JWT_SECRET or --dev)")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Redis != "" {
		// Several nodes log to one place: say which one speaks.
		log = log.With("node", cfg.Realtime.NodeID)
	}
	return &Server{cfg: cfg, log: log, registry: prometheus.NewRegistry(), started: time.Now(), addr: make(chan string, 1)}, nil
}

// Addr returns the bound address once Run is listening.
func (s *Server) Addr() <-chan string { return s.addr }

// Run serves until ctx is cancelled, then shuts down gracefully: stop
// accepting, tell clients, finish in-flight requests, stop the sweepers,
// close the store. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) (err error) {
	openCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	raw, err := openStore(openCtx, s.cfg, s.registry, s.log)
	cancel()
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	st := store.WithTimeout(raw, s.cfg.StoreTimeout)
	defer func() {
		if cerr := raw.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
		s.log.Info("store closed")
	}()
	if s.cfg.Catalog != nil {
		if err := st.UpsertCatalog(ctx, s.cfg.Catalog); err != nil {
			return fmt.Errorf("load catalog: %w", err)
		}
	}
	cat, err := st.Catalog(ctx)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	if len(cat) == 0 {
		s.log.Warn("the catalog is empty: start with --demo or --catalog FILE to offer spaces")
	}

	verifier, err := auth.NewVerifier(auth.Config{Secret: []byte(s.cfg.JWTSecret), Issuer: s.cfg.JWTIssuer, Audience: s.cfg.JWTAud})
	if err != nil {
		return err
	}
	m := metrics.New(s.registry)

	var cluster *redisCluster
	if s.cfg.Redis != "" {
		cluster, err = newRedisCluster(ctx, s.cfg.Redis, s.cfg.RedisPrefix, s.cfg.RedisQueue, s.log)
		if err != nil {
			return err
		}
		defer cluster.Close()
		metrics.ClusterBacklog(s.registry,
			func() float64 { return float64(cluster.adapter.Backlog().Waiting) },
			func() float64 { return float64(cluster.adapter.Backlog().Delayed) },
			func() float64 { return float64(cluster.adapter.Backlog().Dropped) })
	}

	hubCfg := s.cfg.Realtime
	if cluster != nil {
		hubCfg.Socket.Cluster = cluster.adapter
	}
	hub := realtime.New(hubCfg, verifier, m, s.log)
	svc := slots.NewService(st, hub, slots.SystemClock{}, slots.Config{
		HoldTTL: s.cfg.HoldTTL, Location: s.cfg.Location, SweepCap: sweepCap(s.cfg, cluster != nil),
		MaxHoldsPerUser: s.cfg.MaxHoldsPerUser, MaxDaysAhead: s.cfg.MaxDaysAhead,
	}, s.log)
	hub.UseSpaces(svc)
	stats := &statsSource{hub: hub, store: st, cluster: cluster, version: s.cfg.Version, clock: svc}

	policy := cors.Policy{Origins: s.cfg.Realtime.CORSOrigins}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", socketIOHandler(hub.Handler(), s.cfg.NoClientBundle, policy))
	var proxy http.Handler
	if s.cfg.Upstream != nil {
		proxy = upstream.New(s.cfg.Upstream, policy, s.log)
	}
	httpapi.Routes(mux, httpapi.Deps{
		Slots:    svc,
		Verifier: verifier,
		Catalog:  st.Catalog,
		Stats:    stats.Stats,
		Emit: func(ctx context.Context, t realtime.Target, event string, data any) (int, bool, error) {
			if cluster != nil {
				// Count across nodes first; the emit itself reaches them all.
				if n, err := hub.ClusterMembers(ctx, t.RoomName(), clusterReadTimeout); err == nil {
					_, err := hub.Emit(ctx, t, event, data)
					return n, true, err
				}
			}
			n, err := hub.Emit(ctx, t, event, data)
			return n, cluster == nil, err
		},
		Ready: func(ctx context.Context) error {
			if s.isDraining() {
				return errors.New("shutting down")
			}
			var errs []error
			if err := st.Ready(ctx, readyTimeout); err != nil {
				errs = append(errs, fmt.Errorf("database: %w", err))
			}
			if cluster != nil {
				rctx, cancel := context.WithTimeout(ctx, readyTimeout)
				defer cancel()
				if err := cluster.Ready(rctx); err != nil {
					errs = append(errs, fmt.Errorf("redis: %w", err))
				}
			}
			return errors.Join(errs...)
		},
		Metrics:  m,
		Gatherer: s.registry,
		CORS:     policy,
		Upstream: proxy,
		Log:      s.log,
	})

	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	// The read deadline covers a request from its first byte to the end of
	// its body and to the end of a long-poll (net/http cancels the request
	// when it passes); upgraded websockets are not affected (a hijacked
	// connection loses its deadlines).
	httpSrv := &http.Server{
		Handler: mux, ReadHeaderTimeout: s.cfg.HTTP.Header, ReadTimeout: s.cfg.HTTP.Request, IdleTimeout: s.cfg.HTTP.Idle,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("coworkctl serving", "url", URLFor(ln.Addr()), "socket_io", URLFor(ln.Addr())+"/socket.io/",
		"db", st.String(), "redis", s.cfg.Redis != "", "hold_ttl", s.cfg.HoldTTL,
		"max_holds_per_user", s.cfg.MaxHoldsPerUser, "max_days_ahead", s.cfg.MaxDaysAhead, "node", s.cfg.Realtime.NodeID, "sedi", len(cat),
		"client_bundle", !s.cfg.NoClientBundle, "upstream", upstreamString(s.cfg.Upstream))
	s.addr <- ln.Addr().String()

	g, gctx := errgroup.WithContext(ctx)
	if s.cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", s.cfg.DebugAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on --debug-addr %s: %w", s.cfg.DebugAddr, err)
		}
		debugSrv := &http.Server{Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second}
		s.log.Info("profiling endpoint", "url", URLFor(dln.Addr())+"/debug/pprof/")
		g.Go(func() error {
			if err := debugSrv.Serve(dln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("debug server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			return debugSrv.Close()
		})
	}
	g.Go(func() error {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return svc.RunSweeper(gctx) })
	g.Go(func() error { return svc.RunFeed(gctx) })
	g.Go(func() error { return hub.Run(gctx) })
	if cluster != nil {
		g.Go(func() error { return cluster.RunHeartbeat(gctx, hub) })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("shutting down", "reason", context.Cause(gctx))
		s.setDraining()
		// Tell clients first and close their sessions, so open long-polls
		// return and Shutdown below does not wait for them.
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		hub.Shutdown(sctx)
		if err := httpSrv.Shutdown(sctx); err != nil {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	err = g.Wait()
	s.log.Info("server stopped", "uptime", time.Since(s.started).Round(time.Second))
	return err
}

// socketIOHandler serves /socket.io/: the client bundle's files (unless
// off) and the Engine.IO endpoint for everything else.
func socketIOHandler(engine http.Handler, noBundle bool, policy cors.Policy) http.Handler {
	if noBundle {
		return engine
	}
	bundle := clientbundle.New("/socket.io/", policy.Apply)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bundle.Match(r) {
			bundle.ServeHTTP(w, r)
			return
		}
		engine.ServeHTTP(w, r)
	})
}

// upstreamString is the --upstream URL for the log, without credentials.
func upstreamString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}

// debugMux serves the runtime profiles.
func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func (s *Server) setDraining() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// URLFor turns a listen address into a URL a person can open.
func URLFor(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// statsSource builds GET /api/stats.
type statsSource struct {
	hub     *realtime.Hub
	store   slots.Store
	cluster *redisCluster
	version string
	clock   interface{ Now() time.Time }
}

func (s *statsSource) Stats(ctx context.Context) (protocol.Stats, error) {
	local := s.hub.Stats()
	holds, err := s.store.CountActiveHolds(ctx, s.clock.Now())
	if err != nil {
		return protocol.Stats{}, fmt.Errorf("count holds: %w", err)
	}
	out := protocol.Stats{
		Success: true, ConnectedUsers: len(local.Users), TotalSockets: local.Sockets,
		Rooms: realtime.RoomList(local.Rooms), UptimeSeconds: int64(local.Uptime.Seconds()), NodeID: local.NodeID,
		Nodes:       []protocol.NodeStats{{NodeID: local.NodeID, Sockets: local.Sockets, UptimeSeconds: int64(local.Uptime.Seconds())}},
		ActiveHolds: holds, Version: s.version, Timestamp: protocol.Timestamp(time.Now()),
	}
	if s.cluster != nil {
		out.RedisEnabled = true
		out.RedisConnected = s.cluster.Healthy() == nil
		out.Cluster = protocol.ClusterIncomplete
		if out.RedisConnected && s.cluster.Merge(ctx, s.hub, &out) {
			out.Cluster = protocol.ClusterComplete
		}
	}
	return out, nil
}
