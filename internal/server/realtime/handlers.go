package realtime

import (
	"context"
	"errors"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/slots"
	sio "github.com/zishang520/socket.io/servers/socket/v3"
)

// joinTimeout bounds the snapshot query of one join.
const joinTimeout = 5 * time.Second

// spaceRequest validates a join_space/leave_space payload.
func spaceRequest(args []any) (spazioID, sedeID int64, date string, err error) {
	var req protocol.JoinSpaceRequest
	if err := decodeArg(args, &req); err != nil {
		return 0, 0, "", err
	}
	if spazioID, err = protocol.ParseID(req.SpazioID); err != nil {
		return 0, 0, "", errors.New("spazioId non valido: " + err.Error())
	}
	if sedeID, err = protocol.ParseID(req.SedeID); err != nil {
		return 0, 0, "", errors.New("sedeId non valido: " + err.Error())
	}
	if req.Date != "" {
		if _, err := slots.ParseDate(req.Date); err != nil {
			//lint:ignore ST1005 the frontend shows this Italian text as is
			return 0, 0, "", errors.New(protocol.MsgBadDate)
		}
	}
	return spazioID, sedeID, req.Date, nil
}

func (h *Hub) onJoin(sess *session, args []any) {
	payload, ack := splitAck(args)
	spazioID, sedeID, date, err := spaceRequest(payload)
	if err != nil {
		h.spaceError(sess.sock, ack, protocol.CodeInvalidInput, "Richiesta join_space non valida: "+err.Error())
		return
	}
	room := protocol.SpaceRoom(spazioID, sedeID)
	if !h.presence.canJoin(sess, room, h.cfg.MaxRoomsPerSocket) {
		h.spaceError(sess.sock, ack, protocol.CodeTooManyRooms, "Troppi spazi seguiti da questa connessione")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	grid, err := h.spaces.Grid(ctx, spazioID, sedeID, date, slots.Viewer{UserID: sess.claims.UserID, Staff: sess.claims.IsStaff()})
	switch {
	case errors.Is(err, slots.ErrSpazioNotFound):
		h.spaceError(sess.sock, ack, protocol.CodeSpaceNotFound, "Spazio non trovato")
		return
	case errors.Is(err, slots.ErrSpazioNotInSede):
		h.spaceError(sess.sock, ack, protocol.CodeSpaceMismatch, "Lo spazio non appartiene a questa sede")
		return
	case errors.Is(err, slots.ErrBadDate):
		h.spaceError(sess.sock, ack, protocol.CodeInvalidInput, protocol.MsgBadDate)
		return
	case err != nil:
		h.log.Error("join snapshot failed", "socket", sess.sock.Id(), "room", room, "err", err)
		h.spaceError(sess.sock, ack, protocol.CodeInternal, "Errore interno, riprova")
		return
	}
	if !h.presence.join(sess, room) {
		return // disconnected while the snapshot was read
	}
	sess.sock.Join(sio.Room(room))
	h.refreshGauges()
	now := protocol.Timestamp(time.Now())
	h.emitTo(sess.sock, protocol.EventJoinedSpace, protocol.JoinedSpace{Room: room, SpazioID: spazioID, SedeID: sedeID, Date: grid.Date, Timestamp: now})
	h.emitTo(sess.sock, protocol.EventSlotsStatusUpdate, protocol.SlotsStatusUpdate{
		Type: protocol.EventSlotsStatusUpdate, SpazioID: spazioID, SedeID: sedeID, Date: grid.Date, SlotsStatus: grid.Slots, Timestamp: now,
	})
	reply(ack, protocol.Ack{Success: true, Room: room})
	h.log.Info("joined space", "socket", sess.sock.Id(), "user", sess.claims.UserID, "room", room, "date", grid.Date)
}

func (h *Hub) onLeave(sess *session, args []any) {
	payload, ack := splitAck(args)
	spazioID, sedeID, _, err := spaceRequest(payload)
	if err != nil {
		h.spaceError(sess.sock, ack, protocol.CodeInvalidInput, "Richiesta leave_space non valida: "+err.Error())
		return
	}
	room := protocol.SpaceRoom(spazioID, sedeID)
	sess.sock.Leave(sio.Room(room))
	h.presence.leave(sess, room)
	h.refreshGauges()
	reply(ack, protocol.Ack{Success: true, Room: room})
	h.log.Info("left space", "socket", sess.sock.Id(), "user", sess.claims.UserID, "room", room)
}

// spaceError sends space_error to one socket and fails its ack.
func (h *Hub) spaceError(s *sio.Socket, ack sio.Ack, code, msg string) {
	h.emitTo(s, protocol.EventSpaceError, protocol.SpaceError{Type: protocol.EventSpaceError, Code: code, Message: msg, Timestamp: protocol.Timestamp(time.Now())})
	reply(ack, protocol.Ack{Success: false, Error: msg, Code: code})
}

// emitTo sends one event to one socket.
func (h *Hub) emitTo(s *sio.Socket, event string, payload any) {
	if err := s.Emit(event, payload); err != nil {
		h.log.Warn("emit failed", "socket", s.Id(), "event", event, "err", err)
		return
	}
	h.metrics.EventsOut.WithLabelValues(event).Inc()
}
