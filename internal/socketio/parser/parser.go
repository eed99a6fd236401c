// Package parser is the Socket.IO v5 packet codec over Engine.IO v4,
// shared by our server (sio, eio) and our client, so both sides read and
// write the same bytes the same way. It knows nothing of sessions,
// namespaces' meaning or direction: which packets a side accepts is the
// caller's policy.
package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// Socket.IO v5 packet types, the first character of a packet.
const (
	Connect    = 0
	Disconnect = 1
	Event      = 2
	Ack        = 3
	// ConnectErrorType is CONNECT_ERROR; ConnectError is its payload.
	ConnectErrorType = 4
	BinaryEvent      = 5
	BinaryAck        = 6
)

// NoAck is Header.ID of a packet without an acknowledgement id.
const NoAck = -1

const (
	// MaxAttachments bounds the binary attachments of one packet (Node's
	// parser default), so a header cannot make a receiver wait for
	// thousands.
	MaxAttachments = 10
	// maxAckIDDigits keeps an ack id inside int64.
	maxAckIDDigits = 18
)

// ConnectError is a server's refusal of a namespace CONNECT, the payload
// of a CONNECT_ERROR packet: what a server sends and a client receives
// (the client's err.message and err.data).
type ConnectError struct {
	Message string `json:"message"`
	// Data is what the server attached; nil sends none. A client gets it
	// decoded as JSON values (map[string]any, []any, string, float64…).
	Data any `json:"data,omitempty"`
}

// Error is the message alone, as a server sends it.
func (e *ConnectError) Error() string { return e.Message }

// Code is Data's "code" field, the usual way a server tells refusals
// apart; empty when there is none.
func (e *ConnectError) Code() string {
	m, _ := e.Data.(map[string]any)
	code, _ := m["code"].(string)
	return code
}

// ErrInvalid marks input that breaks the protocol.
var ErrInvalid = errors.New("socket.io: invalid packet")

// Header is the part of a packet before its JSON payload.
type Header struct {
	Type        int
	Attachments int    // binary packets only
	Nsp         string // "/" when absent
	ID          int64  // NoAck when absent
}

// DecodeHeader parses the header of a text packet and returns the JSON
// payload after it (empty when the packet has none). Errors wrap
// ErrInvalid.
func DecodeHeader(s []byte) (Header, []byte, error) {
	if len(s) == 0 {
		return Header{}, nil, fmt.Errorf("%w: empty", ErrInvalid)
	}
	h := Header{Type: int(s[0]) - '0', Nsp: "/", ID: NoAck}
	if h.Type < Connect || h.Type > BinaryAck {
		return Header{}, nil, fmt.Errorf("%w: unknown type %q", ErrInvalid, s[0])
	}
	i := 1
	if h.Type == BinaryEvent || h.Type == BinaryAck {
		j := i
		for j < len(s) && j-i <= 2 && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 2 || j == len(s) || s[j] != '-' {
			return Header{}, nil, fmt.Errorf("%w: bad attachment count", ErrInvalid)
		}
		h.Attachments, _ = strconv.Atoi(string(s[i:j]))
		if h.Attachments > MaxAttachments {
			return Header{}, nil, fmt.Errorf("%w: too many attachments", ErrInvalid)
		}
		i = j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			h.Nsp, i = string(s[i:]), len(s)
		} else {
			h.Nsp, i = string(s[i:i+j]), i+j+1
		}
	}
	if j := i; j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i > maxAckIDDigits {
			return Header{}, nil, fmt.Errorf("%w: ack id too long", ErrInvalid)
		}
		h.ID, _ = strconv.ParseInt(string(s[i:j]), 10, 64)
		i = j
	}
	return h, s[i:], nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// SplitEvent splits the JSON payload of an EVENT into the event name and
// its arguments, left encoded so a receiver decodes only what it reads.
func SplitEvent(payload []byte) (name string, args []json.RawMessage, err error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(payload, &arr); err != nil {
		return "", nil, fmt.Errorf("%w: event payload: %v", ErrInvalid, err)
	}
	if len(arr) == 0 {
		return "", nil, fmt.Errorf("%w: event without a name", ErrInvalid)
	}
	if err := json.Unmarshal(arr[0], &name); err != nil {
		return "", nil, fmt.Errorf("%w: event name: %v", ErrInvalid, err)
	}
	return name, arr[1:], nil
}

// FillPlaceholders replaces the {"_placeholder":true,"num":N} objects in
// v, a decoded payload, by the attachments, in place.
func FillPlaceholders(v any, bins [][]byte) (any, error) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			f, err := FillPlaceholders(e, bins)
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
				return nil, fmt.Errorf("%w: bad placeholder", ErrInvalid)
			}
			return bins[int(num)], nil
		}
		for k, e := range v {
			f, err := FillPlaceholders(e, bins)
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

// HasBinary reports whether v, a plain value ([]any, map[string]any,
// scalars), holds a []byte: such a packet travels as a binary event, its
// bytes as attachments.
func HasBinary(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range v {
			if HasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if HasBinary(e) {
				return true
			}
		}
	}
	return false
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

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	// Node's JSON.stringify does not escape <, > and &.
	e.enc.SetEscapeHTML(false)
	return e
}}

// Encode encodes a packet: its text part (without the Engine.IO message
// type) and its binary attachments. typ is Event, Ack, Connect,
// ConnectErrorType or Disconnect; an event or ack whose data holds []byte
// becomes its binary variant. data is nil for no payload; id is NoAck
// for none.
func Encode(typ int, nsp string, id int64, data any) (text []byte, bins [][]byte, err error) {
	if (typ == Event || typ == Ack) && HasBinary(data) {
		data = extractBinary(data, &bins)
		typ += BinaryEvent - Event // 2→5, 3→6
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
	if id != NoAck {
		e.buf.WriteString(strconv.FormatInt(id, 10))
	}
	if data != nil {
		if err := e.enc.Encode(data); err != nil {
			return nil, nil, fmt.Errorf("encode packet: %w", err)
		}
		e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	}
	return bytes.Clone(e.buf.Bytes()), bins, nil
}
