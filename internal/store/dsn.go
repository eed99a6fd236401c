package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultSQLitePath is the database file used when the DSN is empty,
// relative to the working directory.
const DefaultSQLitePath = "coworkctl.db"

// target is a parsed DSN: which database, and how to reach it.
type target struct {
	dialect dialect
	// sqlitePath is the database file (SQLite only).
	sqlitePath string
	// sqliteParams are the caller's driver parameters (SQLite only);
	// the store adds its own defaults where these are silent.
	sqliteParams url.Values
	// postgresDSN is handed to pgx unchanged (PostgreSQL only).
	postgresDSN string
}

// dsnHelp lists the accepted forms, for error messages.
const dsnHelp = `want "" (` + DefaultSQLitePath + `), sqlite:PATH, file:PATH, PATH.db or postgres://user@host:port/db`

// parseDSN tells SQLite from PostgreSQL. It never puts the DSN itself in an
// error when it might carry a password.
func parseDSN(dsn string) (target, error) {
	dsn = strings.TrimSpace(dsn)
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return target{dialect: sqliteDialect, sqlitePath: DefaultSQLitePath, sqliteParams: url.Values{}}, nil
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return target{dialect: postgresDialect, postgresDSN: dsn}, nil
	case strings.HasPrefix(lower, "sqlite:"):
		return sqliteTarget(dsn[len("sqlite:"):])
	case strings.HasPrefix(lower, "file:"):
		return sqliteTarget(dsn[len("file:"):])
	}
	if scheme, _, ok := strings.Cut(dsn, "://"); ok {
		return target{}, fmt.Errorf("unsupported database scheme %q: %s", scheme, dsnHelp)
	}
	path, _, _ := strings.Cut(lower, "?")
	for _, ext := range []string{".db", ".sqlite", ".sqlite3"} {
		if strings.HasSuffix(path, ext) {
			return sqliteTarget(dsn)
		}
	}
	if strings.ContainsAny(dsn, "@=") {
		// Possibly a key=value PostgreSQL string with a password: don't echo it.
		return target{}, errors.New("unrecognised database DSN: " + dsnHelp)
	}
	return target{}, fmt.Errorf("unrecognised database DSN %q: %s", dsn, dsnHelp)
}

// sqliteTarget parses PATH[?driver-params] of a SQLite DSN. A leading "//"
// is dropped so that sqlite:///abs/path and file:///abs/path work too.
func sqliteTarget(rest string) (target, error) {
	path, query, _ := strings.Cut(rest, "?")
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return target{}, errors.New("sqlite DSN has no file path: " + dsnHelp)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return target{}, fmt.Errorf("sqlite DSN parameters: %w", err)
	}
	if path == ":memory:" || strings.EqualFold(params.Get("mode"), "memory") {
		// The store keeps a writer and a reader pool: each would get its own
		// empty in-memory database.
		return target{}, errors.New("in-memory SQLite is not supported; use a file path")
	}
	return target{dialect: sqliteDialect, sqlitePath: path, sqliteParams: params}, nil
}

// sqliteDSN builds the modernc.org/sqlite DSN for the file with the
// caller's parameters plus the given defaults (the caller's win) and the
// forced ones (which win over the caller's).
func sqliteDSN(path string, caller url.Values, defaults, forced map[string]string) string {
	q := url.Values{}
	for k, v := range caller {
		q[k] = append([]string(nil), v...)
	}
	for k, v := range defaults {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	for k, v := range forced {
		q.Set(k, v)
	}
	return path + "?" + q.Encode()
}
