package slots

import (
	"context"
	"fmt"
	"time"
)

// Status is a slot's status as users see it. The values are also those of
// the wire and of the audit trail's columns, so they must never change.
type Status string

// Slot statuses. Changes and audit entries only use the first three: a
// slot is past for grids only.
const (
	StatusAvailable Status = "available"
	StatusOccupied  Status = "occupied"
	StatusBooked    Status = "booked"
	// StatusPast is a slot whose start has passed, whatever its reservation.
	StatusPast Status = "past"
)

// Slot is one hourly slot of a Grid, as the grid's viewer may see it.
type Slot struct {
	Number int // 1-based, from the sede's opening
	// Start and End are in the sede's zone.
	Start, End time.Time
	Status     Status
	// ReservationID is the active reservation's id, zero when there is
	// none. It is no personal data: slot updates show it to everyone.
	ReservationID int64
	// ExpiresAt is when the hold lapses, zero unless Status is
	// StatusOccupied.
	ExpiresAt time.Time
	// HolderID is the active reservation's user when the viewer may know
	// it (the holder and staff), zero otherwise.
	HolderID int64
}

// Grid is one spazio's slots on one date, as the viewer may see them.
type Grid struct {
	Spazio Spazio
	Sede   Sede
	Date   string
	// At is the service clock's time the grid was read at: which slots
	// are past, and how long holds have left, are as of At.
	At    time.Time
	Slots []Slot
	// Version is the grid's version read with its reservations (see
	// Snapshot): a change with a higher Version is not in Slots.
	Version int64
}

// Grid builds the slot grid of a spazio and date. Held slots whose hold
// lapsed read as available even before the sweeper runs.
func (s *Service) Grid(ctx context.Context, spazioID, sedeID int64, date string, v Viewer) (Grid, error) {
	sp, sede, err := s.ResolveSpace(ctx, spazioID, sedeID)
	if err != nil {
		return Grid{}, err
	}
	if date == "" {
		date = s.Today(sede)
	}
	day, err := ParseDate(date)
	if err != nil {
		return Grid{}, err
	}
	n, err := sede.SlotCount()
	if err != nil {
		return Grid{}, err
	}
	now := s.clock.Now()
	snap, err := s.store.Snapshot(ctx, spazioID, date, now)
	if err != nil {
		return Grid{}, fmt.Errorf("grid of spazio %d on %s: %w", spazioID, date, err)
	}
	bySlot := make(map[int]Reservation, len(snap.Active))
	for _, r := range snap.Active {
		bySlot[r.Key.Slot] = r
	}
	g := Grid{Spazio: sp, Sede: sede, Date: date, At: now, Slots: make([]Slot, 0, n), Version: snap.Version}
	for i := 1; i <= n; i++ {
		start, err := s.slotStart(sede, day, i)
		if err != nil {
			return Grid{}, err
		}
		slot := Slot{Number: i, Start: start, End: start.Add(time.Hour), Status: StatusAvailable}
		if r, ok := bySlot[i]; ok {
			slot.Status, slot.ReservationID = StatusBooked, r.ID
			if r.State == StateOccupied {
				slot.Status, slot.ExpiresAt = StatusOccupied, r.ExpiresAt
			}
			if v.Staff || v.UserID == r.UserID {
				slot.HolderID = r.UserID
			}
		}
		if !start.After(now) {
			slot.Status, slot.ExpiresAt = StatusPast, time.Time{}
		}
		g.Slots = append(g.Slots, slot)
	}
	return g, nil
}
