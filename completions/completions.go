// Package completions holds the shell completion scripts of coworkctl,
// generated from the command tree (the same bytes `coworkctl completion
// SHELL` prints). Regenerate them with `go generate ./completions`; a test
// fails when they are stale.
//
// Install:
//
//	bash:       source completions/coworkctl.bash   (or copy to /etc/bash_completion.d/coworkctl)
//	zsh:        cp completions/_coworkctl "${fpath[1]}/_coworkctl"
//	fish:       cp completions/coworkctl.fish ~/.config/fish/completions/
//	PowerShell: . ./completions/coworkctl.ps1       (add to $PROFILE to keep it)
package completions

//go:generate go run ./gen

import (
	"fmt"
	"io"

	"github.com/coworkctl/coworkctl/internal/cli"
	"github.com/spf13/cobra"
)

// Files maps each shell to the file its script lives in.
var Files = map[string]string{
	"bash":       "coworkctl.bash",
	"zsh":        "_coworkctl",
	"fish":       "coworkctl.fish",
	"powershell": "coworkctl.ps1",
}

// Root returns the command tree the scripts are generated from.
func Root() *cobra.Command {
	return cli.NewCmdRoot(&cli.Factory{Out: io.Discard, ErrOut: io.Discard, Getenv: func(string) string { return "" }, IsTerminal: func() bool { return false }})
}

// Generate writes the completion script of shell, with descriptions, as
// `coworkctl completion SHELL` does.
func Generate(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("unknown shell %q", shell)
}
