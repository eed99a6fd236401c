package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// Socket.IO v5 packet types.
const (
	packetConnect      = 0
	packetDisconnect   = 1
	packetEvent        = 2
	packetAck          = 3
	packetConnectError = 4
	packetBinaryEvent  = 5
	packetBinaryAck    = 6
)

const (
	// maxAttachments bounds the binary attachments of one packet (Node's
	// parser default), so a header cannot make us wait for thousands.
	maxAttachments = 10
	// maxAckIDDigits keeps an ack id inside int64.
	maxAckIDDigits = 18
	noAck          = -1
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
var errParse = errors.New("sio: invalid packet")

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
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: empty", errParse)
	}
	p := &packet{typ: int(s[0]) - '0', nsp: "/", id: noAck}
	if p.typ < packetConnect || p.typ > packetBinaryAck {
		return nil, fmt.Errorf("%w: unknown type %q", errParse, s[0])
	}
	i := 1
	if p.typ == packetBinaryEvent || p.typ == packetBinaryAck {
		j := i
		for j < len(s) && j-i <= 2 && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 2 || j == len(s) || s[j] != '-' {
			return nil, fmt.Errorf("%w: bad attachment count", errParse)
		}
		p.attachments, _ = strconv.Atoi(string(s[i:j]))
		if p.attachments > maxAttachments {
			return nil, fmt.Errorf("%w: too many attachments", errParse)
		}
		i = j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.nsp, i = string(s[i:]), len(s)
		} else {
			p.nsp, i = string(s[i:i+j]), i+j+1
		}
	}
	if j := i; j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i > maxAckIDDigits {
			return nil, fmt.Errorf("%w: ack id too long", errParse)
		}
		p.id, _ = strconv.ParseInt(string(s[i:j]), 10, 64)
		i = j
	}
	hasData := i < len(s)
	if hasData {
		if err := json.Unmarshal(s[i:], &p.data); err != nil {
			return nil, fmt.Errorf("%w: payload: %v", errParse, err)
		}
	}
	if !payloadValid(p.typ, hasData, p.data) {
		return nil, fmt.Errorf("%w: payload of type %d", errParse, p.typ)
	}
	return p, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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
func fillPlaceholders(v any, bins [][]byte) (any, error) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			f, err := fillPlaceholders(e, bins)
			if err != nil {
				return nil, err
			}
			v[i] = f
		}
		return v, nil
	case map[string]any:
		if ph, _ := v["_placeholder"].(bool); ph {
			num, ok := v["num"].(float64)
			if !ok || num < 0 || num >= float64(len(bins)) || num != float64(int(num)) {
				return nil, fmt.Errorf("%w: bad placeholder", errParse)
			}
			return bins[int(num)], nil
		}
		for k, e := range v {
			f, err := fillPlaceholders(e, bins)
			if err != nil {
				return nil, err
			}
			v[k] = f
		}
		return v, nil
	default:
		return v, nil
	}
}

// placeholder is how an attachment appears in the JSON part of a packet.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// extractBinary returns a copy of v whose []byte values (in []any and
// map[string]any, at any depth) are placeholders, and appends them to bins.
// Other types are encoded by encoding/json as they are.
func extractBinary(v any, bins *[][]byte) any {
	switch v := v.(type) {
	case []byte:
		*bins = append(*bins, v)
		return placeholder{Placeholder: true, Num: len(*bins) - 1}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = extractBinary(e, bins)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = extractBinary(e, bins)
		}
		return out
	default:
		return v
	}
}

// textFrame and binaryFrame make frames; tests wrap them to read what
// was sent (eio.Frame keeps its bytes to itself).
var (
	textFrame   = eio.TextFrame
	binaryFrame = eio.BinaryFrame
)

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encodePacket encodes a packet into the Engine.IO frames that carry it:
// the text part, then one binary frame per attachment. typ is
// packetEvent, packetAck, packetConnect, packetConnectError or
// packetDisconnect; events and acks holding []byte become their binary
// variants. data is nil for no payload.
func encodePacket(typ int, nsp string, id int64, data any) ([]*eio.Frame, error) {
	var bins [][]byte
	if (typ == packetEvent || typ == packetAck) && adapter.HasBinary(data) {
		data = extractBinary(data, &bins)
		typ += packetBinaryEvent - packetEvent // 2→5, 3→6
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	e.buf.WriteByte(byte('0' + typ))
	if len(bins) > 0 {
		e.buf.WriteString(strconv.Itoa(len(bins)))
		e.buf.WriteByte('-')
	}
	if nsp != "/" {
		e.buf.WriteString(nsp)
		e.buf.WriteByte(',')
	}
	if id != noAck {
		e.buf.WriteString(strconv.FormatInt(id, 10))
	}
	if data != nil {
		if err := e.enc.Encode(data); err != nil {
			return nil, fmt.Errorf("encode packet: %w", err)
		}
		e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	}
	frames := make([]*eio.Frame, 1+len(bins))
	frames[0] = textFrame(bytes.Clone(e.buf.Bytes()))
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
