package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/spf13/cobra"
)

// EmitCancelOptions are the flags of `coworkctl emit cancel`.
type EmitCancelOptions struct {
	F      *Factory
	Conn   ConnFlags
	Space  string
	Date   string
	Slot   int
	Reason string
	// Prenotazione, when not 0, is the reservation meant: the server
	// refuses (409) if the slot now has another one.
	Prenotazione int64
	JSON         bool
}

// NewCmdEmitCancel frees a held or booked slot as staff through
// POST /api/admin/slots/{slot}/cancel. Exit codes as emit hold: 0 the
// server agreed, 1 it refused or could not be reached, 2 bad flags.
func NewCmdEmitCancel(f *Factory, runF func(context.Context, *EmitCancelOptions) error) *cobra.Command {
	o := &EmitCancelOptions{F: f}
	cmd := &cobra.Command{
		Use:   "cancel --space SPAZIO@SEDE --slot N --reason TEXT [--date YYYY-MM-DD]",
		Short: "Cancel whatever holds or books a slot (staff)",
		Long: `Cancel the hold or booking on one slot as staff, through
POST /api/admin/slots/{slot}/cancel: the slot turns available for everyone in
the spazio's room, the holder gets slot_cancelled with the reason, and the
change is kept in the slot's history (coworkctl emit history).

Needs a staff token (gestore, responsabile, amministratore or admin); with
--jwt-secret one is minted for --as-user with --role (default admin). --reason
is required (at most 200 characters, one line). --prenotazione ID cancels only
if that reservation still holds the slot (else 409, nothing changed).

Exit status: 0 cancelled, 1 the server refused (404 nothing to cancel, 409 the
slot changed, 400 bad reason or slot, 401/403 token) or could not be reached,
2 bad flags. --json prints the answer (or refusal) as JSON.`,
		Example: `  coworkctl emit cancel --space 2@1 --date 2026-11-21 --slot 3 --reason "Sala chiusa per manutenzione" --jwt-secret "$SECRET"
  coworkctl emit cancel --space 2@1 --slot 3 --reason "Doppia prenotazione" --token "$STAFF_TOKEN" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEmitCancel(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleAdmin)
	fl.StringVar(&o.Space, "space", "", "the spazio: SPAZIO@SEDE, e.g. 2@1 (required)")
	fl.StringVar(&o.Date, "date", "", "date YYYY-MM-DD (default today)")
	fl.IntVar(&o.Slot, "slot", 0, "slot number, 1-based within the day (required)")
	fl.StringVar(&o.Reason, "reason", "", "why, shown to the holder and kept in the history (required)")
	fl.Int64Var(&o.Prenotazione, "prenotazione", 0, "cancel only if this prenotazione still holds the slot")
	fl.BoolVar(&o.JSON, "json", false, "print the server's answer as JSON")
	_ = cmd.MarkFlagRequired("space")
	_ = cmd.MarkFlagRequired("slot")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// spaceDateFlags validates --space and --date, which defaults to today.
func spaceDateFlags(space string, date *string) (spazio, sede int64, err error) {
	if spazio, sede, err = parseSpace(space); err != nil {
		return 0, 0, err
	}
	if *date == "" {
		*date = today()
	}
	if _, err := time.Parse(protocol.DateLayout, *date); err != nil {
		return 0, 0, UsageErrorf("--date %q is not YYYY-MM-DD", *date)
	}
	return spazio, sede, nil
}

func runEmitCancel(ctx context.Context, o *EmitCancelOptions) error {
	spazio, sede, err := spaceDateFlags(o.Space, &o.Date)
	if err != nil {
		return err
	}
	if o.Slot <= 0 {
		return UsageErrorf("--slot must be positive, got %d", o.Slot)
	}
	if strings.TrimSpace(o.Reason) == "" {
		return UsageErrorf("--reason is required: say why, the holder will read it")
	}
	if o.Prenotazione < 0 {
		return UsageErrorf("--prenotazione must be positive, got %d", o.Prenotazione)
	}
	rest, err := restClient(&o.Conn)
	if err != nil {
		return err
	}
	req := protocol.SlotCancelRequest{IDSpazio: spazio, SedeID: sede, Date: o.Date, Reason: o.Reason}
	if o.Prenotazione != 0 {
		req.PrenotazioneID = o.Prenotazione
	}
	what := fmt.Sprintf("cancel slot %d of spazio %s on %s", o.Slot, o.Space, o.Date)
	res, err := rest.Cancel(ctx, o.Slot, req)
	if err != nil {
		return o.refused(rest.Server(), what, err)
	}
	if o.JSON {
		return writeJSON(o.F.Out, res)
	}
	d := res.Data
	_, err = fmt.Fprintf(o.F.Out, "%s: %s (prenotazione %d of user %d, was %s; version %d)\n",
		what, res.Message, d.PrenotazioneID, d.IDUtente, d.PreviousStatus, d.Version)
	return err
}

// refused prints a refusal as JSON when asked and returns the exit error.
func (o *EmitCancelOptions) refused(server, what string, err error) error {
	var ae *client.APIError
	if o.JSON && errors.As(err, &ae) {
		if werr := writeJSON(o.F.Out, slotRefusal{Status: ae.Status, Error: ae.Message, Code: ae.Code}); werr != nil {
			return werr
		}
	}
	return apiFailure(server, what, err)
}

// EmitHistoryOptions are the flags of `coworkctl emit history`.
type EmitHistoryOptions struct {
	F     *Factory
	Conn  ConnFlags
	Space string
	Date  string
	Slot  int
	Limit int
	JSON  bool
}

// NewCmdEmitHistory prints a grid's audit trail from
// GET /api/admin/slots/{idSpazio}/{date}/history (staff).
func NewCmdEmitHistory(f *Factory, runF func(context.Context, *EmitHistoryOptions) error) *cobra.Command {
	o := &EmitHistoryOptions{F: f}
	cmd := &cobra.Command{
		Use:   "history --space SPAZIO@SEDE [--date YYYY-MM-DD] [--slot N]",
		Short: "Print who held, booked, released, cancelled a spazio's slots, and which holds expired (staff)",
		Long: `Print the audit trail of one spazio on one date, newest first, from
GET /api/admin/slots/{idSpazio}/{date}/history: when, slot, action, status
before and after, who acted (user and role; expiries show the holder with role
system), the prenotazione, the reason of a cancel, and the grid version.
Needs a staff token, as emit cancel. --json prints the server's answer.`,
		Example: `  coworkctl emit history --space 2@1 --date 2026-11-21 --jwt-secret "$SECRET"
  coworkctl emit history --space 2@1 --slot 3 --limit 20 --token "$STAFF_TOKEN" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEmitHistory(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl, auth.RoleAdmin)
	fl.StringVar(&o.Space, "space", "", "the spazio: SPAZIO@SEDE, e.g. 2@1 (required)")
	fl.StringVar(&o.Date, "date", "", "date YYYY-MM-DD (default today)")
	fl.IntVar(&o.Slot, "slot", 0, "only this slot (1-based); 0 for every slot")
	fl.IntVar(&o.Limit, "limit", 0, "at most this many entries (0: the server's default, 100)")
	fl.BoolVar(&o.JSON, "json", false, "print the server's answer as JSON")
	_ = cmd.MarkFlagRequired("space")
	return cmd
}

func runEmitHistory(ctx context.Context, o *EmitHistoryOptions) error {
	spazio, _, err := spaceDateFlags(o.Space, &o.Date)
	if err != nil {
		return err
	}
	if o.Slot < 0 {
		return UsageErrorf("--slot must be positive (or 0 for every slot), got %d", o.Slot)
	}
	if o.Limit < 0 {
		return UsageErrorf("--limit must be positive, got %d", o.Limit)
	}
	rest, err := restClient(&o.Conn)
	if err != nil {
		return err
	}
	h, err := rest.History(ctx, spazio, o.Date, client.HistoryQuery{Slot: o.Slot, Limit: o.Limit})
	if err != nil {
		return apiFailure(rest.Server(), fmt.Sprintf("history of spazio %s on %s", o.Space, o.Date), err)
	}
	if o.JSON {
		return writeJSON(o.F.Out, protocol.HistoryResponse{Success: true, Data: h})
	}
	return writeHistory(o.F.Out, h, time.Local)
}

// writeHistory prints a history as a table, times in loc.
func writeHistory(w io.Writer, h protocol.HistoryList, loc *time.Location) error {
	scope := "every slot"
	if h.Slot > 0 {
		scope = fmt.Sprintf("slot %d", h.Slot)
	}
	fmt.Fprintf(w, "spazio %d@%d on %s, %s: %d %s, newest first\n", h.IDSpazio, h.IDSede, h.Date, scope,
		h.Count, map[bool]string{true: "entry", false: "entries"}[h.Count == 1])
	if len(h.Entries) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tSLOT\tACTION\tFROM → TO\tBY\tPRENOTAZIONE\tVERSION\tREASON")
	for _, e := range h.Entries {
		when := e.At
		if t, err := protocol.ParseTimestamp(e.At); err == nil {
			when = t.In(loc).Format(time.DateTime)
		}
		by := fmt.Sprintf("%d (%s)", e.UserID, orDash(e.Role))
		if e.UserID != e.HolderID {
			by += fmt.Sprintf(", holder %d", e.HolderID)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s → %s\t%s\t%d\t%d\t%s\n", when, e.SlotID, e.Action, e.From, e.To, by,
			e.PrenotazioneID, e.Version, strconv.Quote(e.Reason))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
