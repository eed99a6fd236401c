package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/spf13/cobra"
)

func TestParseSpace(t *testing.T) {
	tests := []struct {
		in           string
		spazio, sede int64
		ok           bool
	}{
		{"3@1", 3, 1, true},
		{"12@2", 12, 2, true},
		{"3", 0, 0, false},
		{"3@", 0, 0, false},
		{"@1", 0, 0, false},
		{"0@1", 0, 0, false},
		{"3@-1", 0, 0, false},
		{"a@b", 0, 0, false},
		{"3@1@2", 0, 0, false},
	}
	for _, tt := range tests {
		sp, sd, err := parseSpace(tt.in)
		if (err == nil) != tt.ok || sp != tt.spazio || sd != tt.sede {
			t.Errorf("parseSpace(%q) = %d, %d, %v", tt.in, sp, sd, err)
		}
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("parseSpace(%q) error %v is not a usage error", tt.in, err)
		}
	}
}

func TestParseJSONArg(t *testing.T) {
	for _, ok := range []string{`{}`, `{"a":[1,2]}`, `"text"`, `42`, `null`} {
		if _, err := parseJSONArg("--data", ok); err != nil {
			t.Errorf("parseJSONArg(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{``, `text`, `{a:1}`, `{"a":1`} {
		if _, err := parseJSONArg("--data", bad); err == nil {
			t.Errorf("parseJSONArg(%q) accepted invalid JSON", bad)
		}
	}
}

// runArgs runs the real command tree with args and returns the exit code.
func runArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }, IsTerminal: func() bool { return false }}
	return Run(context.Background(), f, args), errOut.String()
}

func TestEmitUsageErrors(t *testing.T) {
	tests := [][]string{
		{"emit", "event", "x", "--token", "t"},                            // no target
		{"emit", "event", "x", "--all", "--room", "r", "--token", "t"},    // two targets
		{"emit", "event", "disconnect", "--all", "--token", "t"},          // reserved name
		{"emit", "event", "x", "--all", "--data", "{bad", "--token", "t"}, // bad JSON
		{"emit", "event", "x", "--user", "0", "--token", "t"},             // bad user
		{"emit", "hold", "--space", "2@1", "--token", "t"},                // --slot missing
		{"emit", "hold", "--space", "2@1", "--slot", "3"},                 // no credentials
		{"emit", "book", "--space", "2@1", "--slot", "3", "--date", "x", "--token", "t"},
		{"emit", "socket", "connect", "--token", "t"},                            // reserved
		{"emit", "socket", "x", "--transport", "carrier-pigeon", "--token", "t"}, // bad transport
		{"emit", "load"}, // no credentials
		{"emit", "load", "--token", "t", "--transport", "udp"},
		{"emit", "load", "--token", "t", "--max-loss", "2"},
		{"emit", "load", "--token", "t", "--server", "ftp://x"},
		{"emit", "load", "--token", "t", "--clients", "0", "--server", "http://127.0.0.1:1"},
	}
	for _, args := range tests {
		if code, stderr := runArgs(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
	}
}

func TestEmitEventUserFlagIsTheTarget(t *testing.T) {
	for _, target := range []string{"--to-user", "--user"} { // --user: its old name
		var got *EmitEventOptions
		cmd := NewCmdEmitEvent(&Factory{}, func(_ context.Context, o *EmitEventOptions) error { got = o; return nil })
		cmd.SetArgs([]string{"promo", target, "42", "--as-user", "7", "--role", "gestore", "--data", `{"a":1}`})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.Event != "promo" || got.User != 42 || got.Conn.UserID != 7 || got.Conn.Role != "gestore" || got.Data != `{"a":1}` {
			t.Fatalf("%s: options = %+v", target, got)
		}
	}
}

// runEmitChild runs args against the real tree with the emit subcommand
// name replaced by cmd (built with a runF), so root hooks (environment,
// deprecation warnings) apply.
func runEmitChild(t *testing.T, f *Factory, cmd *cobra.Command, args ...string) error {
	t.Helper()
	root := NewCmdRoot(f)
	emit, _, err := root.Find([]string{"emit"})
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := emit.Find([]string{cmd.Name()})
	if err != nil || old == emit {
		t.Fatalf("no emit %s", cmd.Name())
	}
	emit.RemoveCommand(old)
	emit.AddCommand(cmd)
	root.SetArgs(append([]string{"emit", cmd.Name()}, args...))
	return root.Execute()
}

// Every emit subcommand names the minted token's user --as-user;
// --user keeps working where it meant that, with a warning on
// stderr (stdout may be --json), and the environment follows the same
// precedence.
func TestEmitIdentityFlags(t *testing.T) {
	var conn *ConnFlags
	keep := func(c *ConnFlags) { conn = c }
	builders := map[string]func(f *Factory) *cobra.Command{
		"event": func(f *Factory) *cobra.Command {
			return NewCmdEmitEvent(f, func(_ context.Context, o *EmitEventOptions) error { keep(&o.Conn); return nil })
		},
		"hold": func(f *Factory) *cobra.Command {
			return NewCmdEmitSlot(f, slotHold, func(_ context.Context, o *EmitSlotOptions) error { keep(&o.Conn); return nil })
		},
		"release": func(f *Factory) *cobra.Command {
			return NewCmdEmitSlot(f, slotRelease, func(_ context.Context, o *EmitSlotOptions) error { keep(&o.Conn); return nil })
		},
		"socket": func(f *Factory) *cobra.Command {
			return NewCmdEmitSocket(f, func(_ context.Context, o *EmitSocketOptions) error { keep(&o.Conn); return nil })
		},
		"load": func(f *Factory) *cobra.Command {
			return NewCmdEmitLoad(f, func(_ context.Context, o *EmitLoadOptions) error { keep(&o.Conn); return nil })
		},
	}
	args := map[string][]string{"event": {"x"}, "hold": {"--space", "2@1", "--slot", "3"}, "release": {"--space", "2@1", "--slot", "3"}, "socket": {"x"}}
	tests := []struct {
		name    string
		env     map[string]string
		flags   []string
		want    int64
		warning string
		noEvent bool // --user is the target in emit event
	}{
		{"default", nil, nil, 1, "", false},
		{"--as-user", nil, []string{"--as-user", "7"}, 7, "", false},
		{"--user alias", nil, []string{"--user", "7"}, 7, "--user is deprecated here, use --as-user", true},
		{"COWORK_AS_USER", map[string]string{"COWORK_AS_USER": "8"}, nil, 8, "", false},
		{"flag beats env", map[string]string{"COWORK_AS_USER": "8", "COWORK_USER": "6"}, []string{"--as-user", "7"}, 7, "", true},
		{"alias flag beats env", map[string]string{"COWORK_AS_USER": "8"}, []string{"--user", "7"}, 7, "--user is deprecated", true},
		{"new env beats old env", map[string]string{"COWORK_AS_USER": "8", "COWORK_USER": "6"}, nil, 8, "", true},
		{"old env still works", map[string]string{"COWORK_USER": "6"}, nil, 6, "COWORK_USER is deprecated for coworkctl emit", true},
	}
	for name, build := range builders {
		for _, tt := range tests {
			if tt.noEvent && name == "event" {
				continue
			}
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				conn = nil
				f, out, errOut := testFactory(tt.env)
				if err := runEmitChild(t, f, build(f), append(append([]string{}, args[name]...), tt.flags...)...); err != nil {
					t.Fatal(err)
				}
				if conn == nil || conn.UserID != tt.want {
					t.Fatalf("UserID = %+v, want %d", conn, tt.want)
				}
				if out.Len() != 0 {
					t.Errorf("stdout = %q, want nothing", out)
				}
				if tt.warning == "" && errOut.Len() != 0 || !strings.Contains(errOut.String(), tt.warning) {
					t.Errorf("stderr = %q, want %q", errOut, tt.warning)
				}
			})
		}
	}
	// The flag is documented as --as-user everywhere; --user is hidden.
	for name, build := range builders {
		fs := build(&Factory{}).Flags()
		if fl := fs.Lookup("as-user"); fl == nil || fl.Hidden {
			t.Errorf("emit %s: no visible --as-user", name)
		}
		if fl := fs.Lookup("user"); fl == nil || !fl.Hidden {
			t.Errorf("emit %s: --user is not a hidden alias", name)
		}
	}
}

// Without credentials every emit subcommand names its own identity flag.
func TestEmitCredentialsHint(t *testing.T) {
	for _, args := range [][]string{
		{"emit", "event", "x", "--all"},
		{"emit", "hold", "--space", "2@1", "--slot", "3"},
		{"emit", "socket", "x"},
	} {
		code, stderr := runArgs(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, "--jwt-secret with --as-user and --role") {
			t.Errorf("%v: exit %d stderr %q", args, code, stderr)
		}
	}
}

// A usage error points to the help of the command that failed.
func TestUsageErrorPointsToSubcommandHelp(t *testing.T) {
	tests := []struct {
		args []string
		help string
	}{
		{[]string{"emit", "hold", "--space", "2@1", "--token", "t"}, "coworkctl emit hold --help"}, // required flag
		{[]string{"emit", "hold", "--nope"}, "coworkctl emit hold --help"},                         // unknown flag
		{[]string{"emit", "event", "x", "--token", "t"}, "coworkctl emit event --help"},            // RunE usage error
		{[]string{"emit", "bogus"}, "coworkctl emit --help"},
		{[]string{"token", "inspect"}, "coworkctl token inspect --help"},
		{[]string{"watch", "--transports", "x", "--token", "t"}, "coworkctl watch --help"},
		{[]string{"bogus"}, "coworkctl --help"},
	}
	for _, tt := range tests {
		code, stderr := runArgs(t, tt.args...)
		if code != ExitUsage || !strings.Contains(stderr, "Run '"+tt.help+"' for usage.") {
			t.Errorf("%v: exit %d stderr %q, want a pointer to %q", tt.args, code, stderr, tt.help)
		}
	}
}

// emit says "cannot reach" like watch, not Go's `Post "http://…": dial tcp …`.
func TestEmitUnreachableServer(t *testing.T) {
	for _, args := range [][]string{
		{"emit", "event", "x", "--all"},
		{"emit", "hold", "--space", "2@1", "--slot", "3"},
		{"emit", "socket", "x"},
	} {
		code, stderr := runArgs(t, append(args, "--server", "http://127.0.0.1:1", "--token", "t")...)
		if code != ExitError || !strings.Contains(stderr, "cannot reach http://127.0.0.1:1: connection refused") ||
			strings.Contains(stderr, "dial tcp") || strings.Contains(stderr, `Post "`) {
			t.Errorf("%v: exit %d stderr %q", args, code, stderr)
		}
	}
}

func TestCannotReach(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	tests := []struct {
		err  error
		want string // "" means nil: the server answered
	}{
		{&url.Error{Op: "Post", URL: "http://x/api", Err: refused}, "cannot reach http://x: connection refused"},
		{fmt.Errorf("websocket dial: %w", refused), "cannot reach http://x: connection refused"},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.DNSError{Name: "nohost", Err: "no such host"}}, "cannot reach http://x: unknown host nohost"},
		{fmt.Errorf("socket.io connect: %w", context.DeadlineExceeded), "cannot reach http://x: no answer within 2s"},
		{&client.APIError{Status: 403, Message: "Accesso negato"}, ""},
		{fmt.Errorf("POST /x: %w", context.Canceled), ""},
		{errors.New("connect_error: Token non valido"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		got := cannotReach("http://x", 2*time.Second, tt.err)
		if (got == nil) != (tt.want == "") || got != nil && got.Error() != tt.want {
			t.Errorf("cannotReach(%v) = %v, want %q", tt.err, got, tt.want)
		}
		if got != nil && !errors.Is(got, tt.err) {
			t.Errorf("cannotReach(%v) lost the cause", tt.err)
		}
	}
}

func TestEmitLoadFlags(t *testing.T) {
	var got *EmitLoadOptions
	cmd := NewCmdEmitLoad(&Factory{}, func(_ context.Context, o *EmitLoadOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--clients", "5000", "--connect-rate", "800", "--polling-share", "0.1", "--rooms", "8",
		"--duration", "30s", "--rate", "200", "--payload", "512", "--churn", "20", "--max-p99", "50ms", "--max-loss", "0.001", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Clients != 5000 || got.ConnectRate != 800 || got.PollingShare != 0.1 || got.Rooms != 8 || got.Duration != 30*time.Second ||
		got.Rate != 200 || got.Payload != 512 || got.Churn != 20 || got.MaxP99 != 50*time.Millisecond || got.MaxLoss != 0.001 || !got.JSON {
		t.Fatalf("options = %+v", got)
	}
	// Thresholds default to off.
	cmd = NewCmdEmitLoad(&Factory{}, func(_ context.Context, o *EmitLoadOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.MaxP99 != 0 || got.MaxLoss >= 0 || got.MaxConnectFail >= 0 {
		t.Fatalf("default thresholds = %v %v %v, want off", got.MaxP99, got.MaxLoss, got.MaxConnectFail)
	}
}
