package realtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// Config tunes the Socket.IO endpoint: the hub's own limits, and the
// engine's and the Socket.IO layer's configs as those packages define
// them. A zero value takes the default in brackets; WithDefaults applies
// them and Validate checks the result.
type Config struct {
	// CORSOrigins is the allow-list of browser origins; "*" allows any.
	// [empty: same-origin only; requests without Origin always pass]
	CORSOrigins []string
	// MaxRoomsPerSocket bounds the space rooms one socket may join. [50]
	MaxRoomsPerSocket int
	// EventsPerSecond and EventBurst bound client events per socket.
	// [20/s; a zero burst is twice EventsPerSecond, at least 40]
	EventsPerSecond float64
	EventBurst      int
	// MaxConnections bounds connected (authenticated) sockets on this
	// node. [10,000]
	MaxConnections int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address. [empty: the header is ignored]
	TrustedProxies []netip.Prefix
	// NodeID names this node in stats and logs. [host-pid-random]
	NodeID string
	// Clock stamps events and runs the hub's timers. [SystemClock]
	Clock Clock
	// Engine is the Engine.IO server's config: heartbeat, payload and send
	// queue bounds, stall timeout. The hub sets its AllowOrigin (from
	// CORSOrigins), AllowRequest (shutdown and MaxConnections) and Logger.
	// [eio's defaults, but MaxPayload 100 kB and MaxQueuedBytes 8 MiB]
	Engine eio.Config
	// Socket is the Socket.IO layer's config: connect timeout, pending
	// sessions, recovery, cluster. The hub sets its ClientAddress (from
	// TrustedProxies), OnPendingEvicted and Logger, and wraps its Cluster
	// (nil runs alone). A pending session is one that has not completed
	// the CONNECT; a handshake past MaxPending evicts an older one (of
	// the address holding the most) rather than being refused, so a flood
	// of clients without a token cannot lock out a client with one.
	// [sio's defaults, but MaxPending min(MaxConnections, 1000) and
	// Recovery 2m, 500 packets, 512 KiB: recovery is always on]
	Socket sio.Config
}

// Defaults of the hub's own settings, and the product's where they differ
// from the engine's.
const (
	DefaultMaxRoomsPerSocket  = 50
	DefaultEventsPerSecond    = 20
	DefaultEventBurst         = 40 // at least; see Config.EventBurst
	DefaultMaxConnections     = 10_000
	DefaultMaxPayload         = 100_000
	DefaultSendQueueBytes     = 8 << 20
	DefaultMaxPending         = 1_000 // at most; see Config.Socket
	DefaultRecoveryWindow     = 2 * time.Minute
	DefaultRecoveryMaxPackets = 500
	DefaultRecoveryMaxBytes   = 512 << 10
)

// minPayload is the smallest Engine.MaxPayload: below 1 KiB the clients'
// ordinary packets (auth, join_space with its date) stop fitting.
const minPayload = 1024

// WithDefaults returns c with its zero values replaced by the defaults,
// the engine's and the Socket.IO layer's included; the values it sets are
// kept (negative ones too, for Validate to refuse). EventBurst stays zero
// when it is: it follows EventsPerSecond, whoever sets that later.
func (c Config) WithDefaults() Config {
	if c.MaxRoomsPerSocket == 0 {
		c.MaxRoomsPerSocket = DefaultMaxRoomsPerSocket
	}
	if c.EventsPerSecond == 0 {
		c.EventsPerSecond = DefaultEventsPerSecond
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Engine.MaxPayload == 0 {
		c.Engine.MaxPayload = DefaultMaxPayload
	}
	if c.Engine.MaxQueuedBytes == 0 {
		c.Engine.MaxQueuedBytes = DefaultSendQueueBytes
	}
	if c.Socket.MaxPending == 0 {
		c.Socket.MaxPending = min(c.MaxConnections, DefaultMaxPending)
	}
	if c.Socket.Recovery.Window == 0 {
		c.Socket.Recovery.Window = DefaultRecoveryWindow
	}
	if c.Socket.Recovery.MaxPackets == 0 {
		c.Socket.Recovery.MaxPackets = DefaultRecoveryMaxPackets
	}
	if c.Socket.Recovery.MaxBytes == 0 {
		c.Socket.Recovery.MaxBytes = DefaultRecoveryMaxBytes
	}
	c.Engine = c.Engine.WithDefaults()
	c.Socket = c.Socket.WithDefaults()
	return c
}

// Validate checks the values of c once the defaults are applied (call it
// on c.WithDefaults()): the hub's own first, then the engine's and the
// Socket.IO layer's through their own Validate, each in a fixed order, so
// that of several bad values the same one is reported. Its
// *confcheck.FieldError names the field ("Engine.PingTimeout").
func (c Config) Validate() error {
	return confcheck.First(
		confcheck.Positive("MaxRoomsPerSocket", c.MaxRoomsPerSocket),
		confcheck.Positive("EventsPerSecond", c.EventsPerSecond),
		confcheck.NotNegative("EventBurst", c.EventBurst, "twice EventsPerSecond"),
		confcheck.Positive("MaxConnections", c.MaxConnections),
		confcheck.AtLeast("Engine.MaxPayload", c.Engine.MaxPayload, minPayload, "bytes"),
		confcheck.In("Engine", c.Engine.Validate()),
		confcheck.In("Socket", c.Socket.Validate()),
	)
}

// eventBurst is EventBurst, or its default when zero.
func (c *Config) eventBurst() int {
	if c.EventBurst > 0 {
		return c.EventBurst
	}
	return max(DefaultEventBurst, int(c.EventsPerSecond*2))
}

func defaultNodeID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
