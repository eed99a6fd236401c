package testkit

import (
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	type line struct {
		A string `json:"a"`
		B *int   `json:"b"`
		C string `json:"c,omitempty"`
	}
	for _, tc := range []struct{ json, fails string }{
		{`{"a":"x","b":null}`, ""},
		{`{"a":"x","b":1,"c":"y"}`, ""},
		{`{"a":"x"}`, `lacks "b"`},
		{`{"a":"x","b":1,"d":2}`, `unknown field "d"`},
	} {
		r := &recorder{TB: t}
		func() {
			defer func() {
				if p := recover(); p != nil && p != r {
					panic(p)
				}
			}()
			var l line
			DecodeStrict(r, []byte(tc.json), &l)
		}()
		if (tc.fails == "") != (r.msg == "") || !strings.Contains(r.msg, tc.fails) {
			t.Errorf("%s: failure %q, want one containing %q", tc.json, r.msg, tc.fails)
		}
	}
}
