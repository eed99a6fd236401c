package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
)

// reachError is a request that never got an answer from the server.
type reachError struct {
	server, reason string
	err            error
}

func (e *reachError) Error() string { return "cannot reach " + e.server + ": " + e.reason }
func (e *reachError) Unwrap() error { return e.err }

// cannotReach returns "cannot reach SERVER: REASON" when err is a transport
// failure (nothing listens, unknown host, no answer within timeout; zero
// means unknown), and nil when the server did answer (*client.APIError, a
// refused Socket.IO connect) or the user interrupted. watch and emit share
// it so a dead server reads the same everywhere.
func cannotReach(server string, timeout time.Duration, err error) error {
	var ae *client.APIError
	if err == nil || errors.As(err, &ae) || errors.Is(err, context.Canceled) {
		return nil
	}
	var timedOut interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timedOut) && timedOut.Timeout() {
		reason := "no answer in time"
		if timeout > 0 {
			reason = fmt.Sprintf("no answer within %s", timeout)
		}
		return &reachError{server: server, reason: reason, err: err}
	}
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	if errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ue) {
		return &reachError{server: server, reason: netReason(err), err: err}
	}
	return nil
}
