package slots

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Domain errors. Adapters map them once to HTTP statuses and socket replies.
var (
	// ErrSlotTaken: the slot is held or booked by someone (hold conflict).
	ErrSlotTaken = errors.New("slot not available")
	// ErrNotHeld: the caller has no active hold on the slot (book/release).
	ErrNotHeld = errors.New("slot not held by this user")
	// ErrSpazioNotFound: no spazio with that id.
	ErrSpazioNotFound = errors.New("spazio not found")
	// ErrSpazioNotInSede: the spazio exists but belongs to another sede.
	ErrSpazioNotInSede = errors.New("spazio not in that sede")
	// ErrSlotOutOfRange: slot number outside the day's opening hours.
	ErrSlotOutOfRange = errors.New("slot out of range")
	// ErrSlotPast: the slot's start time has passed.
	ErrSlotPast = errors.New("slot in the past")
	// ErrBadDate: not a YYYY-MM-DD calendar date.
	ErrBadDate = errors.New("bad date")
	// ErrBadInput: a malformed id or body.
	ErrBadInput = errors.New("bad input")
	// ErrHoldLimit: the user already has as many active holds as allowed
	// (fair use, --max-holds-per-user). Returned inside a *LimitError.
	ErrHoldLimit = errors.New("too many active holds")
	// ErrDateTooFar: the date lies further ahead than holds may be made
	// (fair use, --max-days-ahead). Returned inside a *LimitError.
	ErrDateTooFar = errors.New("date too far ahead")
	// ErrNothingToCancel: a staff cancel found no active (held or booked)
	// reservation on the slot.
	ErrNothingToCancel = errors.New("nothing to cancel on the slot")
	// ErrSlotChanged: a staff cancel named the reservation it meant, and
	// the slot's active reservation is another one (released and taken
	// again since the caller looked).
	ErrSlotChanged = errors.New("the slot's reservation changed")
	// ErrBadReason: a staff cancel's reason is empty, too long or holds
	// control characters.
	ErrBadReason = errors.New("bad cancel reason")
	// ErrUnavailable: the store did not answer within its deadline or lost
	// its connection; nothing was changed that the caller should rely on,
	// and the same request may be tried again.
	ErrUnavailable = errors.New("store unavailable")
)

// LimitError is a fair-use refusal: Err is ErrHoldLimit or ErrDateTooFar
// and Limit the configured bound, which the refusal's text states.
type LimitError struct {
	Err   error
	Limit int
}

func (e *LimitError) Error() string { return fmt.Sprintf("%v (limit %d)", e.Err, e.Limit) }

// Unwrap lets errors.Is match the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// Reservation statuses as stored. Only occupied and booked are active: the
// database allows at most one active reservation per (spazio, date, slot).
const (
	StateOccupied = "occupied"
	StateBooked   = "booked"
	StateReleased = "released"
	StateExpired  = "expired"
	// StateCancelled is a hold or booking ended by staff (Cancel).
	StateCancelled = "cancelled"
)

// Actor is who changes a slot: the user id and role of the token behind
// the request, which the audit trail records.
type Actor struct {
	UserID int64
	Role   string
}

// RoleSystem is the audit role of changes nobody asked for: expiries. Their
// entries name the holder whose hold lapsed as the user.
const RoleSystem = "system"

// Audit actions: what an AuditEntry did to its slot. They are the wire's
// names, as slot statuses are.
const (
	AuditHold    = "hold"    // available → occupied
	AuditBook    = "book"    // occupied → booked
	AuditRelease = "release" // occupied → available
	AuditExpire  = "expire"  // occupied → available: the sweeper, or a hold taking over a lapsed one
	AuditCancel  = "cancel"  // occupied or booked → available, by staff
)

// AuditEntry is one committed change of one slot, written in the change's
// own transaction, so the trail has exactly the changes that happened.
type AuditEntry struct {
	ID     int64
	At     time.Time // the service clock's time of the change
	Action string    // AuditHold, AuditBook, …
	Key    SlotKey
	// From and To are the slot's status before and after, as clients see
	// it: the value of StatusAvailable, StatusOccupied or StatusBooked.
	From, To string
	// ReservationID and HolderID name the reservation changed and its user.
	ReservationID int64
	HolderID      int64
	// Actor is who acted: the holder for hold, book and release, staff for
	// cancel, the holder with RoleSystem for expire.
	Actor Actor
	// Reason is staff's reason for a cancel, empty otherwise.
	Reason string
	// Version is the grid version the change committed. It is unique per
	// grid, so it orders a grid's trail exactly, unlike At.
	Version int64
}

// CancelResult is what a staff cancel did: the reservation it ended (now
// StateCancelled, with the change's Version) and the state it had.
type CancelResult struct {
	Reservation Reservation
	From        string // StateOccupied or StateBooked
}

// SlotKey names one slot: a spazio, a local date and a 1-based slot number.
type SlotKey struct {
	SpazioID int64
	SedeID   int64
	Date     string // YYYY-MM-DD in the sede's time zone
	Slot     int
}

// Reservation is one row of the reservations (prenotazioni) table.
type Reservation struct {
	ID        int64
	Key       SlotKey
	UserID    int64
	State     string
	ExpiresAt time.Time // zero unless State is occupied
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is the version of the slot's grid (its spazio and date) that
	// the change returning this reservation committed: set by Hold, Book,
	// Release, Cancel and ExpireDue, zero in a Snapshot. It is no column of the
	// row but the grid's counter, see Snapshot.
	Version int64
}

// Snapshot is one spazio's grid on one date as of one moment: its active
// reservations and the grid's version, read together.
type Snapshot struct {
	// Version counts the committed changes of the grid's slots (every
	// hold, book, release and expiry adds one). A grid never changed is
	// at 0. Holds that lapsed but were not swept yet read as free without
	// a version of their own: the sweep that expires them adds it.
	Version int64
	// Active lists the occupied and booked reservations ordered by slot.
	Active []Reservation
}

// HoldResult is what a successful hold did. Expired is set when the slot's
// previous hold had lapsed but was not yet swept: the hold transaction
// expired it (exactly once, like the sweeper would) so the caller must
// announce that expiry too; its Version is the one before Reservation's.
type HoldResult struct {
	Reservation Reservation
	Expired     *Reservation
}

// Store persists the catalog and reservations. Implementations must make
// the database itself guarantee one active reservation per slot, so that
// of N concurrent Hold calls on one free slot exactly one succeeds and the
// others return ErrSlotTaken.
//
// Every change of a slot also adds one to its grid's version (see
// Snapshot) in the same transaction, so versions survive restarts, are
// shared by every node on one database, and the changes of one grid get
// consecutive versions in commit order: the returned reservations carry
// the version their change committed. The same transaction writes the
// change's AuditEntry (expiries included), so a grid's audit trail has
// one entry per version committed since the trail exists.
type Store interface {
	// UpsertCatalog inserts or updates sedi and their spazi.
	UpsertCatalog(ctx context.Context, sedi []Sede) error
	// Catalog lists every sede with its spazi, ordered by id.
	Catalog(ctx context.Context) ([]Sede, error)
	// Spazio returns one spazio and its sede, or ErrSpazioNotFound.
	Spazio(ctx context.Context, spazioID int64) (Spazio, Sede, error)

	// Snapshot reads the grid of one spazio and date: its version and its
	// occupied and booked reservations, atomically (one database snapshot),
	// so the version names exactly the state read. Holds whose ExpiresAt
	// <= now are left out: they read as free even before the sweeper runs,
	// which keeps restarts safe.
	Snapshot(ctx context.Context, spazioID int64, date string, now time.Time) (Snapshot, error)
	// Hold creates an occupied reservation for by.UserID expiring at
	// expiresAt. ErrSlotTaken when the slot has an active reservation. When
	// maxHolds is positive and the user already has maxHolds holds
	// unexpired at now, it returns a *LimitError wrapping ErrHoldLimit
	// instead. The count and the insert are one transaction serialised per
	// user, so concurrent holds by one user (on any node) never take it
	// past maxHolds.
	Hold(ctx context.Context, key SlotKey, by Actor, now, expiresAt time.Time, maxHolds int) (HoldResult, error)
	// Book turns by.UserID's unexpired hold on key into a booking; ErrNotHeld otherwise.
	Book(ctx context.Context, key SlotKey, by Actor, now time.Time) (Reservation, error)
	// Release ends by.UserID's unexpired hold on key; ErrNotHeld otherwise.
	Release(ctx context.Context, key SlotKey, by Actor, now time.Time) (Reservation, error)
	// Cancel ends the slot's active reservation, a hold unexpired at now or
	// a booking, whoever holds it: it turns StateCancelled, recorded with
	// by and reason. ErrNothingToCancel when there is none; with expected
	// non-zero, ErrSlotChanged when the active reservation is not that one.
	Cancel(ctx context.Context, key SlotKey, by Actor, reason string, expected int64, now time.Time) (CancelResult, error)
	// ExpireDue marks every occupied reservation with ExpiresAt <= now as
	// expired in one statement and returns exactly the rows it changed, so
	// that several nodes sweeping at once expire each hold exactly once.
	// Each row has a version of its own, consecutive within a grid in the
	// order returned.
	ExpireDue(ctx context.Context, now time.Time) ([]Reservation, error)
	// NextExpiry returns the earliest ExpiresAt of an occupied reservation.
	NextExpiry(ctx context.Context) (t time.Time, ok bool, err error)
	// CountActiveHolds counts occupied, unexpired reservations.
	CountActiveHolds(ctx context.Context, now time.Time) (int, error)
	// History lists the audit entries of one grid (spazio and date), of
	// one slot when slot > 0, newest (highest version) first, at most
	// limit of them.
	History(ctx context.Context, spazioID int64, date string, slot, limit int) ([]AuditEntry, error)

	// Ping checks the database connection (readiness).
	Ping(ctx context.Context) error
	// Close releases the database. Safe to call twice.
	Close() error
}

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
