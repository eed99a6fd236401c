package scenario

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Payload is a CSV file of values (users, spaces, dates): each virtual
// user takes one row and sees its cells under Fields' names.
type Payload struct {
	Path   string
	Fields []string
	// Random picks rows at random; the default (order: sequence) hands
	// them out in turn.
	Random bool
	Rows   [][]string

	next atomic.Uint64
}

// Row returns the row for the next virtual user.
func (p *Payload) Row(rnd func(n int) int) []string {
	if p.Random {
		return p.Rows[rnd(len(p.Rows))]
	}
	return p.Rows[int((p.next.Add(1)-1)%uint64(len(p.Rows)))]
}

func (p *parser) payload(n *yaml.Node) (*Payload, error) {
	var raw struct {
		Path       string   `yaml:"path"`
		Fields     []string `yaml:"fields"`
		Order      string   `yaml:"order"`
		SkipHeader bool     `yaml:"skipHeader"`
		Delimiter  string   `yaml:"delimiter"`
		Cast       *bool    `yaml:"cast"`
		Loadall    bool     `yaml:"loadAll"`
		Name       string   `yaml:"name"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, p.errf(n, "config.payload: %v", err)
	}
	if raw.Path == "" || len(raw.Fields) == 0 {
		return nil, p.errf(n, "config.payload needs path and fields")
	}
	if raw.Loadall {
		return nil, p.errf(n, "config.payload.loadAll is not supported")
	}
	pl := &Payload{Path: raw.Path, Fields: raw.Fields}
	switch raw.Order {
	case "", "sequence":
	case "random":
		pl.Random = true
	default:
		return nil, p.errf(n, "config.payload.order %q (want sequence or random)", raw.Order)
	}
	path := raw.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, p.errf(n, "config.payload: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	if raw.Delimiter != "" {
		r.Comma = []rune(raw.Delimiter)[0]
	}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, p.errf(n, "config.payload %s: %v", raw.Path, err)
		}
		if line == 1 && raw.SkipHeader {
			continue
		}
		if len(rec) < len(raw.Fields) {
			return nil, p.errf(n, "config.payload %s:%d has %d cells for %d fields", raw.Path, line, len(rec), len(raw.Fields))
		}
		pl.Rows = append(pl.Rows, rec)
	}
	if len(pl.Rows) == 0 {
		return nil, p.errf(n, "config.payload %s has no rows", raw.Path)
	}
	return pl, nil
}

// String describes the payload for reports.
func (p *Payload) String() string { return fmt.Sprintf("%s (%d rows)", p.Path, len(p.Rows)) }
