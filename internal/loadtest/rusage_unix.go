//go:build unix

package loadtest

import (
	"syscall"
	"time"
)

// rusage returns this process's user and system CPU time and its peak
// resident set size in KiB (Linux reports ru_maxrss in KiB).
func rusage() (user, sys time.Duration, maxRSSKiB int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), int64(ru.Maxrss)
}
