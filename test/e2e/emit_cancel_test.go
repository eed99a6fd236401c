package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TestEmitCancelAndHistory: a user holds a slot with `emit hold`, staff
// cancel it with `emit cancel`; the holder's socket gets slot_cancelled
// with the reason, the room slot_update, the history endpoint and
// `emit history` show both changes, and the exit codes are those of
// hold/book/release.
func TestEmitCancelAndHistory(t *testing.T) {
	s := StartServer(t, ServerConfig{})
	date := Tomorrow()
	holder := listen(t, s, 42) // its user room only
	watcher := listen(t, s, 99)
	watcher.join(t, 2, 1)
	emit := func(args ...string) emitResult {
		t.Helper()
		return runCoworkctl(t, 20*time.Second, append(append([]string{"emit"}, args...),
			"--server", s.URL, "--jwt-secret", s.Secret)...)
	}
	slot := []string{"--space", "2@1", "--date", date, "--slot", "3"}
	const reason = "Sala chiusa per manutenzione"

	if r := emit(append([]string{"hold", "--as-user", "42"}, slot...)...); r.Code != 0 {
		t.Fatalf("emit hold: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if _, ok := watcher.saw(protocol.EventSlotUpdate, 5*time.Second); !ok {
		t.Fatal("the room saw no slot_update of the hold")
	}

	refusals := []struct {
		name string
		args []string
		code int
		err  string // in stderr
	}{
		{"no --reason", append([]string{"cancel", "--as-user", "1"}, slot...), 2, "reason"},
		{"blank --reason", append([]string{"cancel", "--as-user", "1", "--reason", "  "}, slot...), 2, "--reason"},
		{"bad --space", []string{"cancel", "--as-user", "1", "--reason", reason, "--space", "2", "--slot", "3"}, 2, "SPAZIO@SEDE"},
		{"bad --slot", []string{"cancel", "--as-user", "1", "--reason", reason, "--space", "2@1", "--slot", "0"}, 2, "--slot"},
		{"a user's token", append([]string{"cancel", "--as-user", "42", "--role", "cliente", "--reason", reason}, slot...), 1, "403"},
		{"free slot", []string{"cancel", "--as-user", "1", "--reason", reason, "--space", "2@1", "--date", date, "--slot", "4"}, 1, protocol.MsgNothingToCancel},
		{"reason too long", append([]string{"cancel", "--as-user", "1", "--reason", strings.Repeat("x", 201)}, slot...), 1, "BAD_REASON"},
		{"another prenotazione", append([]string{"cancel", "--as-user", "1", "--reason", reason, "--prenotazione", "999999"}, slot...), 1, protocol.MsgSlotChanged},
	}
	for _, tt := range refusals {
		if r := emit(tt.args...); r.Code != tt.code || !strings.Contains(r.Stderr, tt.err) {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q)", tt.name, r.Code, tt.code, r.Stderr, tt.err)
		}
	}
	if e, ok := holder.saw(protocol.EventSlotCancelled, 100*time.Millisecond); ok {
		t.Fatalf("a refused cancel reached the holder: %s", e)
	}

	r := emit(append([]string{"cancel", "--as-user", "1", "--reason", reason}, slot...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, protocol.MsgSlotCancelled) || !strings.Contains(r.Stdout, "user 42") {
		t.Fatalf("emit cancel: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	got, ok := holder.saw(protocol.EventSlotCancelled, 5*time.Second)
	if !ok {
		t.Fatal("the holder's socket got no slot_cancelled")
	}
	// The packet is ["slot_cancelled", {…}] and, with recovery on, the offset.
	var packet []json.RawMessage
	var ev protocol.SlotCancelled
	if err := json.Unmarshal([]byte(got), &packet); err != nil || len(packet) < 2 || json.Unmarshal(packet[1], &ev) != nil {
		t.Fatalf("slot_cancelled packet %s: %v", got, err)
	}
	if c := ev; c.Type != protocol.EventSlotCancelled || c.SlotID != 3 || c.Reason != reason || c.Data.Status != protocol.StatusAvailable ||
		c.Data.IDSpazio != 2 || c.Data.Date != date || c.Data.PrenotazioneID == nil || c.Timestamp == "" {
		t.Fatalf("slot_cancelled = %s", got)
	}
	up, ok := watcher.saw(protocol.EventSlotUpdate, 5*time.Second)
	if !ok || !strings.Contains(up, `"status":"available"`) || strings.Contains(up, reason) {
		t.Fatalf("the room's slot_update of the cancel = %q, %v (available, no reason)", up, ok)
	}
	if e, ok := watcher.saw(protocol.EventSlotCancelled, 200*time.Millisecond); ok {
		t.Fatalf("another user got slot_cancelled: %s", e)
	}

	// Cancelled once: nothing left to cancel, also as JSON.
	r = emit(append([]string{"cancel", "--as-user", "1", "--reason", reason, "--json"}, slot...)...)
	var refusal struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
		Code   string `json:"code"`
	}
	if r.Code != 1 || json.Unmarshal([]byte(r.Stdout), &refusal) != nil || refusal.Status != 404 ||
		refusal.Code != protocol.CodeNothingToCancel || refusal.Error != protocol.MsgNothingToCancel {
		t.Fatalf("second cancel --json: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	// The history endpoint: the cancel by staff 1 (admin), then the hold by 42.
	res := s.Do(t, "GET", "/api/admin/slots/2/"+date+"/history?slot=3", s.Token(t, 1, "admin"), nil)
	var hist protocol.HistoryResponse
	if res.Status != 200 || json.Unmarshal(res.Raw, &hist) != nil || len(hist.Data.Entries) != 2 {
		t.Fatalf("history: %d %s", res.Status, res.Raw)
	}
	c, h := hist.Data.Entries[0], hist.Data.Entries[1]
	if c.Action != protocol.AuditCancel || c.UserID != 1 || c.Role != "admin" || c.HolderID != 42 || c.Reason != reason ||
		c.From != protocol.StatusOccupied || c.To != protocol.StatusAvailable || c.Version != 2 ||
		h.Action != protocol.AuditHold || h.UserID != 42 || h.Role != "cliente" || h.Version != 1 {
		t.Fatalf("history entries = %+v", hist.Data.Entries)
	}
	if res := s.Do(t, "GET", "/api/admin/slots/2/"+date+"/history", s.Token(t, 42, "cliente"), nil); res.Status != 403 {
		t.Fatalf("history with a user token: %d %s", res.Status, res.Raw)
	}

	// emit history prints the same, as a table and as JSON.
	r = emit("history", "--as-user", "1", "--space", "2@1", "--date", date)
	if r.Code != 0 || !strings.Contains(r.Stdout, "2 entries") || !strings.Contains(r.Stdout, "cancel") ||
		!strings.Contains(r.Stdout, "occupied → available") || !strings.Contains(r.Stdout, "1 (admin), holder 42") ||
		!strings.Contains(r.Stdout, reason) {
		t.Fatalf("emit history: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	r = emit("history", "--as-user", "1", "--space", "2@1", "--date", date, "--slot", "3", "--json")
	var viaCLI protocol.HistoryResponse
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &viaCLI) != nil || len(viaCLI.Data.Entries) != 2 || viaCLI.Data.Entries[0].Reason != reason {
		t.Fatalf("emit history --json: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := emit("history", "--as-user", "42", "--role", "cliente", "--space", "2@1", "--date", date); r.Code != 1 || !strings.Contains(r.Stderr, "403") {
		t.Fatalf("emit history as a user: exit %d stderr %q", r.Code, r.Stderr)
	}

	// An unreachable server reads like hold's: exit 1, "cannot reach".
	dead := "http://" + FreeAddr(t)
	r = runCoworkctl(t, 20*time.Second, append([]string{"emit", "cancel", "--server", dead, "--jwt-secret", s.Secret, "--reason", reason}, slot...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "cannot reach "+dead) {
		t.Fatalf("cancel against a dead server: exit %d stderr %q", r.Code, r.Stderr)
	}
}
