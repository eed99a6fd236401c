package scenario

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Templates use Artillery's syntax: {{ name }} is a variable (from
// config.variables, a payload field, or a built-in), {{ $fn(args) }} a
// built-in function: $randomNumber(a, b), $randomString(n), $uuid,
// $dateOffset(days), $randomDate(a, b) (today plus a to b days).
var tmplRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Built-in variables and functions.
const (
	// VarLoopElement is the current element of a loop over a list.
	VarLoopElement = "$loopElement"
	// VarLoopCount counts iterations of the innermost loop from 1.
	VarLoopCount = "$loopCount"
	// VarVU is the virtual user's index from 0.
	VarVU = "$vu"
	// VarToday and VarTomorrow are dates (YYYY-MM-DD) in local time.
	VarToday    = "$today"
	VarTomorrow = "$tomorrow"
)

var builtinFuncs = []string{"$randomNumber", "$randomString", "$uuid", "$dateOffset", "$randomDate"}

// Vars are one virtual user's variables.
type Vars map[string]any

// Renderer renders templates for one virtual user. It is not safe for
// concurrent use: each virtual user has its own.
type Renderer struct {
	Vars Vars
	Rng  *rand.Rand
	// Now gives dates for $today, $tomorrow and $dateOffset.
	Now func() time.Time
}

// Render returns v with every template rendered: strings, and strings
// inside lists and mappings. A string that is exactly one template takes
// the variable's value with its type (a number stays a number).
func (r *Renderer) Render(v any) any {
	switch x := v.(type) {
	case string:
		return r.renderString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Render(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Render(e)
		}
		return out
	}
	return v
}

// String renders s and formats the result as text.
func (r *Renderer) String(s string) string {
	return text(r.renderString(s))
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func (r *Renderer) renderString(s string) any {
	if !strings.Contains(s, "{{") {
		return s
	}
	if m := tmplRE.FindStringSubmatchIndex(s); m != nil && m[0] == 0 && m[1] == len(s) {
		return r.eval(s[m[2]:m[3]])
	}
	return tmplRE.ReplaceAllStringFunc(s, func(t string) string {
		return text(r.eval(tmplRE.FindStringSubmatch(t)[1]))
	})
}

func (r *Renderer) eval(expr string) any {
	name, args, isCall := splitCall(expr)
	if !isCall {
		if v, ok := r.Vars[name]; ok {
			return v
		}
		switch name {
		case VarToday:
			return r.now().Format(time.DateOnly)
		case VarTomorrow:
			return r.now().AddDate(0, 0, 1).Format(time.DateOnly)
		case "$uuid":
			return r.uuid()
		}
		// checkVars refused unknown names; a variable without a value
		// renders empty, as in Artillery.
		return ""
	}
	num := func(i int) int {
		if i >= len(args) {
			return 0
		}
		n, _ := strconv.Atoi(strings.TrimSpace(args[i]))
		return n
	}
	switch name {
	case "$randomNumber":
		lo, hi := num(0), num(1)
		if hi < lo {
			lo, hi = hi, lo
		}
		return float64(lo + r.Rng.IntN(hi-lo+1))
	case "$randomString":
		n := max(num(0), 1)
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.Rng.IntN(len(alphabet))]
		}
		return string(b)
	case "$uuid":
		return r.uuid()
	case "$dateOffset":
		return r.now().AddDate(0, 0, num(0)).Format(time.DateOnly)
	case "$randomDate": // a day between today+a and today+b
		lo, hi := num(0), num(1)
		if hi < lo {
			lo, hi = hi, lo
		}
		return r.now().AddDate(0, 0, lo+r.Rng.IntN(hi-lo+1)).Format(time.DateOnly)
	}
	return ""
}

func (r *Renderer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Renderer) uuid() string {
	a, b := r.Rng.Uint64(), r.Rng.Uint64()
	a = a&^(0xf<<12) | 4<<12 // version 4
	b = b&^(3<<62) | 2<<62   // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// splitCall splits "$fn(a, b)" into its name and arguments.
func splitCall(expr string) (name string, args []string, isCall bool) {
	open := strings.IndexByte(expr, '(')
	if open < 0 || !strings.HasSuffix(expr, ")") {
		return expr, nil, false
	}
	inner := strings.TrimSpace(expr[open+1 : len(expr)-1])
	if inner != "" {
		args = strings.Split(inner, ",")
	}
	return strings.TrimSpace(expr[:open]), args, true
}

// templateNames returns the variable and function names used in v.
func templateNames(v any, out map[string]bool) {
	switch x := v.(type) {
	case string:
		for _, m := range tmplRE.FindAllStringSubmatch(x, -1) {
			name, _, _ := splitCall(m[1])
			out[name] = true
		}
	case []any:
		for _, e := range x {
			templateNames(e, out)
		}
	case map[string]any:
		for k, e := range x {
			templateNames(k, out)
			templateNames(e, out)
		}
	}
}

// checkVars refuses templates that name no variable, payload field or
// built-in, at the line of their step: a typo would otherwise send empty
// strings for the whole run.
func (p *parser) checkVars(s *Script) error {
	known := map[string]bool{VarLoopElement: true, VarLoopCount: true, VarVU: true, VarToday: true, VarTomorrow: true}
	for _, f := range builtinFuncs {
		known[f] = true
	}
	for k := range s.Config.Variables {
		known[k] = true
	}
	for _, pl := range s.Config.Payload {
		for _, f := range pl.Fields {
			known[f] = true
		}
	}
	used := map[string]bool{}
	for k, v := range s.Config.SocketIO.Query {
		templateNames(k, used)
		templateNames(v, used)
	}
	templateNames(anyMap(s.Config.SocketIO.ExtraHeaders), used)
	templateNames(s.Config.SocketIO.Auth, used)
	for name := range used {
		if !known[name] {
			return &posErr{file: p.file, msg: fmt.Sprintf("config.socketio uses {{ %s }}, which no variable, payload field or built-in defines", name)}
		}
	}
	var walk func([]*Step) error
	walk = func(flow []*Step) error {
		for _, st := range flow {
			used := map[string]bool{}
			stepTemplates(st, used)
			for name := range used {
				if !known[name] {
					return &posErr{file: p.file, line: st.Line, msg: fmt.Sprintf("{{ %s }} names no variable, payload field or built-in", name)}
				}
			}
			if st.Loop != nil {
				if st.Loop.OverVar != "" {
					if _, ok := s.Config.Variables[st.Loop.OverVar]; !ok {
						return &posErr{file: p.file, line: st.Line, msg: fmt.Sprintf("loop over %q: no such variable", st.Loop.OverVar)}
					}
				}
				if err := walk(st.Loop.Steps); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, sc := range s.Scenarios {
		if err := walk(sc.Flow); err != nil {
			return err
		}
	}
	return nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stepTemplates(st *Step, used map[string]bool) {
	if e := st.Emit; e != nil {
		templateNames(e.Channel, used)
		templateNames(e.Data, used)
		for _, x := range []*Expect{e.Ack, e.Response} {
			if x != nil {
				templateNames(x.Data, used)
				for _, m := range x.Match {
					templateNames(m.Value, used)
				}
			}
		}
	}
	if j := st.Join; j != nil {
		templateNames([]any{j.Spazio, j.Sede, j.Date}, used)
	}
	if s := st.Slot; s != nil {
		templateNames([]any{s.Slot, s.Spazio, s.Sede, s.Date}, used)
	}
	if w := st.WaitFor; w != nil {
		templateNames(w.Event, used)
		for _, m := range w.Match {
			templateNames(m.Value, used)
		}
	}
	if l := st.Loop; l != nil {
		templateNames(l.Over, used)
	}
}
