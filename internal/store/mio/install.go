package mio

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// queries holds the own schema's qualified names.
type queries struct {
	versions, audit, changes, conflicts, migrations string
	function                                        string // the trigger's function, qualified
	trigger                                         string // the trigger's name on Prenotazione, quoted
	channel                                         string // the NOTIFY channel, quoted
	schema                                          string // the own schema, quoted
}

func newQueries(own string) queries {
	id := func(name string) string { return pgx.Identifier{own, name}.Sanitize() }
	return queries{
		versions: id("grid_versions"), audit: id("slot_audit"), changes: id("changes"),
		conflicts: id("conflicts"), migrations: id("schema_migrations"), function: id("prenotazione_changed"),
		trigger: pgx.Identifier{own + "_changes"}.Sanitize(), channel: pgx.Identifier{own + "_changes"}.Sanitize(),
		schema: pgx.Identifier{own}.Sanitize(),
	}
}

// migrationLockKey serialises coworkctl's schema changes when several
// nodes start at once ("cowork" in ASCII, as the default layout's).
const migrationLockKey int64 = 0x636f776f726b

// ownMigrations create coworkctl's tables in its own schema, in order. A
// released entry is never edited: append a new one.
func ownMigrations(q queries) []string {
	return []string{
		// 1: versions and audit as on the default layout (see its
		// migrations), without foreign keys: the catalog is not ours.
		`CREATE TABLE ` + q.versions + ` (
			spazio_id BIGINT NOT NULL,
			date      TEXT   NOT NULL,
			version   BIGINT NOT NULL,
			PRIMARY KEY (spazio_id, date)
		);
		CREATE TABLE ` + q.audit + ` (
			id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			at             BIGINT  NOT NULL,
			action         TEXT    NOT NULL CHECK (action IN ('hold', 'book', 'release', 'expire', 'cancel')),
			spazio_id      BIGINT  NOT NULL,
			sede_id        BIGINT  NOT NULL,
			date           TEXT    NOT NULL,
			slot           INTEGER NOT NULL,
			from_status    TEXT    NOT NULL,
			to_status      TEXT    NOT NULL,
			reservation_id BIGINT  NOT NULL,
			holder_id      BIGINT  NOT NULL,
			user_id        BIGINT  NOT NULL,
			role           TEXT    NOT NULL DEFAULT '',
			reason         TEXT    NOT NULL DEFAULT '',
			version        BIGINT  NOT NULL,
			UNIQUE (spazio_id, date, version)
		);
		-- Changes of Prenotazione made by others, queued by the trigger and
		-- claimed (deleted) by exactly one node, which announces them.
		CREATE TABLE ` + q.changes + ` (
			id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			op              TEXT   NOT NULL,
			id_prenotazione BIGINT NOT NULL,
			id_utente       BIGINT,
			old_spazio      BIGINT,
			old_inizio      TIMESTAMP,
			old_fine        TIMESTAMP,
			old_stato       TEXT,
			new_spazio      BIGINT,
			new_inizio      TIMESTAMP,
			new_fine        TIMESTAMP,
			new_stato       TEXT,
			queued_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
		);
		-- Pairs of rows found active on one slot at once, reported once.
		CREATE TABLE ` + q.conflicts + ` (
			a  BIGINT NOT NULL,
			b  BIGINT NOT NULL,
			at TIMESTAMPTZ NOT NULL DEFAULT now(),
			PRIMARY KEY (a, b)
		);`,
	}
}

// functionSQL is the trigger's function. It lives in the own schema and
// queues every change of a row that touches a slot's status, unless the
// transaction is coworkctl's own (it announces those itself), then wakes
// the nodes. Identical notifications of one transaction fold into one.
func functionSQL(q queries, own string) string {
	lit := "'" + strings.ReplaceAll(own, "'", "''") + "'"
	return `CREATE OR REPLACE FUNCTION ` + q.function + `() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF current_setting('coworkctl.origin', true) IS NOT DISTINCT FROM ` + lit + ` THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		INSERT INTO ` + q.changes + ` (op, id_prenotazione, id_utente, new_spazio, new_inizio, new_fine, new_stato)
		VALUES (TG_OP, NEW.id_prenotazione, NEW.id_utente, NEW.id_spazio, NEW.data_inizio, NEW.data_fine, NEW.stato);
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO ` + q.changes + ` (op, id_prenotazione, id_utente, old_spazio, old_inizio, old_fine, old_stato)
		VALUES (TG_OP, OLD.id_prenotazione, OLD.id_utente, OLD.id_spazio, OLD.data_inizio, OLD.data_fine, OLD.stato);
	ELSE
		IF (OLD.stato, OLD.id_spazio, OLD.data_inizio, OLD.data_fine, OLD.scadenza_slot, OLD.id_utente)
		   IS NOT DISTINCT FROM (NEW.stato, NEW.id_spazio, NEW.data_inizio, NEW.data_fine, NEW.scadenza_slot, NEW.id_utente) THEN
			RETURN NULL;
		END IF;
		INSERT INTO ` + q.changes + ` (op, id_prenotazione, id_utente, old_spazio, old_inizio, old_fine, old_stato,
			new_spazio, new_inizio, new_fine, new_stato)
		VALUES (TG_OP, NEW.id_prenotazione, NEW.id_utente, OLD.id_spazio, OLD.data_inizio, OLD.data_fine, OLD.stato,
			NEW.id_spazio, NEW.data_inizio, NEW.data_fine, NEW.stato);
	END IF;
	PERFORM pg_notify(` + lit + ` || '_changes', '');
	RETURN NULL;
END
$fn$`
}

// Installed names what Install adds, for the README and db install's output.
func Installed(own string) []string {
	q := newQueries(own)
	return []string{
		"schema " + q.schema + " (coworkctl's own tables: grid_versions, slot_audit, changes, conflicts, schema_migrations)",
		"function " + q.function + "() (in the own schema)",
		"trigger " + q.trigger + " AFTER INSERT OR UPDATE OR DELETE ON Prenotazione FOR EACH ROW (the only object in the backend's schema)",
	}
}

// Install creates the own schema and its tables, the trigger's function,
// and the trigger on Prenotazione. It is idempotent, and it alters no
// table of the backend beyond adding the trigger.
func Install(ctx context.Context, cfg Config) error {
	s, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("install on %s: %w", s.name, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, functionSQL(s.q, s.own)); err != nil {
			return fmt.Errorf("create function: %w", err)
		}
		if _, err := tx.Exec(ctx, `DROP TRIGGER IF EXISTS `+s.q.trigger+` ON Prenotazione`); err != nil {
			return fmt.Errorf("replace trigger: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TRIGGER `+s.q.trigger+` AFTER INSERT OR UPDATE OR DELETE ON Prenotazione
			FOR EACH ROW EXECUTE FUNCTION `+s.q.function+`()`); err != nil {
			return fmt.Errorf("create trigger: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("install on %s: %w", s.name, err)
	}
	return nil
}

// Uninstall drops the trigger and its function; with dropOwn also the own
// schema and everything coworkctl kept there (versions, audit trail). The
// backend's rows, coworkctl's holds and bookings among them, stay.
func Uninstall(ctx context.Context, cfg Config, dropOwn bool) error {
	s, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DROP TRIGGER IF EXISTS `+s.q.trigger+` ON Prenotazione`); err != nil {
			return fmt.Errorf("drop trigger: %w", err)
		}
		if _, err := tx.Exec(ctx, `DROP FUNCTION IF EXISTS `+s.q.function+`()`); err != nil {
			return fmt.Errorf("drop function: %w", err)
		}
		if dropOwn {
			if _, err := tx.Exec(ctx, `DROP SCHEMA IF EXISTS `+s.q.schema+` CASCADE`); err != nil {
				return fmt.Errorf("drop own schema: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("uninstall from %s: %w", s.name, err)
	}
	return nil
}

// installed reports whether the trigger is on Prenotazione.
func (s *Store) installed(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'prenotazione'::regclass AND tgname = $1)`,
		s.own+"_changes").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for the trigger on Prenotazione: %w", err)
	}
	return ok, nil
}

// migrate creates the own schema and applies its pending migrations in one
// transaction.
func (s *Store) migrate(ctx context.Context) error {
	ms := ownMigrations(s.q)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.q.schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.q.migrations+` (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		var done int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.q.migrations).Scan(&done); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if done > int64(len(ms)) {
			return fmt.Errorf("own schema version %d is newer than this coworkctl knows (%d): upgrade coworkctl", done, len(ms))
		}
		for v := done + 1; v <= int64(len(ms)); v++ {
			if _, err := tx.Exec(ctx, ms[v-1]); err != nil {
				return fmt.Errorf("own migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.q.migrations+` (version, applied_at) VALUES ($1, $2)`, v, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("record own migration %d: %w", v, err)
			}
		}
		return nil
	})
}
