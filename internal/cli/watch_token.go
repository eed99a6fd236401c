package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
)

// Token upkeep of `watch`: a token it minted (--jwt-secret) is replaced
// before it expires; a --token it cannot replace is announced ahead of
// its end and, once expired, named as the reason the server refuses it.

// renewAt is the share of a minted token's remaining life after which
// watch mints the next one.
const renewAt = 0.8

// renewRetry is the wait after a failed mint.
const renewRetry = 5 * time.Second

// tokenExpiry reads the exp claim of token without verifying it; zero
// when it has none or does not decode.
func tokenExpiry(token string) time.Time {
	in := auth.Inspect(auth.Config{}, token)
	if in.Claims == nil {
		return time.Time{}
	}
	exp, err := in.Claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}
	}
	return exp.Time
}

// tokenStaff reads the ruolo claim of token without verifying it (the
// server decides; this only picks what the dashboard offers) and reports
// whether it is a staff role.
func tokenStaff(token string) bool {
	in := auth.Inspect(auth.Config{}, token)
	if in.Claims == nil {
		return false
	}
	role, _ := in.Claims["ruolo"].(string)
	return auth.IsStaff(role)
}

// tokenRenewer keeps a minted token fresh for a long-running watch.
type tokenRenewer struct {
	// mint returns a new token.
	mint func() (string, error)
	// apply hands a new token to the socket and the REST client.
	apply func(token string)
	log   *slog.Logger
}

// start runs the renewer until ctx ends or stop is called; stop returns
// only once it has, so no token is applied to a socket closed after it.
func (r tokenRenewer) start(ctx context.Context, token string) (stop func()) {
	return goOwned(ctx, func(ctx context.Context) { r.run(ctx, token) })
}

// goOwned runs f in a goroutine on a child of ctx; stop cancels it and
// waits until f has returned, which makes the caller its owner.
func goOwned(ctx context.Context, f func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// run renews token at renewAt of its remaining life, and each successor
// in turn, until ctx ends. A token without exp is never renewed.
func (r tokenRenewer) run(ctx context.Context, token string) {
	exp := tokenExpiry(token)
	if exp.IsZero() {
		return
	}
	wait := time.Duration(float64(time.Until(exp)) * renewAt)
	for {
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		next, err := r.mint()
		if err != nil {
			r.log.Warn("token renewal failed", "err", err, "expires", exp, "retry_in", renewRetry)
			wait = renewRetry
			continue
		}
		exp = tokenExpiry(next)
		r.log.Info("token renewed", "expires", exp)
		r.apply(next)
		wait = time.Duration(float64(time.Until(exp)) * renewAt)
	}
}

// tokenNoticesBefore are how long before a --token expires watch --json
// warns on stderr (the dashboard shows the same in its log).
var tokenNoticesBefore = []time.Duration{5 * time.Minute, time.Minute}

// warnTokenExpiry writes to w, ahead of exp and at exp, that the token is
// about to expire, until ctx ends.
func warnTokenExpiry(ctx context.Context, w io.Writer, exp time.Time, log *slog.Logger) {
	for _, before := range append(tokenNoticesBefore, 0) {
		left := time.Until(exp)
		if left < before {
			continue // already past this notice
		}
		t := time.NewTimer(left - before)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		msg := tokenNotice(exp, before)
		log.Warn(msg)
		fmt.Fprintln(w, "coworkctl: "+msg)
	}
}

// tokenNotice is the warning due before (zero: at) expiry.
func tokenNotice(exp time.Time, before time.Duration) string {
	at := exp.Local().Format("15:04:05")
	if before <= 0 {
		return "the token expired at " + at + "; the server will end the session (restart watch with a fresh --token, or use --jwt-secret to renew automatically)"
	}
	return fmt.Sprintf("warning: the token expires in %s, at %s (restart watch with a fresh --token before then, or use --jwt-secret to renew automatically)", before, at)
}

// expiredTokenError says in plain words that the server refuses an
// expired token; nil when exp is unknown or not reached.
func expiredTokenError(exp, now time.Time) error {
	if exp.IsZero() || now.Before(exp) {
		return nil
	}
	return fmt.Errorf("the token expired at %s (%s ago): pass a fresh --token, or use --jwt-secret so that watch renews it",
		exp.Local().Format("2006-01-02 15:04:05"), now.Sub(exp).Round(time.Second))
}
