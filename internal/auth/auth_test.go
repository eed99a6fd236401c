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
