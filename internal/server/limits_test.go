package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// pollingHandshake opens an Engine.IO polling session and returns its sid.
func pollingHandshake(t *testing.T, base string) (string, int) {
	t.Helper()
	resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", resp.StatusCode
	}
	var open struct {
		Sid string `json:"sid"`
	}
	if len(body) < 2 || body[0] != '0' || json.Unmarshal(body[1:], &open) != nil || open.Sid == "" {
		t.Fatalf("unexpected handshake %q", body)
	}
	return open.Sid, resp.StatusCode
}

func TestPollingGuardAndConnectionCap(t *testing.T) {
	h := startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "limits.db"), JWTSecret: secret, Location: time.UTC,
		Catalog: slots.DemoCatalog(), Realtime: server.RealtimeConfig{MaxConnections: 2, Engine: eio.Config{MaxPayload: 10_000, MaxPollingPackets: 100}},
	})
	sid, _ := pollingHandshake(t, h.base)
	post := func(body string) int {
		resp, err := http.Post(h.base+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(strings.Repeat("a", 20_000)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized polling POST: status %d, want 413", code)
	}
	// The oversized POST ended that session, like Node does.
	if code := post("40"); code != http.StatusBadRequest {
		t.Errorf("POST to a session closed for an oversized body: status %d, want 400", code)
	}
	sid, _ = pollingHandshake(t, h.base)
	if code := post(strings.Repeat("4\x1e", 500)); code != http.StatusBadRequest {
		t.Errorf("polling POST of 500 packets: status %d, want 400", code)
	}
	// Both abused sessions are closed…
	if code := pollStatus(t, h.base, sid); code != http.StatusBadRequest {
		t.Errorf("GET on a session closed for 500 packets: status %d, want 400", code)
	}
	// …and two connected sockets fit under the cap of 2, a third session
	// does not.
	for i := range 2 {
		dialRaw(t, h.base, map[string]any{"token": userToken(t, int64(800+i))})
	}
	if _, code := pollingHandshake(t, h.base); code != http.StatusServiceUnavailable {
		t.Errorf("third open session: status %d, want 503 (cap 2)", code)
	}
	// The server and its data are intact.
	if status, out, _ := h.call("GET", "/api/slots/1/"+tomorrow(), "", nil); status != 200 {
		t.Fatalf("REST after abuse: %d %v", status, out)
	}
}

func TestSocketDisconnectedAtTokenExpiry(t *testing.T) {
	h := start(t, "")
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(secret), UserID: 5, Role: auth.RoleCliente, TTL: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, client.SocketOptions{Server: h.base, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Only what follows connection_confirmed counts.
	var confirmed, sawExpired, sawDisconnect bool
	var seen []string
	for ev := range s.Events() {
		name := ev.Name
		if ev.IsState() {
			name = "state:" + string(ev.State.State)
		}
		seen = append(seen, name)
		switch {
		case ev.Name == protocol.EventConnectionConfirmed:
			confirmed = true
		case !confirmed:
		case ev.Name == protocol.EventSessionExpired:
			sawExpired = true
		case ev.IsState() && ev.State.State == client.StateDisconnected:
			sawDisconnect = true
		}
		if sawDisconnect || ctx.Err() != nil {
			break
		}
	}
	if !sawExpired || !sawDisconnect {
		t.Fatalf("session_expired seen=%v, disconnect seen=%v (events %v); want both when the token expires", sawExpired, sawDisconnect, seen)
	}
}
