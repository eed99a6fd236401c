package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// fakeBackend stands for the original Node backend behind --upstream: it
// answers in the original's shapes, streams server-sent events, echoes
// websocket frames on /ws, and sets its own CORS headers (which coworkctl
// must replace, not add to).
type fakeBackend struct {
	*httptest.Server
	hits     atomic.Int64
	lastHdr  atomic.Pointer[http.Header]
	lastPath atomic.Pointer[string]
	sseGo    chan struct{}
	ndGo     chan struct{}
}

func newFakeBackend(t *testing.T) *fakeBackend {
	t.Helper()
	b := &fakeBackend{sseGo: make(chan struct{}), ndGo: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		h := r.Header.Clone()
		h.Set("X-Seen-Host", r.Host)
		b.lastHdr.Store(&h)
		p := r.URL.RequestURI()
		b.lastPath.Store(&p)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		switch r.URL.Path {
		case "/api/sedi":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `[{"id_sede":1,"nome":"Cowork Milano","citta":"Milano","indirizzo":"Via Roma 1"}]`)
		case "/api/prenotazioni":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id_prenotazione":77}`)
		case "/api/sse/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			// The second event only after the client has read the first:
			// without flushing, the proxy would hold the first back.
			select {
			case <-b.sseGo:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "data: second\n\n")
		case "/api/export":
			// A streamed download that is not server-sent events: only a
			// proxy that flushes every write delivers the first line now.
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = io.WriteString(w, "{\"n\":1}\n")
			w.(http.Flusher).Flush()
			select {
			case <-b.ndGo:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "{\"n\":2}\n")
		case "/ws":
			conn, _, _, err := ws.UpgradeHTTP(r, w)
			if err != nil {
				return
			}
			defer conn.Close()
			msg, op, err := wsutil.ReadClientData(conn)
			if err != nil {
				return
			}
			_ = wsutil.WriteServerMessage(conn, op, append([]byte("echo "), msg...))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"not here"}`)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func startUpstream(t *testing.T, backend string) *harness {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	return startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "up.db"), JWTSecret: secret, Location: time.UTC,
		Catalog: slots.DemoCatalog(), Realtime: server.RealtimeConfig{CORSOrigins: []string{"https://app.example"}}, Upstream: u,
	})
}

// TestUpstreamRoutes: what coworkctl owns stays here, everything else
// reaches the backend with X-Forwarded-* set and the backend's Host.
func TestUpstreamRoutes(t *testing.T) {
	b := newFakeBackend(t)
	h := startUpstream(t, b.URL)
	tok := token(t, 7, auth.RoleCliente)
	staff := token(t, 1, auth.RoleAdmin)

	owned := []struct{ method, path, tok string }{
		{"GET", "/api/slots/1/" + tomorrow(), ""},
		{"POST", "/api/slots/1/hold", tok},
		{"GET", "/api/slots/test", ""},
		{"POST", "/api/slots/create-daily", tok},
		{"GET", "/api/stats", staff},
		{"POST", "/api/admin/emit", staff},
		{"GET", "/healthz", ""},
		{"GET", "/metrics", ""},
		{"GET", "/socket.io/socket.io.js", ""},
		{"GET", "/socket.io/?EIO=3&transport=polling", ""}, // refused here, no session
	}
	for _, o := range owned {
		before := b.hits.Load()
		h.call(o.method, o.path, o.tok, map[string]any{"idSpazio": 1, "sedeId": 1, "date": tomorrow(), "event": "x", "data": 1, "all": true})
		if b.hits.Load() != before {
			t.Errorf("%s %s reached the backend; coworkctl owns it", o.method, o.path)
		}
	}

	proxied := []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/sedi", 200},
		{"GET", "/api/sedi?citta=Milano", 200},
		{"POST", "/api/prenotazioni", 201},
		{"GET", "/api/spazi/1/disponibilita-slot/" + tomorrow(), 404},
		{"GET", "/api/admin/utenti", 404},
		{"GET", "/selezione-slot.html", 404},
	}
	for _, p := range proxied {
		before := b.hits.Load()
		status, _, hdr := h.call(p.method, p.path, tok, map[string]any{"id_spazio": 1})
		if b.hits.Load() != before+1 {
			t.Errorf("%s %s did not reach the backend", p.method, p.path)
			continue
		}
		if status != p.status {
			t.Errorf("%s %s = %d, want the backend's %d", p.method, p.path, status, p.status)
		}
		if got := *b.lastPath.Load(); got != p.path {
			t.Errorf("backend saw %s, want %s", got, p.path)
		}
		bh := *b.lastHdr.Load()
		backendHost := strings.TrimPrefix(b.URL, "http://")
		if bh.Get("X-Forwarded-Host") != strings.TrimPrefix(h.base, "http://") || bh.Get("X-Forwarded-Proto") != "http" ||
			bh.Get("X-Forwarded-For") != "127.0.0.1" || bh.Get("X-Seen-Host") != backendHost {
			t.Errorf("%s: forwarded headers host=%q proto=%q for=%q, Host %q; want %s, http, 127.0.0.1, %s", p.path,
				bh.Get("X-Forwarded-Host"), bh.Get("X-Forwarded-Proto"), bh.Get("X-Forwarded-For"), bh.Get("X-Seen-Host"), h.base, backendHost)
		}
		if bh.Get("Authorization") != "Bearer "+tok {
			t.Errorf("%s: the Authorization header did not reach the backend", p.path)
		}
		// CORS once, by coworkctl's policy: the backend's "*" is replaced.
		if got := hdr.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://app.example" {
			t.Errorf("%s: Access-Control-Allow-Origin = %q, want once https://app.example", p.path, got)
		}
	}
	// An origin not on the list gets none of the backend's CORS headers
	// (it sends "*"): coworkctl's policy is the only one.
	req, _ := http.NewRequest(http.MethodGet, h.base+"/api/sedi", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("answer to a foreign origin carries %s: %q", k, resp.Header.Values(k))
		}
	}

	// The original's answer, untouched: its fields, not coworkctl's catalog.
	_, body, _ := h.call("GET", "/api/sedi", "", nil)
	list, _ := body["_list"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["indirizzo"] != "Via Roma 1" {
		t.Fatalf("GET /api/sedi = %v, want the backend's list", body)
	}
}

// TestUpstreamPreflight: preflights are answered by coworkctl (with its
// allow-list), never forwarded, so their headers come once.
func TestUpstreamPreflight(t *testing.T) {
	b := newFakeBackend(t)
	h := startUpstream(t, b.URL)
	for _, tt := range []struct {
		origin string
		allow  string
	}{{"https://app.example", "https://app.example"}, {"https://evil.example", ""}} {
		req, _ := http.NewRequest(http.MethodOptions, h.base+"/api/prenotazioni", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-user-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("preflight from %s = %d, want 204", tt.origin, resp.StatusCode)
		}
		if got := resp.Header.Values("Access-Control-Allow-Origin"); strings.Join(got, ",") != tt.allow {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", tt.origin, got, tt.allow)
		}
		if tt.allow != "" && resp.Header.Get("Access-Control-Allow-Headers") != "authorization, content-type, x-user-id" {
			t.Errorf("preflight: Allow-Headers %q", resp.Header.Get("Access-Control-Allow-Headers"))
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("the backend saw %d preflights, want 0", n)
	}
}

// TestUpstreamStreams: a server-sent event reaches the client while the
// backend's response is still open (flushed at once), and a websocket
// upgrade on a path coworkctl does not own passes through.
func TestUpstreamStreams(t *testing.T) {
	b := newFakeBackend(t)
	h := startUpstream(t, b.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/api/sse/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v (not flushed?)", line, err)
	}
	close(b.sseGo)
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), "data: second") {
		t.Fatalf("second event missing: %q", rest)
	}

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/api/export", nil)
	nd, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Body.Close()
	ndr := bufio.NewReader(nd.Body)
	if line, err := ndr.ReadString('\n'); err != nil || line != "{\"n\":1}\n" {
		t.Fatalf("first streamed line = %q, %v (not flushed?)", line, err)
	}
	close(b.ndGo)

	conn, _, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(h.base, "http")+"/ws")
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientText(conn, []byte("ciao")); err != nil {
		t.Fatal(err)
	}
	msg, err := wsutil.ReadServerText(conn)
	if err != nil || string(msg) != "echo ciao" {
		t.Fatalf("websocket echo = %q, %v", msg, err)
	}
}

// TestUpstreamDown: with the backend unreachable, proxied routes get a
// 502 in the backend's error shape with an Italian text, and coworkctl's
// own routes keep working.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	h := startUpstream(t, dead)
	status, body, hdr := h.call("GET", "/api/sedi", "", nil)
	if status != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", status)
	}
	want := map[string]any{"success": false, "error": "Servizio temporaneamente non disponibile: il backend non risponde", "code": "UPSTREAM_UNAVAILABLE"}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(body)
	if string(wb) != string(gb) {
		t.Fatalf("body = %s, want %s", gb, wb)
	}
	if hdr.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("the 502 lacks CORS headers: a cross-origin page could not read it")
	}
	if status, _, _ := h.call("GET", "/api/slots/1/"+tomorrow(), "", nil); status != http.StatusOK {
		t.Errorf("owned route with the backend down = %d, want 200", status)
	}
}

// TestClientBundleSwitch: /socket.io/socket.io.js is the client bundle by
// default, and with NoClientBundle (--serve-client=false) it is not: the
// path falls to the Engine.IO endpoint, which refuses it.
func TestClientBundleSwitch(t *testing.T) {
	for _, off := range []bool{false, true} {
		h := startWith(t, server.Config{
			Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "b.db"), JWTSecret: secret, Location: time.UTC,
			Catalog: slots.DemoCatalog(), NoClientBundle: off,
		})
		status, body, hdr := h.call("GET", "/socket.io/socket.io.js", "", nil)
		js := status == 200 && hdr.Get("Content-Type") == "application/javascript; charset=utf-8" &&
			strings.Contains(body["_raw"].(string), "Socket.IO v")
		if js == off {
			t.Errorf("NoClientBundle=%v: GET /socket.io/socket.io.js = %d %q", off, status, hdr.Get("Content-Type"))
		}
	}
}

// TestCatalogRoutesStandalone: without --upstream, coworkctl answers the
// original's catalog routes in the original's shapes: GET /api/sedi a
// bare array (the slot page calls forEach on it) filtered by ?citta=,
// GET /api/spazi a bare array filtered by ?id_sede= and ?tipologia=.
func TestCatalogRoutesStandalone(t *testing.T) {
	h := start(t, "")
	ids := func(path, key string) []float64 {
		t.Helper()
		status, body, _ := h.call("GET", path, "", nil)
		list, ok := body["_list"].([]any)
		if status != 200 || !ok {
			t.Fatalf("GET %s = %d %v, want 200 and a bare array", path, status, body)
		}
		var out []float64
		for _, e := range list {
			out = append(out, e.(map[string]any)[key].(float64))
		}
		return out
	}
	for _, tt := range []struct {
		path, key string
		want      string
	}{
		{"/api/sedi", "id_sede", "[1 2]"},
		{"/api/sedi?citta=Roma", "id_sede", "[2]"},
		{"/api/sedi?citta=Atlantide", "id_sede", "[]"},
		{"/api/spazi", "id_spazio", "[1 2 3 4 5 6 7 8]"},
		{"/api/spazi?id_sede=2", "id_spazio", "[5 6 7 8]"},
		{"/api/spazi?id_sede=1&tipologia=postazione", "id_spazio", "[1 4]"},
	} {
		if got := fmt.Sprint(ids(tt.path, tt.key)); got != tt.want && !(tt.want == "[]" && got == "[]") {
			t.Errorf("GET %s: %s = %s, want %s", tt.path, tt.key, got, tt.want)
		}
	}
	for _, p := range []string{"/api/slots/test", "/api/prenotazioni", "/api/sedi/1"} {
		if status, body, _ := h.call("GET", p, "", nil); status != 404 || body["code"] != "NOT_FOUND" {
			t.Errorf("GET %s = %d %v, want our 404", p, status, body)
		}
	}
}
