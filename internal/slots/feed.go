package slots

import (
	"context"
)

// FeedChange is one slot's state after a change that someone other than
// coworkctl made to the store's rows (another application sharing the
// database, its timer, an operator's SQL session).
type FeedChange struct {
	// Reservation is the row now shown on the slot, or the row whose change
	// freed it; its Version is the one the change committed.
	Reservation Reservation
	Status      Status // the slot's status now
	// Expired marks a hold freed by expiry, announced like the sweeper's.
	Expired bool
}

// Feed is implemented by stores whose rows others change too. Follow runs
// until ctx ends and calls announce with each batch of such changes after
// committing their versions, each change on exactly one of the nodes
// sharing the database, in version order per grid.
type Feed interface {
	Follow(ctx context.Context, announce func(ctx context.Context, changes []FeedChange)) error
}

// RunFeed announces the changes others make to the store's rows, when the
// store is a Feed, until ctx ends; with any other store it returns nil.
func (s *Service) RunFeed(ctx context.Context) error {
	f, ok := s.store.(Feed)
	if !ok {
		return nil
	}
	return f.Follow(ctx, s.announceFeed)
}

// announceFeed announces in the order given (version order per grid):
// runs of expiries go out together, as the sweeper's do.
func (s *Service) announceFeed(ctx context.Context, changes []FeedChange) {
	var expired []Change
	flush := func() {
		if len(expired) > 0 {
			s.notifier.HoldsExpired(ctx, expired)
			expired = nil
		}
	}
	for _, fc := range changes {
		c := s.changeOf(ctx, fc.Reservation, fc.Status)
		if fc.Status == StatusOccupied && !fc.Reservation.ExpiresAt.IsZero() {
			c.ExpiresAt = fc.Reservation.ExpiresAt
			// Someone else's hold: no sweep was planned for it here.
			s.planSweep(c.ExpiresAt)
		}
		if fc.Expired {
			expired = append(expired, c)
			continue
		}
		flush()
		s.notifier.SlotChanged(ctx, c)
	}
	flush()
}
