-- Versions of slot grids (one spazio on one date). Every committed change
-- of a slot (hold, book, release, expiry) adds one to its grid's version
-- in the same transaction, so a client can tell whether an update is
-- already in the snapshot it has and whether it missed one. A grid with no
-- row here has never changed since versions exist: its version is 0.
CREATE TABLE grid_versions (
    spazio_id INTEGER NOT NULL REFERENCES spazi (id),
    date      TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (spazio_id, date)
) WITHOUT ROWID;
