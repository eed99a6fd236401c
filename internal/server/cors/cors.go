// Package cors is the one CORS policy of serve's HTTP routes: the REST
// API, the client bundle and, with --upstream, every proxied route, so a
// browser sees each answer's CORS headers exactly once.
package cors

import (
	"net/http"
	"strings"
)

// Policy is the browser allow-list of --cors-origin.
type Policy struct {
	// Origins are the allowed origins; "*" allows any. Empty allows none
	// (same-origin pages need no CORS).
	Origins []string
}

// Allowed reports whether a browser on origin may read the answers.
func (p Policy) Allowed(origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range p.Origins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// defaultHeaders are the request headers allowed when a preflight names
// none: the ones the page and our clients send.
const defaultHeaders = "Authorization, Content-Type"

// Apply sets the CORS answer headers on h for a request with origin, when
// the origin is allowed. Credentials are allowed, so the origin is echoed
// rather than "*".
func (p Policy) Apply(h http.Header, origin string) {
	if !p.Allowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", defaultHeaders)
	h.Add("Vary", "Origin")
}

// Strip removes every CORS answer header from h: an upstream's answer is
// rewritten with our policy instead of carrying two.
func Strip(h http.Header) {
	for k := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Access-Control-") {
			delete(h, k)
		}
	}
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Preflight answers a preflight: 204 with the policy's headers (none for
// an origin not allowed, which the browser then refuses). The requested
// headers are allowed as asked, since the origin is trusted; Max-Age lets
// the browser skip the preflight for a day, as the original backend did.
func (p Policy) Preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	p.Apply(w.Header(), origin)
	if p.Allowed(origin) {
		if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
			w.Header().Set("Access-Control-Allow-Headers", asked)
		}
		w.Header().Set("Access-Control-Max-Age", "86400")
	}
	w.WriteHeader(http.StatusNoContent)
}
