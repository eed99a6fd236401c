package realtime

import (
	"context"
	"errors"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	"github.com/coworkctl/coworkctl/internal/server/wire"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/sio"
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

func (h *Hub) onJoin(sess *session, e *sio.Event) {
	spazioID, sedeID, date, err := spaceRequest(e.Args)
	if err != nil {
		h.spaceError(sess.sock, e, &badRequest{event: protocol.EventJoinSpace, err: err})
		return
	}
	room := protocol.SpaceRoom(spazioID, sedeID)
	if !h.mayJoin(sess, room) {
		h.spaceError(sess.sock, e, errTooManyRooms)
		return
	}
	if date == "" {
		h.joinRoom(sess, e, spazioID, sedeID, room)
		return
	}
	// Join before the snapshot is read: an update committed after the read
	// then reaches this socket, and one committed before it is in the
	// snapshot. Reading first would lose updates that land in between.
	// Meanwhile the grid's feed keeps this grid's updates for the socket;
	// once the snapshot is queued, the feed sends those the snapshot lacks
	// and from then on spares the socket those it has (see gridFeed), so
	// that a client applying events in arrival order ends right.
	k := gridKey{room: room, date: date}
	g := h.feeds.get(k)
	j := &gridJoin{sess: sess, reading: true}
	g.mu.Lock()
	g.joins[sess.id], g.used = j, h.clock.Now()
	g.mu.Unlock()
	forget := func() {
		g.mu.Lock()
		if g.joins[sess.id] == j {
			delete(g.joins, sess.id)
		}
		g.mu.Unlock()
	}
	wasIn := sess.sock.In(room)
	sess.sock.Join(room)
	ctx, cancel := context.WithTimeout(h.life, joinTimeout)
	defer cancel()
	grid, err := h.spaces.Grid(ctx, spazioID, sedeID, date, slots.Viewer{UserID: sess.claims.UserID, Staff: sess.claims.IsStaff()})
	if err != nil {
		forget()
		if !wasIn {
			sess.sock.Leave(room)
		}
		h.joinFailed(sess, e, room, err)
		return
	}
	if sess.left.Load() {
		forget()
		return // disconnected while the snapshot was read
	}
	h.refreshGauges()
	now := h.clock.Now()
	g.mu.Lock()
	if g.joins[sess.id] == j {
		h.emitTo(sess.sock, protocol.EventJoinedSpace, protocol.JoinedSpace{Room: room, SpazioID: spazioID, SedeID: sedeID, Date: grid.Date, Timestamp: protocol.Timestamp(now)})
		h.emitTo(sess.sock, protocol.EventSlotsStatusUpdate, wire.SlotsStatusUpdate(grid, now))
		for _, u := range j.held {
			if u.version > grid.Version {
				h.emitTo(sess.sock, protocol.EventSlotUpdate, u.payload)
			}
		}
		j.reading, j.held, j.floor = false, nil, grid.Version
	}
	// Every version up to the snapshot's is committed: a feed that has
	// seen none expects the one after it.
	if g.next == 0 {
		g.next = grid.Version + 1
	}
	g.mu.Unlock()
	e.Ack(protocol.Ack{Success: true, Room: room})
	h.log.Info("joined space", "socket", sess.id, "user", sess.claims.UserID, "room", room, "date", grid.Date)
}

// mayJoin reports whether sess may join room under the limit of space
// rooms per socket; a room it is in already is always allowed.
func (h *Hub) mayJoin(sess *session, room string) bool {
	if sess.sock.In(room) {
		return true
	}
	n := 0
	for _, r := range sess.sock.Rooms() {
		if isSpaceRoom(r) {
			n++
		}
	}
	return n < h.cfg.MaxRoomsPerSocket
}

// joinRoom is a join without a date, the original page's: the room and
// joined_space, no snapshot. The page loads its grid over REST and would
// apply any snapshot to the date it shows, whatever date the snapshot
// is of.
func (h *Hub) joinRoom(sess *session, e *sio.Event, spazioID, sedeID int64, room string) {
	ctx, cancel := context.WithTimeout(h.life, joinTimeout)
	defer cancel()
	if _, _, err := h.spaces.ResolveSpace(ctx, spazioID, sedeID); err != nil {
		h.joinFailed(sess, e, room, err)
		return
	}
	sess.sock.Join(room)
	if sess.left.Load() {
		return // disconnected meanwhile
	}
	h.refreshGauges()
	h.emitTo(sess.sock, protocol.EventJoinedSpace, protocol.JoinedSpace{Room: room, SpazioID: spazioID, SedeID: sedeID, Timestamp: protocol.Timestamp(h.clock.Now())})
	e.Ack(protocol.Ack{Success: true, Room: room})
	h.log.Info("joined space", "socket", sess.id, "user", sess.claims.UserID, "room", room)
}

// joinFailed answers a join the domain refused or could not serve.
func (h *Hub) joinFailed(sess *session, e *sio.Event, room string, err error) {
	// One that shutdown cut short is no fault.
	if _, _, internal := refusal(err); internal && h.life.Err() == nil {
		h.log.Error("join failed", "socket", sess.id, "room", room, "err", err)
	}
	h.spaceError(sess.sock, e, err)
}

func (h *Hub) onLeave(sess *session, e *sio.Event) {
	spazioID, sedeID, _, err := spaceRequest(e.Args)
	if err != nil {
		h.spaceError(sess.sock, e, &badRequest{event: protocol.EventLeaveSpace, err: err})
		return
	}
	room := protocol.SpaceRoom(spazioID, sedeID)
	sess.sock.Leave(room)
	for _, g := range h.feeds.inRoom(room) {
		g.mu.Lock()
		delete(g.joins, sess.id)
		g.mu.Unlock()
	}
	h.refreshGauges()
	e.Ack(protocol.Ack{Success: true, Room: room})
	h.log.Info("left space", "socket", sess.id, "user", sess.claims.UserID, "room", room)
}

// spaceError answers a rejected client event: space_error to that socket
// and a failed ack. Neither is kept for recovery, so a client flooding
// bad or rate-limited events cannot grow the server's memory.
func (h *Hub) spaceError(s *sio.Socket, e *sio.Event, cause error) {
	code, msg, _ := refusal(cause)
	err := s.EmitTransient(protocol.EventSpaceError, protocol.SpaceError{Type: protocol.EventSpaceError, Code: code, Message: msg, Timestamp: protocol.Timestamp(h.clock.Now())})
	if err == nil {
		h.metrics.EventsOut.WithLabelValues(protocol.EventSpaceError).Inc()
	}
	e.Ack(protocol.Ack{Success: false, Error: msg, Code: code})
}

// emitTo sends one event to one socket.
func (h *Hub) emitTo(s *sio.Socket, event string, payload any) {
	if err := s.Emit(event, payload); err != nil {
		h.log.Debug("emit failed", "socket", s.ID(), "event", event, "err", err)
		return
	}
	h.metrics.EventsOut.WithLabelValues(event).Inc()
}
