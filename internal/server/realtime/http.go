package realtime

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// recordSeparator splits packets in an Engine.IO v4 polling payload.
const recordSeparator = 0x1e

// Handler serves /socket.io/. It guards the library: a polling POST is
// read and bounded (bytes and packet count) before the library sees it,
// because the library amplifies one large POST of tiny packets into
// hundreds of megabytes (NOTES 12); new sessions beyond MaxConnections
// are refused with 503.
func (h *Hub) Handler() http.Handler {
	inner := h.io.ServeHandler(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if h.closing.Load() {
			engineError(w, http.StatusServiceUnavailable, 503, "Server shutting down")
			return
		}
		if q.Get("sid") == "" && int(h.io.Engine().ClientsCount()) >= h.cfg.MaxConnections {
			engineError(w, http.StatusServiceUnavailable, 503, "Too many connections")
			return
		}
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxPayloadBytes+1))
			_ = r.Body.Close()
			if err != nil {
				engineError(w, http.StatusBadRequest, 3, "Bad request")
				return
			}
			if int64(len(body)) > h.cfg.MaxPayloadBytes {
				engineError(w, http.StatusRequestEntityTooLarge, 3, "Payload too large")
				return
			}
			if bytes.Count(body, []byte{recordSeparator})+1 > h.cfg.MaxPollingPackets {
				engineError(w, http.StatusBadRequest, 3, "Too many packets in one request")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		inner.ServeHTTP(w, r)
	})
}

// engineError answers like Engine.IO does: {"code":N,"message":"…"}.
func engineError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}
