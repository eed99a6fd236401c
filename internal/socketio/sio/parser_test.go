package sio

import (
	"errors"
	"reflect"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		in   string
		want *packet
	}{
		{"0", &packet{typ: packetConnect, nsp: "/", id: noAck}},
		{`0{"token":"123"}`, &packet{typ: packetConnect, nsp: "/", id: noAck, data: map[string]any{"token": "123"}}},
		{"0/custom,", &packet{typ: packetConnect, nsp: "/custom", id: noAck}},
		{"0/random", &packet{typ: packetConnect, nsp: "/random", id: noAck}},
		{`0/admin,{"a":1}`, &packet{typ: packetConnect, nsp: "/admin", id: noAck, data: map[string]any{"a": 1.0}}},
		{"1", &packet{typ: packetDisconnect, nsp: "/", id: noAck}},
		{"1/custom,", &packet{typ: packetDisconnect, nsp: "/custom", id: noAck}},
		{`2["hello",1,"2",{"3":[true]},null]`, &packet{typ: packetEvent, nsp: "/", id: noAck, data: []any{"hello", 1.0, "2", map[string]any{"3": []any{true}}, nil}}},
		{`2/custom,["hello"]`, &packet{typ: packetEvent, nsp: "/custom", id: noAck, data: []any{"hello"}}},
		{`212["hello"]`, &packet{typ: packetEvent, nsp: "/", id: 12, data: []any{"hello"}}},
		{`2/custom,0["hello"]`, &packet{typ: packetEvent, nsp: "/custom", id: 0, data: []any{"hello"}}},
		{`3/custom,7[1]`, &packet{typ: packetAck, nsp: "/custom", id: 7, data: []any{1.0}}},
		{`52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, &packet{typ: packetBinaryEvent, attachments: 2, nsp: "/", id: noAck, data: []any{"b", map[string]any{"_placeholder": true, "num": 0.0}, map[string]any{"_placeholder": true, "num": 1.0}}}},
		{`51-/custom,789["b",{"_placeholder":true,"num":0}]`, &packet{typ: packetBinaryEvent, attachments: 1, nsp: "/custom", id: 789, data: []any{"b", map[string]any{"_placeholder": true, "num": 0.0}}}},
		{`61-3[{"_placeholder":true,"num":0}]`, &packet{typ: packetBinaryAck, attachments: 1, nsp: "/", id: 3, data: []any{map[string]any{"_placeholder": true, "num": 0.0}}}},
	}
	for _, tt := range tests {
		got, err := decodePacket([]byte(tt.in))
		if err != nil {
			t.Errorf("decode %q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decode %q = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestDecodePacketInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"7",
		"abc",
		"4abc",                        // CONNECT_ERROR from a client
		`4{"message":"x"}`,            // idem
		"42{}",                        // not an array: "4" is CONNECT_ERROR, then garbage
		"2{}",                         // event payload not an array
		"2[]",                         // no event name
		"2[1]",                        // name not a string
		`2["disconnect"]`,             // reserved
		`2["connect_error",1]`,        // reserved
		"2",                           // no payload
		`2abc["m"]`,                   // bad ack id
		`2["m"`,                       // bad JSON
		`2["m"]x`,                     // trailing garbage
		`2123456789012345678901["m"]`, // ack id overflow
		"0[]",                         // CONNECT payload not an object
		"0null",
		`0"x"`,
		"1{}",        // DISCONNECT with payload
		`3{}`,        // ack payload not an array
		`5["m"]`,     // binary without count
		`5x-["m"]`,   // bad count
		`5-["m"]`,    // empty count
		`511-["m"]`,  // too many attachments
		`5999-["m"]`, // way too many
		`51["m"]`,    // missing dash
		`51-`,        // no payload
	} {
		if p, err := decodePacket([]byte(in)); err == nil {
			t.Errorf("decode %q = %+v, want an error", in, p)
		} else if !errors.Is(err, errParse) {
			t.Errorf("decode %q: %v is not errParse", in, err)
		}
	}
}

func TestFillPlaceholders(t *testing.T) {
	bins := [][]byte{{1, 2}, {3}}
	p, err := decodePacket([]byte(`52-["m",{"a":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0},{"_placeholder":false,"num":0}]`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fillPlaceholders(p.data, bins)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"m", map[string]any{"a": []any{[]byte{3}}}, []byte{1, 2}, map[string]any{"_placeholder": false, "num": 0.0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	for _, in := range []string{
		`51-["m",{"_placeholder":true,"num":1}]`,
		`51-["m",{"_placeholder":true,"num":-1}]`,
		`51-["m",{"_placeholder":true,"num":0.5}]`,
		`51-["m",{"_placeholder":true,"num":"0"}]`,
		`51-["m",{"_placeholder":true}]`,
	} {
		p, err := decodePacket([]byte(in))
		if err != nil {
			t.Fatalf("decode %q: %v", in, err)
		}
		if _, err := fillPlaceholders(p.data, [][]byte{{9}}); !errors.Is(err, errParse) {
			t.Errorf("fill %q: err = %v, want errParse", in, err)
		}
	}
}

func TestEncodePacket(t *testing.T) {
	tests := []struct {
		name string
		typ  int
		nsp  string
		id   int64
		data any
		want []string
	}{
		{"connect", packetConnect, "/", noAck, map[string]string{"sid": "abc"}, []string{`0{"sid":"abc"}`}},
		{"connect nsp", packetConnect, "/custom", noAck, map[string]string{"sid": "abc"}, []string{`0/custom,{"sid":"abc"}`}},
		{"disconnect", packetDisconnect, "/", noAck, nil, []string{"1"}},
		{"disconnect nsp", packetDisconnect, "/custom", noAck, nil, []string{"1/custom,"}},
		{"event", packetEvent, "/", noAck, []any{"hello", 1.0, "<&>", map[string]any{"b": true}}, []string{`2["hello",1,"<&>",{"b":true}]`}},
		{"event nsp", packetEvent, "/custom", noAck, []any{"hello"}, []string{`2/custom,["hello"]`}},
		{"ack", packetAck, "/", 456, []any{1.0, "2"}, []string{`3456[1,"2"]`}},
		{"ack nsp", packetAck, "/custom", 0, []any{}, []string{`3/custom,0[]`}},
		{"binary event", packetEvent, "/", noAck, []any{"m", []byte{1, 2, 3}, map[string]any{"x": []any{[]byte{4}}}},
			[]string{`52-["m",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]}]`, "bin:\x01\x02\x03", "bin:\x04"}},
		{"binary ack nsp", packetAck, "/custom", 789, []any{[]byte{1}}, []string{`61-/custom,789[{"_placeholder":true,"num":0}]`, "bin:\x01"}},
		{"connect error", packetConnectError, "/random", noAck, map[string]any{"message": "Invalid namespace"}, []string{`4/random,{"message":"Invalid namespace"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := encodePacket(tt.typ, tt.nsp, tt.id, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range frames {
				c := contentOf(f)
				if c.binary {
					got = append(got, "bin:"+c.data)
				} else {
					got = append(got, c.data)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := encodePacket(packetEvent, "/", noAck, []any{"m", make(chan int)}); err == nil {
		t.Error("encoding a chan: want an error")
	}
}

// FuzzDecodePacket checks that no input panics the decoder and that what
// it accepts survives an encode/decode round trip.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{
		"0", `0{"token":"123"}`, "0/custom,", "1/custom,", `2["m",1,"2",{"3":[true]}]`,
		`2/custom,12["m"]`, `3456[1]`, `452-["m",{"_placeholder":true,"num":0}]`, `61-/a,3[{"_placeholder":true,"num":0}]`,
		"4abc", "42{}", `42abc["m"]`, `5999999999-[]`, `2[` + "[[[[[[[[[[" + `]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePacket(in)
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Fatalf("error %v is not errParse", err)
			}
			return
		}
		if p.typ != packetEvent && p.typ != packetAck {
			return
		}
		frames, err := encodePacket(p.typ, p.nsp, p.id, p.data)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		q, err := decodePacket([]byte(contentOf(frames[0]).data))
		if err != nil {
			t.Fatalf("decode re-encoded %q: %v", contentOf(frames[0]).data, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip: %+v != %+v", p, q)
		}
	})
}

// FuzzDecodeBinary feeds a text packet and binary messages through a
// session: whatever the input, it is handled or the session closed with
// a parse error, never a panic.
func FuzzDecodeBinary(f *testing.F) {
	f.Add(`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte{1, 2, 3}, uint8(2), uint8(0))
	f.Add(`51-["message",{"_placeholder":true,"num":7}]`, []byte{1}, uint8(1), uint8(0))
	f.Add(`51-["message",{"a":{"_placeholder":true,"num":0}}]`, []byte{}, uint8(3), uint8(1))
	f.Add(`52-7["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte{4}, uint8(2), uint8(0))
	f.Add(`50-["message",{"_placeholder":true,"num":0}]`, []byte{9}, uint8(0), uint8(2))
	f.Fuzz(func(t *testing.T, text string, bin []byte, nbin, ntext uint8) {
		s := testServer(t, Config{})
		s.Of("/").OnConnection(func(sk *Socket) {
			sk.On("message", func(e *Event) { _ = sk.Emit("message-back", e.Args...) })
			sk.On("message-with-ack", func(e *Event) { e.Ack(e.Args...) })
		})
		c := dial(s)
		c.recv("0")
		c.recv(text)
		for range nbin % 12 {
			c.recvBinary(bin)
		}
		for range ntext % 3 {
			c.recv(text)
		}
		if closed, reason := c.isClosed(); closed && reason != "parse error" {
			t.Fatalf("closed with %q", reason)
		}
		c.drop("transport close")
	})
}
