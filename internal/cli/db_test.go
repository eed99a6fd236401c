package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDBLayoutUsageErrors(t *testing.T) {
	pg := "postgres://app@127.0.0.1:1/x"
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"unknown layout", nil, []string{"serve", "--dev", "--db-layout", "mysql"}, `--db-layout "mysql"`},
		{"mio with demo", nil, []string{"serve", "--jwt-secret", "s", "--db", pg, "--db-layout", "coworking-mio", "--demo"}, "drop --demo and --catalog"},
		{"mio on sqlite", map[string]string{"COWORK_DB_LAYOUT": "coworking-mio"}, []string{"serve", "--jwt-secret", "s", "--db", "sqlite:x.db"}, "needs --db postgres://"},
		{"install mio on sqlite", nil, []string{"db", "install", "--db-layout", "coworking-mio"}, "needs --db postgres://"},
		{"uninstall own layout", nil, []string{"db", "uninstall", "--db", pg}, "db uninstall applies to --db-layout coworking-mio"},
		{"install unknown layout", nil, []string{"db", "install", "--db", pg, "--db-layout", "x"}, `--db-layout "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory(tt.env)
			if code := Run(context.Background(), f, tt.args); code != ExitUsage {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, ExitUsage, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("stderr = %q, want it to mention %q", errOut.String(), tt.stderr)
			}
		})
	}
}

// TestDBInstallUninstall runs db install and uninstall against a scratch
// copy of the backend's tables, and serve's refusal before the install.
func TestDBInstallUninstall(t *testing.T) {
	base := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("needs COWORK_TEST_POSTGRES_URL")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "cli_" + hex.EncodeToString(b)
	own := schema + "_own"
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE; DROP SCHEMA IF EXISTS "+own+" CASCADE")
	})
	fixture, err := os.ReadFile("../store/mio/testdata/backend.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema+"; SET search_path = "+schema+";\n"+string(fixture)+"\nRESET search_path"); err != nil {
		t.Fatal(err)
	}
	dsn := base + "&search_path=" + schema
	env := map[string]string{"COWORK_DB": dsn, "COWORK_DB_LAYOUT": "coworking-mio", "COWORK_DB_OWN_SCHEMA": own}

	f, _, errOut := testFactory(env)
	if code := Run(ctx, f, []string{"serve", "--jwt-secret", "s", "--addr", "127.0.0.1:0"}); code != ExitError || !strings.Contains(errOut.String(), "coworkctl db install") {
		t.Fatalf("serve before install: exit %d, stderr %q", code, errOut.String())
	}
	f, out, errOut := testFactory(env)
	if code := Run(ctx, f, []string{"db", "install"}); code != ExitOK {
		t.Fatalf("db install: exit %d, stderr %q", code, errOut.String())
	}
	if want := `trigger "` + own + `_changes" AFTER INSERT OR UPDATE OR DELETE ON Prenotazione`; !strings.Contains(out.String(), want) {
		t.Fatalf("db install printed %q, want it to list %q", out.String(), want)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_trigger WHERE tgname = $1`, own+"_changes").Scan(&n); err != nil || n != 1 {
		t.Fatalf("triggers after install: %d, %v", n, err)
	}
	f, out, errOut = testFactory(env)
	if code := Run(ctx, f, []string{"db", "uninstall", "--drop-own-schema"}); code != ExitOK || !strings.Contains(out.String(), "dropped schema "+own) {
		t.Fatalf("db uninstall: exit %d, out %q, stderr %q", code, out.String(), errOut.String())
	}
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_trigger WHERE tgname = $1`, own+"_changes").Scan(&n); err != nil || n != 0 {
		t.Fatalf("triggers after uninstall: %d, %v", n, err)
	}
}
