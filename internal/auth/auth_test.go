package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("test-secret")

// rawToken signs arbitrary header and claims with HS256 (or leaves the
// signature empty for alg none), so tests can build tokens the issuer
// refuses to make.
func rawToken(t *testing.T, header, claims map[string]any, key []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	unsigned := enc(header) + "." + enc(claims)
	if key == nil {
		return unsigned + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	now := time.Now()
	future := now.Add(time.Hour).Unix()
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := NewVerifier(Config{Secret: secret, Issuer: "cowork", Audience: "frontend"})
	if err != nil {
		t.Fatal(err)
	}
	good, err := Issue(IssueOptions{Secret: secret, UserID: 42, Role: RoleCliente})
	if err != nil {
		t.Fatal(err)
	}
	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims{"id_utente": 1, "exp": future}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	withIssAud, err := Issue(IssueOptions{Secret: secret, UserID: 5, Role: RoleAdmin, Issuer: "cowork", Audience: "frontend"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		v        *Verifier
		token    string
		wantErr  error
		wantUser int64
	}{
		{"valid", v, good, nil, 42},
		{"empty", v, "", ErrMissing, 0},
		{"garbage", v, "not.a.jwt", ErrInvalid, 0},
		{"wrong secret", v, rawToken(t, hs, map[string]any{"id_utente": 1, "exp": future}, []byte("other")), ErrInvalid, 0},
		{"alg none", v, rawToken(t, map[string]any{"alg": "none"}, map[string]any{"id_utente": 1, "exp": future}, nil), ErrInvalid, 0},
		{"HS384 rejected", v, hs384, ErrInvalid, 0},
		{"expired", v, rawToken(t, hs, map[string]any{"id_utente": 1, "exp": now.Add(-time.Minute).Unix()}, secret), ErrInvalid, 0},
		{"no exp", v, rawToken(t, hs, map[string]any{"id_utente": 1}, secret), ErrInvalid, 0},
		{"no id_utente", v, rawToken(t, hs, map[string]any{"exp": future}, secret), ErrInvalid, 0},
		{"string id_utente", v, rawToken(t, hs, map[string]any{"id_utente": "1", "exp": future}, secret), ErrInvalid, 0},
		{"fractional id_utente", v, rawToken(t, hs, map[string]any{"id_utente": 1.5, "exp": future}, secret), ErrInvalid, 0},
		{"negative id_utente", v, rawToken(t, hs, map[string]any{"id_utente": -3, "exp": future}, secret), ErrInvalid, 0},
		{"huge token", v, strings.Repeat("a", maxTokenBytes+1), ErrInvalid, 0},
		{"iss/aud required and present", strict, withIssAud, nil, 5},
		{"iss/aud required, missing", strict, good, ErrInvalid, 0},
		{"iss/aud not configured are ignored", v, withIssAud, nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.Verify(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.UserID != tt.wantUser {
				t.Fatalf("UserID = %d, want %d", c.UserID, tt.wantUser)
			}
			if c.ExpiresAt().IsZero() {
				t.Fatal("ExpiresAt is zero for a valid token")
			}
		})
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	for name, o := range map[string]IssueOptions{
		"no secret":    {UserID: 1},
		"zero user":    {Secret: secret},
		"unknown role": {Secret: secret, UserID: 1, Role: "root"},
	} {
		if _, err := Issue(o); err == nil {
			t.Errorf("%s: Issue succeeded, want error", name)
		}
	}
	if _, err := NewVerifier(Config{}); err == nil {
		t.Error("NewVerifier with empty secret succeeded")
	}
}

func TestIsStaff(t *testing.T) {
	for role, want := range map[string]bool{RoleCliente: false, RoleGestore: true, RoleResponsabile: true, RoleAmministratore: true, RoleAdmin: true, "": false, "root": false} {
		if got := IsStaff(role); got != want {
			t.Errorf("IsStaff(%q) = %v, want %v", role, got, want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := Issue(IssueOptions{Secret: secret, UserID: 1})
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := v.Verify(s)
		if err == nil && (c == nil || c.UserID <= 0) {
			t.Fatalf("Verify(%q) accepted a token without a positive user id", s)
		}
	})
}

func TestInspect(t *testing.T) {
	now := time.Now()
	future := now.Add(time.Hour).Unix()
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims{"id_utente": 1, "exp": future}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(claims map[string]any) string { return rawToken(t, hs, claims, secret) }
	open := Config{}
	keyed := Config{Secret: secret}
	strict := Config{Secret: secret, Issuer: "cowork", Audience: "frontend"}
	tests := []struct {
		name   string
		cfg    Config
		token  string
		reason error // nil: accepted
	}{
		{"valid, verified", keyed, signed(map[string]any{"id_utente": 42, "exp": future}), nil},
		{"valid, unverified", open, signed(map[string]any{"id_utente": 42, "exp": future}), nil},
		{"wrong secret, verified", keyed, rawToken(t, hs, map[string]any{"id_utente": 1, "exp": future}, []byte("other")), jwt.ErrTokenSignatureInvalid},
		{"wrong secret, unverified", open, rawToken(t, hs, map[string]any{"id_utente": 1, "exp": future}, []byte("other")), nil},
		{"alg none", open, rawToken(t, map[string]any{"alg": "none"}, map[string]any{"id_utente": 1, "exp": future}, nil), ErrAlgorithm},
		{"HS384", keyed, hs384, ErrAlgorithm},
		{"unknown alg", open, rawToken(t, map[string]any{"alg": "XY1"}, map[string]any{"id_utente": 1, "exp": future}, secret), ErrAlgorithm},
		{"expired, verified", keyed, signed(map[string]any{"id_utente": 1, "exp": now.Add(-time.Minute).Unix()}), jwt.ErrTokenExpired},
		{"expired, unverified", open, signed(map[string]any{"id_utente": 1, "exp": now.Add(-time.Minute).Unix()}), jwt.ErrTokenExpired},
		{"not yet valid", open, signed(map[string]any{"id_utente": 1, "exp": future, "nbf": now.Add(time.Minute).Unix()}), jwt.ErrTokenNotValidYet},
		{"no exp", open, signed(map[string]any{"id_utente": 1}), jwt.ErrTokenRequiredClaimMissing},
		{"no id_utente, verified", keyed, signed(map[string]any{"exp": future}), ErrUserID},
		{"no id_utente, unverified", open, signed(map[string]any{"exp": future}), ErrUserID},
		{"wrong iss", strict, signed(map[string]any{"id_utente": 1, "exp": future, "iss": "other", "aud": "frontend"}), jwt.ErrTokenInvalidIssuer},
		{"wrong aud, unverified", Config{Audience: "frontend"}, signed(map[string]any{"id_utente": 1, "exp": future, "aud": "app"}), jwt.ErrTokenInvalidAudience},
		{"garbage", open, "not.a.jwt", jwt.ErrTokenMalformed},
		{"two segments", open, "abc.def", jwt.ErrTokenMalformed},
		{"empty", open, "", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Inspect(tt.cfg, tt.token)
			if in.Verified != (len(tt.cfg.Secret) > 0 && in.Header != nil && !errors.Is(in.Err, ErrAlgorithm)) {
				t.Errorf("Verified = %v", in.Verified)
			}
			if tt.reason == nil {
				if in.Err != nil {
					t.Fatalf("Err = %v, want accepted", in.Err)
				}
			} else if !errors.Is(in.Err, tt.reason) {
				t.Fatalf("Err = %v, want %v", in.Err, tt.reason)
			}
			if in.Err != nil && !errors.Is(in.Err, ErrInvalid) && !errors.Is(in.Err, ErrMissing) {
				t.Errorf("Err = %v does not wrap ErrInvalid", in.Err)
			}
			if len(tt.cfg.Secret) > 0 {
				// With the secret Inspect says exactly what Verify says.
				v, err := NewVerifier(tt.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(tt.token); (err == nil) != (in.Err == nil) {
					t.Errorf("Verify = %v but Inspect = %v", err, in.Err)
				}
			}
		})
	}
	in := Inspect(open, signed(map[string]any{"id_utente": 42, "ruolo": "admin", "exp": future}))
	if in.Header["alg"] != "HS256" || in.Claims["id_utente"] != float64(42) || in.Claims["ruolo"] != "admin" {
		t.Errorf("decoded header %v claims %v", in.Header, in.Claims)
	}
}

func TestInspectUsesTheConfiguredClock(t *testing.T) {
	tok, err := Issue(IssueOptions{Secret: secret, UserID: 1, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	if in := Inspect(Config{Secret: secret, Now: later}, tok); !errors.Is(in.Err, jwt.ErrTokenExpired) {
		t.Fatalf("two hours later: %v, want expired", in.Err)
	}
}

func FuzzInspect(f *testing.F) {
	tok, _ := Issue(IssueOptions{Secret: secret, UserID: 1})
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	v, err := NewVerifier(Config{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := Inspect(Config{Secret: secret}, s)
		if _, err := v.Verify(s); (err == nil) != (in.Err == nil) {
			t.Fatalf("Inspect(%q) = %v, Verify = %v", s, in.Err, err)
		}
		_ = Inspect(Config{}, s)
	})
}
