package realtime

// This file holds every type assertion on the Socket.IO library's untyped
// handler arguments (func(...any)), so the rest of the package works with
// typed values (NOTES pitfall 7).

import (
	"encoding/json"
	"fmt"

	enginepacket "github.com/zishang520/socket.io/parsers/engine/v3/packet"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
)

// connectedSocket extracts the socket of a "connection" event.
func connectedSocket(args []any) (*sio.Socket, bool) {
	if len(args) == 0 {
		return nil, false
	}
	s, ok := args[0].(*sio.Socket)
	return s, ok
}

// splitAck separates an event's payload arguments from the trailing ack
// callback the library appends when the client asked for one.
func splitAck(args []any) ([]any, sio.Ack) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(sio.Ack); ok {
			return args[:n-1], ack
		}
		if ack, ok := args[n-1].(func([]any, error)); ok {
			return args[:n-1], ack
		}
	}
	return args, nil
}

// decodeArg re-decodes the first payload argument into v. The library
// hands over generic JSON (maps, float64s); a round trip through
// encoding/json gives strict, typed decoding in one place.
func decodeArg(args []any, v any) error {
	if len(args) == 0 || args[0] == nil {
		return fmt.Errorf("missing payload")
	}
	b, err := json.Marshal(args[0])
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("payload is not the expected object: %w", err)
	}
	return nil
}

// eventName returns the event name of a raw incoming packet's arguments.
func eventName(args []any) string {
	if len(args) == 0 {
		return ""
	}
	s, _ := args[0].(string)
	return s
}

// disconnectReason extracts the reason of a "disconnect" event.
func disconnectReason(args []any) string {
	if len(args) == 0 {
		return "unknown"
	}
	if s, ok := args[0].(string); ok {
		return s
	}
	return fmt.Sprint(args[0])
}

// handshakeToken finds the token like the seed: auth.token, else the
// "token" query parameter (a string or []string).
func handshakeToken(s *sio.Socket) string {
	h := s.Handshake()
	if h == nil {
		return ""
	}
	if t, ok := h.Auth["token"].(string); ok && t != "" {
		return t
	}
	if h.Query != nil {
		return h.Query.Query().Get("token")
	}
	return ""
}

// reply calls ack, if the client asked for one, with a single object.
func reply(ack sio.Ack, v any) {
	if ack != nil {
		ack([]any{v}, nil)
	}
}

// isNamespaceDisconnect reports whether an engine "packet" event carries a
// Socket.IO DISCONNECT for the main namespace ("41" on the wire). It reads
// the payload without consuming it: the library decodes it after us.
func isNamespaceDisconnect(args []any) bool {
	if len(args) == 0 {
		return false
	}
	p, ok := args[0].(*enginepacket.Packet)
	if !ok || p == nil || p.Type != enginepacket.MESSAGE {
		return false
	}
	b, ok := p.Data.(interface{ Bytes() []byte })
	return ok && string(b.Bytes()) == "1"
}
