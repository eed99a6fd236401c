package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// Every domain error is the caller's fault: the table answers each with a
// 4xx, a code of its own and an outcome other than "error", however the
// error was wrapped on its way up; a store that does not answer is a 503
// on every route. Anything else is a 500.
func TestErrorTable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("hold spazio 1 2030-03-04 slot 2: %w", err) }
	tests := []struct {
		act    action
		err    error
		status int
		code   string
		result string
	}{
		{actionHold, slots.ErrSlotTaken, http.StatusConflict, "SLOT_TAKEN", "taken"},
		{actionBook, slots.ErrNotHeld, http.StatusConflict, "NOT_HELD", "not_held"},
		{actionRelease, slots.ErrNotHeld, http.StatusNotFound, "NOT_HELD", "not_held"},
		{actionHold, slots.ErrSpazioNotFound, http.StatusNotFound, "SPACE_NOT_FOUND", "invalid"},
		{actionHold, slots.ErrSpazioNotInSede, http.StatusBadRequest, "SPACE_NOT_IN_SEDE", "invalid"},
		{actionHold, slots.ErrSlotOutOfRange, http.StatusBadRequest, "SLOT_OUT_OF_RANGE", "invalid"},
		{actionHold, slots.ErrSlotPast, http.StatusBadRequest, "SLOT_PAST", "invalid"},
		{actionRead, slots.ErrBadDate, http.StatusBadRequest, "BAD_DATE", "invalid"},
		{actionHistory, slots.ErrBadInput, http.StatusBadRequest, "BAD_INPUT", "invalid"},
		{actionHold, &slots.LimitError{Err: slots.ErrHoldLimit, Limit: 4}, http.StatusTooManyRequests, "HOLD_LIMIT", "limited"},
		{actionHold, &slots.LimitError{Err: slots.ErrDateTooFar, Limit: 90}, http.StatusBadRequest, "DATE_TOO_FAR", "invalid"},
		{actionCancel, slots.ErrNothingToCancel, http.StatusNotFound, "NOTHING_TO_CANCEL", "nothing"},
		{actionCancel, slots.ErrSlotChanged, http.StatusConflict, "SLOT_CHANGED", "changed"},
		{actionCancel, slots.ErrBadReason, http.StatusBadRequest, "BAD_REASON", "invalid"},
		{actionCatalog, slots.ErrUnavailable, http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "unavailable"},
		{actionStats, slots.ErrUnavailable, http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "unavailable"},
		{actionHold, errors.New("disk full"), http.StatusInternalServerError, "INTERNAL", "error"},
	}
	for _, tt := range tests {
		p := errorTable(tt.act, wrap(tt.err))
		if p.status != tt.status || p.Code != tt.code || p.result != tt.result || p.Text == "" {
			t.Errorf("%s %v: %d %s %q (outcome %s); want %d %s, a message, outcome %s",
				tt.act, tt.err, p.status, p.Code, p.Text, p.result, tt.status, tt.code, tt.result)
		}
	}
}
