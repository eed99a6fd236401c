package loadtest

import "time"

// Rusage returns this process's user and system CPU time and its peak
// resident set size in KiB; zeros where the platform does not say.
func Rusage() (user, sys time.Duration, maxRSSKiB int64) { return rusage() }
