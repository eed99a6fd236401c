// Package auth issues and verifies the HS256 JWTs of the seed backend:
// claims id_utente (integer user id), ruolo and exp, with iss/aud checked
// when configured. It knows nothing about HTTP or Socket.IO.
package auth

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Roles of the seed backend. Staff roles see holders' ids and may use the
// admin endpoints.
const (
	RoleCliente        = "cliente"
	RoleGestore        = "gestore"
	RoleResponsabile   = "responsabile"
	RoleAmministratore = "amministratore"
	RoleAdmin          = "admin"
)

// Roles lists every known role.
var Roles = []string{RoleCliente, RoleGestore, RoleResponsabile, RoleAmministratore, RoleAdmin}

// IsStaff reports whether role may see personal data and use admin endpoints.
func IsStaff(role string) bool {
	switch role {
	case RoleGestore, RoleResponsabile, RoleAmministratore, RoleAdmin:
		return true
	}
	return false
}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Errors of Verify. ErrInvalid wraps the reason: the library's (its
// jwt.ErrToken… sentinels tell which), ErrAlgorithm or ErrUserID.
var (
	ErrMissing = errors.New("token missing")
	ErrInvalid = errors.New("token invalid")
	// ErrAlgorithm is a token signed with another algorithm than Algorithms.
	ErrAlgorithm = errors.New("signing algorithm not accepted")
	// ErrUserID is a token without a positive integer id_utente.
	ErrUserID = errors.New("id_utente missing or not a positive integer")
)

// Algorithms are the signing algorithms Verify accepts.
var Algorithms = []string{jwt.SigningMethodHS256.Alg()}

// Claims are the seed's JWT claims.
type Claims struct {
	UserID int64  `json:"id_utente"`
	Role   string `json:"ruolo,omitempty"`
	jwt.RegisteredClaims
}

// IsStaff reports whether the claims carry a staff role.
func (c *Claims) IsStaff() bool { return IsStaff(c.Role) }

// ExpiresAt returns the exp claim, or the zero time when there is none.
func (c *Claims) ExpiresAt() time.Time {
	if c.RegisteredClaims.ExpiresAt == nil {
		return time.Time{}
	}
	return c.RegisteredClaims.ExpiresAt.Time
}

// Config configures a Verifier. Empty Issuer/Audience mean "not checked".
type Config struct {
	Secret   []byte
	Issuer   string
	Audience string
	// Leeway tolerates clock skew on exp/nbf/iat; zero means none.
	Leeway time.Duration
	// Now is the clock of exp/nbf; nil means time.Now.
	Now func() time.Time
}

// parserOptions are the rules of Verify, shared with Inspect.
func (cfg Config) parserOptions() []jwt.ParserOption {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	return opts
}

// Verifier checks tokens with one secret. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	// verified remembers tokens that passed, by their exact text (see
	// cached); nil in Inspect's throwaway verifiers.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

// A client sends the same token with every request and every socket
// handshake, and decoding it (two base64 parts and two JSON objects) was
// most of the cost of checking it. A token that passed is remembered by
// its exact text, so a forged or altered one is never a hit, and served
// from memory while its exp, with Leeway, is ahead of the clock: the one
// rule whose answer changes with time. Tokens with nbf, the other such
// rule, are not remembered.
type verifiedToken struct {
	claims Claims
	until  time.Time // exp + Leeway
}

// maxVerifiedTokens bounds the memory of verified tokens; when it is full
// it starts over.
const maxVerifiedTokens = 4096

// maxTokenBytes bounds what is parsed at all; the seed's tokens are ~200 bytes.
const maxTokenBytes = 8 << 10

// NewVerifier returns a Verifier; the secret must not be empty.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("jwt secret is empty")
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(cfg.parserOptions()...), verified: make(map[string]verifiedToken)}, nil
}

// Verify parses and validates a token: HS256 only, exp required and in the
// future, a positive integer id_utente, iss/aud when configured.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if err := checkLength(token); err != nil {
		return nil, err
	}
	if c, ok := v.cached(token); ok {
		return c, nil
	}
	var raw jwt.MapClaims
	if _, err := v.parser.ParseWithClaims(token, &raw, func(*jwt.Token) (any, error) { return v.cfg.Secret, nil }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c, err := claimsOf(raw)
	if err != nil {
		return nil, err
	}
	if _, hasNbf := raw["nbf"]; !hasNbf {
		v.remember(token, c)
	}
	return c, nil
}

func (v *Verifier) now() time.Time {
	if v.cfg.Now != nil {
		return v.cfg.Now()
	}
	return time.Now()
}

// cached returns a copy of the claims of a remembered token that has not
// expired.
func (v *Verifier) cached(token string) (*Claims, bool) {
	v.mu.RLock()
	e, ok := v.verified[token]
	v.mu.RUnlock()
	if !ok || !v.now().Before(e.until) {
		return nil, false
	}
	c := e.claims
	exp := *c.RegisteredClaims.ExpiresAt // claimsOf always sets it
	c.RegisteredClaims.ExpiresAt = &exp
	return &c, true
}

func (v *Verifier) remember(token string, c *Claims) {
	if v.verified == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= maxVerifiedTokens {
		clear(v.verified)
	}
	v.verified[token] = verifiedToken{claims: *c, until: c.ExpiresAt().Add(v.cfg.Leeway)}
}

func checkLength(token string) error {
	if token == "" {
		return ErrMissing
	}
	if len(token) > maxTokenBytes {
		return fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, maxTokenBytes)
	}
	return nil
}

// claimsOf checks id_utente and returns the seed's claims of a token whose
// signature and registered claims passed.
func claimsOf(raw jwt.MapClaims) (*Claims, error) {
	uid, ok := raw["id_utente"].(float64)
	if !ok || uid <= 0 || uid != math.Trunc(uid) || uid > 1<<53 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ErrUserID)
	}
	c := &Claims{UserID: int64(uid)}
	if r, ok := raw["ruolo"].(string); ok {
		c.Role = r
	}
	exp, err := raw.GetExpirationTime()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.RegisteredClaims.ExpiresAt = exp
	c.Issuer, _ = raw.GetIssuer()
	c.Subject, _ = raw.GetSubject()
	return c, nil
}

// Inspection is what Inspect learned about a token.
type Inspection struct {
	// Header and Claims are the decoded parts, untrusted; nil when the
	// token could not be decoded.
	Header map[string]any
	Claims jwt.MapClaims
	// Verified reports whether the signature was checked (cfg had a secret).
	Verified bool
	// Err is why a server with the same Config refuses the token, wrapping
	// ErrInvalid and the reason; nil when it accepts it or, unverified,
	// when only the signature is left to check.
	Err error
}

// Inspect decodes token without trusting it and tells whether a server
// verifying with cfg would accept it. With a secret it runs Verify itself;
// without one it applies every rule of Verify but the signature, so a
// tool can explain a refusal without the secret. Never authenticate with
// an unverified Inspection.
func Inspect(cfg Config, token string) *Inspection {
	in := &Inspection{}
	if in.Err = checkLength(token); in.Err != nil {
		return in
	}
	parser := jwt.NewParser(cfg.parserOptions()...)
	var raw jwt.MapClaims
	t, _, err := parser.ParseUnverified(token, &raw)
	if t != nil && t.Header != nil {
		in.Header, in.Claims = t.Header, raw
		// The algorithm is the first thing the parser checks; name it
		// rather than the library's "signature is invalid".
		if alg, _ := t.Header["alg"].(string); !slices.Contains(Algorithms, alg) {
			in.Err = fmt.Errorf("%w: %w: %q", ErrInvalid, ErrAlgorithm, alg)
			return in
		}
	}
	if err != nil {
		in.Err = fmt.Errorf("%w: %w", ErrInvalid, err)
		return in
	}
	if len(cfg.Secret) > 0 {
		in.Verified = true
		_, in.Err = (&Verifier{cfg: cfg, parser: parser}).Verify(token)
		return in
	}
	if err := jwt.NewValidator(cfg.parserOptions()...).Validate(raw); err != nil {
		in.Err = fmt.Errorf("%w: %w: %w", ErrInvalid, jwt.ErrTokenInvalidClaims, err)
		return in
	}
	_, in.Err = claimsOf(raw)
	return in
}

// IssueOptions describes a token to mint. Zero TTL means one hour.
type IssueOptions struct {
	Secret   []byte
	UserID   int64
	Role     string
	TTL      time.Duration
	Issuer   string
	Audience string
	Now      time.Time // zero means time.Now()
}

// Issue mints an HS256 token with the seed's claims.
func Issue(o IssueOptions) (string, error) {
	if len(o.Secret) == 0 {
		return "", errors.New("jwt secret is empty")
	}
	if o.UserID <= 0 {
		return "", fmt.Errorf("user id must be positive, got %d", o.UserID)
	}
	if o.Role != "" && !ValidRole(o.Role) {
		return "", fmt.Errorf("unknown role %q (want one of %v)", o.Role, Roles)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	c := Claims{UserID: o.UserID, Role: o.Role, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		Issuer:    o.Issuer,
	}}
	if o.Audience != "" {
		c.Audience = jwt.ClaimStrings{o.Audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(o.Secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
