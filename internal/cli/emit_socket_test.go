package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
	"github.com/coworkctl/coworkctl/internal/testkit"
)

// A server with connection state recovery appends an offset to every
// event; emit socket must print the payload only.
func TestEmitSocketHidesRecoveryOffset(t *testing.T) {
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{Recovery: sio.Recovery{Window: time.Minute}})
	io.Of("/").OnConnection(func(s *sio.Socket) {
		s.On("probe", func(e *sio.Event) {
			_ = s.Emit("connection_confirmed", map[string]any{"userId": 1})
			_ = s.Emit("notice", "ciao")
			e.Ack(map[string]any{"success": true})
		})
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	for _, tr := range []string{sioclient.TransportWebSocket, sioclient.TransportPolling} {
		t.Run(tr, func(t *testing.T) {
			f, out, _ := testFactory(nil)
			o := &EmitSocketOptions{F: f, Event: "probe", AckTimeout: 5 * time.Second, Transport: tr,
				Conn: ConnFlags{Server: srv.URL, Token: "t"}}
			if err := runEmitSocket(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			want := "connection_confirmed {\"userId\":1}\nnotice \"ciao\"\nack [{\"success\":true}]\n"
			if out.String() != want {
				t.Fatalf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestEmitSocketUnreachable(t *testing.T) {
	f, _, _ := testFactory(nil)
	o := &EmitSocketOptions{F: f, Event: "probe", AckTimeout: time.Second, Transport: sioclient.TransportWebSocket,
		Conn: ConnFlags{Server: "http://127.0.0.1:1", Token: "t"}}
	err := runEmitSocket(context.Background(), o)
	if err == nil || err.Error() != "cannot reach http://127.0.0.1:1: connection refused" {
		t.Fatalf("err = %v, want cannot reach … connection refused", err)
	}
	if strings.Contains(err.Error(), "dial tcp") {
		t.Fatalf("raw Go error leaked: %v", err)
	}
}

// TestEmitSocketAndWatchPrintOneLineShape: the JSON lines of emit socket
// and of watch decode into protocol.EventLine with no key missing or left
// over, and one server event prints the same line in both (but for the
// time it arrived).
func TestEmitSocketAndWatchPrintOneLineShape(t *testing.T) {
	io := sio.NewServer(eio.Config{AllowOrigin: func(string) bool { return true }}, sio.Config{})
	io.Of("/").OnConnection(func(s *sio.Socket) {
		_ = s.Emit("slot_update", map[string]any{"slotId": 3, "data": map[string]any{"id_spazio": 1, "id_sede": 1}})
		_ = s.Emit("notice", "ciao")
		_ = s.Emit("pair", 1, "b")
		_ = s.Emit("bare")
		s.On("probe", func(e *sio.Event) { e.Ack(map[string]any{"success": true}) })
	})
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	events := []string{"slot_update", "notice", "pair", "bare"}

	f, emitOut, _ := testFactory(nil)
	o := &EmitSocketOptions{F: f, Event: "probe", AckTimeout: 5 * time.Second, Listen: 100 * time.Millisecond,
		Transport: sioclient.TransportWebSocket, JSON: true, Conn: ConnFlags{Server: srv.URL, Token: "t"}}
	if err := runEmitSocket(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sock, err := client.Dial(ctx, client.SocketOptions{Server: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	var watchOut bytes.Buffer
	if err := streamJSON(ctx, &watchOut, sock.Events(), len(events), 0, nil); err != nil {
		t.Fatal(err)
	}

	// byEvent decodes every line strictly and keys it by event, times
	// blanked.
	byEvent := func(cmd, out string) map[string]string {
		lines := map[string]string{}
		for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
			var l protocol.EventLine
			testkit.DecodeStrict(t, []byte(raw), &l)
			if l.Time == "" || l.At != l.Time {
				t.Errorf("%s: line %s: time %q, at %q", cmd, raw, l.Time, l.At)
			}
			l.Time, l.At = "", ""
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			lines[l.Event] = string(b)
		}
		return lines
	}
	fromEmit, fromWatch := byEvent("emit socket", emitOut.String()), byEvent("watch", watchOut.String())
	for _, ev := range events {
		if fromEmit[ev] == "" || fromEmit[ev] != fromWatch[ev] {
			t.Errorf("%s:\nemit socket %s\nwatch       %s", ev, fromEmit[ev], fromWatch[ev])
		}
	}
	want := map[string]string{
		"slot_update": `{"event":"slot_update","room":"spazio_1_sede_1","data":{"data":{"id_sede":1,"id_spazio":1},"slotId":3},"args":[{"data":{"id_sede":1,"id_spazio":1},"slotId":3}],"time":"","at":""}`,
		"pair":        `{"event":"pair","room":null,"data":[1,"b"],"args":[1,"b"],"time":"","at":""}`,
		"bare":        `{"event":"bare","room":null,"data":null,"args":[],"time":"","at":""}`,
		"ack":         `{"event":"ack","room":null,"data":{"success":true},"args":[{"success":true}],"time":"","at":"","ack":[{"success":true}]}`,
	}
	for ev, line := range want {
		if fromEmit[ev] != line {
			t.Errorf("emit socket %s line:\n got %s\nwant %s", ev, fromEmit[ev], line)
		}
	}
	if fromWatch[client.EventConnection] == "" {
		t.Errorf("watch printed no connection line:\n%s", watchOut.String())
	}
}
