package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/store"
	"github.com/coworkctl/coworkctl/internal/store/mio"
)

// DBOptions are the flags of `coworkctl db install` and `db uninstall`.
type DBOptions struct {
	F         *Factory
	DB        string
	Layout    string
	OwnSchema string
	// DropOwnSchema makes uninstall also drop coworkctl's own schema.
	DropOwnSchema bool
}

// NewCmdDB builds `coworkctl db` with its install and uninstall
// subcommands; runF, when not nil, replaces what they run (tests).
func NewCmdDB(f *Factory, runF func(context.Context, string, *DBOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Install or remove what coworkctl adds to a database",
		Args:  cobra.NoArgs,
	}
	run := func(action string, o *DBOptions) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), action, o)
			}
			return runDB(cmd.Context(), action, o)
		}
	}
	flags := func(c *cobra.Command, o *DBOptions) {
		fl := c.Flags()
		fl.StringVar(&o.DB, "db", "", "database, as serve's --db")
		fl.StringVar(&o.Layout, "db-layout", server.LayoutCoworkctl, "table layout: coworkctl or coworking-mio (the backend's own tables)")
		fl.StringVar(&o.OwnSchema, "db-own-schema", mio.DefaultOwnSchema, "schema of coworkctl's own tables on layout coworking-mio")
	}
	in := &DBOptions{F: f}
	install := &cobra.Command{
		Use:   "install",
		Short: "Create coworkctl's tables, and on layout coworking-mio the trigger that makes the backend's changes live",
		Long: `Create what coworkctl needs in the database and print it. On layout coworkctl: its
tables (serve also creates them at start). On layout coworking-mio: the own
schema (--db-own-schema) with coworkctl's tables and the trigger's function, and
one trigger on the backend's Prenotazione table; no table of the backend is
altered. Idempotent. Undo with coworkctl db uninstall.`,
		Example: `  coworkctl db install --db postgres://app@db/coworkspace --db-layout coworking-mio`,
		Args:    cobra.NoArgs,
		RunE:    run("install", in),
	}
	flags(install, in)
	un := &DBOptions{F: f}
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the trigger and function that db install added (layout coworking-mio)",
		Long: `Drop the trigger on Prenotazione and its function. With --drop-own-schema also
drop coworkctl's own schema (grid versions, audit trail, queued changes). The
backend's rows, holds and bookings made through coworkctl included, stay.`,
		Example: `  coworkctl db uninstall --db postgres://app@db/coworkspace --db-layout coworking-mio`,
		Args:    cobra.NoArgs,
		RunE:    run("uninstall", un),
	}
	flags(uninstall, un)
	uninstall.Flags().BoolVar(&un.DropOwnSchema, "drop-own-schema", false, "also drop coworkctl's own schema and everything in it")
	cmd.AddCommand(install, uninstall)
	return cmd
}

func runDB(ctx context.Context, action string, o *DBOptions) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch o.Layout {
	case server.LayoutCoworkctl:
		if action == "uninstall" {
			return UsageErrorf("db uninstall applies to --db-layout %s; coworkctl's own layout is its whole database", server.LayoutCoworkingMio)
		}
		st, err := store.Open(ctx, o.DB, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.F.Out, "coworkctl tables ready on %s\n", st)
		return st.Close()
	case server.LayoutCoworkingMio:
		if !strings.HasPrefix(o.DB, "postgres://") && !strings.HasPrefix(o.DB, "postgresql://") {
			return UsageErrorf("--db-layout %s needs --db postgres://… (the backend's database)", server.LayoutCoworkingMio)
		}
		cfg := mio.Config{DSN: o.DB, OwnSchema: o.OwnSchema}
		if action == "uninstall" {
			if err := mio.Uninstall(ctx, cfg, o.DropOwnSchema); err != nil {
				return err
			}
			fmt.Fprintln(o.F.Out, "removed the trigger and its function")
			if o.DropOwnSchema {
				fmt.Fprintf(o.F.Out, "dropped schema %s\n", o.OwnSchema)
			}
			return nil
		}
		if err := mio.Install(ctx, cfg); err != nil {
			return err
		}
		fmt.Fprintln(o.F.Out, "installed:")
		for _, what := range mio.Installed(o.OwnSchema) {
			fmt.Fprintln(o.F.Out, "  "+what)
		}
		return nil
	}
	return UsageErrorf("--db-layout %q: want %s or %s", o.Layout, server.LayoutCoworkctl, server.LayoutCoworkingMio)
}
