package sio

import (
	"encoding/json"
	"fmt"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// Socket.IO v5 packet types and limits, from the codec shared with the
// client.
const (
	packetConnect      = parser.Connect
	packetDisconnect   = parser.Disconnect
	packetEvent        = parser.Event
	packetAck          = parser.Ack
	packetConnectError = parser.ConnectErrorType
	packetBinaryEvent  = parser.BinaryEvent
	packetBinaryAck    = parser.BinaryAck

	maxAttachments = parser.MaxAttachments
	noAck          = parser.NoAck
)

// reservedEvents may not be sent by a client: they have a meaning of
// their own on one side or the other (the list of Node's parser).
var reservedEvents = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// errParse marks input that breaks the protocol; the session is closed.
var errParse = parser.ErrInvalid

// packet is a decoded client packet. Its payload has been checked against
// the packet type: a CONNECT's is nil or a map[string]any, an event's a
// non-empty []any starting with a string, an ack's a []any.
type packet struct {
	typ         int
	attachments int
	nsp         string
	id          int64 // noAck when absent
	data        any
}

// decodePacket decodes the text part of a packet. A binary packet comes
// back with attachments > 0 and placeholders still in its data; see
// fillPlaceholders.
func decodePacket(s []byte) (*packet, error) {
	h, payload, err := parser.DecodeHeader(s)
	if err != nil {
		return nil, err
	}
	p := &packet{typ: h.Type, attachments: h.Attachments, nsp: h.Nsp, id: h.ID}
	hasData := len(payload) > 0
	if hasData {
		if err := json.Unmarshal(payload, &p.data); err != nil {
			return nil, fmt.Errorf("%w: payload: %v", errParse, err)
		}
	}
	if !payloadValid(p.typ, hasData, p.data) {
		return nil, fmt.Errorf("%w: payload of type %d", errParse, p.typ)
	}
	return p, nil
}

func payloadValid(typ int, has bool, data any) bool {
	switch typ {
	case packetConnect:
		if !has {
			return true
		}
		_, ok := data.(map[string]any)
		return ok
	case packetDisconnect:
		return !has
	case packetEvent, packetBinaryEvent:
		args, ok := data.([]any)
		if !ok || len(args) == 0 {
			return false
		}
		name, ok := args[0].(string)
		return ok && !reservedEvents[name]
	case packetAck, packetBinaryAck:
		_, ok := data.([]any)
		return ok
	default: // CONNECT_ERROR is for clients only
		return false
	}
}

// fillPlaceholders replaces the {"_placeholder":true,"num":N} objects in v
// by the attachments, in place.
var fillPlaceholders = parser.FillPlaceholders

// textFrame and binaryFrame make frames; tests wrap them to read what
// was sent (eio.Frame keeps its bytes to itself).
var (
	textFrame   = eio.TextFrame
	binaryFrame = eio.BinaryFrame
)

// encodePacket encodes a packet into the Engine.IO frames that carry it:
// the text part, then one binary frame per attachment. typ is
// packetEvent, packetAck, packetConnect, packetConnectError or
// packetDisconnect; events and acks holding []byte become their binary
// variants. data is nil for no payload.
func encodePacket(typ int, nsp string, id int64, data any) ([]*eio.Frame, error) {
	text, bins, err := parser.Encode(typ, nsp, id, data)
	if err != nil {
		return nil, err
	}
	frames := make([]*eio.Frame, 1+len(bins))
	frames[0] = textFrame(text)
	for i, b := range bins {
		frames[1+i] = binaryFrame(b)
	}
	return frames, nil
}

// framesLen is the payload size of frames, for the recovery bounds.
func framesLen(frames []*eio.Frame) int {
	n := 0
	for _, f := range frames {
		n += f.Len()
	}
	return n
}
