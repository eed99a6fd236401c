// Package slots is the domain of coworkctl: the hourly slot grid of a
// spazio, hold/book/release, and the expiry sweeper. It depends only on
// the interfaces it declares (Store, Notifier, Clock), never on the
// database or Socket.IO packages that implement them.
package slots

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Change is one slot's new state, published after the store committed it.
type Change struct {
	Key SlotKey
	// Start is the slot's start in the sede's zone; zero when the sweeper
	// could not look the sede up.
	Start  time.Time
	Status Status // StatusAvailable, StatusOccupied or StatusBooked
	// ExpiresAt is when the hold lapses, zero unless Status is StatusOccupied.
	ExpiresAt time.Time
	// ReservationID and UserID identify the reservation behind the change;
	// notifiers must not show UserID to other users: only the holder and staff see it.
	ReservationID int64
	UserID        int64
	// Version is the grid version (Key's spazio and date) this change
	// committed; clients compare it with their snapshot's Grid.Version.
	Version int64
}

// Notifier announces committed changes to clients. It is called after the
// transaction, never inside it.
type Notifier interface {
	// SlotChanged announces one slot's new state to the spazio's room.
	SlotChanged(ctx context.Context, c Change)
	// HoldsExpired announces holds freed by expiry: the slots' new state to
	// their rooms, hold_expired to each holder, slots_freed to everyone.
	HoldsExpired(ctx context.Context, freed []Change)
	// SlotCancelled announces a staff cancel: the slot's new state to the
	// spazio's room like SlotChanged, and the reason to the holder (c.UserID).
	SlotCancelled(ctx context.Context, c Change, reason string)
}

// Viewer is who asks: personal data is shown to the owner and to staff.
type Viewer struct {
	UserID int64
	Staff  bool
}

// Config tunes the Service. Zero HoldTTL means 15 minutes; nil Location
// means time.Local; zero SweepCap means one minute.
type Config struct {
	HoldTTL time.Duration
	// Location is the zone of a sede that names none (--tz).
	Location *time.Location
	// SweepCap bounds how long the sweeper sleeps when it knows of no
	// earlier expiry. Several nodes share one database, and a hold made on
	// another node plans no sweep on this one, so multi-node setups keep it
	// short: it bounds how late this node frees such a hold (reads treat a
	// lapsed hold as free meanwhile).
	SweepCap time.Duration
	// MaxHoldsPerUser caps one user's active (unexpired) holds; bookings do
	// not count. Zero or negative means no cap.
	MaxHoldsPerUser int
	// MaxDaysAhead refuses holds on dates more than this many days after
	// today in the sede's zone (today itself is 0 days ahead). Zero or
	// negative means no limit.
	MaxDaysAhead int
}

// Defaults of serve. The fair-use limits are off by default: the original
// backend accepted any number of holds and any date, and its slot page
// holds every selected slot of a day at once and offers dates a year
// ahead, so any default cap would refuse what that page does. Operators
// opt in with --max-holds-per-user and --max-days-ahead.
const (
	DefaultHoldTTL         = 15 * time.Minute // the seed's hold duration
	DefaultMaxHoldsPerUser = 0
	DefaultMaxDaysAhead    = 0
)

// Service runs slot actions against a Store and announces them.
type Service struct {
	store    Store
	notifier Notifier
	clock    Clock
	cfg      Config
	log      *slog.Logger

	// sweepAt is the sweeper's planned wake, zero while a sweep runs;
	// wake tells the sweeper that a hold moved it earlier.
	sweepMu sync.Mutex
	sweepAt time.Time
	wake    chan struct{}

	zonesMu sync.Mutex
	zones   map[string]*time.Location
}

// NewService returns a Service. A nil notifier announces nothing.
func NewService(store Store, notifier Notifier, clock Clock, cfg Config, log *slog.Logger) *Service {
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = DefaultHoldTTL
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.SweepCap <= 0 {
		cfg.SweepCap = time.Minute
	}
	cfg.MaxHoldsPerUser = max(cfg.MaxHoldsPerUser, 0)
	cfg.MaxDaysAhead = max(cfg.MaxDaysAhead, 0)
	if clock == nil {
		clock = SystemClock{}
	}
	if notifier == nil {
		notifier = nopNotifier{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, notifier: notifier, clock: clock, cfg: cfg, log: log, wake: make(chan struct{}, 1), zones: map[string]*time.Location{}}
}

// HoldTTL is the configured hold duration.
func (s *Service) HoldTTL() time.Duration { return s.cfg.HoldTTL }

// Now is the service clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

type nopNotifier struct{}

func (nopNotifier) SlotChanged(context.Context, Change)           {}
func (nopNotifier) HoldsExpired(context.Context, []Change)        {}
func (nopNotifier) SlotCancelled(context.Context, Change, string) {}

// location returns the sede's zone (cached) or the default.
func (s *Service) location(sede Sede) *time.Location {
	if sede.Timezone == "" {
		return s.cfg.Location
	}
	s.zonesMu.Lock()
	defer s.zonesMu.Unlock()
	if loc, ok := s.zones[sede.Timezone]; ok {
		return loc
	}
	loc, err := time.LoadLocation(sede.Timezone)
	if err != nil {
		s.log.Warn("unknown sede time zone, using default", "sede", sede.ID, "tz", sede.Timezone, "err", err)
		loc = s.cfg.Location
	}
	s.zones[sede.Timezone] = loc
	return loc
}

// DateLayout is the layout of dates: YYYY-MM-DD, in the sede's zone.
const DateLayout = "2006-01-02"

// ParseDate validates a YYYY-MM-DD calendar date.
func ParseDate(date string) (time.Time, error) {
	if len(date) != len(DateLayout) {
		return time.Time{}, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrBadDate, date)
	}
	t, err := time.Parse(DateLayout, date)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: %v", ErrBadDate, date, err)
	}
	return t, nil
}

// Today is the current date in the sede's zone.
func (s *Service) Today(sede Sede) string {
	return s.clock.Now().In(s.location(sede)).Format(DateLayout)
}

// ResolveSpace returns the spazio and its sede, checking that the spazio
// belongs to sedeID (0 skips that check).
func (s *Service) ResolveSpace(ctx context.Context, spazioID, sedeID int64) (Spazio, Sede, error) {
	if spazioID <= 0 || sedeID < 0 {
		return Spazio{}, Sede{}, fmt.Errorf("%w: ids must be positive integers", ErrBadInput)
	}
	sp, sede, err := s.store.Spazio(ctx, spazioID)
	if err != nil {
		return Spazio{}, Sede{}, err
	}
	if sedeID != 0 && sp.SedeID != sedeID {
		return Spazio{}, Sede{}, fmt.Errorf("spazio %d, sede %d: %w", spazioID, sedeID, ErrSpazioNotInSede)
	}
	return sp, sede, nil
}

// slotStart is the local start of slot n (1-based) on date.
func (s *Service) slotStart(sede Sede, day time.Time, n int) (time.Time, error) {
	open, _, err := sede.Hours()
	if err != nil {
		return time.Time{}, err
	}
	minutes := open + (n-1)*60
	return time.Date(day.Year(), day.Month(), day.Day(), minutes/60, minutes%60, 0, 0, s.location(sede)), nil
}

// Action names a slot to act on, as the REST API receives it.
type Action struct {
	SpazioID int64
	SedeID   int64
	Date     string
	Slot     int
}

// resolve validates an action: the spazio in its sede, the date, the slot
// number within opening hours. It returns the key and the slot's start.
func (s *Service) resolve(ctx context.Context, a Action) (SlotKey, time.Time, error) {
	sp, sede, err := s.ResolveSpace(ctx, a.SpazioID, a.SedeID)
	if err != nil {
		return SlotKey{}, time.Time{}, err
	}
	day, err := ParseDate(a.Date)
	if err != nil {
		return SlotKey{}, time.Time{}, err
	}
	n, err := sede.SlotCount()
	if err != nil {
		return SlotKey{}, time.Time{}, err
	}
	if a.Slot < 1 || a.Slot > n {
		return SlotKey{}, time.Time{}, fmt.Errorf("slot %d of %d: %w", a.Slot, n, ErrSlotOutOfRange)
	}
	start, err := s.slotStart(sede, day, a.Slot)
	if err != nil {
		return SlotKey{}, time.Time{}, err
	}
	return SlotKey{SpazioID: sp.ID, SedeID: sede.ID, Date: a.Date, Slot: a.Slot}, start, nil
}

// Hold reserves a free future slot for the user for HoldTTL. Fair use: a
// date more than MaxDaysAhead days ahead is refused with
// ErrDateTooFar, and a user at MaxHoldsPerUser active holds with
// ErrHoldLimit, both inside a *LimitError.
func (s *Service) Hold(ctx context.Context, a Action, by Actor) (Reservation, error) {
	key, start, err := s.resolve(ctx, a)
	if err != nil {
		return Reservation{}, err
	}
	now := s.clock.Now()
	if !start.After(now) {
		return Reservation{}, fmt.Errorf("hold %s slot %d: %w", a.Date, a.Slot, ErrSlotPast)
	}
	if limit := s.cfg.MaxDaysAhead; limit > 0 && daysAhead(start, now) > int64(limit) {
		return Reservation{}, fmt.Errorf("hold %s slot %d: %w", a.Date, a.Slot, &LimitError{Err: ErrDateTooFar, Limit: limit})
	}
	res, err := s.store.Hold(ctx, key, by, now, now.Add(s.cfg.HoldTTL), s.cfg.MaxHoldsPerUser)
	if err != nil {
		return Reservation{}, err // the store's error names the action and the slot
	}
	if res.Expired != nil {
		s.notifier.HoldsExpired(ctx, []Change{s.change(*res.Expired, StatusAvailable, start)})
	}
	s.notifier.SlotChanged(ctx, s.change(res.Reservation, StatusOccupied, start))
	s.planSweep(res.Reservation.ExpiresAt)
	return res.Reservation, nil
}

// daysAhead is how many calendar days the date of a slot starting at start
// lies after today, both in the slot's zone (the sede's, as for past
// slots). It counts in Unix seconds, not time.Duration, which saturates
// after 292 years and would misjudge a date in the year 5000.
func daysAhead(start, now time.Time) int64 {
	midnight := func(t time.Time) int64 {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	}
	return (midnight(start) - midnight(now.In(start.Location()))) / (24 * 60 * 60)
}

// Book confirms the user's own unexpired hold.
func (s *Service) Book(ctx context.Context, a Action, by Actor) (Reservation, error) {
	key, start, err := s.resolve(ctx, a)
	if err != nil {
		return Reservation{}, err
	}
	r, err := s.store.Book(ctx, key, by, s.clock.Now())
	if err != nil {
		return Reservation{}, err // the store's error names the action and the slot
	}
	s.notifier.SlotChanged(ctx, s.change(r, StatusBooked, start))
	return r, nil
}

// Release ends the user's own unexpired hold.
func (s *Service) Release(ctx context.Context, a Action, by Actor) (Reservation, error) {
	key, start, err := s.resolve(ctx, a)
	if err != nil {
		return Reservation{}, err
	}
	r, err := s.store.Release(ctx, key, by, s.clock.Now())
	if err != nil {
		return Reservation{}, err // the store's error names the action and the slot
	}
	s.notifier.SlotChanged(ctx, s.change(r, StatusAvailable, start))
	return r, nil
}

// MaxReasonLen bounds a staff cancel's reason, in characters: it is shown
// to the holder and kept in the audit trail for good.
const MaxReasonLen = 200

// CleanReason trims a staff cancel's reason and checks it: ErrBadReason
// when it is empty, longer than MaxReasonLen characters or holds control
// characters (line breaks included: it is one line in logs and UIs).
func CleanReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrBadReason)
	case n > MaxReasonLen:
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrBadReason, n, MaxReasonLen)
	case strings.ContainsFunc(reason, unicode.IsControl):
		return "", fmt.Errorf("%w: control characters", ErrBadReason)
	}
	return reason, nil
}

// Cancel frees a held or booked slot on staff's behalf: the
// reservation turns cancelled, the slot's grid gets a version and the
// audit trail an entry with by and reason, all in one transaction; then
// the room hears slot_update and the holder slot_cancelled. Callers check
// that by is staff. A hold that lapsed is no longer there to cancel
// (ErrNothingToCancel), like a free slot.
//
// expected, when not zero, is the prenotazione the caller means: if the
// slot's active reservation is another (released and held again since the
// caller looked) Cancel refuses with ErrSlotChanged and changes nothing.
//
// Past slots may be cancelled: staff correct records after the fact (a
// no-show, a double charge), and nobody can hold a past slot anyway.
func (s *Service) Cancel(ctx context.Context, a Action, by Actor, reason string, expected int64) (CancelResult, error) {
	reason, err := CleanReason(reason)
	if err != nil {
		return CancelResult{}, err
	}
	if expected < 0 {
		return CancelResult{}, fmt.Errorf("%w: prenotazione %d", ErrBadInput, expected)
	}
	key, start, err := s.resolve(ctx, a)
	if err != nil {
		return CancelResult{}, err
	}
	res, err := s.store.Cancel(ctx, key, by, reason, expected, s.clock.Now())
	if err != nil {
		return CancelResult{}, err // the store's error names the action and the slot
	}
	s.notifier.SlotCancelled(ctx, s.change(res.Reservation, StatusAvailable, start), reason)
	s.log.Info("slot cancelled by staff", "spazio", key.SpazioID, "date", key.Date, "slot", key.Slot,
		"prenotazione", res.Reservation.ID, "holder", res.Reservation.UserID, "was", res.From, "staff", by.UserID, "role", by.Role)
	return res, nil
}

// History limits: a query without a limit gets DefaultHistoryLimit
// entries, and none gets more than MaxHistoryLimit.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// HistoryQuery selects audit entries of one grid: the spazio (in SedeID
// when that is not 0) on Date, one Slot when it is not 0, at most Limit
// (0 means DefaultHistoryLimit, more than MaxHistoryLimit means that).
type HistoryQuery struct {
	SpazioID int64
	SedeID   int64
	Date     string
	Slot     int
	Limit    int
}

// History is one grid's audit trail as a HistoryQuery selected it.
type History struct {
	Spazio Spazio
	Sede   Sede
	Date   string
	Slot   int // 0: every slot
	Limit  int // the limit applied
	// Entries are newest first: by version, which orders one grid's
	// changes exactly (times may tie).
	Entries []AuditEntry
}

// History lists a grid's audit entries, newest first.
func (s *Service) History(ctx context.Context, q HistoryQuery) (History, error) {
	sp, sede, err := s.ResolveSpace(ctx, q.SpazioID, q.SedeID)
	if err != nil {
		return History{}, err
	}
	if _, err := ParseDate(q.Date); err != nil {
		return History{}, err
	}
	if q.Slot != 0 {
		n, err := sede.SlotCount()
		if err != nil {
			return History{}, err
		}
		if q.Slot < 0 || q.Slot > n {
			return History{}, fmt.Errorf("slot %d of %d: %w", q.Slot, n, ErrSlotOutOfRange)
		}
	}
	switch {
	case q.Limit < 0:
		return History{}, fmt.Errorf("%w: limit %d", ErrBadInput, q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultHistoryLimit
	case q.Limit > MaxHistoryLimit:
		q.Limit = MaxHistoryLimit
	}
	entries, err := s.store.History(ctx, sp.ID, q.Date, q.Slot, q.Limit)
	if err != nil {
		return History{}, fmt.Errorf("history of spazio %d on %s: %w", sp.ID, q.Date, err)
	}
	return History{Spazio: sp, Sede: sede, Date: q.Date, Slot: q.Slot, Limit: q.Limit, Entries: entries}, nil
}

func (s *Service) change(r Reservation, status Status, start time.Time) Change {
	c := Change{Key: r.Key, Start: start, Status: status, ReservationID: r.ID, UserID: r.UserID, Version: r.Version}
	if status == StatusOccupied {
		c.ExpiresAt = r.ExpiresAt
	}
	return c
}

// changeOf builds a Change when only the reservation is known (sweeper).
func (s *Service) changeOf(ctx context.Context, r Reservation, status Status) Change {
	c := Change{Key: r.Key, Status: status, ReservationID: r.ID, UserID: r.UserID, Version: r.Version}
	_, sede, err := s.store.Spazio(ctx, r.Key.SpazioID)
	if err != nil {
		return c
	}
	if day, err := ParseDate(r.Key.Date); err == nil {
		if start, err := s.slotStart(sede, day, r.Key.Slot); err == nil {
			c.Start = start
		}
	}
	return c
}

// planSweep tells the sweeper that a hold expires at at. It only moves the
// sweeper's planned wake earlier, and touches no store: a hold costs one
// write transaction, not a second one for a sweep that frees nothing.
func (s *Service) planSweep(at time.Time) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	if !s.sweepAt.IsZero() && !at.Before(s.sweepAt) {
		return
	}
	s.sweepAt = at
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// mergePlan sets the sweeper's next wake to next unless a hold planned an
// earlier one while the sweep ran, and returns the wake it keeps.
func (s *Service) mergePlan(next time.Time) time.Time {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	if s.sweepAt.IsZero() || next.Before(s.sweepAt) {
		s.sweepAt = next
	}
	return s.sweepAt
}

func (s *Service) plannedSweep() time.Time {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	return s.sweepAt
}

// SweepOnce expires every due hold and announces them; it returns how many
// it freed. Several nodes may sweep at once: the store's single UPDATE …
// RETURNING hands each expired hold to exactly one of them.
func (s *Service) SweepOnce(ctx context.Context) (int, error) {
	expired, err := s.store.ExpireDue(ctx, s.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("expire due holds: %w", err)
	}
	if len(expired) == 0 {
		return 0, nil
	}
	changes := make([]Change, 0, len(expired))
	for _, r := range expired {
		changes = append(changes, s.changeOf(ctx, r, StatusAvailable))
	}
	s.notifier.HoldsExpired(ctx, changes)
	s.log.Info("holds expired", "count", len(expired))
	return len(expired), nil
}

// RunSweeper frees expired holds until ctx ends. It sweeps once at start,
// so that holds that lapsed while the server was down are freed, then
// sleeps until its planned wake: the earliest of the next expiry the store
// knows, SweepCap from the last sweep, and the expiry of any hold made on
// this node since (Hold plans it without touching the store). A wake runs
// ExpireDue and plans again from NextExpiry.
//
// With several nodes on one database, a hold made on another node plans
// nothing here; SweepCap bounds how late this node frees it, and reads
// treat a lapsed hold as free meanwhile, so a late sweep shows no wrong
// state. A hold that ends early (release, book, cancel) plans nothing
// either: the sweep planned for it frees nothing and plans the next.
func (s *Service) RunSweeper(ctx context.Context) error {
	timer := time.NewTimer(s.untilPlanned(s.sweep(ctx)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			// A hold moved the plan earlier; no store access until then.
			timer.Reset(s.untilPlanned(s.plannedSweep()))
			continue
		case <-timer.C:
		}
		next := s.sweep(ctx)
		if ctx.Err() != nil {
			return nil
		}
		timer.Reset(s.untilPlanned(next))
	}
}

func (s *Service) untilPlanned(at time.Time) time.Duration {
	return max(at.Sub(s.clock.Now()), 0)
}

// sweep runs one sweep and returns the wake it plans next. Holds made
// while it runs plan into a cleared plan, so the merge keeps the earliest
// of theirs and the store's.
func (s *Service) sweep(ctx context.Context) time.Time {
	const retry = time.Second
	s.sweepMu.Lock()
	s.sweepAt = time.Time{}
	s.sweepMu.Unlock()
	next, err := s.sweepAndPlan(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("expiry sweep failed", "err", err)
		}
		next = s.clock.Now().Add(retry)
	}
	return s.mergePlan(next)
}

// sweepAndPlan expires due holds and returns when to sweep next: the
// earliest expiry left, or SweepCap from now.
func (s *Service) sweepAndPlan(ctx context.Context) (time.Time, error) {
	if _, err := s.SweepOnce(ctx); err != nil {
		return time.Time{}, err
	}
	next, ok, err := s.store.NextExpiry(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("next expiry: %w", err)
	}
	capped := s.clock.Now().Add(s.cfg.SweepCap)
	if !ok || capped.Before(next) {
		next = capped
	}
	return next, nil
}
