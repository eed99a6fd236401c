package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseSpace(t *testing.T) {
	tests := []struct {
		in           string
		spazio, sede int64
		ok           bool
	}{
		{"3@1", 3, 1, true},
		{"12@2", 12, 2, true},
		{"3", 0, 0, false},
		{"3@", 0, 0, false},
		{"@1", 0, 0, false},
		{"0@1", 0, 0, false},
		{"3@-1", 0, 0, false},
		{"a@b", 0, 0, false},
		{"3@1@2", 0, 0, false},
	}
	for _, tt := range tests {
		sp, sd, err := parseSpace(tt.in)
		if (err == nil) != tt.ok || sp != tt.spazio || sd != tt.sede {
			t.Errorf("parseSpace(%q) = %d, %d, %v", tt.in, sp, sd, err)
		}
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("parseSpace(%q) error %v is not a usage error", tt.in, err)
		}
	}
}

func TestParseJSONArg(t *testing.T) {
	for _, ok := range []string{`{}`, `{"a":[1,2]}`, `"text"`, `42`, `null`} {
		if _, err := parseJSONArg("--data", ok); err != nil {
			t.Errorf("parseJSONArg(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{``, `text`, `{a:1}`, `{"a":1`} {
		if _, err := parseJSONArg("--data", bad); err == nil {
			t.Errorf("parseJSONArg(%q) accepted invalid JSON", bad)
		}
	}
}

// runArgs runs the real command tree with args and returns the exit code.
func runArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }, IsTerminal: func() bool { return false }}
	return Run(context.Background(), f, args), errOut.String()
}

func TestEmitUsageErrors(t *testing.T) {
	tests := [][]string{
		{"emit", "event", "x", "--token", "t"},                            // no target
		{"emit", "event", "x", "--all", "--room", "r", "--token", "t"},    // two targets
		{"emit", "event", "disconnect", "--all", "--token", "t"},          // reserved name
		{"emit", "event", "x", "--all", "--data", "{bad", "--token", "t"}, // bad JSON
		{"emit", "event", "x", "--user", "0", "--token", "t"},             // bad user
		{"emit", "hold", "--space", "2@1", "--token", "t"},                // --slot missing
		{"emit", "hold", "--space", "2@1", "--slot", "3"},                 // no credentials
		{"emit", "book", "--space", "2@1", "--slot", "3", "--date", "x", "--token", "t"},
		{"emit", "socket", "connect", "--token", "t"},                            // reserved
		{"emit", "socket", "x", "--transport", "carrier-pigeon", "--token", "t"}, // bad transport
		{"emit", "load"}, // no credentials
		{"emit", "load", "--token", "t", "--transport", "udp"},
		{"emit", "load", "--token", "t", "--max-loss", "2"},
		{"emit", "load", "--token", "t", "--server", "ftp://x"},
		{"emit", "load", "--token", "t", "--clients", "0", "--server", "http://127.0.0.1:1"},
	}
	for _, args := range tests {
		if code, stderr := runArgs(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
	}
}

func TestEmitEventUserFlagIsTheTarget(t *testing.T) {
	var got *EmitEventOptions
	cmd := NewCmdEmitEvent(&Factory{}, func(_ context.Context, o *EmitEventOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"promo", "--user", "42", "--as-user", "7", "--role", "gestore", "--data", `{"a":1}`})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Event != "promo" || got.User != 42 || got.Conn.UserID != 7 || got.Conn.Role != "gestore" || got.Data != `{"a":1}` {
		t.Fatalf("options = %+v", got)
	}
}

func TestEmitLoadFlags(t *testing.T) {
	var got *EmitLoadOptions
	cmd := NewCmdEmitLoad(&Factory{}, func(_ context.Context, o *EmitLoadOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--clients", "5000", "--connect-rate", "800", "--polling-share", "0.1", "--rooms", "8",
		"--duration", "30s", "--rate", "200", "--payload", "512", "--churn", "20", "--max-p99", "50ms", "--max-loss", "0.001", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Clients != 5000 || got.ConnectRate != 800 || got.PollingShare != 0.1 || got.Rooms != 8 || got.Duration != 30*time.Second ||
		got.Rate != 200 || got.Payload != 512 || got.Churn != 20 || got.MaxP99 != 50*time.Millisecond || got.MaxLoss != 0.001 || !got.JSON {
		t.Fatalf("options = %+v", got)
	}
	// Thresholds default to off.
	cmd = NewCmdEmitLoad(&Factory{}, func(_ context.Context, o *EmitLoadOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.MaxP99 != 0 || got.MaxLoss >= 0 || got.MaxConnectFail >= 0 {
		t.Fatalf("default thresholds = %v %v %v, want off", got.MaxP99, got.MaxLoss, got.MaxConnectFail)
	}
}
