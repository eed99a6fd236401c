-- Only occupied reservations expire: the expiry index holds only those,
-- so a booking or release no longer moves an entry in it.
DROP INDEX reservations_expiry;

CREATE INDEX reservations_expiry
    ON reservations (expires_at)
    WHERE state = 'occupied';
