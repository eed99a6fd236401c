-- Versions of slot grids (one spazio on one date). Every committed change
-- of a slot (hold, book, release, expiry) adds one to its grid's version
-- in the same transaction, so a client can tell whether an update is
-- already in the snapshot it has and whether it missed one. A grid with no
-- row here has never changed since versions exist: its version is 0.
-- The row is also what orders concurrent changes of one grid: the
-- upsert that bumps it locks it until commit.
CREATE TABLE grid_versions (
    spazio_id BIGINT NOT NULL REFERENCES spazi (id),
    date      TEXT   NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (spazio_id, date)
);
