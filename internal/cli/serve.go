package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdServe is a placeholder replaced by the serve implementation.
func NewCmdServe(f *Factory, runF func() error) *cobra.Command {
	return &cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error { return errors.New("serve: not built yet") }}
}
