package server

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"github.com/coworkctl/coworkctl/internal/store"
)

// badValues are one bad value per checked field, in the order Validate
// checks them, with the error it must give: the server's own fields, the
// hub's, the engine's, the Socket.IO layer's, then the request timeout
// against the ping interval.
var badValues = []struct {
	set  func(*Config)
	want string
}{
	{func(c *Config) { c.HoldTTL = 0 }, "--hold-ttl must be positive, got 0s"},
	{func(c *Config) { c.MaxHoldsPerUser = -1 }, "--max-holds-per-user must be 0 (unlimited) or positive, got -1"},
	{func(c *Config) { c.MaxDaysAhead = -5 }, "--max-days-ahead must be 0 (unlimited) or positive, got -5"},
	{func(c *Config) { c.StoreTimeout = -time.Second }, "--store-timeout must be positive, got -1s"},
	{func(c *Config) { c.HTTP.Header = 0 }, "--http-header-timeout must be positive, got 0s"},
	{func(c *Config) { c.HTTP.Request = -time.Second }, "--http-request-timeout must be positive, got -1s"},
	{func(c *Config) { c.HTTP.Idle = -time.Second }, "--http-idle-timeout must be positive, got -1s"},
	{func(c *Config) { c.Realtime.MaxRoomsPerSocket = 0 }, "--max-rooms-per-socket must be positive, got 0"},
	{func(c *Config) { c.Realtime.EventsPerSecond = -0.5 }, "--max-event-rate must be positive, got -0.5"},
	{func(c *Config) { c.Realtime.EventBurst = -1 }, "Realtime.EventBurst must be 0 (twice EventsPerSecond) or positive, got -1"},
	{func(c *Config) { c.Realtime.MaxConnections = 0 }, "--max-connections must be positive, got 0"},
	{func(c *Config) { c.Realtime.Engine.MaxPayload = 10 }, "--max-payload must be at least 1024 bytes, got 10"},
	{func(c *Config) { c.Realtime.Engine.PingInterval = 0 }, "--ping-interval must be positive, got 0s"},
	{func(c *Config) { c.Realtime.Engine.PingTimeout = -time.Second }, "--ping-timeout must be positive, got -1s"},
	{func(c *Config) { c.Realtime.Engine.UpgradeTimeout = -time.Second }, "Realtime.Engine.UpgradeTimeout must be positive, got -1s"},
	{func(c *Config) { c.Realtime.Engine.MaxPollingPackets = 0 }, "Realtime.Engine.MaxPollingPackets must be positive, got 0"},
	{func(c *Config) { c.Realtime.Engine.MaxQueuedFrames = 0 }, "--send-queue must be positive, got 0"},
	{func(c *Config) { c.Realtime.Engine.MaxQueuedBytes = -1 }, "Realtime.Engine.MaxQueuedBytes must be positive, got -1"},
	{func(c *Config) { c.Realtime.Engine.WriteTimeout = 0 }, "Realtime.Engine.WriteTimeout must be positive, got 0s"},
	{func(c *Config) { c.Realtime.Engine.StallTimeout = -time.Second }, "--stall-timeout must be 0 (off) or positive, got -1s"},
	{func(c *Config) { c.Realtime.Engine.Transports = []string{"carrier-pigeon"} }, `Realtime.Engine.Transports has "carrier-pigeon": want polling or websocket`},
	{func(c *Config) { c.Realtime.Socket.ConnectTimeout = 0 }, "--connect-timeout must be positive, got 0s"},
	{func(c *Config) { c.Realtime.Socket.MaxPending = -1 }, "--max-pending must be 0 or positive, got -1"},
	{func(c *Config) { c.Realtime.Socket.MaxPendingPerAddress = -1 }, "--max-pending-per-ip must be 0 (no bound) or positive, got -1"},
	{func(c *Config) { c.Realtime.Socket.Recovery.Window = -time.Minute }, "--recovery-window must be 0 or positive, got -1m0s"},
	{func(c *Config) { c.Realtime.Socket.Recovery.MaxPackets = 0 }, "--recovery-max-packets must be positive, got 0"},
	{func(c *Config) { c.Realtime.Socket.Recovery.MaxBytes = -1 }, "--recovery-max-bytes must be positive, got -1"},
	{func(c *Config) { c.HTTP.Request = 25 * time.Second },
		"--http-request-timeout (25s) must exceed --ping-interval (25s): a polling request waits up to one interval"},
}

// TestValidateNamesEachBadValue: each bad value alone gives its error,
// under its flag's name or, without a flag, its field's path.
func TestValidateNamesEachBadValue(t *testing.T) {
	if d := DefaultConfig(); d.Validate() != nil {
		t.Fatalf("the defaults do not validate: %v", d.Validate())
	}
	for _, tt := range badValues {
		t.Run(tt.want, func(t *testing.T) {
			c := DefaultConfig()
			tt.set(&c)
			if err := c.Validate(); err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestValidateReportsTheFirstBadValue: with the values from i on all bad
// at once, value i is reported, every run. A check order that varied
// between runs (a map's) or differed from the list fails here.
func TestValidateReportsTheFirstBadValue(t *testing.T) {
	for i, first := range badValues {
		c := DefaultConfig()
		// Backwards, so that of two values of one field (the request
		// timeout) the earlier entry's stays.
		for j := len(badValues) - 1; j >= i; j-- {
			badValues[j].set(&c)
		}
		for range 5 {
			if err := c.Validate(); err == nil || err.Error() != first.want {
				t.Fatalf("values %d.. bad: Validate() = %v, want %q", i, err, first.want)
			}
		}
	}
}

// TestDefaultsAppliedOnce: the zero Config's effective values, each from
// the package whose Config holds the field; applying the defaults again
// changes nothing, and set values are kept, negative ones too (for
// Validate to refuse, not to be replaced).
func TestDefaultsAppliedOnce(t *testing.T) {
	d := DefaultConfig()
	got := []any{
		d.Addr, d.DBLayout, d.RedisPrefix, d.HoldTTL, d.ShutdownTimeout, d.StoreTimeout, d.HTTP,
		d.Realtime.MaxRoomsPerSocket, d.Realtime.EventsPerSecond, d.Realtime.EventBurst, d.Realtime.MaxConnections,
		d.Realtime.Engine.PingInterval, d.Realtime.Engine.PingTimeout, d.Realtime.Engine.UpgradeTimeout,
		d.Realtime.Engine.MaxPayload, d.Realtime.Engine.MaxPollingPackets, d.Realtime.Engine.MaxQueuedFrames,
		d.Realtime.Engine.MaxQueuedBytes, d.Realtime.Engine.WriteTimeout, d.Realtime.Engine.StallTimeout, d.Realtime.Engine.Transports,
		d.Realtime.Socket.ConnectTimeout, d.Realtime.Socket.MaxPending, d.Realtime.Socket.MaxPendingPerAddress, d.Realtime.Socket.Recovery,
	}
	want := []any{
		":3000", LayoutCoworkctl, "socket.io", slots.DefaultHoldTTL, 10 * time.Second, store.DefaultTimeout, HTTPTimeouts{10 * time.Second, 60 * time.Second, 120 * time.Second},
		50, 20.0, 0, 10_000,
		25 * time.Second, 20 * time.Second, 10 * time.Second,
		int64(100_000), 1000, 4096,
		8 << 20, 10 * time.Second, time.Duration(0), []string{"polling", "websocket"},
		10 * time.Second, 1000, 0, sio.Recovery{Window: 2 * time.Minute, MaxPackets: 500, MaxBytes: 512 << 10},
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("default %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	if d.Realtime.NodeID == "" || d.Realtime.Engine.Logger == nil || d.Realtime.Socket.Logger == nil || d.Realtime.Socket.ClientAddress == nil {
		t.Errorf("node id %q, engine logger %v, socket logger %v, client address set %v: want all set",
			d.Realtime.NodeID, d.Realtime.Engine.Logger, d.Realtime.Socket.Logger, d.Realtime.Socket.ClientAddress != nil)
	}
	again := d.withDefaults()
	if again.Realtime.NodeID != d.Realtime.NodeID || again.Realtime.Engine.MaxPayload != d.Realtime.Engine.MaxPayload ||
		!reflect.DeepEqual(again.Realtime.Socket.Recovery, d.Realtime.Socket.Recovery) || again.HTTP != d.HTTP {
		t.Errorf("defaults applied twice differ: %+v then %+v", d, again)
	}
	set := Config{HoldTTL: -time.Second, Realtime: realtime.Config{
		MaxConnections: 5, Engine: eio.Config{PingInterval: -time.Second}, Socket: sio.Config{MaxPending: -3},
	}}.withDefaults()
	if set.HoldTTL != -time.Second || set.Realtime.Engine.PingInterval != -time.Second || set.Realtime.Socket.MaxPending != -3 {
		t.Errorf("set values replaced: hold ttl %s, ping interval %s, max pending %d", set.HoldTTL, set.Realtime.Engine.PingInterval, set.Realtime.Socket.MaxPending)
	}
	// A zero MaxPending follows MaxConnections when it is the smaller.
	if few := (Config{Realtime: realtime.Config{MaxConnections: 5}}).withDefaults(); few.Realtime.Socket.MaxPending != 5 {
		t.Errorf("max pending with 5 connections = %d, want 5", few.Realtime.Socket.MaxPending)
	}
}

// TestNewValidatesAfterDefaults: New fills the zero values, then refuses
// what Validate refuses, naming the flag.
func TestNewValidatesAfterDefaults(t *testing.T) {
	_, err := New(Config{JWTSecret: "s", HTTP: HTTPTimeouts{Request: time.Second}, Realtime: RealtimeConfig{Engine: eio.Config{PingInterval: 2 * time.Second}}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "--http-request-timeout (1s) must exceed --ping-interval (2s)") {
		t.Fatalf("New with a request timeout under the ping interval: %v, want the --http-request-timeout error", err)
	}
	if _, err := New(Config{JWTSecret: "s", Realtime: RealtimeConfig{Socket: sio.Config{ConnectTimeout: -time.Second}}}, nil); err == nil ||
		err.Error() != "--connect-timeout must be positive, got -1s" {
		t.Fatalf("New with a negative connect timeout: %v", err)
	}
}
