// Package testkit holds helpers shared by the tests of several packages.
package testkit

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually checks its condition: short next to
// the limits tests use, long enough not to spin a core.
const pollEvery = 10 * time.Millisecond

// Eventually waits until cond reports true, checking it every few
// milliseconds, and fails the test with what and limit in the message
// when limit passes first. It is for conditions that change through
// network I/O or another process, where there is no event to wait on;
// it orders nothing by time, since it only returns once cond holds.
// cond runs on the caller's goroutine, so it may call t.Fatal.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(pollEvery)
	}
}
