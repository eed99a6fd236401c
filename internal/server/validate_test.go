package server

import (
	"strings"
	"testing"
	"time"
)

// TestValidateReportsTheFirstBadFlag: of several bad values the one
// earliest in serve's help is reported, every run, under its flag's name;
// zero values are defaults for New, not errors.
func TestValidateReportsTheFirstBadFlag(t *testing.T) {
	good := Config{JWTSecret: "s"}.withDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	bad := good
	bad.MaxDaysAhead = -1
	bad.Realtime.MaxPayloadBytes = 10
	bad.Realtime.SendQueueFrames = -1
	bad.HTTP.Idle = -time.Second
	for range 20 {
		err := bad.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "--max-days-ahead ") {
			t.Fatalf("Validate() = %v, want the --max-days-ahead error", err)
		}
	}
	bad.MaxDaysAhead = 0
	if err := bad.Validate(); err == nil || !strings.HasPrefix(err.Error(), "--max-payload ") {
		t.Fatalf("Validate() = %v, want the --max-payload error", err)
	}
	if _, err := New(Config{JWTSecret: "s", HTTP: HTTPTimeouts{Request: time.Second}, Realtime: RealtimeConfig{PingInterval: 2 * time.Second}}, nil); err == nil ||
		!strings.Contains(err.Error(), "--http-request-timeout") {
		t.Fatalf("New with a request timeout under the ping interval: %v, want the --http-request-timeout error", err)
	}
}
