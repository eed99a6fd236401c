package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between SQLite and PostgreSQL
// apart from the migration files: placeholders and error codes.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// activeSlotIndex is the partial unique index that forbids double booking.
const activeSlotIndex = "reservations_active_slot"

func (d dialect) String() string {
	if d == postgresDialect {
		return "postgres"
	}
	return "sqlite"
}

// rebind turns the ? placeholders the store's SQL is written with into
// PostgreSQL's $1, $2, …. The store's SQL has no ? inside literals.
func (d dialect) rebind(query string) string {
	if d != postgresDialect || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// isActiveSlotConflict reports whether err is a violation of the unique
// index on active reservations.
func (d dialect) isActiveSlotConflict(err error) bool {
	switch d {
	case postgresDialect:
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == activeSlotIndex
	default:
		// SQLite names no constraint in the error; reservations has no other
		// unique constraint an insert could hit (its id is generated).
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
}

// isForeignKeyViolation reports whether err is a foreign key violation,
// which for a reservation means its spazio does not exist.
func (d dialect) isForeignKeyViolation(err error) bool {
	switch d {
	case postgresDialect:
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23503"
	default:
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
}
