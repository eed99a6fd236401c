// Package headless opens pages in a headless Chromium for tests: the
// serialized DOM after load, and a screenshot to count painted pixels. It
// proves that the HTML load-test report renders, not only that it parses.
//
// The browser is $COWORK_TEST_CHROMIUM, else chromium (Debian's package),
// chromium-browser, google-chrome or headless_shell on PATH; tests skip
// when there is none, and fail when COWORK_TEST_CHROMIUM names a file that
// does not run.
package headless

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvChromium names the environment variable with the browser's path.
const EnvChromium = "COWORK_TEST_CHROMIUM"

// Chromium returns the browser to use, skipping t when none is installed.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s=%s: %v", EnvChromium, p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("no headless browser: install Debian's chromium (apt-get install chromium) or set %s", EnvChromium)
	return ""
}

// run starts the browser on file with args and returns its stdout.
func run(t testing.TB, bin, file string, args ...string) []byte {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{
		"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio",
		"--hide-scrollbars", "--force-device-scale-factor=1",
		// The page must not need the network: send any request to a dead proxy.
		"--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
		"--user-data-dir=" + t.TempDir(),
	}, args...)
	all = append(all, "file://"+filepath.ToSlash(abs))
	cmd := exec.CommandContext(ctx, bin, all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, tail(errb.Bytes(), 2000))
	}
	return out.Bytes()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// DumpDOM loads file and returns the DOM as Chromium serializes it after
// the page has loaded.
func DumpDOM(t testing.TB, bin, file string) string {
	t.Helper()
	return string(run(t, bin, file, "--dump-dom"))
}

// Screenshot renders file in a width×height window and returns the image.
func Screenshot(t testing.TB, bin, file string, width, height int) image.Image {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "screenshot.png")
	run(t, bin, file, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// CountColor counts the pixels of img within tol (per channel, 0–255) of c.
func CountColor(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R, tol) && near(g>>8, c.G, tol) && near(bl>>8, c.B, tol) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, want uint8, tol int) bool {
	d := int(v) - int(want)
	return d >= -tol && d <= tol
}

// Hex parses "#rrggbb".
func Hex(s string) color.RGBA {
	var c color.RGBA
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &c.R, &c.G, &c.B); err != nil {
		panic("headless.Hex(" + s + "): " + err.Error())
	}
	c.A = 255
	return c
}

// Charts is what CheckCharts expects of a load-test report page.
type Charts struct {
	// Bars is the number of latency histogram bars (rect.bar).
	Bars int
	// Points maps a line series' class (delivered, p50, p99) to the points
	// it draws; 0 means at least one.
	Points map[string]int
	// Colors are the "#rrggbb" colours that must each cover MinPixels
	// pixels of the screenshot: one per chart proves each was painted.
	Colors    []string
	MinPixels int
}

var (
	seriesRE = regexp.MustCompile(`<path class="series ([a-z0-9]+)" data-n="(\d+)" d="([^"]*)"`)
	barRE    = regexp.MustCompile(`<rect class="bar" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="[0-9.]+"`)
)

// CheckCharts opens the report page file in the browser bin and fails t
// unless the DOM Chromium built holds every bar and every point of want
// and a 1100×2200 screenshot shows each of want.Colors.
func CheckCharts(t testing.TB, bin, file string, want Charts) {
	t.Helper()
	dom := DumpDOM(t, bin, file)
	if n := len(barRE.FindAllString(dom, -1)); n != want.Bars {
		t.Errorf("DOM has %d histogram bars, want %d", n, want.Bars)
	}
	got := map[string][2]int{}
	for _, m := range seriesRE.FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = [2]int{n, strings.Count(m[3], ",")}
	}
	for class, n := range want.Points {
		g, ok := got[class]
		switch {
		case !ok:
			t.Errorf("DOM has no %s series", class)
		case g[0] != g[1]:
			t.Errorf("%s series: data-n %d but %d points in its path", class, g[0], g[1])
		case n == 0 && g[1] == 0, n > 0 && g[1] != n:
			t.Errorf("%s series draws %d points, want %d", class, g[1], n)
		}
	}
	img := Screenshot(t, bin, file, 1100, 2200)
	for _, c := range want.Colors {
		if n := CountColor(img, Hex(c), 24); n < want.MinPixels {
			t.Errorf("screenshot has %d pixels of %s, want at least %d: a chart was not painted", n, c, want.MinPixels)
		}
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "coworkctl-report-failed.png")
		if f, err := os.Create(keep); err == nil {
			_ = png.Encode(f, img)
			_ = f.Close()
			t.Logf("screenshot kept at %s", keep)
		}
	}
}
