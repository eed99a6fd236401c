-- The per-user cap on active holds (--max-holds-per-user) counts a user's
-- occupied reservations inside every hold transaction.
CREATE INDEX reservations_user_holds
    ON reservations (user_id, expires_at)
    WHERE state = 'occupied';
