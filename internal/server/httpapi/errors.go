package httpapi

import (
	"errors"
	"net/http"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// action names the REST call an error came from: the seed answers the
// same domain error differently for book and release.
type action string

const (
	actionRead    action = "read"
	actionHold    action = "hold"
	actionBook    action = "book"
	actionRelease action = "release"
	actionCancel  action = "cancel"
	actionHistory action = "history"
)

// problem is one row of the error table.
type problem struct {
	status int
	code   string
	msg    string
	// result labels the action's outcome in the slot action metrics.
	result string
}

// errorTable is the one place domain errors become HTTP answers.
func errorTable(a action, err error) problem {
	var limit *slots.LimitError
	errors.As(err, &limit)
	switch {
	case errors.Is(err, slots.ErrHoldLimit) && limit != nil:
		return problem{http.StatusTooManyRequests, protocol.CodeHoldLimit, protocol.HoldLimitMessage(limit.Limit), "limited"}
	case errors.Is(err, slots.ErrDateTooFar) && limit != nil:
		return problem{http.StatusBadRequest, protocol.CodeDateTooFar, protocol.DateTooFarMessage(limit.Limit), "invalid"}
	case errors.Is(err, slots.ErrNothingToCancel):
		return problem{http.StatusNotFound, protocol.CodeNothingToCancel, protocol.MsgNothingToCancel, "nothing"}
	case errors.Is(err, slots.ErrSlotChanged):
		return problem{http.StatusConflict, protocol.CodeSlotChanged, protocol.MsgSlotChanged, "changed"}
	case errors.Is(err, slots.ErrBadReason):
		return problem{http.StatusBadRequest, protocol.CodeBadReason, protocol.BadReasonMessage(slots.MaxReasonLen), "invalid"}
	case errors.Is(err, slots.ErrSlotTaken):
		return problem{http.StatusConflict, "SLOT_TAKEN", protocol.MsgSlotUnavailable, "taken"}
	case errors.Is(err, slots.ErrNotHeld) && a == actionBook:
		return problem{http.StatusConflict, "NOT_HELD", protocol.MsgSlotNotBookable, "not_held"}
	case errors.Is(err, slots.ErrNotHeld):
		return problem{http.StatusNotFound, "NOT_HELD", protocol.MsgSlotNotHeldByUser, "not_held"}
	case errors.Is(err, slots.ErrSpazioNotFound):
		return problem{http.StatusNotFound, "SPACE_NOT_FOUND", "Spazio non trovato", "invalid"}
	case errors.Is(err, slots.ErrSpazioNotInSede):
		return problem{http.StatusBadRequest, "SPACE_NOT_IN_SEDE", "Lo spazio non appartiene a questa sede", "invalid"}
	case errors.Is(err, slots.ErrSlotOutOfRange):
		return problem{http.StatusBadRequest, "SLOT_OUT_OF_RANGE", "Slot non valido: fuori dall'orario della sede", "invalid"}
	case errors.Is(err, slots.ErrSlotPast):
		return problem{http.StatusBadRequest, "SLOT_PAST", "Slot nel passato: non disponibile", "invalid"}
	case errors.Is(err, slots.ErrBadDate):
		return problem{http.StatusBadRequest, "BAD_DATE", protocol.MsgBadDate, "invalid"}
	case errors.Is(err, slots.ErrBadInput):
		return problem{http.StatusBadRequest, "BAD_INPUT", "Dati non validi: " + err.Error(), "invalid"}
	}
	return problem{http.StatusInternalServerError, "INTERNAL", "Errore interno del server", "error"}
}
