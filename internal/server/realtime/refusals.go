package realtime

import (
	"errors"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// The socket's refusals (space_error and the failed ack): one table of
// codes and Italian texts, as httpapi's errors.go is for HTTP.

var (
	errTooManyRooms = errors.New("too many rooms on one connection")
	errRateLimited  = errors.New("event rate limit")
)

// badRequest is a join_space or leave_space whose payload is not valid.
type badRequest struct {
	event string
	err   error
}

func (b *badRequest) Error() string { return b.event + ": " + b.err.Error() }
func (b *badRequest) Unwrap() error { return b.err }

var refusals = []struct {
	err error
	protocol.Refusal
}{
	{slots.ErrSpazioNotFound, protocol.RefusalSpaceNotFound},
	{slots.ErrSpazioNotInSede, protocol.RefusalSpaceMismatch},
	{slots.ErrBadDate, protocol.RefusalSocketBadDate},
	{errTooManyRooms, protocol.RefusalTooManyRooms},
	{errRateLimited, protocol.RefusalRateLimited},
	{slots.ErrUnavailable, protocol.RefusalUnavailable},
}

// refusal is the code and text a client gets for err; internal reports
// an error the table does not know (the caller logs it).
func refusal(err error) (code, text string, internal bool) {
	var bad *badRequest
	if errors.As(err, &bad) {
		return protocol.CodeInvalidInput, "Richiesta " + bad.event + " non valida: " + bad.err.Error(), false
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.Code, r.Text, false
		}
	}
	return protocol.RefusalInternal.Code, protocol.RefusalInternal.Text, true
}
