package protocol

// The REST API's bodies: the catalog, slot actions, staff cancel and
// history, stats and admin emit.

// Sede is a location with its spazi, as GET /api/sedi lists it (a bare
// array of them, as the original backend answers).
type Sede struct {
	IDSede         int64    `json:"id_sede" yaml:"id_sede"`
	Nome           string   `json:"nome" yaml:"nome"`
	Citta          string   `json:"citta" yaml:"citta"`
	Timezone       string   `json:"timezone,omitempty" yaml:"timezone"`
	OrarioApertura string   `json:"orario_apertura,omitempty" yaml:"orario_apertura"`
	OrarioChiusura string   `json:"orario_chiusura,omitempty" yaml:"orario_chiusura"`
	Spazi          []Spazio `json:"spazi" yaml:"spazi"`
}

// Spazio is a bookable space.
type Spazio struct {
	IDSpazio  int64  `json:"id_spazio" yaml:"id_spazio"`
	IDSede    int64  `json:"id_sede" yaml:"id_sede"`
	Nome      string `json:"nome" yaml:"nome"`
	Tipologia string `json:"tipologia" yaml:"tipologia"`
	Capacita  int    `json:"capacita" yaml:"capacita"`
}

// SlotsResponse is the body of GET /api/slots/{idSpazio}/{date}.
type SlotsResponse struct {
	Success bool      `json:"success"`
	Data    SlotsList `json:"data"`
}

// SlotsList is the data member of SlotsResponse.
type SlotsList struct {
	Slots    []Slot `json:"slots"`
	Count    int    `json:"count"`
	Date     string `json:"date"`
	IDSpazio int64  `json:"idSpazio"`
	IDSede   int64  `json:"idSede"`
	// Version is the grid's version, read atomically with Slots, as in
	// slots_status_update.
	Version int64 `json:"version"`
}

// SlotActionRequest is the body of hold, book and release. Ids may be
// numbers or numeric strings, like on the socket.
type SlotActionRequest struct {
	IDSpazio any    `json:"idSpazio"`
	SedeID   any    `json:"sedeId"`
	Date     string `json:"date"`
}

// SlotActionResponse answers hold, book and release.
type SlotActionResponse struct {
	Success bool            `json:"success"`
	Message string          `json:"message,omitempty"`
	Error   string          `json:"error,omitempty"`
	Code    string          `json:"code,omitempty"`
	Data    *SlotActionData `json:"data,omitempty"`
}

// SlotActionData is the data member of a successful slot action.
type SlotActionData struct {
	SlotID         int     `json:"slotId"`
	PrenotazioneID int64   `json:"prenotazione_id"`
	ExpiresAt      *string `json:"expires_at,omitempty"`
	Status         string  `json:"status"`
}

// SlotCancelRequest is the body of POST /api/admin/slots/{n}/cancel. Ids
// may be numbers or numeric strings. Reason is required (trimmed, one
// line, at most 200 characters). PrenotazioneID is optional: the
// reservation the caller means to cancel (from a grid or history it read);
// when the slot's active reservation is another one the server answers 409
// SLOT_CHANGED and changes nothing. Without it, whatever holds the slot is
// cancelled.
type SlotCancelRequest struct {
	IDSpazio       any    `json:"idSpazio"`
	SedeID         any    `json:"sedeId"`
	Date           string `json:"date"`
	Reason         string `json:"reason"`
	PrenotazioneID any    `json:"prenotazioneId,omitempty"`
}

// SlotCancelResponse answers a successful staff cancel.
type SlotCancelResponse struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Data    SlotCancelData `json:"data"`
}

// SlotCancelData is what a staff cancel did.
type SlotCancelData struct {
	SlotID         int    `json:"slotId"`
	PrenotazioneID int64  `json:"prenotazione_id"`
	Status         string `json:"status"`         // the slot's status now: available
	PreviousStatus string `json:"previousStatus"` // occupied or booked
	// IDUtente is the holder whose reservation was cancelled (staff only).
	IDUtente int64  `json:"id_utente"`
	Reason   string `json:"reason"`
	// Version is the grid version of the cancel, as in its slot_update.
	Version int64 `json:"version"`
}

// Audit actions: what an AuditEntry did to its slot.
const (
	AuditHold    = "hold"    // available → occupied
	AuditBook    = "book"    // occupied → booked
	AuditRelease = "release" // occupied → available
	AuditExpire  = "expire"  // occupied → available, nobody acted
	AuditCancel  = "cancel"  // occupied or booked → available, by staff
)

// RoleSystem is the ruolo of audit entries nobody acted for: expiries.
const RoleSystem = "system"

// AuditEntry is one change of one slot in GET
// /api/admin/slots/{idSpazio}/{date}/history.
type AuditEntry struct {
	ID       int64  `json:"id"`
	At       string `json:"at"` // when it was committed, like Timestamp
	Action   string `json:"action"`
	SlotID   int    `json:"slotId"`
	IDSpazio int64  `json:"id_spazio"`
	IDSede   int64  `json:"id_sede"`
	Date     string `json:"date"`
	// From and To are the slot's status before and after (available,
	// occupied, booked).
	From           string `json:"from"`
	To             string `json:"to"`
	PrenotazioneID int64  `json:"prenotazione_id"`
	// HolderID is whose reservation it is.
	HolderID int64 `json:"holderId"`
	// UserID and Role are who acted: the holder for hold, book and
	// release; staff for cancel; for expire the holder with RoleSystem.
	UserID int64  `json:"userId"`
	Role   string `json:"ruolo"`
	Reason string `json:"reason,omitempty"`
	// Version is the grid version the change committed; a slot_update of
	// the change carried the same.
	Version int64 `json:"version"`
}

// HistoryResponse is the body of GET /api/admin/slots/{idSpazio}/{date}/history.
type HistoryResponse struct {
	Success bool        `json:"success"`
	Data    HistoryList `json:"data"`
}

// HistoryList is the data member of HistoryResponse: entries newest
// (highest version) first, at most Limit.
type HistoryList struct {
	IDSpazio int64        `json:"idSpazio"`
	IDSede   int64        `json:"idSede"`
	Date     string       `json:"date"`
	Slot     int          `json:"slot,omitempty"` // the ?slot= filter, 0 for all
	Limit    int          `json:"limit"`
	Count    int          `json:"count"`
	Entries  []AuditEntry `json:"entries"`
}

// ErrorResponse is every failing REST body.
type ErrorResponse struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Code    string `json:"code,omitempty"`
}

// RoomStats counts the members of one room.
type RoomStats struct {
	Room     string `json:"room"`
	Members  int    `json:"members"`
	SpazioID int64  `json:"spazioId,omitempty"`
	SedeID   int64  `json:"sedeId,omitempty"`
}

// NodeStats describes one server node.
type NodeStats struct {
	NodeID        string `json:"nodeId"`
	Sockets       int    `json:"sockets"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
}

// Stats is the body of GET /api/stats.
type Stats struct {
	Success        bool        `json:"success"`
	ConnectedUsers int         `json:"connectedUsers"`
	TotalSockets   int         `json:"totalSockets"`
	Rooms          []RoomStats `json:"rooms"`
	RedisEnabled   bool        `json:"redisEnabled"`
	RedisConnected bool        `json:"redisConnected"`
	// Cluster says, with Redis on, whether the presence figures and nodes
	// are the whole cluster's (ClusterComplete) or, the other nodes not
	// having answered in time, partly this node's own (ClusterIncomplete);
	// empty without Redis.
	Cluster       string      `json:"cluster,omitempty"`
	UptimeSeconds int64       `json:"uptimeSeconds"`
	NodeID        string      `json:"nodeId"`
	Nodes         []NodeStats `json:"nodes"`
	ActiveHolds   int         `json:"activeHolds"`
	Version       string      `json:"version"`
	Timestamp     string      `json:"timestamp"`
}

// Stats.Cluster values.
const (
	ClusterComplete   = "complete"
	ClusterIncomplete = "incomplete"
)

// AdminEmitRequest is the body of POST /api/admin/emit: exactly one target.
type AdminEmitRequest struct {
	Event    string `json:"event"`
	Data     any    `json:"data"`
	Room     string `json:"room,omitempty"`
	SpazioID any    `json:"spazioId,omitempty"`
	SedeID   any    `json:"sedeId,omitempty"`
	UserID   any    `json:"userId,omitempty"`
	All      bool   `json:"all,omitempty"`
}

// AdminEmitResponse answers POST /api/admin/emit.
type AdminEmitResponse struct {
	Success    bool   `json:"success"`
	Event      string `json:"event"`
	Target     string `json:"target"`
	Recipients int    `json:"recipients"`
	// RecipientsExact is false when other nodes may hold members too.
	RecipientsExact bool   `json:"recipientsExact"`
	Timestamp       string `json:"timestamp"`
}
