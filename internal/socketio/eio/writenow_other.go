//go:build !linux

package eio

import (
	"errors"
	"net"
	"syscall"
)

// rawConn is nil: sends always go through a writer goroutine here.
func rawConn(net.Conn) syscall.RawConn { return nil }

func writevNonblocking(syscall.RawConn, [][]byte) (int, error) {
	return 0, errors.New("eio: no non-blocking writev on this platform")
}

// sendProgress cannot tell here: stalls are left to the heartbeat.
func sendProgress(syscall.RawConn) (acked uint64, pending, ok bool) { return 0, false, false }
