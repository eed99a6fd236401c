package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdEmit is a placeholder replaced by the emit implementation.
func NewCmdEmit(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "emit", Short: "Test events, slot actions and load tests (in progress)", RunE: func(*cobra.Command, []string) error {
		return errors.New("emit: not built yet")
	}}
}
