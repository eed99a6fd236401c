package cli

import (
	"fmt"
	"io"
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
// COWORK_<NAME> variable. Flags win over the environment, and a flag's
// own variable over its deprecated alias's. Slice flags take
// comma-separated values.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	fs := cmd.Flags()
	given := map[string]bool{} // by canonical name
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			given[canonicalFlag(fl)] = true
		}
	})
	var firstErr error
	for _, aliases := range []bool{false, true} {
		fs.VisitAll(func(fl *pflag.Flag) {
			if firstErr != nil || fl.Name == "help" || isAlias(fl) != aliases || given[canonicalFlag(fl)] {
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
			given[canonicalFlag(fl)] = true
		})
	}
	return firstErr
}

// aliasOf is the annotation of a deprecated flag name kept so old scripts
// work; its value names the flag that replaced it.
const aliasOf = "coworkctl_alias_of"

// addFlagAlias registers name as a hidden, deprecated alias of the flag
// to, sharing its value. Check it with flagChanged, not Changed(to).
func addFlagAlias(fs *pflag.FlagSet, name, to string) {
	target := fs.Lookup(to)
	fs.AddFlag(&pflag.Flag{
		Name: name, Usage: "deprecated alias of --" + to, Value: target.Value, DefValue: target.DefValue,
		Hidden: true, Annotations: map[string][]string{aliasOf: {to}},
	})
}

func isAlias(fl *pflag.Flag) bool { return len(fl.Annotations[aliasOf]) == 1 }

// canonicalFlag is the name of the flag fl stands for.
func canonicalFlag(fl *pflag.Flag) string {
	if isAlias(fl) {
		return fl.Annotations[aliasOf][0]
	}
	return fl.Name
}

// flagChanged reports whether the flag name or one of its aliases was set.
func flagChanged(fs *pflag.FlagSet, name string) bool {
	changed := false
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed && canonicalFlag(fl) == name {
			changed = true
		}
	})
	return changed
}

// warnDeprecatedFlags tells on stderr which alias to stop using. pflag's
// own deprecation notice would go to stdout, the output of --json.
func warnDeprecatedFlags(cmd *cobra.Command, w io.Writer, getenv func(string) string) {
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if !isAlias(fl) {
			return
		}
		to := canonicalFlag(fl)
		switch {
		case fl.Changed:
			fmt.Fprintf(w, "coworkctl: --%s is deprecated here, use --%s\n", fl.Name, to)
		case getenv != nil && getenv(EnvName(fl.Name)) != "" && getenv(EnvName(to)) == "" && !flagChanged(cmd.Flags(), to):
			fmt.Fprintf(w, "coworkctl: %s is deprecated for %s, use %s\n", EnvName(fl.Name), cmd.CommandPath(), EnvName(to))
		}
	})
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
