package redisadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// Request types of @socket.io/redis-adapter v8 (its RequestType enum). The
// numbers are the wire format: never renumber.
const (
	reqSockets              = 0
	reqAllRooms             = 1
	reqRemoteJoin           = 2
	reqRemoteLeave          = 3
	reqRemoteDisconnect     = 4
	reqRemoteFetch          = 5
	reqServerSideEmit       = 6
	reqBroadcast            = 7
	reqBroadcastClientCount = 8
	reqBroadcastAck         = 9
)

// maxDepth bounds the nesting of decoded values, so that a hostile
// message cannot exhaust the stack.
const maxDepth = 64

// channels are the Redis channel names of one namespace, as Node's
// adapter builds them.
type channels struct {
	nsp string
	// broadcast is "<prefix>#<nsp>#"; a broadcast to exactly one room goes
	// to "<prefix>#<nsp>#<room>#" instead, so the pattern is broadcast+"*".
	broadcast string
	// pattern is the PSUBSCRIBE pattern of the namespace's broadcasts.
	pattern  string
	request  string // "<prefix>-request#<nsp>#"
	response string // "<prefix>-response#<nsp>#"
	// specific is "<prefix>-response#<nsp>#<uid>#", where nodes that set
	// publishOnSpecificResponseChannel answer this node.
	specific string
}

func channelsFor(prefix, nsp, uid string) channels {
	broadcast := prefix + "#" + nsp + "#"
	return channels{
		nsp:       nsp,
		broadcast: broadcast,
		pattern:   globPrefix(broadcast),
		request:   prefix + "-request#" + nsp + "#",
		response:  prefix + "-response#" + nsp + "#",
		specific:  prefix + "-response#" + nsp + "#" + uid + "#",
	}
}

// globPrefix is a pattern for the channels starting with s. Unlike Node,
// it escapes glob characters, so that a prefix or namespace holding them
// matches only itself.
func globPrefix(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('*')
	return b.String()
}

// broadcastChannel is where a broadcast to rooms is published.
func (ch channels) broadcastChannel(rooms []string) string {
	if len(rooms) == 1 {
		return ch.broadcast + rooms[0] + "#"
	}
	return ch.broadcast
}

// encodeBroadcast frames a broadcast as Node's adapter does:
// msgpack [uid, {type, data, nsp}, {rooms, except, flags}].
func encodeBroadcast(uid string, p adapter.Packet, opts adapter.Options) ([]byte, error) {
	data, err := plainArgs(p.Data)
	if err != nil {
		return nil, err
	}
	flags := map[string]any{}
	if opts.Volatile {
		flags["volatile"] = true
	}
	// Node's broadcasts always carry EVENT: its parser finds attachments
	// itself, and would garble a BINARY_EVENT that has no attachment count.
	msg := []any{
		uid,
		map[string]any{"type": adapter.PacketEvent, "data": data, "nsp": p.Nsp},
		map[string]any{
			"rooms":  nonNil(opts.Rooms),
			"except": nonNil(opts.Except),
			"flags":  flags,
		},
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("encode broadcast: %w", err)
	}
	return buf.Bytes(), nil
}

// broadcast is a decoded broadcast of another node.
type broadcast struct {
	uid    string
	packet adapter.Packet
	opts   adapter.Options
}

// decodeBroadcast parses a broadcast framed by encodeBroadcast or by
// Node's adapter. A packet without nsp belongs to "/", as in Node.
func decodeBroadcast(b []byte) (broadcast, error) {
	v, err := decodeMsgpack(b)
	if err != nil {
		return broadcast{}, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 3 {
		return broadcast{}, errors.New("broadcast: want [uid, packet, opts]")
	}
	var out broadcast
	if out.uid, ok = arr[0].(string); !ok {
		return broadcast{}, errors.New("broadcast: uid is not a string")
	}
	pkt, ok := arr[1].(map[string]any)
	if !ok {
		return broadcast{}, errors.New("broadcast: packet is not a map")
	}
	typ, ok := pkt["type"].(float64)
	if !ok || (typ != adapter.PacketEvent && typ != adapter.PacketBinaryEvent) {
		return broadcast{}, fmt.Errorf("broadcast: packet type %v is not an event", pkt["type"])
	}
	out.packet.Nsp = "/"
	if nsp, present := pkt["nsp"]; present && nsp != nil {
		if out.packet.Nsp, ok = nsp.(string); !ok {
			return broadcast{}, errors.New("broadcast: nsp is not a string")
		}
	}
	if out.packet.Data, ok = pkt["data"].([]any); !ok || len(out.packet.Data) == 0 {
		return broadcast{}, errors.New("broadcast: data is not a non-empty array")
	}
	// Node's parser finds attachments itself whatever the type says; our
	// Node interface promises the type, so name it here.
	out.packet.Type = adapter.PacketEvent
	if adapter.HasBinary(out.packet.Data) {
		out.packet.Type = adapter.PacketBinaryEvent
	}
	opts, _ := arr[2].(map[string]any)
	if out.opts.Rooms, err = roomList(opts["rooms"]); err != nil {
		return broadcast{}, fmt.Errorf("broadcast: rooms: %w", err)
	}
	if out.opts.Except, err = roomList(opts["except"]); err != nil {
		return broadcast{}, fmt.Errorf("broadcast: except: %w", err)
	}
	flags, _ := opts["flags"].(map[string]any)
	out.opts.Volatile, _ = flags["volatile"].(bool)
	return out, nil
}

// roomList reads a list of rooms; Node rooms are strings, numbers are
// tolerated the way Node's channel names print them.
func roomList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("not an array")
	}
	rooms := make([]string, 0, len(arr))
	for _, r := range arr {
		switch r := r.(type) {
		case string:
			rooms = append(rooms, r)
		case float64:
			rooms = append(rooms, strconv.FormatFloat(r, 'f', -1, 64))
		default:
			return nil, fmt.Errorf("room %T is not a string", r)
		}
	}
	return rooms, nil
}

// decodeMsgpack decodes one msgpack value into plain values (see
// adapter.Packet.Data): numbers become float64, bin stays []byte,
// timestamps become the ISO strings JSON would carry. Trailing bytes are
// an error.
func decodeMsgpack(b []byte) (any, error) {
	r := bytes.NewReader(b)
	dec := msgpack.NewDecoder(r)
	v, err := decodeValue(dec, r, 0)
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("msgpack: %d trailing bytes", r.Len())
	}
	return v, nil
}

func decodeValue(dec *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	// The library allocates what a str, bin or ext header declares before
	// reading it: refuse lengths the message cannot hold.
	if err := checkLen(r); err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil || n < 0 {
			return nil, err
		}
		// Each entry takes at least two bytes: never trust the header
		// for the allocation.
		m := make(map[string]any, min(n, r.Len()/2))
		for range n {
			k, err := decodeValue(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("map key %T is not a string", k)
			}
			if m[key], err = decodeValue(dec, r, depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, 0, min(n, r.Len()))
		for range n {
			v, err := decodeValue(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsString(c):
		return dec.DecodeString()
	case msgpcode.IsBin(c):
		return dec.DecodeBytes()
	}
	v, err := dec.DecodeInterface()
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil, bool, float64:
		return v, nil
	case float32:
		return float64(v), nil
	case int8:
		return float64(v), nil
	case int16:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint8:
		return float64(v), nil
	case uint16:
		return float64(v), nil
	case uint32:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

// checkLen fails when the str, bin or ext at r declares more bytes than r
// holds. r is not advanced.
func checkLen(r *bytes.Reader) error {
	var hdr [6]byte
	n, _ := r.ReadAt(hdr[:], r.Size()-int64(r.Len()))
	h := hdr[:n]
	if len(h) == 0 {
		return nil
	}
	size := 0 // bytes of the length field
	switch c := h[0]; {
	case msgpcode.IsFixedString(c):
		return nil
	case c == msgpcode.Str8 || c == msgpcode.Bin8 || c == msgpcode.Ext8:
		size = 1
	case c == msgpcode.Str16 || c == msgpcode.Bin16 || c == msgpcode.Ext16:
		size = 2
	case c == msgpcode.Str32 || c == msgpcode.Bin32 || c == msgpcode.Ext32:
		size = 4
	default:
		return nil
	}
	if len(h) < 1+size {
		return errors.New("truncated length")
	}
	var declared uint64
	for _, b := range h[1 : 1+size] {
		declared = declared<<8 | uint64(b)
	}
	if declared > uint64(r.Len()) {
		return fmt.Errorf("length %d exceeds the %d bytes left", declared, r.Len())
	}
	return nil
}

// plainArgs turns event arguments into the plain values Node sees: Go
// structs go through encoding/json (so their json names and omitempty
// apply), []byte stays binary.
func plainArgs(args []any) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := plain(a, 0)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

func plain(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	switch v := v.(type) {
	case nil, string, bool, []byte,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v, nil
	case float64:
		return finite(v)
	case float32:
		return finite(float64(v))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			p, err := plain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			p, err := plain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("to JSON: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("from JSON: %w", err)
	}
	return out, nil
}

// finite refuses what JSON cannot carry, as the JSON path would.
func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("unsupported value %v", f)
	}
	return f, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// request is a request of another node, as far as this adapter reads it.
type request struct {
	Type      int          `json:"type"`
	UID       string       `json:"uid"`
	RequestID string       `json:"requestId"`
	Rooms     []string     `json:"rooms"`
	Opts      *requestOpts `json:"opts,omitempty"`
}

type requestOpts struct {
	Rooms  []string `json:"rooms"`
	Except []string `json:"except"`
}

// decodeRequest parses a request: JSON when it starts with "{" (all the
// types we answer), msgpack otherwise (broadcasts with acks), as Node does.
func decodeRequest(b []byte) (request, error) {
	if len(b) > 0 && b[0] == '{' {
		var r request
		if err := json.Unmarshal(b, &r); err != nil {
			return request{}, fmt.Errorf("request: %w", err)
		}
		return r, nil
	}
	v, err := decodeMsgpack(b)
	if err != nil {
		return request{}, fmt.Errorf("request: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return request{}, errors.New("request: not a map")
	}
	typ, _ := m["type"].(float64)
	r := request{Type: int(typ)}
	r.UID, _ = m["uid"].(string)
	r.RequestID, _ = m["requestId"].(string)
	r.Rooms, _ = roomList(m["rooms"])
	if o, ok := m["opts"].(map[string]any); ok {
		r.Opts = &requestOpts{}
		r.Opts.Rooms, _ = roomList(o["rooms"])
		r.Opts.Except, _ = roomList(o["except"])
	}
	return r, nil
}

// remoteSocket is one socket in a REMOTE_FETCH response; Node builds its
// RemoteSocket from these four fields.
type remoteSocket struct {
	ID        string    `json:"id"`
	Handshake handshake `json:"handshake"`
	Rooms     []string  `json:"rooms"`
	Data      any       `json:"data"`
}

// handshake has the shape of Node's socket.handshake. adapter.SocketInfo
// carries none of it, so the fields are empty but present: Node code that
// reads socket.handshake.query of a remote socket gets {} instead of a
// TypeError.
type handshake struct {
	Headers map[string]any `json:"headers"`
	Time    string         `json:"time"`
	Address string         `json:"address"`
	XDomain bool           `json:"xdomain"`
	Secure  bool           `json:"secure"`
	Issued  int64          `json:"issued"`
	URL     string         `json:"url"`
	Query   map[string]any `json:"query"`
	Auth    map[string]any `json:"auth"`
}

// response is any answer to a request; which fields are set depends on
// the request type.
type response struct {
	RequestID string `json:"requestId"`
	Type      *int   `json:"type,omitempty"`
	Sockets   any    `json:"sockets,omitempty"`
	Rooms     any    `json:"rooms,omitempty"`
}

// decodeFetchResponse parses a response to a REMOTE_FETCH. ok is false
// when the message has no "sockets" array: it still counts as an answer,
// as in Node.
func decodeFetchResponse(b []byte) (requestID string, sockets []adapter.SocketInfo, ok bool, err error) {
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			return "", nil, false, fmt.Errorf("response: %w", err)
		}
	} else {
		v, err := decodeMsgpack(b)
		if err != nil {
			return "", nil, false, fmt.Errorf("response: %w", err)
		}
		if m, ok = v.(map[string]any); !ok {
			return "", nil, false, errors.New("response: not a map")
		}
	}
	requestID, _ = m["requestId"].(string)
	list, ok := m["sockets"].([]any)
	if !ok {
		return requestID, nil, false, nil
	}
	for _, s := range list {
		sm, isMap := s.(map[string]any)
		if !isMap {
			continue
		}
		id, _ := sm["id"].(string)
		rooms, _ := roomList(sm["rooms"])
		sockets = append(sockets, adapter.SocketInfo{ID: id, Rooms: rooms, Data: sm["data"]})
	}
	return requestID, sockets, true, nil
}
