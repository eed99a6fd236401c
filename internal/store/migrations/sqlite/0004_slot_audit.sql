-- Staff cancel and the audit trail.
--
-- A hold or booking ended by staff is 'cancelled'. SQLite cannot change a
-- CHECK constraint in place, so reservations is rebuilt with the wider one
-- (the documented twelve-step way, minus the foreign key pragmas: no table
-- refers to reservations). Rows keep their ids; reservations are never
-- deleted, so the AUTOINCREMENT sequence carries on from the largest.
CREATE TABLE reservations_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
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

-- The indexes of 0001 and 0002, which went with the old table.
CREATE UNIQUE INDEX reservations_active_slot
    ON reservations (spazio_id, date, slot)
    WHERE state IN ('occupied', 'booked');

CREATE INDEX reservations_expiry ON reservations (state, expires_at);

CREATE INDEX reservations_user_holds
    ON reservations (user_id, expires_at)
    WHERE state = 'occupied';

-- The audit trail: one row per committed change of a slot (hold, book,
-- release, expire, cancel), written in the change's transaction. Statuses
-- are the slot's as clients see it (available, occupied, booked); user_id
-- and role are who acted (for an expiry the holder, with role 'system');
-- holder_id is whose reservation it was. version is the grid version the
-- change committed: unique per grid, it orders the trail. No foreign keys:
-- a record of what happened outlives catalog edits.
CREATE TABLE slot_audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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

-- One entry per grid version; serves the history of a grid, newest first.
CREATE UNIQUE INDEX slot_audit_grid_version ON slot_audit (spazio_id, date, version);
