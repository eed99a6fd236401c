package protocol

import (
	"fmt"
	"strings"
)

// ReservedEvents are names a client or the admin endpoint may not emit.
var ReservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true, "error": true, "message": true,
	"reconnect": true, "reconnect_attempt": true, "reconnect_error": true, "reconnect_failed": true,
	"ping": true, "pong": true,
}

// MaxEventNameLen bounds an event name sent through the admin endpoint:
// names are identifiers, not payloads.
const MaxEventNameLen = 64

// EventNameError says why an event name is refused: Code is one of the
// codes above, Error the Italian text for the answer.
type EventNameError struct {
	Code string
	Msg  string
}

func (e *EventNameError) Error() string { return e.Msg }

// ValidateEventName accepts 1 to MaxEventNameLen letters, digits and
// "_-.:/" that are not a reserved name. Every event the product emits
// fits; a name outside this set is a mistake or an attempt to smuggle
// data (or a 100 KB string) into every recipient's event handlers.
func ValidateEventName(name string) error {
	switch {
	case name == "":
		return &EventNameError{CodeBadInput, "event è obbligatorio"}
	case len(name) > MaxEventNameLen:
		return &EventNameError{CodeBadEventName, fmt.Sprintf("Nome evento troppo lungo: %d byte, al massimo %d", len(name), MaxEventNameLen)}
	case ReservedEvents[name]:
		return &EventNameError{CodeReservedEvent, fmt.Sprintf("Nome evento riservato: %q", name)}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.:/", c) >= 0
		if !ok {
			return &EventNameError{CodeBadEventName, fmt.Sprintf("Nome evento non valido: carattere %q non ammesso (solo lettere, cifre e _-.:/)", c)}
		}
	}
	return nil
}
