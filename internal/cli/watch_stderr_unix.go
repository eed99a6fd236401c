//go:build unix

package cli

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// redirectStderr points file descriptor 2 at path (or /dev/null) while the
// dashboard owns the terminal, and returns the function that restores it.
// Whatever writes to file descriptor 2 directly, not through os.Stderr,
// would otherwise tear the dashboard, so swapping os.Stderr would not be
// enough.
func redirectStderr(path string) (func(), error) {
	if path == "" {
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	saved, err := unix.Dup(2)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("dup stderr: %w", err)
	}
	if err := unix.Dup2(int(f.Fd()), 2); err != nil {
		_ = f.Close()
		_ = unix.Close(saved)
		return nil, fmt.Errorf("redirect stderr: %w", err)
	}
	return func() {
		_ = unix.Dup2(saved, 2)
		_ = unix.Close(saved)
		_ = f.Close()
	}, nil
}
