package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TestEmitLoadThatMeasuredNothingFails: a run where no client connects
// (wrong secret) or every broadcast is refused (a non-staff token) exits
// 1 without any threshold, and the report names the server's reason.
func TestEmitLoadThatMeasuredNothingFails(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	tests := []struct {
		name        string
		creds       []string
		failure     string
		errorPrefix string
	}{
		{"wrong secret", []string{"--jwt-secret", "not-the-server-secret"}, "no client connected",
			"connect_refused: " + protocol.MsgSocketAuthInvalid},
		{"non-staff token", []string{"--token", s.Token(t, 7, "cliente")}, "every broadcast failed",
			"broadcast_http_403: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, asJSON := range []bool{true, false} {
				args := append([]string{"emit", "load", "--server", s.URL, "--clients", "5", "--rooms", "1",
					"--duration", "1s", "--rate", "10", "--drain", "200ms"}, tt.creds...)
				if asJSON {
					args = append(args, "--json")
				}
				r := runCoworkctl(t, 60*time.Second, args...)
				if r.Code != 1 {
					t.Fatalf("exit %d, want 1\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
				}
				if !strings.Contains(r.Stderr, tt.failure) {
					t.Errorf("stderr does not say %q: %s", tt.failure, r.Stderr)
				}
				if !asJSON {
					if !strings.Contains(r.Stdout, "FAIL") || !strings.Contains(r.Stdout, tt.errorPrefix) {
						t.Errorf("summary lacks FAIL or %q:\n%s", tt.errorPrefix, r.Stdout)
					}
					continue
				}
				var rep loadtest.Report
				if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
					t.Fatalf("decode report: %v\n%s", err, r.Stdout)
				}
				if rep.Pass || len(rep.Failures) == 0 || !strings.Contains(strings.Join(rep.Failures, "; "), tt.failure) {
					t.Errorf("pass %v, failures %q", rep.Pass, rep.Failures)
				}
				found := false
				for k := range rep.Errors.ByKind {
					if strings.HasPrefix(k, tt.errorPrefix) && len(k) > len("broadcast_http_403: ") {
						found = true
					}
				}
				if !found {
					t.Errorf("no error kind with the server's reason %q: %v", tt.errorPrefix, rep.Errors.ByKind)
				}
			}
		})
	}
}
