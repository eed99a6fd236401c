-- Staff cancel and the audit trail.
--
-- A hold or booking ended by staff is 'cancelled'. The column's CHECK of
-- 0001 got PostgreSQL's default name reservations_state_check.
ALTER TABLE reservations DROP CONSTRAINT reservations_state_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_state_check
    CHECK (state IN ('occupied', 'booked', 'released', 'expired', 'cancelled'));

-- The audit trail: one row per committed change of a slot (hold, book,
-- release, expire, cancel), written in the change's transaction. Statuses
-- are the slot's as clients see it (available, occupied, booked); user_id
-- and role are who acted (for an expiry the holder, with role 'system');
-- holder_id is whose reservation it was. version is the grid version the
-- change committed: unique per grid, it orders the trail. No foreign keys:
-- a record of what happened outlives catalog edits, and the insert, which
-- runs after the grid's version row is locked, must wait for no other
-- lock (a foreign key check would share-lock the spazio's row).
CREATE TABLE slot_audit (
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
    version        BIGINT  NOT NULL
);

-- One entry per grid version; serves the history of a grid, newest first.
-- The grid's version row lock, held by the inserting transaction, means no
-- other transaction can be inserting the same key, so the insert never
-- waits on this index.
CREATE UNIQUE INDEX slot_audit_grid_version ON slot_audit (spazio_id, date, version);
