package realtime

import (
	"encoding/json"
	"fmt"

	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// decodeArg re-decodes the first payload argument into v. Socket.IO hands
// over generic JSON (maps, float64s); a round trip through encoding/json
// gives strict, typed decoding in one place.
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

// handshakeToken finds the token like the seed: auth.token, else the
// "token" query parameter.
func handshakeToken(h *sio.Handshake) string {
	if h == nil {
		return ""
	}
	if t, ok := h.Auth["token"].(string); ok && t != "" {
		return t
	}
	return h.Query.Get("token")
}
