package loadtest

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMessagesIn(t *testing.T) {
	tests := []struct {
		rate float64
		d    time.Duration
		want int
	}{
		{300, 10 * time.Second, 3000},
		{20, 5 * time.Second, 100},
		{3, 1500 * time.Millisecond, 5}, // t = 0, ⅓, ⅔, 1, 1⅓
		{0.5, 3 * time.Second, 2},       // t = 0, 2
		{7, time.Second / 7 * 7, 7},
	}
	for _, tt := range tests {
		if got := messagesIn(tt.rate, tt.d); got != tt.want {
			t.Errorf("messagesIn(%g, %v) = %d, want %d", tt.rate, tt.d, got, tt.want)
		}
	}
}

func TestBroadcastBodyRoundTrip(t *testing.T) {
	for _, payload := range []int{0, 50, 200, 4096} {
		r := &runner{cfg: Config{Event: "loadtest", Payload: payload}}
		body := r.broadcastBody(nil, 1234, 987654321, Space{SpazioID: 3, SedeID: 1})
		var req struct {
			Event    string          `json:"event"`
			SpazioID int64           `json:"spazioId"`
			SedeID   int64           `json:"sedeId"`
			Data     json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("payload %d: body %s is not JSON: %v", payload, body, err)
		}
		if req.Event != "loadtest" || req.SpazioID != 3 || req.SedeID != 1 {
			t.Fatalf("body = %s", body)
		}
		if payload > 60 && len(req.Data) != payload {
			t.Errorf("payload %d: data is %d bytes", payload, len(req.Data))
		}
		// What a server sends back, verbatim or re-encoded (sorted keys,
		// floats), must parse to the same numbers.
		var data map[string]any
		_ = json.Unmarshal(req.Data, &data)
		reencoded, _ := json.Marshal([]any{"loadtest", data, "offset"})
		for _, pkt := range [][]byte{append(append([]byte(`["loadtest",`), req.Data...), ']'), reencoded} {
			seq, ok1 := numberAfter(pkt, seqKey)
			us, ok2 := numberAfter(pkt, tsKey)
			if !ok1 || !ok2 || seq != 1234 || us != 987654321 {
				t.Errorf("numberAfter(%.80s…) = %d,%v %d,%v", pkt, seq, ok1, us, ok2)
			}
		}
	}
}

func TestNumberAfter(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"lt_seq":42}`, 42, true},
		{`{"lt_seq": 42,"x":1}`, 42, true},
		{`{"lt_seq":4.2e+01}`, 42, true},
		{`{"lt_seq":"42"}`, 0, false},
		{`{"other":1}`, 0, false},
		{`{"lt_seq":-5}`, -5, true},
	}
	for _, tt := range tests {
		got, ok := numberAfter([]byte(tt.in), seqKey)
		if got != tt.want || ok != tt.ok {
			t.Errorf("numberAfter(%s) = %d, %v", tt.in, got, ok)
		}
	}
}
