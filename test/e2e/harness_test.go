// Package e2e drives the real coworkctl binary over real sockets on
// 127.0.0.1: the serve process, its REST API and Socket.IO endpoint, and the
// other subcommands against it.
//
// TestMain builds the binary once (or takes it from COWORK_E2E_BIN); StartServer runs `coworkctl serve` on a
// free port with a temporary SQLite database and the demo catalog, waits
// for /readyz, and prints the server's log when the test fails.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
)

// coworkctlBin is the binary built by TestMain.
var coworkctlBin string

// repoRoot is the module root (two levels above this package).
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	// COWORK_E2E_BIN runs the tests against a binary built elsewhere.
	if bin := os.Getenv("COWORK_E2E_BIN"); bin != "" {
		coworkctlBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "coworkctl-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	coworkctlBin = filepath.Join(dir, "coworkctl")
	if runtime.GOOS == "windows" {
		coworkctlBin += ".exe"
	}
	build := exec.Command("go", "build", "-o", coworkctlBin, "./cmd/coworkctl")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/coworkctl: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// DefaultSecret is the JWT secret of servers started without one.
const DefaultSecret = "e2e-test-secret"

// ServerConfig describes one serve process. Zero values take the defaults
// noted on each field.
type ServerConfig struct {
	// Addr to listen on; "" picks a free 127.0.0.1 port.
	Addr string
	// Secret is the JWT secret; "" is DefaultSecret.
	Secret string
	// DB is the --db value; "" is a fresh SQLite file in t.TempDir().
	DB string
	// HoldTTL is --hold-ttl; zero leaves the server default (15m).
	HoldTTL time.Duration
	// PingInterval is --ping-interval; zero leaves the server default.
	PingInterval time.Duration
	// NoDemo skips --demo (the demo catalog is loaded by default).
	NoDemo bool
	// Args are extra serve flags, appended last (so they win).
	Args []string
	// Env is extra environment (KEY=VALUE) for the process.
	Env []string
	// ReadyTimeout bounds the wait for /readyz; zero is 20s.
	ReadyTimeout time.Duration
}

// Server is a running `coworkctl serve` process.
type Server struct {
	t      testing.TB
	Addr   string // host:port
	URL    string // http://host:port
	Secret string
	DB     string
	Cmd    *exec.Cmd

	logs    *syncBuffer
	done    chan struct{}
	waitErr error
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// StartServer starts `coworkctl serve` with cfg, waits until /readyz
// answers 200, and stops it (SIGTERM, then SIGKILL) when the test ends.
// When the test fails, the server's log is written with t.Log.
func StartServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = FreeAddr(t)
	}
	if cfg.Secret == "" {
		cfg.Secret = DefaultSecret
	}
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "e2e.db")
	}
	args := []string{"serve",
		"--addr", cfg.Addr,
		"--jwt-secret", cfg.Secret,
		"--db", cfg.DB,
		"--tz", "UTC",
		"--cors-origin", "*",
		"--log-level", "debug",
	}
	if !cfg.NoDemo {
		args = append(args, "--demo")
	}
	if cfg.HoldTTL > 0 {
		args = append(args, "--hold-ttl", cfg.HoldTTL.String())
	}
	if cfg.PingInterval > 0 {
		args = append(args, "--ping-interval", cfg.PingInterval.String())
	}
	args = append(args, cfg.Args...)

	s := &Server{t: t, Addr: cfg.Addr, URL: "http://" + cfg.Addr, Secret: cfg.Secret, DB: cfg.DB, logs: &syncBuffer{}, done: make(chan struct{})}
	s.Cmd = exec.Command(coworkctlBin, args...)
	s.Cmd.Dir = t.TempDir()
	// A clean environment: no COWORK_* from the developer's shell.
	s.Cmd.Env = append(cleanEnv(), cfg.Env...)
	s.Cmd.Stdout = s.logs
	s.Cmd.Stderr = s.logs
	if err := s.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", coworkctlBin, err)
	}
	go func() {
		s.waitErr = s.Cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if s.Running() {
			_, _ = s.Stop(15 * time.Second)
		}
		if t.Failed() {
			t.Logf("server %s log:\n%s", s.Addr, s.Logs())
		}
	})

	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	if err := s.WaitReady(timeout); err != nil {
		t.Fatalf("server %s not ready: %v", s.Addr, err)
	}
	return s
}

// cleanEnv is the test's environment without COWORK_* and DEBUG variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COWORK_") || strings.HasPrefix(kv, "DEBUG=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// WaitReady polls /readyz until it answers 200, the process exits, or
// timeout passes.
func (s *Server) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		if !s.Running() {
			return fmt.Errorf("server exited early: %v", s.waitErr)
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("/readyz: %s", resp.Status)
		} else {
			last = err
		}
		select {
		case <-s.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("timeout after %v: %v", timeout, last)
}

// Running reports whether the process has not exited yet.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Logs returns everything the server wrote so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop sends SIGTERM and waits up to timeout for the exit; after that it
// sends SIGKILL. It returns the exit code (-1 when killed by a signal).
func (s *Server) Stop(timeout time.Duration) (int, error) {
	if s.Running() {
		_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
		_ = s.Cmd.Process.Kill()
		<-s.done
		return -1, fmt.Errorf("no exit within %v of SIGTERM; killed", timeout)
	}
	return s.ExitCode(), nil
}

// Kill sends SIGKILL (kill -9) and waits for the process to die.
func (s *Server) Kill() {
	if s.Running() {
		_ = s.Cmd.Process.Kill()
	}
	<-s.done
}

// Wait waits up to timeout for the process to exit on its own.
func (s *Server) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.done:
		return s.ExitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("still running after %v", timeout)
	}
}

// ExitCode is the exit status once the process has exited (-1 for a
// signal death).
func (s *Server) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		return ee.ExitCode()
	}
	if s.waitErr != nil {
		return -1
	}
	return s.Cmd.ProcessState.ExitCode()
}

// Token mints an HS256 token for user/role with the server's secret,
// valid for an hour.
func (s *Server) Token(t testing.TB, user int64, role string) string {
	t.Helper()
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(s.Secret), UserID: user, Role: role, TTL: time.Hour})
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// Response is a decoded JSON answer of the REST API.
type Response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// Do sends a REST request (body marshalled as JSON when not nil, token as
// a Bearer header when not empty) and decodes the JSON answer.
func (s *Server) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("marshal %s %s body: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	out := Response{Status: resp.StatusCode, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return out
}

// Metric returns the value of an unlabelled Prometheus sample (e.g.
// "coworkctl_hold_expiries_total") from /metrics, or the sum over all
// label sets when the metric has labels.
func (s *Server) Metric(t testing.TB, name string) float64 {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/metrics", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Status)
	}
	var sum float64
	for _, line := range strings.Split(string(r.Raw), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		key := fields[0]
		if i := strings.IndexByte(key, '{'); i >= 0 {
			key = key[:i]
		}
		if key != name {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(fields[1], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// Tomorrow is tomorrow's date in UTC (servers run with --tz UTC), so every
// slot of the demo catalog is in the future.
func Tomorrow() string { return time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly) }

// syncBuffer is a bytes.Buffer safe for the process's two output pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
