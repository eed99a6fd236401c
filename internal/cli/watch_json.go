package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// watchLineOf converts a client event to its NDJSON line: a server
// event, or a connection-state change with Event "connection" and the
// state in Data.
func watchLineOf(ev client.Event) (protocol.EventLine, error) {
	args := ev.Args
	if ev.State != nil {
		b, err := json.Marshal(ev.State)
		if err != nil {
			return protocol.EventLine{}, fmt.Errorf("encode state: %w", err)
		}
		args = []json.RawMessage{b}
	}
	return protocol.NewEventLine(ev.Name, ev.Room, args, ev.At), nil
}

// runWatchJSON prints events as NDJSON until --count, --timeout (left
// is what remains of it; zero: none), the context's end or the socket
// giving up. tokenExp is when a --token expires: watch warns on stderr
// ahead of it and names it when the server then refuses the token.
func runWatchJSON(ctx context.Context, o *WatchOptions, sock *client.Socket, left time.Duration, tokenExp time.Time, log *slog.Logger) error {
	var timeout <-chan time.Time
	if left > 0 {
		t := time.NewTimer(left)
		defer t.Stop()
		timeout = t.C
	}
	if !tokenExp.IsZero() {
		// Joined before returning: no warning is written after watch ends.
		defer goOwned(ctx, func(ctx context.Context) { warnTokenExpiry(ctx, o.F.ErrOut, tokenExp, log) })()
	}
	err := streamJSON(ctx, o.F.Out, sock.Events(), o.Count, o.Timeout, timeout)
	var lost *connLostError
	if errors.As(err, &lost) {
		if exp := expiredTokenError(tokenExp, time.Now()); exp != nil {
			return fmt.Errorf("connection lost: %w", exp)
		}
	}
	return err
}

// connLostError: the socket gave up; reason is its last word.
type connLostError struct{ reason string }

func (e *connLostError) Error() string { return "connection lost: " + e.reason }

// streamJSON is runWatchJSON without the socket, for tests.
func streamJSON(ctx context.Context, out io.Writer, events <-chan client.Event, count int, timeoutD time.Duration, timeout <-chan time.Time) error {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	seen := 0
	var last *client.ConnState
	for {
		select {
		case <-ctx.Done():
			_ = w.Flush()
			return ctx.Err()
		case <-timeout:
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			if count > 0 && seen < count {
				return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("timeout after %s: %d of %d events", timeoutD, seen, count)}
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				if err := w.Flush(); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				reason := "connection closed"
				if last != nil && last.Reason != "" {
					reason = last.Reason
				}
				return &connLostError{reason: reason}
			}
			line, err := watchLineOf(ev)
			if err != nil {
				return err
			}
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			if ev.State != nil {
				last = ev.State
			} else {
				seen++
			}
			// Flush per event: a pipe reader (jq, a lobby screen) wants
			// each line as it happens.
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			if count > 0 && seen >= count {
				return nil
			}
		}
	}
}
