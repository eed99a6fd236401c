package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/spf13/cobra"
)

// Slot actions of `coworkctl emit`.
const (
	slotHold    = "hold"
	slotBook    = "book"
	slotRelease = "release"
)

// EmitSlotOptions are the flags of `coworkctl emit hold|book|release`.
type EmitSlotOptions struct {
	F      *Factory
	Conn   ConnFlags
	Action string
	Space  string
	Date   string
	Slot   int
	JSON   bool
}

// NewCmdEmitSlot performs one slot action (hold, book or release) as a user
// through the REST API. It exits 0 when the server agreed, 1 when it
// refused (the refusal is printed), 2 on bad flags.
func NewCmdEmitSlot(f *Factory, action string, runF func(context.Context, *EmitSlotOptions) error) *cobra.Command {
	o := &EmitSlotOptions{F: f, Action: action}
	short := map[string]string{
		slotHold:    "Hold a slot for the user (occupied until --hold-ttl on the server)",
		slotBook:    "Confirm the user's own hold on a slot",
		slotRelease: "Release the user's own hold on a slot",
	}[action]
	cmd := &cobra.Command{
		Use:   action + " --space SPAZIO@SEDE --slot N [--date YYYY-MM-DD]",
		Short: short,
		Long: short + `, through POST /api/slots/{slot}/` + action + `,
and print the server's answer. Exit status: 0 the server agreed, 1 it refused
(409 taken, 404 not yours, 400 past or out of range, 401/403 token) or could
not be reached, 2 bad flags. --json prints the answer (or refusal) as JSON.`,
		Example: `  coworkctl emit ` + action + ` --space 2@1 --date "$(date -d tomorrow +%F)" --slot 3 --jwt-secret "$SECRET" --as-user 42
  coworkctl emit ` + action + ` --space 2@1 --slot 3 --token "$TOKEN" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEmitSlot(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleCliente)
	fl.StringVar(&o.Space, "space", "", "the spazio: SPAZIO@SEDE, e.g. 2@1 (required)")
	fl.StringVar(&o.Date, "date", "", "date YYYY-MM-DD (default today)")
	fl.IntVar(&o.Slot, "slot", 0, "slot number, 1-based within the day (required)")
	fl.BoolVar(&o.JSON, "json", false, "print the server's answer as JSON")
	_ = cmd.MarkFlagRequired("space")
	_ = cmd.MarkFlagRequired("slot")
	return cmd
}

// slotRefusal is the JSON printed for a refused action with --json.
type slotRefusal struct {
	Success bool   `json:"success"`
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Code    string `json:"code,omitempty"`
}

func runEmitSlot(ctx context.Context, o *EmitSlotOptions) error {
	spazio, sede, err := parseSpace(o.Space)
	if err != nil {
		return err
	}
	if o.Slot <= 0 {
		return UsageErrorf("--slot must be positive, got %d", o.Slot)
	}
	if o.Date == "" {
		o.Date = today()
	}
	if _, err := time.Parse(protocol.DateLayout, o.Date); err != nil {
		return UsageErrorf("--date %q is not YYYY-MM-DD", o.Date)
	}
	rest, err := restClient(&o.Conn)
	if err != nil {
		return err
	}
	req := protocol.SlotActionRequest{IDSpazio: spazio, SedeID: sede, Date: o.Date}
	call := map[string]func(context.Context, int, protocol.SlotActionRequest) (*protocol.SlotActionResponse, error){
		slotHold: rest.Hold, slotBook: rest.Book, slotRelease: rest.Release,
	}[o.Action]
	what := fmt.Sprintf("%s slot %d of spazio %s on %s", o.Action, o.Slot, o.Space, o.Date)
	res, err := call(ctx, o.Slot, req)
	if err != nil {
		var ae *client.APIError
		if o.JSON && errors.As(err, &ae) {
			if werr := writeJSON(o.F.Out, slotRefusal{Status: ae.Status, Error: ae.Message, Code: ae.Code}); werr != nil {
				return werr
			}
		}
		return apiFailure(rest.Server(), what, err)
	}
	if o.JSON {
		return writeJSON(o.F.Out, res)
	}
	line := what + ": " + res.Message
	if d := res.Data; d != nil {
		if d.PrenotazioneID != 0 {
			line += fmt.Sprintf(" (prenotazione %d", d.PrenotazioneID)
			if d.ExpiresAt != nil {
				line += ", expires " + *d.ExpiresAt
			}
			line += ")"
		}
	}
	_, err = fmt.Fprintln(o.F.Out, line)
	return err
}
