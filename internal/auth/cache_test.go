package auth

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) add(d time.Duration) { c.set(c.Now().Add(d)) }

// A remembered token stops being accepted when it expires, exactly when
// an unremembered one would, leeway included.
func TestVerifiedTokenExpires(t *testing.T) {
	clk := &clock{now: time.Unix(1_900_000_000, 0)}
	v, err := NewVerifier(Config{Secret: secret, Leeway: 2 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(IssueOptions{Secret: secret, UserID: 7, Role: RoleCliente, TTL: time.Minute, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if c, err := v.Verify(tok); err != nil || c.UserID != 7 {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	if _, ok := v.cached(tok); !ok {
		t.Fatal("a verified token was not remembered")
	}
	clk.add(time.Minute + time.Second) // past exp, within the leeway
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify within the leeway: %v", err)
	}
	clk.add(time.Second) // exp + leeway
	if _, err := v.Verify(tok); !errors.Is(err, ErrInvalid) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("Verify of an expired remembered token = %v; want %v", err, jwt.ErrTokenExpired)
	}
}

// Only the exact text of a verified token is a hit: the same claims with
// another signature are checked, and refused.
func TestVerifiedTokenNotForgeable(t *testing.T) {
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(IssueOptions{Secret: secret, UserID: 7, Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	forged, err := Issue(IssueOptions{Secret: []byte("another secret"), UserID: 7, Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(forged); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Fatalf("Verify of the same claims signed with another secret = %v; want %v", err, jwt.ErrTokenSignatureInvalid)
	}
}

// Claims handed out are copies: a caller changing them changes nothing
// for the next request.
func TestVerifiedClaimsAreCopies(t *testing.T) {
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(IssueOptions{Secret: secret, UserID: 7, Role: RoleCliente})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := v.Verify(tok)
		if err != nil || c.Role != RoleCliente || c.UserID != 7 {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
		c.Role, c.UserID = RoleAdmin, 1
		c.RegisteredClaims.ExpiresAt.Time = time.Now().Add(100 * time.Hour)
	}
}

// A token with nbf is checked every time, so it is refused until nbf.
func TestTokenWithNotBeforeIsNotRemembered(t *testing.T) {
	clk := &clock{now: time.Unix(1_900_000_000, 0)}
	v, err := NewVerifier(Config{Secret: secret, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := rawToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{
		"id_utente": 7, "nbf": clk.Now().Add(time.Minute).Unix(), "exp": clk.Now().Add(time.Hour).Unix()}, secret)
	if _, err := v.Verify(tok); !errors.Is(err, jwt.ErrTokenNotValidYet) {
		t.Fatalf("Verify before nbf = %v; want %v", err, jwt.ErrTokenNotValidYet)
	}
	clk.add(time.Minute)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify at nbf: %v", err)
	}
	if _, ok := v.cached(tok); ok {
		t.Fatal("a token with nbf was remembered")
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxVerifiedTokens + 10 {
		tok, err := Issue(IssueOptions{Secret: secret, UserID: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := v.Verify(tok); err != nil || c.UserID != int64(i+1) {
			t.Fatalf("Verify token %d = %+v, %v", i, c, err)
		}
	}
	v.mu.RLock()
	n := len(v.verified)
	v.mu.RUnlock()
	if n > maxVerifiedTokens {
		t.Fatalf("%d tokens remembered; want at most %d", n, maxVerifiedTokens)
	}
}
