package protocol

import (
	"encoding/json"
	"time"
)

// EventLine is one JSON line of `coworkctl watch --json` and of
// `coworkctl emit socket --json`: both commands print this shape and no
// other, so one jq filter or one decoder reads either. A line is an event
// the server sent, a connection-state change of watch (Event
// "connection", the state in Data), or the ack emit socket received
// (Event "ack").
type EventLine struct {
	Event string `json:"event"`
	// Room is the space room the event concerns; null when none applies.
	Room *string `json:"room"`
	// Data is the event's argument: the only one, the array of all when
	// there are several, null when there is none.
	Data json.RawMessage `json:"data"`
	// Args is every argument, in order ([] when none).
	Args []json.RawMessage `json:"args"`
	// Time is when the line's event was received (ISO-8601 UTC,
	// milliseconds).
	Time string `json:"time"`
	// At repeats Time under the name emit socket's lines had first, for
	// the scripts written against them.
	At string `json:"at"`
	// Ack repeats Args as one array on the "ack" line, under the name emit
	// socket's ack line had first; absent on other lines.
	Ack json.RawMessage `json:"ack,omitempty"`
}

// EventLineAck is the Event of emit socket's ack line.
const EventLineAck = "ack"

// NewAckLine is the line of an ack with args received at.
func NewAckLine(args []json.RawMessage, at time.Time) EventLine {
	l := NewEventLine(EventLineAck, "", args, at)
	l.Ack = json.RawMessage("[]")
	if b, err := json.Marshal(l.Args); err == nil && len(l.Args) > 0 {
		l.Ack = b
	}
	return l
}

// NewEventLine is the line of event with args received at; room is ""
// when none applies.
func NewEventLine(event, room string, args []json.RawMessage, at time.Time) EventLine {
	ts := Timestamp(at)
	l := EventLine{Event: event, Args: args, Time: ts, At: ts, Data: json.RawMessage("null")}
	if l.Args == nil {
		l.Args = []json.RawMessage{}
	}
	if room != "" {
		l.Room = &room
	}
	switch len(args) {
	case 0:
	case 1:
		l.Data = args[0]
	default:
		if b, err := json.Marshal(args); err == nil { // RawMessages are valid JSON
			l.Data = b
		}
	}
	return l
}
