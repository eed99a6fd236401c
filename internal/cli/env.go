package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// EnvName is the environment variable that backs a flag: COWORK_<NAME>
// with dashes as underscores, e.g. --jwt-secret → COWORK_JWT_SECRET.
func EnvName(flag string) string {
	return "COWORK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv fills every flag of cmd the user did not set from its
// COWORK_<NAME> variable. Flags win over the environment. Slice flags take
// comma-separated values.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	var firstErr error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || firstErr != nil || fl.Name == "help" {
			return
		}
		v := getenv(EnvName(fl.Name))
		if v == "" {
			return
		}
		if err := fl.Value.Set(v); err != nil {
			firstErr = usageError{fmt.Errorf("invalid %s=%q: %w", EnvName(fl.Name), v, err)}
			return
		}
		fl.Changed = true
	})
	return firstErr
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand") || strings.Contains(msg, "arg(s)") ||
		strings.HasPrefix(msg, "required flag") || strings.HasPrefix(msg, "invalid argument")
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// readSecret returns the secret from --X-file when given, else the value.
func readSecret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
