package cli

import (
	"fmt"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/spf13/cobra"
)

// TokenOptions are the flags of `coworkctl token`.
type TokenOptions struct {
	F          *Factory
	Secret     string
	SecretFile string
	UserID     int64
	Role       string
	TTL        time.Duration
	Issuer     string
	Audience   string
}

// NewCmdToken mints a test JWT with the seed's claims; its inspect
// subcommand explains one.
func NewCmdToken(f *Factory, runF func(*TokenOptions) error) *cobra.Command {
	o := &TokenOptions{F: f}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a test JWT (HS256, claims id_utente, ruolo, exp), or inspect one",
		Example: `  coworkctl token --jwt-secret s3cret --user 42 --role cliente
  TOKEN=$(coworkctl token --jwt-secret s3cret --user 1 --role admin --ttl 8h)
  coworkctl token inspect "$TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return runToken(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Secret, "jwt-secret", "", "HS256 secret shared with the server (env COWORK_JWT_SECRET)")
	fl.StringVar(&o.SecretFile, "jwt-secret-file", "", "read the secret from this file")
	fl.Int64Var(&o.UserID, "user", 1, "id_utente claim")
	fl.StringVar(&o.Role, "role", auth.RoleCliente, "ruolo claim: cliente, gestore, responsabile, amministratore or admin")
	fl.DurationVar(&o.TTL, "ttl", time.Hour, "lifetime of the token (exp = now + ttl)")
	fl.StringVar(&o.Issuer, "jwt-issuer", "", "iss claim")
	fl.StringVar(&o.Audience, "jwt-audience", "", "aud claim")
	cmd.AddCommand(NewCmdTokenInspect(f, nil))
	return cmd
}

func runToken(o *TokenOptions) error {
	secret, err := readSecret(o.Secret, o.SecretFile)
	if err != nil {
		return err
	}
	if secret == "" {
		return UsageErrorf("--jwt-secret (or COWORK_JWT_SECRET, or --jwt-secret-file) is required")
	}
	if o.TTL <= 0 {
		return UsageErrorf("--ttl must be positive, got %s", o.TTL)
	}
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: o.UserID, Role: o.Role, TTL: o.TTL, Issuer: o.Issuer, Audience: o.Audience})
	if err != nil {
		return usageError{err}
	}
	_, err = fmt.Fprintln(o.F.Out, tok)
	return err
}
