package server

import (
	"errors"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
)

// DefaultConfig is the zero Config with every default applied: the
// values serve's flags start from, and the ones New gives a zero field.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills the zero values of the server's own fields, and has
// the hub fill its own (the engine's and the Socket.IO layer's included).
// Each default is defined and applied by the package whose Config holds
// the field.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = ":3000"
	}
	if c.DBLayout == "" {
		c.DBLayout = LayoutCoworkctl
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = DefaultRedisPrefix
	}
	if c.RedisQueue == 0 {
		c.RedisQueue = DefaultRedisQueue
	}
	def(&c.HoldTTL, slots.DefaultHoldTTL)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	def(&c.StoreTimeout, store.DefaultTimeout)
	def(&c.HTTP.Header, DefaultHeaderTimeout)
	def(&c.HTTP.Request, DefaultRequestTimeout)
	def(&c.HTTP.Idle, DefaultIdleTimeout)
	c.Realtime = c.Realtime.WithDefaults()
	return c
}

// Validate checks c as New runs it, every value explicit (serve's flags
// start from DefaultConfig), so a zero is refused where the value must be
// positive. It checks the server's own fields, then the hub's through
// its Validate, then what ties them together, each in a fixed order, so
// that of several bad values the same one is reported every time. The
// error names the flag that sets the field, or the field's path in
// Config where no flag does.
func (c *Config) Validate() error {
	err := confcheck.First(
		confcheck.Positive("HoldTTL", c.HoldTTL),
		confcheck.NotNegative("MaxHoldsPerUser", c.MaxHoldsPerUser, "unlimited"),
		confcheck.NotNegative("MaxDaysAhead", c.MaxDaysAhead, "unlimited"),
		confcheck.Positive("StoreTimeout", c.StoreTimeout),
		confcheck.Positive("RedisQueue", c.RedisQueue),
		confcheck.Positive("HTTP.Header", c.HTTP.Header),
		confcheck.Positive("HTTP.Request", c.HTTP.Request),
		confcheck.Positive("HTTP.Idle", c.HTTP.Idle),
		confcheck.In("Realtime", c.Realtime.Validate()),
		c.requestOutlastsPoll(),
	)
	return asFlag(err)
}

// requestOutlastsPoll: net/http cancels a request at HTTP.Request, and a
// polling GET waits up to one ping interval for data.
func (c *Config) requestOutlastsPoll() error {
	if ping := c.Realtime.Engine.PingInterval; c.HTTP.Request <= ping {
		return confcheck.Errorf("HTTP.Request", "(%s) must exceed --ping-interval (%s): a polling request waits up to one interval", c.HTTP.Request, ping)
	}
	return nil
}

// flagOf names serve's flag of each field it sets.
var flagOf = map[string]string{
	"HoldTTL":                              "--hold-ttl",
	"MaxHoldsPerUser":                      "--max-holds-per-user",
	"MaxDaysAhead":                         "--max-days-ahead",
	"StoreTimeout":                         "--store-timeout",
	"RedisQueue":                           "--redis-queue",
	"HTTP.Header":                          "--http-header-timeout",
	"HTTP.Request":                         "--http-request-timeout",
	"HTTP.Idle":                            "--http-idle-timeout",
	"Realtime.MaxRoomsPerSocket":           "--max-rooms-per-socket",
	"Realtime.EventsPerSecond":             "--max-event-rate",
	"Realtime.MaxConnections":              "--max-connections",
	"Realtime.Engine.MaxPayload":           "--max-payload",
	"Realtime.Engine.PingInterval":         "--ping-interval",
	"Realtime.Engine.PingTimeout":          "--ping-timeout",
	"Realtime.Engine.MaxQueuedFrames":      "--send-queue",
	"Realtime.Engine.StallTimeout":         "--stall-timeout",
	"Realtime.Socket.ConnectTimeout":       "--connect-timeout",
	"Realtime.Socket.MaxPending":           "--max-pending",
	"Realtime.Socket.MaxPendingPerAddress": "--max-pending-per-ip",
	"Realtime.Socket.Recovery.Window":      "--recovery-window",
	"Realtime.Socket.Recovery.MaxPackets":  "--recovery-max-packets",
	"Realtime.Socket.Recovery.MaxBytes":    "--recovery-max-bytes",
}

// asFlag names the flag instead of the field, where serve has one.
func asFlag(err error) error {
	var fe *confcheck.FieldError
	if errors.As(err, &fe) {
		if flag, ok := flagOf[fe.Field]; ok {
			return &confcheck.FieldError{Field: flag, Problem: fe.Problem}
		}
	}
	return err
}
