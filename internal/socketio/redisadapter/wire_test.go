package redisadapter

import (
	"bytes"
	"encoding/hex"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// Broadcasts as Node's adapter frames them, encoded by notepack.io 3.0.1
// (test/node/cluster) from the values in each case's comment.
var nodeBroadcasts = []struct {
	name string
	hex  string
	want broadcast
}{
	{
		// ["AbCdEf", {type: 2, data: ["hello", 1, "two", {a: [true, null]}], nsp: "/"},
		//  {rooms: ["r1"], except: [], flags: {}}]
		name: "room",
		hex:  "93a641624364456683a47479706502a46461746194a568656c6c6f01a374776f81a16192c3c0a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380",
		want: broadcast{
			uid: "AbCdEf",
			packet: adapter.Packet{Type: adapter.PacketEvent, Nsp: "/",
				Data: []any{"hello", 1.0, "two", map[string]any{"a": []any{true, nil}}}},
			opts: adapter.Options{Rooms: []string{"r1"}, Except: []string{}},
		},
	},
	{
		// ["AbCdEf", {type: 2, data: ["bin", Buffer.from([0,1,2]), 1.5, -3], nsp: "/"},
		//  {rooms: [], except: ["x", "y"], flags: {volatile: true}}]
		name: "binary volatile except",
		hex:  "93a641624364456683a47479706502a46461746194a362696ec403000102cb3ff8000000000000fda36e7370a12f83a5726f6f6d7390a665786365707492a178a179a5666c61677381a8766f6c6174696c65c3",
		want: broadcast{
			uid: "AbCdEf",
			packet: adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/",
				Data: []any{"bin", []byte{0, 1, 2}, 1.5, -3.0}},
			opts: adapter.Options{Rooms: []string{}, Except: []string{"x", "y"}, Volatile: true},
		},
	},
	{
		// ["AbCdEf", {type: 2, data: ["date", new Date(Date.UTC(2026,10,29,12))]},
		//  {rooms: ["a","b"], except: [], flags: {binary: false}}]
		name: "date, no nsp",
		hex:  "93a641624364456682a47479706502a46461746192a464617465d6ff6b0c13c083a5726f6f6d7392a161a162a665786365707490a5666c61677381a662696e617279c2",
		want: broadcast{
			uid: "AbCdEf",
			packet: adapter.Packet{Type: adapter.PacketEvent, Nsp: "/",
				Data: []any{"date", "2026-11-29T12:00:00.000Z"}},
			opts: adapter.Options{Rooms: []string{"a", "b"}, Except: []string{}},
		},
	},
}

func TestDecodeNodeBroadcast(t *testing.T) {
	for _, tt := range nodeBroadcasts {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBroadcast(mustHex(t, tt.hex))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestDecodeBroadcastRejects(t *testing.T) {
	tests := []struct {
		name string
		hex  string
	}{
		{"empty", ""},
		{"not an array", "a3616263"},
		{"short array", "92a16180"},
		{"trailing bytes", "93a641624364456683a47479706502a46461746191a165a36e7370a12f8000"},
		{"connect packet", "93a641624364456683a47479706500a46461746191a165a36e7370a12f80"},
		{"empty data", "93a641624364456683a47479706502a46461746190a36e7370a12f80"},
		{"int map key", "93a641624364456681010280"},
		{"unknown ext", "93a6416243644566d40100" + "80"},
		{"huge array header", "dd7fffffff"},
		{"deep nesting", strings.Repeat("91", 200) + "c0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeBroadcast(mustHex(t, tt.hex)); err == nil {
				t.Error("decoded without error")
			}
		})
	}
}

type slotUpdate struct {
	Slot   int    `json:"slot"`
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

func TestEncodeBroadcastRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   adapter.Packet
		opts adapter.Options
		want broadcast
	}{
		{
			name: "struct arg uses json names",
			in:   adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"slot_update", slotUpdate{Slot: 3, Status: "held"}}},
			opts: adapter.Options{Rooms: []string{"space:1"}},
			want: broadcast{uid: "me", packet: adapter.Packet{Type: adapter.PacketEvent, Nsp: "/",
				Data: []any{"slot_update", map[string]any{"slot": 3.0, "status": "held"}}},
				opts: adapter.Options{Rooms: []string{"space:1"}, Except: []string{}}},
		},
		{
			name: "binary stays binary, ints become numbers",
			in:   adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/admin", Data: []any{"b", []byte{9}, 7, int64(-2), 0.5, []string{"x"}}},
			opts: adapter.Options{Except: []string{"e"}, Volatile: true},
			want: broadcast{uid: "me", packet: adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/admin",
				Data: []any{"b", []byte{9}, 7.0, -2.0, 0.5, []any{"x"}}},
				opts: adapter.Options{Rooms: []string{}, Except: []string{"e"}, Volatile: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeBroadcast("me", tt.in, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeBroadcast(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("round trip\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestEncodeBroadcastSendsEventType(t *testing.T) {
	b, err := encodeBroadcast("me", adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: []any{"e", []byte{1}}}, adapter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeMsgpack(b)
	if err != nil {
		t.Fatal(err)
	}
	// Node's parser turns an EVENT with attachments into BINARY_EVENT
	// itself; a BINARY_EVENT from an adapter it would mangle.
	if typ := v.([]any)[1].(map[string]any)["type"]; typ != float64(adapter.PacketEvent) {
		t.Errorf("wire type %v, want %d", typ, adapter.PacketEvent)
	}
}

func TestEncodeBroadcastRefusesUnencodable(t *testing.T) {
	for _, arg := range []any{make(chan int), func() {}} {
		if _, err := encodeBroadcast("me", adapter.Packet{Type: 2, Nsp: "/", Data: []any{"e", arg}}, adapter.Options{}); err == nil {
			t.Errorf("%T encoded", arg)
		}
	}
}

func TestChannels(t *testing.T) {
	ch := channelsFor("socket.io", "/", "U1")
	for got, want := range map[string]string{
		ch.broadcastChannel(nil):                "socket.io#/#",
		ch.broadcastChannel([]string{"r"}):      "socket.io#/#r#",
		ch.broadcastChannel([]string{"r", "s"}): "socket.io#/#",
		ch.request:                              "socket.io-request#/#",
		ch.response:                             "socket.io-response#/#",
		ch.specific:                             "socket.io-response#/#U1#",
		ch.pattern:                              "socket.io#/#*",
		channelsFor("a*b", "/[x]", "U").pattern: `a\*b#/\[x\]#*`,
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want request
	}{
		{
			name: "fetch, JSON",
			in:   []byte(`{"uid":"n1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":["b"]}}`),
			want: request{Type: reqRemoteFetch, UID: "n1", RequestID: "r1", Opts: &requestOpts{Rooms: []string{"a"}, Except: []string{"b"}}},
		},
		{
			name: "sockets, JSON",
			in:   []byte(`{"uid":"n1","requestId":"r2","type":0,"rooms":["a"]}`),
			want: request{Type: reqSockets, UID: "n1", RequestID: "r2", Rooms: []string{"a"}},
		},
		{
			// notepack.encode({uid: "AbCdEf", requestId: "xyz", type: 7, packet: {...}, opts: {rooms: [], except: []}})
			name: "broadcast with ack, msgpack",
			in:   mustHex(t, "85a3756964a6416243644566a9726571756573744964a378797aa47479706507a67061636b657483a47479706502a46461746191a165a36e7370a12fa46f70747382a5726f6f6d7390a665786365707490"),
			want: request{Type: reqBroadcast, UID: "AbCdEf", RequestID: "xyz", Rooms: nil, Opts: &requestOpts{Rooms: []string{}, Except: []string{}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeFetchResponse(t *testing.T) {
	id, sockets, ok, err := decodeFetchResponse([]byte(`{"requestId":"r1","sockets":[` +
		`{"id":"s1","handshake":{"query":{}},"rooms":["s1","a"],"data":{"user":"alice"}},` +
		`{"id":"s2","rooms":[],"data":null}]}`))
	if err != nil || !ok || id != "r1" {
		t.Fatalf("id %q ok %v err %v", id, ok, err)
	}
	want := []adapter.SocketInfo{
		{ID: "s1", Rooms: []string{"s1", "a"}, Data: map[string]any{"user": "alice"}},
		{ID: "s2", Rooms: []string{}, Data: nil},
	}
	if !reflect.DeepEqual(sockets, want) {
		t.Errorf("got %#v\nwant %#v", sockets, want)
	}
	if _, _, ok, err := decodeFetchResponse([]byte(`{"requestId":"r1"}`)); ok || err != nil {
		t.Errorf("response without sockets: ok %v err %v", ok, err)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	tests := []struct {
		n        int
		r        float64
		min, max time.Duration
	}{
		{0, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{0, 0.999, 50 * time.Millisecond, 100 * time.Millisecond},
		{3, 0.5, 400 * time.Millisecond, 800 * time.Millisecond},
		{6, 0.999, 2500 * time.Millisecond, 5 * time.Second},
		{1000, 0.999, 2500 * time.Millisecond, 5 * time.Second},
	}
	for _, tt := range tests {
		d := backoff(tt.n, lo, hi, tt.r)
		if d < tt.min || d > tt.max {
			t.Errorf("backoff(%d, r=%v) = %s, want in [%s, %s]", tt.n, tt.r, d, tt.min, tt.max)
		}
	}
}

func TestOutageLogsOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	var waiting int
	var delayed, dropped uint64
	o := outage{every: 30 * time.Second, log: slog.New(slog.NewTextHandler(&buf, nil)),
		backlog: func() (int, uint64, uint64) { return waiting, delayed, dropped }}
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	errDown := errors.New("connection refused")
	// Ten minutes of failures of both parts, one attempt every 5 s (the
	// backoff cap), while 10 broadcasts a second wait and, past the
	// bound, are dropped.
	for i := range 120 {
		now := start.Add(time.Duration(i) * 5 * time.Second)
		o.fail(now, partSubscription, errDown)
		o.fail(now, partPublish, errDown)
		delayed += 50
		dropped += 20
	}
	// The subscription comes back first: the outage is not over until
	// publishing works too.
	o.ok(start.Add(10*time.Minute), partSubscription)
	o.ok(start.Add(10*time.Minute), partPublish)
	o.ok(start.Add(10*time.Minute), partPublish)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// One line when lost, one at each 30 s mark (30 s … 570 s), one when
	// restored.
	if got, want := len(lines), 1+19+1; got != want {
		t.Fatalf("%d log lines, want %d:\n%s", got, want, buf.String())
	}
	if !strings.Contains(lines[0], "redis unavailable") {
		t.Errorf("first line %q", lines[0])
	}
	// The reminder at 30 s: six rounds of 50 delayed and 20 dropped.
	if !strings.Contains(lines[1], "delayed_broadcasts=300") || !strings.Contains(lines[1], "dropped_broadcasts=120") {
		t.Errorf("reminder %q lacks the counts", lines[1])
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "connection restored") || !strings.Contains(last, "delayed_broadcasts=6000") || !strings.Contains(last, "dropped_broadcasts=2400") {
		t.Errorf("last line %q", last)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeBroadcast(f *testing.F) {
	for _, tt := range nodeBroadcasts {
		f.Add(mustHex(f, tt.hex))
	}
	f.Add([]byte{0x91, 0x91, 0x91})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeBroadcast(b)
		if err != nil {
			return
		}
		// What decodes must survive our own framing unchanged.
		enc, err := encodeBroadcast(got.uid, got.packet, got.opts)
		if err != nil && strings.Contains(err.Error(), "unsupported value") {
			return // NaN and infinities: JSON cannot carry them either
		}
		if err != nil {
			t.Fatalf("re-encode %#v: %v", got, err)
		}
		again, err := decodeBroadcast(enc)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		got.opts.Rooms, got.opts.Except = nonNil(got.opts.Rooms), nonNil(got.opts.Except)
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("round trip changed\n%#v\n%#v", got, again)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"uid":"n1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":["b"]}}`))
	f.Add([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeRequest(b)
		_, _, _, _ = decodeFetchResponse(b)
	})
}
