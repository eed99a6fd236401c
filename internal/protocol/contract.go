package protocol

// The contract's texts and codes live here and nowhere else: the frontend
// shows the Italian texts (and matches some of them verbatim), scripts match
// the codes. Each transport maps a Refusal to its own form: an HTTP status
// and JSON body (internal/server/httpapi), a space_error and failed ack or a
// connect_error (internal/server/realtime). docs/contract.md lists them, and
// a test keeps that list and Refusals in step.

// Texts of successful answers and of the seed's refusals.
const (
	MsgConnected          = "Connesso al sistema real-time"
	MsgSocketAuthRequired = "Token di autenticazione richiesto"
	MsgSocketAuthInvalid  = "Token non valido"
	MsgHTTPAuthRequired   = "Token di accesso richiesto"
	MsgHTTPAuthInvalid    = "Token non valido o scaduto"
	MsgBadDate            = "Formato data non valido. Usa YYYY-MM-DD"
	MsgSlotUnavailable    = "Slot non disponibile"
	MsgSlotNotBookable    = "Slot non disponibile per prenotazione"
	MsgSlotBooked         = "Slot prenotato con successo"
	MsgSlotReleased       = "Slot liberato con successo"
	MsgSlotNotHeldByUser  = "Slot non trovato o non occupato da questo utente"
	MsgNothingToCancel    = "Nessuna prenotazione da annullare su questo slot"
	MsgSlotChanged        = "La prenotazione su questo slot è cambiata: ricarica e riprova"
	MsgSlotCancelled      = "Prenotazione annullata: slot liberato"
	MsgSessionExpired     = "Sessione scaduta"
	// MsgHoldTemplate takes the hold's duration in words (HoldMessage).
	MsgHoldTemplate = "Slot occupato per %s"
)

// Codes of refusals. The socket and HTTP transports name some failures
// differently (INVALID_INPUT on a socket, BAD_INPUT or BAD_DATE over HTTP),
// as they always have: scripts depend on both.
const (
	CodeAuthRequired    = "AUTH_REQUIRED"
	CodeAuthInvalid     = "AUTH_INVALID"
	CodeSessionExpired  = "TOKEN_EXPIRED"
	CodeInvalidInput    = "INVALID_INPUT"
	CodeBadInput        = "BAD_INPUT"
	CodeBadDate         = "BAD_DATE"
	CodeSpaceNotFound   = "SPACE_NOT_FOUND"
	CodeSpaceMismatch   = "SPACE_NOT_IN_SEDE"
	CodeSlotTaken       = "SLOT_TAKEN"
	CodeNotHeld         = "NOT_HELD"
	CodeSlotOutOfRange  = "SLOT_OUT_OF_RANGE"
	CodeSlotPast        = "SLOT_PAST"
	CodeTooManyRooms    = "TOO_MANY_ROOMS"
	CodeRateLimited     = "RATE_LIMITED"
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
	CodeNotFound        = "NOT_FOUND"
	CodeForbidden       = "FORBIDDEN"
	CodeReservedEvent   = "RESERVED_EVENT"
	// CodeBadEventName: an admin emit's event name is too long or has a
	// character outside letters, digits and "_-.:/" (400).
	CodeBadEventName = "BAD_EVENT_NAME"
	CodeBadTarget    = "BAD_TARGET"
	// CodeInternal is the socket's code for an unexpected failure;
	// CodeInternalHTTP is the REST API's.
	CodeInternal     = "INTERNAL_ERROR"
	CodeInternalHTTP = "INTERNAL"
	// CodeHoldLimit: the user already has --max-holds-per-user active holds.
	CodeHoldLimit = "HOLD_LIMIT"
	// CodeDateTooFar: the date is more than --max-days-ahead days ahead.
	CodeDateTooFar = "DATE_TOO_FAR"
	// CodeNothingToCancel: the slot is neither held nor booked (404).
	CodeNothingToCancel = "NOTHING_TO_CANCEL"
	// CodeSlotChanged: the request named a prenotazione and the slot now
	// has another one (409); nothing was changed.
	CodeSlotChanged = "SLOT_CHANGED"
	// CodeBadReason: the reason is missing, too long or not one line (400).
	CodeBadReason = "BAD_REASON"
	// CodeUnavailable: the database did not answer within --store-timeout
	// or lost its connection (HTTP 503); the same request may be retried.
	CodeUnavailable = "STORE_UNAVAILABLE"
)

// Refusal is a code and the Italian text a client gets with it.
type Refusal struct {
	Code string
	Text string
}

// The refusals whose text is fixed. HoldLimit, DateTooFar and BadReason
// build the ones whose text names a limit.
var (
	RefusalAuthRequired     = Refusal{CodeAuthRequired, MsgSocketAuthRequired}
	RefusalAuthInvalid      = Refusal{CodeAuthInvalid, MsgSocketAuthInvalid}
	RefusalSessionExpired   = Refusal{CodeSessionExpired, MsgSessionExpired}
	RefusalSpaceNotFound    = Refusal{CodeSpaceNotFound, "Spazio non trovato"}
	RefusalSpaceMismatch    = Refusal{CodeSpaceMismatch, "Lo spazio non appartiene a questa sede"}
	RefusalSlotTaken        = Refusal{CodeSlotTaken, MsgSlotUnavailable}
	RefusalNotBookable      = Refusal{CodeNotHeld, MsgSlotNotBookable}
	RefusalNotHeldByUser    = Refusal{CodeNotHeld, MsgSlotNotHeldByUser}
	RefusalSlotOutOfRange   = Refusal{CodeSlotOutOfRange, "Slot non valido: fuori dall'orario della sede"}
	RefusalSlotPast         = Refusal{CodeSlotPast, "Slot nel passato: non disponibile"}
	RefusalBadDate          = Refusal{CodeBadDate, MsgBadDate}
	RefusalSocketBadDate    = Refusal{CodeInvalidInput, MsgBadDate}
	RefusalNothingToCancel  = Refusal{CodeNothingToCancel, MsgNothingToCancel}
	RefusalSlotChanged      = Refusal{CodeSlotChanged, MsgSlotChanged}
	RefusalTooManyRooms     = Refusal{CodeTooManyRooms, "Troppi spazi seguiti da questa connessione"}
	RefusalRateLimited      = Refusal{CodeRateLimited, "Troppe richieste: rallenta"}
	RefusalNotFound         = Refusal{CodeNotFound, "Risorsa non trovata"}
	RefusalForbidden        = Refusal{CodeForbidden, "Accesso riservato allo staff"}
	RefusalInternal         = Refusal{CodeInternal, "Errore interno, riprova"}
	RefusalInternalHTTP     = Refusal{CodeInternalHTTP, "Errore interno del server"}
	RefusalHTTPAuthRequired = Refusal{CodeAuthRequired, MsgHTTPAuthRequired}
	RefusalHTTPAuthInvalid  = Refusal{CodeAuthInvalid, MsgHTTPAuthInvalid}
	RefusalUnavailable      = Refusal{CodeUnavailable, "Servizio momentaneamente non disponibile, riprova tra qualche secondo"}
)

// Refusals lists every refusal with a fixed text, for documentation and the
// test that keeps docs/contract.md true.
func Refusals() []Refusal {
	return []Refusal{
		RefusalAuthRequired, RefusalAuthInvalid, RefusalSessionExpired,
		RefusalHTTPAuthRequired, RefusalHTTPAuthInvalid,
		RefusalSpaceNotFound, RefusalSpaceMismatch, RefusalSlotTaken,
		RefusalNotBookable, RefusalNotHeldByUser, RefusalSlotOutOfRange,
		RefusalSlotPast, RefusalBadDate, RefusalSocketBadDate,
		RefusalNothingToCancel, RefusalSlotChanged, RefusalTooManyRooms,
		RefusalRateLimited, RefusalNotFound, RefusalForbidden,
		RefusalInternal, RefusalInternalHTTP, RefusalUnavailable,
	}
}

// HoldLimit is the refusal of a hold beyond a cap of n active holds.
func HoldLimit(n int) Refusal { return Refusal{CodeHoldLimit, HoldLimitMessage(n)} }

// DateTooFar is the refusal of a hold more than n days ahead.
func DateTooFar(n int) Refusal { return Refusal{CodeDateTooFar, DateTooFarMessage(n)} }

// BadReason is the refusal of a cancel whose reason is not 1 to n
// characters on one line.
func BadReason(n int) Refusal { return Refusal{CodeBadReason, BadReasonMessage(n)} }
