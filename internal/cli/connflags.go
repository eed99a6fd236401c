package cli

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/spf13/pflag"
)

// DefaultServer is where watch and emit look for a server: serve's default address.
const DefaultServer = "http://localhost:3000"

// ConnFlags are the connection flags shared by watch and emit: a server URL
// and either a token or a secret to mint one with.
type ConnFlags struct {
	Server        string
	Token         string
	JWTSecret     string
	JWTSecretFile string
	UserID        int64
	Role          string
	TokenTTL      time.Duration
	Issuer        string
	Audience      string
}

// AddFlags registers the connection flags; defaultRole differs per command
// (watch wants staff to see stats, emit acts as a client). The minted
// token's user is --as-user everywhere; --user stays as a hidden,
// deprecated alias.
func (c *ConnFlags) AddFlags(fs *pflag.FlagSet, defaultRole string) {
	c.addFlags(fs, defaultRole)
	addFlagAlias(fs, "user", "as-user")
}

// addFlags registers the connection flags without the --user alias, for
// emit event, whose --user is the target user.
func (c *ConnFlags) addFlags(fs *pflag.FlagSet, defaultRole string) {
	fs.StringVar(&c.Server, "server", DefaultServer, "server base URL (env COWORK_SERVER)")
	fs.StringVar(&c.Token, "token", "", "JWT to authenticate with (env COWORK_TOKEN)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "mint a token with this HS256 secret instead of --token (env COWORK_JWT_SECRET)")
	fs.StringVar(&c.JWTSecretFile, "jwt-secret-file", "", "read the minting secret from this file")
	fs.Int64Var(&c.UserID, "as-user", 1, "id_utente of the minted token")
	fs.StringVar(&c.Role, "role", defaultRole, "ruolo of the minted token")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 12*time.Hour, "lifetime of the minted token")
	fs.StringVar(&c.Issuer, "jwt-issuer", "", "iss claim of the minted token")
	fs.StringVar(&c.Audience, "jwt-audience", "", "aud claim of the minted token")
}

// ServerURL validates --server and returns it without a trailing slash.
func (c *ConnFlags) ServerURL() (string, error) {
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", UsageErrorf("--server %q is not an http(s) URL like %s", c.Server, DefaultServer)
	}
	return strings.TrimRight(c.Server, "/"), nil
}

// HasCredentials reports whether a token or a minting secret was given.
func (c *ConnFlags) HasCredentials() bool {
	return c.Token != "" || c.JWTSecret != "" || c.JWTSecretFile != ""
}

// Secret returns the minting secret, or "" when none was given.
func (c *ConnFlags) Secret() (string, error) { return readSecret(c.JWTSecret, c.JWTSecretFile) }

// MintFor mints a token for another user/role with the configured secret
// (load tests mint one per virtual user).
func (c *ConnFlags) MintFor(userID int64, role string) (string, error) {
	secret, err := c.Secret()
	if err != nil {
		return "", err
	}
	if secret == "" {
		return "", UsageErrorf("minting tokens needs --jwt-secret")
	}
	return auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: userID, Role: role, TTL: c.TokenTTL, Issuer: c.Issuer, Audience: c.Audience})
}

// ResolveToken returns --token, or a token minted from --jwt-secret with
// --user/--role. It is an error to give neither.
func (c *ConnFlags) ResolveToken() (string, error) {
	if c.Token != "" {
		return c.Token, nil
	}
	secret, err := c.Secret()
	if err != nil {
		return "", err
	}
	if secret == "" {
		return "", UsageErrorf("no credentials: pass --token (or COWORK_TOKEN), or --jwt-secret with --as-user and --role")
	}
	tok, err := c.MintFor(c.UserID, c.Role)
	if err != nil {
		return "", usageError{fmt.Errorf("mint token: %w", err)}
	}
	return tok, nil
}
