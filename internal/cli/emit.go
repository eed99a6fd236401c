package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/spf13/cobra"
)

// NewCmdEmit groups the emit subcommands: one-off staff broadcasts, slot
// actions as a user, client-side Socket.IO probes and load tests.
func NewCmdEmit(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emit",
		Short: "Fire test events, perform slot actions, probe the socket and run load tests",
		Long: `emit talks to a running coworkctl (or seed Node.js) server:

  emit event NAME            broadcast an event to a space, user, room or everyone (staff endpoint)
  emit hold|book|release     act on one slot as a user through the REST API
  emit cancel                cancel the hold or booking on one slot (staff)
  emit history               print who changed a spazio's slots on a date (staff)
  emit socket EVENT          send any client event over Socket.IO, print the ack and what comes back
  emit load                  open many clients and measure delivery latency, loss and throughput

Every subcommand authenticates with --token (COWORK_TOKEN), or mints a token with
--jwt-secret (COWORK_JWT_SECRET) for --as-user N with --role R.

Exit codes: 0 success; 1 the server refused, could not be reached, or a load test measured nothing; 2 usage;
3 a load-test threshold (--max-p99, --max-loss, --max-connect-failures) was breached; 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdEmitEvent(f, nil),
		NewCmdEmitSlot(f, slotHold, nil),
		NewCmdEmitSlot(f, slotBook, nil),
		NewCmdEmitSlot(f, slotRelease, nil),
		NewCmdEmitCancel(f, nil),
		NewCmdEmitHistory(f, nil),
		NewCmdEmitSocket(f, nil),
		NewCmdEmitLoad(f, nil),
	)
	return cmd
}

// restClient resolves --server and the token and returns a REST client.
func restClient(c *ConnFlags) (*client.REST, error) {
	server, err := c.ServerURL()
	if err != nil {
		return nil, err
	}
	tok, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	return client.NewREST(server, tok), nil
}

// parseSpace parses SPAZIO@SEDE, e.g. 3@1.
func parseSpace(s string) (spazio, sede int64, err error) {
	a, b, ok := strings.Cut(s, "@")
	if ok {
		spazio, err = strconv.ParseInt(a, 10, 64)
		if err == nil {
			sede, err = strconv.ParseInt(b, 10, 64)
		}
	}
	if !ok || err != nil || spazio <= 0 || sede <= 0 {
		return 0, 0, UsageErrorf("--space %q: want SPAZIO@SEDE with positive ids, e.g. 3@1", s)
	}
	return spazio, sede, nil
}

// parseJSONArg validates a JSON argument and returns it unchanged.
func parseJSONArg(flag, s string) (json.RawMessage, error) {
	if !json.Valid([]byte(s)) {
		return nil, UsageErrorf("%s %q is not valid JSON (quote strings: '\"text\"')", flag, s)
	}
	return json.RawMessage(s), nil
}

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminalWriter reports whether w is a terminal (progress displays).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// today returns the local date as YYYY-MM-DD.
func today() string { return time.Now().Format(protocol.DateLayout) }

// apiFailure turns a REST error into the command's error: the server's
// refusal exits 1 with its message, an unreachable server exits 1 with
// "cannot reach SERVER: …" (as watch says it), an interrupt stays one.
func apiFailure(server, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if r := cannotReach(server, 0, err); r != nil {
		err = r
	}
	return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("%s: %w", what, err)}
}
