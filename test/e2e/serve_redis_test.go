package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeUnreachableRedisSaysItOnce: serve with a Redis nobody listens
// on fails with one clear line; the Redis library's own pool messages do
// not reach stderr.
func TestServeUnreachableRedisSaysItOnce(t *testing.T) {
	r := runCoworkctl(t, 30*time.Second, "serve", "--addr", "127.0.0.1:0", "--jwt-secret", "s",
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "r.db"), "--demo", "--redis", "redis://127.0.0.1:1")
	if r.Code == 0 || !strings.Contains(r.Stderr, "connect to redis at 127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	for _, line := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(line, "redis: ") {
			t.Errorf("library log line on stderr: %q", line)
		}
	}
}
