package testkit

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// recorder catches Fatalf so the failing path can be checked without
// failing this test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func TestEventuallyReturnsOnceCondHolds(t *testing.T) {
	var n atomic.Int32
	Eventually(t, 5*time.Second, "third call", func() bool { return n.Add(1) == 3 })
	if got := n.Load(); got != 3 {
		t.Fatalf("cond called %d times, want 3", got)
	}
}

func TestEventuallyFailsWithWhatAndLimit(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("Eventually did not fail the test (recovered %v)", p)
			}
		}()
		Eventually(r, 30*time.Millisecond, "the moon", func() bool { return false })
	}()
	if want := "timed out after 30ms waiting for the moon"; r.msg != want {
		t.Fatalf("message %q, want %q", r.msg, want)
	}
}
