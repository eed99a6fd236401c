package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenErrorsNameTheCauseOnce: a missing SQLite directory is named,
// and an unreachable PostgreSQL is one cause after its address, without
// pgx's preamble repeating user, database and host.
func TestOpenErrorsNameTheCauseOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	tests := []struct {
		dsn  string
		want []string
		not  []string
	}{
		{"sqlite:" + filepath.Join(missing, "x.db"), []string{"directory " + missing + " does not exist"}, []string{"open store", "unable to open"}},
		{"postgres://app:secret@127.0.0.1:1/cowork?connect_timeout=2", []string{"connect to postgres://app@127.0.0.1:1/cowork: dial tcp 127.0.0.1:1: connect: connection refused"},
			[]string{"open store", "failed to connect", "secret"}},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.dsn, nil)
		if err == nil {
			t.Fatalf("%s: opened", tt.dsn)
		}
		msg := err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", tt.dsn, msg, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(msg, n) {
				t.Errorf("%s: error %q contains %q", tt.dsn, msg, n)
			}
		}
	}
}
