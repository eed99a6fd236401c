-- Fewer pages written per change. Every page a transaction touches is one
-- more frame in the WAL at commit, and writing frames was most of a
-- commit's cost:
--
-- * AUTOINCREMENT keeps its counter in sqlite_sequence, one more page per
--   insert. Without it an INTEGER PRIMARY KEY takes the largest id plus
--   one; reservations and audit entries are never deleted, so ids still
--   only grow and are never reused.
-- * The expiry index covered every reservation and moved an entry on
--   every change of state. Only occupied reservations expire, so it now
--   holds only those: a hold adds an entry, its end removes it.
--
-- Both tables are rebuilt as 0004 rebuilt reservations; rows keep their ids.
CREATE TABLE reservations_new (
    id         INTEGER PRIMARY KEY,
    spazio_id  INTEGER NOT NULL REFERENCES spazi (id),
    sede_id    INTEGER NOT NULL,
    date       TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('occupied', 'booked', 'released', 'expired', 'cancelled')),
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO reservations_new (id, spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at)
    SELECT id, spazio_id, sede_id, date, slot, user_id, state, expires_at, created_at, updated_at FROM reservations;

DROP TABLE reservations;

ALTER TABLE reservations_new RENAME TO reservations;

CREATE UNIQUE INDEX reservations_active_slot
    ON reservations (spazio_id, date, slot)
    WHERE state IN ('occupied', 'booked');

CREATE INDEX reservations_expiry
    ON reservations (expires_at)
    WHERE state = 'occupied';

CREATE INDEX reservations_user_holds
    ON reservations (user_id, expires_at)
    WHERE state = 'occupied';

CREATE TABLE slot_audit_new (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    action         TEXT    NOT NULL CHECK (action IN ('hold', 'book', 'release', 'expire', 'cancel')),
    spazio_id      INTEGER NOT NULL,
    sede_id        INTEGER NOT NULL,
    date           TEXT    NOT NULL,
    slot           INTEGER NOT NULL,
    from_status    TEXT    NOT NULL,
    to_status      TEXT    NOT NULL,
    reservation_id INTEGER NOT NULL,
    holder_id      INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    role           TEXT    NOT NULL DEFAULT '',
    reason         TEXT    NOT NULL DEFAULT '',
    version        INTEGER NOT NULL
);

INSERT INTO slot_audit_new SELECT * FROM slot_audit;

DROP TABLE slot_audit;

ALTER TABLE slot_audit_new RENAME TO slot_audit;

CREATE UNIQUE INDEX slot_audit_grid_version ON slot_audit (spazio_id, date, version);
