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
	actionCatalog action = "catalog"
	actionStats   action = "stats"
	actionEmit    action = "admin_emit"
)

// problem is one row of the error table: a refusal of the contract and
// the HTTP status it is answered with.
type problem struct {
	status int
	protocol.Refusal
	// result labels the action's outcome in the slot action metrics.
	result string
}

// errorTable is the one place domain errors become HTTP answers.
func errorTable(a action, err error) problem {
	var limit *slots.LimitError
	errors.As(err, &limit)
	switch {
	case errors.Is(err, slots.ErrHoldLimit) && limit != nil:
		return problem{http.StatusTooManyRequests, protocol.HoldLimit(limit.Limit), "limited"}
	case errors.Is(err, slots.ErrDateTooFar) && limit != nil:
		return problem{http.StatusBadRequest, protocol.DateTooFar(limit.Limit), "invalid"}
	case errors.Is(err, slots.ErrNothingToCancel):
		return problem{http.StatusNotFound, protocol.RefusalNothingToCancel, "nothing"}
	case errors.Is(err, slots.ErrSlotChanged):
		return problem{http.StatusConflict, protocol.RefusalSlotChanged, "changed"}
	case errors.Is(err, slots.ErrBadReason):
		return problem{http.StatusBadRequest, protocol.BadReason(slots.MaxReasonLen), "invalid"}
	case errors.Is(err, slots.ErrSlotTaken):
		return problem{http.StatusConflict, protocol.RefusalSlotTaken, "taken"}
	case errors.Is(err, slots.ErrNotHeld) && a == actionBook:
		return problem{http.StatusConflict, protocol.RefusalNotBookable, "not_held"}
	case errors.Is(err, slots.ErrNotHeld):
		return problem{http.StatusNotFound, protocol.RefusalNotHeldByUser, "not_held"}
	case errors.Is(err, slots.ErrSpazioNotFound):
		return problem{http.StatusNotFound, protocol.RefusalSpaceNotFound, "invalid"}
	case errors.Is(err, slots.ErrSpazioNotInSede):
		return problem{http.StatusBadRequest, protocol.RefusalSpaceMismatch, "invalid"}
	case errors.Is(err, slots.ErrSlotOutOfRange):
		return problem{http.StatusBadRequest, protocol.RefusalSlotOutOfRange, "invalid"}
	case errors.Is(err, slots.ErrSlotPast):
		return problem{http.StatusBadRequest, protocol.RefusalSlotPast, "invalid"}
	case errors.Is(err, slots.ErrBadDate):
		return problem{http.StatusBadRequest, protocol.RefusalBadDate, "invalid"}
	case errors.Is(err, slots.ErrUnavailable):
		return problem{http.StatusServiceUnavailable, protocol.RefusalUnavailable, "unavailable"}
	case errors.Is(err, slots.ErrBadInput):
		return problem{http.StatusBadRequest, protocol.Refusal{Code: protocol.CodeBadInput, Text: "Dati non validi: " + err.Error()}, "invalid"}
	}
	return problem{http.StatusInternalServerError, protocol.RefusalInternalHTTP, "error"}
}
