// Package catalog loads the sedi and spazi a server offers: the built-in
// demo catalog or a JSON/YAML file in the wire shape of GET /api/sedi.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
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
			return nil, fmt.Errorf("invalid JSON: %w", err)
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
				return nil, fmt.Errorf("invalid YAML: %w", err)
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
		s := wire.FromSede(ws)
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
		if err := s.Validate(); err != nil {
			return nil, err
		}
		for i := range s.Spazi {
			s.Spazi[i].SedeID = s.ID
		}
		out = append(out, s)
	}
	return out, nil
}
