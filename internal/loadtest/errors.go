package loadtest

import (
	"context"
	"errors"
	"maps"
	"net"
	"strconv"
	"sync"

	"github.com/coworkctl/coworkctl/internal/client"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// ErrorCounts counts errors by kind ("connect_refused", "hold_http_500",
// …). It is safe for concurrent use.
type ErrorCounts struct {
	mu sync.Mutex
	m  map[string]uint64
}

// Add counts one error of kind.
func (e *ErrorCounts) Add(kind string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]uint64{}
	}
	e.m[kind]++
	e.mu.Unlock()
}

// Snapshot returns a copy of the counts.
func (e *ErrorCounts) Snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := maps.Clone(e.m)
	if out == nil {
		out = map[string]uint64{}
	}
	return out
}

// Total sums every kind.
func (e *ErrorCounts) Total() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, v := range e.m {
		n += v
	}
	return n
}

// errorKind classifies err for the report under the given prefix:
// prefix_http_<status>, prefix_timeout, prefix_refused, prefix_failed;
// refusals (a CONNECT refused, HTTP 401 or 403) carry the server's text.
func errorKind(prefix string, err error) string {
	var ae *client.APIError
	var ce *sioclient.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403) && ae.Message != "":
		// An auth refusal's text says which: no token, a bad one, not staff.
		return prefix + "_http_" + strconv.Itoa(ae.Status) + ": " + ae.Message
	case errors.As(err, &ae):
		return prefix + "_http_" + strconv.Itoa(ae.Status)
	case errors.As(err, &ce) && ce.Message != "":
		// The refusal's text is the server's reason (a bad token, a limit).
		return prefix + "_refused: " + ce.Message
	case errors.As(err, &ce):
		return prefix + "_refused"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return prefix + "_timeout"
	default:
		return prefix + "_failed"
	}
}
