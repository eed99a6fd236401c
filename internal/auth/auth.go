// Package auth issues and verifies the HS256 JWTs of the seed backend:
// claims id_utente (integer user id), ruolo and exp, with iss/aud checked
// when configured. It knows nothing about HTTP or Socket.IO.
package auth

import (
	"errors"
	"fmt"
	"math"
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

// Errors of Verify. ErrInvalid wraps the library's reason.
var (
	ErrMissing = errors.New("token missing")
	ErrInvalid = errors.New("token invalid")
)

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
}

// Verifier checks tokens with one secret. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
}

// maxTokenBytes bounds what is parsed at all; the seed's tokens are ~200 bytes.
const maxTokenBytes = 8 << 10

// NewVerifier returns a Verifier; the secret must not be empty.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("jwt secret is empty")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(opts...)}, nil
}

// Verify parses and validates a token: HS256 only, exp required and in the
// future, a positive integer id_utente, iss/aud when configured.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, ErrMissing
	}
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, maxTokenBytes)
	}
	var raw jwt.MapClaims
	if _, err := v.parser.ParseWithClaims(token, &raw, func(*jwt.Token) (any, error) { return v.cfg.Secret, nil }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	uid, ok := raw["id_utente"].(float64)
	if !ok || uid <= 0 || uid != math.Trunc(uid) || uid > 1<<53 {
		return nil, fmt.Errorf("%w: id_utente missing or not a positive integer", ErrInvalid)
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
