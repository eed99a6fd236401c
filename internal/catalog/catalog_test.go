package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		json    bool
		wantErr string
		sedi    int
		spazi   int
	}{
		{"json object", `{"sedi":[{"id_sede":3,"nome":"Torino","citta":"Torino","spazi":[{"id_spazio":30,"nome":"A","tipologia":"sala","capacita":4}]}]}`, true, "", 1, 1},
		{"json list", `[{"id_sede":3,"nome":"Torino","spazi":[{"id_spazio":30,"nome":"A"}]}]`, false, "", 1, 1},
		{"yaml", "sedi:\n  - id_sede: 4\n    nome: Napoli\n    timezone: Europe/Rome\n    orario_apertura: \"08:00\"\n    orario_chiusura: \"20:00\"\n    spazi:\n      - {id_spazio: 40, nome: B, tipologia: ufficio, capacita: 2}\n      - {id_spazio: 41, nome: C, tipologia: ufficio, capacita: 2}\n", false, "", 1, 2},
		{"yaml list", "- id_sede: 5\n  nome: Bari\n  spazi: [{id_spazio: 50, nome: A}]\n", false, "", 1, 1},
		{"unknown field", `{"sedi":[{"id_sede":3,"nome":"T","colour":"red"}]}`, true, "unknown field", 0, 0},
		{"yaml unknown field", "sedi:\n  - id_sede: 4\n    nome: N\n    colour: red\n", false, "colour", 0, 0},
		{"empty", "  ", false, "empty", 0, 0},
		{"no sedi", `{"sedi":[]}`, true, "no sedi", 0, 0},
		{"duplicate sede", `[{"id_sede":1,"nome":"a","spazi":[{"id_spazio":1,"nome":"x"}]},{"id_sede":1,"nome":"b","spazi":[{"id_spazio":2,"nome":"y"}]}]`, true, "twice", 0, 0},
		{"duplicate spazio", `[{"id_sede":1,"nome":"a","spazi":[{"id_spazio":2,"nome":"x"}]},{"id_sede":2,"nome":"b","spazi":[{"id_spazio":2,"nome":"y"}]}]`, true, "twice", 0, 0},
		{"bad zone", `[{"id_sede":1,"nome":"a","timezone":"Nowhere/City"}]`, true, "time zone", 0, 0},
		{"bad hours", `[{"id_sede":1,"nome":"a","orario_apertura":"19:00","orario_chiusura":"09:00"}]`, true, "closes", 0, 0},
		{"malformed json", `{"sedi":[`, true, "invalid JSON", 0, 0},
		// Errors speak the catalog's words, not Go's, and suggest the field.
		{"yaml misspelt field", "sedi:\n  - id_sede: 4\n    nome: N\n    spazi:\n      - {id_spazio: 40, nome: B, capacity: 2}\n", false,
			`line 5: unknown field "capacity" in a spazio (did you mean "capacita"?)`, 0, 0},
		{"json misspelt field", "{\"sedi\":[{\"id_sede\":4,\n\"name\":\"N\"}]}", true, `line 2: unknown field "name" in a sede (did you mean "nome"?)`, 0, 0},
		{"yaml wrong type", "sedi:\n  - id_sede: 4\n    nome: N\n    spazi:\n      - {id_spazio: 40, nome: B, capacita: abc}\n", false, `line 5: "abc" is not a whole number`, 0, 0},
		{"json wrong type", `[{"id_sede":4,"nome":"N","spazi":[{"id_spazio":40,"nome":"B","capacita":"2"}]}]`, true, "capacita is string, want a whole number", 0, 0},
		// Slots are whole hours: a half-hour opening is refused, not cut.
		{"half-hour opening", `[{"id_sede":1,"nome":"a","orario_apertura":"8:30","spazi":[{"id_spazio":2,"nome":"x"}]}]`, true, `orario_apertura "8:30" is not on the hour`, 0, 0},
		{"half-hour closing", `[{"id_sede":1,"nome":"a","orario_chiusura":"17:30","spazi":[{"id_spazio":2,"nome":"x"}]}]`, true, `"17:00" or "18:00"`, 0, 0},
		{"not a time", `[{"id_sede":1,"nome":"a","orario_apertura":"nine","spazi":[{"id_spazio":2,"nome":"x"}]}]`, true, "not a time of day", 0, 0},
		{"negative capacity", `[{"id_sede":1,"nome":"a","spazi":[{"id_spazio":2,"nome":"x","capacita":-1}]}]`, true, "capacita must be 0 or more, got -1", 0, 0},
		{"no spazi", `[{"id_sede":1,"nome":"a","spazi":[]}]`, true, "sede 1 (a) has no spazi", 0, 0},
		{"spazi missing", "- id_sede: 5\n  nome: Bari\n", false, "sede 5 (Bari) has no spazi", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sedi, err := Parse([]byte(tt.in), tt.json)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sedi) != tt.sedi {
				t.Fatalf("%d sedi, want %d", len(sedi), tt.sedi)
			}
			if n := len(sedi[0].Spazi); n != tt.spazi {
				t.Fatalf("%d spazi, want %d", n, tt.spazi)
			}
			for _, sp := range sedi[0].Spazi {
				if sp.SedeID != sedi[0].ID {
					t.Fatalf("spazio %d has sede %d, want %d", sp.ID, sp.SedeID, sedi[0].ID)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sedi.yaml")
	if err := os.WriteFile(p, []byte("sedi:\n  - id_sede: 9\n    nome: Genova\n    spazi: [{id_spazio: 90, nome: Sala}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sedi, err := Load(p)
	if err != nil || len(sedi) != 1 || sedi[0].ID != 9 {
		t.Fatalf("Load = %+v, %v", sedi, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "read catalog") {
		t.Fatalf("Load of a missing file = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"id_sede":1,"nome":"a","spazi":[{"id_spazio":2,"nome":"x"}]}]`))
	f.Add([]byte("sedi:\n  - id_sede: 4\n    nome: N\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sedi, err := Parse(b, false)
		if err != nil {
			return
		}
		for _, s := range sedi {
			if err := s.Validate(); err != nil {
				t.Fatalf("Parse accepted an invalid sede: %v", err)
			}
		}
	})
}
