package sio

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// badConfigs are one bad value per checked field, in Validate's order.
var badConfigs = []struct {
	set  func(*Config)
	want string
}{
	{func(c *Config) { c.ConnectTimeout = -time.Second }, "ConnectTimeout must be positive, got -1s"},
	{func(c *Config) { c.MaxPending = -1 }, "MaxPending must be 0 or positive, got -1"},
	{func(c *Config) { c.MaxPendingPerAddress = -2 }, "MaxPendingPerAddress must be 0 (no bound) or positive, got -2"},
	{func(c *Config) { c.Recovery.Window = -time.Second }, "Recovery.Window must be 0 or positive, got -1s"},
	{func(c *Config) { c.Recovery.MaxPackets = -1 }, "Recovery.MaxPackets must be positive, got -1"},
	{func(c *Config) { c.Recovery.MaxBytes = -1 }, "Recovery.MaxBytes must be positive, got -1"},
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	for _, tt := range badConfigs {
		t.Run(tt.want, func(t *testing.T) {
			c := Config{}
			tt.set(&c)
			if err := c.WithDefaults().Validate(); err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConfigValidateOrder: with the values from i on all bad, value i is
// reported, every run.
func TestConfigValidateOrder(t *testing.T) {
	for i, first := range badConfigs {
		var c Config
		for _, b := range badConfigs[i:] {
			b.set(&c)
		}
		for range 5 {
			if err := c.WithDefaults().Validate(); err == nil || err.Error() != first.want {
				t.Fatalf("values %d.. bad: Validate() = %v, want %q", i, err, first.want)
			}
		}
	}
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
