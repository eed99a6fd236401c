package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/catalog"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store/mio"
	"github.com/spf13/cobra"
)

// ServeOptions are the flags of `coworkctl serve`.
type ServeOptions struct {
	F *Factory
	// Server holds the flags that set a server.Config field as they are,
	// over server.DefaultConfig; config adds the rest (the secret, --dev's
	// address and origins, the zone, catalog, proxies and upstream).
	Server        server.Config
	JWTSecret     string
	JWTSecretFile string
	Demo          bool
	Catalog       string
	TZ            string
	LogFormat     string
	LogLevel      string
	Dev           bool
	// AddrSet: --addr (or COWORK_ADDR) was given; without it --dev
	// listens on 127.0.0.1 only.
	AddrSet bool
	// TokenFile receives a staff token once the server listens; empty
	// writes none. PrintToken prints that token alone on stdout instead
	// of the --dev banner.
	TokenFile      string
	PrintToken     bool
	TrustedProxies string
	ServeClient    bool
	Upstream       string
}

// NewCmdServe builds `coworkctl serve`.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	// Every field starts from its default, so that Validate sees the
	// flags' values as given (a 0 typed for a positive value is refused,
	// not taken for the default) and a field without a flag is valid.
	o := &ServeOptions{F: f, Server: server.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Socket.IO slot server (REST API, hold expiry, stats, metrics)",
		Long: `Run the real-time slot server: Socket.IO on /socket.io/ (wire-compatible with the
existing socket.io-client 4 frontend), the slot REST API on /api/, /healthz,
/readyz and /metrics. State lives in SQLite by default (coworkctl.db in the
working directory) or PostgreSQL with --db postgres://…; several nodes share
PostgreSQL and Redis (--redis) to scale out.`,
		Example: `  coworkctl serve --dev                      # 127.0.0.1:3000, random secret, demo catalog, prints a staff token
  coworkctl serve --dev --token-file tok &   # a script waits for tok, then: coworkctl watch --token "$(cat tok)"
  coworkctl serve --jwt-secret "$SECRET" --demo --cors-origin https://app.example.com
  COWORK_JWT_SECRET=s3cret coworkctl serve --db postgres://app@db/cowork --redis redis://cache:6379 --catalog sedi.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.AddrSet = cmd.Flags().Changed("addr")
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runServe(cmd.Context(), o)
		},
	}
	// The flags' defaults are the config's; --max-pending and --node-id
	// default to zero for New to fill (from --max-connections, and per
	// process).
	c, rt := &o.Server, &o.Server.Realtime
	eng, sock := &rt.Engine, &rt.Socket
	fl := cmd.Flags()
	fl.StringVar(&c.Addr, "addr", c.Addr, "listen address (--dev: 127.0.0.1:3000 unless given)")
	fl.StringVar(&o.JWTSecret, "jwt-secret", "", "HS256 secret of the tokens (required unless --dev)")
	fl.StringVar(&o.JWTSecretFile, "jwt-secret-file", "", "read the JWT secret from this file")
	fl.StringVar(&c.JWTIssuer, "jwt-issuer", "", "require this iss claim")
	fl.StringVar(&c.JWTAud, "jwt-audience", "", "require this aud claim")
	fl.StringVar(&c.DB, "db", "", "database: empty for SQLite file coworkctl.db, sqlite:PATH, or postgres://…")
	fl.StringVar(&c.DBLayout, "db-layout", c.DBLayout, "tables of slot state: coworkctl (its own) or coworking-mio (the backend's Prenotazione; needs postgres:// and coworkctl db install)")
	fl.StringVar(&c.DBOwnSchema, "db-own-schema", mio.DefaultOwnSchema, "schema of coworkctl's own tables on --db-layout coworking-mio")
	fl.StringVar(&c.Redis, "redis", "", "redis://… URL to share rooms and broadcasts between nodes (off by default)")
	fl.StringVar(&c.RedisPrefix, "redis-prefix", c.RedisPrefix, "channel prefix of the Redis adapter (same default as Node's adapter)")
	fl.IntVar(&c.RedisQueue, "redis-queue", c.RedisQueue, "broadcasts kept for Redis while it does not answer; past it the oldest go and their slots' state is resent when Redis is back")
	fl.DurationVar(&c.HoldTTL, "hold-ttl", c.HoldTTL, "how long a hold lasts before it is freed")
	fl.IntVar(&c.MaxHoldsPerUser, "max-holds-per-user", slots.DefaultMaxHoldsPerUser, "active holds one user may have at once; more get 429 HOLD_LIMIT (0 = unlimited, the default)")
	fl.IntVar(&c.MaxDaysAhead, "max-days-ahead", slots.DefaultMaxDaysAhead, "refuse holds for dates more than this many days after today with 400 DATE_TOO_FAR (0 = unlimited, the default)")
	fl.StringSliceVar(&rt.CORSOrigins, "cors-origin", nil, "allowed browser origin (repeatable, or comma-separated; * allows any)")
	fl.BoolVar(&o.Demo, "demo", false, "load the demo catalog (sede 1: spazi 1-4, sede 2: spazi 5-8, 09:00-18:00)")
	fl.StringVar(&o.Catalog, "catalog", "", "load sedi and spazi from a JSON or YAML file")
	fl.StringVar(&o.TZ, "tz", "", "IANA time zone of sedi that name none (default the machine's zone)")
	fl.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.BoolVar(&o.Dev, "dev", false, "development mode: 127.0.0.1 only, random secret, demo catalog (on coworkctl's own tables), any CORS origin, prints a staff token")
	fl.StringVar(&o.TokenFile, "token-file", "", "write a staff token (user 1, admin, 12h) to this `file` once listening, for scripts; removed at exit")
	fl.BoolVar(&o.PrintToken, "print-token", false, "print that staff token alone as stdout's first line once listening (instead of the --dev banner)")
	fl.Int64Var(&eng.MaxPayload, "max-payload", eng.MaxPayload, "largest Socket.IO message in bytes")
	fl.IntVar(&rt.MaxRoomsPerSocket, "max-rooms-per-socket", rt.MaxRoomsPerSocket, "space rooms one connection may join")
	fl.Float64Var(&rt.EventsPerSecond, "max-event-rate", rt.EventsPerSecond, "client events per second per connection (bursts of twice that)")
	fl.IntVar(&rt.MaxConnections, "max-connections", rt.MaxConnections, "concurrent connected sockets on this node")
	fl.IntVar(&sock.MaxPending, "max-pending", 0, "connections that have not completed the Socket.IO CONNECT yet (default min(--max-connections, 1000))")
	fl.IntVar(&sock.MaxPendingPerAddress, "max-pending-per-ip", sock.MaxPendingPerAddress, "connections without a Socket.IO CONNECT per client address; past it the address's oldest is closed (0: no bound)")
	fl.StringVar(&o.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client address (empty: the header is ignored)")
	fl.DurationVar(&eng.StallTimeout, "stall-timeout", eng.StallTimeout, "drop a websocket whose client has read nothing for this long while messages wait for it (Linux; 0: off, the heartbeat decides)")
	fl.DurationVar(&c.StoreTimeout, "store-timeout", c.StoreTimeout, "deadline of each database operation; one that misses it answers 503 (riprova)")
	fl.DurationVar(&sock.ConnectTimeout, "connect-timeout", sock.ConnectTimeout, "close a connection that has not completed the Socket.IO CONNECT in this time")
	fl.DurationVar(&sock.Recovery.Window, "recovery-window", sock.Recovery.Window, "how long a dropped client can reconnect and get what it missed")
	fl.IntVar(&sock.Recovery.MaxPackets, "recovery-max-packets", sock.Recovery.MaxPackets, "packets kept per session for recovery; a client that missed more gets a fresh session")
	fl.IntVar(&sock.Recovery.MaxBytes, "recovery-max-bytes", sock.Recovery.MaxBytes, "bytes kept per session for recovery; a client that missed more gets a fresh session")
	fl.DurationVar(&eng.PingInterval, "ping-interval", eng.PingInterval, "Engine.IO heartbeat interval")
	fl.DurationVar(&eng.PingTimeout, "ping-timeout", eng.PingTimeout, "how long to wait for a heartbeat answer before dropping the connection")
	fl.IntVar(&eng.MaxQueuedFrames, "send-queue", eng.MaxQueuedFrames, "messages queued per connection; a client further behind is disconnected as a slow consumer")
	fl.DurationVar(&c.HTTP.Header, "http-header-timeout", c.HTTP.Header, "how long a client may take to send a request's headers")
	fl.DurationVar(&c.HTTP.Request, "http-request-timeout", c.HTTP.Request, "how long a client may take over a whole request, body included (must exceed --ping-interval)")
	fl.DurationVar(&c.HTTP.Idle, "http-idle-timeout", c.HTTP.Idle, "close keep-alive connections idle this long")
	fl.StringVar(&rt.NodeID, "node-id", "", "name of this node in stats and logs (default host-pid-random)")
	fl.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long a graceful shutdown may take")
	fl.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off by default)")
	fl.BoolVar(&o.ServeClient, "serve-client", true, "serve the socket.io-client bundle at /socket.io/socket.io.js (and .min.js, .esm.min.js, maps), as Node's socket.io does")
	fl.StringVar(&o.Upstream, "upstream", "", "URL of the existing backend: every route coworkctl does not own is proxied to it (off by default)")
	return cmd
}

// NewLogger builds the slog logger of --log-format and --log-level.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationsAsText}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, UsageErrorf("--log-format %q: want text or json", format)
}

// durationsAsText logs durations as "15m0s" rather than JSON's
// nanoseconds (900000000000), which nobody reads at a glance.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func (o *ServeOptions) config() (server.Config, error) {
	secret, err := readSecret(o.JWTSecret, o.JWTSecretFile)
	if err != nil {
		return server.Config{}, err
	}
	if secret == "" && !o.Dev {
		return server.Config{}, UsageErrorf("--jwt-secret is required (or COWORK_JWT_SECRET, --jwt-secret-file, or --dev for a throwaway one)")
	}
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return server.Config{}, fmt.Errorf("make dev secret: %w", err)
		}
		secret = hex.EncodeToString(b)
	}
	cfg := o.Server
	cfg.JWTSecret, cfg.Version, cfg.NoClientBundle = secret, VersionString(), !o.ServeClient
	if o.Dev && len(cfg.Realtime.CORSOrigins) == 0 {
		cfg.Realtime.CORSOrigins = []string{"*"}
	}
	if o.Dev && !o.AddrSet {
		// A dev server hands out an admin token: keep it off the network
		// unless asked.
		cfg.Addr = "127.0.0.1:3000"
	}
	// The values' checks come first, in Validate's fixed order.
	if err := cfg.Validate(); err != nil {
		return server.Config{}, usageError{err}
	}
	proxies, err := server.ParseTrustedProxies(o.TrustedProxies)
	if err != nil {
		return server.Config{}, UsageErrorf("--trusted-proxies %q: %v", o.TrustedProxies, err)
	}
	loc := time.Local
	if o.TZ != "" {
		if loc, err = time.LoadLocation(o.TZ); err != nil {
			return server.Config{}, UsageErrorf("--tz %q: %v", o.TZ, err)
		}
	}
	var cat []slots.Sede
	switch cfg.DBLayout {
	case server.LayoutCoworkctl:
		if o.Demo || o.Dev {
			cat = slots.DemoCatalog()
		}
	case server.LayoutCoworkingMio:
		// The catalog is the backend's Sede and Spazio, never written.
		if o.Demo || o.Catalog != "" {
			return server.Config{}, UsageErrorf("--db-layout %s reads the catalog from the backend's Sede and Spazio: drop --demo and --catalog", cfg.DBLayout)
		}
		if !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://") {
			return server.Config{}, UsageErrorf("--db-layout %s needs --db postgres://… (the backend's database)", cfg.DBLayout)
		}
	default:
		return server.Config{}, UsageErrorf("--db-layout %q: want %s or %s", cfg.DBLayout, server.LayoutCoworkctl, server.LayoutCoworkingMio)
	}
	if o.Catalog != "" {
		extra, err := catalog.Load(o.Catalog)
		if err != nil {
			return server.Config{}, usageError{err}
		}
		cat = append(cat, extra...)
	}
	var up *url.URL
	if o.Upstream != "" {
		if up, err = server.ParseUpstream(o.Upstream); err != nil {
			return server.Config{}, usageError{err}
		}
	}
	cfg.Realtime.TrustedProxies, cfg.Location, cfg.Catalog, cfg.Upstream = proxies, loc, cat, up
	return cfg, nil
}

func runServe(ctx context.Context, o *ServeOptions) error {
	log, err := NewLogger(o.F.ErrOut, o.LogFormat, o.LogLevel)
	if err != nil {
		return err
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if len(cfg.Realtime.CORSOrigins) == 0 {
		log.Warn("no --cors-origin: browsers on other origins are refused (same-origin and non-browser clients work)")
	}
	server.UseRedisLogger(log)
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	if o.Dev || o.TokenFile != "" || o.PrintToken {
		// A secret given with --dev is the developer's, not a throwaway.
		throwaway := o.JWTSecret == "" && o.JWTSecretFile == ""
		ann := announcer{w: o.F.Out, log: log, cfg: cfg, dev: o.Dev, throwaway: throwaway,
			tokenFile: o.TokenFile, printToken: o.PrintToken, catalogFile: o.Catalog, self: selfCommand()}
		annCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stop(); <-done; ann.removeTokenFile() }()
		go func() { defer close(done); ann.run(annCtx, srv.Addr()) }()
	}
	if err := srv.Run(ctx); err != nil {
		return err
	}
	return nil
}
