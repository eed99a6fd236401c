package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/testkit"
)

// TestServeDevBannerAndTokenFile: the --dev banner names the staff token
// on one line and gives a watch command with the real token; --token-file
// holds the same token while the server runs and is gone after it.
func TestServeDevBannerAndTokenFile(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "staff.tok")
	s := StartServer(t, ServerConfig{Args: []string{"--dev", "--token-file", tokFile, "--log-level", "warn"}})
	testkit.Eventually(t, 10*time.Second, "the --dev banner (its curl line)", func() bool { return strings.Contains(s.Logs(), "curl -s") })
	logs := s.Logs()
	if n := strings.Count(logs, "staff token"); n != 1 {
		t.Errorf("the output names the staff token %d times, want once:\n%s", n, logs)
	}
	var watch []string
	for _, line := range strings.Split(logs, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "watch:" {
			watch = f[1:]
		}
	}
	if len(watch) != 6 || watch[0] != coworkctlBin || watch[1] != "watch" || watch[2] != "--server" || watch[3] != s.URL || watch[4] != "--token" {
		t.Fatalf("watch line = %q, want %s watch --server %s --token TOKEN", watch, coworkctlBin, s.URL)
	}
	tok := watch[5]
	b, err := os.ReadFile(tokFile)
	if err != nil || strings.TrimSpace(string(b)) != tok {
		t.Fatalf("--token-file: %q, %v; want the banner's token", b, err)
	}
	if r := s.Do(t, http.MethodGet, "/api/stats", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("the banner's token on /api/stats: %d %v", r.Status, r.Body)
	}
	if fi, err := os.Stat(tokFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if code, err := s.Stop(15 * time.Second); code != 0 || err != nil {
		t.Fatalf("stop: exit %d, %v", code, err)
	}
	if _, err := os.Stat(tokFile); !os.IsNotExist(err) {
		t.Errorf("token file left after exit (%v)", err)
	}
}

// TestServePrintToken: --print-token prints the staff token alone as the
// first line of stdout, for a script to read.
func TestServePrintToken(t *testing.T) {
	addr := FreeAddr(t)
	cmd := exec.Command(coworkctlBin, "serve", "--jwt-secret", DefaultSecret, "--demo", "--addr", addr,
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "p.db"), "--print-token", "--log-level", "warn")
	cmd.Env = cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	var tok string
	select {
	case tok = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatal("no token printed")
	}
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \t") {
		t.Fatalf("first stdout line %q is not a bare JWT", tok)
	}
	s := &Server{t: t, Addr: addr, URL: "http://" + addr}
	if r := s.Do(t, http.MethodGet, "/api/stats", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("printed token on /api/stats: %d %v", r.Status, r.Body)
	}
}
