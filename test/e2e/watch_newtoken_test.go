package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestWatchTakesANewToken: the server restarts with another secret, so
// watch's token is refused; T with an empty prompt reads the new token
// from the file serve --token-file rewrote, and watch is live again.
func TestWatchTakesANewToken(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "staff.tok")
	db := "sqlite:" + filepath.Join(t.TempDir(), "e2e.db")
	s1 := StartServer(t, ServerConfig{Secret: "first-secret", DB: db, Args: []string{"--token-file", tok}})
	tw := startTmuxWatch(t, "--server", s1.URL, "--token-file", tok, "--space", "1@1", "--date", Tomorrow())
	tw.waitFor("● connected", 15*time.Second)
	if _, err := s1.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	StartServer(t, ServerConfig{Addr: s1.Addr, Secret: "second-secret", DB: db, Args: []string{"--token-file", tok}})
	tw.waitFor("✕ token refused", 30*time.Second)
	tw.waitFor("press T", time.Second)
	tw.tmux("send-keys", "-t", "0", "T")
	tw.waitFor("new token:", 5*time.Second)
	tw.tmux("send-keys", "-t", "0", "Enter")
	tw.waitFor("● connected", 15*time.Second)
	tw.waitFor("new token applied", 5*time.Second)
}
