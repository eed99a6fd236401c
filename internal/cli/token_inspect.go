package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"
)

// TokenInspectOptions are the flags of `coworkctl token inspect`.
type TokenInspectOptions struct {
	F          *Factory
	Token      string
	Secret     string
	SecretFile string
	Issuer     string
	Audience   string
	JSON       bool
	// Now and Location fix the clock and zone of the report; nil means
	// time.Now and time.Local.
	Now      func() time.Time
	Location *time.Location
}

// NewCmdTokenInspect decodes a token and says whether the server would
// accept it, and why not.
func NewCmdTokenInspect(f *Factory, runF func(*TokenInspectOptions) error) *cobra.Command {
	o := &TokenInspectOptions{F: f}
	cmd := &cobra.Command{
		Use:   "inspect [TOKEN | -]",
		Short: "Decode a JWT and say whether the server would accept it, and why not",
		Long: `Decode TOKEN (or COWORK_TOKEN; - reads it from stdin), print its claims and
say in one line whether the server would accept it: expired, not yet valid,
wrong algorithm, bad signature, no id_utente, wrong iss/aud. The checks are
the server's own. The signature is checked only when the secret is given
(--jwt-secret, COWORK_JWT_SECRET or --jwt-secret-file); pass --jwt-issuer and
--jwt-audience when the server requires them.

Exit status: 0 the server would accept the token (if its signature is right,
when it was not checked), 1 it would refuse it, 2 usage.`,
		Example: `  coworkctl token inspect "$TOKEN"
  coworkctl token inspect --jwt-secret s3cret "$TOKEN"
  coworkctl token --jwt-secret s3cret --user 42 | coworkctl token inspect - --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Token = args[0]
			}
			if runF != nil {
				return runF(o)
			}
			return runTokenInspect(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Secret, "jwt-secret", "", "HS256 secret to check the signature with (env COWORK_JWT_SECRET)")
	fl.StringVar(&o.SecretFile, "jwt-secret-file", "", "read the secret from this file")
	fl.StringVar(&o.Issuer, "jwt-issuer", "", "the iss claim the server requires (serve --jwt-issuer)")
	fl.StringVar(&o.Audience, "jwt-audience", "", "the aud claim the server requires (serve --jwt-audience)")
	fl.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	return cmd
}

// tokenReport is the JSON of `token inspect --json`.
type tokenReport struct {
	// Refused: the server would refuse the token; Reason says why.
	Refused bool   `json:"refused"`
	Reason  string `json:"reason,omitempty"`
	// SignatureChecked is false without a secret: an unrefused token is
	// then accepted only if its signature is right.
	SignatureChecked bool           `json:"signature_checked"`
	Role             string         `json:"role,omitempty"`
	Staff            bool           `json:"staff"`
	ExpiresAt        string         `json:"expires_at,omitempty"`
	Header           map[string]any `json:"header"`
	Claims           map[string]any `json:"claims"`
}

// maxTokenInput bounds what is read from stdin; tokens are far smaller.
const maxTokenInput = 64 << 10

func runTokenInspect(o *TokenInspectOptions) error {
	tok, err := o.token()
	if err != nil {
		return err
	}
	secret, err := readSecret(o.Secret, o.SecretFile)
	if err != nil {
		return err
	}
	now, loc := time.Now, o.Location
	if o.Now != nil {
		now = o.Now
	}
	if loc == nil {
		loc = time.Local
	}
	cfg := auth.Config{Secret: []byte(secret), Issuer: o.Issuer, Audience: o.Audience, Now: now}
	in := auth.Inspect(cfg, tok)
	t := now()
	r := tokenReport{Refused: in.Err != nil, SignatureChecked: in.Verified, Header: in.Header, Claims: in.Claims}
	if in.Err != nil {
		r.Reason = refusal(in, cfg, t, loc)
	}
	r.Role, _ = in.Claims["ruolo"].(string)
	r.Staff = auth.IsStaff(r.Role)
	if exp, err := in.Claims.GetExpirationTime(); err == nil && exp != nil {
		r.ExpiresAt = exp.UTC().Format(time.RFC3339)
	}
	if o.JSON {
		err = writeJSON(o.F.Out, r)
	} else {
		err = writeTokenReport(o.F.Out, in, r, secret != "", t, loc)
	}
	if err != nil {
		return err
	}
	if r.Refused {
		// The report already says why; exit 1 without repeating it.
		return &ExitCodeError{Code: ExitError, Err: errors.New("")}
	}
	return nil
}

// token returns the token to inspect: the argument, stdin for "-", or
// COWORK_TOKEN; a pasted "Bearer " prefix is dropped.
func (o *TokenInspectOptions) token() (string, error) {
	tok := o.Token
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(o.F.In, maxTokenInput))
		if err != nil {
			return "", fmt.Errorf("read token from stdin: %w", err)
		}
		tok = string(b)
	}
	if tok == "" && o.F.Getenv != nil {
		tok = o.F.Getenv(EnvName("token"))
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return "", UsageErrorf("no token: pass TOKEN, - to read it from stdin, or set %s", EnvName("token"))
	}
	return tok, nil
}

// refusal turns Inspect's error into one line; a token refused for
// several claims lists them all.
func refusal(in *auth.Inspection, cfg auth.Config, now time.Time, loc *time.Location) string {
	err := in.Err
	switch {
	case errors.Is(err, auth.ErrMissing):
		return "no token"
	case errors.Is(err, auth.ErrAlgorithm):
		alg, _ := in.Header["alg"].(string)
		if alg == "" {
			alg = "(none)"
		}
		return fmt.Sprintf("wrong algorithm %s (the server accepts %s only)", alg, strings.Join(auth.Algorithms, ", "))
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token: " + strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": token is malformed: ")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature: not signed with this secret"
	case errors.Is(err, auth.ErrUserID):
		if v, ok := in.Claims["id_utente"]; ok {
			b, _ := json.Marshal(v)
			return fmt.Sprintf("id_utente %s is not a positive integer", b)
		}
		return "missing id_utente"
	}
	var reasons []string
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		if _, ok := in.Claims["exp"]; !ok {
			reasons = append(reasons, "no exp claim (the server requires one)")
		}
		if iss, _ := in.Claims.GetIssuer(); iss == "" && cfg.Issuer != "" {
			reasons = append(reasons, fmt.Sprintf("no iss claim (the server requires %q)", cfg.Issuer))
		}
		if aud, _ := in.Claims.GetAudience(); len(aud) == 0 && cfg.Audience != "" {
			reasons = append(reasons, fmt.Sprintf("no aud claim (the server requires %q)", cfg.Audience))
		}
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		exp, _ := in.Claims.GetExpirationTime()
		reasons = append(reasons, "expired at "+whenText(exp, now, loc))
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		nbf, _ := in.Claims.GetNotBefore()
		reasons = append(reasons, "not yet valid until "+whenText(nbf, now, loc))
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		iat, _ := in.Claims.GetIssuedAt()
		reasons = append(reasons, "issued in the future, at "+whenText(iat, now, loc))
	}
	if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		iss, _ := in.Claims.GetIssuer()
		reasons = append(reasons, fmt.Sprintf("wrong iss %q (the server requires %q)", iss, cfg.Issuer))
	}
	if errors.Is(err, jwt.ErrTokenInvalidAudience) {
		aud, _ := in.Claims.GetAudience()
		reasons = append(reasons, fmt.Sprintf("wrong aud %q (the server requires %q)", strings.Join(aud, ", "), cfg.Audience))
	}
	if len(reasons) == 0 {
		return strings.TrimPrefix(oneLine(err), auth.ErrInvalid.Error()+": ")
	}
	return strings.Join(reasons, "; ")
}

// whenText is "2026-05-01 09:00:00 CEST (3h12m ago)".
func whenText(d *jwt.NumericDate, now time.Time, loc *time.Location) string {
	if d == nil {
		return "(unknown)"
	}
	t := d.In(loc)
	rel := humanDuration(t.Sub(now)) + " ago"
	if t.After(now) {
		rel = "in " + humanDuration(t.Sub(now))
	}
	return t.Format("2006-01-02 15:04:05 MST") + " (" + rel + ")"
}

// humanDuration prints |d| with its two largest units: 42s, 12m5s, 3h12m, 2d3h.
func humanDuration(d time.Duration) string {
	d = d.Abs().Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// claimOrder lists the seed's and the registered claims first.
var claimOrder = []string{"id_utente", "ruolo", "sub", "iss", "aud", "iat", "nbf", "exp"}

func writeTokenReport(w io.Writer, in *auth.Inspection, r tokenReport, haveSecret bool, now time.Time, loc *time.Location) error {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k, v) }
	if in.Claims != nil {
		names := make([]string, 0, len(in.Claims))
		for k := range in.Claims {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			oi, oj := slices.Index(claimOrder, names[i]), slices.Index(claimOrder, names[j])
			if oi < 0 {
				oi = len(claimOrder)
			}
			if oj < 0 {
				oj = len(claimOrder)
			}
			return oi < oj || oi == oj && names[i] < names[j]
		})
		for _, k := range names {
			v := in.Claims[k]
			text, _ := json.Marshal(v)
			switch k {
			case "ruolo", "iss", "sub":
				if s, ok := v.(string); ok {
					text = []byte(s)
				}
			case "iat", "nbf", "exp":
				if f, ok := v.(float64); ok {
					text = []byte(whenText(jwt.NewNumericDate(time.Unix(int64(f), 0)), now, loc))
				}
			}
			if k == "ruolo" {
				text = append(text, staffText(r.Staff)...)
			}
			row(k, string(text))
		}
		if _, ok := in.Claims["ruolo"]; !ok {
			row("ruolo", "(none)"+staffText(false))
		}
	}
	if alg, ok := in.Header["alg"].(string); ok {
		row("alg", alg)
	}
	switch {
	case in.Verified && errors.Is(in.Err, jwt.ErrTokenSignatureInvalid):
		row("signature", "BAD: not signed with this secret")
	case in.Verified:
		row("signature", "valid")
	case haveSecret:
		row("signature", "not checked (refused before)")
	default:
		row("signature", "not checked: no --jwt-secret, COWORK_JWT_SECRET or --jwt-secret-file")
	}
	switch {
	case r.Refused:
		row("verdict", "refused: "+r.Reason)
	case in.Verified:
		row("verdict", "accepted"+expiresText(in, now))
	default:
		row("verdict", "accepted if the signature is right (not checked)"+expiresText(in, now))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func staffText(staff bool) string {
	if staff {
		return " (staff)"
	}
	return " (not staff)"
}

func expiresText(in *auth.Inspection, now time.Time) string {
	if exp, err := in.Claims.GetExpirationTime(); err == nil && exp != nil {
		return ", expires in " + humanDuration(exp.Sub(now))
	}
	return ""
}
