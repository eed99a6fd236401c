// Package catalog loads the sedi and spazi a server offers: the built-in
// demo catalog or a JSON/YAML file in the wire shape of GET /api/sedi (a
// bare list of sedi with their spazi, or that list under "sedi").
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
	"gopkg.in/yaml.v3"
)

// file is the catalog file: either {"sedi": [...]} or a bare list.
type file struct {
	Sedi []protocol.Sede `json:"sedi" yaml:"sedi"`
}

// Load reads a catalog file. JSON is recognised by a .json extension or a
// leading '{' / '['; anything else is parsed as YAML. Unknown fields are
// errors, so a typo in a field name is not silently ignored.
func Load(path string) ([]slots.Sede, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	sedi, err := Parse(b, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return sedi, nil
}

// Parse decodes and validates catalog bytes.
func Parse(b []byte, isJSON bool) ([]slots.Sede, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty catalog")
	}
	var f file
	if isJSON || trimmed[0] == '{' || trimmed[0] == '[' {
		if trimmed[0] == '[' {
			trimmed = append(append([]byte(`{"sedi":`), trimmed...), '}')
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", jsonError(err, trimmed))
		}
	} else {
		var list []protocol.Sede
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			// A bare YAML list of sedi is accepted too.
			dec = yaml.NewDecoder(bytes.NewReader(trimmed))
			dec.KnownFields(true)
			if err2 := dec.Decode(&list); err2 != nil {
				return nil, fmt.Errorf("invalid YAML: %w", yamlError(err))
			}
			f.Sedi = list
		}
	}
	return FromWire(f.Sedi)
}

// FromWire converts and validates wire sedi: ids unique across the
// catalog, every spazio in exactly one sede.
func FromWire(in []protocol.Sede) ([]slots.Sede, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("catalog has no sedi")
	}
	seenSede := map[int64]bool{}
	seenSpazio := map[int64]int64{}
	out := make([]slots.Sede, 0, len(in))
	for _, ws := range in {
		s := FromSede(ws)
		if seenSede[s.ID] {
			return nil, fmt.Errorf("sede %d listed twice", s.ID)
		}
		seenSede[s.ID] = true
		for _, sp := range s.Spazi {
			if other, dup := seenSpazio[sp.ID]; dup {
				return nil, fmt.Errorf("spazio %d listed twice (sedi %d and %d)", sp.ID, other, s.ID)
			}
			seenSpazio[sp.ID] = s.ID
		}
		if err := checkHours(&s); err != nil {
			return nil, err
		}
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if err := checkSpazi(s); err != nil {
			return nil, err
		}
		for i := range s.Spazi {
			s.Spazi[i].SedeID = s.ID
		}
		out = append(out, s)
	}
	return out, nil
}

// checkHours refuses opening hours off the hour, which the store would
// accept but serve badly, and writes them as HH:MM.
func checkHours(s *slots.Sede) error {
	for _, h := range []struct {
		field string
		v     *string
	}{{"orario_apertura", &s.Apertura}, {"orario_chiusura", &s.Chiusura}} {
		if *h.v == "" {
			continue
		}
		t, err := time.Parse("15:04", strings.TrimSpace(*h.v))
		if err != nil {
			return fmt.Errorf("sede %d: %s %q is not a time of day HH:MM", s.ID, h.field, *h.v)
		}
		if t.Minute() != 0 {
			// Slots are the hours from opening; a half hour would be
			// dropped at closing, and the grid's columns are the hours.
			return fmt.Errorf("sede %d: %s %q is not on the hour: slots are whole hours, e.g. %q or %q",
				s.ID, h.field, *h.v, t.Format("15:00"), t.Add(time.Hour).Format("15:00"))
		}
		*h.v = t.Format("15:04")
	}
	return nil
}

// checkSpazi refuses a sede with nothing to book and negative capacities.
func checkSpazi(s slots.Sede) error {
	if len(s.Spazi) == 0 {
		return fmt.Errorf("sede %d (%s) has no spazi: list at least one under spazi", s.ID, s.Nome)
	}
	for _, sp := range s.Spazi {
		if sp.Capacita < 0 {
			return fmt.Errorf("spazio %d (%s): capacita must be 0 or more, got %d", sp.ID, sp.Nome, sp.Capacita)
		}
	}
	return nil
}

// FromSede is the domain sede of a wire one (a catalog file's), field for
// field (the server maps the other way, in its wire package): it neither validates nor fills in defaults, so the caller still
// sees what the file said.
func FromSede(p protocol.Sede) slots.Sede {
	s := slots.Sede{ID: p.IDSede, Nome: p.Nome, Citta: p.Citta, Timezone: p.Timezone, Apertura: p.OrarioApertura, Chiusura: p.OrarioChiusura}
	for _, sp := range p.Spazi {
		s.Spazi = append(s.Spazi, slots.Spazio{ID: sp.IDSpazio, SedeID: sp.IDSede, Nome: sp.Nome, Tipologia: sp.Tipologia, Capacita: sp.Capacita})
	}
	return s
}
