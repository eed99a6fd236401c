package realtime

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// TestRefusals: every socket refusal's code and text, the ones the
// frontend shows; wrapped errors map like the sentinel they wrap.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code, text string
		internal   bool
	}{
		{&badRequest{event: protocol.EventJoinSpace, err: errors.New("spazioId mancante")}, protocol.CodeInvalidInput, "Richiesta join_space non valida: spazioId mancante", false},
		{&badRequest{event: protocol.EventLeaveSpace, err: errors.New("x")}, protocol.CodeInvalidInput, "Richiesta leave_space non valida: x", false},
		{fmt.Errorf("grid: spazio 9: %w", slots.ErrSpazioNotFound), protocol.CodeSpaceNotFound, "Spazio non trovato", false},
		{fmt.Errorf("grid: %w", slots.ErrSpazioNotInSede), protocol.CodeSpaceMismatch, "Lo spazio non appartiene a questa sede", false},
		{fmt.Errorf("grid: %w", slots.ErrBadDate), protocol.CodeInvalidInput, protocol.MsgBadDate, false},
		{errTooManyRooms, protocol.CodeTooManyRooms, "Troppi spazi seguiti da questa connessione", false},
		{errRateLimited, protocol.CodeRateLimited, "Troppe richieste: rallenta", false},
		{errors.New("database is locked"), protocol.CodeInternal, "Errore interno, riprova", true},
	} {
		code, text, internal := refusal(tc.err)
		if code != tc.code || text != tc.text || internal != tc.internal {
			t.Errorf("refusal(%v) = %q, %q, %v; want %q, %q, %v", tc.err, code, text, internal, tc.code, tc.text, tc.internal)
		}
	}
}
