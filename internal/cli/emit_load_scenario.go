package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/coworkctl/coworkctl/internal/loadtest/scenario"
	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
	"github.com/coworkctl/coworkctl/internal/loadtest/vuser"
)

// runEmitScenario is `emit load --scenario FILE`: virtual users arrive by
// the script's phases and run its flows.
func runEmitScenario(ctx context.Context, o *EmitLoadOptions) error {
	script, err := scenario.Load(o.Scenario)
	if err != nil {
		return usageError{err}
	}
	ths, err := parseThresholds(o.Thresholds)
	if err != nil {
		return err
	}
	if o.Report != "" && o.Report == o.CSV {
		return UsageErrorf("--report and --csv name the same file %q", o.Report)
	}
	target := o.Target
	if target == "" && script.Config.Target == "" {
		if target, err = o.Conn.ServerURL(); err != nil {
			return err
		}
	}
	token, err := o.vuserTokens()
	if err != nil {
		return err
	}
	files, err := createReportFiles(o.Report, o.CSV)
	if err != nil {
		return err
	}
	defer files.discard()
	cfg := vuser.Config{
		Script: script, Target: target, Token: token, Dial: vuser.SocketIODialer(),
		PollingShare: o.PollingShare, Timeout: o.ConnectTimeout, Seed: o.Seed,
	}
	var prog *progressLine
	if !o.NoProgress && isTerminalWriter(o.F.ErrOut) {
		prog = &progressLine{w: o.F.ErrOut}
		cfg.Progress = prog.vusers
	}
	rep, err := vuser.Run(ctx, cfg)
	if prog != nil {
		prog.clear()
	}
	if rep == nil {
		if errors.Is(err, vuser.ErrConfig) {
			return usageError{err}
		}
		return err
	}
	rep.Check(ths)
	if o.JSON {
		if werr := writeJSON(o.F.Out, rep); werr != nil {
			return werr
		}
	} else if werr := rep.WriteText(o.F.Out); werr != nil {
		return werr
	}
	if werr := files.writeScenario(rep, o.F.ErrOut); werr != nil {
		return werr
	}
	switch {
	case err != nil:
		return err // interrupted: the report says so
	case len(rep.Failures) > 0:
		return &ExitCodeError{Code: ExitError, Err: fmt.Errorf("load test failed: %s", strings.Join(rep.Failures, "; "))}
	case !rep.Pass:
		return &ExitCodeError{Code: ExitThreshold, Err: fmt.Errorf("threshold breached: %s", strings.Join(rep.Breached(), "; "))}
	}
	return nil
}

func parseThresholds(texts []string) ([]threshold.Threshold, error) {
	var out []threshold.Threshold
	for _, t := range texts {
		th, err := threshold.Parse(t)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, th)
	}
	return out, nil
}

// vuserTokens gives every virtual user its own token when a secret is
// given (id_utente --user-base + i), the one --token otherwise, and none
// without credentials (a server that asks for none, as Artillery's
// examples).
func (o *EmitLoadOptions) vuserTokens() (func(int) (string, error), error) {
	switch {
	case o.Conn.Token != "":
		tok := o.Conn.Token
		return func(int) (string, error) { return tok, nil }, nil
	case o.Conn.HasCredentials():
		if _, err := o.Conn.MintFor(o.UserBase, o.Conn.Role); err != nil {
			return nil, UsageErrorf("mint virtual-user tokens: %v", err)
		}
		return func(i int) (string, error) { return o.Conn.MintFor(o.UserBase+int64(i), o.Conn.Role) }, nil
	}
	return func(int) (string, error) { return "", nil }, nil
}

func (p *progressLine) vusers(s vuser.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K%-10s %5.1fs  vusers created %d  active %d  completed %d  failed %d  errors %d",
		s.Phase, s.Elapsed.Seconds(), s.Created, s.Active, s.Completed, s.Failed, s.Errors)
}

// writeScenario fills and closes the files of a scenario run.
func (f *reportFiles) writeScenario(rep *vuser.Report, errOut io.Writer) error {
	return f.fill(func(w io.Writer) error { return rep.WriteHTML(w, VersionString()) }, rep.WriteCSV, errOut)
}
