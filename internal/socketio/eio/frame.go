package eio

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/gobwas/ws"

	"github.com/coworkctl/coworkctl/internal/socketio/parser"
)

// Engine.IO packet types, as the first byte of a packet.
// They come from the codec shared with the client.
const (
	packetOpen    = parser.EngineOpen
	packetClose   = parser.EngineClose
	packetPing    = parser.EnginePing
	packetPong    = parser.EnginePong
	packetMessage = parser.EngineMessage
	packetUpgrade = parser.EngineUpgrade
	packetNoop    = parser.EngineNoop
)

// recordSeparator joins packets in a polling payload.
const recordSeparator = parser.RecordSeparator

// Frame is one Engine.IO packet, encoded once and shared, read-only, by
// every session it is sent to.
type Frame struct {
	// ws is the complete websocket frame (or frames) as written to every
	// websocket session: servers do not mask, so the bytes are the same
	// for all recipients.
	ws []byte
	// text is the polling encoding of a text packet ("4hello"); for a
	// text frame it aliases ws after the header. nil for binary frames.
	text []byte
	// data is the message payload, aliasing ws.
	data []byte
	// terminal frames end the session once written.
	terminal bool

	b64Once sync.Once
	b64     []byte // "b"+base64(data), built for the first polling recipient
}

// TextFrame frames a text message (the packet "4"+data). data must not
// change afterwards.
func TextFrame(data []byte) *Frame { return newTextFrame(packetMessage, data) }

// BinaryFrame frames a binary message. data must not change afterwards.
func BinaryFrame(data []byte) *Frame {
	buf := appendHeader(make([]byte, 0, headerSize(len(data))+len(data)), ws.OpBinary, len(data))
	hdr := len(buf)
	buf = append(buf, data...)
	return &Frame{ws: buf, data: buf[hdr:]}
}

// Len is the payload size, used to bound queues and buffers.
func (f *Frame) Len() int { return len(f.data) }

// newTextFrame builds the text packet typ+data.
func newTextFrame(typ byte, data []byte) *Frame {
	n := 1 + len(data)
	buf := appendHeader(make([]byte, 0, headerSize(n)+n), ws.OpText, n)
	hdr := len(buf)
	buf = append(buf, typ)
	buf = append(buf, data...)
	return &Frame{ws: buf, text: buf[hdr:], data: buf[hdr+1:]}
}

// pollingBytes is the frame's packet as it goes into a polling payload.
func (f *Frame) pollingBytes() []byte {
	if f.text != nil {
		return f.text
	}
	f.b64Once.Do(func() {
		b := make([]byte, 1+base64.StdEncoding.EncodedLen(len(f.data)))
		b[0] = 'b'
		base64.StdEncoding.Encode(b[1:], f.data)
		f.b64 = b
	})
	return f.b64
}

// Frames shared by every session.
var (
	pingFrame  = newTextFrame(packetPing, nil)
	pongFrame  = newTextFrame(packetPong, nil)
	noopFrame  = newTextFrame(packetNoop, nil)
	probeFrame = newTextFrame(packetPong, []byte("probe"))
	// closeFrame is the close packet and, on a websocket, a normal close
	// frame after it.
	closeFrame = &Frame{
		ws:       append(newTextFrame(packetClose, nil).ws, controlFrame(ws.OpClose, closeBody(ws.StatusNormalClosure))...),
		text:     []byte{packetClose},
		terminal: true,
	}
	// wsCloseFrame answers a client's close frame.
	wsCloseFrame = &Frame{ws: controlFrame(ws.OpClose, closeBody(ws.StatusNormalClosure)), text: []byte{packetClose}, terminal: true}
	// tooBigFrame closes a websocket whose message exceeds MaxPayload.
	tooBigFrame = &Frame{ws: controlFrame(ws.OpClose, closeBody(ws.StatusMessageTooBig)), text: []byte{packetClose}, terminal: true}
	// protocolErrorFrame closes a websocket that broke RFC 6455.
	protocolErrorFrame = &Frame{ws: controlFrame(ws.OpClose, closeBody(ws.StatusProtocolError)), text: []byte{packetClose}, terminal: true}
)

func closeBody(code ws.StatusCode) []byte {
	return binary.BigEndian.AppendUint16(nil, uint16(code))
}

// controlFrame is a complete unmasked control frame.
func controlFrame(op ws.OpCode, payload []byte) []byte {
	return append(appendHeader(nil, op, len(payload)), payload...)
}

// headerSize is the size of an unmasked frame header for n payload bytes.
func headerSize(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// appendHeader appends the header of a final, unmasked server frame.
func appendHeader(dst []byte, op ws.OpCode, n int) []byte {
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// packet is one decoded packet from a client. data aliases the input
// (text) or a decode buffer (binary).
type packet struct {
	typ    byte
	binary bool
	data   []byte
}

// errInvalidPacket is any packet that is not Engine.IO v4.
var errInvalidPacket = errors.New("eio: invalid packet")

// parseTextPacket parses a text packet: a type digit and its payload.
func parseTextPacket(p []byte) (packet, error) {
	if len(p) == 0 || p[0] < packetOpen || p[0] > packetNoop {
		return packet{}, errInvalidPacket
	}
	return packet{typ: p[0], data: p[1:]}, nil
}

// decodePayload splits a polling payload into its packets, appended to
// dst. A binary packet ("b"+base64) is decoded in place, overwriting body.
// More than maxPackets packets, or any invalid one, is an error and the
// payload must be dropped as a whole.
func decodePayload(dst []packet, body []byte, maxPackets int) ([]packet, error) {
	if countPackets(body) > maxPackets {
		return dst, errTooManyPackets
	}
	for rest, more := body, true; more; {
		var p []byte
		p, rest, more = cutPacket(rest)
		if len(p) > 0 && p[0] == 'b' {
			// A binary packet is "b" and canonical standard base64,
			// nothing else: Go's decoder skips CR and LF and, unless
			// strict, ignores non-zero trailing bits, either of which
			// lets two different bodies decode to the same packet.
			if bytes.ContainsAny(p[1:], "\r\n") {
				return dst, errInvalidPacket
			}
			n, err := strictBase64.Decode(p[1:], p[1:])
			if err != nil {
				return dst, errInvalidPacket
			}
			dst = append(dst, packet{typ: packetMessage, binary: true, data: p[1 : 1+n]})
			continue
		}
		pkt, err := parseTextPacket(p)
		if err != nil {
			return dst, err
		}
		dst = append(dst, pkt)
	}
	return dst, nil
}

// strictBase64 refuses non-canonical trailing bits; the official clients
// never send them.
var strictBase64 = base64.StdEncoding.Strict()

var errTooManyPackets = errors.New("eio: too many packets in one payload")

var (
	countPackets = parser.CountPackets
	cutPacket    = parser.CutPacket
)
