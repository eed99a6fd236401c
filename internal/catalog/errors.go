package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Field names of a catalog entry, as a writer of the file spells them.
var (
	sedeFields   = []string{"id_sede", "nome", "citta", "timezone", "orario_apertura", "orario_chiusura", "spazi"}
	spazioFields = []string{"id_spazio", "id_sede", "nome", "tipologia", "capacita"}
)

// aliases are names a writer may reach for (English, or the Italian word
// without its prefix) mapped to the catalog's field.
var aliases = map[string]string{
	"capacity": "capacita", "cap": "capacita", "seats": "capacita", "capacità": "capacita",
	"name": "nome", "city": "citta", "città": "citta", "type": "tipologia", "kind": "tipologia", "tipo": "tipologia",
	"spaces": "spazi", "spazio": "spazi", "rooms": "spazi",
	"open": "orario_apertura", "opens": "orario_apertura", "opening": "orario_apertura", "apertura": "orario_apertura",
	"close": "orario_chiusura", "closes": "orario_chiusura", "closing": "orario_chiusura", "chiusura": "orario_chiusura",
	"tz": "timezone", "zone": "timezone", "time_zone": "timezone",
	"sede_id": "id_sede", "spazio_id": "id_spazio", "sede": "id_sede",
}

// suggest names the field of fields that name most likely meant, or "".
func suggest(name string, fields []string) string {
	lower := strings.ToLower(name)
	if a, ok := aliases[lower]; ok && slices.Contains(fields, a) {
		return a
	}
	if lower == "id" {
		return fields[0]
	}
	best, bestD := "", 3 // at most two edits away
	for _, f := range fields {
		if d := editDistance(lower, f); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// unknownField says that name is not a field of what, and which it may
// have meant.
func unknownField(name, what string, fields []string) string {
	msg := fmt.Sprintf("unknown field %q in a %s", name, what)
	if s := suggest(name, fields); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + " (fields: " + strings.Join(fields, ", ") + ")"
}

var (
	yamlNotFound  = regexp.MustCompile(`field (\S+) not found in type protocol\.(Sede|Spazio)`)
	yamlCannot    = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
	jsonUnknownRe = regexp.MustCompile(`json: unknown field "([^"]+)"`)
)

// yamlError rewrites the YAML decoder's messages in the catalog's words:
// no Go type names, a suggestion for a misspelt field.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		l = yamlNotFound.ReplaceAllStringFunc(l, func(m string) string {
			sub := yamlNotFound.FindStringSubmatch(m)
			if sub[2] == "Sede" {
				return unknownField(sub[1], "sede", sedeFields)
			}
			return unknownField(sub[1], "spazio", spazioFields)
		})
		l = yamlCannot.ReplaceAllStringFunc(l, func(m string) string {
			sub := yamlCannot.FindStringSubmatch(m)
			return fmt.Sprintf("%q is not %s", sub[2], goTypeWords(sub[3]))
		})
		lines[i] = l
	}
	return errors.New(strings.Join(lines, "; "))
}

// jsonError rewrites the JSON decoder's messages the same way, with the
// line of the offending field.
func jsonError(err error, src []byte) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("line %d: %s is %s, want %s", lineAt(src, int(te.Offset)), te.Field, te.Value, goTypeWords(te.Type.String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: %s", lineAt(src, int(se.Offset)), se.Error())
	}
	if m := jsonUnknownRe.FindStringSubmatch(err.Error()); m != nil {
		name := m[1]
		what, fields := "sede", sedeFields
		if s := suggest(name, spazioFields); s != "" && suggest(name, sedeFields) == "" {
			what, fields = "spazio", spazioFields
		}
		line := lineAt(src, strings.Index(string(src), `"`+name+`"`))
		return fmt.Errorf("line %d: %s", line, unknownField(name, what, fields))
	}
	return err
}

// lineAt is the 1-based line of byte offset off in src.
func lineAt(src []byte, off int) int {
	if off < 0 || off > len(src) {
		return 1
	}
	return 1 + strings.Count(string(src[:off]), "\n")
}

// goTypeWords names a Go type as a catalog writer thinks of it.
func goTypeWords(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "int", "int64", "int32", "uint", "uint64":
		return "a whole number"
	case "float64", "float32":
		return "a number"
	case "string":
		return "text"
	case "bool":
		return "true or false"
	case "protocol.Sede", "catalog.file":
		return "a sede"
	case "[]protocol.Sede":
		return "a list of sedi"
	case "protocol.Spazio":
		return "a spazio"
	case "[]protocol.Spazio":
		return "a list of spazi"
	}
	return "of the right kind"
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
