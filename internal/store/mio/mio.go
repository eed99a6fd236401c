// Package mio implements slots.Store on the coworking backend's own
// PostgreSQL tables (the "coworking-mio" layout): the catalog is read from
// Sede and Spazio, and slot state is the Prenotazione table, read and
// written the way the backend's slot routes and timer do, so the backend's
// other routes, dashboards and payments see coworkctl's holds and coworkctl
// sees theirs.
//
// coworkctl's own state (grid versions, audit trail, the queue of changes
// made by others, its migrations) lives in a schema of its own. The only
// object it adds to the backend's schema is one trigger on Prenotazione
// (see Install), which queues every change made by others in that schema
// and wakes the nodes with NOTIFY; Follow claims each queued change on
// exactly one node and hands it over for broadcast.
//
// Slot n of a date is the hour starting at 8+n, as the backend numbers
// them; data_inizio and data_fine hold the slot's wall time (in the zone
// the Service uses for sedi, since Sede names none), scadenza_slot the
// hold's deadline as UTC wall time, which is what the backend's own
// comparisons with CURRENT_TIMESTAMP expect of a server running in UTC.
package mio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coworkctl/coworkctl/internal/slots"
)

// DefaultOwnSchema is the schema of coworkctl's own tables unless
// configured otherwise.
const DefaultOwnSchema = "coworkctl"

// firstHour is the hour slot 0 would start at: slot n starts at 8+n.
const firstHour = 8

// slotsPerDay is the backend's fixed day: 09:00 to 18:00.
const slotsPerDay = 9

const connectTimeout = 5 * time.Second

// maxConns caps one node's connections to the shared database, the
// listener's dedicated one not included.
const maxConns = 16

// Config configures Open.
type Config struct {
	// DSN is the backend's database, postgres://…; its search_path (or the
	// server's default) selects the backend's schema.
	DSN string
	// OwnSchema names coworkctl's schema; "" means DefaultOwnSchema.
	OwnSchema string
	// Location is the zone of the wall times in data_inizio and data_fine,
	// the one the Service uses for sedi; nil means time.Local.
	Location *time.Location
	// Log receives conflicts and listener trouble; nil discards.
	Log *slog.Logger
}

// Store is slots.Store on the backend's tables. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// connCfg opens the listener's dedicated connection.
	connCfg *pgx.ConnConfig
	own     string // the own schema, unquoted
	q       queries
	loc     *time.Location
	log     *slog.Logger
	name    string

	writeTxs, writeOps atomic.Int64
	conflicts          atomic.Int64

	// listenerPID is the backend pid of the listener's connection, for
	// tests that kill it; 0 while disconnected.
	listenerPID atomic.Uint32

	closeOnce sync.Once
}

var (
	_ slots.Store = (*Store)(nil)
	_ slots.Feed  = (*Store)(nil)
)

// ErrNotInstalled means the trigger coworkctl needs is missing: run
// coworkctl db install.
var ErrNotInstalled = errors.New("coworkctl is not installed on this database: run coworkctl db install --db-layout coworking-mio")

// Open connects to the backend's database, applies coworkctl's own
// migrations to its own schema, and checks that Install ran.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", s.name, err)
	}
	ok, err := s.installed(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", s.name, err)
	}
	if !ok {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", s.name, ErrNotInstalled)
	}
	return s, nil
}

func connect(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.OwnSchema == "" {
		cfg.OwnSchema = DefaultOwnSchema
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: %w", err)
	}
	cc := pcfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = connectTimeout
	}
	// scadenza_slot and the backend's CURRENT_TIMESTAMP comparisons are in
	// UTC wall time; the session's zone decides how timestamptz values
	// turn into it.
	cc.RuntimeParams["timezone"] = "UTC"
	pcfg.MaxConns = maxConns
	name := "postgres://" + cc.User + "@" + net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))) + "/" + cc.Database
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(pctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	return &Store{pool: pool, connCfg: cc.Copy(), own: cfg.OwnSchema, q: newQueries(cfg.OwnSchema),
		loc: cfg.Location, log: cfg.Log, name: name + " (layout coworking-mio, own schema " + cfg.OwnSchema + ")"}, nil
}

// String describes the database without secrets.
func (s *Store) String() string { return s.name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.name, err)
	}
	return nil
}

// Close closes the connections. Safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// WriteStats counts slot changes and their transactions, as the default
// store's metrics do.
func (s *Store) WriteStats() (transactions, changes int64) {
	return s.writeTxs.Load(), s.writeOps.Load()
}

// Conflicts counts pairs of Prenotazione rows found active on one slot at
// once (a backend row overlapping a live hold), each pair once across nodes.
func (s *Store) Conflicts() int64 { return s.conflicts.Load() }

// inTx runs fn in a transaction marked as coworkctl's own, so that the
// trigger does not queue its changes for Follow: the caller announces them.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	s.writeTxs.Add(1)
	s.writeOps.Add(1)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('coworkctl.origin', $1, true)`, s.own); err != nil {
			return fmt.Errorf("mark transaction: %w", err)
		}
		return fn(tx)
	})
}

// UpsertCatalog refuses: the catalog is the backend's Sede and Spazio.
func (s *Store) UpsertCatalog(context.Context, []slots.Sede) error {
	return errors.New("the coworking-mio layout reads the catalog from the backend's Sede and Spazio tables and never writes them")
}

func sedeOf(id int64, nome, citta string) slots.Sede {
	return slots.Sede{ID: id, Nome: nome, Citta: citta, Apertura: "09:00", Chiusura: "18:00"}
}

// Catalog lists Sede with their Spazio rows, ordered by id. Opening hours
// are the backend's fixed 09:00–18:00.
func (s *Store) Catalog(ctx context.Context) ([]slots.Sede, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT se.id_sede, se.nome, se.citta, sp.id_spazio, sp.nome, sp.tipologia, COALESCE(sp.capienza, 0)
		FROM Sede se LEFT JOIN Spazio sp ON sp.id_sede = se.id_sede
		ORDER BY se.id_sede, sp.id_spazio`)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	defer rows.Close()
	var out []slots.Sede
	for rows.Next() {
		var (
			sedeID         int64
			nome, citta    string
			spID           *int64
			spNome, spTipo *string
			capienza       int
		)
		if err := rows.Scan(&sedeID, &nome, &citta, &spID, &spNome, &spTipo, &capienza); err != nil {
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != sedeID {
			out = append(out, sedeOf(sedeID, nome, citta))
		}
		if spID != nil {
			sede := &out[len(out)-1]
			sede.Spazi = append(sede.Spazi, slots.Spazio{ID: *spID, SedeID: sedeID, Nome: *spNome, Tipologia: *spTipo, Capacita: capienza})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return out, nil
}

// Spazio returns one Spazio row and its Sede, or slots.ErrSpazioNotFound.
func (s *Store) Spazio(ctx context.Context, spazioID int64) (slots.Spazio, slots.Sede, error) {
	var (
		sp          slots.Spazio
		nome, citta string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT sp.id_spazio, sp.id_sede, sp.nome, sp.tipologia, COALESCE(sp.capienza, 0), se.nome, se.citta
		FROM Spazio sp JOIN Sede se ON se.id_sede = sp.id_sede WHERE sp.id_spazio = $1`, spazioID).
		Scan(&sp.ID, &sp.SedeID, &sp.Nome, &sp.Tipologia, &sp.Capacita, &nome, &citta)
	if errors.Is(err, pgx.ErrNoRows) {
		return slots.Spazio{}, slots.Sede{}, fmt.Errorf("spazio %d: %w", spazioID, slots.ErrSpazioNotFound)
	}
	if err != nil {
		return slots.Spazio{}, slots.Sede{}, fmt.Errorf("spazio %d: %w", spazioID, err)
	}
	sede := sedeOf(sp.SedeID, nome, citta)
	sede.Spazi = []slots.Spazio{sp}
	return sp, sede, nil
}
