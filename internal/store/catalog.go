package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// UpsertCatalog inserts or updates sedi and their spazi in one transaction.
// Sedi and spazi missing from the list are left as they are: reservations
// may point at them. A spazio's zero SedeID means the sede it is listed under.
func (s *Store) UpsertCatalog(ctx context.Context, sedi []slots.Sede) error {
	seenSede := make(map[int64]bool, len(sedi))
	seenSpazio := make(map[int64]int64)
	for _, sede := range sedi {
		if err := sede.Validate(); err != nil {
			return fmt.Errorf("upsert catalog: %w", err)
		}
		if seenSede[sede.ID] {
			return fmt.Errorf("upsert catalog: %w: sede %d listed twice", slots.ErrBadInput, sede.ID)
		}
		seenSede[sede.ID] = true
		for _, sp := range sede.Spazi {
			if prev, ok := seenSpazio[sp.ID]; ok {
				return fmt.Errorf("upsert catalog: %w: spazio %d listed twice (sedi %d and %d)", slots.ErrBadInput, sp.ID, prev, sede.ID)
			}
			seenSpazio[sp.ID] = sede.ID
		}
	}

	now := time.Now().UnixMilli()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, sede := range sedi {
			if _, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO sedi (id, nome, citta, timezone, apertura, chiusura, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET
					nome = excluded.nome, citta = excluded.citta, timezone = excluded.timezone,
					apertura = excluded.apertura, chiusura = excluded.chiusura,
					updated_at = excluded.updated_at`),
				sede.ID, sede.Nome, sede.Citta, sede.Timezone, sede.Apertura, sede.Chiusura, now); err != nil {
				return fmt.Errorf("sede %d: %w", sede.ID, err)
			}
			for _, sp := range sede.Spazi {
				if _, err := tx.ExecContext(ctx, s.q(`
					INSERT INTO spazi (id, sede_id, nome, tipologia, capacita, updated_at)
					VALUES (?, ?, ?, ?, ?, ?)
					ON CONFLICT (id) DO UPDATE SET
						sede_id = excluded.sede_id, nome = excluded.nome, tipologia = excluded.tipologia,
						capacita = excluded.capacita, updated_at = excluded.updated_at`),
					sp.ID, sede.ID, sp.Nome, sp.Tipologia, sp.Capacita, now); err != nil {
					return fmt.Errorf("spazio %d: %w", sp.ID, err)
				}
			}
		}
		return nil
	})
	s.catalog.clear()
	if err != nil {
		return fmt.Errorf("upsert catalog: %w", err)
	}
	return nil
}

// spazioTTL bounds how long a node answers Spazio from memory. The catalog
// changes when a node starts with a new one: this node forgets its cache
// then, and sees another node's change within spazioTTL.
const spazioTTL = 30 * time.Second

// spazioCache holds what Spazio read, by spazio id. Every join, hold and
// grid read looks a spazio up, and the catalog almost never changes.
type spazioCache struct {
	mu sync.RWMutex
	m  map[int64]cachedSpazio
}

type cachedSpazio struct {
	spazio slots.Spazio
	sede   slots.Sede
	at     time.Time
}

func (c *spazioCache) get(id int64, now time.Time) (cachedSpazio, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	return e, ok && now.Sub(e.at) < spazioTTL
}

func (c *spazioCache) put(id int64, e cachedSpazio) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[int64]cachedSpazio)
	}
	c.m[id] = e
	c.mu.Unlock()
}

func (c *spazioCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// Catalog lists every sede ordered by id, each with its spazi ordered by id.
// It reads in one statement, so it never sees half of a concurrent upsert.
func (s *Store) Catalog(ctx context.Context) ([]slots.Sede, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT s.id, s.nome, s.citta, s.timezone, s.apertura, s.chiusura,
		       p.id, p.nome, p.tipologia, p.capacita
		FROM sedi s LEFT JOIN spazi p ON p.sede_id = s.id
		ORDER BY s.id, p.id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var sedi []slots.Sede
	for rows.Next() {
		var (
			sede                slots.Sede
			spID, spCap         sql.NullInt64
			spNome, spTipologia sql.NullString
		)
		if err := rows.Scan(&sede.ID, &sede.Nome, &sede.Citta, &sede.Timezone, &sede.Apertura, &sede.Chiusura,
			&spID, &spNome, &spTipologia, &spCap); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		if n := len(sedi); n == 0 || sedi[n-1].ID != sede.ID {
			sedi = append(sedi, sede)
		}
		if spID.Valid {
			last := &sedi[len(sedi)-1]
			last.Spazi = append(last.Spazi, slots.Spazio{
				ID: spID.Int64, SedeID: last.ID, Nome: spNome.String,
				Tipologia: spTipologia.String, Capacita: int(spCap.Int64),
			})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return sedi, nil
}

// Spazio returns one spazio and its sede (without the sede's other spazi),
// or slots.ErrSpazioNotFound.
func (s *Store) Spazio(ctx context.Context, spazioID int64) (slots.Spazio, slots.Sede, error) {
	now := time.Now()
	if e, ok := s.catalog.get(spazioID, now); ok {
		return e.spazio, e.sede, nil
	}
	var (
		sp   slots.Spazio
		sede slots.Sede
	)
	err := s.readRow(ctx, `
		SELECT p.id, p.sede_id, p.nome, p.tipologia, p.capacita,
		       s.id, s.nome, s.citta, s.timezone, s.apertura, s.chiusura
		FROM spazi p JOIN sedi s ON s.id = p.sede_id
		WHERE p.id = ?`, spazioID).
		Scan(&sp.ID, &sp.SedeID, &sp.Nome, &sp.Tipologia, &sp.Capacita,
			&sede.ID, &sede.Nome, &sede.Citta, &sede.Timezone, &sede.Apertura, &sede.Chiusura)
	if errors.Is(err, sql.ErrNoRows) {
		return slots.Spazio{}, slots.Sede{}, fmt.Errorf("spazio %d: %w", spazioID, slots.ErrSpazioNotFound)
	}
	if err != nil {
		return slots.Spazio{}, slots.Sede{}, fmt.Errorf("spazio %d: %w", spazioID, err)
	}
	s.catalog.put(spazioID, cachedSpazio{spazio: sp, sede: sede, at: now})
	return sp, sede, nil
}
