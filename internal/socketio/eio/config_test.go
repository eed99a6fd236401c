package eio

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// badConfigs are one bad value per checked field, in Validate's order.
var badConfigs = []struct {
	set  func(*Config)
	want string
}{
	{func(c *Config) { c.PingInterval = -time.Second }, "PingInterval must be positive, got -1s"},
	{func(c *Config) { c.PingTimeout = -time.Second }, "PingTimeout must be positive, got -1s"},
	{func(c *Config) { c.UpgradeTimeout = -time.Second }, "UpgradeTimeout must be positive, got -1s"},
	{func(c *Config) { c.MaxPayload = -1 }, "MaxPayload must be positive, got -1"},
	{func(c *Config) { c.MaxPollingPackets = -1 }, "MaxPollingPackets must be positive, got -1"},
	{func(c *Config) { c.MaxQueuedFrames = -1 }, "MaxQueuedFrames must be positive, got -1"},
	{func(c *Config) { c.MaxQueuedBytes = -1 }, "MaxQueuedBytes must be positive, got -1"},
	{func(c *Config) { c.WriteTimeout = -time.Second }, "WriteTimeout must be positive, got -1s"},
	{func(c *Config) { c.StallTimeout = -time.Second }, "StallTimeout must be 0 (off) or positive, got -1s"},
	{func(c *Config) { c.Transports = []string{"polling", "smoke"} }, `Transports has "smoke": want polling or websocket`},
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
	// Without the defaults, a zero is not a value.
	if err := (Config{}).Validate(); err == nil || err.Error() != "PingInterval must be positive, got 0s" {
		t.Fatalf("zero Config without defaults: %v", err)
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
	want := Config{
		PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, UpgradeTimeout: 10 * time.Second,
		MaxPayload: 1_000_000, MaxPollingPackets: 1000, MaxQueuedFrames: 4096, MaxQueuedBytes: 4 << 20,
		WriteTimeout: 10 * time.Second, Transports: []string{"polling", "websocket"}, Logger: slog.Default(),
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("defaults = %+v, want %+v", d, want)
	}
	set := Config{PingInterval: time.Second, MaxPayload: -5, Transports: []string{"websocket"}}.WithDefaults()
	if set.PingInterval != time.Second || set.MaxPayload != -5 || !reflect.DeepEqual(set.Transports, []string{"websocket"}) {
		t.Fatalf("set values replaced: %+v", set)
	}
}

func TestNewServerRefusesABadConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{PingTimeout: -time.Second, OnSession: func(*Session) Handler { return nil }}, "eio: bad Config: PingTimeout must be positive"},
		{Config{}, "eio: Config.OnSession is required"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), tt.want) {
					t.Errorf("NewServer panicked with %v, want %q", r, tt.want)
				}
			}()
			NewServer(tt.cfg)
		}()
	}
}
