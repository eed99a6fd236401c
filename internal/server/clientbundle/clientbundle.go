// Package clientbundle serves the official socket.io-client browser
// bundle at /socket.io/socket.io.js (and .min.js, .esm.min.js and their
// source maps), as Node's socket.io does by default (serveClient): pages
// written for a Node backend load their client from it.
//
// The files in dist/ are the socket.io-client npm package's dist files of
// ClientVersion, byte for byte, with the package's LICENSE; they are
// embedded unmodified, and a test compares them with the npm package.
package clientbundle

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"embed"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// ClientVersion is the socket.io-client release the bundle comes from; it
// is the ETag, as Node's server uses its own version.
const ClientVersion = "4.8.4"

//go:embed dist
var dist embed.FS

// Files are the names served under the socket.io path. Node also serves
// socket.io.msgpack.min.js; that build speaks the msgpack parser, which
// coworkctl does not, so it is not offered.
var Files = []string{
	"socket.io.js", "socket.io.js.map",
	"socket.io.min.js", "socket.io.min.js.map",
	"socket.io.esm.min.js", "socket.io.esm.min.js.map",
}

// License is the socket.io-client licence shipped with the bundle.
func License() []byte {
	b, _ := fs.ReadFile(dist, "dist/LICENSE")
	return b
}

// Bytes returns an embedded file by its name in Files.
func Bytes(name string) ([]byte, bool) {
	if !served(name) {
		return nil, false
	}
	b, err := fs.ReadFile(dist, "dist/"+name)
	return b, err == nil
}

func served(name string) bool {
	for _, f := range Files {
		if f == name {
			return true
		}
	}
	return false
}

// Handler serves the bundle files under prefix (e.g. "/socket.io/").
type Handler struct {
	prefix string
	// cors sets the answer's CORS headers: a page on another origin needs
	// them to import the ESM build.
	cors func(h http.Header, origin string)

	mu         sync.Mutex
	compressed map[string][]byte // "gzip:name", "deflate:name"
}

// New returns the handler of the files under prefix; cors (may be nil)
// adds CORS headers for the request's Origin.
func New(prefix string, cors func(h http.Header, origin string)) *Handler {
	return &Handler{prefix: prefix, cors: cors, compressed: map[string][]byte{}}
}

// Match reports whether r asks for a bundle file, so the caller routes
// every other /socket.io/ request to the Engine.IO endpoint.
func (h *Handler) Match(r *http.Request) bool {
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	return ok && served(name)
}

// etag is quoted, per RFC 7232, like Node's.
const etag = `"` + ClientVersion + `"`

// ServeHTTP answers like Node's socket.io: 304 to a matching
// If-None-Match (strong or weak), else 200 with Cache-Control
// "public, max-age=0" (caches revalidate every time, cheaply, by ETag),
// application/javascript or application/json (maps), and the ETag;
// compressed with gzip or deflate when the client accepts it. Node also
// offers br, which Go's standard library does not write; browsers that
// send br send gzip too.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, h.prefix)
	body, ok := Bytes(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if h.cors != nil {
		h.cors(w.Header(), r.Header.Get("Origin"))
	}
	if inm := r.Header.Get("If-None-Match"); inm == etag || inm == "W/"+etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "public, max-age=0")
	if strings.HasSuffix(name, ".map") {
		hd.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		hd.Set("Content-Type", "application/javascript; charset=utf-8")
	}
	hd.Set("ETag", etag)
	hd.Add("Vary", "Accept-Encoding")
	if enc := negotiate(r.Header.Get("Accept-Encoding")); enc != "" {
		body = h.compress(enc, name, body)
		hd.Set("Content-Encoding", enc)
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// compress returns name's body in enc, compressed once and kept: the
// files never change while the binary runs.
func (h *Handler) compress(enc, name string, body []byte) []byte {
	key := enc + ":" + name
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.compressed[key]; ok {
		return b
	}
	var buf bytes.Buffer
	switch enc {
	case "gzip":
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
	case "deflate":
		// HTTP's "deflate" is the zlib format, as Node's createDeflate writes.
		zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
	}
	h.compressed[key] = buf.Bytes()
	return buf.Bytes()
}

// negotiate picks gzip or deflate from an Accept-Encoding header by
// quality, gzip first on a tie; "" means identity.
func negotiate(accept string) string {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if coding == "*" {
			coding = "gzip"
		}
		if (coding != "gzip" && coding != "deflate") || q <= 0 {
			continue
		}
		if q > bestQ || (q == bestQ && coding == "gzip") {
			best, bestQ = coding, q
		}
	}
	return best
}
