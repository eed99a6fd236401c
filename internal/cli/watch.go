package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// WatchOptions are the flags of `coworkctl watch`.
type WatchOptions struct{ F *Factory }

// NewCmdWatch is a placeholder replaced by the watch implementation.
func NewCmdWatch(f *Factory, runF func(*WatchOptions) error) *cobra.Command {
	return &cobra.Command{Use: "watch", Short: "Live terminal dashboard (in progress)", RunE: func(*cobra.Command, []string) error {
		return errors.New("watch: not built yet")
	}}
}
