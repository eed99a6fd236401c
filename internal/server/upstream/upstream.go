// Package upstream reverse-proxies the routes serve does not own to the
// existing backend (--upstream), so a page with a single API base reaches
// both through one origin.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/coworkctl/coworkctl/internal/server/cors"
)

// The 502 answer when the backend cannot be reached, in the backend's own
// error shape ({success: false, error}) plus a code.
const (
	CodeUnavailable = "UPSTREAM_UNAVAILABLE"
	MsgUnavailable  = "Servizio temporaneamente non disponibile: il backend non risponde"
)

// ParseURL checks an --upstream value: an absolute http or https URL.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--upstream %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--upstream %q: want an http:// or https:// URL with a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--upstream %q: a query or fragment is not allowed", raw)
	}
	return u, nil
}

// New returns the proxy to target. Responses stream as they come
// (server-sent events and long downloads are flushed at once), websocket
// upgrades pass through, X-Forwarded-For/-Host/-Proto are set, and CORS
// is answered by policy only: preflights are answered here and the
// backend's own CORS headers are replaced, so a browser never sees them
// twice.
func New(target *url.URL, policy cors.Policy, log *slog.Logger) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return nil
			}
			cors.Strip(resp.Header)
			policy.Apply(resp.Header, resp.Request.Header.Get("Origin"))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(r.Context().Err(), context.Canceled) {
				// The client went away; nobody reads an answer.
				return
			}
			log.Warn("upstream unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
			h := w.Header()
			policy.Apply(h, r.Header.Get("Origin"))
			h.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "error": MsgUnavailable, "code": CodeUnavailable})
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cors.IsPreflight(r) {
			policy.Preflight(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
}
