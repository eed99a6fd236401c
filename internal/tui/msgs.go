package tui

import (
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"github.com/coworkctl/coworkctl/internal/protocol"
)

// TickMsg is the clock: countdowns, highlights, staleness and the rate
// sparkline move with it. Tests send it with fixed times.
type TickMsg time.Time

// TypedEvent is a client event with its payload decoded (see
// client.Event.Payload); every component consumes this one message.
type TypedEvent struct {
	client.Event
	// Payload is a *protocol.X for known events, *client.ConnState for
	// state changes, json.RawMessage otherwise.
	Payload any
	// DecodeErr is set when a known event's payload did not decode.
	DecodeErr error
}

// Decode turns a client event into a TypedEvent.
func Decode(ev client.Event) TypedEvent {
	p, err := ev.Payload()
	return TypedEvent{Event: ev, Payload: p, DecodeErr: err}
}

// EventsClosedMsg: the client's event stream ended (it gave up).
type EventsClosedMsg struct{}

// LatencyMsg carries one round-trip measurement.
type LatencyMsg struct {
	RTT time.Duration
	Err error
}

// StatsMsg carries one GET /api/stats answer: a 403 (not staff) stops
// the asking, a 401 (token refused) is shown.
type StatsMsg struct {
	Stats *protocol.Stats
	Err   error
	At    time.Time
}

// JoinedMsg reports the joins of a date change (Date) or of a reload of
// some rooms (Reload: after slots_freed, or the r key when Manual).
type JoinedMsg struct {
	Date   string
	Reload bool
	Manual bool
	// Rooms counts the rooms reloaded.
	Rooms int
	Err   error
}

// TimeoutMsg ends the dashboard after --timeout.
type TimeoutMsg struct{}

// HistoryMsg carries the recent history of one slot (Key is its
// Selection.Key), newest first.
type HistoryMsg struct {
	Key     string
	Entries []protocol.AuditEntry
	Err     error
}

// CancelledMsg is the server's answer to a staff cancel of Target.
type CancelledMsg struct {
	Target Selection
	Reason string
	Res    *protocol.SlotCancelResponse
	Err    error
}
