package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// transport moves Engine.IO packets. The Conn serializes sends; recv is
// called by one goroutine at a time.
type transport interface {
	name() string
	// send writes one text packet.
	send(pkt []byte) error
	// recv returns the next packets, valid until the next call, and the
	// time they were read.
	recv(deadline time.Time) ([][]byte, time.Time, error)
	close() error
}

// sendTimeout bounds one write (a websocket frame, a polling POST).
const sendTimeout = 10 * time.Second

// endpoint builds the URLs of one Engine.IO session.
type endpoint struct {
	base   *url.URL // http(s)://host/path/
	query  string   // the caller's query and EIO=4, encoded
	header http.Header
}

func newEndpoint(o *Options) (*endpoint, error) {
	u, err := url.Parse(strings.TrimRight(o.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("server url: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("server url %q: scheme must be http(s) or ws(s)", o.URL)
	}
	path := o.Path
	if path == "" {
		path = "/socket.io/"
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/" + strings.Trim(path, "/") + "/"
	q := url.Values{}
	for k, v := range o.Query {
		if k != "transport" && k != "sid" {
			q[k] = v
		}
	}
	q.Set("EIO", "4")
	return &endpoint{base: u, query: q.Encode(), header: o.Header}, nil
}

// wsURL is the websocket endpoint, with the session id once known.
func (e *endpoint) wsURL(sid string) *url.URL {
	u := *e.base
	u.Scheme = "ws"
	if e.base.Scheme == "https" {
		u.Scheme = "wss"
	}
	u.RawQuery = e.rawQuery(TransportWebSocket, sid)
	return &u
}

// url is the endpoint for transport, with the session id once known.
func (e *endpoint) url(transport, sid string) string {
	if transport == TransportWebSocket {
		return e.wsURL(sid).String()
	}
	u := *e.base
	u.RawQuery = e.rawQuery(transport, sid)
	return u.String()
}

func (e *endpoint) rawQuery(transport, sid string) string {
	q := e.query + "&transport=" + transport
	if sid != "" {
		q += "&sid=" + url.QueryEscape(sid)
	}
	return q
}

// pollTransport is Engine.IO long-polling: GETs return packets separated
// by a record separator, POSTs carry ours. Engine.IO forbids overlapping
// POSTs of one session; the Conn's send lock keeps them apart.
type pollTransport struct {
	hc     *http.Client
	ep     *endpoint
	sid    string
	sidURL string // see setSID

	cancel atomic.Pointer[context.CancelFunc]
	closed atomic.Bool
	body   []byte
	pkts   [][]byte
}

func (t *pollTransport) name() string { return TransportPolling }

func (t *pollTransport) do(req *http.Request) ([]byte, error) {
	for k, v := range t.ep.header {
		req.Header[k] = v
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &HTTPError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	if req.Method != http.MethodGet {
		// A POST's answer is "ok"; drain it so the connection is reused.
		_, err := io.Copy(io.Discard, resp.Body)
		return nil, err
	}
	// Polls run one at a time, on the reader: they reuse one buffer.
	buf := bytes.NewBuffer(t.body[:0])
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	t.body = buf.Bytes()
	return t.body, nil
}

// setSID fixes the session's polling URL, built once: every poll and
// POST uses it. It runs before the reader starts.
func (t *pollTransport) setSID(sid string) {
	t.sid = sid
	t.sidURL = t.ep.url(TransportPolling, sid)
}

// url is the session's polling URL, or the handshake's before it.
func (t *pollTransport) url() string {
	if t.sidURL == "" {
		return t.ep.url(TransportPolling, "")
	}
	return t.sidURL
}

// get polls once and splits the payload into packets.
func (t *pollTransport) get(ctx context.Context) ([][]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(), nil)
	if err != nil {
		return nil, err
	}
	body, err := t.do(req)
	if err != nil {
		return nil, fmt.Errorf("polling GET: %w", err)
	}
	t.pkts = t.pkts[:0]
	for rest, more := body, true; more; {
		var p []byte
		p, rest, more = parser.CutPacket(rest)
		t.pkts = append(t.pkts, p)
	}
	return t.pkts, nil
}

func (t *pollTransport) send(pkt []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(), bytes.NewReader(pkt))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	if _, err := t.do(req); err != nil {
		return fmt.Errorf("polling POST: %w", err)
	}
	return nil
}

func (t *pollTransport) recv(deadline time.Time) ([][]byte, time.Time, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.cancel.Store(&cancel)
	defer cancel()
	if t.closed.Load() {
		return nil, time.Time{}, net.ErrClosed
	}
	pkts, err := t.get(ctx)
	return pkts, time.Now(), err
}

// close stops a pending poll; it does not tell the server (the Conn
// sends the close packet first).
func (t *pollTransport) close() error {
	t.closed.Store(true)
	if c := t.cancel.Load(); c != nil {
		(*c)()
	}
	return nil
}
