package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

func TestWatchValidate(t *testing.T) {
	tests := []struct {
		name string
		o    WatchOptions
		bad  string
	}{
		{"defaults", WatchOptions{Transports: "websocket", ConnectTimeout: time.Second}, ""},
		{"spaces", WatchOptions{Transports: "both", ConnectTimeout: time.Second, Spaces: []string{"1@1", "3@2"}, Date: "2026-11-26"}, ""},
		{"bad date", WatchOptions{Transports: "websocket", ConnectTimeout: time.Second, Date: "26-11-2026"}, "YYYY-MM-DD"},
		{"bad space", WatchOptions{Transports: "websocket", ConnectTimeout: time.Second, Spaces: []string{"1"}}, "SPAZIO@SEDE"},
		{"negative count", WatchOptions{Transports: "websocket", ConnectTimeout: time.Second, Count: -1}, "--count"},
		{"transport", WatchOptions{Transports: "carrier-pigeon", ConnectTimeout: time.Second}, "--transports"},
		{"sede and space", WatchOptions{Transports: "websocket", ConnectTimeout: time.Second, Sede: 1, Spaces: []string{"1@1"}}, "exclusive"},
		{"zero connect timeout", WatchOptions{Transports: "websocket"}, "--connect-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.validate()
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("validate = %v, want a usage error about %s", err, tt.bad)
			}
		})
	}
}

func TestWatchFlagsReachOptions(t *testing.T) {
	var got *WatchOptions
	f := &Factory{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	cmd := NewCmdWatch(f, func(o *WatchOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--space", "1@1", "--space", "2@1", "--date", "2026-12-01", "--json", "--count", "3", "--timeout", "5s", "--transports", "both"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Spaces, ",") != "1@1,2@1" || got.Date != "2026-12-01" || !got.JSON || got.Count != 3 ||
		got.Timeout != 5*time.Second || got.Transports != "both" || got.Conn.Role != "admin" {
		t.Errorf("options = %+v", got)
	}
}

func TestStreamJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	mk := func(evs ...client.Event) chan client.Event {
		ch := make(chan client.Event, len(evs))
		for _, e := range evs {
			ch <- e
		}
		return ch
	}
	state := func(s client.State, reason string) client.Event {
		return client.Event{Name: client.EventConnection, At: at, State: &client.ConnState{State: s, Reason: reason}}
	}
	server := func(name, raw string) client.Event {
		return client.Event{Name: name, Raw: json.RawMessage(raw), Args: []json.RawMessage{json.RawMessage(raw)}, Room: client.RoomOf(json.RawMessage(raw)), At: at}
	}

	t.Run("count stops after server events only", func(t *testing.T) {
		var out bytes.Buffer
		ch := mk(state(client.StateConnected, ""), server("joined_space", `{"room":"spazio_1_sede_1"}`),
			server("slot_update", `{"slotId":3,"data":{"id_spazio":1,"id_sede":1}}`), server("never", `{}`))
		if err := streamJSON(context.Background(), &out, ch, 2, 0, nil); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("got %d lines, want 3:\n%s", len(lines), out.String())
		}
		want := []string{
			`{"event":"connection","room":null,"data":{"state":"connected"},"args":[{"state":"connected"}],"time":"2026-11-26T10:00:00.000Z","at":"2026-11-26T10:00:00.000Z"}`,
			`{"event":"joined_space","room":"spazio_1_sede_1","data":{"room":"spazio_1_sede_1"},"args":[{"room":"spazio_1_sede_1"}],"time":"2026-11-26T10:00:00.000Z","at":"2026-11-26T10:00:00.000Z"}`,
			`{"event":"slot_update","room":"spazio_1_sede_1","data":{"slotId":3,"data":{"id_spazio":1,"id_sede":1}},"args":[{"slotId":3,"data":{"id_spazio":1,"id_sede":1}}],"time":"2026-11-26T10:00:00.000Z","at":"2026-11-26T10:00:00.000Z"}`,
		}
		for i := range want {
			if lines[i] != want[i] {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], want[i])
			}
		}
	})
	t.Run("timeout before count is an error", func(t *testing.T) {
		tc := make(chan time.Time, 1)
		tc <- at
		err := streamJSON(context.Background(), &bytes.Buffer{}, make(chan client.Event), 5, time.Second, tc)
		var ec *ExitCodeError
		if !errors.As(err, &ec) || ec.Code != ExitError || !strings.Contains(err.Error(), "0 of 5") {
			t.Errorf("err = %v", err)
		}
		tc <- at
		if err := streamJSON(context.Background(), &bytes.Buffer{}, make(chan client.Event), 0, time.Second, tc); err != nil {
			t.Errorf("timeout without count: %v", err)
		}
	})
	t.Run("closed stream reports the last reason", func(t *testing.T) {
		ch := mk(state(client.StateOffline, "rejected: Token non valido"))
		close(ch)
		err := streamJSON(context.Background(), &bytes.Buffer{}, ch, 0, 0, nil)
		if err == nil || !strings.Contains(err.Error(), "Token non valido") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := streamJSON(ctx, &bytes.Buffer{}, make(chan client.Event), 0, 0, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("several args become an array", func(t *testing.T) {
		l, err := watchLineOf(client.Event{Name: "x", Raw: json.RawMessage(`1`), Args: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"b"`)}, At: at})
		if err != nil || string(l.Data) != `[1,"b"]` || len(l.Args) != 2 {
			t.Errorf("data = %s, args = %s, %v", l.Data, l.Args, err)
		}
	})
}

func TestDescribeConnectError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	tests := []struct {
		err  error
		want string
	}{
		{&sioclient.ConnectError{Message: "Token non valido", Data: map[string]any{"code": "AUTH_INVALID"}}, "server rejected the token: Token non valido (AUTH_INVALID)"},
		{refused, "cannot reach http://x: connection refused"},
		{&net.DNSError{Name: "nohost", Err: "no such host"}, "connect to http://x: lookup nohost: no such host"},
		{context.DeadlineExceeded, "could not connect to http://x within 2s"},
	}
	for _, tt := range tests {
		if got := describeConnectError("http://x", 2*time.Second, tt.err).Error(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("describe(%v) = %q, want prefix %q", tt.err, got, tt.want)
		}
	}
	if got := netReason(&net.DNSError{Name: "nohost", Err: "no such host"}); got != "unknown host nohost" {
		t.Errorf("netReason(dns) = %q", got)
	}
}
