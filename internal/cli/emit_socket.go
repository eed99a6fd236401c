package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/spf13/cobra"
)

// EmitSocketOptions are the flags of `coworkctl emit socket`.
type EmitSocketOptions struct {
	F    *Factory
	Conn ConnFlags

	Event      string
	Data       []string
	NoAck      bool
	AckTimeout time.Duration
	Listen     time.Duration
	Transport  string
	JSON       bool
}

// NewCmdEmitSocket sends one client→server event over Socket.IO and prints
// the ack and every event that arrives while it listens: a scriptable probe
// of the server, like wscat for Socket.IO.
func NewCmdEmitSocket(f *Factory, runF func(context.Context, *EmitSocketOptions) error) *cobra.Command {
	o := &EmitSocketOptions{F: f}
	cmd := &cobra.Command{
		Use:   "socket EVENT [--data JSON]...",
		Short: "Send a client event over Socket.IO and print the ack and the events that come back",
		Long: `Connect as a user, send EVENT with the given arguments (each --data is one
JSON argument), print the server's ack and then every event received for
--listen. Lines are "<event> <json args>"; with --json each line is one JSON
object {"event","room","data","args","time","at"}, the shape of watch --json,
and the ack is the line of event "ack" (its arguments also under "ack").
Exits 1 when the connection is refused, the ack does not come within
--ack-timeout, or the ack says {"success": false}.`,
		Example: `  coworkctl emit socket join_space --data '{"spazioId":2,"sedeId":1}' --listen 3s --jwt-secret "$SECRET"
  coworkctl emit socket join_space --data '{"spazioId":99,"sedeId":1}' --json    # expect space_error
  coworkctl emit socket ping_latency --token "$TOKEN"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Event = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEmitSocket(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleCliente)
	fl.StringArrayVar(&o.Data, "data", nil, "JSON argument of the event (repeatable, in order)")
	fl.BoolVar(&o.NoAck, "no-ack", false, "do not ask for an acknowledgement")
	fl.DurationVar(&o.AckTimeout, "ack-timeout", 5*time.Second, "how long to wait for the ack")
	fl.DurationVar(&o.Listen, "listen", 2*time.Second, "how long to print incoming events after the ack (0 stops at the ack)")
	fl.StringVar(&o.Transport, "transport", sioclient.TransportWebSocket, "websocket or polling")
	fl.BoolVar(&o.JSON, "json", false, "print JSON lines")
	return cmd
}

// socketConnectTimeout bounds the Socket.IO handshake of emit socket.
const socketConnectTimeout = 10 * time.Second

func runEmitSocket(ctx context.Context, o *EmitSocketOptions) error {
	if protocol.ReservedEvents[o.Event] {
		return UsageErrorf("%q is a reserved Socket.IO event name", o.Event)
	}
	if o.Transport != sioclient.TransportWebSocket && o.Transport != sioclient.TransportPolling {
		return UsageErrorf("--transport must be websocket or polling, got %q", o.Transport)
	}
	args := make([]any, 0, len(o.Data))
	for _, d := range o.Data {
		raw, err := parseJSONArg("--data", d)
		if err != nil {
			return err
		}
		args = append(args, raw)
	}
	server, err := o.Conn.ServerURL()
	if err != nil {
		return err
	}
	tok, err := o.Conn.ResolveToken()
	if err != nil {
		return err
	}

	// Events are printed by one goroutine in arrival order.
	var mu sync.Mutex
	var werr error
	print := func(name string, args []json.RawMessage, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if werr != nil {
			return
		}
		if o.JSON {
			room := ""
			if len(args) > 0 {
				room = client.RoomOf(args[0])
			}
			werr = writeJSON(o.F.Out, protocol.NewEventLine(name, room, args, at))
			return
		}
		line := name
		for _, a := range args {
			line += " " + string(a)
		}
		_, werr = fmt.Fprintln(o.F.Out, line)
	}
	closed := make(chan error, 1)
	conn, err := sioclient.Dial(ctx, sioclient.Options{
		URL: server, Auth: map[string]string{"token": tok}, Transports: []string{o.Transport}, ConnectTimeout: socketConnectTimeout,
		OnRawEvent: func(c *sioclient.Conn, pkt []byte, at time.Time) {
			name, args, err := c.ParseEvent(pkt)
			if err != nil {
				print("(unparsable)", []json.RawMessage{mustJSON(string(pkt))}, at)
				return
			}
			print(name, args, at)
		},
		OnClose: func(_ *sioclient.Conn, err error) { closed <- err },
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r := cannotReach(server, socketConnectTimeout, err); r != nil {
			return &ExitCodeError{Code: ExitError, Err: r}
		}
		return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("connect to %s: %w", server, err)}
	}
	defer conn.Close()

	var failed error
	if o.NoAck {
		if err := conn.Emit(o.Event, args...); err != nil {
			return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("emit %s: %w", o.Event, err)}
		}
	} else {
		actx, cancel := context.WithTimeout(ctx, o.AckTimeout)
		ack, err := conn.EmitWithAck(actx, o.Event, args...)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("emit %s: %w", o.Event, err)}
		}
		raw, err := json.Marshal(ack)
		if err != nil {
			return fmt.Errorf("emit %s: ack: %w", o.Event, err)
		}
		mu.Lock()
		if o.JSON {
			werr = writeJSON(o.F.Out, protocol.NewAckLine(ack, time.Now()))
		} else {
			_, werr = fmt.Fprintf(o.F.Out, "ack %s\n", raw)
		}
		mu.Unlock()
		var first protocol.Ack
		if len(ack) == 1 && json.Unmarshal(ack[0], &first) == nil && !first.Success && first.Error != "" {
			failed = fmt.Errorf("%s refused: %s", o.Event, first.Error)
		}
	}
	if o.Listen > 0 {
		select {
		case <-time.After(o.Listen):
		case err := <-closed:
			if err != nil {
				failed = errors.Join(failed, fmt.Errorf("connection closed by the server: %w", err))
			}
		case <-ctx.Done():
		}
	}
	conn.Close()
	mu.Lock()
	defer mu.Unlock()
	if werr != nil {
		return werr
	}
	if failed != nil {
		return &ExitCodeError{Code: ExitError, Err: failed}
	}
	return nil
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
