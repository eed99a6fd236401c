package server

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/server/upstream"
)

// RealtimeConfig tunes the Socket.IO endpoint and its limits. Zero values
// take the hub's defaults (the Default constants below are the hub's, so
// that flag help shows the values the hub applies).
type RealtimeConfig struct {
	// CORSOrigins is the allow-list of browser origins; "*" allows any.
	// Empty means same-origin only (requests without Origin always pass).
	CORSOrigins []string
	// MaxPayloadBytes bounds one message (websocket frame or polling body).
	MaxPayloadBytes int64
	// MaxPollingPackets bounds the packets of one polling POST.
	MaxPollingPackets int
	// MaxRoomsPerSocket bounds the space rooms one socket may join.
	MaxRoomsPerSocket int
	// EventsPerSecond and EventBurst bound client events per socket.
	EventsPerSecond float64
	EventBurst      int
	// MaxConnections bounds connected (authenticated) sockets on this node.
	MaxConnections int
	// MaxPendingSessions bounds sessions that have not completed the
	// Socket.IO CONNECT; zero is min(MaxConnections, 1000).
	MaxPendingSessions int
	// MaxPendingPerIP bounds one client address's pending sessions; zero:
	// no bound.
	MaxPendingPerIP int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address (see ParseTrustedProxies); empty: the header is ignored.
	TrustedProxies []netip.Prefix
	// ConnectTimeout closes a session that has not completed the CONNECT.
	ConnectTimeout time.Duration
	// RecoveryWindow is how long a dropped client can come back and get
	// what it missed; RecoveryMaxPackets and RecoveryMaxBytes bound what
	// is kept for one session.
	RecoveryWindow     time.Duration
	RecoveryMaxPackets int
	RecoveryMaxBytes   int
	PingInterval       time.Duration
	PingTimeout        time.Duration
	// SendQueueFrames bounds one connection's unsent frames; a client that
	// falls further behind is disconnected.
	SendQueueFrames int
	// StallTimeout drops a websocket whose peer acknowledged nothing for
	// this long while data waited for it; zero leaves it to the heartbeat.
	StallTimeout time.Duration
	// NodeID names this node in stats and logs; "" is host-pid-random.
	NodeID string
}

// The hub's defaults, for flag help.
const (
	DefaultMaxPayloadBytes    = realtime.DefaultMaxPayloadBytes
	DefaultMaxRoomsPerSocket  = realtime.DefaultMaxRoomsPerSocket
	DefaultEventsPerSecond    = realtime.DefaultEventsPerSecond
	DefaultMaxConnections     = realtime.DefaultMaxConnections
	DefaultConnectTimeout     = realtime.DefaultConnectTimeout
	DefaultRecoveryWindow     = realtime.DefaultRecoveryWindow
	DefaultRecoveryMaxPackets = realtime.DefaultRecoveryMaxPackets
	DefaultRecoveryMaxBytes   = realtime.DefaultRecoveryMaxBytes
	DefaultPingInterval       = realtime.DefaultPingInterval
	DefaultPingTimeout        = realtime.DefaultPingTimeout
	DefaultSendQueueFrames    = realtime.DefaultSendQueueFrames
)

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or
// single addresses, e.g. "10.0.0.0/8,192.168.1.7".
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	return realtime.ParseTrustedProxies(list)
}

// ParseUpstream checks an --upstream value: an absolute http or https URL.
func ParseUpstream(raw string) (*url.URL, error) { return upstream.ParseURL(raw) }

// hub is the hub's configuration: c field for field, plus the cluster
// the server built.
func (c RealtimeConfig) hub() realtime.Config {
	return realtime.Config{
		CORSOrigins: c.CORSOrigins, MaxPayloadBytes: c.MaxPayloadBytes, MaxPollingPackets: c.MaxPollingPackets,
		MaxRoomsPerSocket: c.MaxRoomsPerSocket, EventsPerSecond: c.EventsPerSecond, EventBurst: c.EventBurst,
		MaxConnections: c.MaxConnections, MaxPendingSessions: c.MaxPendingSessions, MaxPendingPerIP: c.MaxPendingPerIP,
		TrustedProxies: c.TrustedProxies, ConnectTimeout: c.ConnectTimeout, RecoveryWindow: c.RecoveryWindow,
		RecoveryMaxPackets: c.RecoveryMaxPackets, RecoveryMaxBytes: c.RecoveryMaxBytes, PingInterval: c.PingInterval,
		PingTimeout: c.PingTimeout, SendQueueFrames: c.SendQueueFrames, StallTimeout: c.StallTimeout, NodeID: c.NodeID,
	}
}
