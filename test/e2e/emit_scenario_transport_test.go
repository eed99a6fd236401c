package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/loadtest/vuser"
)

// eioRecorder is a reverse proxy in front of a server that remembers the
// Engine.IO requests through it: how each session opened (the request
// without a sid) and how many websockets joined an open session (an
// upgrade).
type eioRecorder struct {
	mu       sync.Mutex
	opened   map[string]int // transport of session-opening requests
	upgrades int
	// refuseUpgrades answers every websocket request for an open session
	// with 400, as a proxy that cannot carry websockets does.
	refuseUpgrades bool
}

func startEIORecorder(t *testing.T, target string) (*eioRecorder, string) {
	return startEIORecorderWith(t, target, &eioRecorder{})
}

func startEIORecorderWith(t *testing.T, target string, rec *eioRecorder) (*eioRecorder, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec.opened = map[string]int{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/socket.io/") {
			q := r.URL.Query()
			rec.mu.Lock()
			switch {
			case q.Get("sid") == "":
				rec.opened[q.Get("transport")]++
			case q.Get("transport") == "websocket":
				rec.upgrades++
				if rec.refuseUpgrades {
					rec.mu.Unlock()
					http.Error(w, "no websockets here", http.StatusBadRequest)
					return
				}
			}
			rec.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func (e *eioRecorder) snapshot() (map[string]int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.opened {
		out[k] = v
	}
	return out, e.upgrades
}

// TestEmitLoadScenarioDefaultTransports: a scenario that names no
// transports connects as Artillery's socket.io-client does, opening every
// session with a long-polling handshake and upgrading it to websocket; one
// that pins websocket opens on a websocket.
func TestEmitLoadScenarioDefaultTransports(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	const flow = `scenarios:
  - flow:
      - join: {spazio: 1, sede: 1}
      - leave: {}
`
	tests := []struct {
		name, socketio string
		opened         map[string]int
		upgrades       int
	}{
		{"default", "", map[string]int{"polling": 4}, 4},
		{"pinned websocket", "  socketio: {transports: [websocket]}\n", map[string]int{"websocket": 4}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, target := startEIORecorder(t, s.URL)
			path := writeScenario(t, "config:\n  phases: [{duration: 1, arrivalCount: 4}]\n"+tt.socketio+flow)
			r := runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", path, "--target", target, "--jwt-secret", s.Secret, "--json")
			if r.Code != 0 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
			}
			var rep vuser.Report
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("decode: %v\n%s", err, r.Stdout)
			}
			if rep.VUsers.Completed != 4 {
				t.Errorf("vusers %+v", rep.VUsers)
			}
			// Both end on websocket: the report files them there.
			if ws := rep.Transports["websocket"]; len(ws) == 0 || ws[0].Name != "connect" || ws[0].OK != 4 {
				t.Errorf("transports %+v", rep.Transports)
			}
			opened, upgrades := rec.snapshot()
			if len(opened) != len(tt.opened) || upgrades != tt.upgrades {
				t.Errorf("sessions opened %v with %d upgrades, want %v with %d", opened, upgrades, tt.opened, tt.upgrades)
			}
			for tr, n := range tt.opened {
				if opened[tr] != n {
					t.Errorf("sessions opened %v, want %v", opened, tt.opened)
				}
			}
		})
	}
}

// TestEmitLoadScenarioUsersLeftOnPolling: when upgrades are refused (a
// proxy that carries no websockets), users of a script without transports
// stay on long-polling, and the report files their steps under polling
// instead of leaving them out of every transport.
func TestEmitLoadScenarioUsersLeftOnPolling(t *testing.T) {
	s := StartServer(t, ServerConfig{Args: []string{"--log-level", "warn"}})
	rec, target := startEIORecorderWith(t, s.URL, &eioRecorder{refuseUpgrades: true})
	path := writeScenario(t, `config:
  phases: [{duration: 1, arrivalCount: 4}]
scenarios:
  - flow:
      - join: {spazio: 1, sede: 1}
      - leave: {}
`)
	r := runCoworkctl(t, 60*time.Second, "emit", "load", "--scenario", path, "--target", target, "--jwt-secret", s.Secret, "--json")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	var rep vuser.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	if opened, upgrades := rec.snapshot(); opened["polling"] != 4 || upgrades == 0 {
		t.Fatalf("sessions opened %v with %d upgrade attempts, want 4 polling sessions and refused upgrades", opened, upgrades)
	}
	polling := rep.Transports["polling"]
	if rep.VUsers.Completed != 4 || len(polling) < 2 || polling[0].Name != "connect" || polling[0].OK != 4 || polling[1].OK != 4 {
		t.Errorf("vusers %+v; transports %+v: want the 4 users' connect and join under polling", rep.VUsers, rep.Transports)
	}
}
