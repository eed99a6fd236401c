package eio

import "time"

// A reader that stops reading while it is sent small messages is not
// caught by the send queue bound: the kernel's socket buffers (the peer's
// receive window and ours) absorb megabytes, every write succeeds, and
// only the heartbeat ends the session (~45 s). With Config.StallTimeout
// set, the writer also watches the kernel: a socket with data unsent or
// unacknowledged whose peer has acknowledged nothing new for StallTimeout
// is a stalled reader, dropped like a slow consumer.

// stallWatch is one session's view of its socket's progress; owned by
// whoever holds the session's writing flag.
type stallWatch struct {
	acked     uint64    // Bytes_acked at the last progress
	progress  time.Time // when progress was last seen
	nextCheck time.Time
}

// stalled reports whether the session's socket made no progress for the
// stall timeout. It reads the socket at most every quarter of the
// timeout (and every second at least), so that a busy socket costs one
// system call per check, not per write.
func (s *Session) stalled(now time.Time) bool {
	timeout := s.srv.cfg.StallTimeout
	if timeout <= 0 || s.raw == nil || now.Before(s.stall.nextCheck) {
		return false
	}
	s.stall.nextCheck = now.Add(min(timeout/4, time.Second))
	acked, pending, ok := sendProgress(s.raw)
	if !ok {
		return false
	}
	if !pending || acked != s.stall.acked || s.stall.progress.IsZero() {
		s.stall.acked, s.stall.progress = acked, now
		return false
	}
	return now.Sub(s.stall.progress) >= timeout
}
