package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestHistogramBins(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name    string
		values  []time.Duration
		maxBins int
		want    string // bin ranges and unit
	}{
		{"one value", []time.Duration{1500 * us}, 12, "1.5–1.501 ms"},
		{"narrow range: equal widths", []time.Duration{1000 * us, 1240 * us, 1490 * us}, 12,
			"1–1.05 | 1.05–1.1 | 1.1–1.15 | 1.15–1.2 | 1.2–1.25 | 1.25–1.3 | 1.3–1.35 | 1.35–1.4 | 1.4–1.45 | 1.45–1.5 ms"},
		{"narrow range, fewer bins", []time.Duration{100 * us, 300 * us}, 12,
			"100–120 | 120–140 | 140–160 | 160–180 | 180–200 | 200–220 | 220–240 | 240–260 | 260–280 | 280–300 | 300–320 µs"},
		{"wide range: 1-2-5", []time.Duration{300 * us, 2 * time.Millisecond, 40 * time.Millisecond}, 12,
			"0.2–0.5 | 0.5–1 | 1–2 | 2–5 | 5–10 | 10–20 | 20–50 ms"},
		{"wide range, room for 10 per decade", []time.Duration{100 * us, 2 * time.Millisecond}, 40,
			"0.1–0.125 | 0.125–0.16 | 0.16–0.2 | 0.2–0.25 | 0.25–0.32 | 0.32–0.4 | 0.4–0.5 | 0.5–0.63 | 0.63–0.8 | 0.8–1 | 1–1.25 | 1.25–1.6 | 1.6–2 | 2–2.5 ms"},
		{"decades when 1-2-5 does not fit", []time.Duration{5 * us, 3 * time.Second}, 4,
			"0.001–0.01 | 0.01–0.1 | 0.1–1 | 1–10 | 10–100 | 100–1000 | 1000–10000 ms"},
		{"zero latency", []time.Duration{0, 3 * us}, 12, "0–1.25 | 1.25–1.6 | 1.6–2 | 2–2.5 | 2.5–3.2 µs"},
		{"minutes", []time.Duration{time.Second, 70 * time.Second}, 12, "1–2 | 2–5 | 5–10 | 10–20 | 20–50 | 50–100 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			bins := h.Bins(tt.maxBins)
			var labels []string
			var total uint64
			unit, div := histUnit(bins)
			for _, b := range bins {
				labels = append(labels, binRange(b, div))
				total += b.Count
			}
			if got := strings.Join(labels, " | ") + " " + unit; got != tt.want {
				t.Errorf("bins\n got %s\nwant %s", got, tt.want)
			}
			if total != uint64(len(tt.values)) {
				t.Errorf("bins hold %d values, want %d", total, len(tt.values))
			}
			for _, v := range tt.values {
				if !slicesContainsBin(bins, v) {
					t.Errorf("no bin holds %v", v)
				}
			}
		})
	}
	var empty Histogram
	if b := empty.Bins(10); b != nil {
		t.Errorf("empty histogram: %v", b)
	}
}

// slicesContainsBin reports whether v's bin has a count.
func slicesContainsBin(bins []Bin, v time.Duration) bool {
	for i, b := range bins {
		if v >= b.Lo && (v < b.Hi || i == len(bins)-1) {
			return b.Count > 0
		}
	}
	return false
}

func TestTextHistogram(t *testing.T) {
	var h Histogram
	for i := range 1000 {
		h.Record(time.Duration(500+i%700) * time.Microsecond)
	}
	h.Record(30 * time.Millisecond)
	var sb strings.Builder
	writeTextHistogram(&sb, "delivery latency", h.Bins(textHistogramBins), 30)
	out := sb.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "delivery latency (ms)" || len(lines) < 4 || len(lines) > textHistogramBins+1 {
		t.Fatalf("histogram:\n%s", out)
	}
	// Columns line up: every count ends at the same rune column.
	width := -1
	for _, l := range lines[1:] {
		bar := strings.ContainsAny(l, "█▏▎▍▌▋▊▉")
		if empty := strings.HasSuffix(l, " 0    0.0%"); bar == empty {
			t.Errorf("bar %v for %q", bar, l)
		}
		if w := len([]rune(l)); width >= 0 && w != width {
			t.Errorf("ragged line %q (%d runes, others %d)", l, w, width)
		} else {
			width = w
		}
	}
	if !strings.Contains(out, "100.0%") && !strings.Contains(out, "0.1%") {
		t.Errorf("no percentages:\n%s", out)
	}
	t.Logf("\n%s", out)
}
