package client

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// State is the connection state of a Socket as its supervisor sees it.
type State string

// Connection states, in the order a session usually goes through them.
const (
	// StateConnecting: an attempt to open a session is under way.
	StateConnecting State = "connecting"
	// StateConnected: the namespace is joined; Transport says how.
	StateConnected State = "connected"
	// StateUpgraded: the transport of a live session changed (polling → websocket).
	StateUpgraded State = "upgraded"
	// StateConnectError: one attempt failed; Message (and Code when the
	// server rejected the handshake) say why.
	StateConnectError State = "connect_error"
	// StateDisconnected: a live session ended; Reason says why.
	StateDisconnected State = "disconnected"
	// StateReconnecting: waiting Delay before attempt number Attempt.
	StateReconnecting State = "reconnecting"
	// StateFallback: websocket-only kept failing, later attempts use
	// polling with an upgrade to websocket.
	StateFallback State = "fallback"
	// StateRejoined: after a reconnect every room was joined again; Rooms
	// counts them (the server answers each with a fresh snapshot).
	StateRejoined State = "rejoined"
	// StateRenewed: the live session was replaced, without a gap, by one
	// authenticated with the token given to Renew; Rooms counts the rooms
	// it joined before the old session closed.
	StateRenewed State = "renewed"
	// StateRenewFailed: Renew could not open the new session (Message,
	// Code); the old one carries on and later reconnects use the new token.
	StateRenewFailed State = "renew_failed"
	// StateOffline: the Socket gave up (closed, token rejected, or
	// reconnection disabled) and Events is about to be closed.
	StateOffline State = "offline"
)

// ConnState describes one connection-state change.
type ConnState struct {
	State State `json:"state"`
	// Transport is "websocket" or "polling" when known.
	Transport string `json:"transport,omitempty"`
	// Attempt counts connection attempts since the last live session (1-based).
	Attempt int `json:"attempt,omitempty"`
	// Delay is the wait before the next attempt (StateReconnecting).
	Delay time.Duration `json:"-"`
	// DelayMS is Delay in milliseconds, for JSON output.
	DelayMS int64 `json:"delay_ms,omitempty"`
	// Reason is why a session ended (StateDisconnected, StateOffline).
	Reason string `json:"reason,omitempty"`
	// Message is the error text of a failed attempt.
	Message string `json:"message,omitempty"`
	// Code is the server's rejection code (AUTH_REQUIRED, AUTH_INVALID).
	Code string `json:"code,omitempty"`
	// SocketID is the session id of a connected (or renewed) socket.
	SocketID string `json:"socket_id,omitempty"`
	// Recovered is true when the server restored the previous session.
	Recovered bool `json:"recovered,omitempty"`
	// Rooms counts the rooms joined again (StateRejoined, StateRenewed).
	Rooms int `json:"rooms,omitempty"`
}

// Event is one thing that happened on a Socket: either a server event
// (Name, Room, Raw) or a connection-state change (State != nil).
type Event struct {
	// Name is the server event name, or "connection" for a state change.
	Name string
	// Room is the space room the event concerns when it can be derived
	// from the payload (room, spazioId/sedeId, or data.id_spazio/id_sede).
	Room string
	// Raw is the first argument of the event as JSON (null when none).
	Raw json.RawMessage
	// Args holds every argument of a server event (Raw is the first).
	Args []json.RawMessage
	// At is when the client received the event.
	At time.Time
	// State is set for connection-state changes only.
	State *ConnState
}

// EventConnection is the Name of connection-state events.
const EventConnection = "connection"

// IsState reports whether e is a connection-state change.
func (e Event) IsState() bool { return e.State != nil }

// Payload decodes Raw into the protocol type of e.Name: one of
// *protocol.ConnectionConfirmed, *protocol.JoinedSpace,
// *protocol.SlotsStatusUpdate, *protocol.SlotUpdate, *protocol.SlotsFreed,
// *protocol.HoldExpired, *protocol.SpaceError, *protocol.SessionExpired, or
// *ConnState for state changes. Unknown events return Raw unchanged.
func (e Event) Payload() (any, error) {
	if e.State != nil {
		return e.State, nil
	}
	var v any
	switch e.Name {
	case protocol.EventConnectionConfirmed:
		v = new(protocol.ConnectionConfirmed)
	case protocol.EventJoinedSpace:
		v = new(protocol.JoinedSpace)
	case protocol.EventSlotsStatusUpdate:
		v = new(protocol.SlotsStatusUpdate)
	case protocol.EventSlotUpdate:
		v = new(protocol.SlotUpdate)
	case protocol.EventSlotsFreed:
		v = new(protocol.SlotsFreed)
	case protocol.EventHoldExpired:
		v = new(protocol.HoldExpired)
	case protocol.EventSpaceError:
		v = new(protocol.SpaceError)
	case protocol.EventSessionExpired:
		v = new(protocol.SessionExpired)
	default:
		return e.Raw, nil
	}
	if len(e.Raw) == 0 {
		return nil, fmt.Errorf("decode %s: no payload", e.Name)
	}
	if err := json.Unmarshal(e.Raw, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Name, err)
	}
	return v, nil
}

// roomProbe picks the fields a room can be derived from out of any payload.
type roomProbe struct {
	Room     string `json:"room"`
	SpazioID any    `json:"spazioId"`
	SedeID   any    `json:"sedeId"`
	Data     *struct {
		IDSpazio any `json:"id_spazio"`
		IDSede   any `json:"id_sede"`
	} `json:"data"`
}

// RoomOf derives the space room a payload concerns: its room field, else
// spazioId+sedeId, else data.id_spazio+data.id_sede; "" when none fits.
func RoomOf(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '{' {
		return ""
	}
	var p roomProbe
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	if p.Room != "" {
		return p.Room
	}
	if sp, ok := idOf(p.SpazioID); ok {
		if se, ok := idOf(p.SedeID); ok {
			return protocol.SpaceRoom(sp, se)
		}
	}
	if p.Data != nil {
		if sp, ok := idOf(p.Data.IDSpazio); ok {
			if se, ok := idOf(p.Data.IDSede); ok {
				return protocol.SpaceRoom(sp, se)
			}
		}
	}
	return ""
}

func idOf(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x > 0 && x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil && n > 0 {
			return n, true
		}
	}
	return 0, false
}

// ParseSpace parses "SPAZIO@SEDE" (e.g. "3@1") into its ids.
func ParseSpace(s string) (spazioID, sedeID int64, err error) {
	var rest string
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			rest = s[i+1:]
			s = s[:i]
			break
		}
	}
	if rest == "" {
		return 0, 0, fmt.Errorf("space %q: want SPAZIO@SEDE, e.g. 3@1", s)
	}
	sp, err1 := strconv.ParseInt(s, 10, 64)
	se, err2 := strconv.ParseInt(rest, 10, 64)
	if err1 != nil || err2 != nil || sp <= 0 || se <= 0 {
		return 0, 0, fmt.Errorf("space %q: want SPAZIO@SEDE with positive integer ids, e.g. 3@1", s+"@"+rest)
	}
	return sp, se, nil
}
