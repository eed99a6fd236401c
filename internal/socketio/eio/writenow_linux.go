//go:build linux

package eio

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawConn is conn's socket, or nil when it has none (TLS).
func rawConn(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writevNonblocking makes one writev on the non-blocking socket; a full
// socket buffer writes nothing and is not an error.
func writevNonblocking(raw syscall.RawConn, bufs [][]byte) (int, error) {
	var (
		n    int
		werr error
	)
	if err := raw.Write(func(fd uintptr) bool {
		n, werr = unix.Writev(int(fd), bufs)
		return true
	}); err != nil {
		return 0, err
	}
	switch {
	case errors.Is(werr, unix.EAGAIN), errors.Is(werr, unix.EINTR):
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}

// sendProgress reads the socket's TCP_INFO: the bytes the peer has
// acknowledged so far, and whether anything sent is still unacknowledged
// or waiting to be sent. ok is false when the socket cannot tell.
func sendProgress(raw syscall.RawConn) (acked uint64, pending, ok bool) {
	var (
		info *unix.TCPInfo
		ierr error
	)
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0, false, false
	}
	return info.Bytes_acked, info.Unacked > 0 || info.Notsent_bytes > 0, true
}
