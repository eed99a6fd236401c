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

// StatsMsg carries one GET /api/stats answer.
type StatsMsg struct {
	Stats *protocol.Stats
	Err   error
	// Forbidden: the token is not staff; stop asking.
	Forbidden bool
	At        time.Time
}

// JoinedMsg reports the joins for a date change or a resync.
type JoinedMsg struct {
	Date string
	Err  error
}

// TimeoutMsg ends the dashboard after --timeout.
type TimeoutMsg struct{}
