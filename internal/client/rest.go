// Package client talks to a coworkctl (or seed Node.js) server: a REST
// client for the slot API, stats and the staff emit endpoint, and a
// Socket.IO client that yields typed protocol events.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
)

// Defaults of the REST client; each can be changed with an option.
const (
	DefaultRESTTimeout = 10 * time.Second
	// maxBodyBytes bounds what is read of any response; the largest real
	// body (a stats list of many rooms) is far below it.
	maxBodyBytes = 8 << 20
)

// REST is a client of the server's JSON API (the README's REST table). It is safe for
// concurrent use; load tests share one across all virtual users and pass a
// per-user token with WithToken.
type REST struct {
	base      string
	token     string
	hc        *http.Client
	userAgent string
}

// RESTOption configures a REST client.
type RESTOption func(*REST)

// WithHTTPClient replaces the HTTP client (tests, custom TLS, proxies).
func WithHTTPClient(hc *http.Client) RESTOption { return func(r *REST) { r.hc = hc } }

// WithTimeout sets the whole-request timeout of the default HTTP client;
// zero or negative keeps DefaultRESTTimeout.
func WithTimeout(d time.Duration) RESTOption {
	return func(r *REST) {
		if d > 0 {
			r.hc.Timeout = d
		}
	}
}

// WithMaxConnsPerHost sizes the connection pool for concurrent callers such
// as a load test; n <= 0 keeps the default of 64 idle connections.
func WithMaxConnsPerHost(n int) RESTOption {
	return func(r *REST) {
		if t, ok := r.hc.Transport.(*http.Transport); ok && n > 0 {
			t.MaxIdleConnsPerHost = n
			t.MaxIdleConns = n
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) RESTOption { return func(r *REST) { r.userAgent = ua } }

// NewREST returns a client of the server at base URL server (for example
// http://localhost:3000) that authenticates with token; an empty token
// sends no Authorization header (only public routes will work).
func NewREST(server, token string, opts ...RESTOption) *REST {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: DefaultRESTTimeout,
		ExpectContinueTimeout: time.Second,
	}
	r := &REST{
		base:      strings.TrimRight(server, "/"),
		token:     token,
		hc:        &http.Client{Timeout: DefaultRESTTimeout, Transport: tr},
		userAgent: "coworkctl",
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// WithToken returns a copy of r that authenticates with token and shares
// r's connection pool.
func (r *REST) WithToken(token string) *REST {
	c := *r
	c.token = token
	return &c
}

// Server returns the base URL.
func (r *REST) Server() string { return r.base }

// APIError is a non-2xx answer of the server.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the body's error text, or the status text when the body
	// carried none.
	Message string
	// Code is the body's machine-readable code, empty when absent.
	Code string
	// Method and Path locate the request.
	Method, Path string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// IsStatus reports whether err is an *APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// Health calls GET /healthz and returns nil when the server answers 2xx.
func (r *REST) Health(ctx context.Context) error {
	return r.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// Sedi lists the sedi with their spazi. GET /api/sedi answers a bare
// array, as the original backend does; an older coworkctl wrapped it in
// {success, data}, which is read too. Behind --upstream the original
// backend answers, without spazi: those come from its GET
// /api/spazi?id_sede=N.
func (r *REST) Sedi(ctx context.Context) ([]protocol.Sede, error) {
	var raw json.RawMessage
	if err := r.do(ctx, http.MethodGet, "/api/sedi", nil, &raw); err != nil {
		return nil, err
	}
	sedi, err := decodeList[protocol.Sede](raw)
	if err != nil {
		return nil, fmt.Errorf("GET /api/sedi: %w", err)
	}
	for i := range sedi {
		if sedi[i].Spazi != nil {
			continue
		}
		p := "/api/spazi?id_sede=" + strconv.FormatInt(sedi[i].IDSede, 10)
		if err := r.do(ctx, http.MethodGet, p, nil, &raw); err != nil {
			return nil, err
		}
		spazi, err := decodeList[protocol.Spazio](raw)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", p, err)
		}
		sedi[i].Spazi = spazi
	}
	return sedi, nil
}

// decodeList reads a bare JSON array, or one wrapped as {success, data}.
func decodeList[T any](raw json.RawMessage) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var wrapped struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &wrapped); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		raw = wrapped.Data
	}
	var out []T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// Slots returns the grid of one spazio on date (YYYY-MM-DD).
func (r *REST) Slots(ctx context.Context, spazioID int64, date string) (protocol.SlotsList, error) {
	var body protocol.SlotsResponse
	p := "/api/slots/" + strconv.FormatInt(spazioID, 10) + "/" + url.PathEscape(date)
	if err := r.do(ctx, http.MethodGet, p, nil, &body); err != nil {
		return protocol.SlotsList{}, err
	}
	return body.Data, nil
}

// Hold holds slot for the token's user (POST /api/slots/{slot}/hold).
func (r *REST) Hold(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	return r.slotAction(ctx, "hold", slot, req)
}

// Book confirms the token's user's hold on slot.
func (r *REST) Book(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	return r.slotAction(ctx, "book", slot, req)
}

// Release gives back the token's user's hold on slot.
func (r *REST) Release(ctx context.Context, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	return r.slotAction(ctx, "release", slot, req)
}

func (r *REST) slotAction(ctx context.Context, action string, slot int, req protocol.SlotActionRequest) (*protocol.SlotActionResponse, error) {
	var body protocol.SlotActionResponse
	if err := r.do(ctx, http.MethodPost, "/api/slots/"+strconv.Itoa(slot)+"/"+action, req, &body); err != nil {
		return nil, err
	}
	return &body, nil
}

// Cancel frees a held or booked slot as staff
// (POST /api/admin/slots/{slot}/cancel). The server answers 404
// NOTHING_TO_CANCEL when the slot is free, 409 SLOT_CHANGED when
// req.PrenotazioneID no longer holds it and 400 BAD_REASON for a missing
// or too long reason, each as an *APIError with the Italian text.
func (r *REST) Cancel(ctx context.Context, slot int, req protocol.SlotCancelRequest) (*protocol.SlotCancelResponse, error) {
	var body protocol.SlotCancelResponse
	if err := r.do(ctx, http.MethodPost, "/api/admin/slots/"+strconv.Itoa(slot)+"/cancel", req, &body); err != nil {
		return nil, err
	}
	return &body, nil
}

// HistoryQuery narrows History. Zero values mean every slot and the
// server's default limit.
type HistoryQuery struct {
	// Slot is the 1-based slot; 0 lists every slot of the grid.
	Slot int
	// Limit caps the entries; 0 is the server's default (100).
	Limit int
}

// History returns the audit trail of one spazio on date, newest first
// (GET /api/admin/slots/{idSpazio}/{date}/history, staff only).
func (r *REST) History(ctx context.Context, spazioID int64, date string, q HistoryQuery) (protocol.HistoryList, error) {
	v := url.Values{}
	if q.Slot > 0 {
		v.Set("slot", strconv.Itoa(q.Slot))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	p := "/api/admin/slots/" + strconv.FormatInt(spazioID, 10) + "/" + url.PathEscape(date) + "/history"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var body protocol.HistoryResponse
	if err := r.do(ctx, http.MethodGet, p, nil, &body); err != nil {
		return protocol.HistoryList{}, err
	}
	return body.Data, nil
}

// Stats returns the server's statistics (staff only).
func (r *REST) Stats(ctx context.Context) (*protocol.Stats, error) {
	var body protocol.Stats
	if err := r.do(ctx, http.MethodGet, "/api/stats", nil, &body); err != nil {
		return nil, err
	}
	return &body, nil
}

// AdminEmit broadcasts an event through POST /api/admin/emit (staff only).
func (r *REST) AdminEmit(ctx context.Context, req protocol.AdminEmitRequest) (*protocol.AdminEmitResponse, error) {
	var body protocol.AdminEmitResponse
	if err := r.do(ctx, http.MethodPost, "/api/admin/emit", req, &body); err != nil {
		return nil, err
	}
	return &body, nil
}

// AdminEmitRaw is AdminEmit with a pre-encoded JSON body; load tests use it
// to avoid re-encoding the payload of every broadcast.
func (r *REST) AdminEmitRaw(ctx context.Context, body []byte) (*protocol.AdminEmitResponse, error) {
	var out protocol.AdminEmitResponse
	if err := r.do(ctx, http.MethodPost, "/api/admin/emit", json.RawMessage(body), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request; in is JSON-encoded when not nil, out is decoded
// from a 2xx body when not nil. Non-2xx answers become *APIError.
func (r *REST) do(ctx context.Context, method, path string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.userAgent != "" {
		req.Header.Set("User-Agent", r.userAgent)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(method, path, resp.StatusCode, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode %d body: %w", method, path, resp.StatusCode, err)
	}
	return nil
}

func newAPIError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Status: status, Method: method, Path: path}
	var eb struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.Message, e.Code = eb.Error, eb.Code
		if e.Message == "" {
			e.Message = eb.Message
		}
	} else if t := strings.TrimSpace(string(body)); t != "" && len(t) <= 200 {
		e.Message = t
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}
