package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coworkctl/coworkctl/internal/testkit"
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
	ctx := context.Background()
	conn, dsn, own := backendSchema(t)
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

// backendSchema loads a scratch copy of the backend's tables into a schema
// of its own, dropped with coworkctl's own schema when the test ends. It
// returns an admin connection, the DSN that reaches the copy and the name
// for coworkctl's own schema.
func backendSchema(t *testing.T) (conn *pgx.Conn, dsn, own string) {
	t.Helper()
	base := os.Getenv("COWORK_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("needs COWORK_TEST_POSTGRES_URL")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "cli_" + hex.EncodeToString(b)
	own = schema + "_own"
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE; DROP SCHEMA IF EXISTS "+own+" CASCADE")
		_ = conn.Close(context.Background())
	})
	fixture, err := os.ReadFile("../store/mio/testdata/backend.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema+"; SET search_path = "+schema+";\n"+string(fixture)+"\nRESET search_path"); err != nil {
		t.Fatal(err)
	}
	return conn, base + "&search_path=" + schema, own
}

// TestServeDevBannerOnBackendLayout: on the backend's tables --dev loads no
// demo catalog, and the banner says where the catalog comes from instead.
func TestServeDevBannerOnBackendLayout(t *testing.T) {
	_, dsn, own := backendSchema(t)
	env := map[string]string{"COWORK_DB": dsn, "COWORK_DB_LAYOUT": "coworking-mio", "COWORK_DB_OWN_SCHEMA": own}
	f, _, errOut := testFactory(env)
	if code := Run(context.Background(), f, []string{"db", "install"}); code != ExitOK {
		t.Fatalf("db install: exit %d, stderr %q", code, errOut.String())
	}

	f, _, _ = testFactory(env)
	out, serveErr := &syncBuffer{}, &syncBuffer{}
	f.Out, f.ErrOut = out, serveErr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, f, []string{"serve", "--dev", "--addr", "127.0.0.1:0"}) }()
	testkit.Eventually(t, 15*time.Second, "the --dev banner", func() bool { return strings.Contains(out.String(), "staff token:") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code after cancel = %d, want 0; stderr %q", code, serveErr.String())
	}
	banner := out.String()
	if !strings.Contains(banner, "(catalog from the backend's Sede and Spazio, throwaway secret)") || strings.Contains(banner, "demo") {
		t.Fatalf("--dev banner on coworking-mio = %q, want it to name the backend's Sede and Spazio and no demo catalog", banner)
	}
}
