-- Catalog and reservations. Times are unix milliseconds (BIGINT) so that
-- both databases compare them exactly and the same Go code reads them.

CREATE TABLE sedi (
    id         BIGINT PRIMARY KEY,
    nome       TEXT   NOT NULL,
    citta      TEXT   NOT NULL DEFAULT '',
    timezone   TEXT   NOT NULL DEFAULT '',
    apertura   TEXT   NOT NULL DEFAULT '',
    chiusura   TEXT   NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

CREATE TABLE spazi (
    id         BIGINT  PRIMARY KEY,
    sede_id    BIGINT  NOT NULL REFERENCES sedi (id),
    nome       TEXT    NOT NULL,
    tipologia  TEXT    NOT NULL DEFAULT '',
    capacita   INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT  NOT NULL
);

CREATE INDEX spazi_sede ON spazi (sede_id, id);

CREATE TABLE reservations (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spazio_id  BIGINT  NOT NULL REFERENCES spazi (id),
    sede_id    BIGINT  NOT NULL,
    date       TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    user_id    BIGINT  NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('occupied', 'booked', 'released', 'expired')),
    expires_at BIGINT,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- The guarantee against double booking: at most one active reservation
-- per slot, enforced by the database whatever the callers do.
CREATE UNIQUE INDEX reservations_active_slot
    ON reservations (spazio_id, date, slot)
    WHERE state IN ('occupied', 'booked');

-- The sweeper's next expiry and ExpireDue.
CREATE INDEX reservations_expiry ON reservations (state, expires_at);
