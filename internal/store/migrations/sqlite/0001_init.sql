-- Catalog and reservations. Times are unix milliseconds (BIGINT) so that
-- both databases compare them exactly and the same Go code reads them.

CREATE TABLE sedi (
    id         INTEGER PRIMARY KEY,
    nome       TEXT    NOT NULL,
    citta      TEXT    NOT NULL DEFAULT '',
    timezone   TEXT    NOT NULL DEFAULT '',
    apertura   TEXT    NOT NULL DEFAULT '',
    chiusura   TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

CREATE TABLE spazi (
    id         INTEGER PRIMARY KEY,
    sede_id    INTEGER NOT NULL REFERENCES sedi (id),
    nome       TEXT    NOT NULL,
    tipologia  TEXT    NOT NULL DEFAULT '',
    capacita   INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE INDEX spazi_sede ON spazi (sede_id, id);

CREATE TABLE reservations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    spazio_id  INTEGER NOT NULL REFERENCES spazi (id),
    sede_id    INTEGER NOT NULL,
    date       TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('occupied', 'booked', 'released', 'expired')),
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The guarantee against double booking: at most one active reservation
-- per slot, enforced by the database whatever the callers do.
CREATE UNIQUE INDEX reservations_active_slot
    ON reservations (spazio_id, date, slot)
    WHERE state IN ('occupied', 'booked');

-- The sweeper's next expiry and ExpireDue.
CREATE INDEX reservations_expiry ON reservations (state, expires_at);
