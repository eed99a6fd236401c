package realtime

import (
	"encoding/json"
	"testing"
)

func TestSpaceRequest(t *testing.T) {
	ok := []string{`{"spazioId":1,"sedeId":1}`, `{"spazioId":"2","sedeId":"1","date":"2026-12-01"}`}
	for _, in := range ok {
		var v any
		_ = json.Unmarshal([]byte(in), &v)
		if _, _, _, err := spaceRequest([]any{v}); err != nil {
			t.Errorf("spaceRequest(%s) = %v", in, err)
		}
	}
	bad := []string{`{}`, `{"spazioId":-1,"sedeId":1}`, `{"spazioId":1.5,"sedeId":1}`, `{"spazioId":"abc","sedeId":1}`,
		`{"spazioId":1}`, `{"spazioId":1,"sedeId":1,"date":"2026-1-1"}`, `{"spazioId":1,"sedeId":1,"date":7}`, `"room"`, `[1,2]`, `null`, `42`}
	for _, in := range bad {
		var v any
		_ = json.Unmarshal([]byte(in), &v)
		if _, _, _, err := spaceRequest([]any{v}); err == nil {
			t.Errorf("spaceRequest(%s) accepted", in)
		}
	}
	if _, _, _, err := spaceRequest(nil); err == nil {
		t.Error("spaceRequest with no payload accepted")
	}
}

func FuzzSpaceRequest(f *testing.F) {
	for _, s := range []string{`{"spazioId":1,"sedeId":1}`, `{"spazioId":"1e3","sedeId":[1]}`, `[]`, `{"date":"2026-02-29"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		sp, se, _, err := spaceRequest([]any{v})
		if err == nil && (sp <= 0 || se <= 0) {
			t.Fatalf("accepted non-positive ids %d/%d from %s", sp, se, s)
		}
	})
}
