package server

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestHeartbeatLogsAStreakOnce: a minute of failed beats (every 5 s) logs
// one warning when they start and one line when they stop, not one each.
func TestHeartbeatLogsAStreakOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil)) // info and above
	var h heartbeatLog
	h.beat(log, nil)
	for range 12 {
		h.beat(log, errors.New("i/o timeout"))
	}
	h.beat(log, nil)
	h.beat(log, nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[1], "failed_beats=12") {
		t.Errorf("log lines:\n%s\nwant one warning and one line when it works again", buf.String())
	}
}
