package tui

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// colour256 is the renderer of a 256-colour terminal with a dark
// background: the default colour mode of most terminals.
func colour256() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	r.SetHasDarkBackground(true)
	return r
}

// TestGoldenViewsInColour renders scenes with colour on. Each must be the
// colourless view plus escape sequences only: stripped of them, it equals
// the NO_COLOR view, and every line is exactly the terminal's width.
func TestGoldenViewsInColour(t *testing.T) {
	inColour := func(c *Config) { c.Renderer = colour256() }
	tests := []struct {
		name string
		m    func(colour func(*Config)) Model
	}{
		{"cursor_color_120x36", func(cf func(*Config)) Model { return step(demo(120, 36, cf), keyRight, keyRight) }},
		{"cursor_color_80x24", func(cf func(*Config)) Model { return step(demo(80, 24, cf), keyRight, keyRight) }},
		{"cursor_color_60x20", func(cf func(*Config)) Model { return step(demo(60, 20, cf), keyRight, keyRight) }},
		// The cursor on a changed cell (Ufficio privato 3's new hold),
		// and on the cell right before it.
		{"cursor_changed_color_120x36", func(cf func(*Config)) Model {
			return step(demo(120, 36, cf), keyDown, keyDown, keyDown)
		}},
		{"cursor_before_changed_color_80x24", func(cf func(*Config)) Model {
			return step(demo(80, 24, cf), keyDown, keyDown, keyRight, keyRight, keyRight)
		}},
		{"demo_color_60x20", func(cf func(*Config)) Model { return demo(60, 20, cf) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m(inColour).View() + "\n"
			plain := tt.m(nil).View() + "\n"
			if !strings.Contains(got, "\x1b[") {
				t.Fatal("no escape sequence: colour is not on")
			}
			stripped := ansi.Strip(got)
			if stripped != plain {
				t.Errorf("the coloured view shows other text than the colourless one\n--- coloured, stripped\n%s\n--- colourless\n%s", stripped, plain)
			}
			w := tt.m(nil).width
			for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if n := ansi.StringWidth(line); n != w {
					t.Errorf("line %d is %d cells wide, want %d: %q", i+1, n, w, line)
				}
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("view differs from %s (go test ./internal/tui -update refreshes it)\n--- got\n%q\n--- want\n%q", path, got, want)
			}
		})
	}
}
