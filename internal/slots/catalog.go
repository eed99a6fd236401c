package slots

import (
	"fmt"
	"time"
)

// Sede is a location. Zero Timezone means the server's --tz; zero opening
// hours mean 09:00–18:00.
type Sede struct {
	ID       int64
	Nome     string
	Citta    string
	Timezone string
	Apertura string // "HH:MM"
	Chiusura string // "HH:MM"
	Spazi    []Spazio
}

// Spazio is a bookable space of a sede.
type Spazio struct {
	ID        int64
	SedeID    int64
	Nome      string
	Tipologia string
	Capacita  int
}

// Default opening hours of a sede that names none.
const (
	DefaultApertura = "09:00"
	DefaultChiusura = "18:00"
)

// parseHHMM parses "HH:MM" into minutes after midnight.
func parseHHMM(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%w: time %q is not HH:MM", ErrBadInput, s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Hours returns the sede's opening and closing minutes after midnight.
func (s Sede) Hours() (open, close int, err error) {
	a, c := s.Apertura, s.Chiusura
	if a == "" {
		a = DefaultApertura
	}
	if c == "" {
		c = DefaultChiusura
	}
	if open, err = parseHHMM(a); err != nil {
		return 0, 0, err
	}
	if close, err = parseHHMM(c); err != nil {
		return 0, 0, err
	}
	if close <= open {
		return 0, 0, fmt.Errorf("%w: sede %d closes (%s) before it opens (%s)", ErrBadInput, s.ID, c, a)
	}
	return open, close, nil
}

// SlotCount is the number of whole hourly slots in the sede's day.
func (s Sede) SlotCount() (int, error) {
	open, close, err := s.Hours()
	if err != nil {
		return 0, err
	}
	return (close - open) / 60, nil
}

// Validate checks a sede and its spazi before they reach the store.
func (s Sede) Validate() error {
	if s.ID <= 0 {
		return fmt.Errorf("%w: sede id must be positive, got %d", ErrBadInput, s.ID)
	}
	if s.Nome == "" {
		return fmt.Errorf("%w: sede %d has no nome", ErrBadInput, s.ID)
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			return fmt.Errorf("%w: sede %d time zone %q: %v", ErrBadInput, s.ID, s.Timezone, err)
		}
	}
	n, err := s.SlotCount()
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%w: sede %d is open less than an hour", ErrBadInput, s.ID)
	}
	for _, sp := range s.Spazi {
		if sp.ID <= 0 {
			return fmt.Errorf("%w: spazio id must be positive, got %d (sede %d)", ErrBadInput, sp.ID, s.ID)
		}
		if sp.SedeID != 0 && sp.SedeID != s.ID {
			return fmt.Errorf("%w: spazio %d lists sede %d but sits under sede %d", ErrBadInput, sp.ID, sp.SedeID, s.ID)
		}
		if sp.Nome == "" {
			return fmt.Errorf("%w: spazio %d has no nome", ErrBadInput, sp.ID)
		}
	}
	return nil
}

// DemoCatalog is the built-in catalog of --demo: sede 1 with spazi 1–4,
// sede 2 with spazi 5–8, both open 09:00–18:00 in the server's zone.
func DemoCatalog() []Sede {
	mk := func(sede int64, first int64, city string) Sede {
		kinds := []struct {
			nome, tipo string
			cap        int
		}{
			{"Open space", "postazione", 12},
			{"Sala riunioni", "sala_riunioni", 8},
			{"Ufficio privato", "ufficio", 4},
			{"Phone booth", "postazione", 1},
		}
		s := Sede{ID: sede, Nome: "Cowork " + city, Citta: city, Apertura: DefaultApertura, Chiusura: DefaultChiusura}
		for i, k := range kinds {
			id := first + int64(i)
			s.Spazi = append(s.Spazi, Spazio{ID: id, SedeID: sede, Nome: fmt.Sprintf("%s %d", k.nome, id), Tipologia: k.tipo, Capacita: k.cap})
		}
		return s
	}
	return []Sede{mk(1, 1, "Milano"), mk(2, 5, "Roma")}
}
