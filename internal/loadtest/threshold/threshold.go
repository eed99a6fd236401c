// Package threshold parses and checks pass/fail limits on any figure a
// load test reports: `hold.p99<50ms`, `errors.rate<0.1%`,
// `vusers.failed==0`.
package threshold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Unit is how a figure is measured.
type Unit int

// Units of figures; a threshold's value must fit its figure's unit.
const (
	// Count is a plain number (vusers.failed, join.count).
	Count Unit = iota
	// Millis is a latency in milliseconds; thresholds write 50ms or 1.5s.
	Millis
	// Ratio is a fraction (0.001); thresholds write 0.1% or 0.001.
	Ratio
)

// Figure is one reported value.
type Figure struct {
	Value float64
	Unit  Unit
}

// Figures are a report's values by name (vusers.created, join.p99,
// websocket.delivery.p99, errors.rate …).
type Figures map[string]Figure

// Threshold is one limit.
type Threshold struct {
	// Text is the threshold as written.
	Text   string `json:"threshold"`
	Figure string `json:"figure"`
	Op     string `json:"op"`
	// Limit is in the figure's unit (ms for latencies, a fraction for
	// rates).
	Limit    float64 `json:"limit"`
	hasTime  bool
	hasRatio bool
}

// ErrSyntax wraps every unparsable threshold.
var ErrSyntax = errors.New("threshold")

var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// Parse reads "figure op value".
func Parse(text string) (Threshold, error) {
	s := strings.TrimSpace(text)
	for _, op := range ops {
		i := strings.Index(s, op)
		if i < 0 {
			continue
		}
		t := Threshold{Text: text, Figure: strings.TrimSpace(s[:i]), Op: op}
		val := strings.TrimSpace(s[i+len(op):])
		if t.Figure == "" || val == "" {
			break
		}
		switch {
		case strings.HasSuffix(val, "%"):
			f, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
			if err != nil {
				return t, fmt.Errorf("%w %q: %q is not a percentage", ErrSyntax, text, val)
			}
			t.Limit, t.hasRatio = f/100, true
		case strings.IndexFunc(val, func(r rune) bool { return r >= 'a' && r <= 'z' || r == 'µ' }) >= 0:
			d, err := time.ParseDuration(val)
			if err != nil {
				return t, fmt.Errorf("%w %q: %q is not a number, percentage or duration such as 50ms", ErrSyntax, text, val)
			}
			t.Limit, t.hasTime = float64(d)/float64(time.Millisecond), true
		default:
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return t, fmt.Errorf("%w %q: %q is not a number", ErrSyntax, text, val)
			}
			t.Limit = f
		}
		return t, nil
	}
	return Threshold{}, fmt.Errorf("%w %q: want figure, one of < <= > >= == !=, and a value, e.g. 'hold.p99<50ms'", ErrSyntax, text)
}

// Result is a threshold checked against a run.
type Result struct {
	Threshold
	// Value is the figure's value; NaN when the run has no such figure
	// (null in JSON).
	Value float64 `json:"-"`
	Pass  bool    `json:"pass"`
	// Why explains a failure that is not a plain breach (unknown figure,
	// wrong unit).
	Why string `json:"why,omitempty"`
}

// MarshalJSON writes the value as null when the figure is unknown.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var v *float64
	if !math.IsNaN(r.Value) {
		v = &r.Value
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Thresholds are read by people: keep < and > as they were written.
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		plain
		Value *float64 `json:"value"`
		Text  string   `json:"text"`
	}{plain(r), v, r.String()})
	return bytes.TrimRight(b.Bytes(), "\n"), err
}

// Check evaluates t against figures. A figure the run did not report
// fails, and says which figures exist with the same prefix.
func (t Threshold) Check(figs Figures) Result {
	r := Result{Threshold: t, Value: math.NaN()}
	f, ok := figs[t.Figure]
	if !ok {
		r.Why = "no such figure" + suggest(t.Figure, figs)
		return r
	}
	r.Value = f.Value
	switch {
	case t.hasTime && f.Unit != Millis:
		r.Why = "a duration limit on a figure that is not a latency"
		return r
	case f.Unit == Millis && !t.hasTime && t.Limit != 0:
		r.Why = "a latency needs a unit, e.g. 50ms"
		return r
	case t.hasRatio && f.Unit != Ratio:
		r.Why = "a percentage limit on a figure that is not a rate"
		return r
	}
	v, l := f.Value, t.Limit
	switch t.Op {
	case "<":
		r.Pass = v < l
	case "<=":
		r.Pass = v <= l
	case ">":
		r.Pass = v > l
	case ">=":
		r.Pass = v >= l
	case "==":
		r.Pass = v == l
	case "!=":
		r.Pass = v != l
	}
	return r
}

func suggest(name string, figs Figures) string {
	prefix, _, _ := strings.Cut(name, ".")
	var near []string
	for k := range figs {
		if strings.HasPrefix(k, prefix+".") {
			near = append(near, k)
		}
	}
	if len(near) == 0 {
		for k := range figs {
			if strings.Count(k, ".") == 1 {
				near = append(near, k)
			}
		}
	}
	slices.Sort(near)
	if len(near) > 12 {
		near = append(near[:12], "…")
	}
	if len(near) == 0 {
		return ""
	}
	return "; try " + strings.Join(near, ", ")
}

// String renders a result as one line: "PASS hold.p99<50ms (12.3ms)".
func (r Result) String() string {
	verdict := "FAIL"
	if r.Pass {
		verdict = "PASS"
	}
	return verdict + " " + r.Detail()
}

// Detail is the result without its verdict, for lists that already say
// it: "hold.p99<50ms (12.3ms)".
func (r Result) Detail() string {
	val := "—"
	if !math.IsNaN(r.Value) {
		val = strconv.FormatFloat(r.Value, 'f', -1, 64)
		switch {
		case r.hasTime:
			val += "ms"
		case r.hasRatio:
			val = strconv.FormatFloat(r.Value*100, 'f', 3, 64) + "%"
		}
	}
	s := fmt.Sprintf("%s (%s)", r.Text, val)
	if r.Why != "" {
		s += ": " + r.Why
	}
	return s
}

// CheckAll evaluates every threshold; pass is true when all pass.
func CheckAll(ts []Threshold, figs Figures) (results []Result, pass bool) {
	pass = true
	for _, t := range ts {
		r := t.Check(figs)
		results = append(results, r)
		pass = pass && r.Pass
	}
	return results, pass
}
