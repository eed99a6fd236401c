package sio

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck/confchecktest"
)

// badConfigs are one bad value per checked field, in Validate's order.
var badConfigs = []confchecktest.Bad[Config]{
	{Set: func(c *Config) { c.ConnectTimeout = -time.Second }, Want: "ConnectTimeout must be positive, got -1s"},
	{Set: func(c *Config) { c.MaxPending = -1 }, Want: "MaxPending must be 0 or positive, got -1"},
	{Set: func(c *Config) { c.MaxPendingPerAddress = -2 }, Want: "MaxPendingPerAddress must be 0 (no bound) or positive, got -2"},
	{Set: func(c *Config) { c.Recovery.Window = -time.Second }, Want: "Recovery.Window must be 0 or positive, got -1s"},
	{Set: func(c *Config) { c.Recovery.MaxPackets = -1 }, Want: "Recovery.MaxPackets must be positive, got -1"},
	{Set: func(c *Config) { c.Recovery.MaxBytes = -1 }, Want: "Recovery.MaxBytes must be positive, got -1"},
}

// TestConfigValidate: the defaults validate, each bad value gets its own
// error, and of several bad values the first in Validate's order is
// reported, every run.
func TestConfigValidate(t *testing.T) {
	confchecktest.Check(t, badConfigs, func(c Config) error { return c.WithDefaults().Validate() })
}

func TestConfigDefaults(t *testing.T) {
	d := Config{}.WithDefaults()
	if d.ConnectTimeout != 10*time.Second || d.MaxPending != 0 || d.MaxPendingPerAddress != 0 ||
		d.Recovery != (Recovery{MaxPackets: 1000, MaxBytes: 1 << 20}) || d.Logger != slog.Default() || d.ClientAddress == nil || d.Cluster != nil {
		t.Fatalf("defaults = %+v", d)
	}
	set := Config{ConnectTimeout: time.Second, Recovery: Recovery{Window: time.Minute, MaxPackets: -1}}.WithDefaults()
	if set.ConnectTimeout != time.Second || set.Recovery != (Recovery{Window: time.Minute, MaxPackets: -1, MaxBytes: 1 << 20}) {
		t.Fatalf("set values replaced: %+v", set)
	}
}

func TestNewServerRefusesABadConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "sio: bad Config: MaxPending must be 0 or positive") {
			t.Fatalf("newServer panicked with %v", r)
		}
	}()
	newServer(Config{MaxPending: -1})
}
