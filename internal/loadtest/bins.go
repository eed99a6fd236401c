package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bin is one bar of a latency histogram: the values in [Lo, Hi).
type Bin struct {
	Lo, Hi time.Duration
	Count  uint64
}

// Bins groups h's values into at most maxBins bars with round edges
// between the smallest and the largest value: equal widths (1, 2 or 5 ×
// 10ⁿ µs) when the largest is under ten times the smallest, else
// logarithmic steps (10 per decade, else 1-2-5, else decades), because
// latency tails are long. Values are placed by their internal bucket, so an
// edge is exact to within 1.6%. It returns nil when h is empty.
func (h *Histogram) Bins(maxBins int) []Bin {
	if h == nil || h.Count() == 0 {
		return nil
	}
	maxBins = max(maxBins, 1)
	lo, hi := float64(h.Min()/time.Microsecond), float64(h.Max()/time.Microsecond)
	var edges []float64
	if lo > 0 && hi < 10*lo {
		edges = linearEdges(lo, hi, maxBins)
	} else {
		edges = logEdges(lo, hi, maxBins)
	}
	bins := make([]Bin, len(edges)-1)
	for i := range bins {
		bins[i] = Bin{Lo: usToDuration(edges[i]), Hi: usToDuration(edges[i+1])}
	}
	for i := range h.buckets {
		c := h.buckets[i].Load()
		if c == 0 {
			continue
		}
		bl, bh := bucketBounds(i)
		mid := (float64(bl) + float64(bh)) / 2
		if v := float64(h.maxUS.Load()); mid > v {
			mid = v
		}
		// The bin whose [lo, hi) holds mid.
		j := sort.SearchFloat64s(edges, mid)
		if j == len(edges) || edges[j] > mid {
			j--
		}
		bins[min(max(j, 0), len(bins)-1)].Count += c
	}
	return bins
}

func usToDuration(us float64) time.Duration { return time.Duration(math.Round(us * 1000)) }

// linearEdges returns edges step apart, step the smallest 1-2-5 value (at
// least 1 µs) that covers [lo, hi] in maxBins bins.
func linearEdges(lo, hi float64, maxBins int) []float64 {
	for exp := 1.0; ; exp *= 10 {
		for _, m := range []float64{1, 2, 5} {
			step := m * exp
			first := math.Floor(lo/step) * step
			n := int(math.Floor(hi/step)) - int(first/step) + 1
			if n <= maxBins {
				edges := make([]float64, n+1)
				for i := range edges {
					edges[i] = first + float64(i)*step
				}
				return edges
			}
		}
	}
}

// logSeries are the mantissas of logarithmic edges, finest first.
var logSeries = [][]float64{
	{1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8},
	{1, 2, 5},
	{1},
}

// logEdges returns round logarithmic edges covering [lo, hi] µs in at
// most maxBins bins (decades when nothing finer fits); a first edge of
// zero when lo is zero.
func logEdges(lo, hi float64, maxBins int) []float64 {
	from := max(lo, 1)
	var edges []float64
	for _, series := range logSeries {
		edges = edges[:0]
		for exp := math.Pow(10, math.Floor(math.Log10(from))); len(edges) == 0 || edges[len(edges)-1] <= hi; exp *= 10 {
			for _, m := range series {
				e := m * exp
				switch {
				case e <= from:
					edges = append(edges[:0], e) // the largest edge ≤ from
				case len(edges) == 0 || edges[len(edges)-1] <= hi:
					edges = append(edges, e)
				}
			}
		}
		if len(edges)-1 <= maxBins {
			break
		}
	}
	if lo == 0 {
		edges[0] = 0
	}
	return edges
}

// histUnit is the unit a histogram's labels share, chosen by its largest
// edge: µs up to 1 ms, s above 10 s, else ms.
func histUnit(bins []Bin) (unit string, div time.Duration) {
	switch last := bins[len(bins)-1].Hi; {
	case last <= time.Millisecond:
		return "µs", time.Microsecond
	case last > 10*time.Second:
		return "s", time.Second
	}
	return "ms", time.Millisecond
}

// binRange formats a bin's range in div units with as few digits as tell
// its ends apart: "1.25–1.6".
func binRange(b Bin, div time.Duration) string {
	lo, hi := float64(b.Lo)/float64(div), float64(b.Hi)/float64(div)
	n := 3
	for n < 6 && sig(lo, n) == sig(hi, n) {
		n++
	}
	return sig(lo, n) + "–" + sig(hi, n)
}

// sig formats f with up to n significant digits and no trailing zeros.
func sig(f float64, n int) string {
	if f == 0 {
		return "0"
	}
	digits := n - 1 - int(math.Floor(math.Log10(math.Abs(f))))
	if digits < 0 {
		f = math.Round(f/math.Pow(10, float64(-digits))) * math.Pow(10, float64(-digits))
		digits = 0
	}
	s := strconv.FormatFloat(f, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// writeTextHistogram draws bins as text bars, width cells for the largest.
func writeTextHistogram(w io.Writer, title string, bins []Bin, width int) {
	var total, most uint64
	for _, b := range bins {
		total += b.Count
		most = max(most, b.Count)
	}
	if total == 0 {
		return
	}
	unit, div := histUnit(bins)
	labels := make([]string, len(bins))
	labelW := 0
	for i, b := range bins {
		labels[i] = binRange(b, div)
		labelW = max(labelW, utf8.RuneCountInString(labels[i]))
	}
	countW := len(strconv.FormatUint(most, 10))
	fmt.Fprintf(w, "%s (%s)\n", title, unit)
	for i, b := range bins {
		fmt.Fprintf(w, "  %-*s  %-*s  %*d  %5.1f%%\n", labelW, labels[i], width, textBar(float64(b.Count)/float64(most), width),
			countW, b.Count, 100*float64(b.Count)/float64(total))
	}
}

// textBar is a bar of frac × width cells in eighths of a block, unpadded;
// any non-zero fraction shows at least one eighth.
func textBar(frac float64, width int) string {
	eighths := int(math.Round(frac * float64(width) * 8))
	if eighths == 0 && frac > 0 {
		eighths = 1
	}
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}
