package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
)

func mintTTL(t *testing.T, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte("s"), UserID: 1, Role: auth.RoleAdmin, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenRenewerRenewsAt80Percent: a 10 s token is replaced after 8 s,
// and each successor 8 s after it was minted.
func TestTokenRenewerRenewsAt80Percent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var at []time.Duration
		r := tokenRenewer{
			mint: func() (string, error) { return mintTTL(t, 10*time.Second), nil },
			apply: func(tok string) {
				mu.Lock()
				defer mu.Unlock()
				at = append(at, time.Since(start))
				if exp := tokenExpiry(tok); !exp.After(time.Now()) {
					t.Errorf("applied a token that expired at %v", exp)
				}
			},
			log: slog.New(slog.DiscardHandler),
		}
		ctx, cancel := context.WithCancel(context.Background())
		go r.run(ctx, mintTTL(t, 10*time.Second))
		time.Sleep(30 * time.Second)
		cancel()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{8 * time.Second, 16 * time.Second, 24 * time.Second}
		if len(at) != len(want) {
			t.Fatalf("renewed at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Errorf("renewal %d at %v, want %v", i+1, at[i], want[i])
			}
		}
	})
}

// TestWarnTokenExpiry: a --token is announced 5 and 1 minutes ahead and
// at expiry, on stderr.
func TestWarnTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		exp := time.Now().Add(10 * time.Minute)
		done := make(chan struct{})
		go func() {
			defer close(done)
			warnTokenExpiry(context.Background(), &out, exp, slog.New(slog.DiscardHandler))
		}()
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		if out.Len() != 0 {
			t.Fatalf("warned early: %q", out.String())
		}
		<-done
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], "expires in 5m0s") || !strings.Contains(lines[1], "expires in 1m0s") ||
			!strings.Contains(lines[2], "the token expired at") {
			t.Errorf("warnings:\n%s", out.String())
		}
	})
}

// lockedBuffer is a bytes.Buffer for one writer goroutine and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int { return len(b.String()) }

func TestExpiredTokenError(t *testing.T) {
	now := time.Now()
	if err := expiredTokenError(now.Add(time.Minute), now); err != nil {
		t.Errorf("a live token: %v", err)
	}
	if err := expiredTokenError(time.Time{}, now); err != nil {
		t.Errorf("no exp: %v", err)
	}
	err := expiredTokenError(now.Add(-90*time.Second), now)
	if err == nil || !strings.Contains(err.Error(), "(1m30s ago)") || !strings.Contains(err.Error(), "--jwt-secret") {
		t.Errorf("expired: %v", err)
	}
	if got := tokenExpiry(mintTTL(t, time.Hour)); got.Sub(now) < 59*time.Minute {
		t.Errorf("tokenExpiry = %v", got)
	}
	if !tokenExpiry("not-a-jwt").IsZero() {
		t.Error("tokenExpiry of garbage is not zero")
	}
}

// TestTokenRenewerStopWaitsForIt: stopping the renewer while it hands a
// token to the socket returns only once it is done, so watch never
// closes a socket under a renewal in flight and leaves no goroutine.
func TestTokenRenewerStopWaitsForIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		applying, release := make(chan struct{}), make(chan struct{})
		r := tokenRenewer{
			mint: func() (string, error) { return mintTTL(t, 10*time.Second), nil },
			apply: func(string) {
				close(applying)
				<-release
			},
			log: slog.New(slog.DiscardHandler),
		}
		stop := r.start(context.Background(), mintTTL(t, 10*time.Second))
		<-applying // the first renewal, at 8 s
		stopped := make(chan struct{})
		go func() {
			stop()
			close(stopped)
		}()
		synctest.Wait()
		select {
		case <-stopped:
			t.Fatal("stop returned while the renewer was still applying a token")
		default:
		}
		close(release)
		<-stopped
	})
}

// TestGoOwnedStopJoins: stop returns after f, never before.
func TestGoOwnedStopJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var returned bool
		stop := goOwned(context.Background(), func(ctx context.Context) {
			<-ctx.Done()
			time.Sleep(time.Second) // cleanup that takes a while
			returned = true
		})
		stop()
		if !returned {
			t.Fatal("stop returned before f did")
		}
	})
}
