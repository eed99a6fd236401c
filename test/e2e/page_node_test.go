package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stubBackend answers the original coworking-Mio backend's routes that
// the slot page calls and coworkctl does not own, in the original's
// shapes (bare arrays, its Sede/Spazio rows), and serves test/node/browser
// as the static frontend, as the original serves frontend/public.
func stubBackend(t *testing.T) *httptest.Server {
	t.Helper()
	static := http.FileServer(http.Dir(filepath.Join(nodeDir(), "browser")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // the original's loose CORS; coworkctl must replace it
		switch r.URL.Path {
		case "/api/sedi":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `[{"id_sede":1,"nome":"Cowork Milano","citta":"Milano","indirizzo":"Via Stub 1","descrizione":null,"id_gestore":null,"location_photos":[]},`+
				`{"id_sede":2,"nome":"Cowork Roma","citta":"Roma","indirizzo":"Via Stub 2","descrizione":null,"id_gestore":null,"location_photos":[]}]`)
		case "/api/spazi":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			switch r.URL.Query().Get("id_sede") {
			case "1":
				_, _ = io.WriteString(w, `[{"id_spazio":1,"id_sede":1,"nome":"Open space 1","tipologia":"postazione","capienza":12},{"id_spazio":2,"id_sede":1,"nome":"Sala riunioni 2","tipologia":"sala riunioni","capienza":8},`+
					`{"id_spazio":3,"id_sede":1,"nome":"Ufficio privato 3","tipologia":"stanza privata","capienza":4},{"id_spazio":4,"id_sede":1,"nome":"Phone booth 4","tipologia":"postazione","capienza":1}]`)
			default:
				_, _ = io.WriteString(w, `[]`)
			}
		case "/api/prenotazioni":
			if r.Method != http.MethodPost || r.Header.Get("Authorization") == "" {
				http.Error(w, `{"error":"Token di accesso richiesto"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"message":"Prenotazione creata","id_prenotazione":901}`)
		default:
			static.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNodePageLike runs test/node/isolated/page.test.mjs: a client that
// behaves like the original slot page, against coworkctl with default
// limits in front of a stub of the original backend (--upstream).
func TestNodePageLike(t *testing.T) {
	node := requireNode(t)
	backend := stubBackend(t)
	// The original backend signs tokens with issuer coworking-mio and
	// audience coworking-mio-users: check both, as the README advises.
	srv := StartServer(t, ServerConfig{Args: []string{"--upstream", backend.URL,
		"--jwt-issuer", "coworking-mio", "--jwt-audience", "coworking-mio-users"}})
	runNodeTests(t, node, srv, 15*time.Minute, nil, "isolated/page.test.mjs")
}

// TestNodeBrowser runs test/node/isolated/browser.test.mjs: headless
// Chromium opens a small page of ours, served by the stub backend through
// coworkctl (one origin), which loads /socket.io/socket.io.js from
// coworkctl and goes live.
func TestNodeBrowser(t *testing.T) {
	node := requireNode(t)
	chromium := os.Getenv("COWORK_TEST_CHROMIUM")
	if chromium == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
			if _, err := os.Stat(p); err == nil {
				chromium = p
				break
			}
		}
	}
	if chromium == "" {
		t.Skip("no headless browser: install Debian's chromium (apt-get install chromium) or set COWORK_TEST_CHROMIUM")
	}
	if _, err := os.Stat(filepath.Join(nodeDir(), "node_modules", "playwright-core")); err != nil {
		t.Skip("test/node/node_modules lacks playwright-core: cd test/node && npm ci")
	}
	backend := stubBackend(t)
	srv := StartServer(t, ServerConfig{Args: []string{"--upstream", backend.URL}})
	runNodeTests(t, node, srv, 15*time.Minute, []string{"COWORK_TEST_CHROMIUM=" + chromium}, "isolated/browser.test.mjs")
}
