package server

import (
	"fmt"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
)

// Validate checks c as serve's flags give it, every value explicit (the
// flags' defaults are the ones withDefaults applies), so a zero is refused
// where the flag refuses it. The checks run in the order of serve's help
// text, so that of several bad values the same one is always reported,
// and each error names the flag.
func (c *Config) Validate() error {
	if c.HoldTTL <= 0 {
		return fmt.Errorf("--hold-ttl must be positive, got %s", c.HoldTTL)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"--max-holds-per-user", c.MaxHoldsPerUser}, {"--max-days-ahead", c.MaxDaysAhead}} {
		if f.v < 0 {
			return fmt.Errorf("%s must be 0 (unlimited) or positive, got %d", f.name, f.v)
		}
	}
	rt := &c.Realtime
	if c.HTTP.Request <= rt.PingInterval {
		return fmt.Errorf("--http-request-timeout (%s) must exceed --ping-interval (%s): a polling request waits up to one interval", c.HTTP.Request, rt.PingInterval)
	}
	if rt.MaxPayloadBytes < 1024 {
		return fmt.Errorf("--max-payload must be at least 1024 bytes, got %d", rt.MaxPayloadBytes)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"--max-rooms-per-socket", float64(rt.MaxRoomsPerSocket)}, {"--max-event-rate", rt.EventsPerSecond},
		{"--max-connections", float64(rt.MaxConnections)}, {"--connect-timeout", rt.ConnectTimeout.Seconds()}, {"--store-timeout", c.StoreTimeout.Seconds()},
		{"--recovery-max-packets", float64(rt.RecoveryMaxPackets)}, {"--recovery-max-bytes", float64(rt.RecoveryMaxBytes)},
		{"--ping-timeout", rt.PingTimeout.Seconds()}, {"--send-queue", float64(rt.SendQueueFrames)},
		{"--http-header-timeout", c.HTTP.Header.Seconds()}, {"--http-request-timeout", c.HTTP.Request.Seconds()},
		{"--http-idle-timeout", c.HTTP.Idle.Seconds()},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s must be positive, got %v", f.name, f.v)
		}
	}
	if rt.StallTimeout < 0 {
		return fmt.Errorf("--stall-timeout must be 0 (off) or positive, got %s", rt.StallTimeout)
	}
	if rt.MaxPendingPerIP < 0 {
		return fmt.Errorf("--max-pending-per-ip must be 0 (no bound) or positive, got %d", rt.MaxPendingPerIP)
	}
	return nil
}

// withDefaults fills the zero values Validate checks with the defaults of
// the packages that use them (the values are defined there, once); the
// hub and the engine fill the rest themselves.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = ":3000"
	}
	def(&c.HoldTTL, slots.DefaultHoldTTL)
	def(&c.ShutdownTimeout, 10*time.Second)
	def(&c.StoreTimeout, store.DefaultTimeout)
	def(&c.HTTP.Header, DefaultHeaderTimeout)
	def(&c.HTTP.Request, DefaultRequestTimeout)
	def(&c.HTTP.Idle, DefaultIdleTimeout)
	rt := &c.Realtime
	def(&rt.PingInterval, DefaultPingInterval)
	def(&rt.PingTimeout, DefaultPingTimeout)
	def(&rt.ConnectTimeout, DefaultConnectTimeout)
	if rt.MaxPayloadBytes == 0 {
		rt.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if rt.MaxRoomsPerSocket == 0 {
		rt.MaxRoomsPerSocket = DefaultMaxRoomsPerSocket
	}
	if rt.EventsPerSecond == 0 {
		rt.EventsPerSecond = DefaultEventsPerSecond
	}
	if rt.MaxConnections == 0 {
		rt.MaxConnections = DefaultMaxConnections
	}
	if rt.RecoveryMaxPackets == 0 {
		rt.RecoveryMaxPackets = DefaultRecoveryMaxPackets
	}
	if rt.RecoveryMaxBytes == 0 {
		rt.RecoveryMaxBytes = DefaultRecoveryMaxBytes
	}
	if rt.SendQueueFrames == 0 {
		rt.SendQueueFrames = DefaultSendQueueFrames
	}
	if rt.NodeID == "" {
		rt.NodeID = defaultNodeID()
	}
	return c
}
