// Package cli builds the coworkctl command tree. Each subcommand has an
// Options struct and a NewCmdX(f, runF) constructor so tests can drive it
// without a process; Main is the one exit point that turns errors into
// exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitError     = 1
	ExitUsage     = 2
	ExitThreshold = 3 // emit load: a --max-* threshold was breached
	ExitInterrupt = 130
)

// Factory carries what every command needs from the outside world.
type Factory struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Getenv reads the environment; tests inject a map.
	Getenv func(string) string
	// IsTerminal reports whether Out is a terminal.
	IsTerminal func() bool
}

// usageError marks errors that should exit with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// UsageErrorf returns an error that exits with code 2.
func UsageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// ExitCodeError carries an explicit exit code (for example a breached
// load-test threshold) with the message to print.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "coworkctl",
		Short: "Real-time slot server, live dashboard and load generator for coworking spaces",
		Long: `coworkctl replaces the real-time layer of the coworking backend:

  serve   the Socket.IO slot server (holds, bookings, expiry, stats, metrics)
  watch   a live terminal dashboard of slot grids, stats and events
  emit    test events, slot actions and load tests

Every flag can also be set as COWORK_<FLAG> in the environment (the flag wins),
e.g. COWORK_JWT_SECRET, COWORK_DB, COWORK_SERVER, COWORK_TOKEN.`,
		Version:       VersionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			warnDeprecatedFlags(cmd, f.ErrOut, f.Getenv)
			return applyEnv(cmd, f.Getenv)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(f.In)
	root.SetOut(f.Out)
	root.SetErr(f.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		NewCmdServe(f, nil),
		NewCmdWatch(f, nil),
		NewCmdEmit(f),
		NewCmdToken(f, nil),
		NewCmdVersion(f),
		NewCmdDB(f, nil),
	)
	return root
}

// Main runs coworkctl with os.Args and returns the process exit code.
func Main() int {
	f := &Factory{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, IsTerminal: func() bool { return isTerminal(os.Stdout) }}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, f, os.Args[1:])
}

// Run executes args against a fresh command tree and maps the outcome to an
// exit code, printing the error once.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ec *ExitCodeError
	var ue usageError
	switch {
	case errors.As(err, &ec):
		if ec.Err != nil && ec.Err.Error() != "" {
			fmt.Fprintln(f.ErrOut, "coworkctl:", oneLine(ec.Err))
		}
		return ec.Code
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return ExitInterrupt
	case errors.As(err, &ue) || isCobraUsageError(err):
		fmt.Fprintln(f.ErrOut, "coworkctl:", oneLine(err))
		fmt.Fprintln(f.ErrOut, usageHint(cmd))
		return ExitUsage
	default:
		fmt.Fprintln(f.ErrOut, "coworkctl:", oneLine(err))
		return ExitError
	}
}

// usageHint points to the help of the command that failed, not the root's.
func usageHint(cmd *cobra.Command) string {
	path := "coworkctl"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return fmt.Sprintf("Run '%s --help' for usage.", path)
}

// oneLine folds a multi-line error (pgx lists every address it tried) into
// one line, dropping repeated parts, so a failure reads as one clear line.
func oneLine(err error) string {
	var parts []string
	for _, p := range strings.Split(err.Error(), "\n") {
		p = strings.TrimSpace(p)
		if p != "" && !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}
