package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
)

// parsePath splits a JSON path such as $.0.name or $[0]['name'] into its
// keys.
func parsePath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("json path %q must start with $", p)
	}
	rest := p[1:]
	var keys []string
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("json path %q has an empty key", p)
			}
			keys = append(keys, rest[:end])
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("json path %q has an unclosed [", p)
			}
			keys = append(keys, strings.Trim(rest[1:end], `'"`))
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("json path %q: unexpected %q", p, rest[0])
		}
	}
	return keys, nil
}

// Lookup returns the value at path in v (decoded JSON).
func Lookup(v any, path string) (any, bool) {
	keys, err := parsePath(path)
	if err != nil {
		return nil, false
	}
	for _, k := range keys {
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		case map[string]any:
			e, ok := x[k]
			if !ok {
				return nil, false
			}
			v = e
		default:
			return nil, false
		}
	}
	return v, true
}

// Check reports why args (an event's or ack's arguments) fail x, or nil.
// Values from the script are rendered with r first.
func (x *Expect) Check(args []json.RawMessage, r *Renderer) error {
	all := make([]any, len(args))
	for i, a := range args {
		if err := json.Unmarshal(a, &all[i]); err != nil {
			return fmt.Errorf("argument %d is not JSON: %w", i, err)
		}
	}
	if x.HasData {
		var first any
		if len(all) > 0 {
			first = all[0]
		}
		if !Equal(first, r.Render(x.Data)) {
			return fmt.Errorf("data %s, want %s", short(first), short(r.Render(x.Data)))
		}
	}
	return CheckMatches(all, x.Match, r)
}

// CheckMatches applies matches to decoded arguments.
func CheckMatches(all []any, ms []Match, r *Renderer) error {
	for _, m := range ms {
		got, ok := Lookup(all, m.JSON)
		want := r.Render(m.Value)
		if !ok {
			return fmt.Errorf("%s is missing", m.JSON)
		}
		if !Equal(got, want) {
			return fmt.Errorf("%s is %s, want %s", m.JSON, short(got), short(want))
		}
	}
	return nil
}

// Equal compares a decoded JSON value with a script value loosely, as
// Artillery does: numbers and their text are equal, and so are values of
// equal JSON.
func Equal(got, want any) bool {
	if reflect.DeepEqual(got, want) {
		return true
	}
	if text(got) == text(want) {
		if _, isMap := got.(map[string]any); !isMap {
			return true
		}
	}
	a, err1 := json.Marshal(got)
	b, err2 := json.Marshal(normalize(want))
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// normalize turns YAML's int values into float64 as JSON decoding gives.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

func short(v any) string {
	b, err := json.Marshal(normalize(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "…"
	}
	return string(b)
}

// Pick returns a scenario chosen by weight.
func (s *Script) Pick(rng *rand.Rand) *Scenario {
	total := 0
	for _, sc := range s.Scenarios {
		total += sc.Weight
	}
	n := rng.IntN(total)
	for _, sc := range s.Scenarios {
		if n < sc.Weight {
			return sc
		}
		n -= sc.Weight
	}
	return s.Scenarios[len(s.Scenarios)-1]
}

// NewVars returns the variables of one virtual user: one value of each
// config variable, one row of each payload, and its index.
func (s *Script) NewVars(vu int, rng *rand.Rand) Vars {
	v := Vars{VarVU: float64(vu)}
	for k, vals := range s.Config.Variables {
		v[k] = normalize(vals[rng.IntN(len(vals))])
	}
	for _, pl := range s.Config.Payload {
		row := pl.Row(rng.IntN)
		for i, f := range pl.Fields {
			v[f] = row[i]
		}
	}
	return v
}
