package clientbundle_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/coworkctl/coworkctl/internal/server/clientbundle"
)

func serve(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	h := clientbundle.New("/socket.io/", nil)
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if !h.Match(req) {
		t.Fatalf("%s is not matched", target)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestHeaders: the answers of Node's socket.io serveClient: ETag of the
// version, Cache-Control public max-age=0, JavaScript or JSON (maps).
func TestHeaders(t *testing.T) {
	for _, name := range clientbundle.Files {
		t.Run(name, func(t *testing.T) {
			resp := serve(t, http.MethodGet, "/socket.io/"+name+"?v=1", nil)
			body, _ := io.ReadAll(resp.Body)
			want, _ := clientbundle.Bytes(name)
			if resp.StatusCode != 200 || !bytes.Equal(body, want) {
				t.Fatalf("status %d, %d bytes; want 200 and the file's %d", resp.StatusCode, len(body), len(want))
			}
			ct := "application/javascript; charset=utf-8"
			if filepath.Ext(name) == ".map" {
				ct = "application/json; charset=utf-8"
				if !json.Valid(body) {
					t.Errorf("%s is not JSON", name)
				}
			}
			for k, v := range map[string]string{"Content-Type": ct, "Cache-Control": "public, max-age=0", "ETag": `"` + clientbundle.ClientVersion + `"`} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestNotModified: a strong or weak If-None-Match of the version gets 304
// with no body; another version gets the file.
func TestNotModified(t *testing.T) {
	for inm, status := range map[string]int{
		`"` + clientbundle.ClientVersion + `"`:   304,
		`W/"` + clientbundle.ClientVersion + `"`: 304,
		`"4.7.0"`:                                200,
	} {
		resp := serve(t, http.MethodGet, "/socket.io/socket.io.min.js", map[string]string{"If-None-Match": inm})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status || (status == 304 && len(body) != 0) {
			t.Errorf("If-None-Match %s: %d with %d bytes, want %d", inm, resp.StatusCode, len(body), status)
		}
	}
}

// TestCompression: gzip and deflate (zlib) as accepted, decoding to the
// same bytes; identity otherwise.
func TestCompression(t *testing.T) {
	want, _ := clientbundle.Bytes("socket.io.js")
	for _, tt := range []struct{ accept, enc string }{
		{"gzip, deflate, br, zstd", "gzip"},
		{"deflate", "deflate"},
		{"gzip;q=0.5, deflate", "deflate"},
		{"br", ""},
		{"", ""},
		{"gzip;q=0", ""},
	} {
		resp := serve(t, http.MethodGet, "/socket.io/socket.io.js", map[string]string{"Accept-Encoding": tt.accept})
		if got := resp.Header.Get("Content-Encoding"); got != tt.enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tt.accept, got, tt.enc)
			continue
		}
		var rd io.Reader = resp.Body
		switch tt.enc {
		case "gzip":
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			rd = zr
		case "deflate":
			zr, err := zlib.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			rd = zr
		}
		got, err := io.ReadAll(rd)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Accept-Encoding %q: decoded %d bytes (%v), want the file's %d", tt.accept, len(got), err, len(want))
		}
	}
}

// TestOnlyTheBundle: other /socket.io/ paths are left to Engine.IO; the
// msgpack build (a parser coworkctl does not speak) is not offered.
func TestOnlyTheBundle(t *testing.T) {
	h := clientbundle.New("/socket.io/", nil)
	for _, p := range []string{"/socket.io/", "/socket.io/?EIO=4&transport=polling", "/socket.io/socket.io.msgpack.min.js", "/socket.io/LICENSE", "/socket.io/dist/socket.io.js", "/other/socket.io.js"} {
		if h.Match(httptest.NewRequest(http.MethodGet, p, nil)) {
			t.Errorf("%s is matched as a bundle file", p)
		}
	}
	if !bytes.Contains(clientbundle.License(), []byte("MIT License")) {
		t.Errorf("the licence notice is not embedded")
	}
}

// TestSameAsNPM: the embedded files are the npm package's dist files byte
// for byte, and ClientVersion is the package's version. test/node pins
// the package (npm ci there installs it); the Node test of the served
// bytes (test/node/bundle.test.mjs) runs in CI either way.
func TestSameAsNPM(t *testing.T) {
	pkg := filepath.Join("..", "..", "..", "test", "node", "node_modules", "socket.io-client")
	meta, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		t.Skipf("test/node/node_modules is missing (cd test/node && npm ci): %v", err)
	}
	var p struct{ Version string }
	if err := json.Unmarshal(meta, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != clientbundle.ClientVersion {
		t.Errorf("npm socket.io-client %s, embedded %s: copy the new dist files and LICENSE, then bump ClientVersion", p.Version, clientbundle.ClientVersion)
	}
	for _, name := range clientbundle.Files {
		want, err := os.ReadFile(filepath.Join(pkg, "dist", name))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := clientbundle.Bytes(name); !bytes.Equal(got, want) {
			t.Errorf("%s differs from the npm package's (%d vs %d bytes)", name, len(got), len(want))
		}
	}
	lic, err := os.ReadFile(filepath.Join(pkg, "LICENSE"))
	if err != nil || !bytes.Equal(lic, clientbundle.License()) {
		t.Errorf("LICENSE differs from the npm package's (%v)", err)
	}
}
