// Package wire maps the slots domain to the protocol's payloads and back.
// It is the one place that knows both: the domain keeps times, statuses
// and ids, and the display fields clients expect ("HH:MM" orari, titles,
// minutes left, millisecond timestamps) are made here, at the edge.
package wire

import (
	"math"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/slots"
)

// orario is a slot's start as the frontend shows it, in the time's zone
// (the sede's).
func orario(t time.Time) string { return t.Format("15:04") }

// Slots lists a grid's slots as GET /api/slots and slots_status_update
// carry them. minutes_remaining counts whole minutes from g.At, rounded up.
func Slots(g slots.Grid) []protocol.Slot {
	out := make([]protocol.Slot, 0, len(g.Slots))
	for _, s := range g.Slots {
		ps := protocol.Slot{
			ID: s.Number, IDSlot: s.Number, IDSpazio: g.Spazio.ID, IDSede: g.Sede.ID, Date: g.Date,
			Orario: orario(s.Start), Status: string(s.Status), Title: protocol.SlotTitle(string(s.Status), 0),
		}
		if !s.ExpiresAt.IsZero() {
			exp := protocol.Timestamp(s.ExpiresAt)
			mins := int(math.Ceil(s.ExpiresAt.Sub(g.At).Minutes()))
			ps.ExpiresAt, ps.MinutesRemaining = &exp, &mins
			ps.Title = protocol.SlotTitle(string(s.Status), mins)
		}
		if s.ReservationID != 0 {
			id := s.ReservationID
			ps.PrenotazioneID = &id
		}
		if s.HolderID != 0 {
			uid := s.HolderID
			ps.IDUtente = &uid
		}
		out = append(out, ps)
	}
	return out
}

// SlotsList is the data member of GET /api/slots/{idSpazio}/{date}.
func SlotsList(g slots.Grid) protocol.SlotsList {
	list := Slots(g)
	return protocol.SlotsList{Slots: list, Count: len(list), Date: g.Date, IDSpazio: g.Spazio.ID, IDSede: g.Sede.ID, Version: g.Version}
}

// SlotsStatusUpdate is the snapshot a socket gets when it joins a grid's
// room; at is when it is sent.
func SlotsStatusUpdate(g slots.Grid, at time.Time) protocol.SlotsStatusUpdate {
	return protocol.SlotsStatusUpdate{
		Type: protocol.EventSlotsStatusUpdate, SpazioID: g.Spazio.ID, SedeID: g.Sede.ID, Date: g.Date,
		SlotsStatus: Slots(g), Version: g.Version, Timestamp: protocol.Timestamp(at),
	}
}

// SlotData is one changed slot as slot_update, hold_expired and
// slot_cancelled carry it. It never names the holder: those go to rooms
// of other users too.
func SlotData(c slots.Change) protocol.SlotData {
	d := protocol.SlotData{
		ID: c.Key.Slot, IDSlot: c.Key.Slot, IDSpazio: c.Key.SpazioID, IDSede: c.Key.SedeID,
		Date: c.Key.Date, Status: string(c.Status),
	}
	if !c.Start.IsZero() {
		d.Orario = orario(c.Start)
	}
	if !c.ExpiresAt.IsZero() {
		exp := protocol.Timestamp(c.ExpiresAt)
		d.ExpiresAt = &exp
	}
	if c.ReservationID != 0 {
		id := c.ReservationID
		d.PrenotazioneID = &id
	}
	return d
}

// SlotUpdate is slot_update of a change, sent at at.
func SlotUpdate(c slots.Change, at time.Time) protocol.SlotUpdate {
	return protocol.SlotUpdate{
		Type: protocol.EventSlotUpdate, SlotID: c.Key.Slot, Status: string(c.Status), Data: SlotData(c),
		Version: c.Version, Timestamp: protocol.Timestamp(at),
	}
}

// HoldExpired is hold_expired of an expiry, sent at at to the holder.
func HoldExpired(c slots.Change, at time.Time) protocol.HoldExpired {
	return protocol.HoldExpired{Type: protocol.EventHoldExpired, SlotID: c.Key.Slot, Data: SlotData(c), Timestamp: protocol.Timestamp(at)}
}

// SlotCancelled is slot_cancelled of a staff cancel, sent at at to the
// holder with staff's reason.
func SlotCancelled(c slots.Change, reason string, at time.Time) protocol.SlotCancelled {
	return protocol.SlotCancelled{
		Type: protocol.EventSlotCancelled, SlotID: c.Key.Slot, Data: SlotData(c), Reason: reason, Timestamp: protocol.Timestamp(at),
	}
}

// FreedSlot names a slot an expiry freed, for slots_freed.
func FreedSlot(c slots.Change) protocol.FreedSlot {
	return protocol.FreedSlot{IDSpazio: c.Key.SpazioID, IDSede: c.Key.SedeID, Date: c.Key.Date, IDSlot: c.Key.Slot}
}

// SlotActionData answers a hold, book or release of slot n that left r
// and the slot in status. Only a hold (StatusOccupied) has an expiry.
func SlotActionData(n int, r slots.Reservation, status slots.Status) *protocol.SlotActionData {
	d := &protocol.SlotActionData{SlotID: n, PrenotazioneID: r.ID, Status: string(status)}
	if status == slots.StatusOccupied {
		exp := protocol.Timestamp(r.ExpiresAt)
		d.ExpiresAt = &exp
	}
	return d
}

// SlotCancelData answers a staff cancel of slot n with the reason it
// recorded.
func SlotCancelData(n int, res slots.CancelResult, reason string) protocol.SlotCancelData {
	return protocol.SlotCancelData{
		SlotID: n, PrenotazioneID: res.Reservation.ID, Status: string(slots.StatusAvailable),
		PreviousStatus: res.From, IDUtente: res.Reservation.UserID, Reason: reason, Version: res.Reservation.Version,
	}
}

// AuditEntry is one entry of a slot history.
func AuditEntry(e slots.AuditEntry) protocol.AuditEntry {
	return protocol.AuditEntry{
		ID: e.ID, At: protocol.Timestamp(e.At), Action: e.Action, SlotID: e.Key.Slot,
		IDSpazio: e.Key.SpazioID, IDSede: e.Key.SedeID, Date: e.Key.Date, From: e.From, To: e.To,
		PrenotazioneID: e.ReservationID, HolderID: e.HolderID, UserID: e.Actor.UserID, Role: e.Actor.Role,
		Reason: e.Reason, Version: e.Version,
	}
}

// History is the data member of a slot history.
func History(h slots.History) protocol.HistoryList {
	out := protocol.HistoryList{IDSpazio: h.Spazio.ID, IDSede: h.Sede.ID, Date: h.Date, Slot: h.Slot, Limit: h.Limit,
		Count: len(h.Entries), Entries: make([]protocol.AuditEntry, 0, len(h.Entries))}
	for _, e := range h.Entries {
		out.Entries = append(out.Entries, AuditEntry(e))
	}
	return out
}

// Sede is a domain sede as GET /api/sedi lists it: the default opening
// hours are spelled out, and a sede without spazi lists an empty array.
func Sede(s slots.Sede) protocol.Sede {
	ps := protocol.Sede{IDSede: s.ID, Nome: s.Nome, Citta: s.Citta, Timezone: s.Timezone,
		OrarioApertura: orDefault(s.Apertura, slots.DefaultApertura), OrarioChiusura: orDefault(s.Chiusura, slots.DefaultChiusura),
		Spazi: make([]protocol.Spazio, 0, len(s.Spazi))}
	for _, sp := range s.Spazi {
		ps.Spazi = append(ps.Spazi, protocol.Spazio{IDSpazio: sp.ID, IDSede: s.ID, Nome: sp.Nome, Tipologia: sp.Tipologia, Capacita: sp.Capacita})
	}
	return ps
}

// Sedi lists domain sedi in the wire shape, see Sede.
func Sedi(in []slots.Sede) []protocol.Sede {
	out := make([]protocol.Sede, 0, len(in))
	for _, s := range in {
		out = append(out, Sede(s))
	}
	return out
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
