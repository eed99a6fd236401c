package realtime

import (
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck/confchecktest"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// badConfigs are one bad value per checked field, in Validate's order:
// the hub's own, then the engine's and the Socket.IO layer's under their
// field's name.
var badConfigs = []confchecktest.Bad[Config]{
	{Set: func(c *Config) { c.MaxRoomsPerSocket = -1 }, Want: "MaxRoomsPerSocket must be positive, got -1"},
	{Set: func(c *Config) { c.EventsPerSecond = -1 }, Want: "EventsPerSecond must be positive, got -1"},
	{Set: func(c *Config) { c.EventBurst = -1 }, Want: "EventBurst must be 0 (twice EventsPerSecond) or positive, got -1"},
	{Set: func(c *Config) { c.MaxConnections = -1 }, Want: "MaxConnections must be positive, got -1"},
	{Set: func(c *Config) { c.Engine.MaxPayload = 1023 }, Want: "Engine.MaxPayload must be at least 1024 bytes, got 1023"},
	{Set: func(c *Config) { c.Engine.PingInterval = -time.Second }, Want: "Engine.PingInterval must be positive, got -1s"},
	{Set: func(c *Config) { c.Engine.StallTimeout = -time.Second }, Want: "Engine.StallTimeout must be 0 (off) or positive, got -1s"},
	{Set: func(c *Config) { c.Socket.ConnectTimeout = -time.Second }, Want: "Socket.ConnectTimeout must be positive, got -1s"},
	{Set: func(c *Config) { c.Socket.Recovery.MaxBytes = -1 }, Want: "Socket.Recovery.MaxBytes must be positive, got -1"},
}

// TestConfigValidate: the defaults validate, each bad value gets its own
// error, and of several bad values the first in Validate's order is
// reported, every run.
func TestConfigValidate(t *testing.T) {
	confchecktest.Check(t, badConfigs, func(c Config) error { return c.WithDefaults().Validate() })
}

// TestConfigDefaults: the product's defaults where they differ from the
// engine's, the engine's and the Socket.IO layer's elsewhere; set values
// are kept.
func TestConfigDefaults(t *testing.T) {
	d := Config{}.WithDefaults()
	eng, sock := (eio.Config{}).WithDefaults(), (sio.Config{}).WithDefaults()
	if d.MaxRoomsPerSocket != 50 || d.EventsPerSecond != 20 || d.EventBurst != 0 || d.MaxConnections != 10_000 || d.NodeID == "" {
		t.Errorf("hub defaults: %d rooms, %v events/s, burst %d, %d connections, node %q", d.MaxRoomsPerSocket, d.EventsPerSecond, d.EventBurst, d.MaxConnections, d.NodeID)
	}
	if d.Engine.MaxPayload != 100_000 || d.Engine.MaxQueuedBytes != 8<<20 {
		t.Errorf("product's engine defaults: payload %d, queued bytes %d", d.Engine.MaxPayload, d.Engine.MaxQueuedBytes)
	}
	if d.Engine.PingInterval != eng.PingInterval || d.Engine.PingTimeout != eng.PingTimeout || d.Engine.MaxQueuedFrames != eng.MaxQueuedFrames ||
		d.Engine.MaxPollingPackets != eng.MaxPollingPackets || d.Engine.WriteTimeout != eng.WriteTimeout || d.Engine.UpgradeTimeout != eng.UpgradeTimeout {
		t.Errorf("engine defaults not the engine's: %+v", d.Engine)
	}
	if d.Socket.MaxPending != 1000 || d.Socket.Recovery != (sio.Recovery{Window: 2 * time.Minute, MaxPackets: 500, MaxBytes: 512 << 10}) {
		t.Errorf("product's socket defaults: pending %d, recovery %+v", d.Socket.MaxPending, d.Socket.Recovery)
	}
	if d.Socket.ConnectTimeout != sock.ConnectTimeout {
		t.Errorf("connect timeout %s, want the Socket.IO layer's %s", d.Socket.ConnectTimeout, sock.ConnectTimeout)
	}
	if few := (Config{MaxConnections: 7}).WithDefaults(); few.Socket.MaxPending != 7 {
		t.Errorf("pending bound with 7 connections = %d, want 7", few.Socket.MaxPending)
	}
	set := Config{NodeID: "n1", EventBurst: 3, Engine: eio.Config{MaxPayload: 2048}, Socket: sio.Config{MaxPending: 9}}.WithDefaults()
	if set.NodeID != "n1" || set.EventBurst != 3 || set.Engine.MaxPayload != 2048 || set.Socket.MaxPending != 9 {
		t.Errorf("set values replaced: %+v", set)
	}
}

func TestEventBurstFollowsTheRate(t *testing.T) {
	for _, tt := range []struct {
		rate  float64
		burst int
		want  int
	}{
		{20, 0, 40}, {5, 0, 40}, {100, 0, 200}, {100, 7, 7},
	} {
		c := Config{EventsPerSecond: tt.rate, EventBurst: tt.burst}
		if got := c.eventBurst(); got != tt.want {
			t.Errorf("burst at %v/s with EventBurst %d = %d, want %d", tt.rate, tt.burst, got, tt.want)
		}
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "realtime: bad Config: Engine.MaxPayload must be at least 1024 bytes") {
			t.Fatalf("New panicked with %v", r)
		}
	}()
	New(Config{Engine: eio.Config{MaxPayload: 100}}, nil, nil, nil)
}
