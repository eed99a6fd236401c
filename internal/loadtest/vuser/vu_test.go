package vuser

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// parseWithoutOffset splits a payload as the client does for a session
// that keeps recovery state: the last argument is the offset.
func parseWithoutOffset(p []byte) (string, []json.RawMessage, error) {
	name, args, err := parser.SplitEvent(p)
	if err == nil && len(args) > 1 {
		args = args[:len(args)-1]
	}
	return name, args, err
}

// onEvent finds the slot_update a user is owed however the payload spells
// its name, ignores other events, and buffers events with their
// arguments when the flow waits for events.
func TestOnEvent(t *testing.T) {
	const upd = `{"type":"slot_update","slotId":3,"status":"occupied","data":{"id_spazio":1,"date":"2030-01-02"}}`
	key := updateKey{spazio: 1, date: "2030-01-02", slot: 3, status: "occupied"}
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, payload string
		delivered     bool
	}{
		{"compact", `["slot_update",` + upd + `]`, true},
		{"spaces", " [ \"slot_update\" ,\n" + upd + ` ]`, true},
		{"escaped name", `["slot\u005fupdate",` + upd + `]`, true},
		{"recovery offset", `["slot_update",` + upd + `,"off-7"]`, true},
		{"other event", `["slot_updates",` + upd + `]`, false},
		{"not an array", `{"slot_update":1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{ledger: newLedger(5 * time.Second), series: &series{start: t0}, buffered: true}
			v := &vu{r: r}
			r.ledger.join("1", v)
			r.ledger.expect("1", key, t0)
			v.onEvent(Event{Payload: []byte(tc.payload), At: t0.Add(3 * time.Millisecond), Parse: parseWithoutOffset})
			if got := r.ledger.delivered == 1; got != tc.delivered {
				t.Fatalf("delivered %d, want %v", r.ledger.delivered, tc.delivered)
			}
			if !tc.delivered {
				return
			}
			if len(v.events) != 1 || v.events[0].name != "slot_update" || len(v.events[0].args) != 1 {
				t.Fatalf("buffered %+v, want the slot_update with its one argument", v.events)
			}
		})
	}
}

func TestEventName(t *testing.T) {
	for _, tc := range []struct {
		payload, name string
		known         bool
	}{
		{`["join_space",{}]`, "join_space", true},
		{"\t[ \"a b\"]", "a b", true},
		{`["a\"b",1]`, "", false},
		{`[1,2]`, "", false},
		{`["open`, "", false},
		{``, "", false},
	} {
		name, known := eventName([]byte(tc.payload))
		if string(name) != tc.name || known != tc.known {
			t.Errorf("eventName(%q) = %q, %v; want %q, %v", tc.payload, name, known, tc.name, tc.known)
		}
	}
}
