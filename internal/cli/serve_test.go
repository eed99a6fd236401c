package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/store/mio"
	"github.com/coworkctl/coworkctl/internal/testkit"
	"github.com/spf13/cobra"
)

func testFactory(env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &Factory{In: strings.NewReader(""), Out: out, ErrOut: errOut,
		Getenv: func(k string) string { return env[k] }, IsTerminal: func() bool { return false }}, out, errOut
}

func TestServeFlagsEnvFallback(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, o *ServeOptions)
	}{
		{"defaults", nil, nil, func(t *testing.T, o *ServeOptions) {
			if o.Server.Addr != ":3000" || o.Server.HoldTTL != 15*time.Minute || o.Server.DB != "" || o.Server.Redis != "" || o.LogFormat != "text" {
				t.Errorf("defaults: %+v", o)
			}
			// Off: the original page holds a whole selection at once and
			// offers dates a year ahead.
			if o.Server.MaxHoldsPerUser != 0 || o.Server.MaxDaysAhead != 0 {
				t.Errorf("fair-use defaults: %d holds per user, %d days ahead; want 0 and 0 (off)", o.Server.MaxHoldsPerUser, o.Server.MaxDaysAhead)
			}
		}},
		{"env fills", map[string]string{"COWORK_ADDR": "127.0.0.1:4000", "COWORK_JWT_SECRET": "s", "COWORK_HOLD_TTL": "2m",
			"COWORK_CORS_ORIGIN": "https://a.example,https://b.example", "COWORK_DEMO": "true", "COWORK_MAX_CONNECTIONS": "7"}, nil,
			func(t *testing.T, o *ServeOptions) {
				if o.Server.Addr != "127.0.0.1:4000" || o.JWTSecret != "s" || o.Server.HoldTTL != 2*time.Minute || !o.Demo || o.Server.Realtime.MaxConnections != 7 {
					t.Errorf("env not applied: %+v", o)
				}
				if len(o.Server.Realtime.CORSOrigins) != 2 || o.Server.Realtime.CORSOrigins[1] != "https://b.example" {
					t.Errorf("cors origins = %v", o.Server.Realtime.CORSOrigins)
				}
			}},
		{"redis queue", map[string]string{"COWORK_REDIS_QUEUE": "500"}, []string{"--jwt-secret", "s"}, func(t *testing.T, o *ServeOptions) {
			cfg, err := o.config()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RedisQueue != 500 {
				t.Errorf("RedisQueue = %d, want COWORK_REDIS_QUEUE's 500", cfg.RedisQueue)
			}
		}},
		{"flag wins", map[string]string{"COWORK_ADDR": "127.0.0.1:4000"}, []string{"--addr", ":5000"}, func(t *testing.T, o *ServeOptions) {
			if o.Server.Addr != ":5000" {
				t.Errorf("addr = %q, want the flag's :5000", o.Server.Addr)
			}
		}},
		{"fair use from env", map[string]string{"COWORK_MAX_HOLDS_PER_USER": "0", "COWORK_MAX_DAYS_AHEAD": "30"}, nil, func(t *testing.T, o *ServeOptions) {
			if o.Server.MaxHoldsPerUser != 0 || o.Server.MaxDaysAhead != 30 {
				t.Errorf("env not applied: %d holds per user, %d days ahead; want 0 and 30", o.Server.MaxHoldsPerUser, o.Server.MaxDaysAhead)
			}
		}},
		{"config from the defaults", nil, []string{"--jwt-secret", "s"}, func(t *testing.T, o *ServeOptions) {
			cfg, err := o.config()
			if err != nil {
				t.Fatal(err)
			}
			// The flags' defaults are New's: the same config but for what
			// serve sets itself and what New fills per process.
			want := server.DefaultConfig()
			want.JWTSecret, want.Version = "s", VersionString()
			want.DBOwnSchema, want.Location = mio.DefaultOwnSchema, time.Local
			want.Realtime.NodeID, want.Realtime.Socket.MaxPending = "", 0
			got, wantStr := fmt.Sprintf("%+v", cfg), fmt.Sprintf("%+v", want)
			if got != wantStr {
				t.Errorf("serve's config from its defaults:\n%s\nwant\n%s", got, wantStr)
			}
		}},
		{"fair use flags win", map[string]string{"COWORK_MAX_HOLDS_PER_USER": "9"}, []string{"--jwt-secret", "s", "--max-holds-per-user", "2", "--max-days-ahead", "7"}, func(t *testing.T, o *ServeOptions) {
			if o.Server.MaxHoldsPerUser != 2 || o.Server.MaxDaysAhead != 7 {
				t.Errorf("flags: %d holds per user, %d days ahead; want 2 and 7", o.Server.MaxHoldsPerUser, o.Server.MaxDaysAhead)
			}
			cfg, err := o.config()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxHoldsPerUser != 2 || cfg.MaxDaysAhead != 7 {
				t.Errorf("server config: %d holds per user, %d days ahead; want 2 and 7", cfg.MaxHoldsPerUser, cfg.MaxDaysAhead)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := testFactory(tt.env)
			var got *ServeOptions
			cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
			root := NewCmdRoot(f)
			root.RemoveCommand(findCmd(root, "serve"))
			root.AddCommand(cmd)
			root.SetArgs(append([]string{"serve"}, tt.args...))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		stderr  string
		timeout time.Duration
	}{
		{"unknown flag", nil, []string{"serve", "--nope"}, ExitUsage, "unknown flag", 0},
		{"unknown command", nil, []string{"frobnicate"}, ExitUsage, "unknown command", 0},
		{"serve without secret", nil, []string{"serve"}, ExitUsage, "--jwt-secret is required", 0},
		{"bad env value", map[string]string{"COWORK_HOLD_TTL": "soon"}, []string{"serve"}, ExitUsage, "COWORK_HOLD_TTL", 0},
		{"bad log format", nil, []string{"serve", "--dev", "--log-format", "xml"}, ExitUsage, "--log-format", 0},
		{"bad tz", nil, []string{"serve", "--dev", "--tz", "Mars/Olympus"}, ExitUsage, "--tz", 0},
		{"negative hold ttl", nil, []string{"serve", "--dev", "--hold-ttl", "-1s"}, ExitUsage, "--hold-ttl", 0},
		{"negative max holds", nil, []string{"serve", "--dev", "--max-holds-per-user", "-1"}, ExitUsage, "--max-holds-per-user must be 0 (unlimited) or positive", 0},
		{"negative max days", map[string]string{"COWORK_MAX_DAYS_AHEAD": "-5"}, []string{"serve", "--dev"}, ExitUsage, "--max-days-ahead must be 0 (unlimited) or positive", 0},
		{"zero send queue", nil, []string{"serve", "--dev", "--send-queue", "0"}, ExitUsage, "--send-queue must be positive, got 0", 0},
		{"negative ping timeout", nil, []string{"serve", "--dev", "--ping-timeout", "-1s"}, ExitUsage, "--ping-timeout must be positive, got -1s", 0},
		{"negative max pending", map[string]string{"COWORK_MAX_PENDING": "-1"}, []string{"serve", "--dev"}, ExitUsage, "--max-pending must be 0 or positive, got -1", 0},
		{"small max payload", nil, []string{"serve", "--dev", "--max-payload", "10"}, ExitUsage, "--max-payload must be at least 1024 bytes, got 10", 0},
		{"request timeout under ping interval", nil, []string{"serve", "--dev", "--ping-interval", "90s"}, ExitUsage, "--http-request-timeout (1m0s) must exceed --ping-interval (1m30s)", 0},
		{"bad max holds env", map[string]string{"COWORK_MAX_HOLDS_PER_USER": "many"}, []string{"serve", "--dev"}, ExitUsage, "COWORK_MAX_HOLDS_PER_USER", 0},
		{"missing catalog", nil, []string{"serve", "--dev", "--catalog", "/nonexistent/sedi.yaml"}, ExitUsage, "read catalog", 0},
		{"unreachable postgres", nil, []string{"serve", "--jwt-secret", "s", "--addr", "127.0.0.1:0", "--db", "postgres://app@127.0.0.1:1/cowork?connect_timeout=2"}, ExitError, "open database", 0},
		{"bad db scheme", nil, []string{"serve", "--jwt-secret", "s", "--addr", "127.0.0.1:0", "--db", "mysql://x"}, ExitError, "unsupported database scheme", 0},
		{"token without secret", nil, []string{"token"}, ExitUsage, "--jwt-secret", 0},
		{"token bad role", nil, []string{"token", "--jwt-secret", "s", "--role", "root"}, ExitUsage, "unknown role", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory(tt.env)
			code := Run(context.Background(), f, tt.args)
			if code != tt.code {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("stderr = %q, want it to mention %q", errOut.String(), tt.stderr)
			}
			if strings.Contains(errOut.String(), "goroutine ") {
				t.Fatalf("stderr has a stack trace: %q", errOut.String())
			}
		})
	}
}

func TestTokenCommandMintsVerifiableToken(t *testing.T) {
	f, out, _ := testFactory(map[string]string{"COWORK_JWT_SECRET": "env-secret"})
	if code := Run(context.Background(), f, []string{"token", "--user", "42", "--role", "gestore", "--ttl", "2h"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	v, _ := auth.NewVerifier(auth.Config{Secret: []byte("env-secret")})
	c, err := v.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.UserID != 42 || c.Role != "gestore" || time.Until(c.ExpiresAt()) < 119*time.Minute {
		t.Fatalf("claims = %+v exp in %v", c, time.Until(c.ExpiresAt()))
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeRunsAndStopsCleanly(t *testing.T) {
	f, _, _ := testFactory(nil)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	f.Out, f.ErrOut = out, errOut
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, f, []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--db", "sqlite:" + t.TempDir() + "/dev.db"})
	}()
	testkit.Eventually(t, 15*time.Second, "the startup line", func() bool { return strings.Contains(errOut.String(), "coworkctl serving") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code after cancel = %d, want 0; stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "staff token:") || !strings.Contains(out.String(), "(demo catalog, throwaway secret)") {
		t.Fatalf("--dev banner missing or without the demo catalog: %q", out.String())
	}
}

func findCmd(root interface {
	Commands() []*cobra.Command
}, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func TestOneLine(t *testing.T) {
	err := errors.New("connect: failed:\n\t127.0.0.1:1: refused\n\t127.0.0.1:1: refused\n")
	if got := oneLine(err); got != "connect: failed: 127.0.0.1:1: refused" {
		t.Fatalf("oneLine = %q", got)
	}
}

// TestDevBannerNamesTheSecret: with --dev --jwt-secret the banner does not
// call the developer's own secret a throwaway one.
func TestDevBannerNamesTheSecret(t *testing.T) {
	for _, tc := range []struct {
		throwaway bool
		want, not string
	}{
		{true, "(demo catalog, throwaway secret)", "your --jwt-secret"},
		{false, "(demo catalog, your --jwt-secret)", "throwaway"},
	} {
		got := devBanner("http://127.0.0.1:3000", "demo catalog", "s3cret", "tok", tc.throwaway, "./coworkctl")
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) || !strings.Contains(got, "JWT secret:  s3cret") {
			t.Errorf("throwaway=%v: banner %q", tc.throwaway, got)
		}
		// One line names the staff token (what a grep finds); the watch
		// line carries the real token, ready to paste.
		if n := strings.Count(got, "staff token"); n != 1 {
			t.Errorf("banner names the staff token %d times: %q", n, got)
		}
		if !strings.Contains(got, "./coworkctl watch --server http://127.0.0.1:3000 --token tok\n") {
			t.Errorf("no watch line with the real token: %q", got)
		}
	}
}

// TestServeReportsTheSameBadFlag: with several bad flags, the one reported
// is the same on every run (the first in the help's order), so a script or
// a person fixing them one by one is not sent back and forth.
func TestServeReportsTheSameBadFlag(t *testing.T) {
	args := []string{"serve", "--dev", "--http-idle-timeout", "-1s", "--max-rooms-per-socket", "0", "--send-queue", "0",
		"--max-days-ahead", "-1", "--max-holds-per-user", "-1"}
	first := ""
	for range 20 {
		f, _, errOut := testFactory(nil)
		if code := Run(context.Background(), f, args); code != ExitUsage {
			t.Fatalf("exit code = %d, want %d (stderr %q)", code, ExitUsage, errOut.String())
		}
		if first == "" {
			first = errOut.String()
			if !strings.Contains(first, "--max-holds-per-user") {
				t.Fatalf("stderr = %q, want the first bad flag in help order, --max-holds-per-user", first)
			}
		} else if errOut.String() != first {
			t.Fatalf("bad flags reported differently between runs: %q, then %q", first, errOut.String())
		}
	}
}

// A Redis queue that holds nothing is refused, naming the flag.
func TestServeRefusesAnEmptyRedisQueue(t *testing.T) {
	for _, v := range []string{"0", "-5"} {
		f, _, errOut := testFactory(nil)
		if code := Run(context.Background(), f, []string{"serve", "--dev", "--redis-queue", v}); code != ExitUsage || !strings.Contains(errOut.String(), "--redis-queue must be positive, got "+v) {
			t.Errorf("--redis-queue %s: exit %d, stderr %q; want %d naming the flag", v, code, errOut.String(), ExitUsage)
		}
	}
}

// TestDevListensOnLoopbackUnlessTold: --dev binds 127.0.0.1 unless --addr
// or COWORK_ADDR says otherwise; without --dev the default stays :3000.
func TestDevListensOnLoopbackUnlessTold(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--dev"}, "127.0.0.1:3000"},
		{nil, []string{"--dev", "--addr", ":4000"}, ":4000"},
		{map[string]string{"COWORK_ADDR": "0.0.0.0:5000"}, []string{"--dev"}, "0.0.0.0:5000"},
		{nil, []string{"--jwt-secret", "s"}, ":3000"},
	}
	for _, tt := range tests {
		f, _, _ := testFactory(tt.env)
		var got *ServeOptions
		cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
		root := NewCmdRoot(f)
		root.RemoveCommand(findCmd(root, "serve"))
		root.AddCommand(cmd)
		root.SetArgs(append([]string{"serve"}, tt.args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		cfg, err := got.config()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != tt.want {
			t.Errorf("%v (env %v): listens on %q, want %q", tt.args, tt.env, cfg.Addr, tt.want)
		}
	}
}

// TestJSONLogsDurationsAsText: a JSON log line shows hold_ttl as "15m0s",
// not 900000000000 nanoseconds.
func TestJSONLogsDurationsAsText(t *testing.T) {
	var b bytes.Buffer
	log, err := NewLogger(&b, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("serving", "hold_ttl", 15*time.Minute, slog.Group("http", "idle", 90*time.Second))
	got := b.String()
	if !strings.Contains(got, `"hold_ttl":"15m0s"`) || !strings.Contains(got, `"idle":"1m30s"`) {
		t.Fatalf("durations not as text: %s", got)
	}
}

// The --dev banner names where the catalog comes from.
func TestDevBannerCatalogSource(t *testing.T) {
	for _, tt := range []struct {
		layout, file, want string
	}{
		{server.LayoutCoworkctl, "", "demo catalog"},
		{server.LayoutCoworkctl, "/etc/coworkctl/sedi.yml", "demo catalog and sedi.yml"},
		{server.LayoutCoworkingMio, "", "catalog from the backend's Sede and Spazio"},
	} {
		if got := catalogSource(server.Config{DBLayout: tt.layout}, tt.file); got != tt.want {
			t.Errorf("catalogSource(%s, %q) = %q, want %q", tt.layout, tt.file, got, tt.want)
		}
	}
}
