package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/auth"
	"github.com/coworkctl/coworkctl/internal/server"
)

// announcer tells a developer or a script how to reach a server that has
// started listening: the --dev banner, --token-file, --print-token.
type announcer struct {
	w          io.Writer
	log        *slog.Logger
	cfg        server.Config
	dev        bool
	throwaway  bool
	tokenFile  string
	printToken bool
	// catalogFile is --catalog's file, loaded on top of --dev's demo one.
	catalogFile string
	// self is how to run this binary again (the banner's watch line).
	self string
	// wrote is set once the token file exists, so it is removed at exit.
	wrote bool
}

// run waits for the listening address, then writes what was asked.
func (a *announcer) run(ctx context.Context, addrs <-chan string) {
	var addr string
	select {
	case addr = <-addrs:
	case <-ctx.Done():
		return
	}
	tok, err := auth.Issue(auth.IssueOptions{Secret: []byte(a.cfg.JWTSecret), UserID: 1, Role: auth.RoleAdmin, TTL: 12 * time.Hour, Issuer: a.cfg.JWTIssuer, Audience: a.cfg.JWTAud})
	if err != nil {
		a.log.Error("mint the staff token", "err", err)
		return
	}
	if a.tokenFile != "" {
		if err := writeFileAtomic(a.tokenFile, []byte(tok+"\n")); err != nil {
			a.log.Error("write --token-file", "err", err)
		} else {
			a.wrote = true
		}
	}
	switch {
	case a.printToken:
		fmt.Fprintln(a.w, tok)
	case a.dev:
		fmt.Fprint(a.w, devBanner(server.URLFor(tcpAddr(addr)), catalogSource(a.cfg, a.catalogFile), a.cfg.JWTSecret, tok, a.throwaway, a.self))
	}
}

// removeTokenFile removes the token file it wrote: a script that waits
// for the file must not find the last run's token.
func (a *announcer) removeTokenFile() {
	if a.wrote {
		_ = os.Remove(a.tokenFile)
	}
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, so a reader never sees half a token; mode 0600.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// catalogSource says where a --dev server's catalog comes from: --dev
// loads the demo catalog on coworkctl's own tables only, since the
// backend's layout reads its Sede and Spazio rows and never writes them;
// a --catalog file is loaded on top of it.
func catalogSource(cfg server.Config, catalogFile string) string {
	switch {
	case cfg.DBLayout == server.LayoutCoworkingMio:
		return "catalog from the backend's Sede and Spazio"
	case catalogFile != "":
		return "demo catalog and " + filepath.Base(catalogFile)
	}
	return "demo catalog"
}

// devBanner is what `serve --dev` prints once listening. "staff token"
// appears on one line only, so `grep 'staff token'` finds the token; the
// watch line is ready to paste.
func devBanner(url, catalog, secret, token string, throwaway bool, self string) string {
	kind := "throwaway secret"
	if !throwaway {
		kind = "your --jwt-secret"
	}
	return fmt.Sprintf(`coworkctl dev server on %s (%s, %s)
  JWT secret:  %s
  staff token: %s   (user 1, admin, 12h)
  watch:  %s watch --server %s --token %s
  try:    curl -s %s/api/sedi
`, url, catalog, kind, secret, token, self, url, token, url)
}

// selfCommand is how the shell that started this binary can run it
// again: its name when PATH finds this very file, the path it was
// started by otherwise, and `go run ./cmd/coworkctl` for a go run build
// (a temporary file gone when go run ends).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "coworkctl"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/coworkctl"
	}
	arg0 := os.Args[0]
	if p, err := exec.LookPath(filepath.Base(arg0)); err == nil && sameFile(p, exe) {
		return filepath.Base(arg0)
	}
	if strings.ContainsRune(arg0, filepath.Separator) {
		return arg0
	}
	return exe
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
