//go:build !unix

package loadtest

import "time"

// rusage is not available on this platform; the report shows zeros.
func rusage() (user, sys time.Duration, maxRSSKiB int64) { return 0, 0, 0 }
