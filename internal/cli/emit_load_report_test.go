package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmitLoadReportFlags(t *testing.T) {
	var got *EmitLoadOptions
	cmd := NewCmdEmitLoad(&Factory{}, func(_ context.Context, o *EmitLoadOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--report", "out.html", "--csv", "out.csv"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Report != "out.html" || got.CSV != "out.csv" {
		t.Fatalf("report %q, csv %q", got.Report, got.CSV)
	}
}

func TestEmitLoadReportFiles(t *testing.T) {
	dir := t.TempDir()
	html, csv := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.csv")
	base := []string{"emit", "load", "--token", "t", "--server", "http://127.0.0.1:1", "--clients", "1", "--duration", "1s"}

	if code, stderr := runArgs(t, append(base, "--report", html, "--csv", html)...); code != ExitUsage || !strings.Contains(stderr, "same file") {
		t.Errorf("--report and --csv on one file: exit %d, stderr %q", code, stderr)
	}
	// An unwritable path fails before the run, naming the flag.
	if code, stderr := runArgs(t, append(base, "--report", filepath.Join(dir, "missing", "r.html"))...); code == 0 || !strings.Contains(stderr, "--report") {
		t.Errorf("unwritable --report: exit %d, stderr %q", code, stderr)
	}
	// A run that cannot start leaves no empty files behind.
	if code, _ := runArgs(t, append(base, "--report", html, "--csv", csv)...); code == 0 {
		t.Fatalf("unreachable server: exit 0")
	}
	for _, f := range []string{html, csv} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", f, err)
		}
	}
}
