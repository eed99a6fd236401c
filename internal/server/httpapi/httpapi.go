// Package httpapi serves coworkctl's REST API (the README's REST table): public slot
// grids and catalog, hold/book/release for users, stats, admin emit, slot
// cancel and slot history for staff, health, readiness and metrics.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/cors"
	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxBodyBytes bounds every JSON body; the largest legitimate one is an
// admin emit with a load-test payload.
const maxBodyBytes = 1 << 20

// Deps are the API's collaborators.
type Deps struct {
	Slots    *slots.Service
	Verifier *auth.Verifier
	Catalog  func(ctx context.Context) ([]slots.Sede, error)
	Stats    func(ctx context.Context) (protocol.Stats, error)
	Emit     func(ctx context.Context, t realtime.Target, event string, data any) (recipients int, exact bool, err error)
	// Ready reports whether the node can serve (store reachable, not draining).
	Ready    func(ctx context.Context) error
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer
	// CORS is the browser allow-list of every route served here.
	CORS cors.Policy
	// Upstream, when set, serves every route the API does not own (the
	// existing backend behind --upstream); the original's catalog routes
	// are then its own. Nil: coworkctl answers those routes itself and
	// anything else under /api/ is a 404.
	Upstream http.Handler
	Log      *slog.Logger
}

type api struct{ Deps }

// Routes registers the API on mux.
func Routes(mux *http.ServeMux, d Deps) {
	a := &api{d}
	if d.Upstream == nil {
		// The original backend's catalog routes, in its shapes. Behind
		// --upstream the backend answers them: its rows carry fields and
		// filters coworkctl's catalog does not keep.
		mux.Handle("GET /api/sedi", a.wrap("sedi", a.sedi))
		mux.Handle("GET /api/spazi", a.wrap("spazi", a.spazi))
		mux.Handle("/api/", a.wrap("not_found", notFound))
	} else {
		mux.Handle("/", a.wrapUpstream(d.Upstream))
	}
	// Slot state is coworkctl's: the whole /api/slots/ tree stays here,
	// so no slot route ever reaches a backend that no longer owns slots.
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		mux.Handle(m+" /api/slots/", a.wrap("not_found", notFound))
	}
	mux.Handle("GET /api/slots/{idSpazio}/{date}", a.wrap("slots", a.slots))
	mux.Handle("POST /api/slots/{id}/hold", a.wrap("hold", a.requireUser(a.slotAction(actionHold))))
	mux.Handle("POST /api/slots/{id}/book", a.wrap("book", a.requireUser(a.slotAction(actionBook))))
	mux.Handle("POST /api/slots/{id}/release", a.wrap("release", a.requireUser(a.slotAction(actionRelease))))
	mux.Handle("GET /api/stats", a.wrap("stats", a.requireStaff(a.stats)))
	mux.Handle("POST /api/admin/emit", a.wrap("admin_emit", a.requireStaff(a.adminEmit)))
	mux.Handle("POST /api/admin/slots/{id}/cancel", a.wrap("admin_cancel", a.requireStaff(a.cancelSlot)))
	mux.Handle("GET /api/admin/slots/{idSpazio}/{date}/history", a.wrap("admin_history", a.requireStaff(a.history)))
	mux.Handle("OPTIONS /api/", a.wrap("preflight", func(w http.ResponseWriter, r *http.Request) { a.CORS.Preflight(w, r) }))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeRefusal(w, http.StatusNotFound, protocol.RefusalNotFound)
}

// statusRecorder remembers the status for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's flusher and
// hijacker: the upstream proxy streams and upgrades through it.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// wrapUpstream counts and logs the proxied requests. CORS and body limits
// are the proxy's own business (it rewrites the upstream's CORS headers).
func (a *api) wrapUpstream(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		a.Metrics.HTTPRequests.WithLabelValues("upstream", strconv.Itoa(rec.status)).Inc()
		a.Metrics.HTTPSeconds.WithLabelValues("upstream").Observe(time.Since(start).Seconds())
		a.Log.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start), "upstream", true)
	})
}

// wrap adds CORS, a body limit, metrics and a debug log line to a route.
func (a *api) wrap(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		a.CORS.Apply(w.Header(), r.Header.Get("Origin"))
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		a.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		a.Metrics.HTTPSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		a.Log.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

// bearer extracts and verifies the Authorization header. ok=false means
// the response was written.
func (a *api) bearer(w http.ResponseWriter, r *http.Request) (*auth.Claims, bool) {
	h := r.Header.Get("Authorization")
	token, found := strings.CutPrefix(h, "Bearer ")
	if h == "" || !found || strings.TrimSpace(token) == "" {
		a.Metrics.AuthFailures.WithLabelValues(protocol.CodeAuthRequired, "http").Inc()
		writeRefusal(w, http.StatusUnauthorized, protocol.RefusalHTTPAuthRequired)
		return nil, false
	}
	c, err := a.Verifier.Verify(strings.TrimSpace(token))
	if err != nil {
		a.Metrics.AuthFailures.WithLabelValues(protocol.CodeAuthInvalid, "http").Inc()
		writeRefusal(w, http.StatusForbidden, protocol.RefusalHTTPAuthInvalid)
		return nil, false
	}
	return c, true
}

func (a *api) requireUser(next func(http.ResponseWriter, *http.Request, *auth.Claims)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c, ok := a.bearer(w, r); ok {
			next(w, r, c)
		}
	}
}

func (a *api) requireStaff(next func(http.ResponseWriter, *http.Request, *auth.Claims)) http.HandlerFunc {
	return a.requireUser(func(w http.ResponseWriter, r *http.Request, c *auth.Claims) {
		if !c.IsStaff() {
			writeRefusal(w, http.StatusForbidden, protocol.RefusalForbidden)
			return
		}
		next(w, r, c)
	})
}

func (a *api) sedi(w http.ResponseWriter, r *http.Request) {
	cat, err := a.Catalog(r.Context())
	if err != nil {
		a.domainError(w, actionCatalog, err)
		return
	}
	// The original answers a bare array (the page calls forEach on it)
	// and filters by ?citta=.
	out := wire.Sedi(cat)
	if citta := r.URL.Query().Get("citta"); citta != "" {
		out = slices.DeleteFunc(out, func(s protocol.Sede) bool { return s.Citta != citta })
	}
	writeJSON(w, http.StatusOK, out)
}

// spazi is the original's GET /api/spazi: a bare array of spazi, filtered
// by ?id_sede= and ?tipologia= when given.
func (a *api) spazi(w http.ResponseWriter, r *http.Request) {
	cat, err := a.Catalog(r.Context())
	if err != nil {
		a.domainError(w, actionCatalog, err)
		return
	}
	q := r.URL.Query()
	out := []protocol.Spazio{}
	for _, s := range wire.Sedi(cat) {
		if v := q.Get("id_sede"); v != "" && v != strconv.FormatInt(s.IDSede, 10) {
			continue
		}
		for _, sp := range s.Spazi {
			if v := q.Get("tipologia"); v == "" || v == sp.Tipologia {
				out = append(out, sp)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) slots(w http.ResponseWriter, r *http.Request) {
	spazioID, err := protocol.ParseID(r.PathValue("idSpazio"))
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadInput, "idSpazio non valido: "+err.Error())
		return
	}
	date := r.PathValue("date")
	if _, err := slots.ParseDate(date); err != nil {
		writeRefusal(w, http.StatusBadRequest, protocol.RefusalBadDate)
		return
	}
	// Public endpoint; a valid token only adds the viewer's own details.
	var v slots.Viewer
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if c, err := a.Verifier.Verify(strings.TrimSpace(tok)); err == nil {
			v = slots.Viewer{UserID: c.UserID, Staff: c.IsStaff()}
		}
	}
	g, err := a.Slots.Grid(r.Context(), spazioID, 0, date, v)
	if err != nil {
		a.domainError(w, actionRead, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.SlotsResponse{Success: true, Data: wire.SlotsList(g)})
}

// badRequest is a 400 answer found while reading a request.
type badRequest struct{ protocol.Refusal }

// slotTarget reads the slot a hold, book, release or cancel acts on: the
// path's {id} and the body's ids and date (sedeId is optional), into body.
// On failure it returns the 400 to answer.
func slotTarget(r *http.Request, body any, ids func() (idSpazio, sedeID any, date string)) (slots.Action, *badRequest) {
	n, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || n <= 0 {
		return slots.Action{}, &badRequest{protocol.Refusal{Code: protocol.CodeBadInput, Text: "id slot non valido: deve essere un intero positivo"}}
	}
	if err := decodeBody(r, body); err != nil {
		return slots.Action{}, &badRequest{protocol.Refusal{Code: protocol.CodeBadInput, Text: "Corpo della richiesta non valido: " + err.Error()}}
	}
	idSpazio, idSede, date := ids()
	spazioID, err := protocol.ParseID(idSpazio)
	if err != nil {
		return slots.Action{}, &badRequest{protocol.Refusal{Code: protocol.CodeBadInput, Text: "idSpazio non valido: " + err.Error()}}
	}
	var sedeID int64
	if idSede != nil {
		if sedeID, err = protocol.ParseID(idSede); err != nil {
			return slots.Action{}, &badRequest{protocol.Refusal{Code: protocol.CodeBadInput, Text: "sedeId non valido: " + err.Error()}}
		}
	}
	if _, err := slots.ParseDate(date); err != nil {
		return slots.Action{}, &badRequest{protocol.RefusalBadDate}
	}
	return slots.Action{SpazioID: spazioID, SedeID: sedeID, Date: date, Slot: n}, nil
}

// actor is who the claims say acts, for the audit trail.
func actor(c *auth.Claims) slots.Actor { return slots.Actor{UserID: c.UserID, Role: c.Role} }

func (a *api) slotAction(act action) func(http.ResponseWriter, *http.Request, *auth.Claims) {
	return func(w http.ResponseWriter, r *http.Request, c *auth.Claims) {
		var body protocol.SlotActionRequest
		in, bad := slotTarget(r, &body, func() (any, any, string) { return body.IDSpazio, body.SedeID, body.Date })
		if bad != nil {
			a.countAction(act, "invalid")
			writeRefusal(w, http.StatusBadRequest, bad.Refusal)
			return
		}
		var (
			res slots.Reservation
			err error
		)
		switch act {
		case actionHold:
			res, err = a.Slots.Hold(r.Context(), in, actor(c))
		case actionBook:
			res, err = a.Slots.Book(r.Context(), in, actor(c))
		case actionRelease:
			res, err = a.Slots.Release(r.Context(), in, actor(c))
		}
		if err != nil {
			a.countAction(act, a.domainError(w, act, err).result)
			return
		}
		a.countAction(act, "ok")
		var (
			status slots.Status
			msg    string
		)
		switch act {
		case actionHold:
			status, msg = slots.StatusOccupied, protocol.HoldMessage(a.Slots.HoldTTL())
		case actionBook:
			status, msg = slots.StatusBooked, protocol.MsgSlotBooked
		case actionRelease:
			status, msg = slots.StatusAvailable, protocol.MsgSlotReleased
		}
		writeJSON(w, http.StatusOK, protocol.SlotActionResponse{Success: true, Message: msg, Data: wire.SlotActionData(in.Slot, res, status)})
	}
}

// cancelSlot is POST /api/admin/slots/{id}/cancel (staff): it frees a held
// or booked slot, see slots.Service.Cancel.
func (a *api) cancelSlot(w http.ResponseWriter, r *http.Request, c *auth.Claims) {
	var body protocol.SlotCancelRequest
	in, bad := slotTarget(r, &body, func() (any, any, string) { return body.IDSpazio, body.SedeID, body.Date })
	if bad != nil {
		a.countAction(actionCancel, "invalid")
		writeRefusal(w, http.StatusBadRequest, bad.Refusal)
		return
	}
	var expected int64
	if body.PrenotazioneID != nil {
		var err error
		if expected, err = protocol.ParseID(body.PrenotazioneID); err != nil {
			a.countAction(actionCancel, "invalid")
			writeError(w, http.StatusBadRequest, protocol.CodeBadInput, "prenotazioneId non valido: "+err.Error())
			return
		}
	}
	res, err := a.Slots.Cancel(r.Context(), in, actor(c), body.Reason, expected)
	if err != nil {
		a.countAction(actionCancel, a.domainError(w, actionCancel, err).result)
		return
	}
	a.countAction(actionCancel, "ok")
	reason, _ := slots.CleanReason(body.Reason) // what Cancel recorded
	writeJSON(w, http.StatusOK, protocol.SlotCancelResponse{Success: true, Message: protocol.MsgSlotCancelled, Data: wire.SlotCancelData(in.Slot, res, reason)})
}

// history is GET /api/admin/slots/{idSpazio}/{date}/history (staff), with
// optional ?slot=N and ?limit=N (default slots.DefaultHistoryLimit; more
// than slots.MaxHistoryLimit gets that many).
func (a *api) history(w http.ResponseWriter, r *http.Request, _ *auth.Claims) {
	spazioID, err := protocol.ParseID(r.PathValue("idSpazio"))
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadInput, "idSpazio non valido: "+err.Error())
		return
	}
	q := slots.HistoryQuery{SpazioID: spazioID, Date: r.PathValue("date")}
	if _, err := slots.ParseDate(q.Date); err != nil {
		writeRefusal(w, http.StatusBadRequest, protocol.RefusalBadDate)
		return
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"slot", &q.Slot}, {"limit", &q.Limit}} {
		if !r.URL.Query().Has(p.name) {
			continue
		}
		n, err := strconv.Atoi(r.URL.Query().Get(p.name))
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, protocol.CodeBadInput, p.name+" non valido: deve essere un intero positivo")
			return
		}
		*p.dst = n
	}
	h, err := a.Slots.History(r.Context(), q)
	if err != nil {
		a.domainError(w, actionHistory, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.HistoryResponse{Success: true, Data: wire.History(h)})
}

func (a *api) countAction(act action, result string) {
	a.Metrics.SlotActions.WithLabelValues(string(act), result).Inc()
	if act == actionHold {
		a.Metrics.Holds.WithLabelValues(result).Inc()
	}
}

func (a *api) stats(w http.ResponseWriter, r *http.Request, _ *auth.Claims) {
	st, err := a.Stats(r.Context())
	if err != nil {
		a.domainError(w, actionStats, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *api) adminEmit(w http.ResponseWriter, r *http.Request, c *auth.Claims) {
	var body protocol.AdminEmitRequest
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadInput, "Corpo della richiesta non valido: "+err.Error())
		return
	}
	var bad *protocol.EventNameError
	if errors.As(protocol.ValidateEventName(body.Event), &bad) {
		writeError(w, http.StatusBadRequest, bad.Code, bad.Msg)
		return
	}
	t, err := emitTarget(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadTarget, err.Error())
		return
	}
	n, exact, err := a.Emit(r.Context(), t, body.Event, body.Data)
	if err != nil {
		a.domainError(w, actionEmit, err)
		return
	}
	a.Log.Info("admin emit by staff", "user", c.UserID, "event", body.Event, "target", t.String(), "recipients", n)
	writeJSON(w, http.StatusOK, protocol.AdminEmitResponse{Success: true, Event: body.Event, Target: t.String(),
		Recipients: n, RecipientsExact: exact, Timestamp: protocol.Timestamp(time.Now())})
}

// emitTarget validates that exactly one target is named.
func emitTarget(b protocol.AdminEmitRequest) (realtime.Target, error) {
	var t realtime.Target
	n := 0
	if b.All {
		t.All = true
		n++
	}
	if b.Room != "" {
		t.Room = b.Room
		n++
	}
	if b.UserID != nil {
		id, err := protocol.ParseID(b.UserID)
		if err != nil {
			return t, fmt.Errorf("userId non valido: %v", err)
		}
		t.UserID = id
		n++
	}
	if b.SpazioID != nil || b.SedeID != nil {
		sp, err1 := protocol.ParseID(b.SpazioID)
		se, err2 := protocol.ParseID(b.SedeID)
		if err := errors.Join(err1, err2); err != nil {
			return t, fmt.Errorf("spazioId e sedeId devono essere interi positivi: %v", err)
		}
		t.Room = protocol.SpaceRoom(sp, se)
		n++
	}
	switch n {
	case 0:
		return t, errors.New("nessun destinatario: indica room, spazioId+sedeId, userId oppure all: true")
	case 1:
		return t, nil
	}
	return t, errors.New("un solo destinatario: room, spazioId+sedeId, userId oppure all")
}

// domainError answers err with its row of the error table and returns
// the row, whose result the slot actions count. Every route's failures
// go through it, so a stalled store is one 503 everywhere.
func (a *api) domainError(w http.ResponseWriter, act action, err error) problem {
	p := errorTable(act, err)
	if p.status >= 500 {
		a.Log.Error("request failed", "action", act, "err", err)
	}
	writeRefusal(w, p.status, p.Refusal)
	return p
}

// decodeBody decodes one JSON object; an empty or trailing-garbage body is an error.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("body larger than %d bytes", tooBig.Limit)
		}
		if errors.Is(err, io.EOF) {
			return errors.New("body is empty, expected a JSON object")
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: more than one value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeRefusal answers a refusal of the contract's table with status.
func writeRefusal(w http.ResponseWriter, status int, r protocol.Refusal) {
	writeError(w, status, r.Code, r.Text)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, protocol.ErrorResponse{Success: false, Error: msg, Code: code})
}
