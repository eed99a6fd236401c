package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func signToken(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenInspect(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	key := []byte("s3cret")
	hs := func(c jwt.MapClaims) string { return signToken(t, jwt.SigningMethodHS256, c, key) }
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name     string
		token    string
		opts     TokenInspectOptions
		refused  bool
		contains []string
	}{
		{"valid staff, verified", hs(jwt.MapClaims{"id_utente": 1, "ruolo": "admin", "iat": now.Unix(), "exp": exp}), TokenInspectOptions{Secret: "s3cret"}, false, []string{
			"id_utente  1\n", "ruolo      admin (staff)\n", "iat        2026-05-01 10:00:00 UTC (0s ago)\n",
			"exp        2026-05-01 11:00:00 UTC (in 1h0m)\n", "alg        HS256\n", "signature  valid\n", "verdict    accepted, expires in 1h0m\n"}},
		{"valid cliente, unverified", hs(jwt.MapClaims{"id_utente": 42, "ruolo": "cliente", "exp": exp}), TokenInspectOptions{}, false, []string{
			"ruolo      cliente (not staff)\n", "signature  not checked: no --jwt-secret, COWORK_JWT_SECRET or --jwt-secret-file\n",
			"verdict    accepted if the signature is right (not checked), expires in 1h0m\n"}},
		{"no role", hs(jwt.MapClaims{"id_utente": 42, "exp": exp}), TokenInspectOptions{}, false, []string{"ruolo      (none) (not staff)\n"}},
		{"other claims are shown", hs(jwt.MapClaims{"id_utente": 42, "exp": exp, "email": "a@b.it"}), TokenInspectOptions{}, false, []string{"email      \"a@b.it\"\n"}},
		{"expired", hs(jwt.MapClaims{"id_utente": 1, "exp": now.Add(-3*time.Hour - 12*time.Minute).Unix()}), TokenInspectOptions{Secret: "s3cret"}, true, []string{
			"verdict    refused: expired at 2026-05-01 06:48:00 UTC (3h12m ago)\n"}},
		{"expired, unverified", hs(jwt.MapClaims{"id_utente": 1, "exp": now.Add(-time.Minute).Unix()}), TokenInspectOptions{}, true, []string{
			"verdict    refused: expired at 2026-05-01 09:59:00 UTC (1m0s ago)\n"}},
		{"not yet valid", hs(jwt.MapClaims{"id_utente": 1, "exp": exp, "nbf": now.Add(5 * time.Minute).Unix()}), TokenInspectOptions{}, true, []string{
			"verdict    refused: not yet valid until 2026-05-01 10:05:00 UTC (in 5m0s)\n"}},
		{"wrong algorithm", signToken(t, jwt.SigningMethodHS384, jwt.MapClaims{"id_utente": 1, "exp": exp}, key), TokenInspectOptions{Secret: "s3cret"}, true, []string{
			"verdict    refused: wrong algorithm HS384 (the server accepts HS256 only)\n", "signature  not checked (refused before)\n"}},
		{"bad signature", hs(jwt.MapClaims{"id_utente": 1, "exp": exp}), TokenInspectOptions{Secret: "other"}, true, []string{
			"signature  BAD: not signed with this secret\n", "verdict    refused: bad signature: not signed with this secret\n"}},
		{"no id_utente", hs(jwt.MapClaims{"exp": exp}), TokenInspectOptions{Secret: "s3cret"}, true, []string{"verdict    refused: missing id_utente\n"}},
		{"string id_utente", hs(jwt.MapClaims{"id_utente": "7", "exp": exp}), TokenInspectOptions{}, true, []string{`verdict    refused: id_utente "7" is not a positive integer` + "\n"}},
		{"no exp", hs(jwt.MapClaims{"id_utente": 1}), TokenInspectOptions{}, true, []string{"verdict    refused: no exp claim (the server requires one)\n"}},
		{"wrong iss and no aud", hs(jwt.MapClaims{"id_utente": 1, "exp": exp, "iss": "other"}), TokenInspectOptions{Issuer: "cowork", Audience: "app"}, true, []string{
			`verdict    refused: no aud claim (the server requires "app"); wrong iss "other" (the server requires "cowork")` + "\n"}},
		{"wrong aud", hs(jwt.MapClaims{"id_utente": 1, "exp": exp, "aud": "web"}), TokenInspectOptions{Audience: "app"}, true, []string{
			`verdict    refused: wrong aud "web" (the server requires "app")` + "\n"}},
		{"iss and aud not required are ignored", hs(jwt.MapClaims{"id_utente": 1, "exp": exp, "iss": "x", "aud": "y"}), TokenInspectOptions{}, false, []string{"iss        x\n"}},
		{"malformed", "abc.def", TokenInspectOptions{}, true, []string{"verdict    refused: malformed token: token contains an invalid number of segments\n"}},
		{"bearer prefix", "Bearer " + hs(jwt.MapClaims{"id_utente": 1, "exp": exp}), TokenInspectOptions{}, false, []string{"id_utente  1\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, _ := testFactory(nil)
			o := tt.opts
			o.F, o.Token, o.Now, o.Location = f, tt.token, func() time.Time { return now }, time.UTC
			err := runTokenInspect(&o)
			var ec *ExitCodeError
			if refused := errors.As(err, &ec) && ec.Code == ExitError; refused != tt.refused || (err != nil && !refused) {
				t.Fatalf("err = %v, want refused %v\n%s", err, tt.refused, out)
			}
			if err != nil && ec.Err.Error() != "" {
				t.Errorf("exit error %q would repeat the verdict on stderr", ec.Err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out.String(), "verdict"); n != 1 {
				t.Errorf("%d verdict lines:\n%s", n, out)
			}
		})
	}
}

func TestTokenInspectJSON(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tok := signToken(t, jwt.SigningMethodHS256, jwt.MapClaims{"id_utente": 3, "ruolo": "gestore", "exp": now.Add(-time.Hour).Unix()}, []byte("k"))
	f, out, _ := testFactory(nil)
	err := runTokenInspect(&TokenInspectOptions{F: f, Token: tok, Secret: "k", JSON: true, Now: func() time.Time { return now }, Location: time.UTC})
	if err == nil {
		t.Fatal("an expired token was not refused")
	}
	var r tokenReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !r.Refused || r.Reason != "expired at 2026-05-01 09:00:00 UTC (1h0m ago)" || !r.SignatureChecked || r.Role != "gestore" || !r.Staff ||
		r.ExpiresAt != "2026-05-01T09:00:00Z" || r.Header["alg"] != "HS256" || r.Claims["id_utente"] != float64(3) {
		t.Fatalf("report = %+v", r)
	}
}

// The token and the secret come from the argument, stdin, the environment
// or a file, like everywhere else; the exit code says accepted (0),
// refused (1) or usage (2).
func TestTokenInspectSources(t *testing.T) {
	key := "env-secret"
	good := signToken(t, jwt.SigningMethodHS256, jwt.MapClaims{"id_utente": 5, "exp": time.Now().Add(time.Hour).Unix()}, []byte(key))
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"argument, no secret", nil, "", []string{good}, 0, "signature  not checked"},
		{"COWORK_TOKEN and COWORK_JWT_SECRET", map[string]string{"COWORK_TOKEN": good, "COWORK_JWT_SECRET": key}, "", nil, 0, "signature  valid"},
		{"stdin and secret file", nil, good + "\n", []string{"-", "--jwt-secret-file", file}, 0, "signature  valid"},
		{"wrong secret from env", map[string]string{"COWORK_JWT_SECRET": "nope"}, "", []string{good}, 1, "refused: bad signature"},
		{"no token", nil, "", nil, 2, ""},
		{"two tokens", nil, "", []string{good, good}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory(tt.env)
			f.In = strings.NewReader(tt.stdin)
			code := Run(context.Background(), f, append([]string{"token", "inspect"}, tt.args...))
			if code != tt.code || !strings.Contains(out.String(), tt.out) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if code == 1 && errOut.Len() != 0 {
				t.Errorf("refusal repeated on stderr: %q", errOut)
			}
		})
	}
	// Minting still works as before next to the new subcommand.
	f, out, _ := testFactory(map[string]string{"COWORK_JWT_SECRET": key})
	if code := Run(context.Background(), f, []string{"token", "--user", "9"}); code != 0 || strings.Count(out.String(), ".") != 2 {
		t.Fatalf("token minting: exit %d out %q", code, out)
	}
}
