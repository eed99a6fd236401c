package parser

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The full decoder (payload checks, placeholders) is tested through the
// server's use of it in sio; these cover what the client relies on.

func TestDecodeHeader(t *testing.T) {
	tests := []struct {
		in      string
		want    Header
		payload string
	}{
		{"0", Header{Type: Connect, Nsp: "/", ID: NoAck}, ""},
		{`0{"sid":"x","pid":"y"}`, Header{Type: Connect, Nsp: "/", ID: NoAck}, `{"sid":"x","pid":"y"}`},
		{`4{"message":"no"}`, Header{Type: ConnectErrorType, Nsp: "/", ID: NoAck}, `{"message":"no"}`},
		{`2["m",1]`, Header{Type: Event, Nsp: "/", ID: NoAck}, `["m",1]`},
		{`2/a,12["m"]`, Header{Type: Event, Nsp: "/a", ID: 12}, `["m"]`},
		{`30[]`, Header{Type: Ack, Nsp: "/", ID: 0}, `[]`},
		{`51-7["m",{"_placeholder":true,"num":0}]`, Header{Type: BinaryEvent, Attachments: 1, Nsp: "/", ID: 7}, `["m",{"_placeholder":true,"num":0}]`},
		{"1", Header{Type: Disconnect, Nsp: "/", ID: NoAck}, ""},
	}
	for _, tt := range tests {
		h, payload, err := DecodeHeader([]byte(tt.in))
		if err != nil || h != tt.want || string(payload) != tt.payload {
			t.Errorf("DecodeHeader(%q) = %+v %q %v, want %+v %q", tt.in, h, payload, err, tt.want, tt.payload)
		}
	}
	for _, in := range []string{"", "7", "x", "5-[]", "511-[]", "2123456789012345678901[]"} {
		if _, _, err := DecodeHeader([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeHeader(%q) error %v, want ErrInvalid", in, err)
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		typ  int
		nsp  string
		id   int64
		data any
		want string
		bins int
	}{
		{Connect, "/", NoAck, nil, "0", 0},
		{Connect, "/", NoAck, map[string]string{"token": "a<b"}, `0{"token":"a<b"}`, 0},
		{Event, "/", 3, []any{"m", "<&>"}, `23["m","<&>"]`, 0},
		{Event, "/x", NoAck, []any{"m"}, `2/x,["m"]`, 0},
		{Ack, "/", 0, []any{}, `30[]`, 0},
		{Event, "/", NoAck, []any{"m", []byte{1}}, `51-["m",{"_placeholder":true,"num":0}]`, 1},
		{Disconnect, "/", NoAck, nil, "1", 0},
	}
	for _, tt := range tests {
		text, bins, err := Encode(tt.typ, tt.nsp, tt.id, tt.data)
		if err != nil || string(text) != tt.want || len(bins) != tt.bins {
			t.Errorf("Encode(%d, %q, %d, %v) = %q, %d bins, %v; want %q", tt.typ, tt.nsp, tt.id, tt.data, text, len(bins), err, tt.want)
		}
	}
	if _, _, err := Encode(Event, "/", NoAck, []any{"m", make(chan int)}); err == nil {
		t.Error("encoding a chan: want an error")
	}
}

func TestSplitEvent(t *testing.T) {
	name, args, err := SplitEvent([]byte(`["a",1,{"b":2}]`))
	if err != nil || name != "a" || len(args) != 2 || string(args[1]) != `{"b":2}` {
		t.Errorf("SplitEvent = %q %s %v", name, args, err)
	}
	for _, in := range []string{`[]`, `[1]`, `{}`, `not json`, ``} {
		if _, _, err := SplitEvent([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("SplitEvent(%q) error %v, want ErrInvalid", in, err)
		}
	}
}

func TestCutPacket(t *testing.T) {
	in := []byte("0{}\x1e42[\"m\"]\x1e\x1e2")
	var got []string
	for rest, more := in, true; more; {
		var p []byte
		p, rest, more = CutPacket(rest)
		got = append(got, string(p))
	}
	if want := []string{"0{}", `42["m"]`, "", "2"}; !reflect.DeepEqual(got, want) || CountPackets(in) != len(want) {
		t.Errorf("CutPacket: %q (count %d), want %q", got, CountPackets(in), want)
	}
}

// FuzzClientDecode runs what the client does with a server's packet:
// no input panics, and an accepted event re-encodes to an equal one.
func FuzzClientDecode(f *testing.F) {
	for _, s := range []string{`0{"sid":"x"}`, `4{"message":"m","data":{"code":"c"}}`, `2["m",1,"o"]`, `2/a,12["m"]`, `31[1]`, "1", `52-["m"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, payload, err := DecodeHeader(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if h.Type != Event {
			return
		}
		name, args, err := SplitEvent(payload)
		if err != nil {
			return
		}
		data := []any{name}
		for _, a := range args {
			data = append(data, a)
		}
		text, _, err := Encode(Event, h.Nsp, h.ID, data)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		h2, payload2, err := DecodeHeader(text)
		if err != nil || h2 != h {
			t.Fatalf("round trip header %+v → %q → %+v, %v", h, text, h2, err)
		}
		name2, args2, err := SplitEvent(payload2)
		if err != nil || name2 != name || len(args2) != len(args) {
			t.Fatalf("round trip event %q %d → %q %d, %v", name, len(args), name2, len(args2), err)
		}
		for i := range args {
			var a, b any
			if json.Unmarshal(args[i], &a) != nil || json.Unmarshal(args2[i], &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("arg %d: %s → %s", i, args[i], args2[i])
			}
		}
	})
}
