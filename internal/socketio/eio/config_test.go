package eio

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/confcheck/confchecktest"
)

// badConfigs are one bad value per checked field, in Validate's order.
var badConfigs = []confchecktest.Bad[Config]{
	{Set: func(c *Config) { c.PingInterval = -time.Second }, Want: "PingInterval must be positive, got -1s"},
	{Set: func(c *Config) { c.PingTimeout = -time.Second }, Want: "PingTimeout must be positive, got -1s"},
	{Set: func(c *Config) { c.UpgradeTimeout = -time.Second }, Want: "UpgradeTimeout must be positive, got -1s"},
	{Set: func(c *Config) { c.MaxPayload = -1 }, Want: "MaxPayload must be positive, got -1"},
	{Set: func(c *Config) { c.MaxPollingPackets = -1 }, Want: "MaxPollingPackets must be positive, got -1"},
	{Set: func(c *Config) { c.MaxQueuedFrames = -1 }, Want: "MaxQueuedFrames must be positive, got -1"},
	{Set: func(c *Config) { c.MaxQueuedBytes = -1 }, Want: "MaxQueuedBytes must be positive, got -1"},
	{Set: func(c *Config) { c.WriteTimeout = -time.Second }, Want: "WriteTimeout must be positive, got -1s"},
	{Set: func(c *Config) { c.StallTimeout = -time.Second }, Want: "StallTimeout must be 0 (off) or positive, got -1s"},
	{Set: func(c *Config) { c.Transports = []string{"polling", "smoke"} }, Want: `Transports has "smoke": want polling or websocket`},
}

// TestConfigValidate: the defaults validate, each bad value gets its own
// error, and of several bad values the first in Validate's order is
// reported, every run.
func TestConfigValidate(t *testing.T) {
	confchecktest.Check(t, badConfigs, func(c Config) error { return c.WithDefaults().Validate() })
	// Without the defaults, a zero is not a value.
	if err := (Config{}).Validate(); err == nil || err.Error() != "PingInterval must be positive, got 0s" {
		t.Fatalf("zero Config without defaults: %v", err)
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
