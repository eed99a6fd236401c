// Package protocol holds the wire contract of coworkctl: Socket.IO event
// names, room names and the JSON payloads shared by the server, the client
// and the terminal UI. Field names (Italian ones included) are part of the
// compatibility promise with the existing browser frontend (the socket events and REST answers in the README);
// additive fields are allowed, renames are not.
//
// # Versions
//
// Every slots_status_update (a grid snapshot) and every slot_update carries
// a version for its grid (one spazio on one date), and GET /api/slots
// returns it too. The server keeps it in the database and adds one for
// every committed change of one of the grid's slots (hold, book, release,
// expiry, staff cancel), in the change's own transaction: versions of one grid only
// grow, are consecutive, survive restarts and are shared by every node on
// one PostgreSQL. A snapshot's version is read atomically with its rows:
// the snapshot contains exactly the changes up to it.
//
// The client rule (GridVersions implements it):
//
//   - Keep the snapshot's version V. Updates that arrive after the join
//     was sent but before its snapshot are kept and judged once it is in.
//   - Per slot, apply a slot_update only if its version is greater than
//     the last version applied to that slot (initially V). Do not drop
//     everything at or below the highest version seen for the grid:
//     updates are broadcast after commit, from different goroutines and
//     nodes, so those of different slots may arrive out of order, and
//     that rule would lose the late one.
//   - Versions of one grid are consecutive: a client that has seen M and
//     then M+2 but not M+1 after a short wait (a second) missed an update
//     and resyncs by joining again, which brings a fresh snapshot.
//
// A hold that lapsed reads as available in snapshots before the sweeper
// expires it; the expiry then has a version of its own, like any change.
package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Server → client event names.
const (
	EventConnectionConfirmed = "connection_confirmed"
	EventJoinedSpace         = "joined_space"
	EventSlotsStatusUpdate   = "slots_status_update"
	EventSlotUpdate          = "slot_update"
	EventSlotsFreed          = "slots_freed"
	EventHoldExpired         = "hold_expired"
	EventSlotCancelled       = "slot_cancelled"
	EventSpaceError          = "space_error"
	EventSessionExpired      = "session_expired"
	EventServerShutdown      = "server_shutdown"
)

// Client → server event names.
const (
	EventJoinSpace  = "join_space"
	EventLeaveSpace = "leave_space"
	EventPing       = "ping_latency"
)

// ServerEvents lists the events the server sends, for documentation and
// the test that keeps docs/contract.md true.
func ServerEvents() []string {
	return []string{
		EventConnectionConfirmed, EventJoinedSpace, EventSlotsStatusUpdate,
		EventSlotUpdate, EventSlotsFreed, EventHoldExpired, EventSlotCancelled,
		EventSpaceError, EventSessionExpired, EventServerShutdown,
	}
}

// ClientEvents lists the events the server handles.
func ClientEvents() []string { return []string{EventJoinSpace, EventLeaveSpace, EventPing} }

// Slot statuses.
const (
	StatusAvailable = "available"
	StatusOccupied  = "occupied"
	StatusBooked    = "booked"
	StatusPast      = "past"
)

// Wire formats.
const (
	// DateLayout is the form of every date on the wire (YYYY-MM-DD); it is
	// the domain's own layout.
	DateLayout      = slots.DateLayout
	timestampLayout = "2006-01-02T15:04:05.000Z"
	userRoomPrefix  = "user_"
	spaceRoomFormat = "spazio_%d_sede_%d"
)

// BadReasonMessage is the text of CodeBadReason for reasons of at most n
// characters.
func BadReasonMessage(n int) string {
	return fmt.Sprintf("Motivo obbligatorio: da 1 a %d caratteri, su una sola riga", n)
}

// HoldLimitMessage is the text of CodeHoldLimit for a cap of n holds.
func HoldLimitMessage(n int) string {
	if n == 1 {
		return "Puoi occupare un solo slot alla volta: prenotalo o liberalo prima di occuparne un altro"
	}
	return fmt.Sprintf("Puoi occupare al massimo %d slot alla volta: prenotane o liberane uno prima di occuparne un altro", n)
}

// DateTooFarMessage is the text of CodeDateTooFar for a horizon of n days.
func DateTooFarMessage(n int) string {
	return fmt.Sprintf("Si può prenotare al massimo %s in anticipo", plural(n, "giorno", "giorni"))
}

// Timestamp formats t like JavaScript's Date.prototype.toISOString, which is
// what the seed's frontend parses: UTC with milliseconds and a Z suffix.
func Timestamp(t time.Time) string { return t.UTC().Format(timestampLayout) }

// ParseTimestamp parses a Timestamp string (any RFC 3339 form is accepted).
func ParseTimestamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// HoldMessage is the hold success text for a --hold-ttl of ttl, in
// Italian words: "Slot occupato per 15 minuti" (the seed's text, which the
// frontend knows), "… per 1 ora e 30 minuti", "… per 2 minuti e 30
// secondi". Under two minutes a TTL that is no whole minute is said in
// seconds ("… per 90 secondi"). The TTL is rounded to the second, at
// least one.
func HoldMessage(ttl time.Duration) string {
	secs := int64(max(ttl.Round(time.Second), time.Second) / time.Second)
	if secs < 120 && secs%60 != 0 {
		return fmt.Sprintf(MsgHoldTemplate, plural(secs, "secondo", "secondi"))
	}
	var parts []string
	for _, u := range []struct {
		secs      int64
		one, many string
	}{{3600, "ora", "ore"}, {60, "minuto", "minuti"}, {1, "secondo", "secondi"}} {
		if n := secs / u.secs; n > 0 {
			parts = append(parts, plural(n, u.one, u.many))
			secs %= u.secs
		}
	}
	text := parts[len(parts)-1]
	if len(parts) > 1 {
		text = strings.Join(parts[:len(parts)-1], ", ") + " e " + text
	}
	return fmt.Sprintf(MsgHoldTemplate, text)
}

// plural is "1 ora" or "n ore".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// SpaceRoom is the room of one spazio: spazio_<spazioId>_sede_<sedeId>.
func SpaceRoom(spazioID, sedeID int64) string { return fmt.Sprintf(spaceRoomFormat, spazioID, sedeID) }

// ParseSpaceRoom is the inverse of SpaceRoom.
func ParseSpaceRoom(room string) (spazioID, sedeID int64, ok bool) {
	// Most rooms a server makes are socket ids, each matched against the
	// room classes it counts: refuse them before Sscanf's allocations.
	if !strings.HasPrefix(room, spaceRoomFormat[:strings.IndexByte(spaceRoomFormat, '%')]) {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(room, spaceRoomFormat, &spazioID, &sedeID); err != nil {
		return 0, 0, false
	}
	return spazioID, sedeID, SpaceRoom(spazioID, sedeID) == room
}

// UserRoom is the personal room every socket of one user joins.
func UserRoom(userID int64) string { return userRoomPrefix + strconv.FormatInt(userID, 10) }

// IsUserRoom reports whether room is a personal room.
func IsUserRoom(room string) bool { return strings.HasPrefix(room, userRoomPrefix) }

// ParseUserRoom is the inverse of UserRoom.
func ParseUserRoom(room string) (userID int64, ok bool) {
	rest, found := strings.CutPrefix(room, userRoomPrefix)
	if !found {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && UserRoom(id) == room
}

// Slot is one hourly slot as the REST API and the snapshot list it.
type Slot struct {
	ID               int     `json:"id"`
	IDSlot           int     `json:"id_slot"`
	IDSpazio         int64   `json:"id_spazio"`
	IDSede           int64   `json:"id_sede"`
	Date             string  `json:"date"`
	Orario           string  `json:"orario"`
	Status           string  `json:"status"`
	Title            string  `json:"title"`
	ExpiresAt        *string `json:"expires_at,omitempty"`
	MinutesRemaining *int    `json:"minutes_remaining,omitempty"`
	PrenotazioneID   *int64  `json:"prenotazione_id,omitempty"`
	// IDUtente is shown only to the holder and to staff: other users never see who holds a slot.
	IDUtente *int64 `json:"id_utente,omitempty"`
}

// SlotData is the data member of slot_update and hold_expired.
type SlotData struct {
	ID             int     `json:"id"`
	IDSlot         int     `json:"id_slot"`
	IDSpazio       int64   `json:"id_spazio"`
	IDSede         int64   `json:"id_sede"`
	Date           string  `json:"date"`
	Orario         string  `json:"orario"`
	Status         string  `json:"status"`
	ExpiresAt      *string `json:"expires_at,omitempty"`
	PrenotazioneID *int64  `json:"prenotazione_id,omitempty"`
}

// ConnectionConfirmed is sent right after a socket connects.
type ConnectionConfirmed struct {
	Message   string `json:"message"`
	UserID    int64  `json:"userId"`
	Role      string `json:"ruolo,omitempty"`
	SocketID  string `json:"socketId,omitempty"`
	Recovered bool   `json:"recovered,omitempty"`
	Timestamp string `json:"timestamp"`
}

// JoinSpaceRequest is the client's join_space/leave_space payload. Ids may
// arrive as numbers or numeric strings, so they stay untyped until validated.
type JoinSpaceRequest struct {
	SpazioID any    `json:"spazioId"`
	SedeID   any    `json:"sedeId"`
	Date     string `json:"date,omitempty"`
}

// JoinedSpace answers a successful join_space. Date is the joined grid's
// date, absent for a join without one.
type JoinedSpace struct {
	Room      string `json:"room"`
	SpazioID  int64  `json:"spazioId"`
	SedeID    int64  `json:"sedeId"`
	Date      string `json:"date,omitempty"`
	Timestamp string `json:"timestamp"`
}

// SlotsStatusUpdate is the whole grid of one spazio and date. SpazioID,
// SedeID and Date are additive so a client in several rooms knows which
// grid this is.
type SlotsStatusUpdate struct {
	Type        string `json:"type"`
	SpazioID    int64  `json:"spazioId"`
	SedeID      int64  `json:"sedeId"`
	Date        string `json:"date"`
	SlotsStatus []Slot `json:"slotsStatus"`
	Timestamp   string `json:"timestamp"`
	// Version is the grid's version, read atomically with SlotsStatus: a
	// slot_update of this grid at or below it is already in SlotsStatus.
	Version int64 `json:"version"`
}

// SlotUpdate is one slot's change, broadcast to the spazio's room.
type SlotUpdate struct {
	Type      string   `json:"type"`
	SlotID    int      `json:"slotId"`
	Status    string   `json:"status"`
	Data      SlotData `json:"data"`
	Timestamp string   `json:"timestamp"`
	// Version is the grid's version after this change (see the package
	// documentation for how clients use it).
	Version int64 `json:"version"`
}

// FreedSlot names one slot freed by the expiry timer (additive in slots_freed).
type FreedSlot struct {
	IDSpazio int64  `json:"id_spazio"`
	IDSede   int64  `json:"id_sede"`
	Date     string `json:"date"`
	IDSlot   int    `json:"id_slot"`
}

// SlotsFreed is sent to every socket when the timer frees holds.
type SlotsFreed struct {
	Type      string      `json:"type"`
	Count     int         `json:"count"`
	Slots     []FreedSlot `json:"slots"`
	Timestamp string      `json:"timestamp"`
}

// HoldExpired tells a user (all their tabs) that their hold lapsed.
type HoldExpired struct {
	Type      string   `json:"type"`
	SlotID    int      `json:"slotId"`
	Data      SlotData `json:"data"`
	Timestamp string   `json:"timestamp"`
}

// SlotCancelled tells a user (all their tabs) that staff cancelled their
// hold or booking. Data is the slot as it is now (available) and names the
// cancelled prenotazione; Reason is staff's, shown to the user as is.
type SlotCancelled struct {
	Type      string   `json:"type"`
	SlotID    int      `json:"slotId"`
	Data      SlotData `json:"data"`
	Reason    string   `json:"reason"`
	Timestamp string   `json:"timestamp"`
}

// SpaceError answers an invalid join_space/leave_space.
type SpaceError struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// SessionExpired is sent just before the server disconnects a socket whose
// token reached exp.
type SessionExpired struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	Timestamp string `json:"timestamp"`
}

// Ack is the acknowledgement of join_space/leave_space.
type Ack struct {
	Success bool   `json:"success"`
	Room    string `json:"room,omitempty"`
	Error   string `json:"error,omitempty"`
	Code    string `json:"code,omitempty"`
}

// ParseID accepts an id that arrived as a JSON number or a numeric string
// and returns it when it is a positive integer. Anything else (missing,
// negative, zero, fractional, non-numeric, too large) is an error.
func ParseID(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("missing id")
	case float64:
		if x != float64(int64(x)) || x <= 0 || x > 1<<53 {
			return 0, fmt.Errorf("id %v is not a positive integer", x)
		}
		return int64(x), nil
	case int:
		return ParseID(float64(x))
	case int64:
		return ParseID(float64(x))
	case string:
		s := strings.TrimSpace(x)
		if s == "" || len(s) > 16 {
			return 0, fmt.Errorf("id %q is not a positive integer", x)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("id %q is not a positive integer", x)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("id of type %T is not a positive integer", v)
	}
}

// SlotTitle is a grid row's title, the original backend's text for each
// status: the slot page shows it as the tooltip of a taken slot. minutes
// is what is left of a hold (status occupied).
func SlotTitle(status string, minutes int) string {
	switch status {
	case "past":
		return "Orario passato"
	case "booked":
		return "Slot prenotato"
	case "occupied":
		return fmt.Sprintf("Slot occupato (%d min rimasti)", max(minutes, 0))
	}
	return "Slot disponibile"
}
